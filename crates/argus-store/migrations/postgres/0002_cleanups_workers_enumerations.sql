-- Lazy clean-up of ended and deleted scans, worker advertisements, enumerations (as on SQLite,
-- see sqlite/0003 for the meaning of each column).

CREATE TABLE scan_cleanups (
    scan_id    uuid PRIMARY KEY,
    deleted    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);

-- Timed by the database clock, like the leaders table: several processes compare expiries.
CREATE TABLE workers (
    id         text PRIMARY KEY,
    scanners   json NOT NULL,
    expires_at timestamptz NOT NULL
);

ALTER TABLE scan_tasks ADD COLUMN enum_state smallint;
ALTER TABLE scan_tasks ADD COLUMN expect_remaining bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN open_enums bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN expect_extra bigint NOT NULL DEFAULT 0;
