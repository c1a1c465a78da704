//! [`PgStore`]'s [`Store`] implementation: shared statements and the locking rules.
//!
//! Layout: this file holds [`PgStore`]'s `Store` (backend, ping, shutdown) and the statements the
//! aggregates share (event inserts, ledger inserts, ending a scan); each aggregate trait is
//! implemented in a file of its own, named alike in both backends: `coordination.rs`,
//! `scans.rs`, `ledger.rs`, `findings.rs`, `events.rs`, `templates.rs`, `artifacts.rs`,
//! `verdicts.rs`, `connectors.rs`, `sinks.rs`.
//!
//! Same semantics as the SQLite store, choices where the trait leaves room included (see
//! `sqlite/store.rs`; `record`'s rules are `crate::plan`'s, which both backends run): `record` on
//! an ended scan settles ledger rows but changes no counters and adds no findings, spawned tasks or
//! artifacts; reaching `max_results` inserts the whole batch's findings, completes the scan with
//! reason `max_results` and adds none of the batch's spawned tasks; spawned tasks beyond
//! `max_tasks` fail the scan (`max_tasks`); a paused scan whose every task finished completes;
//! `pause` parks pending rows, `resume` makes parked rows pending again, `stop` changes only the
//! scan row (reason `stopped`); ending or deleting a scan marks it for the batched clean-up instead
//! of touching its rows; `create_scan` appends the `created→created` state event in its
//! transaction; the forwarder's feed hides a deleted scan's events at once, like the org-wide
//! `events_after`; `start_scan` with no tasks left after dedup completes at once;
//! `apply_action(Start)` is `Invalid` from `created` and `Conflict` otherwise.
//!
//! Differences from SQLite that callers cannot observe through the engine:
//! - `record` settles only ledger rows of the scans it locked (the reports' `scan_id`s); a
//!   report naming the wrong scan for its task leaves the row alone (SQLite would settle it
//!   without counting it).
//! - `pending_tasks` writes (the relay lease and marks below); on SQLite it is a plain read.
//! - A task spawned by `record` is not `pending` in the ledger but listed by a relay mark;
//!   `pending_tasks` hands it out all the same.
//!
//! What several processes sharing one database add:
//! - **Lock order.** Every transaction that changes a scan locks its scan row (`FOR NO KEY
//!   UPDATE`, several in id order) before it inserts events, and the events lock is always last.
//!   `record`, the hot path, first updates the ledger rows of the reported tasks (row locks on
//!   those tasks only), *then* locks the scans, so the scan row — which every worker's batch
//!   must update — stays locked only for the short tail of the transaction (counters, events,
//!   commit), not while the ledger is written; the other scan-changing transactions (start,
//!   pause, resume, stop, finish, delete) lock the scan first and then its ledger rows.
//!   Counters are advanced with the deltas of rows whose conditional update
//!   (`status NOT IN (terminal)`) actually matched, and read back under the scan lock, so a
//!   terminal status counts once however many processes report it, and exactly one batch sees
//!   a scan complete. The two orders can deadlock (a pause or stop that moves a pending row a
//!   concurrent `record` is settling, or `mark_published`, which locks ledger rows only);
//!   PostgreSQL then rolls one transaction back and it is run again (a few times), as for a
//!   serialisation failure.
//! - **Event ids commit in id order.** A plain sequence lets transaction A draw id 10, B draw
//!   11 and commit first; a client resuming with `events_after(11)` would never see 10. Every
//!   transaction that inserts events takes `pg_advisory_xact_lock(EVENTS_LOCK)` right before
//!   drawing ids and holds it until commit, and takes no other lock after it (no deadlock), so
//!   ids are drawn and become visible in the same order: readers always see a gap-free prefix.
//!   Both `events_after` and the forwarder's `events_since` (whose cursor must never skip an
//!   id) rely on it, reading in one statement each.
//! - **Relay marks.** Tasks that `record` adds (a running task's fan-out: nearly every task of
//!   a large scan) are inserted once, already `published`, and the same transaction writes one
//!   `relay_marks` row per scan and 1,000 tasks that lists them, leased to this store instance
//!   (`relay_owner`, `relay_until = now() + 30 s`, database clock). `pending_tasks` hands out
//!   the listed tasks that are still `published` and of a live scan; `mark_published` deletes a
//!   mark once all its listed tasks were handed on. A task's ledger row is so written twice in
//!   its life (insert, then its terminal status) instead of four times (insert, relay lease,
//!   `published`, terminal), and the relay writes one row per thousand tasks. A crash between
//!   the commit and the publish leaves the mark: once its lease ran out, any instance's
//!   `pending_tasks` takes it over (renewing the lease, `FOR UPDATE SKIP LOCKED`), so no
//!   committed task is lost (published twice at worst, which the relay allows). A pause parks
//!   the tasks its scan's marks list (they were not handed on yet) and deletes those marks; the
//!   clean-up of an ended or deleted scan deletes its marks.
//! - **Relay lease.** Rows that still go through `pending` (a scan's initial tasks, resumed
//!   ones) are leased one by one: `pending_tasks` leases the rows it returns to this store
//!   instance (`relay_owner`, `relay_until`) with `FOR UPDATE SKIP LOCKED`: two processes never
//!   receive the same pending row while the lease lives, and rows of a relay that crashed come
//!   back once it ran out. The same instance gets its own leased rows and marks again (a failed
//!   publish is retried on the next pass); its calls are serialised so two of them never hold
//!   the same row at once.
//! - **HOT updates.** The pending index is keyed on `pending_rank`, a generated column that is
//!   NULL unless the row is pending, and `scan_tasks` has fillfactor 50: the terminal-status
//!   update of a published task changes no indexed column and finds room on its page, so it
//!   adds no index entries. `record` settles rows by primary key (a join with the sorted ids),
//!   so every writer locks them in the same order and the plan never depends on statistics
//!   that a fresh fan-out does not have yet.
//! - **Leadership** (`try_lead`) is timed by the database clock (`now()`), not the callers'.
//! - Record timestamps (`created_at`, event `at`…) come from the calling process's clock at
//!   millisecond precision, as on SQLite, so returned records equal stored ones.
//!
//! Batches travel as arrays (`UNNEST($1::uuid[], …)`, `= ANY($1)`): a call costs a fixed
//! handful of statements however many tasks, findings or events it carries, and every statement
//! text is constant, so sqlx's per-connection prepared-statement cache serves it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use std::future::Future;
use std::time::Duration;
use uuid::Uuid;

