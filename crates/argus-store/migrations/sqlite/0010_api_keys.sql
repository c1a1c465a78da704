-- API keys (issue #16). The key itself is never stored: `hash` is its Argon2id PHC string and
-- `prefix` the public part used to find it. Revoked keys stay (the audit trail names them).
-- Times in milliseconds since the epoch, like every other time column.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    org_id       TEXT NOT NULL,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,
    hash         TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX api_keys_org ON api_keys (org_id, created_at);
