-- 5: transfers (core/transfer.rs): a second leg names its first, and a
-- transferred resident waits ahead of those who queued normally.
ALTER TABLE session_log ADD COLUMN previous_leg TEXT;
ALTER TABLE queue_entries ADD COLUMN transferred_from TEXT;