use argus_core::event::Event;
use argus_core::finding::{Finding, FindingQuery, FindingSort};
use argus_core::scan::{Scan, ScanState};
use argus_core::store::Store;
use argus_core::task::Task;
use argus_core::{CoreError, OrgId, Result, ScanId};

use super::rows::*;
use super::{PgError, PgStore};
use crate::plan::NewEvent;

pub(super) type PgResult<T> = std::result::Result<T, PgError>;

/// Key of the advisory lock that orders event ids (ASCII "argusevt").
pub(super) const EVENTS_LOCK: i64 = 0x6172_6775_7365_7674;
/// Attempts of a write transaction that hit a deadlock or serialisation failure.
pub(super) const TX_ATTEMPTS: u32 = 4;
/// Ledger rows per insert statement (bounds the size of one bind message).
pub(super) const INSERT_CHUNK: usize = 5000;
/// Tasks listed by one relay mark at most (the engine's relay moves 1,000 tasks per pass).
pub(super) const MARK_CHUNK: usize = 1000;
/// Relay marks read per `pending_tasks` call at most.
pub(super) const MARKS_PER_PASS: i64 = 64;
/// Planner settings for the relay's two statements (`SET LOCAL`: this transaction only). A
/// fan-out inserts tens of thousands of ledger rows within seconds, long before autovacuum
/// analyses them; without statistics the planner takes the pending rows for a handful and reads
/// *all* of them (bitmap scan, then sort or filter) on every call, which made each relay batch
/// cost in proportion to the backlog. Without bitmap scans, sorts, hash or merge joins and
/// sequential scans, `pending_tasks` walks the pending index in `(priority, seq)` order and
/// stops at its limit, and `mark_published` probes the primary key once per id.
pub(super) const RELAY_PLAN: &str = "SELECT set_config('enable_bitmapscan', 'off', true), \
     set_config('enable_sort', 'off', true), set_config('enable_seqscan', 'off', true), \
     set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)";
