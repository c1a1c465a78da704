//! [`SqliteStore`]: the embedded [`Store`] on SQLite.
//!
//! Layout: this file holds [`SqliteStore`]'s `Store` (backend, ping, shutdown) and the statements
//! the aggregates share (event inserts, ledger inserts, ending a scan); each aggregate trait is
//! implemented in a file of its own, named alike in both backends: `coordination.rs`, `scans.rs`,
//! `ledger.rs`, `findings.rs`, `events.rs`, `templates.rs`, `artifacts.rs`, `verdicts.rs`,
//! `connectors.rs`, `sinks.rs`.
//!
//! Every write is one transaction on the single writer connection (`SqliteDb::writer`), opened
//! with `BEGIN IMMEDIATE` so it holds the write lock from the start; reads use the reader pool.
//! Batches travel into SQL as one JSON array bind expanded with `json_each`, so a call costs a
//! handful of statements however many tasks, findings or events it carries.
//!
//! `record` reads the touched scans, runs the statements and feeds their results to
//! [`RecordPlan`](crate::plan::RecordPlan), which decides (live scans, limits, completion,
//! spawn admission, enumerations, counters, events); this file only runs its SQL.
//!
//! Choices where the trait leaves room (also listed in the crate report; the `record` ones are
//! the planner's, shared with PostgreSQL):
//! - `record` on a scan that has ended (completed, failed, cancelled) still settles the ledger
//!   rows and counters, but inserts no findings, spawned tasks or artifacts: a finished scan's
//!   results are frozen at the moment it ended.
//! - `max_results`: a batch's findings are all inserted, then the scan completes with reason
//!   `max_results` if its count reached the limit; that batch's spawned tasks are not added.
//! - `max_tasks` (from the scan's config): a batch's spawned tasks are admitted in order while
//!   they fit; if any does not, the scan fails with reason `max_tasks: …` (`scan::ending`).
//! - A paused scan whose every task finished completes like a running one.
//! - `pause` parks the scan's pending ledger rows at once (they have not reached the queue yet), so
//!   the relay does not publish work a worker would only park; `resume` moves parked rows back to
//!   pending. `stop` only changes the scan row (reason `stopped`) and marks it for clean-up.
//! - Ending a scan (stop, completion, failure) never touches its other rows: its counters freeze
//!   (later reports settle ledger rows without counting), its tasks count as finished, the relay
//!   skips its pending rows, and `cleanup_step` drops those in bounded batches. Deleting removes
//!   the scan row; its children stay invisible until `cleanup_step` deletes them in batches.
//! - With an inline queue ([`SqliteStore::with_inline_queue`]) new ledger rows are inserted as
//!   `published` and put on that queue in the same transaction, except a paused scan's spawned
//!   tasks, which stay `pending` for the relay; `RecordOutcome::published` counts the former.
//! - `create_scan` appends the scan's first event, the state change `created→created` (the
//!   `created` lifecycle step sinks forward), in the insert's transaction.
//! - `start_scan` with no tasks left after dedup completes the scan in the same transaction
//!   (events `created→queued`, then `queued→completed`).
//! - The forwarder's feed (`SinkStore::events_since`) hides a deleted scan's events at once, as
//!   the org-wide `events_after` does (the janitor removes them later anyway).
//! - `apply_action(Start)` is `Invalid` when the scan is in `created` (starting needs the planned
//!   tasks, so it goes through `start_scan`), and `Conflict` otherwise, like any illegal action.

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, Transaction};
use std::collections::HashSet;
use std::sync::Arc;

use argus_core::event::Event;
use argus_core::finding::{FindingQuery, FindingSort};
use argus_core::scan::{Scan, ScanState};
use argus_core::store::Store;
use argus_core::task::Task;
use argus_core::{CoreError, OrgId, Result, ScanId};

use super::batch::Pow2Sql;
use super::db::SqliteDb;
use super::inline::InlineQueue;
use super::rows::*;
use crate::plan::NewEvent;

/// The SQLite [`Store`]. Cheap to clone (pools are shared).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(super) db: SqliteDb,
    /// The queue sharing this database, if new tasks go onto it in the ledger's transaction.
    pub(super) inline: Option<Arc<dyn InlineQueue>>,
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| CoreError::Backend(format!("cannot encode JSON: {e}")))
}

pub(super) fn ids_json<T: ToString>(ids: impl IntoIterator<Item = T>) -> Result<String> {
    to_json(&ids.into_iter().map(|i| i.to_string()).collect::<Vec<_>>())
}

