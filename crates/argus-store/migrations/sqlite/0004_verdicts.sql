-- Verdicts of file scans: one per (scan, object key), the first recorded kept (a re-delivered
-- task's verdict on the same object is not a second result). `body` is the verdict as JSON
-- (engine, hits, size, SHA-256, action and its outcome); `verdict` is repeated as a column for
-- the kind filter. Counts per kind live on the scan row, moved only by inserts that happened.
CREATE TABLE verdicts (
    scan_id    TEXT NOT NULL,
    key        TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    task_id    TEXT,
    verdict    TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (scan_id, key)
);
CREATE INDEX verdicts_scan_kind ON verdicts (scan_id, verdict, key);

ALTER TABLE scans ADD COLUMN v_clean INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN v_malicious INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN v_suspicious INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN v_error INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN v_skipped INTEGER NOT NULL DEFAULT 0;
