-- 2: fleet health, the published configuration, the admin API.
CREATE TABLE kiosk_status (
        kiosk_id TEXT PRIMARY KEY,
        last_heartbeat_at INTEGER,
        app_version TEXT,
        config_version INTEGER,
        devices TEXT,
        rtt_ms INTEGER,
        refusal_version INTEGER,
        refusal_code TEXT,
        refusal_message TEXT,
        refusal_at INTEGER
     );
     CREATE TABLE published_config (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL,
        payload_sha256 TEXT NOT NULL,
        key_id TEXT NOT NULL,
        bundle TEXT NOT NULL,
        published_at INTEGER NOT NULL,
        published_by TEXT NOT NULL
     );
     CREATE TABLE admin_tokens (
        name TEXT PRIMARY KEY,
        token_sha256 TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
     );
     CREATE TABLE admin_keys (
        key_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        added_at INTEGER NOT NULL
     );
