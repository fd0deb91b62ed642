-- A resident who came for an appointment, in the shared queue
-- (core::appointments): line_at is when they count as queued (earlier than
-- queued_at by the appointment's credit; NULL: queued_at, as a process of
-- an older version writes it); appointment, the slot's reference;
-- booked_agent, the agent named in it, who alone takes them until
-- held_until.
ALTER TABLE queue_entries ADD COLUMN line_at BIGINT;
ALTER TABLE queue_entries ADD COLUMN appointment BIGINT;
ALTER TABLE queue_entries ADD COLUMN booked_agent TEXT;
ALTER TABLE queue_entries ADD COLUMN held_until BIGINT;
