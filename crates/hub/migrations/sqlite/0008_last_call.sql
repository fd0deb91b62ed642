-- 8: what each kiosk's last call measured (uplink estimate and media round
-- trip), as the heartbeat's `last_call` JSON; NULL until its first call.
ALTER TABLE kiosk_status ADD COLUMN last_call TEXT
