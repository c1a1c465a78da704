//! [`SqliteStore`]'s `LedgerStore`: the task ledger: the relay's pending tasks, publication marks,
//! finished tasks and `record`, which runs the rules of `crate::plan`.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use crate::plan::{Admit, FailedRow, RecordPlan, ScanFacts};
use argus_core::store::RecordOutcome;
use argus_core::task::{Task, TaskReport};
use argus_core::{now_ms, CoreError, OrgId, Result, ScanId, TaskId};
use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::BTreeMap;

use super::store::*;
use argus_core::store::LedgerStore;

#[async_trait]
impl LedgerStore for SqliteStore {
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
    async fn pending_scans(&self) -> Result<Vec<(ScanId, OrgId)>> {
        // Live scans first (the active index is small), then one probe of the pending index
        // per scan.
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT s.id, s.org_id FROM scans s WHERE s.state IN ('queued', 'running') \
             AND EXISTS (SELECT 1 FROM scan_tasks t INDEXED BY scan_tasks_pending_scan \
                 WHERE t.scan_id = s.id AND t.status = 'pending') \
             ORDER BY s.id",
        )
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(scan, org)| {
                let scan = scan
                    .parse::<ScanId>()
                    .map_err(|_| CoreError::Backend("corrupt scan id in database".into()))?;
                let org = OrgId::parse(&org)
                    .map_err(|_| CoreError::Backend("corrupt org id in database".into()))?;
                Ok((scan, org))
            })
            .collect()
    }
    async fn pending_tasks_of(&self, scan: ScanId, limit: u32) -> Result<Vec<Task>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLS} FROM scan_tasks INDEXED BY scan_tasks_pending_scan \
             WHERE scan_id = ?1 AND status = 'pending' \
             AND EXISTS (SELECT 1 FROM scans s WHERE s.id = ?1 \
                 AND s.state IN ('queued', 'running', 'paused')) \
             ORDER BY rowid LIMIT ?2"
        ))
        .bind(scan.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(task_from_row).collect()
    }
    async fn in_flight_tasks(&self, ids: &[TaskId]) -> Result<Vec<TaskId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT t.id FROM json_each(?1) AS j CROSS JOIN scan_tasks t ON t.id = j.value \
             JOIN scans s ON s.id = t.scan_id \
             WHERE t.status = 'published' AND s.state IN ('queued', 'running', 'paused')",
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
                 v_clean, v_malicious, v_suspicious, v_error, v_skipped, \
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
                        f.target.key(),
                    ])
                })
                .collect();
            // The org's triage memory for (target, fingerprint) gives `previous_triage`, and the
            // starting triage when it carries over (see `argus_core::store::FindingStore`).
            let rows = sqlx::query(&format!(
                "INSERT INTO findings (id, scan_id, org_id, task_id, scanner, kind, severity, title, \
                     description, target, location, fingerprint, data, secret, triage, \
                     previous_triage, created_at, updated_at) \
                 SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4, \
                     j.value->>5, j.value->>6, j.value->>7, j.value->>8, j.value->9, j.value->10, \
                     j.value->>11, j.value->12, j.value->13, \
                     CASE WHEN m.triage IN {carried} THEN m.triage ELSE 'open' END, m.triage, \
                     ?1, ?1 \
                 FROM json_each(?2) AS j LEFT JOIN triage_memory m ON m.org_id = j.value->>2 \
                     AND m.target_key = j.value->>14 AND m.fingerprint = j.value->>11 \
                 WHERE true ORDER BY j.key \
                 ON CONFLICT DO NOTHING RETURNING id, triage, previous_triage",
                carried = crate::plan::CARRIED_TRIAGE_SQL,
            ))
            .bind(now)
            .bind(to_json(&arr)?)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            let mut inserted = std::collections::HashMap::with_capacity(rows.len());
            for r in &rows {
                let id: String = r.try_get(0).map_err(db_err)?;
                let triage: String = r.try_get(1).map_err(db_err)?;
                let previous: Option<String> = r.try_get(2).map_err(db_err)?;
                inserted.insert(id, (triage, previous));
            }
            new_findings.retain(|f| inserted.contains_key(&f.id.to_string()));
            for f in &mut new_findings {
                if let Some((triage, previous)) = inserted.remove(&f.id.to_string()) {
                    crate::plan::remembered(f, &triage, previous.as_deref())?;
                }
            }
        }
        plan.findings_inserted(&new_findings);

        // 3b. Verdicts of live scans, idempotent on (scan, key); only inserted ones count.
        let verdicts = plan.verdicts(&reports);
        if !verdicts.is_empty() {
            let arr: Vec<Value> = verdicts
                .iter()
                .map(|(scan, org, task, v)| {
                    Ok(json!([
                        scan.to_string(),
                        v.key,
                        org.as_str(),
                        task.to_string(),
                        v.verdict.as_str(),
                        to_json(v)?,
                    ]))
                })
                .collect::<Result<_>>()?;
            let rows = sqlx::query(
                "INSERT INTO verdicts (scan_id, key, org_id, task_id, verdict, body, created_at) \
                 SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4, \
                     j.value->>5, ?1 \
                 FROM json_each(?2) AS j WHERE true ORDER BY j.key \
                 ON CONFLICT DO NOTHING RETURNING scan_id, verdict",
            )
            .bind(now)
            .bind(to_json(&arr)?)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            for r in &rows {
                let kind: String = r.try_get(1).map_err(db_err)?;
                let kind = argus_core::detector::VerdictKind::parse(&kind)
                    .ok_or_else(|| CoreError::Backend("corrupt verdict in database".into()))?;
                plan.verdict_inserted(scan_of(r, "scan_id")?, kind);
            }
        }

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
        for d in plan.counters().iter().filter(|d| !d.verdicts.is_empty()) {
            let v = &d.verdicts;
            sqlx::query(
                "UPDATE scans SET v_clean = v_clean + ?1, v_malicious = v_malicious + ?2, \
                     v_suspicious = v_suspicious + ?3, v_error = v_error + ?4, \
                     v_skipped = v_skipped + ?5 WHERE id = ?6",
            )
            .bind(i64_of(v.clean))
            .bind(i64_of(v.malicious))
            .bind(i64_of(v.suspicious))
            .bind(i64_of(v.error))
            .bind(i64_of(v.skipped))
            .bind(d.scan_id.to_string())
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
}
