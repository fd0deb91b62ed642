-- 1: first schema.
CREATE TABLE kiosks (
        id TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL,
        enrolled_at INTEGER NOT NULL
     );
     CREATE TABLE agents (
        login TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        services TEXT NOT NULL,
        created_at INTEGER NOT NULL
     );
     CREATE TABLE agent_sessions (
        token_sha256 TEXT PRIMARY KEY,
        login TEXT NOT NULL REFERENCES agents(login) ON DELETE CASCADE,
        expires_at INTEGER NOT NULL
     );
     CREATE TABLE session_log (
        id TEXT PRIMARY KEY,
        kiosk_id TEXT NOT NULL,
        service TEXT NOT NULL,
        agent_login TEXT,
        queued_at INTEGER NOT NULL,
        answered_at INTEGER,
        ended_at INTEGER,
        end_reason TEXT,
        rating TEXT
     );
     CREATE INDEX session_log_queued_at ON session_log(queued_at);
