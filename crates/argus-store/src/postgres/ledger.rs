//! [`PgStore`]'s `LedgerStore`: the task ledger: the relay's pending tasks, publication marks,
//! finished tasks and `record`, which runs the rules of `crate::plan`.
//!
//! The semantics every backend keeps are in `argus_core::store`; this backend's choices and
//! its locking are in the module docs of `store.rs`.

use super::rows::*;
use super::{PgStore, RELAY_LEASE};
use crate::plan::{Admit, CounterDelta, FailedRow, RecordPlan, ScanFacts};
use argus_core::scan::ScanState;
use argus_core::store::RecordOutcome;
use argus_core::task::{Task, TaskReport};
use argus_core::{CoreError, OrgId, Result, ScanId, TaskId};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

use super::store::*;
use argus_core::store::LedgerStore;

impl PgStore {
    /// Writes relay marks for tasks `record` added as `published`: one mark per scan and
    /// [`MARK_CHUNK`] tasks, listing them in input order, owned by this instance (see "Relay
    /// marks" in the module docs).
    pub(super) async fn insert_marks(
        &self,
        c: &mut PgConnection,
        kept: &[(Uuid, Uuid)],
    ) -> PgResult<()> {
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
    pub(super) async fn mark_published_tx(&self, ids: &[Uuid]) -> PgResult<()> {
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
    pub(super) async fn record_tx(&self, reports: &[TaskReport]) -> PgResult<RecordOutcome> {
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
                 s.v_clean, s.v_malicious, s.v_suspicious, s.v_error, s.v_skipped, \
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
            let keys: Vec<String> = new_findings.iter().map(|f| f.target.key()).collect();
            // Input order: of duplicates within the batch, the first one is kept. The org's
            // triage memory for (target, fingerprint) gives `previous_triage`, and the starting
            // triage when it carries over (see `argus_core::store::FindingStore`).
            let rows: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(&format!(
                "INSERT INTO findings (id, scan_id, org_id, task_id, scanner, kind, severity, \
                     title, description, target, location, fingerprint, data, secret, triage, \
                     previous_triage, created_at, updated_at) \
                 SELECT u.id, u.scan_id, u.org_id, u.task_id, u.scanner, u.kind, u.severity, \
                     u.title, u.description, u.target::json, u.location::json, u.fingerprint, \
                     u.data::json, u.secret::json, \
                     CASE WHEN m.triage IN {carried} THEN m.triage ELSE 'open' END, m.triage, \
                     $1, $1 \
                 FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::text[], \
                         $7::text[], $8::int2[], $9::text[], $10::text[], $11::text[], \
                         $12::text[], $13::text[], $14::text[], $15::text[], $16::text[]) \
                     WITH ORDINALITY AS u(id, scan_id, org_id, task_id, scanner, kind, severity, \
                         title, description, target, location, fingerprint, data, secret, \
                         target_key, ord) \
                 LEFT JOIN triage_memory m ON m.org_id = u.org_id \
                     AND m.target_key = u.target_key AND m.fingerprint = u.fingerprint \
                 ORDER BY u.ord \
                 ON CONFLICT DO NOTHING RETURNING id, triage, previous_triage",
                carried = crate::plan::CARRIED_TRIAGE_SQL,
            ))
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
            .bind(&keys)
            .fetch_all(&mut *tx)
            .await?;
            let mut inserted: HashMap<Uuid, (String, Option<String>)> = rows
                .into_iter()
                .map(|(id, triage, previous)| (id, (triage, previous)))
                .collect();
            new_findings.retain(|f| inserted.contains_key(&f.id.0));
            for f in &mut new_findings {
                if let Some((triage, previous)) = inserted.remove(&f.id.0) {
                    crate::plan::remembered(f, &triage, previous.as_deref())?;
                }
            }
        }
        plan.findings_inserted(&new_findings);

        // 3b. Verdicts of live scans, idempotent on (scan, key); only inserted ones count.
        let verdicts = plan.verdicts(reports);
        if !verdicts.is_empty() {
            let mut v_scans = Vec::with_capacity(verdicts.len());
            let mut keys = Vec::with_capacity(verdicts.len());
            let mut orgs = Vec::with_capacity(verdicts.len());
            let mut tasks = Vec::with_capacity(verdicts.len());
            let mut kinds = Vec::with_capacity(verdicts.len());
            let mut bodies = Vec::with_capacity(verdicts.len());
            for (scan, org, task, v) in &verdicts {
                v_scans.push(scan.0);
                keys.push(v.key.as_str());
                orgs.push(org.as_str().to_owned());
                tasks.push(task.0);
                kinds.push(v.verdict.as_str());
                bodies.push(to_json(v)?);
            }
            let rows: Vec<(Uuid, String)> = sqlx::query_as(
                "INSERT INTO verdicts (scan_id, key, org_id, task_id, verdict, body, created_at) \
                 SELECT u.scan_id, u.key, u.org_id, u.task_id, u.verdict, u.body::json, $1 \
                 FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[], \
                         $7::text[]) \
                     WITH ORDINALITY AS u(scan_id, key, org_id, task_id, verdict, body, ord) \
                 ORDER BY u.ord \
                 ON CONFLICT DO NOTHING RETURNING scan_id, verdict",
            )
            .bind(now)
            .bind(&v_scans)
            .bind(&keys)
            .bind(&orgs)
            .bind(&tasks)
            .bind(&kinds)
            .bind(&bodies)
            .fetch_all(&mut *tx)
            .await?;
            for (scan, kind) in rows {
                let kind = argus_core::detector::VerdictKind::parse(&kind)
                    .ok_or_else(|| CoreError::Backend("corrupt verdict in database".into()))?;
                plan.verdict_inserted(ScanId(scan), kind);
            }
            for d in plan.counters().iter().filter(|d| !d.verdicts.is_empty()) {
                let v = &d.verdicts;
                sqlx::query(
                    "UPDATE scans SET v_clean = v_clean + $1, v_malicious = v_malicious + $2, \
                         v_suspicious = v_suspicious + $3, v_error = v_error + $4, \
                         v_skipped = v_skipped + $5 WHERE id = $6",
                )
                .bind(i64_of(v.clean))
                .bind(i64_of(v.malicious))
                .bind(i64_of(v.suspicious))
                .bind(i64_of(v.error))
                .bind(i64_of(v.skipped))
                .bind(d.scan_id.0)
                .execute(&mut *tx)
                .await?;
            }
        }

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
    /// Pending tasks (relay marks, then pending rows) under the relay lease; of one scan only
    /// when `scan` is given (the fair relay's per-scan window).
    pub(super) async fn pending_tasks_leased(
        &self,
        limit: u32,
        scan: Option<Uuid>,
    ) -> PgResult<Vec<Task>> {
        let _one_at_a_time = self.relay.gate.lock().await;
        let limit_n = limit as usize;
        let mut tx = self.pool.begin().await?;

        // 1. Relay marks: this instance's own, and those whose lease ran out (their owner
        //    crashed or stalled); oldest first, as many as `limit` tasks fill (at least one).
        let candidates: Vec<(Uuid, i32, bool)> = match scan {
            None => {
                sqlx::query_as(
                    "SELECT id, task_count, \
                         (relay_owner <> $1 OR relay_until < now() + make_interval(secs => $2)) \
                     FROM relay_marks WHERE relay_owner = $1 OR relay_until < now() \
                     ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
                )
                .bind(self.relay.owner)
                .bind(RELAY_LEASE.as_secs_f64() / 2.0)
                .bind(MARKS_PER_PASS)
                .fetch_all(&mut *tx)
                .await?
            }
            Some(scan) => {
                sqlx::query_as(
                    "SELECT id, task_count, \
                         (relay_owner <> $1 OR relay_until < now() + make_interval(secs => $2)) \
                     FROM relay_marks WHERE scan_id = $4 \
                         AND (relay_owner = $1 OR relay_until < now()) \
                     ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
                )
                .bind(self.relay.owner)
                .bind(RELAY_LEASE.as_secs_f64() / 2.0)
                .bind(MARKS_PER_PASS)
                .bind(scan)
                .fetch_all(&mut *tx)
                .await?
            }
        };
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
            // One scan: its own pending index (`scan_id, seq`), oldest first.
            let sql = if scan.is_some() {
                PENDING_OF_SCAN
            } else {
                PENDING_ANY
            };
            let mut q = sqlx::query(sql)
                .bind(i64::try_from(room).unwrap_or(i64::MAX))
                .bind(self.relay.owner)
                .bind(RELAY_LEASE.as_secs_f64());
            if let Some(scan) = scan {
                q = q.bind(scan);
            }
            let rows = q.fetch_all(&mut *tx).await?;
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
}

/// Pending rows of any live scan, priority then FIFO, under the relay lease.
const PENDING_ANY: &str = "WITH picked AS ( \
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
     t.max_attempts, t.params, t.enum_state, t.seq";

/// Pending rows of scan `$4` (its own index, `scan_tasks_pending_scan`), oldest first, under
/// the relay lease.
const PENDING_OF_SCAN: &str = "WITH picked AS ( \
     SELECT id FROM scan_tasks \
     WHERE scan_id = $4 AND pending_rank IS NOT NULL \
         AND (relay_until IS NULL OR relay_until < now() OR relay_owner = $2) \
         AND EXISTS (SELECT 1 FROM scans s WHERE s.id = $4 \
             AND s.state IN ('queued', 'running', 'paused')) \
     ORDER BY seq LIMIT $1 \
     FOR UPDATE SKIP LOCKED) \
 UPDATE scan_tasks AS t \
 SET relay_owner = $2, relay_until = now() + make_interval(secs => $3) \
 FROM picked WHERE t.id = picked.id \
 RETURNING t.id, t.scan_id, t.org_id, t.scanner, t.target, t.depth, t.priority, \
     t.max_attempts, t.params, t.enum_state, t.seq";

#[async_trait]
impl LedgerStore for PgStore {
    async fn pending_tasks(&self, limit: u32) -> Result<Vec<Task>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        lift(self.pending_tasks_leased(limit, None)).await
    }
    async fn pending_scans(&self) -> Result<Vec<(ScanId, OrgId)>> {
        lift(async {
            // Live scans (a small index), then one probe each of the per-scan pending index
            // and of the marks (this instance's, or any whose lease ran out).
            let rows: Vec<(Uuid, String)> = sqlx::query_as(
                "SELECT s.id, s.org_id FROM scans s WHERE s.state IN ('queued', 'running') \
                 AND (EXISTS (SELECT 1 FROM scan_tasks t WHERE t.scan_id = s.id \
                         AND t.pending_rank IS NOT NULL) \
                     OR EXISTS (SELECT 1 FROM relay_marks m WHERE m.scan_id = s.id \
                         AND (m.relay_owner = $1 OR m.relay_until < now()))) \
                 ORDER BY s.id",
            )
            .bind(self.relay.owner)
            .fetch_all(&self.pool)
            .await?;
            rows.into_iter()
                .map(|(scan, org)| Ok((ScanId(scan), OrgId::parse(&org)?)))
                .collect()
        })
        .await
    }
    async fn pending_tasks_of(&self, scan: ScanId, limit: u32) -> Result<Vec<Task>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        lift(self.pending_tasks_leased(limit, Some(scan.0))).await
    }
    async fn in_flight_tasks(&self, ids: &[TaskId]) -> Result<Vec<TaskId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        lift(async {
            let rows: Vec<Uuid> = sqlx::query_scalar(
                "SELECT t.id FROM scan_tasks t JOIN scans s ON s.id = t.scan_id \
                 WHERE t.id = ANY($1) AND t.status = 'published' \
                     AND s.state IN ('queued', 'running', 'paused')",
            )
            .bind(uuids(ids, |t| t.0))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.into_iter().map(TaskId).collect())
        })
        .await
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
}
