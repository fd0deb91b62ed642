-- Several hub processes on one database (issue 10).
--
-- Each process registers here when it starts and holds a session-level
-- advisory lock (pg_advisory_lock(22089, id)) on a connection of its own
-- for as long as it runs. PostgreSQL releases the lock when that
-- connection ends, killed process or not: "alive" is exact, with no
-- clock and no timeout. `alive_at` is stamped every few seconds and
-- `stopped_at` at a graceful stop: they say when a dead process was
-- last seen, for the end times of what it left.
CREATE TABLE hub_processes (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    started_at BIGINT NOT NULL,
    alive_at BIGINT NOT NULL,
    stopped_at BIGINT,
    -- A live process ended what this one left unclaimed.
    swept_at BIGINT,
    -- Its available agents per service (JSON object), for the others'
    -- wait estimates.
    available TEXT NOT NULL DEFAULT '{}'
);

-- Which process holds each side of a call: the kiosk's connection and the
-- agent's. A side that comes back on another process with its resume
-- token is claimed there (`UPDATE … SET kiosk_process = …`).
ALTER TABLE session_log ADD COLUMN kiosk_process TEXT;
ALTER TABLE session_log ADD COLUMN agent_process TEXT;
CREATE INDEX session_log_open ON session_log(id) WHERE ended_at IS NULL;

-- One row for one process's last signs of life: replaced by hub_processes.
DROP TABLE hub_state;
