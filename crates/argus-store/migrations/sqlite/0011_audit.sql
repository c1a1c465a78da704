-- The audit log (issue #16): one row per audited request, append-only. Ids are drawn from the
-- events' AUTOINCREMENT sequence (sqlite_sequence 'events'), so an audit record never shares an
-- id with an event (forwarded events are keyed by id); times are milliseconds since the epoch. The
-- triggers refuse every UPDATE and DELETE, so a written record stays as written whatever
-- code runs against the database.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    org_id     TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,
    method     TEXT NOT NULL,
    route      TEXT NOT NULL,
    resource   TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    status     INTEGER NOT NULL,
    client     TEXT,
    request_id TEXT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
