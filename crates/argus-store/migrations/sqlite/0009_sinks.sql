-- Result forwarding (issue #15). `sink_states`: one row per `[[sinks]]` entry, its cursor (every
-- event id up to it is settled) and counters; times in milliseconds since the epoch, like every
-- other time column. The cursor only moves forward (SinkStore::save_sink_state).
CREATE TABLE sink_states (
    name          TEXT PRIMARY KEY NOT NULL,
    cursor        INTEGER NOT NULL,
    sent          INTEGER NOT NULL,
    dropped       INTEGER NOT NULL,
    dead_lettered INTEGER NOT NULL,
    last_error    TEXT,
    last_error_at INTEGER,
    last_sent_at  INTEGER,
    holder        TEXT,
    updated_at    INTEGER
);
-- Events a sink gave up on, kept for operators: `event` is the JSON body as it would have been
-- sent (after the sink's masking). Listed per sink and org, newest first.
CREATE TABLE sink_dead_letters (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    sink     TEXT NOT NULL,
    org_id   TEXT NOT NULL,
    scan_id  TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    event    TEXT NOT NULL,
    error    TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX sink_dead_letters_list ON sink_dead_letters (sink, org_id, id);
