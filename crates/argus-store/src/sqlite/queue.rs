//! The embedded durable queue: a table in the store's SQLite database, beside the store that
//! shares it (its migrations in `migrations/sqlite-queue`, versions ≥ 1000).
//!
//! Rows of `queue_tasks` (migration `1001_queue.sql`) move through four states:
//! `0 ready → 1 leased → (deleted on ack | 0 ready on expiry/retry | 3 delayed on retry with a
//! delay | 2 dead on dead-letter)`, and `3 delayed → 0 ready` once its time has come.
//!
//! Claim order is priority first, then **fair share between scans** within a priority
//! (start-time fair queueing, migration `1003_fair_share.sql`): every row carries a `tag`, its
//! virtual start time. A batch of a scan's tasks gets consecutive tags starting after
//! `max(scan's last tag, virtual time)`, where the virtual time is the smallest ready tag of that
//! priority (the head of the line) or, with nothing ready, the largest tag handed out so far.
//! Claims take the smallest tags, so a scan that arrives behind a 100,000-task backlog gets its
//! first tasks right after the tasks being claimed now and then alternates with the backlog
//! (one task each per tag step) instead of waiting for all of it; within a scan the order stays
//! FIFO. Every scan of a priority weighs the same: priority itself is the weight between
//! classes, and it is strict (the `Queue` contract, like RabbitMQ's priority queue).
//!
//! With a per-org running-tasks quota (`EmbeddedQueueOptions::quotas`), a claim leases no more
//! of an org's tasks than its limit minus its leased ones: rows of orgs at their limit are
//! skipped in the same order, so other orgs' tasks go and theirs wait.
//!
//! Invariants:
//! - Writes go through the store's single writer connection and a claim is one `UPDATE ...
//!   RETURNING`, so claims are serialised by SQLite: two claimers can never lease the same row.
//!   Bulk calls cost one commit however many tasks they carry: ack and renew are one statement,
//!   `enqueue` one transaction of one multi-row insert per 1,024 tasks. A claim is preceded by a
//!   sweep statement at most every `sweep_interval`.
//! - The store can also enqueue inside its own ledger transaction (`InlineQueue`, implemented
//!   here): a task and its ledger row then commit together.
//! - A lease token is `(row id, attempt)`. `attempt` grows on every delivery and row ids are never
//!   reused (`AUTOINCREMENT`), so a token stops matching as soon as its task is re-delivered:
//!   acks, renewals, retries and dead-letters with a stale token change nothing.
//! - Expired leases and delayed retries are swept back to ready by `claim` itself (at most once
//!   per `sweep_interval` per queue instance, plus when the earliest delayed retry made through
//!   this instance falls due); re-delivery then increments `attempt`. Nobody needs them sooner:
//!   only claimers consume them. An idle claimer therefore sees an expired lease or a later
//!   delayed retry within about `poll_interval` of its time.
//! - `enqueue` and `retry` wake idle claimers of this instance through a [`Notify`]; an idle
//!   claimer also re-checks at least every `poll_interval`, which covers other processes and
//!   timers. A claimer registers for the wake-up *before* it looks for work, so an enqueue that
//!   lands between its look and its sleep still wakes it.
//! - Durability is the database's: WAL with `synchronous = NORMAL` (see [`SqliteDb`]).
//! - Crash recovery: opening the queue on a database no other handle has open (the owner lock,
//!   `SqliteDb::take_sole_start`) releases every lease at once, since their holders are gone;
//!   in embedded mode the restarted process is the only worker, so a crash costs no lease wait.
//!   Opened beside another handle (a second process on the same data dir), leases are left to
//!   their holders and expire as usual.
//!
//! Cancelling a `claim` future mid-statement may leave rows leased to nobody; they come back when
//! the lease expires (delivery is at-least-once anyway).

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::batch::Pow2Sql;
use super::db::SqliteDb;
use super::inline::InlineQueue;
use argus_core::queue::{Queue, QueueDepth};
use argus_core::task::{Delivery, LeaseToken, Task};
use argus_core::{now_ms, CoreError, Result, ScanId};
use async_trait::async_trait;
use sqlx::SqliteConnection;
use tokio::sync::Notify;
use tokio::time::Instant;

