-- 4: revocation reaches live sockets (store/revocation.rs).
ALTER TABLE agents ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE kiosks ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE revocations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        at INTEGER NOT NULL
     );