/// Rows with a `scan_id` column whose scan still exists (a deleted scan's rows linger until the
/// janitor removes them, and must not be visible meanwhile).
pub(super) const LIVE_SCAN: &str = "AND EXISTS (SELECT 1 FROM scans s WHERE s.id = scan_id)";
/// Statuses a ledger row never leaves.
pub(super) const TERMINAL: &str = "('done', 'failed', 'dropped')";

/// Runs a write transaction, again when PostgreSQL rolled it back for a deadlock or a
/// serialisation failure (the whole transaction is re-run, so nothing half-done is kept).
pub(super) async fn retrying<T, F, Fut>(mut run: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = PgResult<T>>,
{
    let mut attempt = 1;
    loop {
        match run().await {
            Err(e) if e.is_retryable() && attempt < TX_ATTEMPTS => {
                tracing::debug!(attempt, error = %e, "transaction rolled back; retrying");
                attempt += 1;
                // A short, growing pause lets the transaction we collided with finish.
                tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
            }
            other => return other.map_err(CoreError::from),
        }
    }
}

/// Runs a read-only body, flattening its error.
pub(super) async fn lift<T>(f: impl Future<Output = PgResult<T>>) -> Result<T> {
    f.await.map_err(CoreError::from)
}

pub(super) fn scan_not_found(id: ScanId) -> CoreError {
    CoreError::not_found("scan", id)
}

pub(super) fn uuids<T>(ids: &[T], f: impl Fn(&T) -> Uuid) -> Vec<Uuid> {
    ids.iter().map(f).collect()
}

/// Appends events in order and returns them with their ids.
///
/// Takes the event lock (see module docs), draws one id per event from the sequence (sorted,
/// so they follow the input order) and inserts the rows with those ids, in one statement. Must
/// be the last locking step of its transaction.
pub(super) async fn insert_events(
    c: &mut PgConnection,
    evs: Vec<NewEvent>,
    now: DateTime<Utc>,
) -> PgResult<Vec<Event>> {
    if evs.is_empty() {
        return Ok(Vec::new());
    }
    // Encode before taking the lock: every event writer waits while it is held.
    let mut scan_ids = Vec::with_capacity(evs.len());
    let mut orgs = Vec::with_capacity(evs.len());
    let mut kinds = Vec::with_capacity(evs.len());
    let mut data = Vec::with_capacity(evs.len());
    for e in &evs {
        scan_ids.push(e.scan_id.0);
        orgs.push(e.org_id.as_str());
        kinds.push(e.data.kind().as_str());
        data.push(to_json(&e.data.to_json())?);
    }
    // One round trip: the lock (a materialised CTE every later row depends on) is taken before
    // the first id is drawn; the drawn ids are then handed out in ascending order to the events
    // in input order, whatever order the ids were drawn in.
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock($2)), \
             drawn AS MATERIALIZED (SELECT nextval('event_ids') AS id \
                 FROM l, generate_series(1, $1)), \
             ranked AS (SELECT id, row_number() OVER (ORDER BY id) AS ord FROM drawn) \
         INSERT INTO events (id, scan_id, org_id, kind, data, at) \
         SELECT r.id, u.scan_id, u.org_id, u.kind, u.data::json, $7 \
         FROM ranked r JOIN UNNEST($3::uuid[], $4::text[], $5::text[], $6::text[]) \
             WITH ORDINALITY AS u(scan_id, org_id, kind, data, ord) ON u.ord = r.ord \
         RETURNING id",
    )
    .bind(i64::try_from(evs.len()).unwrap_or(i64::MAX))
    .bind(EVENTS_LOCK)
    .bind(&scan_ids)
    .bind(&orgs)
    .bind(&kinds)
    .bind(&data)
    .bind(now)
    .fetch_all(&mut *c)
    .await?;
    ids.sort_unstable();
    if ids.len() != evs.len() {
        return Err(CoreError::Backend("event insert returned a wrong count".into()).into());
    }
    Ok(evs
        .into_iter()
        .zip(ids)
        .map(|(e, id)| Event {
            id,
            scan_id: e.scan_id,
            org_id: e.org_id,
            data: e.data,
            at: now,
        })
        .collect())
}