const READY: i64 = 0;
const DELAYED: i64 = 3;

/// `INSERT` of up to 1,024 tasks (6 parameters each, well under SQLite's 32,766), in
/// power-of-two sizes: a batch is padded with rows carrying its last task's id, which `ON CONFLICT
/// (task_id) DO NOTHING` drops (1,000 tasks: one statement of 1,024 rows). Bound parameters
/// rather than a JSON array: SQLite's JSON functions cost more than the insert.
static ENQUEUE: Pow2Sql = Pow2Sql::new(1024, |n| {
    let values = vec!["(?, ?, ?, ?, ?, ?)"; n].join(", ");
    format!(
        "INSERT INTO queue_tasks (task_id, scan_id, priority, payload, tag, org) VALUES {values} \
         ON CONFLICT (task_id) DO NOTHING"
    )
});

const SWEEP_SQL: &str = "UPDATE queue_tasks SET state = 0 WHERE state IN (1, 3) AND due_at <= ?1";

// At a sole start (see `EmbeddedQueue::with_options`): every leased row back to ready. The
// repeated `state IN (1, 3)` matches the partial index of leased and delayed rows, so only
// those are visited however many tasks are queued.
const RELEASE_SQL: &str = "UPDATE queue_tasks SET state = 0 WHERE state IN (1, 3) AND state = 1";

const CLAIM_SQL: &str = "\
UPDATE queue_tasks SET state = 1, attempt = attempt + 1, due_at = ?1 \
WHERE id IN (SELECT id FROM queue_tasks WHERE state = 0 ORDER BY priority DESC, tag, id LIMIT ?2) \
RETURNING id, priority, tag, attempt, payload";

// The virtual time of a priority (`?1`): the head of its ready line, else the largest tag
// handed out (nothing ready means every tagged task was claimed).
const VTIME_SQL: &str = "SELECT COALESCE(\
(SELECT tag FROM queue_tasks WHERE state = 0 AND priority = ?1 ORDER BY priority DESC, tag LIMIT 1), \
(SELECT max(last_tag) FROM queue_fair WHERE priority = ?1), 0)";

const LAST_TAG_SQL: &str = "SELECT last_tag FROM queue_fair WHERE scan_id = ?1 AND priority = ?2";

const SET_TAG_SQL: &str =
    "INSERT INTO queue_fair (scan_id, priority, last_tag) VALUES (?1, ?2, ?3) \
ON CONFLICT (scan_id, priority) DO UPDATE SET last_tag = excluded.last_tag";

// With a running-tasks quota: leased rows per org (the leased rows are few: the workers'
// concurrency), then candidates in claim order without the orgs at their limit (`?1`, a JSON
// array), then the lease of the chosen ids (`?2`, a JSON array).
const LEASED_BY_ORG_SQL: &str =
    "SELECT org, count(*) FROM queue_tasks WHERE state IN (1, 3) AND state = 1 GROUP BY org";

const CANDIDATES_SQL: &str = "\
SELECT id, org FROM queue_tasks WHERE state = 0 AND org NOT IN (SELECT value FROM json_each(?1)) \
ORDER BY priority DESC, tag, id LIMIT ?2";

const LEASE_IDS_SQL: &str = "\
UPDATE queue_tasks SET state = 1, attempt = attempt + 1, due_at = ?1 \
WHERE state = 0 AND id IN (SELECT value FROM json_each(?2)) \
RETURNING id, priority, tag, attempt, payload";

const FORGET_SCAN_SQL: &str = "DELETE FROM queue_fair WHERE scan_id = ?1";

// `?1` is a JSON array of `[id, attempt]` pairs. CROSS JOIN pins json_each as the outer loop
// (SQLite never reorders it), so each pair is one primary-key lookup and matching costs
// O(tokens) whatever the queue's size; with a plain JOIN the planner may scan every leased row.
const ACK_SQL: &str = "\
DELETE FROM queue_tasks WHERE id IN (\
SELECT q.id FROM json_each(?1) AS j CROSS JOIN queue_tasks AS q \
ON q.id = j.value->>0 AND q.attempt = j.value->>1 AND q.state = 1)";

