//! [`PgStore`]'s [`Store`] implementation.
//!
//! Same semantics as the SQLite store, choices where the trait leaves room included (see
//! `sqlite/store.rs`; `record`'s rules are `crate::plan`'s, which both backends run): `record` on an ended scan settles ledger rows but changes no counters and
//! adds no findings, spawned tasks or artifacts; reaching `max_results` inserts the whole batch's
//! findings, completes the scan with reason `max_results` and adds none of the batch's spawned
//! tasks; spawned tasks beyond `max_tasks` fail the scan (`max_tasks`); a paused scan whose
//! every task finished completes; `pause` parks pending rows, `resume` makes parked rows pending
//! again, `stop` changes only the scan row (reason `stopped`); ending or deleting a scan marks it
//! for the batched clean-up instead of touching its rows; `start_scan` with no tasks left
//! after dedup completes at once; `apply_action(Start)` is `Invalid` from `created` and
//! `Conflict` otherwise.
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
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::time::Duration;
use uuid::Uuid;

use argus_core::artifact::ArtifactMeta;
use argus_core::event::Event;
use argus_core::finding::{Finding, FindingQuery, FindingSort, Page, Triage};
use argus_core::scan::{NewScan, Scan, ScanAction, ScanConfig, ScanState};
use argus_core::store::{Cleanup, RecordOutcome, ScanQuery, Store, Transition};
use argus_core::task::{Task, TaskReport};
use argus_core::template::{NewTemplate, Template};
use argus_core::{CoreError, FindingId, OrgId, Result, ScanId, TaskId, TemplateId};

use super::rows::*;
use super::{PgError, PgStore, RELAY_LEASE};
use crate::plan::{Admit, CounterDelta, FailedRow, NewEvent, RecordPlan, ScanFacts};

type PgResult<T> = std::result::Result<T, PgError>;

/// Key of the advisory lock that orders event ids (ASCII "argusevt").
const EVENTS_LOCK: i64 = 0x6172_6775_7365_7674;
/// Attempts of a write transaction that hit a deadlock or serialisation failure.
const TX_ATTEMPTS: u32 = 4;
/// Ledger rows per insert statement (bounds the size of one bind message).
const INSERT_CHUNK: usize = 5000;
/// Tasks listed by one relay mark at most (the engine's relay moves 1,000 tasks per pass).
const MARK_CHUNK: usize = 1000;
/// Relay marks read per `pending_tasks` call at most.
const MARKS_PER_PASS: i64 = 64;
/// Planner settings for the relay's two statements (`SET LOCAL`: this transaction only). A
/// fan-out inserts tens of thousands of ledger rows within seconds, long before autovacuum
/// analyses them; without statistics the planner takes the pending rows for a handful and reads
/// *all* of them (bitmap scan, then sort or filter) on every call, which made each relay batch
/// cost in proportion to the backlog. Without bitmap scans, sorts, hash or merge joins and
/// sequential scans, `pending_tasks` walks the pending index in `(priority, seq)` order and
/// stops at its limit, and `mark_published` probes the primary key once per id.
const RELAY_PLAN: &str = "SELECT set_config('enable_bitmapscan', 'off', true), \
     set_config('enable_sort', 'off', true), set_config('enable_seqscan', 'off', true), \
     set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)";
/// Rows with a `scan_id` column whose scan still exists (a deleted scan's rows linger until the
/// janitor removes them, and must not be visible meanwhile).
const LIVE_SCAN: &str = "AND EXISTS (SELECT 1 FROM scans s WHERE s.id = scan_id)";
/// Statuses a ledger row never leaves.
const TERMINAL: &str = "('done', 'failed', 'dropped')";

/// Runs a write transaction, again when PostgreSQL rolled it back for a deadlock or a
/// serialisation failure (the whole transaction is re-run, so nothing half-done is kept).
async fn retrying<T, F, Fut>(mut run: F) -> Result<T>
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
async fn lift<T>(f: impl Future<Output = PgResult<T>>) -> Result<T> {
    f.await.map_err(CoreError::from)
}

fn scan_not_found(id: ScanId) -> CoreError {
    CoreError::not_found("scan", id)
}

fn uuids<T>(ids: &[T], f: impl Fn(&T) -> Uuid) -> Vec<Uuid> {
    ids.iter().map(f).collect()
}

