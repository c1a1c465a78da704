-- Retention (argus_engine::retention): the hourly sweep asks for ended scans that finished
-- before a cutoff, of one org (an override) or of every org (the default). Only ended scans are
-- indexed; a derived scan's source is checked through `scans_source` (0007).
CREATE INDEX scans_ended ON scans (finished_at, id)
    WHERE state IN ('completed', 'failed', 'cancelled');
CREATE INDEX scans_org_ended ON scans (org_id, finished_at, id)
    WHERE state IN ('completed', 'failed', 'cancelled');
