-- 9: appointments: a slot booked at one kiosk for one service, from
-- starts_at to ends_at (Unix milliseconds), optionally with one agent.
-- The reference is the row's counter: nothing of the resident is kept.
-- kind: 'booked' (by an agent or a host) or 'callback' (chosen at the
-- kiosk); booked_by: the booker's login, or the kiosk's id.
CREATE TABLE appointments (
    reference INTEGER PRIMARY KEY AUTOINCREMENT,
    kiosk_id TEXT NOT NULL,
    service TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    agent_login TEXT,
    kind TEXT NOT NULL,
    booked_by TEXT NOT NULL,
    booked_at INTEGER NOT NULL,
    cancelled_at INTEGER
);
CREATE INDEX appointments_by_time ON appointments (starts_at);
CREATE INDEX appointments_by_kiosk ON appointments (kiosk_id, starts_at);