/// Appends events in order and returns them with their ids.
///
/// Takes the event lock (see module docs), draws one id per event from the sequence (sorted,
/// so they follow the input order) and inserts the rows with those ids, in one statement. Must
/// be the last locking step of its transaction.
async fn insert_events(
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

async fn fetch_scan(c: &mut PgConnection, id: ScanId) -> PgResult<Scan> {
    let row = sqlx::query(&format!("SELECT {SCAN_COLS} FROM scans WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| scan_not_found(id))?;
    Ok(scan_from_row(&row)?)
}

/// The state of an org's scan, or `NotFound`; with `lock`, the row stays locked for the rest of
/// the transaction (the first step of every scan-changing transaction).
async fn scan_state_in(
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
async fn move_ledger(
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
async fn insert_tasks(
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
async fn end_scan(
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
async fn add_cleanup(
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

fn push_finding_filters(qb: &mut QueryBuilder<'_, Postgres>, q: &FindingQuery) {
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

fn sort_name(s: FindingSort) -> &'static str {
    match s {
        FindingSort::Created => "created",
        FindingSort::CreatedDesc => "created_desc",
        FindingSort::Severity => "severity",
    }
}

/// Makes a finding's text storable (PostgreSQL text holds no NUL), before it is stored and
/// announced.
fn storable(f: &mut Finding) {
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

impl PgStore {
    async fn update_scan_tx(
        &self,
        org: &OrgId,
        id: ScanId,
        name: &str,
        config: &ScanConfig,
    ) -> PgResult<Scan> {
        let now = now_ts();
        let mut tx = self.pool.begin().await?;
        let state = scan_state_in(&mut tx, org, id, true).await?;
        if state != ScanState::Created {
            return Err(CoreError::Conflict {
                message: format!("cannot update a scan that is {state}"),
                state: Some(state),
            }
            .into());
        }
        let row = sqlx::query(&format!(
            "UPDATE scans SET name = $1, config = $2::json, updated_at = $3 \
             WHERE id = $4 AND org_id = $5 AND state = 'created' RETURNING {SCAN_COLS}"
        ))
        .bind(name)
        .bind(to_json(config)?)
        .bind(now)
        .bind(id.0)
        .bind(org.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let scan = scan_from_row(&row)?;
        tx.commit().await?;
        Ok(scan)
    }

    async fn delete_scan_tx(&self, org: &OrgId, id: ScanId) -> PgResult<()> {
        let mut tx = self.pool.begin().await?;
        let state: String =
            sqlx::query_scalar("SELECT state FROM scans WHERE id = $1 AND org_id = $2 FOR UPDATE")
                .bind(id.0)
                .bind(org.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| scan_not_found(id))?;
        let state = scan_state(&state)?;
        if !state.can_delete() {
            return Err(CoreError::Conflict {
                message: format!("cannot delete a scan that is {state}"),
                state: Some(state),
            }
            .into());
        }
        // Children go in bounded batches later (see the SQLite store).
        add_cleanup(&mut tx, id, true, now_ts()).await?;
        sqlx::query("DELETE FROM scans WHERE id = $1 AND org_id = $2")
            .bind(id.0)
            .bind(org.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn start_scan_tx(&self, org: &OrgId, id: ScanId, tasks: &[Task]) -> PgResult<Transition> {
        let now = now_ts();
        let mut tx = self.pool.begin().await?;
        let from = scan_state_in(&mut tx, org, id, true).await?;
        let to = from.apply(ScanAction::Start)?;
        // The ledger rows belong to this scan and org whatever the tasks claim.
        let tasks: Vec<Task> = tasks
            .iter()
            .map(|t| Task {
                scan_id: id,
                org_id: org.clone(),
                ..t.clone()
            })
            .collect();
        let pairs: Vec<(&Task, &OrgId)> = tasks.iter().map(|t| (t, org)).collect();
        let rows = insert_tasks(&mut tx, &pairs, "pending", now).await?;
        let inserted = rows.len() as u64;
        // Enqueuing is done at once unless an initial task enumerates.
        let open = rows.iter().filter(|(_, _, e)| *e).count() as u64;
        let r = sqlx::query(
            "UPDATE scans SET state = $1, enqueued = $2, open_enums = $7, \
                 enqueue_done = ($7 = 0), started_at = $3, updated_at = $3 \
             WHERE id = $4 AND org_id = $5 AND state = $6",
        )
        .bind(to.as_str())
        .bind(i64_of(inserted))
        .bind(now)
        .bind(id.0)
        .bind(org.as_str())
        .bind(from.as_str())
        .bind(i64_of(open))
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(CoreError::illegal("start", from).into());
        }
        let mut evs = vec![NewEvent::state(id, org, from, to, None)];
        if inserted == 0 {
            // Nothing to run: the completion rule holds already.
            if let Some(ev) = end_scan(&mut tx, id, ScanState::Completed, None, now).await? {
                evs.push(ev);
            }
        }
        let scan = fetch_scan(&mut tx, id).await?;
        let events = insert_events(&mut tx, evs, now).await?;
        tx.commit().await?;
        Ok(Transition { scan, events })
    }

    async fn apply_action_tx(
        &self,
        org: &OrgId,
        id: ScanId,
        action: ScanAction,
    ) -> PgResult<Transition> {
        let now = now_ts();
        let mut tx = self.pool.begin().await?;
        // Locked: the state read here is the one the update below replaces.
        let from = scan_state_in(&mut tx, org, id, true).await?;
        let to = from.apply(action)?;
        if action == ScanAction::Start {
            return Err(CoreError::invalid(
                "/action",
                "a scan is started with its planned tasks (start_scan)",
            )
            .into());
        }
        let reason = (action == ScanAction::Stop).then_some("stopped");
        let finished = (action == ScanAction::Stop).then_some(now);
        let r = sqlx::query(
            "UPDATE scans SET state = $1, reason = COALESCE($2, reason), \
                 finished_at = COALESCE($3, finished_at), updated_at = $4 \
             WHERE id = $5 AND org_id = $6 AND state = $7",
        )
        .bind(to.as_str())
        .bind(reason)
        .bind(finished)
        .bind(now)
        .bind(id.0)
        .bind(org.as_str())
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            let current = scan_state_in(&mut tx, org, id, false).await?;
            return Err(CoreError::illegal(action.as_str(), current).into());
        }
        match action {
            ScanAction::Pause => {
                move_ledger(&mut tx, id, &["pending"], "parked", now).await?;
                // Tasks a relay mark still lists were not handed to the queue: they are parked
                // too (resume makes them pending), and the scan's marks go.
                sqlx::query(
                    "WITH m AS (DELETE FROM relay_marks WHERE scan_id = $1 RETURNING task_ids) \
                     UPDATE scan_tasks SET status = 'parked', updated_at = $2 \
                     WHERE id IN (SELECT unnest(task_ids) FROM m) AND status = 'published'",
                )
                .bind(id.0)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            ScanAction::Resume => {
                move_ledger(&mut tx, id, &["parked"], "pending", now).await?;
            }
            ScanAction::Stop => {
                // Lazily (see the SQLite store): a stop costs the same for any scan size.
                add_cleanup(&mut tx, id, false, now).await?;
            }
            ScanAction::Start => {}
        }
        let scan = fetch_scan(&mut tx, id).await?;
        let events = insert_events(
            &mut tx,
            vec![NewEvent::state(id, org, from, to, reason)],
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Transition { scan, events })
    }

    async fn mark_running_tx(&self, ids: &[ScanId]) -> PgResult<Vec<Event>> {
        let now = now_ts();
        let mut ids = uuids(ids, |s| s.0);
        ids.sort_unstable();
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE scans SET state = 'running', updated_at = $1 \
             WHERE state = 'queued' AND id = ANY($2) RETURNING id, org_id",
        )
        .bind(now)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut evs = Vec::with_capacity(rows.len());
        for r in &rows {
            evs.push(NewEvent::state(
                ScanId(get(r, "id")?),
                &org(&get::<String>(r, "org_id")?)?,
                ScanState::Queued,
                ScanState::Running,
                None,
            ));
        }
        evs.sort_by_key(|e| e.scan_id);
        let events = insert_events(&mut tx, evs, now).await?;
        tx.commit().await?;
        Ok(events)
    }

    async fn finish_scan_tx(
        &self,
        id: ScanId,
        state: ScanState,
        reason: &str,
    ) -> PgResult<Option<Transition>> {
        let now = now_ts();
        let mut tx = self.pool.begin().await?;
        // Distinguish "unknown scan" (NotFound) from "already ended" (None); lock it first.
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM scans WHERE id = $1 FOR NO KEY UPDATE")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(scan_not_found(id).into());
        }
        let Some(ev) = end_scan(&mut tx, id, state, Some(reason), now).await? else {
            return Ok(None);
        };
        let scan = fetch_scan(&mut tx, id).await?;
        let events = insert_events(&mut tx, vec![ev], now).await?;
        tx.commit().await?;
        Ok(Some(Transition { scan, events }))
    }

    /// Writes relay marks for tasks `record` added as `published`: one mark per scan and
    /// [`MARK_CHUNK`] tasks, listing them in input order, owned by this instance (see "Relay
    /// marks" in the module docs).
    async fn insert_marks(&self, c: &mut PgConnection, kept: &[(Uuid, Uuid)]) -> PgResult<()> {
        let mut by_scan: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for (scan, task) in kept {
            by_scan.entry(*scan).or_default().push(*task);
        }
        let mut marks = Vec::with_capacity(kept.len());
        let mut scans = Vec::with_capacity(kept.len());
        let mut tasks = Vec::with_capacity(kept.len());
        for (scan, ids) in &by_scan {
            for chunk in ids.chunks(MARK_CHUNK) {
                let mark = Uuid::now_v7();
                for id in chunk {
                    marks.push(mark);
                    scans.push(*scan);
                    tasks.push(*id);
                }
            }
        }
        sqlx::query(
            "INSERT INTO relay_marks (id, scan_id, task_ids, task_count, relay_owner, \
                 relay_until) \
             SELECT u.mark, (array_agg(u.scan))[1], array_agg(u.task ORDER BY u.ord), count(*), \
                 $4, now() + make_interval(secs => $5) \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[]) WITH ORDINALITY \
                 AS u(mark, scan, task, ord) \
             GROUP BY u.mark",
        )
        .bind(&marks)
        .bind(&scans)
        .bind(&tasks)
        .bind(self.relay.owner)
        .bind(RELAY_LEASE.as_secs_f64())
        .execute(&mut *c)
        .await?;
        Ok(())
    }

    /// Publishing done for `ids`: marks whose every listed task is now published are deleted,
    /// marks published in part keep the rest; tasks no mark of this instance lists are ledger
    /// rows that went through `pending` (or tasks of a mark this instance never handed out).
    async fn mark_published_tx(&self, ids: &[Uuid]) -> PgResult<()> {
        let published: HashSet<Uuid> = ids.iter().copied().collect();
        let mut covered: HashSet<Uuid> = HashSet::new();
        let mut finished_marks = Vec::new();
        let mut trimmed: Vec<(Uuid, Vec<Uuid>)> = Vec::new();
        {
            let mut marks = self
                .relay
                .marks
                .lock()
                .map_err(|_| CoreError::Backend("relay mark registry poisoned".into()))?;
            for (mark, owed) in marks.iter_mut() {
                let before = owed.len();
                owed.retain(|t| {
                    let hit = published.contains(t);
                    if hit {
                        covered.insert(*t);
                    }
                    !hit
                });
                if owed.is_empty() {
                    finished_marks.push(*mark);
                } else if owed.len() < before {
                    let mut rest: Vec<Uuid> = owed.iter().copied().collect();
                    rest.sort_unstable();
                    trimmed.push((*mark, rest));
                }
            }
            for m in &finished_marks {
                marks.remove(m);
            }
        }
        let mut tx = self.pool.begin().await?;
        if !finished_marks.is_empty() {
            sqlx::query("DELETE FROM relay_marks WHERE id = ANY($1)")
                .bind(&finished_marks)
                .execute(&mut *tx)
                .await?;
        }
        for (mark, rest) in &trimmed {
            sqlx::query(
                "UPDATE relay_marks SET task_ids = $2, task_count = cardinality($2) WHERE id = $1",
            )
            .bind(mark)
            .bind(rest)
            .execute(&mut *tx)
            .await?;
        }
        let rest: Vec<Uuid> = ids
            .iter()
            .copied()
            .filter(|id| !covered.contains(id))
            .collect();
        if !rest.is_empty() {
            // One primary-key probe per id, whatever the statistics say (see RELAY_PLAN).
            sqlx::query(RELAY_PLAN).execute(&mut *tx).await?;
            sqlx::query(
                "UPDATE scan_tasks AS t SET status = 'published', updated_at = $1, \
                     relay_owner = NULL, relay_until = NULL \
                 FROM UNNEST($2::uuid[]) AS u(id) \
                 WHERE t.id = u.id AND t.status = 'pending'",
            )
            .bind(now_ts())
            .bind(&rest)
            .execute(&mut *tx)
            .await?;
            // Tasks of marks this instance did not hand out (rare): no longer listed.
            let r = sqlx::query(
                "UPDATE relay_marks SET \
                     task_ids = ARRAY(SELECT x FROM unnest(task_ids) AS x WHERE x <> ALL($1)), \
                     task_count = (SELECT count(*) FROM unnest(task_ids) AS x \
                         WHERE x <> ALL($1)) \
                 WHERE task_ids && $1",
            )
            .bind(&rest)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() > 0 {
                sqlx::query("DELETE FROM relay_marks WHERE task_count = 0")
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// One `record` transaction (see the trait and module docs, and `crate::plan` for the
    /// rules).
    async fn record_tx(&self, reports: &[TaskReport]) -> PgResult<RecordOutcome> {
        let now = now_ts();
        // The scans this batch touches, in id order.
        let scan_ids: Vec<Uuid> = RecordPlan::scan_ids(reports)
            .into_iter()
            .map(|s| s.0)
            .collect();
        let ledger = RecordPlan::ledger(reports);

        // Settled by primary key, in id order: one index probe per task (a join with the
        // sorted ids; a condition on `scan_id` the planner could answer from the `(scan_id,
        // dedup_key)` index instead made it read every row of the scan while a fresh fan-out
        // had no statistics yet), and row locks taken in the same order by every writer.
        fn split(v: &[(TaskId, ScanId)]) -> (Vec<Uuid>, Vec<Uuid>) {
            let mut v: Vec<(Uuid, Uuid)> = v.iter().map(|(t, s)| (t.0, s.0)).collect();
            v.sort_unstable();
            v.dedup();
            v.into_iter().unzip()
        }
        let (done, done_scans) = split(&ledger.done);
        let (dropped, dropped_scans) = split(&ledger.dropped);
        let (parked, parked_scans) = split(&ledger.parked);

        let mut tx = self.pool.begin().await?;

        // 1. Ledger, before the scan lock (see "Lock order" in the module docs): a terminal
        //    status counts only when the row was not terminal already; the row locks taken here
        //    make concurrent reports of one task count it once.
        let mut d_done: HashMap<Uuid, u64> = HashMap::new();
        let mut d_failed: HashMap<Uuid, u64> = HashMap::new();
        if !done.is_empty() {
            let rows: Vec<Uuid> = sqlx::query_scalar(&format!(
                "UPDATE scan_tasks AS t SET status = 'done', updated_at = $1, relay_owner = NULL, \
                     relay_until = NULL \
                 FROM UNNEST($2::uuid[], $3::uuid[]) AS u(id, scan_id) \
                 WHERE t.id = u.id AND t.scan_id = u.scan_id AND t.status NOT IN {TERMINAL} \
                 RETURNING t.scan_id"
            ))
            .bind(now)
            .bind(&done)
            .bind(&done_scans)
            .fetch_all(&mut *tx)
            .await?;
            for sid in rows {
                *d_done.entry(sid).or_default() += 1;
            }
        }
        let mut failed_rows: Vec<FailedRow> = Vec::new();
        if !ledger.failed.is_empty() {
            let ids = uuids(&ledger.failed, |(t, _, _)| t.0);
            let scans = uuids(&ledger.failed, |(_, s, _)| s.0);
            let errors: Vec<String> = ledger
                .failed
                .iter()
                .map(|(_, _, e)| pg_text(e).into_owned())
                .collect();
            let rows = sqlx::query(&format!(
                "UPDATE scan_tasks AS t SET status = 'failed', error = u.error, updated_at = $1, \
                     relay_owner = NULL, relay_until = NULL \
                 FROM UNNEST($2::uuid[], $3::text[], $4::uuid[]) AS u(id, error, scan_id) \
                 WHERE t.id = u.id AND t.scan_id = u.scan_id AND t.status NOT IN {TERMINAL} \
                 RETURNING t.id, t.scan_id, t.scanner, t.target, t.error"
            ))
            .bind(now)
            .bind(&ids)
            .bind(&errors)
            .bind(&scans)
            .fetch_all(&mut *tx)
            .await?;
            for r in &rows {
                let scan_id: Uuid = get(r, "scan_id")?;
                *d_failed.entry(scan_id).or_default() += 1;
                failed_rows.push(FailedRow {
                    task_id: TaskId(get(r, "id")?),
                    scan_id: ScanId(scan_id),
                    scanner: get(r, "scanner")?,
                    target: get::<sqlx::types::Json<Value>>(r, "target")
                        .map(|j| j.0)
                        .unwrap_or(Value::Null),
                    error: get(r, "error")?,
                });
            }
        }
        if !dropped.is_empty() {
            sqlx::query(&format!(
                "UPDATE scan_tasks AS t SET status = 'dropped', updated_at = $1, \
                     relay_owner = NULL, relay_until = NULL \
                 FROM UNNEST($2::uuid[], $3::uuid[]) AS u(id, scan_id) \
                 WHERE t.id = u.id AND t.scan_id = u.scan_id AND t.status NOT IN {TERMINAL}"
            ))
            .bind(now)
            .bind(&dropped)
            .bind(&dropped_scans)
            .execute(&mut *tx)
            .await?;
        }
        if !parked.is_empty() {
            sqlx::query(
                "UPDATE scan_tasks AS t SET status = 'parked', updated_at = $1, \
                     relay_owner = NULL, relay_until = NULL \
                 FROM UNNEST($2::uuid[], $3::uuid[]) AS u(id, scan_id) \
                 WHERE t.id = u.id AND t.scan_id = u.scan_id \
                     AND t.status IN ('pending', 'published')",
            )
            .bind(now)
            .bind(&parked)
            .bind(&parked_scans)
            .execute(&mut *tx)
            .await?;
        }

        // 1a. Enumerations of enumerating tasks (rare), if still open. Row locks only, like
        //     the ledger updates above; the scan counters move in step 6.
        let mut enums = Vec::new();
        for e in RecordPlan::enumerations(reports) {
            let Some(old): Option<i64> = sqlx::query_scalar(
                "SELECT expect_remaining FROM scan_tasks \
                 WHERE id = $1 AND scan_id = ANY($2) AND enum_state = 1 FOR UPDATE",
            )
            .bind(e.task_id.0)
            .bind(&scan_ids)
            .fetch_optional(&mut *tx)
            .await?
            else {
                continue;
            };
            let (state, new) = e.next();
            sqlx::query(
                "UPDATE scan_tasks SET enum_state = $1, expect_remaining = $2 WHERE id = $3",
            )
            .bind(state)
            .bind(new)
            .bind(e.task_id.0)
            .execute(&mut *tx)
            .await?;
            enums.push((e, old));
        }

        // 1b. Spawned tasks, deduped, also before the scan lock: for a batch that spawns (a
        //     fan-out flush brings a thousand tasks) this insert is the longest step. Rows the
        //     plan does not admit (scan ended, reached max_results or max_tasks, unknown) are
        //     deleted again under the lock (step 4), in this transaction: nobody else sees them.
        let spawned: Vec<(&Task, &OrgId)> = reports
            .iter()
            .flat_map(|r| r.spawned.iter())
            .map(|t| (t, &t.org_id))
            .collect();
        let inserted = if spawned.is_empty() {
            Vec::new()
        } else {
            insert_tasks(&mut tx, &spawned, "published", now).await?
        };

        // 2. Lock the scans in id order, advance done/failed by the ledger's deltas and read what
        //    the rules need, in one statement. From here to the commit the scans stay locked.
        let dd: Vec<i64> = scan_ids
            .iter()
            .map(|s| i64_of(d_done.get(s).copied().unwrap_or(0)))
            .collect();
        let df: Vec<i64> = scan_ids
            .iter()
            .map(|s| i64_of(d_failed.get(s).copied().unwrap_or(0)))
            .collect();
        let rows = sqlx::query(
            "WITH locked AS ( \
                 SELECT id FROM scans WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE) \
             UPDATE scans AS s SET done = s.done + (CASE WHEN s.state IN ('queued', 'running', 'paused') THEN u.d_done ELSE 0 END), \
                 failed = s.failed + (CASE WHEN s.state IN ('queued', 'running', 'paused') THEN u.d_failed ELSE 0 END), \
                 updated_at = CASE WHEN u.d_done + u.d_failed > 0 AND s.state IN ('queued', 'running', 'paused') \
                     THEN $4 ELSE s.updated_at END \
             FROM locked, UNNEST($1::uuid[], $2::int8[], $3::int8[]) AS u(id, d_done, d_failed) \
             WHERE s.id = locked.id AND u.id = s.id \
             RETURNING s.id, s.org_id, s.state, s.enqueued, s.done, s.failed, s.expected_total, \
                 s.enqueue_done, s.findings, s.open_enums, s.expect_extra, \
                 s.config->>'max_results' AS mr, s.config->>'max_tasks' AS mt",
        )
        .bind(&scan_ids)
        .bind(&dd)
        .bind(&df)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut facts = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: Uuid = get(r, "id")?;
            let state = scan_state(&get::<String>(r, "state")?)?;
            let mut progress = progress_from_row(r)?;
            // The plan wants the counters before this batch: take back what the update added.
            if matches!(
                state,
                ScanState::Queued | ScanState::Running | ScanState::Paused
            ) {
                progress.done -= d_done.get(&id).copied().unwrap_or(0).min(progress.done);
                progress.failed -= d_failed.get(&id).copied().unwrap_or(0).min(progress.failed);
            }
            facts.push(ScanFacts {
                id: ScanId(id),
                org: org(&get::<String>(r, "org_id")?)?,
                state,
                progress,
                open_enums: get(r, "open_enums")?,
                expect_extra: get(r, "expect_extra")?,
                max_results: get::<Option<String>>(r, "mr")?.and_then(|v| v.parse().ok()),
                max_tasks: get::<Option<String>>(r, "mt")?.and_then(|v| v.parse().ok()),
            });
        }
        let mut plan = RecordPlan::new(reports, facts);
        for (sid, n) in d_done {
            plan.done(ScanId(sid), n);
        }
        for row in failed_rows {
            plan.failed(row);
        }
        for (e, old) in &enums {
            plan.enumeration(e, *old);
        }

        // 3. Findings of live scans, idempotent on (scan, fingerprint).
        let mut new_findings = plan.findings(reports, now);
        if !new_findings.is_empty() {
            let n = new_findings.len();
            let mut ids = Vec::with_capacity(n);
            let mut f_scans = Vec::with_capacity(n);
            let mut orgs = Vec::with_capacity(n);
            let mut tasks = Vec::with_capacity(n);
            let mut scanners = Vec::with_capacity(n);
            let mut kinds = Vec::with_capacity(n);
            let mut sevs = Vec::with_capacity(n);
            let mut titles = Vec::with_capacity(n);
            let mut descs = Vec::with_capacity(n);
            let mut targets = Vec::with_capacity(n);
            let mut locations = Vec::with_capacity(n);
            let mut fps = Vec::with_capacity(n);
            let mut data = Vec::with_capacity(n);
            let mut secrets = Vec::with_capacity(n);
            for f in &mut new_findings {
                storable(f);
            }
            for f in &new_findings {
                ids.push(f.id.0);
                f_scans.push(f.scan_id.0);
                orgs.push(f.org_id.as_str());
                tasks.push(f.task_id.map(|t| t.0));
                scanners.push(f.scanner.as_str());
                kinds.push(f.kind.as_str());
                sevs.push(i16::from(f.severity.rank()));
                titles.push(f.title.as_str());
                descs.push(f.description.as_deref());
                targets.push(to_json(&f.target)?);
                locations.push(to_json(&f.location)?);
                fps.push(f.fingerprint.as_str());
                data.push(to_json(&f.data)?);
                secrets.push(f.secret.as_ref().map(to_json).transpose()?);
            }
            // Input order: of duplicates within the batch, the first one is kept.
            let inserted: HashSet<Uuid> = sqlx::query_scalar(
                "INSERT INTO findings (id, scan_id, org_id, task_id, scanner, kind, severity, \
                     title, description, target, location, fingerprint, data, secret, triage, \
                     created_at, updated_at) \
                 SELECT u.id, u.scan_id, u.org_id, u.task_id, u.scanner, u.kind, u.severity, \
                     u.title, u.description, u.target::json, u.location::json, u.fingerprint, \
                     u.data::json, u.secret::json, 'open', $1, $1 \
                 FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::text[], \
                         $7::text[], $8::int2[], $9::text[], $10::text[], $11::text[], \
                         $12::text[], $13::text[], $14::text[], $15::text[]) \
                     WITH ORDINALITY AS u(id, scan_id, org_id, task_id, scanner, kind, severity, \
                         title, description, target, location, fingerprint, data, secret, ord) \
                 ORDER BY u.ord \
                 ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(now)
            .bind(&ids)
            .bind(&f_scans)
            .bind(&orgs)
            .bind(&tasks)
            .bind(&scanners)
            .bind(&kinds)
            .bind(&sevs)
            .bind(&titles)
            .bind(&descs)
            .bind(&targets)
            .bind(&locations)
            .bind(&fps)
            .bind(&data)
            .bind(&secrets)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
            new_findings.retain(|f| inserted.contains(&f.id.0));
        }
        plan.findings_inserted(&new_findings);

        // 4. Spawned rows (inserted in step 1b) the plan admits stay and are listed by relay
        //    marks; the others are deleted.
        let mut kept: Vec<(Uuid, Uuid)> = Vec::new();
        if !inserted.is_empty() {
            let tasks: HashMap<Uuid, &Task> = spawned.iter().map(|(t, _)| (t.id.0, *t)).collect();
            let mut unwanted = Vec::new();
            for (id, sid, enumerates) in inserted {
                match tasks.get(&id).map(|t| plan.admit(t)) {
                    Some(Admit::Run | Admit::Wait) => {
                        plan.inserted(ScanId(sid), enumerates);
                        kept.push((sid, id));
                    }
                    Some(Admit::No) | None => unwanted.push(id),
                }
            }
            if !unwanted.is_empty() {
                sqlx::query("DELETE FROM scan_tasks WHERE id = ANY($1)")
                    .bind(&unwanted)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if !kept.is_empty() {
            self.insert_marks(&mut tx, &kept).await?;
        }

        // 5. Artifacts of live scans, one per name.
        let artifacts = plan.artifacts(reports);
        if !artifacts.is_empty() {
            let mut a_scans = Vec::with_capacity(artifacts.len());
            let mut names = Vec::with_capacity(artifacts.len());
            let mut orgs = Vec::with_capacity(artifacts.len());
            let mut sizes = Vec::with_capacity(artifacts.len());
            let mut types = Vec::with_capacity(artifacts.len());
            let mut times = Vec::with_capacity(artifacts.len());
            for (scan, org, a) in &artifacts {
                a_scans.push(scan.0);
                names.push(a.name.as_str());
                orgs.push(org.as_str());
                sizes.push(i64_of(a.size));
                types.push(pg_text(&a.content_type).into_owned());
                times.push(a.created_at);
            }
            sqlx::query(
                "INSERT INTO artifacts (scan_id, name, org_id, size, content_type, created_at) \
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int8[], \
                     $5::text[], $6::timestamptz[]) \
                 ON CONFLICT (scan_id, name) DO UPDATE SET size = excluded.size, \
                     content_type = excluded.content_type, created_at = excluded.created_at",
            )
            .bind(&a_scans)
            .bind(&names)
            .bind(&orgs)
            .bind(&sizes)
            .bind(&types)
            .bind(&times)
            .execute(&mut *tx)
            .await?;
        }

        // 6. The other counters (done and failed moved in step 2) of every scan that gained
        //    tasks or findings or whose enumerations changed, in one statement.
        let grown: Vec<CounterDelta> = plan
            .counters()
            .into_iter()
            .filter(|d| d.enqueued + d.findings > 0 || d.enum_touched)
            .collect();
        if !grown.is_empty() {
            // Right-hand sides read the old row: `s.enqueued + u.d_enqueued + s.expect_extra +
            // u.d_expect` is the new expected total (set once an enumeration was seen).
            sqlx::query(
                "UPDATE scans AS s SET enqueued = s.enqueued + u.d_enqueued, \
                     findings = s.findings + u.d_findings, updated_at = $1, \
                     open_enums = s.open_enums + u.d_open, \
                     enqueue_done = (s.open_enums + u.d_open = 0), \
                     expect_extra = s.expect_extra + u.d_expect, \
                     expected_total = CASE WHEN u.touched OR s.expected_total IS NOT NULL \
                         THEN s.enqueued + u.d_enqueued + s.expect_extra + u.d_expect END \
                 FROM UNNEST($2::uuid[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], \
                         $7::bool[]) AS u(id, d_enqueued, d_findings, d_open, d_expect, touched) \
                 WHERE s.id = u.id",
            )
            .bind(now)
            .bind(uuids(&grown, |d| d.scan_id.0))
            .bind(grown.iter().map(|d| i64_of(d.enqueued)).collect::<Vec<_>>())
            .bind(grown.iter().map(|d| i64_of(d.findings)).collect::<Vec<_>>())
            .bind(grown.iter().map(|d| d.open_enums).collect::<Vec<_>>())
            .bind(grown.iter().map(|d| d.expect_extra).collect::<Vec<_>>())
            .bind(grown.iter().map(|d| d.enum_touched).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }

        // 7. Completion, per scan in id order.
        let mut ended = Vec::new();
        for e in plan.endings() {
            if let Some(ev) = end_scan(&mut tx, e.scan_id, e.to, e.reason.as_deref(), now).await? {
                ended.push((e, ev));
            }
        }
        let out = plan.finish(ended);

        let events = insert_events(&mut tx, out.events, now).await?;
        tx.commit().await?;
        Ok(RecordOutcome {
            events,
            spawned: out.spawned,
            published: 0,
            finished: out.finished,
        })
    }

    async fn pending_tasks_leased(&self, limit: u32) -> PgResult<Vec<Task>> {
        let _one_at_a_time = self.relay.gate.lock().await;
        let limit_n = limit as usize;
        let mut tx = self.pool.begin().await?;

        // 1. Relay marks: this instance's own, and those whose lease ran out (their owner
        //    crashed or stalled); oldest first, as many as `limit` tasks fill (at least one).
        let candidates: Vec<(Uuid, i32, bool)> = sqlx::query_as(
            "SELECT id, task_count, \
                 (relay_owner <> $1 OR relay_until < now() + make_interval(secs => $2)) \
             FROM relay_marks WHERE relay_owner = $1 OR relay_until < now() \
             ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.relay.owner)
        .bind(RELAY_LEASE.as_secs_f64() / 2.0)
        .bind(MARKS_PER_PASS)
        .fetch_all(&mut *tx)
        .await?;
        let mut out: Vec<(i64, Task)> = Vec::new();
        let mut queue = candidates.into_iter().peekable();
        // Rounds: marks whose listed tasks fit the room left (at least one mark a round), until
        // `limit` tasks were found or the marks ran out (a mark may list nothing live any more).
        while out.len() < limit_n && queue.peek().is_some() {
            let room = limit_n - out.len();
            let mut chosen: Vec<Uuid> = Vec::new();
            let mut listed = 0usize;
            let mut renew = Vec::new();
            while let Some((_, count, _)) = queue.peek() {
                let count = usize::try_from(*count).unwrap_or(0);
                if !chosen.is_empty() && listed + count > room {
                    break;
                }
                let Some((id, _, stale)) = queue.next() else {
                    break;
                };
                listed += count;
                if stale {
                    renew.push(id);
                }
                chosen.push(id);
            }
            if !renew.is_empty() {
                // Taken over (or about to run out): the lease is this instance's again.
                sqlx::query(
                    "UPDATE relay_marks SET relay_owner = $1, \
                         relay_until = now() + make_interval(secs => $2) WHERE id = ANY($3)",
                )
                .bind(self.relay.owner)
                .bind(RELAY_LEASE.as_secs_f64())
                .bind(&renew)
                .execute(&mut *tx)
                .await?;
            }
            // The listed tasks still to run: published (a pause parks them, a report ends them)
            // and of a scan that has not ended (a mark lists tasks of its own scan only). One
            // primary-key probe per listed id: the
            // lateral subquery (fenced by OFFSET 0) leaves the planner no other plan, whatever
            // it believes about a table a fan-out filled seconds ago.
            let rows = sqlx::query(
                "SELECT m.id AS mark, t.id, t.scan_id, t.org_id, t.scanner, t.target, t.depth, \
                     t.priority, t.max_attempts, t.params, t.enum_state, t.seq \
                 FROM relay_marks m \
                 JOIN scans s ON s.id = m.scan_id \
                     AND s.state IN ('queued', 'running', 'paused') \
                 CROSS JOIN LATERAL unnest(m.task_ids) AS u(id) \
                 CROSS JOIN LATERAL (SELECT * FROM scan_tasks t \
                     WHERE t.id = u.id AND t.status = 'published' OFFSET 0) AS t \
                 WHERE m.id = ANY($1)",
            )
            .bind(&chosen)
            .fetch_all(&mut *tx)
            .await?;
            let mut owed: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
            for r in &rows {
                let task = task_from_row(r)?;
                owed.entry(get(r, "mark")?).or_default().insert(task.id.0);
                out.push((get::<i64>(r, "seq")?, task));
            }
            let mut empty = Vec::new();
            {
                let mut marks = self
                    .relay
                    .marks
                    .lock()
                    .map_err(|_| CoreError::Backend("relay mark registry poisoned".into()))?;
                for id in &chosen {
                    match owed.remove(id) {
                        Some(live) => {
                            marks.insert(*id, live);
                        }
                        None => {
                            marks.remove(id);
                            empty.push(*id);
                        }
                    }
                }
            }
            if !empty.is_empty() {
                // Nothing left to publish (ended scan, tasks settled or parked).
                sqlx::query("DELETE FROM relay_marks WHERE id = ANY($1)")
                    .bind(&empty)
                    .execute(&mut *tx)
                    .await?;
            }
        }

        // 2. Ledger rows that went through `pending` (initial tasks, resumed ones), under the
        //    per-row lease.
        let room = limit_n.saturating_sub(out.len());
        if room > 0 {
            // Walk the pending index in order and stop at `limit` (see RELAY_PLAN).
            sqlx::query(RELAY_PLAN).execute(&mut *tx).await?;
            let rows = sqlx::query(
                "WITH picked AS ( \
                     SELECT id FROM scan_tasks \
                     WHERE pending_rank IS NOT NULL \
                         AND (relay_until IS NULL OR relay_until < now() OR relay_owner = $2) \
                         AND EXISTS (SELECT 1 FROM scans s WHERE s.id = scan_tasks.scan_id \
                             AND s.state IN ('queued', 'running', 'paused')) \
                     ORDER BY pending_rank DESC, seq LIMIT $1 \
                     FOR UPDATE SKIP LOCKED) \
                 UPDATE scan_tasks AS t \
                 SET relay_owner = $2, relay_until = now() + make_interval(secs => $3) \
                 FROM picked WHERE t.id = picked.id \
                 RETURNING t.id, t.scan_id, t.org_id, t.scanner, t.target, t.depth, t.priority, \
                     t.max_attempts, t.params, t.enum_state, t.seq",
            )
            .bind(i64::try_from(room).unwrap_or(i64::MAX))
            .bind(self.relay.owner)
            .bind(RELAY_LEASE.as_secs_f64())
            .fetch_all(&mut *tx)
            .await?;
            for r in &rows {
                out.push((get::<i64>(r, "seq")?, task_from_row(r)?));
            }
        }
        tx.commit().await?;
        // RETURNING has no defined order: restore priority, then FIFO. Listed tasks beyond
        // `limit` stay owed by their mark and come back on the next call.
        out.sort_by(|(sa, a), (sb, b)| b.priority.rank().cmp(&a.priority.rank()).then(sa.cmp(sb)));
        out.truncate(limit_n);
        Ok(out.into_iter().map(|(_, t)| t).collect())
    }

    async fn list_findings_q(
        &self,
        org: &OrgId,
        scan: ScanId,
        query: &FindingQuery,
    ) -> PgResult<Page<Finding>> {
        let mut conn = self.pool.acquire().await?;
        scan_state_in(&mut conn, org, scan, false).await?;
        let limit = clamp_limit(query.limit);
        let sort = sort_name(query.sort);
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {FINDING_COLS} FROM findings WHERE scan_id = "
        ));
        qb.push_bind(scan.0)
            .push(" AND org_id = ")
            .push_bind(org.as_str().to_owned());
        push_finding_filters(&mut qb, query);
        if let Some(cur) = &query.cursor {
            let c = Cursor::position(cur, sort)?;
            match query.sort {
                FindingSort::Created => {
                    qb.push(" AND (created_at, id) > (")
                        .push_bind(c.at)
                        .push(", ")
                        .push_bind(c.id)
                        .push(")");
                }
                FindingSort::CreatedDesc => {
                    qb.push(" AND (created_at, id) < (")
                        .push_bind(c.at)
                        .push(", ")
                        .push_bind(c.id)
                        .push(")");
                }
                FindingSort::Severity => {
                    qb.push(" AND (severity < ")
                        .push_bind(c.rank)
                        .push(" OR (severity = ")
                        .push_bind(c.rank)
                        .push(" AND (created_at, id) > (")
                        .push_bind(c.at)
                        .push(", ")
                        .push_bind(c.id)
                        .push(")))");
                }
            }
        }
        qb.push(match query.sort {
            FindingSort::Created => " ORDER BY created_at, id",
            FindingSort::CreatedDesc => " ORDER BY created_at DESC, id DESC",
            FindingSort::Severity => " ORDER BY severity DESC, created_at, id",
        });
        qb.push(" LIMIT ").push_bind(i64::from(limit) + 1);
        let rows = qb.build().fetch_all(&mut *conn).await?;
        let mut items = rows
            .iter()
            .map(finding_from_row)
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|f| {
                Cursor {
                    s: sort.into(),
                    r: i64::from(f.severity.rank()),
                    c: f.created_at.timestamp_millis(),
                    i: f.id.to_string(),
                }
                .encode()
            })
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn events_after_q(
        &self,
        org: &OrgId,
        scan: Option<ScanId>,
        after: i64,
        limit: u32,
    ) -> PgResult<Vec<Event>> {
        let limit = i64::from(clamp_limit(limit));
        let mut conn = self.pool.acquire().await?;
        let rows = match scan {
            Some(scan) => {
                scan_state_in(&mut conn, org, scan, false).await?;
                sqlx::query(&format!(
                    "SELECT {EVENT_COLS} FROM events WHERE scan_id = $1 AND org_id = $2 \
                     AND id > $3 ORDER BY id LIMIT $4"
                ))
                .bind(scan.0)
                .bind(org.as_str())
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {EVENT_COLS} FROM events WHERE org_id = $1 AND id > $2 \
                     AND NOT EXISTS (SELECT 1 FROM scan_cleanups c \
                         WHERE c.scan_id = events.scan_id AND c.deleted) \
                     ORDER BY id LIMIT $3"
                ))
                .bind(org.as_str())
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
            }
        };
        Ok(rows.iter().map(event_from_row).collect::<Result<_>>()?)
    }
}

fn decode_all<T>(rows: &[PgRow], f: impl Fn(&PgRow) -> Result<T>) -> Result<Vec<T>> {
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

    async fn try_lead(&self, role: &str, holder: &str, ttl: Duration) -> Result<bool> {
        // The upsert only overwrites a row held by the same holder or already expired, both
        // judged by the database clock; when the condition fails nothing is returned, which is
        // the "refused" answer. Racing first inserts are settled by the primary key.
        lift(async {
            let row: Option<String> = sqlx::query_scalar(
                "INSERT INTO leaders (role, holder, expires_at) \
                 VALUES ($1, $2, now() + make_interval(secs => $3)) \
                 ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, \
                     expires_at = excluded.expires_at \
                 WHERE leaders.holder = excluded.holder OR leaders.expires_at <= now() \
                 RETURNING holder",
            )
            .bind(role)
            .bind(holder)
            .bind(ttl.as_secs_f64())
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.is_some())
        })
        .await
    }

    async fn resign(&self, role: &str, holder: &str) -> Result<()> {
        lift(async {
            sqlx::query("DELETE FROM leaders WHERE role = $1 AND holder = $2")
                .bind(role)
                .bind(holder)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    // ---- workers ----

    async fn advertise(&self, worker: &str, scanners: &[String], ttl: Duration) -> Result<()> {
        lift(async {
            sqlx::query(
                "INSERT INTO workers (id, scanners, expires_at) \
                 VALUES ($1, $2::json, now() + make_interval(secs => $3)) \
                 ON CONFLICT (id) DO UPDATE SET scanners = excluded.scanners, \
                     expires_at = excluded.expires_at",
            )
            .bind(worker)
            .bind(to_json(&scanners)?)
            .bind(ttl.as_secs_f64())
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn withdraw(&self, worker: &str) -> Result<()> {
        lift(async {
            sqlx::query("DELETE FROM workers WHERE id = $1")
                .bind(worker)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    async fn advertised_scanners(&self) -> Result<Vec<String>> {
        lift(async {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT j.value FROM workers w, json_array_elements_text(w.scanners) \
                     AS j(value) \
                 WHERE w.expires_at > now() ORDER BY 1",
            )
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
        .await
    }

    // ---- clean-up ----

    async fn pending_cleanups(&self, limit: u32) -> Result<Vec<Cleanup>> {
        lift(async {
            let rows: Vec<(Uuid, bool)> = sqlx::query_as(
                "SELECT scan_id, deleted FROM scan_cleanups ORDER BY created_at, scan_id LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(id, deleted)| Cleanup {
                    scan_id: ScanId(id),
                    deleted,
                })
                .collect())
        })
        .await
    }

    async fn cleanup_step(&self, cleanup: &Cleanup, limit: u32) -> Result<u64> {
        let limit = i64::from(limit.max(1));
        lift(async {
            let mut tx = self.pool.begin().await?;
            let mut cleared = 0u64;
            // Relay marks of an ended or deleted scan list nothing left to publish.
            let r = sqlx::query(
                "DELETE FROM relay_marks WHERE id IN ( \
                     SELECT id FROM relay_marks WHERE scan_id = $1 LIMIT $2)",
            )
            .bind(cleanup.scan_id.0)
            .bind(limit)
            .execute(&mut *tx)
            .await?;
            cleared += r.rows_affected();
            if cleanup.deleted {
                for table in ["scan_tasks", "findings", "events", "artifacts"] {
                    let left = limit - i64_of(cleared);
                    if left <= 0 {
                        break;
                    }
                    let r = sqlx::query(&format!(
                        "DELETE FROM {table} WHERE ctid = ANY(ARRAY( \
                             SELECT ctid FROM {table} WHERE scan_id = $1 LIMIT $2))"
                    ))
                    .bind(cleanup.scan_id.0)
                    .bind(left)
                    .execute(&mut *tx)
                    .await?;
                    cleared += r.rows_affected();
                }
            } else if limit > i64_of(cleared) {
                let r = sqlx::query(
                    "UPDATE scan_tasks SET status = 'dropped', updated_at = $1, \
                         relay_owner = NULL, relay_until = NULL \
                     WHERE id IN (SELECT id FROM scan_tasks \
                         WHERE status = 'pending' AND scan_id = $2 LIMIT $3 \
                         FOR UPDATE SKIP LOCKED)",
                )
                .bind(now_ts())
                .bind(cleanup.scan_id.0)
                .bind(limit - i64_of(cleared))
                .execute(&mut *tx)
                .await?;
                cleared += r.rows_affected();
            }
            tx.commit().await?;
            Ok(cleared)
        })
        .await
    }

    async fn cleanup_done(&self, cleanup: &Cleanup) -> Result<()> {
        lift(async {
            sqlx::query("DELETE FROM scan_cleanups WHERE scan_id = $1 AND deleted = $2")
                .bind(cleanup.scan_id.0)
                .bind(cleanup.deleted)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    // ---- scans ----

    async fn create_scan(&self, scan: NewScan) -> Result<Scan> {
        lift(async {
            let row = sqlx::query(&format!(
                "INSERT INTO scans (id, org_id, user_id, name, config, template_id, state, \
                     created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5::json, $6, 'created', $7, $7) RETURNING {SCAN_COLS}"
            ))
            .bind(scan.id.0)
            .bind(scan.org.as_str())
            .bind(scan.user.as_str())
            .bind(&scan.name)
            .bind(to_json(&scan.config)?)
            .bind(scan.template_id.map(|t| t.0))
            .bind(now_ts())
            .fetch_one(&self.pool)
            .await?;
            Ok(scan_from_row(&row)?)
        })
        .await
    }

    async fn get_scan(&self, org: &OrgId, id: ScanId) -> Result<Scan> {
        lift(async {
            let row = sqlx::query(&format!(
                "SELECT {SCAN_COLS} FROM scans WHERE id = $1 AND org_id = $2"
            ))
            .bind(id.0)
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| scan_not_found(id))?;
            Ok(scan_from_row(&row)?)
        })
        .await
    }

    async fn list_scans(&self, org: &OrgId, query: &ScanQuery) -> Result<Page<Scan>> {
        lift(async {
            let limit = clamp_limit(query.limit);
            let mut qb = QueryBuilder::<Postgres>::new(format!(
                "SELECT {SCAN_COLS} FROM scans WHERE org_id = "
            ));
            qb.push_bind(org.as_str().to_owned());
            if let Some(state) = query.state {
                qb.push(" AND state = ").push_bind(state.as_str());
            }
            if let Some(cur) = &query.cursor {
                let c = Cursor::position(cur, "scans")?;
                qb.push(" AND (created_at, id) < (")
                    .push_bind(c.at)
                    .push(", ")
                    .push_bind(c.id)
                    .push(")");
            }
            qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
                .push_bind(i64::from(limit) + 1);
            let rows = qb.build().fetch_all(&self.pool).await?;
            let mut items = decode_all(&rows, scan_from_row)?;
            let next_cursor = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(|s| {
                    Cursor {
                        s: "scans".into(),
                        r: 0,
                        c: s.created_at.timestamp_millis(),
                        i: s.id.to_string(),
                    }
                    .encode()
                })
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
        .await
    }

    async fn update_scan(
        &self,
        org: &OrgId,
        id: ScanId,
        name: String,
        config: ScanConfig,
    ) -> Result<Scan> {
        retrying(|| self.update_scan_tx(org, id, &name, &config)).await
    }

    async fn delete_scan(&self, org: &OrgId, id: ScanId) -> Result<()> {
        retrying(|| self.delete_scan_tx(org, id)).await
    }

    async fn start_scan(&self, org: &OrgId, id: ScanId, tasks: Vec<Task>) -> Result<Transition> {
        retrying(|| self.start_scan_tx(org, id, &tasks)).await
    }

    async fn apply_action(
        &self,
        org: &OrgId,
        id: ScanId,
        action: ScanAction,
    ) -> Result<Transition> {
        retrying(|| self.apply_action_tx(org, id, action)).await
    }

    async fn mark_running(&self, ids: &[ScanId]) -> Result<Vec<Event>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        retrying(|| self.mark_running_tx(ids)).await
    }

    async fn finish_scan(
        &self,
        id: ScanId,
        state: ScanState,
        reason: &str,
    ) -> Result<Option<Transition>> {
        if !matches!(state, ScanState::Completed | ScanState::Failed) {
            return Err(CoreError::invalid(
                "/state",
                "a scan is finished as completed or failed",
            ));
        }
        retrying(|| self.finish_scan_tx(id, state, reason)).await
    }

    async fn scans_by_ids(&self, ids: &[ScanId]) -> Result<Vec<Scan>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        lift(async {
            let rows = sqlx::query(&format!("SELECT {SCAN_COLS} FROM scans WHERE id = ANY($1)"))
                .bind(uuids(ids, |s| s.0))
                .fetch_all(&self.pool)
                .await?;
            Ok(decode_all(&rows, scan_from_row)?)
        })
        .await
    }

    async fn active_scans(&self) -> Result<Vec<Scan>> {
        lift(async {
            let rows = sqlx::query(&format!(
                "SELECT {SCAN_COLS} FROM scans WHERE state IN ('queued', 'running', 'paused') \
                 ORDER BY created_at, id"
            ))
            .fetch_all(&self.pool)
            .await?;
            Ok(decode_all(&rows, scan_from_row)?)
        })
        .await
    }

    // ---- task ledger ----

    async fn pending_tasks(&self, limit: u32) -> Result<Vec<Task>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        lift(self.pending_tasks_leased(limit)).await
    }

    async fn mark_published(&self, ids: &[TaskId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // Sorted ids: concurrent callers lock overlapping rows in the same order.
        let mut ids = uuids(ids, |t| t.0);
        ids.sort_unstable();
        retrying(|| self.mark_published_tx(&ids)).await
    }

    async fn finished_tasks(&self, ids: &[TaskId]) -> Result<Vec<TaskId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        lift(async {
            // A task of an ended scan is finished too; one of a deleted scan is not there.
            let rows: Vec<Uuid> = sqlx::query_scalar(&format!(
                "SELECT t.id FROM scan_tasks t JOIN scans s ON s.id = t.scan_id \
                 WHERE t.id = ANY($1) AND (t.status IN {TERMINAL} \
                     OR s.state IN ('completed', 'failed', 'cancelled'))"
            ))
            .bind(uuids(ids, |t| t.0))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.into_iter().map(TaskId).collect())
        })
        .await
    }

    /// Commits a batch of reports in one transaction with a fixed number of statements: ledger
    /// updates (done, failed, dropped, parked) and the spawned-task insert, then the scan lock
    /// with the done/failed counters, finding insert, artifact upsert, the other counters,
    /// completion checks, and the event insert.
    async fn record(&self, reports: Vec<TaskReport>) -> Result<RecordOutcome> {
        if reports.is_empty() {
            return Ok(RecordOutcome::default());
        }
        retrying(|| self.record_tx(&reports)).await
    }

    // ---- findings ----

    async fn list_findings(
        &self,
        org: &OrgId,
        scan: ScanId,
        query: &FindingQuery,
    ) -> Result<Page<Finding>> {
        lift(self.list_findings_q(org, scan, query)).await
    }

    async fn get_finding(&self, org: &OrgId, id: FindingId) -> Result<Finding> {
        lift(async {
            let row = sqlx::query(&format!(
                "SELECT {FINDING_COLS} FROM findings WHERE id = $1 AND org_id = $2 {LIVE_SCAN}"
            ))
            .bind(id.0)
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("finding", id))?;
            Ok(finding_from_row(&row)?)
        })
        .await
    }

    async fn set_triage(&self, org: &OrgId, id: FindingId, triage: Triage) -> Result<Finding> {
        lift(async {
            let row = sqlx::query(&format!(
                "UPDATE findings SET triage = $1, updated_at = $2 WHERE id = $3 AND org_id = $4 \
                 {LIVE_SCAN} RETURNING {FINDING_COLS}"
            ))
            .bind(triage.as_str())
            .bind(now_ts())
            .bind(id.0)
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("finding", id))?;
            Ok(finding_from_row(&row)?)
        })
        .await
    }

    // ---- events ----

    async fn events_after(
        &self,
        org: &OrgId,
        scan: Option<ScanId>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        lift(self.events_after_q(org, scan, after, limit)).await
    }

    // ---- templates ----

    async fn create_template(&self, t: NewTemplate) -> Result<Template> {
        lift(async {
            let row = sqlx::query(&format!(
                "INSERT INTO templates (id, org_id, user_id, name, description, config, \
                     created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6::json, $7, $7) RETURNING {TEMPLATE_COLS}"
            ))
            .bind(t.id.0)
            .bind(t.org.as_str())
            .bind(t.user.as_str())
            .bind(&t.name)
            .bind(&t.description)
            .bind(to_json(&t.config)?)
            .bind(now_ts())
            .fetch_one(&self.pool)
            .await?;
            Ok(template_from_row(&row)?)
        })
        .await
    }

    async fn get_template(&self, org: &OrgId, id: TemplateId) -> Result<Template> {
        lift(async {
            let row = sqlx::query(&format!(
                "SELECT {TEMPLATE_COLS} FROM templates WHERE id = $1 AND org_id = $2"
            ))
            .bind(id.0)
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("template", id))?;
            Ok(template_from_row(&row)?)
        })
        .await
    }

    async fn list_templates(
        &self,
        org: &OrgId,
        query: &argus_core::store::TemplateQuery,
    ) -> Result<Page<Template>> {
        lift(async {
            let limit = clamp_limit(query.limit);
            let mut qb = QueryBuilder::<Postgres>::new(format!(
                "SELECT {TEMPLATE_COLS} FROM templates WHERE org_id = "
            ));
            qb.push_bind(org.as_str().to_owned());
            if let Some(cur) = &query.cursor {
                let (name, id) = crate::template_cursor::decode(cur)?;
                qb.push(" AND (name, id) > (")
                    .push_bind(name)
                    .push(", ")
                    .push_bind(id)
                    .push(")");
            }
            qb.push(" ORDER BY name, id LIMIT ")
                .push_bind(i64::from(limit) + 1);
            let rows = qb.build().fetch_all(&self.pool).await?;
            let items = decode_all(&rows, template_from_row)?;
            Ok(crate::template_cursor::page(items, limit))
        })
        .await
    }

    async fn update_template(&self, t: NewTemplate) -> Result<Template> {
        lift(async {
            let row = sqlx::query(&format!(
                "UPDATE templates SET name = $1, description = $2, config = $3::json, \
                     updated_at = $4 \
                 WHERE id = $5 AND org_id = $6 RETURNING {TEMPLATE_COLS}"
            ))
            .bind(&t.name)
            .bind(&t.description)
            .bind(to_json(&t.config)?)
            .bind(now_ts())
            .bind(t.id.0)
            .bind(t.org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("template", t.id))?;
            Ok(template_from_row(&row)?)
        })
        .await
    }

    async fn delete_template(&self, org: &OrgId, id: TemplateId) -> Result<()> {
        lift(async {
            let r = sqlx::query("DELETE FROM templates WHERE id = $1 AND org_id = $2")
                .bind(id.0)
                .bind(org.as_str())
                .execute(&self.pool)
                .await?;
            if r.rows_affected() == 0 {
                return Err(CoreError::not_found("template", id).into());
            }
            Ok(())
        })
        .await
    }

    // ---- artifacts ----

    async fn put_artifact(&self, meta: ArtifactMeta) -> Result<()> {
        // One statement: the scan must exist in the org (a key-share lock keeps it from being
        // deleted meanwhile without blocking `record`), then the upsert.
        lift(async {
            let written: Option<i32> = sqlx::query_scalar(
                "WITH s AS (SELECT id FROM scans WHERE id = $1 AND org_id = $2 FOR KEY SHARE) \
                 INSERT INTO artifacts (scan_id, name, org_id, size, content_type, created_at) \
                 SELECT s.id, $3, $2, $4, $5, $6 FROM s \
                 ON CONFLICT (scan_id, name) DO UPDATE SET size = excluded.size, \
                     content_type = excluded.content_type, created_at = excluded.created_at \
                 RETURNING 1",
            )
            .bind(meta.scan_id.0)
            .bind(meta.org_id.as_str())
            .bind(meta.name.as_str())
            .bind(i64_of(meta.size))
            .bind(pg_text(&meta.content_type).as_ref())
            .bind(meta.created_at)
            .fetch_optional(&self.pool)
            .await?;
            if written.is_none() {
                return Err(scan_not_found(meta.scan_id).into());
            }
            Ok(())
        })
        .await
    }

    async fn list_artifacts(&self, org: &OrgId, scan: ScanId) -> Result<Vec<ArtifactMeta>> {
        lift(async {
            let mut conn = self.pool.acquire().await?;
            scan_state_in(&mut conn, org, scan, false).await?;
            let rows = sqlx::query(&format!(
                "SELECT {ARTIFACT_COLS} FROM artifacts WHERE scan_id = $1 AND org_id = $2 \
                 ORDER BY name"
            ))
            .bind(scan.0)
            .bind(org.as_str())
            .fetch_all(&mut *conn)
            .await?;
            Ok(decode_all(&rows, artifact_from_row)?)
        })
        .await
    }

    async fn get_artifact(&self, org: &OrgId, scan: ScanId, name: &str) -> Result<ArtifactMeta> {
        lift(async {
            let row = sqlx::query(&format!(
                "SELECT {ARTIFACT_COLS} FROM artifacts WHERE scan_id = $1 AND org_id = $2 \
                 AND name = $3 {LIVE_SCAN}"
            ))
            .bind(scan.0)
            .bind(org.as_str())
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::not_found("artifact", format!("{scan}/{name}")))?;
            Ok(artifact_from_row(&row)?)
        })
        .await
    }
}
