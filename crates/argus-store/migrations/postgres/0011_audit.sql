-- The audit log (issue #16): one row per audited request, append-only. Ids come from the
-- events' sequence (so an audit record never shares an id with an event: forwarded events are
-- keyed by id) and are drawn under the audit advisory lock (see postgres/audit.rs), so they
-- become visible in order. The triggers refuse every UPDATE, DELETE and TRUNCATE, so a
-- written record stays as written whatever code runs against the database.
CREATE TABLE audit_log (
    id         bigint PRIMARY KEY DEFAULT nextval('event_ids'),
    at         timestamptz NOT NULL,
    org_id     text NOT NULL,
    user_id    text NOT NULL,
    role       text NOT NULL,
    action     text NOT NULL,
    method     text NOT NULL,
    route      text NOT NULL,
    resource   text NOT NULL,
    outcome    text NOT NULL,
    status     integer NOT NULL,
    client     text,
    request_id text NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
