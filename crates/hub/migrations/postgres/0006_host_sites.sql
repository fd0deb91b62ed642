-- The sites a host account watches on the host page (/host/): a JSON
-- array of site names, as the kiosk files spell them (they may hold
-- commas); '[]': none for a host, every site for an admin or supervisor.
ALTER TABLE console_accounts ADD COLUMN sites TEXT NOT NULL DEFAULT '[]';
