-- Fair dispatch (argus_engine::relay): the relay lists the scans that have pending ledger rows
-- and takes each one's oldest rows, a window at a time. Only pending rows are indexed (the
-- generated `pending_rank` is NULL otherwise), so a published task's terminal-status update
-- stays HOT, as with `scan_tasks_pending`.
CREATE INDEX scan_tasks_pending_scan ON scan_tasks (scan_id, seq) WHERE pending_rank IS NOT NULL;
