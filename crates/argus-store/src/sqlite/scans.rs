//! [`SqliteStore`]'s `ScanStore`: scan records, their lifecycle (start, pause, resume, stop,
//! finish, delete) and the batched clean-up of ended and deleted scans.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use crate::plan::NewEvent;
use argus_core::event::Event;
use argus_core::finding::Page;
use argus_core::scan::{NewScan, Scan, ScanAction, ScanConfig, ScanState};
use argus_core::store::{Cleanup, ScanQuery, Transition};
use argus_core::task::Task;
use argus_core::{now_ms, CoreError, OrgId, Result, ScanId};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::store::*;
use argus_core::store::ScanStore;

#[async_trait]
impl ScanStore for SqliteStore {
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
                ("verdicts", "rowid"),
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
        sqlx::query("DELETE FROM scan_cleanups WHERE scan_id = ?1 AND deleted = ?2")
            .bind(cleanup.scan_id.to_string())
            .bind(i64::from(cleanup.deleted))
            .execute(&self.db.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }
    async fn create_scan(&self, scan: NewScan) -> Result<Scan> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO scans (id, org_id, user_id, name, config, template_id, state, \
                 created_at, updated_at, source_scan_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'created', ?7, ?7, ?8) RETURNING {SCAN_COLS}"
        ))
        .bind(scan.id.to_string())
        .bind(scan.org.as_str())
        .bind(scan.user.as_str())
        .bind(&scan.name)
        .bind(to_json(&scan.config)?)
        .bind(scan.template_id.map(|t| t.to_string()))
        .bind(now)
        .bind(scan.source_scan_id.map(|s| s.to_string()))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let created = scan_from_row(&row)?;
        // The `created` lifecycle step, committed with the scan (forwarded to sinks as such).
        insert_events(
            &mut tx,
            vec![NewEvent::created(created.id, &created.org_id)],
            now,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
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
        if let Some(source) = query.source_scan_id {
            qb.push(" AND source_scan_id = ")
                .push_bind(source.to_string());
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
        let items = rows.iter().map(scan_from_row).collect::<Result<Vec<_>>>()?;
        Ok(crate::cursor::page(items, limit, Cursor::after_scan))
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
    async fn set_scan_trace(&self, org: &OrgId, id: ScanId, traceparent: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE scans SET trace = ?1 WHERE id = ?2 AND org_id = ?3 AND state = 'created'",
        )
        .bind(traceparent)
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
        let reason = match action {
            ScanAction::Stop => Some("stopped"),
            ScanAction::ForceStop => Some(argus_core::scan::FORCE_STOPPED),
            _ => None,
        };
        let stops = matches!(action, ScanAction::Stop | ScanAction::ForceStop);
        let finished = stops.then_some(now);
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
            // A forced stop waits for nobody either: a worker that is gone never reports, and
            // one that reports late is not counted (`record` counts only live scans).
            ScanAction::Stop | ScanAction::ForceStop => {
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
    async fn check_stuck(&self, stuck_after: std::time::Duration) -> Result<Vec<Event>> {
        let now = now_ms();
        let cutoff = now.saturating_sub(i64::try_from(stuck_after.as_millis()).unwrap_or(i64::MAX));
        // BEGIN IMMEDIATE: no `record` commits between the reads and the updates below.
        let mut tx = self.begin().await?;
        let mut evs = Vec::new();
        // Over first: a flagged scan that moved, or left queued/running, is unflagged.
        let over = sqlx::query(
            "SELECT id, org_id, stuck_since FROM scans WHERE stuck_since IS NOT NULL \
                 AND (state NOT IN ('queued', 'running') OR updated_at > stuck_since) \
             ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        for r in &over {
            let id = scan_of(r, "id")?;
            let org = OrgId::parse(&r.try_get::<String, _>(1).map_err(db_err)?)
                .map_err(|_| CoreError::Backend("corrupt org id in database".into()))?;
            let since: i64 = r.try_get(2).map_err(db_err)?;
            sqlx::query(
                "UPDATE scans SET stuck_since = NULL, \
                     reason = CASE WHEN reason LIKE ?1 || '%' THEN NULL ELSE reason END \
                 WHERE id = ?2",
            )
            .bind(argus_core::scan::STUCK_REASON_PREFIX)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            evs.push(NewEvent::unstuck(id, &org, ms_to_time(since)));
        }
        // Then the newly stuck: queued or running, not flagged, quiet since before the cutoff.
        let stuck = sqlx::query(
            "SELECT id, org_id, updated_at FROM scans WHERE state IN ('queued', 'running') \
                 AND stuck_since IS NULL AND updated_at < ?1 ORDER BY id",
        )
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        for r in &stuck {
            let id = scan_of(r, "id")?;
            let org = OrgId::parse(&r.try_get::<String, _>(1).map_err(db_err)?)
                .map_err(|_| CoreError::Backend("corrupt org id in database".into()))?;
            let since: i64 = r.try_get(2).map_err(db_err)?;
            let since_t = ms_to_time(since);
            sqlx::query(
                "UPDATE scans SET stuck_since = ?1, reason = COALESCE(reason, ?2) WHERE id = ?3",
            )
            .bind(since)
            .bind(argus_core::scan::stuck_reason(since_t))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            evs.push(NewEvent::stuck(id, &org, since_t));
        }
        let events = insert_events(&mut tx, evs, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(events)
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
}