const RENEW_SQL: &str = "\
UPDATE queue_tasks SET due_at = ?2 WHERE id IN (\
SELECT q.id FROM json_each(?1) AS j CROSS JOIN queue_tasks AS q \
ON q.id = j.value->>0 AND q.attempt = j.value->>1 AND q.state = 1)";

const RETRY_SQL: &str = "\
UPDATE queue_tasks SET state = ?3, due_at = ?4 WHERE id = ?1 AND attempt = ?2 AND state = 1";

const DEAD_SQL: &str = "\
UPDATE queue_tasks SET state = 2, due_at = 0, error = ?3 WHERE id = ?1 AND attempt = ?2 AND state = 1";

// Bounded: a batch is one short write however many tasks the scan has queued. Deleted rows
// leave the table, so each batch's scan finds the next ones from the start.
const PURGE_SQL: &str = "DELETE FROM queue_tasks WHERE id IN \
(SELECT id FROM queue_tasks WHERE scan_id = ?1 AND state IN (0, 3) LIMIT ?2)";

// Counts from the partial indexes alone. An expired lease counts as ready (it is claimable as
// soon as a claimer sweeps it), and so does a delayed retry.
const DEPTH_SQL: &str = "\
SELECT \
 (SELECT count(*) FROM queue_tasks WHERE state = 0), \
 (SELECT count(*) FROM queue_tasks WHERE state IN (1, 3)), \
 (SELECT count(*) FROM queue_tasks WHERE state IN (1, 3) AND due_at > ?1 AND state = 1), \
 (SELECT count(*) FROM queue_tasks WHERE state = 2)";

/// Tuning knobs of an [`EmbeddedQueue`]; the defaults suit production.
#[derive(Clone, Debug)]
pub struct EmbeddedQueueOptions {
    /// Longest an idle `claim` sleeps before looking again without being woken (covers expired
    /// leases, due retries and enqueues by other processes).
    pub poll_interval: Duration,
    /// Shortest gap between two sweeps of expired leases and due retries.
    pub sweep_interval: Duration,
    /// Per-org quotas; only the running-tasks limit matters here (leased tasks per org).
    pub quotas: argus_core::quota::Quotas,
}

impl Default for EmbeddedQueueOptions {
    fn default() -> Self {
        EmbeddedQueueOptions {
            poll_interval: Duration::from_millis(500),
            sweep_interval: Duration::from_millis(250),
            quotas: argus_core::quota::Quotas::default(),
        }
    }
}

/// The embedded durable queue. Cheap to clone; clones share wake-ups.
#[derive(Clone, Debug)]
pub struct EmbeddedQueue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: SqliteDb,
    opts: EmbeddedQueueOptions,
    /// Signalled (to all waiters) when tasks become ready in this process.
    ready: Notify,
    /// Earliest time (ms) the next periodic sweep may run.
    next_sweep: AtomicI64,
    /// Due time (ms) of the earliest delayed retry made through this instance and not yet swept,
    /// `i64::MAX` if none: a sweep runs then, and sleeping claimers wake for it.
    due_hint: AtomicI64,
    /// Claimers currently asleep waiting for work.
    waiting: AtomicUsize,
}

impl EmbeddedQueue {
    /// Opens the queue in `db`, applying its migrations (versions ≥ 1000; the store's own
    /// migrations in the same table are left alone).
    pub async fn new(db: SqliteDb) -> Result<Self> {
        Self::with_options(db, EmbeddedQueueOptions::default()).await
    }

    /// Like [`EmbeddedQueue::new`] with explicit tuning.
    pub async fn with_options(db: SqliteDb, opts: EmbeddedQueueOptions) -> Result<Self> {
        let mut migrator = sqlx::migrate!("./migrations/sqlite-queue");
        // The store's migrations (1..999) live in the same `_sqlx_migrations` table.
        migrator.set_ignore_missing(true);
        migrator
            .run(&db.writer)
            .await
            .map_err(|e| CoreError::Backend(format!("queue migrations: {e}")))?;
        if db.take_sole_start() {
            // No other handle has the database open (`SqliteDb::take_sole_start`): every lease
            // belongs to a process that is gone. Its tasks are ready now, not a lease later;
            // their next delivery bumps `attempt`, so the dead holder's tokens match nothing.
            let released = sqlx::query(RELEASE_SQL)
                .execute(&db.writer)
                .await
                .map_err(db_err)?
                .rows_affected();
            if released > 0 {
                tracing::info!(
                    released,
                    "queue: leases of an earlier process released at start-up"
                );
            }
        }
        Ok(EmbeddedQueue {
            inner: Arc::new(Inner {
                db,
                opts,
                ready: Notify::new(),
                next_sweep: AtomicI64::new(0),
                due_hint: AtomicI64::new(i64::MAX),
                waiting: AtomicUsize::new(0),
            }),
        })
    }