pub(super) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A scan id column.
pub(super) fn scan_of(r: &SqliteRow, col: &str) -> Result<ScanId> {
    r.try_get::<String, _>(col)
        .map_err(db_err)?
        .parse()
        .map_err(|_| CoreError::Backend("corrupt scan id in database".into()))
}

pub(super) fn scan_not_found(id: ScanId) -> CoreError {
    CoreError::not_found("scan", id)
}

impl SqliteStore {
    /// Wraps an opened database and applies this crate's migrations (versions 1..999; other
    /// crates' migrations in the same `_sqlx_migrations` table are ignored).
    pub async fn new(db: SqliteDb) -> Result<Self> {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.set_ignore_missing(true);
        migrator
            .run(&db.writer)
            .await
            .map_err(|e| CoreError::Backend(format!("store migrations failed: {e}")))?;
        Ok(SqliteStore { db, inline: None })
    }

    /// Puts new tasks on `queue` (a queue in this same database) inside the transaction that
    /// adds them to the ledger, instead of leaving them `pending` for the relay. See
    /// [`InlineQueue`].
    pub fn with_inline_queue(mut self, queue: Arc<dyn InlineQueue>) -> Self {
        self.inline = Some(queue);
        self
    }

    /// Tells the inline queue (if any) that a transaction which published `n` tasks committed.
    pub(super) fn published(&self, n: u64) {
        if n > 0 {
            if let Some(q) = &self.inline {
                q.committed();
            }
        }
    }

    /// The underlying database (shared with the embedded queue).
    pub fn db(&self) -> &SqliteDb {
        &self.db
    }

    pub(super) async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
        self.db
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }
}

/// Appends events in order and returns them with their ids.
///
/// One multi-row insert: rows are inserted in `json_each` order (`ORDER BY j.key`) and
/// AUTOINCREMENT assigns increasing ids in insertion order, so the sorted returned ids line up
/// with the input order.
pub(super) async fn insert_events(
    c: &mut SqliteConnection,
    evs: Vec<NewEvent>,
    now: i64,
) -> Result<Vec<Event>> {
    if evs.is_empty() {
        return Ok(Vec::new());
    }
    let arr: Vec<Value> = evs
        .iter()
        .map(|e| {
            json!([
                e.scan_id.to_string(),
                e.org_id.as_str(),
                e.data.kind().as_str(),
                e.data.to_json()
            ])
        })
        .collect();
    let rows = sqlx::query(
        "INSERT INTO events (scan_id, org_id, kind, data, at) \
         SELECT j.value->>0, j.value->>1, j.value->>2, j.value->3, ?1 \
         FROM json_each(?2) AS j ORDER BY j.key RETURNING id",
    )
    .bind(now)
    .bind(to_json(&arr)?)
    .fetch_all(&mut *c)
    .await
    .map_err(db_err)?;
    let mut ids = rows
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    ids.sort_unstable();
    if ids.len() != evs.len() {
        return Err(CoreError::Backend(
            "event insert returned an unexpected row count".into(),
        ));
    }
    let at = ms_to_time(now);
    Ok(evs
        .into_iter()
        .zip(ids)
        .map(|(e, id)| Event {
            id,
            scan_id: e.scan_id,
            org_id: e.org_id,
            data: e.data,
            at,
        })
        .collect())
}

pub(super) async fn fetch_scan(c: &mut SqliteConnection, id: ScanId) -> Result<Scan> {
    let row = sqlx::query(&format!("SELECT {SCAN_COLS} FROM scans WHERE id = ?1"))
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| scan_not_found(id))?;
    scan_from_row(&row)
}

/// The state of an org's scan, or `NotFound`.
pub(super) async fn scan_state_in(
    c: &mut SqliteConnection,
    org: &OrgId,
    id: ScanId,
) -> Result<ScanState> {
    let row = sqlx::query("SELECT state FROM scans WHERE id = ?1 AND org_id = ?2")
        .bind(id.to_string())
        .bind(org.as_str())
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| scan_not_found(id))?;
    scan_state(&row.try_get::<String, _>(0).map_err(db_err)?)
}

