-- 3: calls outlive a hub restart: the resume token's hash while the
-- call is open, and when the hub last ran or stopped.
ALTER TABLE session_log ADD COLUMN resume_sha256 TEXT;
     CREATE TABLE hub_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        alive_at INTEGER,
        stopped_at INTEGER
     );
