-- Lazy clean-up of ended and deleted scans, worker advertisements, enumerations.

-- Scans whose leftovers the engine's janitor still clears in bounded batches, so that stopping or
-- deleting a scan costs the same for 10 tasks and 3 million: an ended scan's queued work
-- (`deleted = 0`), or every child row of a deleted scan (`deleted = 1`; the `scans` row itself is
-- already gone, and reads of its findings and events check for this row or for the scan).
CREATE TABLE scan_cleanups (
    scan_id    TEXT PRIMARY KEY NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- What each worker pool can run (its available scanners), renewed by its heartbeat. API
-- processes accept scans only for scanners a live worker advertises (distributed mode).
CREATE TABLE workers (
    id         TEXT PRIMARY KEY NOT NULL,
    scanners   TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);

-- Enumerations: a ledger row of an enumerating task has `enum_state` 1 while it enumerates and
-- 0 once it finished (NULL: not an enumeration); `expect_remaining` is the sub-tasks it last
-- said it would still add. Per scan, `open_enums` counts open enumerations (`enqueue_done` is
-- true exactly when it is 0) and `expect_extra` sums their `expect_remaining`, so
-- `expected_total = enqueued + expect_extra` once an enumeration reported an estimate.
ALTER TABLE scan_tasks ADD COLUMN enum_state INTEGER;
ALTER TABLE scan_tasks ADD COLUMN expect_remaining INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN open_enums INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN expect_extra INTEGER NOT NULL DEFAULT 0;
