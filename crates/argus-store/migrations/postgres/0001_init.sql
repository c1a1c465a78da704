-- Argus store schema (PostgreSQL). Versions 1..999 belong to argus-store; other crates may keep
-- their own migrations (versions >= 1000) in the same _sqlx_migrations table.
--
-- Everything is created unqualified, so it lands in the first schema of the connection's
-- search_path (one database can hold several isolated Argus installations, one per schema).
--
-- Types: ids are uuid; org and user ids are text; times are timestamptz written by the
-- application clock at millisecond precision (so a returned record equals the stored one),
-- except leases (`leaders.expires_at`, `scan_tasks.relay_until`), which use the database clock
-- because several processes compare them. JSON columns are `json`, not `jsonb`: they are
-- written on the hot path and read back whole, never searched inside, and `json` stores what
-- serde_json wrote verbatim (`jsonb` would re-parse it and refuses the escape \u0000).
--
-- There are no foreign keys on purpose (as on SQLite): every child row is written in the same
-- transaction as a locked read of its scan, and `delete_scan` removes children explicitly,
-- which keeps the hot `record` path free of per-row FK checks.

CREATE TABLE scans (
    id             uuid PRIMARY KEY,
    org_id         text NOT NULL,
    user_id        text NOT NULL,
    name           text NOT NULL,
    config         json NOT NULL,
    template_id    uuid,
    state          text NOT NULL,
    reason         text,
    enqueued       bigint NOT NULL DEFAULT 0,
    done           bigint NOT NULL DEFAULT 0,
    failed         bigint NOT NULL DEFAULT 0,
    expected_total bigint,
    enqueue_done   boolean NOT NULL DEFAULT false,
    findings       bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    started_at     timestamptz,
    finished_at    timestamptz
) WITH (fillfactor = 80); -- counters are rewritten by every batch: leave room for HOT updates
CREATE INDEX scans_org_created ON scans (org_id, created_at DESC, id DESC);
CREATE INDEX scans_active ON scans (state) WHERE state IN ('queued', 'running', 'paused');

-- The task ledger: the outbox between the store and the queue.
-- `seq` gives FIFO order within a priority. `relay_owner`/`relay_until` are the relay lease:
-- `pending_tasks` hands a pending row to one store instance (process) at a time, and a lease
-- that ran out (its relay crashed) lets another instance take the row.
CREATE TABLE scan_tasks (
    id           uuid PRIMARY KEY,
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    scan_id      uuid NOT NULL,
    org_id       text NOT NULL,
    dedup_key    text NOT NULL,
    scanner      text NOT NULL,
    target       json NOT NULL,
    depth        integer NOT NULL,
    priority     smallint NOT NULL,
    max_attempts integer NOT NULL,
    params       json,
    status       text NOT NULL,
    error        text,
    relay_owner  uuid,
    relay_until  timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (scan_id, dedup_key)
) WITH (fillfactor = 85); -- the relay lease update touches no indexed column: HOT-eligible
-- Only pending rows are ever listed by priority; a partial index stays small.
CREATE INDEX scan_tasks_pending ON scan_tasks (priority DESC, seq) WHERE status = 'pending';
-- No (scan_id, status) index on purpose: every status change would rewrite it on the hot path.
-- Scan-wide moves (pause, resume, stop, finish, delete) are rare and use the UNIQUE index's
-- scan_id prefix.

CREATE TABLE findings (
    id          uuid PRIMARY KEY,
    scan_id     uuid NOT NULL,
    org_id      text NOT NULL,
    task_id     uuid,
    scanner     text NOT NULL,
    kind        text NOT NULL,
    severity    smallint NOT NULL,
    title       text NOT NULL,
    description text,
    target      json NOT NULL,
    location    json NOT NULL,
    fingerprint text NOT NULL,
    data        json NOT NULL,
    secret      json,
    triage      text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (scan_id, fingerprint)
);
CREATE INDEX findings_scan_created ON findings (scan_id, created_at, id);
CREATE INDEX findings_scan_severity ON findings (scan_id, severity DESC, created_at, id);

-- Event ids come from a sequence, so they are never reused, even after the newest events are
-- deleted. Writers take a transaction-scoped advisory lock before drawing ids (see the store's
-- module docs), so ids also become visible in id order.
CREATE SEQUENCE event_ids AS bigint;
CREATE TABLE events (
    id      bigint PRIMARY KEY DEFAULT nextval('event_ids'),
    scan_id uuid NOT NULL,
    org_id  text NOT NULL,
    kind    text NOT NULL,
    data    json NOT NULL,
    at      timestamptz NOT NULL
);
ALTER SEQUENCE event_ids OWNED BY events.id;
CREATE INDEX events_org ON events (org_id, id);
CREATE INDEX events_scan ON events (scan_id, id);

CREATE TABLE templates (
    id          uuid PRIMARY KEY,
    org_id      text NOT NULL,
    user_id     text NOT NULL,
    name        text COLLATE "C" NOT NULL, -- listed by name: byte order, as on SQLite
    description text,
    config      json NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX templates_org_name ON templates (org_id, name);

CREATE TABLE artifacts (
    scan_id      uuid NOT NULL,
    name         text COLLATE "C" NOT NULL, -- listed by name: byte order, as on SQLite
    org_id       text NOT NULL,
    size         bigint NOT NULL,
    content_type text NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scan_id, name)
);

-- Leadership leases for process roles (the scheduler): one row per role, timed by the
-- database clock.
CREATE TABLE leaders (
    role       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);
