//! [`PgStore`]'s `ScanStore`: scan records, their lifecycle (start, pause, resume, stop, finish,
//! delete) and the batched clean-up of ended and deleted scans.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use super::PgStore;
use crate::plan::NewEvent;
use argus_core::event::Event;
use argus_core::finding::Page;
use argus_core::scan::{NewScan, Scan, ScanAction, ScanConfig, ScanState};
use argus_core::store::{Cleanup, ScanQuery, Transition};
use argus_core::task::Task;
use argus_core::{CoreError, OrgId, Result, ScanId};
use async_trait::async_trait;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::store::*;
use argus_core::store::ScanStore;

impl PgStore {
    pub(super) async fn create_scan_tx(&self, scan: &NewScan) -> PgResult<Scan> {
        let now = now_ts();
        let mut tx = self.pool.begin().await?;
        if let Some(source) = scan.source_scan_id {
            // Retention (`expire_scan`) must not delete a source a derived scan is being made
            // of: hold it until this scan is committed (the lock order puts scan rows first).
            sqlx::query("SELECT 1 FROM scans WHERE id = $1 AND org_id = $2 FOR KEY SHARE")
                .bind(source.0)
                .bind(scan.org.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        }
        let row = sqlx::query(&format!(
            "INSERT INTO scans (id, org_id, user_id, name, config, template_id, state, \
                 created_at, updated_at, source_scan_id) \
             VALUES ($1, $2, $3, $4, $5::json, $6, 'created', $7, $7, $8) \
             RETURNING {SCAN_COLS}"
        ))
        .bind(scan.id.0)
        .bind(scan.org.as_str())
        .bind(scan.user.as_str())
        .bind(&scan.name)
        .bind(to_json(&scan.config)?)
        .bind(scan.template_id.map(|t| t.0))
        .bind(now)
        .bind(scan.source_scan_id.map(|s| s.0))
        .fetch_one(&mut *tx)
        .await?;
        let created = scan_from_row(&row)?;
        // The `created` lifecycle step, committed with the scan (forwarded to sinks as such);
        // the event lock comes last, after the new scan row (see the lock order in store.rs).
        insert_events(
            &mut tx,
            vec![NewEvent::created(created.id, &created.org_id)],
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }
    pub(super) async fn update_scan_tx(
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
    pub(super) async fn delete_scan_tx(&self, org: &OrgId, id: ScanId) -> PgResult<()> {
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
    pub(super) async fn start_scan_tx(
        &self,
        org: &OrgId,
        id: ScanId,
        tasks: &[Task],
    ) -> PgResult<Transition> {
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
    pub(super) async fn apply_action_tx(
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
        let reason = match action {
            ScanAction::Stop => Some("stopped"),
            ScanAction::ForceStop => Some(argus_core::scan::FORCE_STOPPED),
            _ => None,
        };
        let stops = matches!(action, ScanAction::Stop | ScanAction::ForceStop);
        let finished = stops.then_some(now);
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
            // A forced stop waits for nobody either: a worker that is gone never reports, and
            // one that reports late is not counted (`record` counts only live scans).
            ScanAction::Stop | ScanAction::ForceStop => {
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
    /// `ScanStore::check_stuck` (see the SQLite store): the flagged and newly stuck scans are
    /// locked in id order, as `record` locks them, and re-checked under the lock.
    pub(super) async fn check_stuck_tx(
        &self,
        stuck_after: std::time::Duration,
    ) -> PgResult<Vec<Event>> {
        let now = now_ts();
        let cutoff = chrono::Duration::from_std(stuck_after)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let mut tx = self.pool.begin().await?;
        let mut evs = Vec::new();
        let over = sqlx::query(
            "WITH old AS ( \
                 SELECT id, stuck_since FROM scans WHERE stuck_since IS NOT NULL \
                     AND (state NOT IN ('queued', 'running') OR updated_at > stuck_since) \
                 ORDER BY id FOR NO KEY UPDATE) \
             UPDATE scans AS s SET stuck_since = NULL, \
                 reason = CASE WHEN s.reason LIKE $1 || '%' THEN NULL ELSE s.reason END \
             FROM old WHERE s.id = old.id \
             RETURNING s.id, s.org_id, old.stuck_since AS since",
        )
        .bind(argus_core::scan::STUCK_REASON_PREFIX)
        .fetch_all(&mut *tx)
        .await?;
        for r in &over {
            evs.push(NewEvent::unstuck(
                ScanId(get(r, "id")?),
                &org(&get::<String>(r, "org_id")?)?,
                get(r, "since")?,
            ));
        }
        let stuck = sqlx::query(
            "SELECT id, org_id, updated_at FROM scans WHERE state IN ('queued', 'running') \
                 AND stuck_since IS NULL AND updated_at < $1 \
             ORDER BY id FOR NO KEY UPDATE",
        )
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
        for r in &stuck {
            let id = ScanId(get(r, "id")?);
            let since: chrono::DateTime<chrono::Utc> = get(r, "updated_at")?;
            // Conditional: a `record` that committed before the lock moved `updated_at`.
            let flagged = sqlx::query(
                "UPDATE scans SET stuck_since = $1, reason = COALESCE(reason, $2) \
                 WHERE id = $3 AND updated_at = $1 AND stuck_since IS NULL \
                     AND state IN ('queued', 'running')",
            )
            .bind(since)
            .bind(argus_core::scan::stuck_reason(since))
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
            if flagged.rows_affected() == 1 {
                evs.push(NewEvent::stuck(
                    id,
                    &org(&get::<String>(r, "org_id")?)?,
                    since,
                ));
            }
        }
        let events = insert_events(&mut tx, evs, now).await?;
        tx.commit().await?;
        Ok(events)
    }
    pub(super) async fn mark_running_tx(&self, ids: &[ScanId]) -> PgResult<Vec<Event>> {
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
    pub(super) async fn finish_scan_tx(
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
}

#[async_trait]
impl ScanStore for PgStore {
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
                for table in ["scan_tasks", "findings", "events", "artifacts", "verdicts"] {
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
    async fn expired_scans(
        &self,
        query: &argus_core::retention::ExpiryQuery,
        limit: u32,
    ) -> Result<Vec<Scan>> {
        self.expired_scans_impl(query, limit).await
    }
    async fn expire_scan(
        &self,
        org: &OrgId,
        id: ScanId,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        self.expire_scan_impl(org, id, before).await
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
    async fn create_scan(&self, scan: NewScan) -> Result<Scan> {
        retrying(|| self.create_scan_tx(&scan)).await
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
            if let Some(source) = query.source_scan_id {
                qb.push(" AND source_scan_id = ").push_bind(source.0);
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
            let items = decode_all(&rows, scan_from_row)?;
            Ok(crate::cursor::page(items, limit, Cursor::after_scan))
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
    async fn set_scan_trace(&self, org: &OrgId, id: ScanId, traceparent: &str) -> Result<()> {
        lift(async {
            sqlx::query(
                "UPDATE scans SET trace = $1 WHERE id = $2 AND org_id = $3 AND state = 'created'",
            )
            .bind(traceparent)
            .bind(id.0)
            .bind(org.as_str())
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
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
    async fn check_stuck(&self, stuck_after: std::time::Duration) -> Result<Vec<Event>> {
        retrying(|| self.check_stuck_tx(stuck_after)).await
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
}