/// Moves a scan's ledger rows from any of `from` to `to`.
pub(super) async fn move_ledger(
    c: &mut SqliteConnection,
    scan: ScanId,
    from: &[&str],
    to: &str,
    now: i64,
) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE scan_tasks SET status = ?1, updated_at = ?2 \
         WHERE scan_id = ?3 AND status IN (SELECT value FROM json_each(?4))",
    )
    .bind(to)
    .bind(now)
    .bind(scan.to_string())
    .bind(to_json(&from)?)
    .execute(&mut *c)
    .await
    .map_err(db_err)?;
    Ok(r.rows_affected())
}

/// What [`insert_tasks`] added.
pub(super) struct Inserted {
    /// `(scan id, opens an enumeration)` of every row actually inserted (dedup skips the rest).
    pub(super) rows: Vec<(String, bool)>,
    /// How many of them went onto the inline queue in the same transaction.
    pub(super) published: u64,
}

/// Inserts tasks into the ledger, deduped on `(scan, dedup_key)` and on id. Without `inline`
/// the rows are `pending` (the relay publishes them); with it they are `published`, and the
/// inserted ones are put on that queue through the same transaction.
pub(super) async fn insert_tasks(
    c: &mut SqliteConnection,
    tasks: &[(&Task, &OrgId)],
    now: i64,
    inline: Option<&dyn InlineQueue>,
) -> Result<Inserted> {
    let mut out = Inserted {
        rows: Vec::new(),
        published: 0,
    };
    if tasks.is_empty() {
        return Ok(out);
    }
    // Multi-row VALUES with binds: on the hot path (100,000-task fan-outs) this costs a third
    // of the same insert expanded from a JSON array with json_each.
    let sql = if inline.is_some() {
        &INSERT_PUBLISHED
    } else {
        &INSERT_PENDING
    };
    for chunk in tasks.chunks(sql.max()) {
        let (text, n) = sql.get(chunk.len());
        let mut q = sqlx::query(text);
        for (t, org) in chunk {
            q = q
                .bind(t.id.to_string())
                .bind(t.scan_id.to_string())
                .bind(org.as_str())
                .bind(t.dedup_key())
                .bind(t.scanner.as_str())
                .bind(to_json(&t.target)?)
                .bind(i64::from(t.depth))
                .bind(i64::from(t.priority.rank()))
                .bind(i64::from(t.max_attempts))
                .bind(t.params.as_ref().map(to_json).transpose()?)
                .bind(t.enumerates.then_some(1i64))
                .bind(now)
                .bind(now);
        }
        // Padding up to the statement's size: rows with the last task's id, scan and dedup key,
        // which the conflict clause drops and RETURNING leaves out (whichever way that task went,
        // inserted or deduped on either key, a row with both keys is in the table by then).
        if let Some((t, _)) = chunk.last() {
            let (id, scan, key) = (t.id.to_string(), t.scan_id.to_string(), t.dedup_key());
            for _ in chunk.len()..n {
                q = q
                    .bind(id.clone())
                    .bind(scan.clone())
                    .bind("")
                    .bind(key.clone())
                    .bind("")
                    .bind("")
                    .bind(0i64)
                    .bind(0i64)
                    .bind(0i64)
                    .bind(None::<String>)
                    .bind(None::<i64>)
                    .bind(0i64)
                    .bind(0i64);
            }
        }
        let rows = q.fetch_all(&mut *c).await.map_err(db_err)?;
        for r in &rows {
            let scan = r.try_get::<String, _>(1).map_err(db_err)?;
            let enumerates = r.try_get::<Option<i64>, _>(2).map_err(db_err)?.is_some();
            out.rows.push((scan, enumerates));
        }
        if let Some(queue) = inline {
            let mut added: Vec<&Task> = chunk.iter().map(|(t, _)| *t).collect();
            if rows.len() < chunk.len() {
                // Some were deduped: queue only the rows the ledger took.
                let ids = rows
                    .iter()
                    .map(|r| r.try_get::<String, _>(0))
                    .collect::<Result<HashSet<String>, _>>()
                    .map_err(db_err)?;
                added.retain(|t| ids.contains(&t.id.to_string()));
            }
            out.published += queue.enqueue_in(&mut *c, &added).await?;
        }
    }
    Ok(out)
}

/// The ledger insert, up to 1,024 rows (13 binds each: 13,312 at most, below SQLite's 32,766),
/// as `pending` rows for the relay or as `published` rows for an inline queue.
pub(super) static INSERT_PENDING: Pow2Sql = Pow2Sql::new(1024, |n| insert_tasks_sql(n, "pending"));
pub(super) static INSERT_PUBLISHED: Pow2Sql =
    Pow2Sql::new(1024, |n| insert_tasks_sql(n, "published"));

