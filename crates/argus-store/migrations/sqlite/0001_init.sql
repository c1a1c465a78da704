-- Argus store schema (SQLite). Versions 1..999 belong to argus-store; the embedded queue keeps
-- its own migrations (versions >= 1000) in the same _sqlx_migrations table.
--
-- Times are INTEGER milliseconds since the Unix epoch; ids are hyphenated UUID text; JSON
-- columns hold serde_json text. There are no foreign keys on purpose: every child row is written
-- in the same transaction as a check of its scan, and `delete_scan` removes children explicitly,
-- which keeps the hot `record` path free of per-row FK lookups.

CREATE TABLE scans (
    id             TEXT PRIMARY KEY NOT NULL,
    org_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    name           TEXT NOT NULL,
    config         TEXT NOT NULL,
    template_id    TEXT,
    state          TEXT NOT NULL,
    reason         TEXT,
    enqueued       INTEGER NOT NULL DEFAULT 0,
    done           INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0,
    expected_total INTEGER,
    enqueue_done   INTEGER NOT NULL DEFAULT 0,
    findings       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER
);
CREATE INDEX scans_org_created ON scans (org_id, created_at DESC, id DESC);
CREATE INDEX scans_active ON scans (state) WHERE state IN ('queued', 'running', 'paused');

-- The task ledger: the outbox between the store and the queue.
CREATE TABLE scan_tasks (
    id           TEXT PRIMARY KEY NOT NULL,
    scan_id      TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    dedup_key    TEXT NOT NULL,
    scanner      TEXT NOT NULL,
    target       TEXT NOT NULL,
    depth        INTEGER NOT NULL,
    priority     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    params       TEXT,
    status       TEXT NOT NULL,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (scan_id, dedup_key)
);
-- Only pending rows are ever listed by priority; a partial index stays small. Rowid (implicit
-- last index column) gives FIFO within a priority.
CREATE INDEX scan_tasks_pending ON scan_tasks (priority DESC) WHERE status = 'pending';
-- No (scan_id, status) index on purpose: every status change would rewrite it on the hot path.
-- Scan-wide moves (pause, resume, stop, finish, delete) are rare and use the UNIQUE index's
-- scan_id prefix.

CREATE TABLE findings (
    id          TEXT PRIMARY KEY NOT NULL,
    scan_id     TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    task_id     TEXT,
    scanner     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    severity    INTEGER NOT NULL,
    title       TEXT NOT NULL,
    description TEXT,
    target      TEXT NOT NULL,
    location    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    data        TEXT,
    secret      TEXT,
    triage      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (scan_id, fingerprint)
);
CREATE INDEX findings_scan_created ON findings (scan_id, created_at, id);
CREATE INDEX findings_scan_severity ON findings (scan_id, severity DESC, created_at, id);

-- AUTOINCREMENT: ids are never reused, even after the newest events are deleted, so a client's
-- Last-Event-ID can never point at a different event later.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_id TEXT NOT NULL,
    org_id  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    data    TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX events_org ON events (org_id, id);
CREATE INDEX events_scan ON events (scan_id, id);

CREATE TABLE templates (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    config      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX templates_org_name ON templates (org_id, name);

CREATE TABLE artifacts (
    scan_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scan_id, name)
);
