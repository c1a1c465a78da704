-- Stuck scans (argus_engine::stuck, ScanStore::check_stuck): while a queued or running scan is
-- flagged stuck, `stuck_since` holds its last progress time (ms, the `updated_at` it had when
-- it was flagged). Only flagged scans are indexed: the monitor finds them without a scan of
-- the table.
ALTER TABLE scans ADD COLUMN stuck_since INTEGER;
CREATE INDEX scans_stuck ON scans (id) WHERE stuck_since IS NOT NULL;