pub(super) async fn fetch_scan(c: &mut PgConnection, id: ScanId) -> PgResult<Scan> {
    let row = sqlx::query(&format!("SELECT {SCAN_COLS} FROM scans WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| scan_not_found(id))?;
    Ok(scan_from_row(&row)?)
}

/// The state of an org's scan, or `NotFound`; with `lock`, the row stays locked for the rest of
/// the transaction (the first step of every scan-changing transaction).
pub(super) async fn scan_state_in(
    c: &mut PgConnection,
    org: &OrgId,
    id: ScanId,
    lock: bool,
) -> PgResult<ScanState> {
    let sql = if lock {
        "SELECT state FROM scans WHERE id = $1 AND org_id = $2 FOR NO KEY UPDATE"
    } else {
        "SELECT state FROM scans WHERE id = $1 AND org_id = $2"
    };
    let state: String = sqlx::query_scalar(sql)
        .bind(id.0)
        .bind(org.as_str())
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| scan_not_found(id))?;
    Ok(scan_state(&state)?)
}

/// Moves a scan's ledger rows from any of `from` to `to`, releasing relay leases.
pub(super) async fn move_ledger(
    c: &mut PgConnection,
    scan: ScanId,
    from: &[&str],
    to: &str,
    now: DateTime<Utc>,
) -> PgResult<u64> {
    let r = sqlx::query(
        "UPDATE scan_tasks SET status = $1, updated_at = $2, relay_owner = NULL, \
             relay_until = NULL \
         WHERE scan_id = $3 AND status = ANY($4)",
    )
    .bind(to)
    .bind(now)
    .bind(scan.0)
    .bind(from)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected())
}

/// Inserts tasks with `status` (`pending`, or `published` for tasks a relay mark will list),
/// deduped on `(scan, dedup_key)` and on id; returns `(id, scan id, opens an enumeration)` of
/// every row actually inserted. Rows are inserted in input order, so `seq` (FIFO within a
/// priority) follows it.
pub(super) async fn insert_tasks(
    c: &mut PgConnection,
    tasks: &[(&Task, &OrgId)],
    status: &str,
    now: DateTime<Utc>,
) -> PgResult<Vec<(Uuid, Uuid, bool)>> {
    let mut inserted = Vec::new();
    for chunk in tasks.chunks(INSERT_CHUNK) {
        let n = chunk.len();
        let mut ids = Vec::with_capacity(n);
        let mut scans = Vec::with_capacity(n);
        let mut orgs = Vec::with_capacity(n);
        let mut keys = Vec::with_capacity(n);
        let mut scanners = Vec::with_capacity(n);
        let mut targets = Vec::with_capacity(n);
        let mut depths = Vec::with_capacity(n);
        let mut prios = Vec::with_capacity(n);
        let mut attempts = Vec::with_capacity(n);
        let mut params = Vec::with_capacity(n);
        let mut enums = Vec::with_capacity(n);
        for (t, org) in chunk {
            ids.push(t.id.0);
            scans.push(t.scan_id.0);
            orgs.push(org.as_str());
            keys.push(pg_owned(t.dedup_key()));
            scanners.push(pg_text(&t.scanner).into_owned());
            targets.push(to_json(&t.target)?);
            depths.push(i32_of(t.depth));
            prios.push(i16::from(t.priority.rank()));
            attempts.push(i32_of(t.max_attempts));
            params.push(t.params.as_ref().map(to_json).transpose()?);
            enums.push(t.enumerates.then_some(1i16));
        }
        let rows: Vec<(Uuid, Uuid, Option<i16>)> = sqlx::query_as(
            "INSERT INTO scan_tasks (id, scan_id, org_id, dedup_key, scanner, target, depth, \
                 priority, max_attempts, params, enum_state, status, created_at, updated_at) \
             SELECT u.id, u.scan_id, u.org_id, u.dedup_key, u.scanner, u.target::json, u.depth, \
                 u.priority, u.max_attempts, u.params::json, u.enum_state, $13, $1, $1 \
             FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], \
                     $7::text[], $8::int4[], $9::int2[], $10::int4[], $11::text[], $12::int2[]) \
                 WITH ORDINALITY AS u(id, scan_id, org_id, dedup_key, scanner, target, depth, \
                     priority, max_attempts, params, enum_state, ord) \
             ORDER BY u.ord \
             ON CONFLICT DO NOTHING RETURNING id, scan_id, enum_state",
        )
        .bind(now)
        .bind(&ids)
        .bind(&scans)
        .bind(&orgs)
        .bind(&keys)
        .bind(&scanners)
        .bind(&targets)
        .bind(&depths)
        .bind(&prios)
        .bind(&attempts)
        .bind(&params)
        .bind(&enums)
        .bind(status)
        .fetch_all(&mut *c)
        .await?;
        inserted.extend(
            rows.into_iter()
                .map(|(id, scan, e)| (id, scan, e.is_some())),
        );
    }
    Ok(inserted)
}

