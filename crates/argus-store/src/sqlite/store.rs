//! [`SqliteStore`]: the embedded [`Store`] on SQLite.
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
//! - `start_scan` with no tasks left after dedup completes the scan in the same transaction
//!   (events `created→queued`, then `queued→completed`).
//! - `apply_action(Start)` is `Invalid` when the scan is in `created` (starting needs the planned
//!   tasks, so it goes through `start_scan`), and `Conflict` otherwise, like any illegal action.

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, Transaction};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use argus_core::artifact::ArtifactMeta;
use argus_core::event::Event;
use argus_core::finding::{Finding, FindingQuery, FindingSort, Page, Triage};
use argus_core::scan::{NewScan, Scan, ScanAction, ScanConfig, ScanState};
use argus_core::store::{Cleanup, RecordOutcome, ScanQuery, Store, Transition};
use argus_core::task::{Task, TaskReport};
use argus_core::template::{NewTemplate, Template};
use argus_core::{now_ms, CoreError, FindingId, OrgId, Result, ScanId, TaskId, TemplateId};

use super::batch::Pow2Sql;
use super::db::SqliteDb;
use super::inline::InlineQueue;
use super::rows::*;
use crate::plan::{Admit, FailedRow, NewEvent, RecordPlan, ScanFacts};

/// The SQLite [`Store`]. Cheap to clone (pools are shared).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    db: SqliteDb,
    /// The queue sharing this database, if new tasks go onto it in the ledger's transaction.
    inline: Option<Arc<dyn InlineQueue>>,
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| CoreError::Backend(format!("cannot encode JSON: {e}")))
}

