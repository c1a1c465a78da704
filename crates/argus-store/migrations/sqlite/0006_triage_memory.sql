-- Triage memory (issue #13): a finding's triage outlives its scan. Every triage change writes the
-- state here under (org, target key, fingerprint), `open` deletes the row; `record` reads it when
-- it inserts a finding: the finding's `previous_triage` is the remembered state, and its `triage`
-- starts as that state when it carries over (`false_positive`, `accepted`). `target_key` is the
-- finding target's `Target::key()` (`kind:value`). Not a child of any scan: deleting a scan keeps
-- what the org decided about its findings.
CREATE TABLE triage_memory (
    org_id      TEXT NOT NULL,
    target_key  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    triage      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, target_key, fingerprint)
) WITHOUT ROWID;

ALTER TABLE findings ADD COLUMN previous_triage TEXT;
