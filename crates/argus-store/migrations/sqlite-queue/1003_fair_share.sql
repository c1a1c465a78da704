-- Fair share between scans (start-time fair queueing, see `sqlite/queue.rs`). Queue migrations
-- keep versions >= 1000 (the store's own share the `_sqlx_migrations` table), so this is 1003.
--
-- tag: the task's virtual start time within its priority. A scan's tasks get consecutive tags
-- from max(the scan's last tag, the virtual time now), the virtual time being the smallest
-- ready tag of that priority (or, with nothing ready, the largest tag handed out); claims go
-- by (priority, tag), so a new scan's tasks interleave with a large backlog instead of queueing
-- behind it. Rows queued before this migration have tag 0 and go first.
-- org: the task's org, for the per-org running-tasks quota checked at claim.
ALTER TABLE queue_tasks ADD COLUMN tag INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue_tasks ADD COLUMN org TEXT NOT NULL DEFAULT '';
DROP INDEX IF EXISTS queue_tasks_claim;
CREATE INDEX queue_tasks_claim ON queue_tasks (priority DESC, tag, id, state) WHERE state = 0;

-- Each scan's last tag per priority (one row per scan and priority it ever queued; removed by
-- purge_scan once the scan's queued rows are gone).
CREATE TABLE queue_fair (
    scan_id  TEXT    NOT NULL,
    priority INTEGER NOT NULL,
    last_tag INTEGER NOT NULL,
    PRIMARY KEY (scan_id, priority)
) WITHOUT ROWID;
CREATE INDEX queue_fair_clock ON queue_fair (priority, last_tag);
