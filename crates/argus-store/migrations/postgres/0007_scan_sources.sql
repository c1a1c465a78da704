-- Derived scans (issue #13): a clean scan names the secrets scan whose selected findings it
-- removes, a push scan the clean scan whose result it pushes. Set only by the platform. No
-- foreign key (as everywhere here): deleting a source scan leaves its derived scans, which still
-- hold their own artifacts.
ALTER TABLE scans ADD COLUMN source_scan_id uuid;
CREATE INDEX scans_source ON scans (org_id, source_scan_id, created_at DESC, id DESC)
    WHERE source_scan_id IS NOT NULL;