fn ids_json<T: ToString>(ids: impl IntoIterator<Item = T>) -> Result<String> {
    to_json(&ids.into_iter().map(|i| i.to_string()).collect::<Vec<_>>())
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A scan id column.
fn scan_of(r: &SqliteRow, col: &str) -> Result<ScanId> {
    r.try_get::<String, _>(col)
        .map_err(db_err)?
        .parse()
        .map_err(|_| CoreError::Backend("corrupt scan id in database".into()))
}

fn scan_not_found(id: ScanId) -> CoreError {
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
    fn published(&self, n: u64) {
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

    async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
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
async fn insert_events(
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

async fn fetch_scan(c: &mut SqliteConnection, id: ScanId) -> Result<Scan> {
    let row = sqlx::query(&format!("SELECT {SCAN_COLS} FROM scans WHERE id = ?1"))
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| scan_not_found(id))?;
    scan_from_row(&row)
}

/// The state of an org's scan, or `NotFound`.
async fn scan_state_in(c: &mut SqliteConnection, org: &OrgId, id: ScanId) -> Result<ScanState> {
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
async fn move_ledger(
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
struct Inserted {
    /// `(scan id, opens an enumeration)` of every row actually inserted (dedup skips the rest).
    rows: Vec<(String, bool)>,
    /// How many of them went onto the inline queue in the same transaction.
    published: u64,
}

/// Inserts tasks into the ledger, deduped on `(scan, dedup_key)` and on id. Without `inline`
/// the rows are `pending` (the relay publishes them); with it they are `published`, and the
/// inserted ones are put on that queue through the same transaction.
async fn insert_tasks(
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
static INSERT_PENDING: Pow2Sql = Pow2Sql::new(1024, |n| insert_tasks_sql(n, "pending"));
static INSERT_PUBLISHED: Pow2Sql = Pow2Sql::new(1024, |n| insert_tasks_sql(n, "published"));

fn insert_tasks_sql(rows: usize, status: &str) -> String {
    let values = vec![format!("(?,?,?,?,?,?,?,?,?,?,?,'{status}',?,?)"); rows].join(",");
    format!(
        "INSERT INTO scan_tasks (id, scan_id, org_id, dedup_key, scanner, target, depth, \
         priority, max_attempts, params, enum_state, status, created_at, updated_at) \
         VALUES {values} ON CONFLICT DO NOTHING RETURNING id, scan_id, enum_state"
    )
}

/// Marks up to 512 ledger rows of one scan `done` (see `record`).
static MARK_DONE: Pow2Sql = Pow2Sql::new(512, |n| {
    format!(
        "UPDATE scan_tasks SET status = 'done', updated_at = ? \
         WHERE id IN ({}) AND +scan_id = ? AND status NOT IN ('done', 'failed', 'dropped')",
        in_list(n)
    )
});

/// `?,?,…` for an `IN (…)` list of `n` values.
fn in_list(n: usize) -> String {
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
const IN_CHUNK: usize = 500;

/// Ends a live scan as `to` with `reason`; returns the state event, or `None` if the scan had
/// already ended (or does not exist). Its leftover work (ledger rows still pending, queued
/// deliveries) is not touched here: the scan is put on the clean-up list, which the engine's
/// janitor clears in bounded batches, so ending a scan costs the same whatever its size.
async fn end_scan(
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
async fn add_cleanup(
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
const LIVE_SCAN: &str = "AND EXISTS (SELECT 1 FROM scans s WHERE s.id = scan_id)";

fn push_finding_filters(qb: &mut QueryBuilder<'_, Sqlite>, q: &FindingQuery) {
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

fn sort_name(s: FindingSort) -> &'static str {
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

    async fn try_lead(&self, role: &str, holder: &str, ttl: std::time::Duration) -> Result<bool> {
        let now = now_ms();
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        // The upsert only overwrites a row held by the same holder or already expired; when the
        // condition fails nothing is returned, which is the "refused" answer.
        let row = sqlx::query(
            "INSERT INTO leaders (role, holder, expires_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT(role) DO UPDATE SET holder = excluded.holder, \
             expires_ms = excluded.expires_ms \
             WHERE leaders.holder = excluded.holder OR leaders.expires_ms <= ?4 \
             RETURNING holder",
        )
        .bind(role)
        .bind(holder)
        .bind(now.saturating_add(ttl))
        .bind(now)
        .fetch_optional(&self.db.writer)
        .await
        .map_err(db_err)?;
        Ok(row.is_some())
    }

    async fn resign(&self, role: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leaders WHERE role = ?1 AND holder = ?2")
            .bind(role)
            .bind(holder)
            .execute(&self.db.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    // ---- workers ----

    async fn advertise(
        &self,
        worker: &str,
        scanners: &[String],
        ttl: std::time::Duration,
    ) -> Result<()> {
        let expires =
            now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2));
        sqlx::query(
            "INSERT INTO workers (id, scanners, expires_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET scanners = excluded.scanners, \
                 expires_ms = excluded.expires_ms",
        )
        .bind(worker)
        .bind(to_json(&scanners)?)
        .bind(expires)
        .execute(&self.db.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn withdraw(&self, worker: &str) -> Result<()> {
        sqlx::query("DELETE FROM workers WHERE id = ?1")
            .bind(worker)
            .execute(&self.db.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn advertised_scanners(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT j.value FROM workers w, json_each(w.scanners) AS j \
             WHERE w.expires_ms > ?1 ORDER BY 1",
        )
        .bind(now_ms())
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(db_err))
            .collect()
    }

    // ---- clean-up ----

    async fn pending_cleanups(&self, limit: u32) -> Result<Vec<Cleanup>> {
        let rows = sqlx::query(
            "SELECT scan_id, deleted FROM scan_cleanups ORDER BY created_at, scan_id LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(Cleanup {
                    scan_id: r
                        .try_get::<String, _>(0)
                        .map_err(db_err)?
                        .parse()
                        .map_err(|_| CoreError::Backend("corrupt scan id in database".into()))?,
                    deleted: r.try_get::<i64, _>(1).map_err(db_err)? != 0,
                })
            })
            .collect()
    }

    async fn cleanup_step(&self, cleanup: &Cleanup, limit: u32) -> Result<u64> {
        let scan = cleanup.scan_id.to_string();
        let limit = i64::from(limit.max(1));
        let mut tx = self.begin().await?;
        let mut cleared = 0u64;
        if cleanup.deleted {
            // Each statement walks its table's scan_id index from the start; the rows it deletes
            // leave the index, so every batch finds the next ones at once.
            for (table, key) in [
                ("scan_tasks", "rowid"),
                ("findings", "rowid"),
                ("events", "id"),
                ("artifacts", "rowid"),
            ] {
                let left = limit - i64_of(cleared);
                if left <= 0 {
                    break;
                }
                let r = sqlx::query(&format!(
                    "DELETE FROM {table} WHERE {key} IN \
                     (SELECT {key} FROM {table} WHERE scan_id = ?1 LIMIT ?2)"
                ))
                .bind(&scan)
                .bind(left)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                cleared += r.rows_affected();
            }
        } else {
            // Only pending rows matter (the relay walks their index); parked and published rows
            // of an ended scan are never read again and go when the scan is deleted.
            let r = sqlx::query(
                "UPDATE scan_tasks SET status = 'dropped', updated_at = ?1 WHERE rowid IN \
                 (SELECT rowid FROM scan_tasks WHERE status = 'pending' AND scan_id = ?2 LIMIT ?3)",
            )
            .bind(now_ms())
            .bind(&scan)
            .bind(limit)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            cleared += r.rows_affected();
        }
        tx.commit().await.map_err(db_err)?;
        Ok(cleared)
    }

    async fn cleanup_done(&self, cleanup: &Cleanup) -> Result<()> {
        sqlx::query("DELETE FROM scan_cleanups WHERE scan_id = ?1 AND deleted = ?2")
            .bind(cleanup.scan_id.to_string())
            .bind(i64::from(cleanup.deleted))
            .execute(&self.db.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    // ---- scans ----

    async fn create_scan(&self, scan: NewScan) -> Result<Scan> {
        let now = now_ms();
        let row = sqlx::query(&format!(
            "INSERT INTO scans (id, org_id, user_id, name, config, template_id, state, \
                 created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'created', ?7, ?7) RETURNING {SCAN_COLS}"
        ))
        .bind(scan.id.to_string())
        .bind(scan.org.as_str())
        .bind(scan.user.as_str())
        .bind(&scan.name)
        .bind(to_json(&scan.config)?)
        .bind(scan.template_id.map(|t| t.to_string()))
        .bind(now)
        .fetch_one(&self.db.writer)
        .await
        .map_err(db_err)?;
        scan_from_row(&row)
    }

    async fn get_scan(&self, org: &OrgId, id: ScanId) -> Result<Scan> {
        let row = sqlx::query(&format!(
            "SELECT {SCAN_COLS} FROM scans WHERE id = ?1 AND org_id = ?2"
        ))
        .bind(id.to_string())
        .bind(org.as_str())
        .fetch_optional(&self.db.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| scan_not_found(id))?;
        scan_from_row(&row)
    }

    async fn list_scans(&self, org: &OrgId, query: &ScanQuery) -> Result<Page<Scan>> {
        let limit = clamp_limit(query.limit);
        let mut qb =
            QueryBuilder::<Sqlite>::new(format!("SELECT {SCAN_COLS} FROM scans WHERE org_id = "));
        qb.push_bind(org.as_str().to_owned());
        if let Some(state) = query.state {
            qb.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(cur) = &query.cursor {
            let c = Cursor::decode(cur, "scans")?;
            qb.push(" AND (created_at, id) < (")
                .push_bind(c.c)
                .push(", ")
                .push_bind(c.i)
                .push(")");
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = qb
            .build()
            .fetch_all(&self.db.reader)
            .await
            .map_err(db_err)?;
        let mut items = rows.iter().map(scan_from_row).collect::<Result<Vec<_>>>()?;
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
    }

    async fn update_scan(
        &self,
        org: &OrgId,
        id: ScanId,
        name: String,
        config: ScanConfig,
    ) -> Result<Scan> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let state = scan_state_in(&mut tx, org, id).await?;
        if state != ScanState::Created {
            return Err(CoreError::Conflict {
                message: format!("cannot update a scan that is {state}"),
                state: Some(state),
            });
        }
        sqlx::query(
            "UPDATE scans SET name = ?1, config = ?2, updated_at = ?3 \
             WHERE id = ?4 AND org_id = ?5 AND state = 'created'",
        )
        .bind(&name)
        .bind(to_json(&config)?)
        .bind(now)
        .bind(id.to_string())
        .bind(org.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let scan = fetch_scan(&mut tx, id).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(scan)
    }

    async fn delete_scan(&self, org: &OrgId, id: ScanId) -> Result<()> {
        let mut tx = self.begin().await?;
        let state = scan_state_in(&mut tx, org, id).await?;
        if !state.can_delete() {
            return Err(CoreError::Conflict {
                message: format!("cannot delete a scan that is {state}"),
                state: Some(state),
            });
        }
        // The scan row goes now; its tasks, findings, events and artifact records go in bounded
        // batches (the janitor), so a delete costs the same for a scan of any size. Until then
        // reads find them through their scan (gone) or the clean-up row (deleted), never alone.
        add_cleanup(&mut tx, id, true, now_ms()).await?;
        sqlx::query("DELETE FROM scans WHERE id = ?1 AND org_id = ?2")
            .bind(id.to_string())
            .bind(org.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn start_scan(&self, org: &OrgId, id: ScanId, tasks: Vec<Task>) -> Result<Transition> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let from = scan_state_in(&mut tx, org, id).await?;
        let to = from.apply(ScanAction::Start)?;
        // The ledger rows belong to this scan and org whatever the tasks claim.
        let tasks: Vec<Task> = tasks
            .into_iter()
            .map(|t| Task {
                scan_id: id,
                org_id: org.clone(),
                ..t
            })
            .collect();
        let pairs: Vec<(&Task, &OrgId)> = tasks.iter().map(|t| (t, org)).collect();
        let added = insert_tasks(&mut tx, &pairs, now, self.inline.as_deref()).await?;
        let inserted = added.rows.len() as u64;
        // Enqueuing is done at once unless an initial task enumerates.
        let open = added.rows.iter().filter(|(_, e)| *e).count() as u64;
        let r = sqlx::query(
            "UPDATE scans SET state = ?1, enqueued = ?2, open_enums = ?7, \
                 enqueue_done = (?7 = 0), started_at = ?3, updated_at = ?3 \
             WHERE id = ?4 AND org_id = ?5 AND state = ?6",
        )
        .bind(to.as_str())
        .bind(i64_of(inserted))
        .bind(now)
        .bind(id.to_string())
        .bind(org.as_str())
        .bind(from.as_str())
        .bind(i64_of(open))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if r.rows_affected() == 0 {
            return Err(CoreError::illegal("start", from));
        }
        let mut evs = vec![NewEvent::state(id, org, from, to, None)];
        if inserted == 0 {
            // Nothing to run: the completion rule holds already.
            if let Some(ev) = end_scan(&mut tx, id, ScanState::Completed, None, now).await? {
                evs.push(ev);
            }
        }
        let events = insert_events(&mut tx, evs, now).await?;
        let scan = fetch_scan(&mut tx, id).await?;
        tx.commit().await.map_err(db_err)?;
        self.published(added.published);
        Ok(Transition { scan, events })
    }

    async fn apply_action(
        &self,
        org: &OrgId,
        id: ScanId,
        action: ScanAction,
    ) -> Result<Transition> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let from = scan_state_in(&mut tx, org, id).await?;
        let to = from.apply(action)?;
        if action == ScanAction::Start {
            return Err(CoreError::invalid(
                "/action",
                "a scan is started with its planned tasks (start_scan)",
            ));
        }
        let reason = (action == ScanAction::Stop).then_some("stopped");
        let finished = (action == ScanAction::Stop).then_some(now);
        let r = sqlx::query(
            "UPDATE scans SET state = ?1, reason = COALESCE(?2, reason), \
                 finished_at = COALESCE(?3, finished_at), updated_at = ?4 \
             WHERE id = ?5 AND org_id = ?6 AND state = ?7",
        )
        .bind(to.as_str())
        .bind(reason)
        .bind(finished)
        .bind(now)
        .bind(id.to_string())
        .bind(org.as_str())
        .bind(from.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if r.rows_affected() == 0 {
            let current = scan_state_in(&mut tx, org, id).await?;
            return Err(CoreError::illegal(action.as_str(), current));
        }
        match action {
            ScanAction::Pause => {
                move_ledger(&mut tx, id, &["pending"], "parked", now).await?;
            }
            ScanAction::Resume => {
                move_ledger(&mut tx, id, &["parked"], "pending", now).await?;
            }
            ScanAction::Stop => {
                // Lazily: queued deliveries are dropped when claimed and the rest is cleared in
                // bounded batches by the janitor, so a stop costs the same for any scan size.
                add_cleanup(&mut tx, id, false, now).await?;
            }
            ScanAction::Start => {}
        }
        let events = insert_events(
            &mut tx,
            vec![NewEvent::state(id, org, from, to, reason)],
            now,
        )
        .await?;
        let scan = fetch_scan(&mut tx, id).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Transition { scan, events })
    }

    async fn mark_running(&self, ids: &[ScanId]) -> Result<Vec<Event>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "UPDATE scans SET state = 'running', updated_at = ?1 \
             WHERE state = 'queued' AND id IN (SELECT value FROM json_each(?2)) \
             RETURNING id, org_id",
        )
        .bind(now)
        .bind(ids_json(ids)?)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut evs = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: ScanId = r
                .try_get::<String, _>(0)
                .map_err(db_err)?
                .parse()
                .map_err(|_| CoreError::Backend("corrupt scan id in database".into()))?;
            let org = OrgId::parse(&r.try_get::<String, _>(1).map_err(db_err)?)
                .map_err(|_| CoreError::Backend("corrupt org id in database".into()))?;
            evs.push(NewEvent::state(
                id,
                &org,
                ScanState::Queued,
                ScanState::Running,
                None,
            ));
        }
        evs.sort_by_key(|e| e.scan_id);
        let events = insert_events(&mut tx, evs, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(events)
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
        let now = now_ms();
        let mut tx = self.begin().await?;
        // Distinguish "unknown scan" (NotFound) from "already ended" (None).
        fetch_scan(&mut tx, id).await?;
        let Some(ev) = end_scan(&mut tx, id, state, Some(reason), now).await? else {
            return Ok(None);
        };
        let events = insert_events(&mut tx, vec![ev], now).await?;
        let scan = fetch_scan(&mut tx, id).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(Transition { scan, events }))
    }

    async fn scans_by_ids(&self, ids: &[ScanId]) -> Result<Vec<Scan>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "SELECT {SCAN_COLS} FROM scans WHERE id IN (SELECT value FROM json_each(?1))"
        ))
        .bind(ids_json(ids)?)
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(scan_from_row).collect()
    }

    async fn active_scans(&self) -> Result<Vec<Scan>> {
        let rows = sqlx::query(&format!(
            "SELECT {SCAN_COLS} FROM scans WHERE state IN ('queued', 'running', 'paused') \
             ORDER BY created_at, id"
        ))
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(scan_from_row).collect()
    }

    // ---- task ledger ----

    async fn pending_tasks(&self, limit: u32) -> Result<Vec<Task>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLS} FROM scan_tasks WHERE status = 'pending' \
             AND EXISTS (SELECT 1 FROM scans s WHERE s.id = scan_tasks.scan_id \
                 AND s.state IN ('queued', 'running', 'paused')) \
             ORDER BY priority DESC, rowid LIMIT ?1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(task_from_row).collect()
    }

    async fn mark_published(&self, ids: &[TaskId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.begin().await?;
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "UPDATE scan_tasks SET status = 'published', updated_at = ? \
                 WHERE status = 'pending' AND id IN ({})",
                in_list(chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(now);
            for id in chunk {
                q = q.bind(id.to_string());
            }
            q.execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn finished_tasks(&self, ids: &[TaskId]) -> Result<Vec<TaskId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // A task of an ended scan is finished too (its scan will never run it); a task of a
        // deleted scan is not there at all.
        let rows = sqlx::query(
            "SELECT t.id FROM scan_tasks t JOIN scans s ON s.id = t.scan_id \
             WHERE t.id IN (SELECT value FROM json_each(?1)) \
             AND (t.status IN ('done', 'failed', 'dropped') \
                 OR s.state IN ('completed', 'failed', 'cancelled'))",
        )
        .bind(ids_json(ids)?)
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                r.try_get::<String, _>(0)
                    .map_err(db_err)?
                    .parse::<TaskId>()
                    .map_err(|_| CoreError::Backend("corrupt task id in database".into()))
            })
            .collect()
    }

    /// Commits a batch of reports in one transaction with a fixed number of statements:
    /// scan lookup, ledger updates (done, failed, dropped, parked), finding insert, spawned-task
    /// insert, one counter update per touched scan, completion checks, and one event insert.
    async fn record(&self, reports: Vec<TaskReport>) -> Result<RecordOutcome> {
        if reports.is_empty() {
            return Ok(RecordOutcome::default());
        }
        let now = now_ms();
        let mut tx = self.begin().await?;

        // 1. The scans this batch touches, with what the rules need (the writer is exclusive
        //    from `BEGIN IMMEDIATE`, so these values hold until the commit).
        let rows = sqlx::query(
            "SELECT id, org_id, state, enqueued, done, failed, expected_total, enqueue_done, \
                 findings, open_enums, expect_extra, \
                 json_extract(config, '$.max_results') AS mr, \
                 json_extract(config, '$.max_tasks') AS mt \
             FROM scans WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(ids_json(RecordPlan::scan_ids(&reports))?)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let facts = rows
            .iter()
            .map(|r| {
                Ok(ScanFacts {
                    id: scan_of(r, "id")?,
                    org: OrgId::parse(&r.try_get::<String, _>("org_id").map_err(db_err)?)
                        .map_err(|_| CoreError::Backend("corrupt org id in database".into()))?,
                    state: scan_state(&r.try_get::<String, _>("state").map_err(db_err)?)?,
                    progress: progress_from_row(r)?,
                    open_enums: r.try_get("open_enums").map_err(db_err)?,
                    expect_extra: r.try_get("expect_extra").map_err(db_err)?,
                    max_results: r
                        .try_get::<Option<i64>, _>("mr")
                        .map_err(db_err)?
                        .and_then(|v| u64::try_from(v).ok()),
                    max_tasks: r
                        .try_get::<Option<i64>, _>("mt")
                        .map_err(db_err)?
                        .and_then(|v| u64::try_from(v).ok()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut plan = RecordPlan::new(&reports, facts);

        // 2. Ledger: terminal statuses count only when the row was not terminal already.
        let ledger = RecordPlan::ledger(&reports);
        let mut done: BTreeMap<ScanId, Vec<String>> = BTreeMap::new();
        for (task, scan) in &ledger.done {
            done.entry(*scan).or_default().push(task.to_string());
        }
        // The hot path: IN lists of binds rather than a json_each expansion, one statement per
        // scan and chunk, counted from `rows_affected` (no row per task handed back). The unary
        // `+` keeps the planner on the primary key: with `scan_id` usable it may walk the
        // scan's whole `(scan_id, dedup_key)` index instead.
        for (scan, ids) in &done {
            let sid = scan.to_string();
            for chunk in ids.chunks(MARK_DONE.max()) {
                // Padded to the statement's size with repeats of the last id.
                let (sql, n) = MARK_DONE.get(chunk.len());
                let mut q = sqlx::query(sql).bind(now);
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                if let Some(last) = chunk.last() {
                    for _ in chunk.len()..n {
                        q = q.bind(last.as_str());
                    }
                }
                let n = q.bind(&sid).execute(&mut *tx).await.map_err(db_err)?;
                plan.done(*scan, n.rows_affected());
            }
        }
        if !ledger.failed.is_empty() {
            let failed: Vec<Value> = ledger
                .failed
                .iter()
                .map(|(task, _, error)| json!([task.to_string(), error]))
                .collect();
            let rows = sqlx::query(
                "UPDATE scan_tasks SET status = 'failed', error = j.value->>1, updated_at = ?1 \
                 FROM (SELECT value FROM json_each(?2)) AS j \
                 WHERE scan_tasks.id = j.value->>0 \
                 AND scan_tasks.status NOT IN ('done', 'failed', 'dropped') \
                 RETURNING scan_tasks.id, scan_tasks.scan_id, scan_tasks.scanner, \
                     scan_tasks.target, scan_tasks.error",
            )
            .bind(now)
            .bind(to_json(&failed)?)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            for r in &rows {
                plan.failed(FailedRow {
                    task_id: r
                        .try_get::<String, _>("id")
                        .map_err(db_err)?
                        .parse()
                        .map_err(|_| CoreError::Backend("corrupt task id in database".into()))?,
                    scan_id: scan_of(r, "scan_id")?,
                    scanner: r.try_get("scanner").map_err(db_err)?,
                    target: serde_json::from_str(
                        &r.try_get::<String, _>("target").map_err(db_err)?,
                    )
                    .unwrap_or(Value::Null),
                    error: r.try_get("error").map_err(db_err)?,
                });
            }
        }
        for (ids, sql) in [
            (
                &ledger.dropped,
                "UPDATE scan_tasks SET status = 'dropped', updated_at = ?1 \
                 WHERE id IN (SELECT value FROM json_each(?2)) \
                 AND status NOT IN ('done', 'failed', 'dropped')",
            ),
            (
                &ledger.parked,
                "UPDATE scan_tasks SET status = 'parked', updated_at = ?1 \
                 WHERE id IN (SELECT value FROM json_each(?2)) \
                 AND status IN ('pending', 'published')",
            ),
        ] {
            if !ids.is_empty() {
                sqlx::query(sql)
                    .bind(now)
                    .bind(ids_json(ids.iter().map(|(task, _)| task))?)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
        }

        // 2b. Enumerations (rare): one lookup and one update each, if still open.
        for e in RecordPlan::enumerations(&reports) {
            let Some(row) = sqlx::query(
                "SELECT expect_remaining FROM scan_tasks WHERE id = ?1 AND enum_state = 1",
            )
            .bind(e.task_id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            else {
                continue; // not open (closed before, or not in the ledger)
            };
            let (state, new) = e.next();
            sqlx::query(
                "UPDATE scan_tasks SET enum_state = ?1, expect_remaining = ?2 WHERE id = ?3",
            )
            .bind(state)
            .bind(new)
            .bind(e.task_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            plan.enumeration(&e, row.try_get(0).map_err(db_err)?);
        }

        // 3. Findings of live scans, idempotent on (scan, fingerprint).
        let mut new_findings = plan.findings(&reports, ms_to_time(now));
        if !new_findings.is_empty() {
            let arr: Vec<Value> = new_findings
                .iter()
                .map(|f| {
                    json!([
                        f.id.to_string(),
                        f.scan_id.to_string(),
                        f.org_id.as_str(),
                        f.task_id.map(|t| t.to_string()),
                        f.scanner,
                        f.kind,
                        f.severity.rank(),
                        f.title,
                        f.description,
                        f.target,
                        f.location,
                        f.fingerprint,
                        f.data,
                        f.secret,
                    ])
                })
                .collect();
            let rows = sqlx::query(
                "INSERT INTO findings (id, scan_id, org_id, task_id, scanner, kind, severity, title, \
                     description, target, location, fingerprint, data, secret, triage, created_at, \
                     updated_at) \
                 SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4, \
                     j.value->>5, j.value->>6, j.value->>7, j.value->>8, j.value->9, j.value->10, \
                     j.value->>11, j.value->12, j.value->13, 'open', ?1, ?1 \
                 FROM json_each(?2) AS j WHERE true ORDER BY j.key \
                 ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(now)
            .bind(to_json(&arr)?)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            let inserted: HashSet<String> = rows
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()
                .map_err(db_err)?;
            new_findings.retain(|f| inserted.contains(&f.id.to_string()));
        }
        plan.findings_inserted(&new_findings);

        // 4. Spawned tasks the plan admits, deduped by the insert. A paused scan's tasks wait
        //    in the ledger as `pending` (the relay publishes them after the resume); the others
        //    go straight onto an inline queue if there is one.
        let mut spawned: Vec<(&Task, &OrgId)> = Vec::new();
        let mut spawned_paused: Vec<(&Task, &OrgId)> = Vec::new();
        for task in reports.iter().flat_map(|r| r.spawned.iter()) {
            match plan.admit(task) {
                Admit::No => {}
                Admit::Run => spawned.push((task, &task.org_id)),
                Admit::Wait => spawned_paused.push((task, &task.org_id)),
            }
        }
        let mut published = 0u64;
        for (batch, inline) in [(&spawned, self.inline.as_deref()), (&spawned_paused, None)] {
            let added = insert_tasks(&mut tx, batch, now, inline).await?;
            published += added.published;
            for (sid, enumerates) in added.rows {
                let sid: ScanId = sid
                    .parse()
                    .map_err(|_| CoreError::Backend("corrupt scan id in database".into()))?;
                plan.inserted(sid, enumerates);
            }
        }

        // 5. Artifacts of live scans.
        for (scan, org, a) in plan.artifacts(&reports) {
            sqlx::query(
                "INSERT INTO artifacts (scan_id, name, org_id, size, content_type, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (scan_id, name) DO UPDATE SET size = excluded.size, \
                     content_type = excluded.content_type, created_at = excluded.created_at",
            )
            .bind(scan.to_string())
            .bind(a.name.as_str())
            .bind(org.as_str())
            .bind(i64_of(a.size))
            .bind(&a.content_type)
            .bind(a.created_at.timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }

        // 6. Counters once per changed scan, then completion.
        for d in plan.counters() {
            // Right-hand sides read the old row, so `enqueued + ?3 + expect_extra + ?8` is the
            // new total; `expected_total` exists once an enumeration was seen.
            sqlx::query(
                "UPDATE scans SET done = done + ?1, failed = failed + ?2, enqueued = enqueued + ?3, \
                     findings = findings + ?4, updated_at = ?5, \
                     open_enums = open_enums + ?7, enqueue_done = (open_enums + ?7 = 0), \
                     expect_extra = expect_extra + ?8, \
                     expected_total = CASE WHEN ?9 OR expected_total IS NOT NULL \
                         THEN enqueued + ?3 + expect_extra + ?8 ELSE NULL END \
                 WHERE id = ?6",
            )
            .bind(i64_of(d.done))
            .bind(i64_of(d.failed))
            .bind(i64_of(d.enqueued))
            .bind(i64_of(d.findings))
            .bind(now)
            .bind(d.scan_id.to_string())
            .bind(d.open_enums)
            .bind(d.expect_extra)
            .bind(d.enum_touched)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let mut ended = Vec::new();
        for e in plan.endings() {
            if let Some(ev) = end_scan(&mut tx, e.scan_id, e.to, e.reason.as_deref(), now).await? {
                ended.push((e, ev));
            }
        }
        let out = plan.finish(ended);

        let events = insert_events(&mut tx, out.events, now).await?;
        tx.commit().await.map_err(db_err)?;
        self.published(published);
        Ok(RecordOutcome {
            events,
            spawned: out.spawned,
            published,
            finished: out.finished,
        })
    }

    // ---- findings ----

    async fn list_findings(
        &self,
        org: &OrgId,
        scan: ScanId,
        query: &FindingQuery,
    ) -> Result<Page<Finding>> {
        let mut conn = self.db.reader.acquire().await.map_err(db_err)?;
        scan_state_in(&mut conn, org, scan).await?;
        let limit = clamp_limit(query.limit);
        let sort = sort_name(query.sort);
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {FINDING_COLS} FROM findings WHERE scan_id = "
        ));
        qb.push_bind(scan.to_string())
            .push(" AND org_id = ")
            .push_bind(org.as_str().to_owned());
        push_finding_filters(&mut qb, query);
        if let Some(cur) = &query.cursor {
            let c = Cursor::decode(cur, sort)?;
            match query.sort {
                FindingSort::Created => {
                    qb.push(" AND (created_at, id) > (")
                        .push_bind(c.c)
                        .push(", ")
                        .push_bind(c.i)
                        .push(")");
                }
                FindingSort::CreatedDesc => {
                    qb.push(" AND (created_at, id) < (")
                        .push_bind(c.c)
                        .push(", ")
                        .push_bind(c.i)
                        .push(")");
                }
                FindingSort::Severity => {
                    qb.push(" AND (severity < ")
                        .push_bind(c.r)
                        .push(" OR (severity = ")
                        .push_bind(c.r)
                        .push(" AND (created_at, id) > (")
                        .push_bind(c.c)
                        .push(", ")
                        .push_bind(c.i)
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
        let rows = qb.build().fetch_all(&mut *conn).await.map_err(db_err)?;
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

    async fn get_finding(&self, org: &OrgId, id: FindingId) -> Result<Finding> {
        let row = sqlx::query(&format!(
            "SELECT {FINDING_COLS} FROM findings WHERE id = ?1 AND org_id = ?2 {LIVE_SCAN}"
        ))
        .bind(id.to_string())
        .bind(org.as_str())
        .fetch_optional(&self.db.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("finding", id))?;
        finding_from_row(&row)
    }

    async fn set_triage(&self, org: &OrgId, id: FindingId, triage: Triage) -> Result<Finding> {
        let row = sqlx::query(&format!(
            "UPDATE findings SET triage = ?1, updated_at = ?2 WHERE id = ?3 AND org_id = ?4 \
             {LIVE_SCAN} RETURNING {FINDING_COLS}"
        ))
        .bind(triage.as_str())
        .bind(now_ms())
        .bind(id.to_string())
        .bind(org.as_str())
        .fetch_optional(&self.db.writer)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("finding", id))?;
        finding_from_row(&row)
    }

    // ---- events ----

    async fn events_after(
        &self,
        org: &OrgId,
        scan: Option<ScanId>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let limit = i64::from(clamp_limit(limit));
        let mut conn = self.db.reader.acquire().await.map_err(db_err)?;
        let rows = match scan {
            Some(scan) => {
                scan_state_in(&mut conn, org, scan).await?;
                sqlx::query(&format!(
                    "SELECT {EVENT_COLS} FROM events WHERE scan_id = ?1 AND org_id = ?2 AND id > ?3 \
                     ORDER BY id LIMIT ?4"
                ))
                .bind(scan.to_string())
                .bind(org.as_str())
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {EVENT_COLS} FROM events WHERE org_id = ?1 AND id > ?2 \
                     AND NOT EXISTS (SELECT 1 FROM scan_cleanups c \
                         WHERE c.scan_id = events.scan_id AND c.deleted = 1) \
                     ORDER BY id LIMIT ?3"
                ))
                .bind(org.as_str())
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await
            }
        }
        .map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
    }

    // ---- templates ----

    async fn create_template(&self, t: NewTemplate) -> Result<Template> {
        let row = sqlx::query(&format!(
            "INSERT INTO templates (id, org_id, user_id, name, description, config, created_at, \
                 updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING {TEMPLATE_COLS}"
        ))
        .bind(t.id.to_string())
        .bind(t.org.as_str())
        .bind(t.user.as_str())
        .bind(&t.name)
        .bind(&t.description)
        .bind(to_json(&t.config)?)
        .bind(now_ms())
        .fetch_one(&self.db.writer)
        .await
        .map_err(db_err)?;
        template_from_row(&row)
    }

    async fn get_template(&self, org: &OrgId, id: TemplateId) -> Result<Template> {
        let row = sqlx::query(&format!(
            "SELECT {TEMPLATE_COLS} FROM templates WHERE id = ?1 AND org_id = ?2"
        ))
        .bind(id.to_string())
        .bind(org.as_str())
        .fetch_optional(&self.db.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("template", id))?;
        template_from_row(&row)
    }

    async fn list_templates(
        &self,
        org: &OrgId,
        query: &argus_core::store::TemplateQuery,
    ) -> Result<Page<Template>> {
        let limit = clamp_limit(query.limit);
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {TEMPLATE_COLS} FROM templates WHERE org_id = "
        ));
        qb.push_bind(org.as_str().to_owned());
        if let Some(cur) = &query.cursor {
            let (name, id) = crate::template_cursor::decode(cur)?;
            qb.push(" AND (name, id) > (")
                .push_bind(name)
                .push(", ")
                .push_bind(id.to_string())
                .push(")");
        }
        qb.push(" ORDER BY name, id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = qb
            .build()
            .fetch_all(&self.db.reader)
            .await
            .map_err(db_err)?;
        let items = rows
            .iter()
            .map(template_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::template_cursor::page(items, limit))
    }

    async fn update_template(&self, t: NewTemplate) -> Result<Template> {
        let row = sqlx::query(&format!(
            "UPDATE templates SET name = ?1, description = ?2, config = ?3, updated_at = ?4 \
             WHERE id = ?5 AND org_id = ?6 RETURNING {TEMPLATE_COLS}"
        ))
        .bind(&t.name)
        .bind(&t.description)
        .bind(to_json(&t.config)?)
        .bind(now_ms())
        .bind(t.id.to_string())
        .bind(t.org.as_str())
        .fetch_optional(&self.db.writer)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("template", t.id))?;
        template_from_row(&row)
    }

    async fn delete_template(&self, org: &OrgId, id: TemplateId) -> Result<()> {
        let r = sqlx::query("DELETE FROM templates WHERE id = ?1 AND org_id = ?2")
            .bind(id.to_string())
            .bind(org.as_str())
            .execute(&self.db.writer)
            .await
            .map_err(db_err)?;
        if r.rows_affected() == 0 {
            return Err(CoreError::not_found("template", id));
        }
        Ok(())
    }

    // ---- artifacts ----

    async fn put_artifact(&self, meta: ArtifactMeta) -> Result<()> {
        let mut tx = self.begin().await?;
        scan_state_in(&mut tx, &meta.org_id, meta.scan_id).await?;
        sqlx::query(
            "INSERT INTO artifacts (scan_id, name, org_id, size, content_type, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (scan_id, name) DO UPDATE SET size = excluded.size, \
                 content_type = excluded.content_type, created_at = excluded.created_at",
        )
        .bind(meta.scan_id.to_string())
        .bind(meta.name.as_str())
        .bind(meta.org_id.as_str())
        .bind(i64_of(meta.size))
        .bind(&meta.content_type)
        .bind(meta.created_at.timestamp_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn list_artifacts(&self, org: &OrgId, scan: ScanId) -> Result<Vec<ArtifactMeta>> {
        let mut conn = self.db.reader.acquire().await.map_err(db_err)?;
        scan_state_in(&mut conn, org, scan).await?;
        let rows = sqlx::query(&format!(
            "SELECT {ARTIFACT_COLS} FROM artifacts WHERE scan_id = ?1 AND org_id = ?2 ORDER BY name"
        ))
        .bind(scan.to_string())
        .bind(org.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(artifact_from_row).collect()
    }

    async fn get_artifact(&self, org: &OrgId, scan: ScanId, name: &str) -> Result<ArtifactMeta> {
        let row = sqlx::query(&format!(
            "SELECT {ARTIFACT_COLS} FROM artifacts WHERE scan_id = ?1 AND org_id = ?2 AND name = ?3 \
             {LIVE_SCAN}"
        ))
        .bind(scan.to_string())
        .bind(org.as_str())
        .bind(name)
        .fetch_optional(&self.db.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CoreError::not_found("artifact", format!("{scan}/{name}")))?;
        artifact_from_row(&row)
    }
}
