-- Rate limits shared by every process of a store: the next free slot per key (`scan:<id>`,
-- `scanner:<name>`, `global`), in microseconds since the epoch. See Coordination::reserve_rate.
CREATE TABLE rate_slots (
    key     TEXT PRIMARY KEY NOT NULL,
    next_us INTEGER NOT NULL
);
