-- 6: a transferred visit's second leg names its first (core/transfer.rs).
ALTER TABLE session_log ADD COLUMN previous_leg TEXT