    /// The database the queue lives in.
    pub fn db(&self) -> &SqliteDb {
        &self.inner.db
    }

    /// How many `claim` calls are currently asleep waiting for work (for metrics and tests).
    pub fn waiting_claimers(&self) -> usize {
        self.inner.waiting.load(Ordering::SeqCst)
    }

    /// The last error recorded for a dead-lettered task, if the task is dead.
    pub async fn dead_letter_error(&self, task: argus_core::TaskId) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT error FROM queue_tasks WHERE task_id = ?1 AND state = 2")
                .bind(task.to_string())
                .fetch_optional(&self.inner.db.reader)
                .await
                .map_err(db_err)?;
        Ok(row.and_then(|(e,)| e))
    }

    /// Re-queues expired leases and due retries, at most once per sweep interval (and when the
    /// earliest known delayed retry falls due).
    async fn sweep(&self, now: i64) -> Result<()> {
        let next = self.inner.next_sweep.load(Ordering::SeqCst);
        let due = self.inner.due_hint.load(Ordering::SeqCst);
        if now < next && now < due {
            return Ok(());
        }
        // One claimer sweeps (the one that moves `next_sweep` on); the others go straight to
        // claiming.
        let after = now.saturating_add(millis(self.inner.opts.sweep_interval));
        if self
            .inner
            .next_sweep
            .compare_exchange(next, after, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Ok(());
        }
        if due <= now {
            // Only clear the hint this sweep serves; a later retry may have lowered it since.
            let _ = self.inner.due_hint.compare_exchange(
                due,
                i64::MAX,
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
        }
        let done = sqlx::query(SWEEP_SQL)
            .bind(now)
            .execute(&self.inner.db.writer)
            .await
            .map_err(db_err)?;
        if done.rows_affected() > 0 {
            tracing::debug!(
                requeued = done.rows_affected(),
                "queue: expired leases and due retries requeued"
            );
            self.inner.ready.notify_waiters();
        }
        Ok(())
    }

    /// One non-waiting attempt at leasing up to `max` tasks.
    async fn try_claim(&self, max: usize, lease: Duration) -> Result<Vec<Delivery>> {
        let now = now_ms();
        self.sweep(now).await?;
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let due = now.saturating_add(millis(lease));
        let mut rows: Vec<(i64, i64, i64, i64, String)> = if self.inner.opts.quotas.limits_tasks() {
            self.claim_within_quotas(limit, due).await?
        } else {
            sqlx::query_as(CLAIM_SQL)
                .bind(due)
                .bind(limit)
                .fetch_all(&self.inner.db.writer)
                .await
                .map_err(db_err)?
        };
        // RETURNING order is unspecified.
        rows.sort_unstable_by_key(|&(id, priority, tag, _, _)| (Reverse(priority), tag, id));
        let mut out = Vec::with_capacity(rows.len());
        for (id, _, _, attempt, payload) in rows {
            let lease = token(id, attempt);
            match serde_json::from_str::<Task>(&payload) {
                Ok(task) => out.push(Delivery {
                    lease,
                    task,
                    attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                }),
                Err(e) => {
                    // A payload this build cannot read would fail forever: park it with the reason
                    // instead of letting it cycle through leases.
                    tracing::warn!(row = id, error = %e, "queue: undecodable task dead-lettered");
                    self.dead_letter(&lease, &format!("undecodable task payload: {e}"))
                        .await?;
                }
            }
        }
        Ok(out)
    }
}

