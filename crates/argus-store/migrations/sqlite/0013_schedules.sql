-- Schedules (#18): a cron expression that starts scans. `def` is the definition as written
-- (JSON); `next_fire_at` is NULL while disabled; the last_* columns are the fire history, moved
-- only forwards by a compare-and-set on next_fire_at (see argus_core::schedule::ScheduleStore).
CREATE TABLE schedules (
    id           TEXT PRIMARY KEY NOT NULL,
    org_id       TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    def          TEXT NOT NULL,
    next_fire_at INTEGER,
    last_slot    INTEGER,
    last_scan_id TEXT,
    last_outcome TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX schedules_org_name ON schedules (org_id, name, id);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;