pub(super) fn insert_tasks_sql(rows: usize, status: &str) -> String {
    let values = vec![format!("(?,?,?,?,?,?,?,?,?,?,?,'{status}',?,?)"); rows].join(",");
    format!(
        "INSERT INTO scan_tasks (id, scan_id, org_id, dedup_key, scanner, target, depth, \
         priority, max_attempts, params, enum_state, status, created_at, updated_at) \
         VALUES {values} ON CONFLICT DO NOTHING RETURNING id, scan_id, enum_state"
    )
}

/// Marks up to 512 ledger rows of one scan `done` (see `record`).
pub(super) static MARK_DONE: Pow2Sql = Pow2Sql::new(512, |n| {
    format!(
        "UPDATE scan_tasks SET status = 'done', updated_at = ? \
         WHERE id IN ({}) AND +scan_id = ? AND status NOT IN ('done', 'failed', 'dropped')",
        in_list(n)
    )
});

/// `?,?,…` for an `IN (…)` list of `n` values.
pub(super) fn in_list(n: usize) -> String {
    let mut s = String::with_capacity(n * 2);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push('?');
    }
    s
}

/// Largest `IN (…)` list bound in one statement.
pub(super) const IN_CHUNK: usize = 500;

/// Ends a live scan as `to` with `reason`; returns the state event, or `None` if the scan had
/// already ended (or does not exist). Its leftover work (ledger rows still pending, queued
/// deliveries) is not touched here: the scan is put on the clean-up list, which the engine's
/// janitor clears in bounded batches, so ending a scan costs the same whatever its size.
pub(super) async fn end_scan(
    c: &mut SqliteConnection,
    id: ScanId,
    to: ScanState,
    reason: Option<&str>,
    now: i64,
) -> Result<Option<NewEvent>> {
    let Some(row) = sqlx::query("SELECT org_id, state FROM scans WHERE id = ?1")
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    let from = scan_state(&row.try_get::<String, _>(1).map_err(db_err)?)?;
    if !from.can_finish() {
        return Ok(None);
    }
    let org = OrgId::parse(&row.try_get::<String, _>(0).map_err(db_err)?)
        .map_err(|_| CoreError::Backend("corrupt org id in database".into()))?;
    let r = sqlx::query(
        "UPDATE scans SET state = ?1, reason = ?2, finished_at = ?3, updated_at = ?3 \
         WHERE id = ?4 AND state = ?5",
    )
    .bind(to.as_str())
    .bind(reason)
    .bind(now)
    .bind(id.to_string())
    .bind(from.as_str())
    .execute(&mut *c)
    .await
    .map_err(db_err)?;
    if r.rows_affected() == 0 {
        return Ok(None);
    }
    add_cleanup(c, id, false, now).await?;
    Ok(Some(NewEvent::state(id, &org, from, to, reason)))
}

/// Puts a scan on the clean-up list (see `end_scan`); `deleted` marks a deleted scan, whose
/// every child row goes (and never goes back to a mere ended scan).
pub(super) async fn add_cleanup(
    c: &mut SqliteConnection,
    scan: ScanId,
    deleted: bool,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO scan_cleanups (scan_id, deleted, created_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (scan_id) DO UPDATE SET deleted = max(deleted, excluded.deleted)",
    )
    .bind(scan.to_string())
    .bind(i64::from(deleted))
    .bind(now)
    .execute(&mut *c)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A condition on rows with a `scan_id` column: their scan still exists (a deleted scan's rows
/// linger until the janitor removes them, and must not be visible meanwhile).
pub(super) const LIVE_SCAN: &str = "AND EXISTS (SELECT 1 FROM scans s WHERE s.id = scan_id)";

pub(super) fn push_finding_filters(qb: &mut QueryBuilder<'_, Sqlite>, q: &FindingQuery) {
    if let Some(kind) = &q.kind {
        qb.push(" AND kind = ").push_bind(kind.clone());
    }
    if let Some(s) = q.severity {
        qb.push(" AND severity = ").push_bind(i64::from(s.rank()));
    }
    if let Some(s) = q.min_severity {
        qb.push(" AND severity >= ").push_bind(i64::from(s.rank()));
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

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.db.reader)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Closes the database: no WAL content is left behind (`SqliteDb::close`).
    async fn shutdown(&self) {
        self.db.close().await;
    }
}
