-- API keys (issue #16). The key itself is never stored: `hash` is its Argon2id PHC string and
-- `prefix` the public part used to find it. Revoked keys stay (the audit trail names them).
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    org_id       text NOT NULL,
    name         text NOT NULL,
    role         text NOT NULL,
    prefix       text NOT NULL UNIQUE,
    hash         text NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_org ON api_keys (org_id, created_at);
