-- Fewer and cheaper row writes per task on the hot path (see `postgres/store.rs`, "Relay
-- marks" and "HOT updates").
--
-- Tasks that `record` adds (spawned by a running task) are written once, as `published`, and one
-- row of `relay_marks` per scan and batch lists them: the relay publishes the listed tasks and
-- deletes the mark, instead of leasing and then re-marking every ledger row. A mark belongs to
-- the store instance that wrote it (`relay_owner`) until `relay_until` (database clock); a mark
-- whose owner crashed is taken over by another instance once that lease ran out, so no
-- committed task is lost.
CREATE TABLE relay_marks (
    id          uuid PRIMARY KEY,
    scan_id     uuid NOT NULL,
    task_ids    uuid[] NOT NULL,
    -- cardinality(task_ids), kept beside it: choosing marks must not read (detoast) the lists.
    task_count  integer NOT NULL,
    relay_owner uuid NOT NULL,
    relay_until timestamptz NOT NULL
);
CREATE INDEX relay_marks_scan ON relay_marks (scan_id);
-- Recovery probes only marks whose lease ran out.
CREATE INDEX relay_marks_until ON relay_marks (relay_until);

-- The pending index is keyed on a generated column that is NULL unless the row is pending, with
-- a predicate on that column only: a status change between non-pending statuses (`published` →
-- `done`, the one update every task gets) then changes no indexed column, so PostgreSQL can make
-- it a HOT update (no new index entries) when the page has room, which fillfactor 50 leaves
-- (a row is written once and updated about once).
ALTER TABLE scan_tasks ADD COLUMN pending_rank smallint
    GENERATED ALWAYS AS (CASE WHEN status = 'pending' THEN priority END) STORED;
DROP INDEX scan_tasks_pending;
CREATE INDEX scan_tasks_pending ON scan_tasks (pending_rank DESC, seq)
    WHERE pending_rank IS NOT NULL;
ALTER TABLE scan_tasks SET (fillfactor = 50);

-- Byte order for text keys written on the hot path: equality is the same under any
-- deterministic collation, and "C" compares with memcmp instead of the locale's strcoll.
ALTER TABLE scan_tasks ALTER COLUMN dedup_key TYPE text COLLATE "C";
ALTER TABLE events ALTER COLUMN org_id TYPE text COLLATE "C";
