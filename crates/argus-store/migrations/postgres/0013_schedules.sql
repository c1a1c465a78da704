-- Schedules (#18): a cron expression that starts scans. `def` is the definition as written
-- (JSON); `next_fire_at` is NULL while disabled; the last_* columns are the fire history, moved
-- only forwards by a compare-and-set on next_fire_at (see argus_core::schedule::ScheduleStore).
CREATE TABLE schedules (
    id           uuid PRIMARY KEY,
    org_id       text NOT NULL,
    user_id      text NOT NULL,
    name         text COLLATE "C" NOT NULL, -- listed by name: byte order, as on SQLite
    def          json NOT NULL,
    next_fire_at timestamptz,
    last_slot    timestamptz,
    last_scan_id uuid,
    last_outcome json,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX schedules_org_name ON schedules (org_id, name, id);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;
