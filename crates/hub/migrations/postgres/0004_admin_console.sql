-- The admin console (issue 25): people's accounts with a role, their
-- browser sessions, and the configuration published before the current one
-- (the console shows what changed).
CREATE TABLE console_accounts (
    login TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- 'admin', 'supervisor', 'host' or 'agent' (crates/hub/src/roles.rs)
    role TEXT NOT NULL,
    -- the kiosk ids the account sees, comma-separated; empty: all
    kiosks TEXT NOT NULL DEFAULT '',
    -- the services whose usage the account sees, comma-separated; empty: all
    services TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE TABLE console_sessions (
    token_sha256 TEXT PRIMARY KEY,
    login TEXT NOT NULL REFERENCES console_accounts(login) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE TABLE previous_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    key_id TEXT NOT NULL,
    bundle TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    published_by TEXT NOT NULL
);
