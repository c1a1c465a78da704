-- Embedded durable queue (argus-queue). Versions >= 1000 belong to the queue; the store owns
-- 1..999 in the same `_sqlx_migrations` table.
--
-- state: 0 ready, 1 leased, 2 dead, 3 delayed (retry with a delay).
-- due_at (ms since epoch): for leased rows the lease expiry, for delayed rows the moment they
-- become ready again; unused otherwise. One column for both timers lets one index find every
-- row whose timer has fired.
-- AUTOINCREMENT: ids are never reused, so a stale lease token (id, attempt) can never match a
-- later task that happened to get the id of a deleted one.
CREATE TABLE queue_tasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     TEXT    NOT NULL UNIQUE,
    scan_id     TEXT    NOT NULL,
    priority    INTEGER NOT NULL,
    payload     TEXT    NOT NULL,
    state       INTEGER NOT NULL DEFAULT 0,
    attempt     INTEGER NOT NULL DEFAULT 0,
    due_at      INTEGER NOT NULL DEFAULT 0,
    error       TEXT
);

-- Partial indexes: a row sits in the claim index only while ready, in the due index only while
-- leased or delayed, in the dead index only while dead. Each state change then costs one index
-- insert or delete rather than a move, and no index grows with rows that cannot match. Queries
-- repeat the WHERE terms verbatim so SQLite uses them; `state` is carried as a column so the
-- claim and depth queries are answered from the indexes alone.
-- Claim order: ready rows, highest priority first, FIFO within a priority.
CREATE INDEX queue_tasks_claim ON queue_tasks (priority DESC, id, state) WHERE state = 0;
-- Expired leases and delayed retries whose time has come.
CREATE INDEX queue_tasks_due ON queue_tasks (due_at, state) WHERE state IN (1, 3);
-- Dead-letter count.
CREATE INDEX queue_tasks_dead ON queue_tasks (state) WHERE state = 2;
-- purge_scan.
CREATE INDEX queue_tasks_scan ON queue_tasks (scan_id);
