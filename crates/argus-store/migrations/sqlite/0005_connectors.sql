-- Registered connectors (issue #12): a storage location an org scans again and again, with the
-- scanners to run, the *name* of the credential that reaches it (never a secret) and the action
-- policy. Names are unique per org. `location` is the canonical location URL; `scanners` and
-- `action` are JSON. `last_full_scan` is the id of the scan the last full scan started; it is
-- not a foreign key (scans are deleted on their own; readers treat a missing scan as absent).
CREATE TABLE connectors (
    id             TEXT PRIMARY KEY NOT NULL,
    org_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    name           TEXT NOT NULL,
    location       TEXT NOT NULL,
    credential     TEXT,
    scanners       TEXT NOT NULL,
    action         TEXT NOT NULL,
    last_full_scan TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
-- Uniqueness of names per org, and the list order (name, id) within an org.
CREATE UNIQUE INDEX connectors_org_name ON connectors (org_id, name);
