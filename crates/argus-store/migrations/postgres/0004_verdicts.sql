-- Verdicts of file scans (as on SQLite, see sqlite/0004 for the meaning of each column).
CREATE TABLE verdicts (
    scan_id    uuid NOT NULL,
    key        text COLLATE "C" NOT NULL, -- byte order, as SQLite compares keys
    org_id     text NOT NULL,
    task_id    uuid,
    verdict    text NOT NULL,
    body       json NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (scan_id, key)
);
CREATE INDEX verdicts_scan_kind ON verdicts (scan_id, verdict, key);

ALTER TABLE scans ADD COLUMN v_clean bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN v_malicious bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN v_suspicious bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN v_error bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN v_skipped bigint NOT NULL DEFAULT 0;
