-- Only purge_scan (a rare, user-driven stop) looks tasks up by scan; maintaining this index on
-- every enqueue and ack cost more than the occasional full scan it saves.
DROP INDEX IF EXISTS queue_tasks_scan;
