-- Fair dispatch (argus_engine::relay): the relay lists the scans that have pending ledger rows
-- and takes each one's oldest ones. Pending rows are rare with the embedded queue (it publishes
-- inline) and the whole backlog with a broker queue; either way only pending rows are indexed.
CREATE INDEX scan_tasks_pending_scan ON scan_tasks (scan_id) WHERE status = 'pending';