/// Ends a live scan as `to` with `reason`; returns the state event, or `None` if the scan had
/// already ended (or does not exist). Locks the scan row if the caller has not. Leftover work is
/// not touched: the scan goes on the clean-up list (see the SQLite store).
pub(super) async fn end_scan(
    c: &mut PgConnection,
    id: ScanId,
    to: ScanState,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> PgResult<Option<NewEvent>> {
    let Some(row) = sqlx::query("SELECT org_id, state FROM scans WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
    else {
        return Ok(None);
    };
    let from = scan_state(&get::<String>(&row, "state")?)?;
    if !from.can_finish() {
        return Ok(None);
    }
    let org = org(&get::<String>(&row, "org_id")?)?;
    let r = sqlx::query(
        "UPDATE scans SET state = $1, reason = $2, finished_at = $3, updated_at = $3 \
         WHERE id = $4 AND state = $5",
    )
    .bind(to.as_str())
    .bind(reason)
    .bind(now)
    .bind(id.0)
    .bind(from.as_str())
    .execute(&mut *c)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(None);
    }
    add_cleanup(c, id, false, now).await?;
    Ok(Some(NewEvent::state(id, &org, from, to, reason)))
}

/// Puts a scan on the clean-up list; `deleted` never goes back to false.
pub(super) async fn add_cleanup(
    c: &mut PgConnection,
    scan: ScanId,
    deleted: bool,
    now: DateTime<Utc>,
) -> PgResult<()> {
    sqlx::query(
        "INSERT INTO scan_cleanups (scan_id, deleted, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (scan_id) DO UPDATE SET \
             deleted = scan_cleanups.deleted OR excluded.deleted",
    )
    .bind(scan.0)
    .bind(deleted)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(super) fn push_finding_filters(qb: &mut QueryBuilder<'_, Postgres>, q: &FindingQuery) {
    if let Some(kind) = &q.kind {
        qb.push(" AND kind = ").push_bind(kind.clone());
    }
    if let Some(s) = q.severity {
        qb.push(" AND severity = ").push_bind(i16::from(s.rank()));
    }
    if let Some(s) = q.min_severity {
        qb.push(" AND severity >= ").push_bind(i16::from(s.rank()));
    }
    if let Some(scanner) = &q.scanner {
        qb.push(" AND scanner = ").push_bind(scanner.clone());
    }
    if let Some(t) = q.triage {
        qb.push(" AND triage = ").push_bind(t.as_str());
    }
}

pub(super) fn sort_name(s: FindingSort) -> &'static str {
    match s {
        FindingSort::Created => "created",
        FindingSort::CreatedDesc => "created_desc",
        FindingSort::Severity => "severity",
    }
}

/// Makes a finding's text storable (PostgreSQL text holds no NUL), before it is stored and
/// announced.
pub(super) fn storable(f: &mut Finding) {
    fn clean(s: &mut String) {
        if let std::borrow::Cow::Owned(c) = pg_text(s) {
            *s = c;
        }
    }
    clean(&mut f.scanner);
    clean(&mut f.kind);
    clean(&mut f.title);
    if let Some(d) = &mut f.description {
        clean(d);
    }
    clean(&mut f.fingerprint);
}

pub(super) fn decode_all<T>(rows: &[PgRow], f: impl Fn(&PgRow) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        lift(async {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
        .await
    }
}