impl EmbeddedQueue {
    /// One claim under the running-tasks quota, in one write transaction: leased counts per
    /// org, candidates in claim order without the orgs at their limit, then the lease of those
    /// that fit their org's remaining room. A claim may so return fewer than `limit` tasks while
    /// more are ready (they belong to orgs at their limit).
    async fn claim_within_quotas(
        &self,
        limit: i64,
        due: i64,
    ) -> Result<Vec<(i64, i64, i64, i64, String)>> {
        let quotas = &self.inner.opts.quotas;
        let mut tx = self.inner.db.writer.begin().await.map_err(db_err)?;
        let leased: Vec<(String, i64)> = sqlx::query_as(LEASED_BY_ORG_SQL)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let mut room: HashMap<String, i64> = HashMap::new();
        let mut full: Vec<String> = Vec::new();
        for (org, n) in leased {
            if let Some(max) = quotas.running_tasks(&org) {
                let left = i64::from(max) - n;
                if left <= 0 {
                    full.push(org);
                } else {
                    room.insert(org, left);
                }
            }
        }
        let full_json = serde_json::to_string(&full)
            .map_err(|e| CoreError::Backend(format!("queue: cannot encode orgs: {e}")))?;
        let candidates: Vec<(i64, String)> = sqlx::query_as(CANDIDATES_SQL)
            .bind(full_json)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let mut chosen = Vec::with_capacity(candidates.len());
        for (id, org) in candidates {
            let Some(max) = quotas.running_tasks(&org) else {
                chosen.push(id);
                continue;
            };
            let left = room.entry(org).or_insert(i64::from(max));
            if *left > 0 {
                *left -= 1;
                chosen.push(id);
            }
        }
        if chosen.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(&chosen)
            .map_err(|e| CoreError::Backend(format!("queue: cannot encode ids: {e}")))?;
        let rows = sqlx::query_as(LEASE_IDS_SQL)
            .bind(due)
            .bind(ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(rows)
    }
}

/// Gives `tasks` their fair-share tags (see the module docs): per scan and priority, in input
/// order, consecutive tags after `max(scan's last tag, virtual time)`; records each scan's new
/// last tag. Runs inside the caller's transaction, so tags and rows commit together.
async fn assign_tags(conn: &mut SqliteConnection, tasks: &[&Task]) -> Result<Vec<i64>> {
    let mut next: HashMap<(ScanId, i64), i64> = HashMap::new();
    let mut tags = Vec::with_capacity(tasks.len());
    for t in tasks {
        let priority = i64::from(t.priority.rank());
        let key = (t.scan_id, priority);
        let tag = match next.get(&key) {
            Some(last) => last + 1,
            None => {
                let vtime: i64 = sqlx::query_scalar(VTIME_SQL)
                    .bind(priority)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let last: Option<i64> = sqlx::query_scalar(LAST_TAG_SQL)
                    .bind(t.scan_id.to_string())
                    .bind(priority)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
                last.unwrap_or(0).max(vtime) + 1
            }
        };
        next.insert(key, tag);
        tags.push(tag);
    }
    for ((scan, priority), last) in next {
        sqlx::query(SET_TAG_SQL)
            .bind(scan.to_string())
            .bind(priority)
            .bind(last)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(tags)
}

/// Inserts `tasks` as ready rows through `conn` (the caller owns the transaction); a task
/// already on the queue is skipped. Returns how many rows were added.
async fn insert_rows(conn: &mut SqliteConnection, tasks: &[&Task]) -> Result<u64> {
    let mut added = 0;
    let tags = assign_tags(conn, tasks).await?;
    for (chunk, chunk_tags) in tasks.chunks(ENQUEUE.max()).zip(tags.chunks(ENQUEUE.max())) {
        let (sql, n) = ENQUEUE.get(chunk.len());
        let mut q = sqlx::query(sql);
        for (t, tag) in chunk.iter().zip(chunk_tags) {
            q = bind_row(q, t, *tag)?;
        }
        // Padding: rows with the last task's id, dropped by the conflict clause (that id is in
        // the table by then, inserted by this statement or before it).
        if let Some(t) = chunk.last() {
            let id = t.id.to_string();
            for _ in chunk.len()..n {
                q = q
                    .bind(id.clone())
                    .bind("")
                    .bind(0i64)
                    .bind("")
                    .bind(0i64)
                    .bind("");
            }
        }
        added += q.execute(&mut *conn).await.map_err(db_err)?.rows_affected();
    }
    Ok(added)
}

type Insert<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds one task's row of [`ENQUEUE`].
fn bind_row<'q>(q: Insert<'q>, t: &Task, tag: i64) -> Result<Insert<'q>> {
    let payload = serde_json::to_string(t)
        .map_err(|e| CoreError::Backend(format!("queue: cannot encode task: {e}")))?;
    Ok(q.bind(t.id.to_string())
        .bind(t.scan_id.to_string())
        .bind(i64::from(t.priority.rank()))
        .bind(payload)
        .bind(tag)
        .bind(t.org_id.to_string()))
}

