-- Rate limits shared by every process of a store: the next free slot per key (`scan:<id>`,
-- `scanner:<name>`, `global`), in microseconds since the epoch by the database clock. See
-- Coordination::reserve_rate.
CREATE TABLE rate_slots (
    key     TEXT PRIMARY KEY,
    next_us BIGINT NOT NULL
);
