-- The SQLite schema's tables (versions 1-3 there), plus the shared queue.
-- Times are Unix milliseconds (BIGINT), as in SQLite.

CREATE TABLE kiosks (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL
);

CREATE TABLE agents (
    login TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    services TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE agent_sessions (
    token_sha256 TEXT PRIMARY KEY,
    login TEXT NOT NULL REFERENCES agents(login) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);

CREATE TABLE session_log (
    id TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL,
    service TEXT NOT NULL,
    agent_login TEXT,
    queued_at BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at BIGINT,
    end_reason TEXT,
    rating TEXT,
    resume_sha256 TEXT
);
CREATE INDEX session_log_queued_at ON session_log(queued_at);

CREATE TABLE kiosk_status (
    kiosk_id TEXT PRIMARY KEY,
    last_heartbeat_at BIGINT,
    app_version TEXT,
    config_version BIGINT,
    devices TEXT,
    rtt_ms BIGINT,
    refusal_version BIGINT,
    refusal_code TEXT,
    refusal_message TEXT,
    refusal_at BIGINT
);

CREATE TABLE published_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    key_id TEXT NOT NULL,
    bundle TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    published_by TEXT NOT NULL
);

CREATE TABLE admin_tokens (
    name TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE admin_keys (
    key_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    added_at BIGINT NOT NULL
);

CREATE TABLE hub_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    alive_at BIGINT,
    stopped_at BIGINT
);

-- Residents waiting, for every hub process: "take next" deletes the
-- oldest row it can lock (FOR UPDATE SKIP LOCKED). `process` names the
-- hub process holding the kiosk's connection.
CREATE TABLE queue_entries (
    session TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    site TEXT NOT NULL,
    queued_at BIGINT NOT NULL,
    process TEXT NOT NULL
);
CREATE INDEX queue_entries_order ON queue_entries(service, queued_at, session);
