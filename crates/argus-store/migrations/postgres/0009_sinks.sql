-- Result forwarding (issue #15). `sink_states`: one row per `[[sinks]]` entry, its cursor (every
-- event id up to it is settled) and counters. The cursor only moves forward
-- (SinkStore::save_sink_state).
CREATE TABLE sink_states (
    name          text PRIMARY KEY,
    cursor        bigint NOT NULL,
    sent          bigint NOT NULL,
    dropped       bigint NOT NULL,
    dead_lettered bigint NOT NULL,
    last_error    text,
    last_error_at timestamptz,
    last_sent_at  timestamptz,
    holder        text,
    updated_at    timestamptz
);
-- Events a sink gave up on, kept for operators: `event` is the JSON body as it would have been
-- sent (after the sink's masking). Listed per sink and org, newest first.
CREATE TABLE sink_dead_letters (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sink     text NOT NULL,
    org_id   text NOT NULL,
    scan_id  uuid NOT NULL,
    event_id bigint NOT NULL,
    event    json NOT NULL,
    error    text NOT NULL,
    attempts integer NOT NULL,
    at       timestamptz NOT NULL
);
CREATE INDEX sink_dead_letters_list ON sink_dead_letters (sink, org_id, id);
