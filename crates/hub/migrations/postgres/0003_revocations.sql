-- Revocation reaches live sockets (issue 21): agents and kiosks can be
-- disabled, and every revocation (sign-out, disable, removal, re-enrolment)
-- is a row that each hub process polls, closing the sockets it holds for
-- that agent or kiosk that were opened before it.
ALTER TABLE agents ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE kiosks ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE revocations (
    seq BIGSERIAL PRIMARY KEY,
    -- 'agent' or 'kiosk'
    kind TEXT NOT NULL,
    -- the agent's login or the kiosk's id
    name TEXT NOT NULL,
    at BIGINT NOT NULL
);