/// The store side of the same database: new tasks go onto the queue in the ledger's own
/// transaction (see [`InlineQueue`]).
#[async_trait]
impl InlineQueue for EmbeddedQueue {
    async fn enqueue_in(&self, conn: &mut SqliteConnection, tasks: &[&Task]) -> Result<u64> {
        insert_rows(conn, tasks).await
    }

    fn committed(&self) {
        self.inner.ready.notify_waiters();
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn enqueue(&self, tasks: &[Task]) -> Result<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        let mut tx = self.inner.db.writer.begin().await.map_err(db_err)?;
        let refs: Vec<&Task> = tasks.iter().collect();
        let added = insert_rows(&mut tx, &refs).await?;
        tx.commit().await.map_err(db_err)?;
        if added > 0 {
            self.inner.ready.notify_waiters();
        }
        Ok(())
    }

    async fn claim(&self, max: usize, lease: Duration, wait: Duration) -> Result<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        // A `wait` too large to add (Duration::MAX) means "a year": as good as forever.
        let deadline = Instant::now()
            .checked_add(wait)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
        loop {
            // Register for the wake-up before looking, so an enqueue between the look and the
            // sleep is not missed.
            let notified = self.inner.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let got = self.try_claim(max, lease).await?;
            let now = Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            // Sleep until woken, the poll interval, the deadline, or a known delayed retry's due
            // time, whichever comes first.
            let until_due = self
                .inner
                .due_hint
                .load(Ordering::SeqCst)
                .saturating_sub(now_ms());
            let nap =
                (deadline - now)
                    .min(self.inner.opts.poll_interval)
                    .min(Duration::from_millis(
                        u64::try_from(until_due).unwrap_or(0).max(1),
                    ));
            let _waiting = Waiting::enter(&self.inner.waiting);
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(nap) => {}
            }
        }
    }

    async fn renew(&self, leases: &[LeaseToken], lease: Duration) -> Result<()> {
        if leases.is_empty() {
            return Ok(());
        }
        sqlx::query(RENEW_SQL)
            .bind(tokens_json(leases)?)
            .bind(now_ms().saturating_add(millis(lease)))
            .execute(&self.inner.db.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn ack(&self, leases: &[LeaseToken]) -> Result<()> {
        if leases.is_empty() {
            return Ok(());
        }
        sqlx::query(ACK_SQL)
            .bind(tokens_json(leases)?)
            .execute(&self.inner.db.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn retry(&self, lease: &LeaseToken, delay: Duration) -> Result<()> {
        let due = now_ms().saturating_add(millis(delay));
        let state = if delay.is_zero() { READY } else { DELAYED };
        let done = sqlx::query(RETRY_SQL)
            .bind(tag(lease))
            .bind(generation(lease))
            .bind(state)
            .bind(due)
            .execute(&self.inner.db.writer)
            .await
            .map_err(db_err)?;
        if done.rows_affected() > 0 {
            if state == READY {
                self.inner.ready.notify_waiters();
            } else {
                // Sweep (and wake sleeping claimers) as soon as it falls due.
                self.inner.due_hint.fetch_min(due, Ordering::SeqCst);
            }
        }
        Ok(())
    }

    async fn dead_letter(&self, lease: &LeaseToken, error: &str) -> Result<()> {
        sqlx::query(DEAD_SQL)
            .bind(tag(lease))
            .bind(generation(lease))
            .bind(error)
            .execute(&self.inner.db.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn purge_scan(&self, scan: ScanId, limit: u32) -> Result<u64> {
        let done = sqlx::query(PURGE_SQL)
            .bind(scan.to_string())
            .bind(i64::from(limit.max(1)))
            .execute(&self.inner.db.writer)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            // Nothing of the ended scan is queued any more: forget its fair-share clock.
            sqlx::query(FORGET_SCAN_SQL)
                .bind(scan.to_string())
                .execute(&self.inner.db.writer)
                .await
                .map_err(db_err)?;
        }
        Ok(done.rows_affected())
    }

    async fn depth(&self) -> Result<QueueDepth> {
        let (ready, timed, leased, dead): (i64, i64, i64, i64) = sqlx::query_as(DEPTH_SQL)
            .bind(now_ms())
            .fetch_one(&self.inner.db.reader)
            .await
            .map_err(db_err)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(QueueDepth {
            ready: count(ready) + count(timed).saturating_sub(count(leased)),
            leased: count(leased),
            dead: count(dead),
        })
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1 FROM queue_tasks LIMIT 1")
            .fetch_optional(&self.inner.db.reader)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

/// Counts a sleeping claimer for as long as it sleeps.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn token(id: i64, attempt: i64) -> LeaseToken {
    LeaseToken {
        tag: u64::try_from(id).unwrap_or(0),
        generation: u64::try_from(attempt).unwrap_or(0),
    }
}

// Tokens that do not fit an i64 were not issued by this queue; -1 matches no row.
fn tag(lease: &LeaseToken) -> i64 {
    i64::try_from(lease.tag).unwrap_or(-1)
}

fn generation(lease: &LeaseToken) -> i64 {
    i64::try_from(lease.generation).unwrap_or(-1)
}

fn tokens_json(leases: &[LeaseToken]) -> Result<String> {
    let pairs: Vec<(i64, i64)> = leases.iter().map(|l| (tag(l), generation(l))).collect();
    serde_json::to_string(&pairs)
        .map_err(|e| CoreError::Backend(format!("queue: cannot encode lease tokens: {e}")))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Maps database errors to the caller's choices: retry later (`Unavailable`) or give up.
fn db_err(e: sqlx::Error) -> CoreError {
    let busy = e
        .as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<i32>().ok())
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), including their extended codes.
        .is_some_and(|c| matches!(c & 0xff, 5 | 6));
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            CoreError::Unavailable {
                what: "queue database",
                message: e.to_string(),
            }
        }
        _ if busy => CoreError::Unavailable {
            what: "queue database",
            message: e.to_string(),
        },
        _ => CoreError::Backend(format!("queue: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every hot-path statement is served by an index (on the SQLite version actually linked),
    /// so its cost does not grow with the queue's length; token matching looks rows up by
    /// primary key. `PURGE_SQL` is deliberately left out: it runs once per stopped scan, and
    /// the index it would need cost more on every enqueue and ack (migration 1002).
    #[tokio::test]
    async fn statements_use_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("q.db")).await.unwrap();
        let q = EmbeddedQueue::new(db).await.unwrap();
        let all = [
            ENQUEUE.get(ENQUEUE.max()).0,
            SWEEP_SQL,
            RELEASE_SQL,
            CLAIM_SQL,
            VTIME_SQL,
            LAST_TAG_SQL,
            SET_TAG_SQL,
            LEASED_BY_ORG_SQL,
            CANDIDATES_SQL,
            LEASE_IDS_SQL,
            ACK_SQL,
            RENEW_SQL,
            RETRY_SQL,
            DEAD_SQL,
            DEPTH_SQL,
        ];
        for sql in all {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .fetch_all(&q.db().writer)
                    .await
                    .unwrap();
            let details: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
            for d in &details {
                // `queue_tasks` and its alias `q`.
                let full_scan = d.starts_with("SCAN q") && !d.contains("INDEX");
                assert!(!full_scan, "{sql}\nscans the table: {details:?}");
            }
            if sql == ACK_SQL || sql == RENEW_SQL {
                assert!(
                    details.contains(&"SEARCH q USING INTEGER PRIMARY KEY (rowid=?)"),
                    "{sql}\ndoes not look tokens up by id: {details:?}"
                );
            }
        }
    }
}
