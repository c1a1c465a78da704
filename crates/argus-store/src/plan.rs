//! The rules of [`Store::record`](argus_core::store::Store::record), once, for every backend.
//!
//! [`RecordPlan`] is pure: it does no I/O. A backend reads facts (the touched scans' rows,
//! which ledger rows a conditional update actually moved, which findings and spawned tasks
//! survived dedup), hands them to the plan, and runs the SQL the plan asks for. The backends
//! keep their own statements and orders (SQLite batches through `json_each` and an inline
//! queue; PostgreSQL settles the ledger before it locks the scans, writes relay marks and
//! draws event ids under an advisory lock); the decisions are made here:
//!
//! - Only **live** scans (not completed, failed or cancelled) change: a report on an ended
//!   scan still settles its ledger rows but counts nothing and adds no findings, spawned tasks
//!   or artifacts (a finished scan's results are frozen at the moment it ended).
//! - A terminal status counts in `done`/`failed` only when the backend's conditional update
//!   moved the row (first time terminal); of two `Failed` reports of one task in a batch, the
//!   first error is kept.
//! - Enumerations: an open enumeration takes its task's latest estimate of sub-tasks still to
//!   come and closes (once) when its task says it is complete or ends; spawned rows that
//!   enumerate open one. `enqueue_done` holds when none is open and `expected_total` (present
//!   once an enumeration was seen) is `enqueued +` what the open ones still expect.
//! - Findings of live scans (validated by the engine where they were emitted) are stored with a
//!   new id, the scan's org and the batch's time;
//!   the store dedups them on `(scan, fingerprint)` and only those it inserted count and are
//!   announced. `max_results`: the batch's findings are all inserted, then the scan completes
//!   with reason `max_results` if its count reached the limit, and the batch's spawned tasks
//!   are not added.
//! - Spawned tasks are admitted while their scan is live, did not just reach `max_results`,
//!   belongs to the task's org, and has room under `max_tasks` (`max_tasks - enqueued`, in
//!   batch order); a task past the room fails the scan with reason `max_tasks: …`. A paused
//!   scan's admitted tasks wait in the ledger for the relay. Only rows the ledger took count
//!   in `enqueued`.
//! - Artifacts of live scans; of two records of one name in a batch the later wins.
//! - Verdicts of live scans, stored once per `(scan, key)` (the first one recorded stays: a
//!   re-delivered task's verdict on the same object is not a second result); only those the
//!   store inserted count in `progress.verdicts`.
//! - Counters move once per scan by the deltas above; every scan that changed gets one
//!   progress event; a live scan then ends as [`ending`] says (`max_tasks`, `max_results`,
//!   completion, or failure when every task failed).
//! - Events come in this order: new findings (batch order), task failures (report order),
//!   then per scan in id order its progress and its state change.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use argus_core::artifact::ArtifactMeta;
use argus_core::detector::{NewVerdict, VerdictCounts};
use argus_core::event::EventData;
use argus_core::finding::{Finding, Triage};
use argus_core::scan::{ending, Progress, ScanState};
use argus_core::task::{Task, TaskReport, TaskStatus};
use argus_core::{FindingId, OrgId, ScanId, TaskId};

/// Most characters of a task's error quoted in its scan's reason.
const MAX_REASON_ERROR: usize = 500;

/// An event to append: ids and times are assigned on insert.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NewEvent {
    pub scan_id: ScanId,
    pub org_id: OrgId,
    pub data: EventData,
}

impl NewEvent {
    /// A scan's state change.
    pub fn state(
        scan: ScanId,
        org: &OrgId,
        from: ScanState,
        to: ScanState,
        reason: Option<&str>,
    ) -> Self {
        NewEvent {
            scan_id: scan,
            org_id: org.clone(),
            data: EventData::State {
                from,
                to,
                reason: reason.map(str::to_owned),
            },
        }
    }

    /// A scan flagged stuck (`ScanStore::check_stuck`).
    pub fn stuck(scan: ScanId, org: &OrgId, since: DateTime<Utc>) -> Self {
        NewEvent {
            scan_id: scan,
            org_id: org.clone(),
            data: EventData::Stuck { since },
        }
    }

    /// A scan's stuck flag cleared.
    pub fn unstuck(scan: ScanId, org: &OrgId, since: DateTime<Utc>) -> Self {
        NewEvent {
            scan_id: scan,
            org_id: org.clone(),
            data: EventData::Unstuck { since },
        }
    }

    /// A new scan's first event: the state change `created → created`, which sinks forward as
    /// the `created` lifecycle step (`argus_core::sink::LifecycleAction::of`).
    pub fn created(scan: ScanId, org: &OrgId) -> Self {
        NewEvent::state(scan, org, ScanState::Created, ScanState::Created, None)
    }
}

/// What the backend read of one touched scan, before this batch changed its counters.
#[derive(Clone, Debug)]
pub(crate) struct ScanFacts {
    pub id: ScanId,
    pub org: OrgId,
    pub state: ScanState,
    pub progress: Progress,
    /// Open enumerations and what they still expect (the `open_enums`, `expect_extra` columns).
    pub open_enums: i64,
    pub expect_extra: i64,
    pub max_results: Option<u64>,
    pub max_tasks: Option<u64>,
}

/// The status changes the reports ask of the ledger; each is conditional in SQL (a terminal row
/// never moves, `parked` only from `pending`/`published`). `(task, its report's scan)`, in
/// report order.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct LedgerWrites {
    pub done: Vec<(TaskId, ScanId)>,
    /// One per task: the first report's error.
    pub failed: Vec<(TaskId, ScanId, String)>,
    pub dropped: Vec<(TaskId, ScanId)>,
    pub parked: Vec<(TaskId, ScanId)>,
}

/// A ledger row the `failed` update moved (first time terminal), as the update returned it.
#[derive(Clone, Debug)]
pub(crate) struct FailedRow {
    pub task_id: TaskId,
    pub scan_id: ScanId,
    pub scanner: String,
    pub target: Value,
    pub error: Option<String>,
}

/// An enumerating task's report that changes its enumeration (if still open in the ledger).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EnumReport {
    pub task_id: TaskId,
    pub scan_id: ScanId,
    /// The task said it is complete, or it ended.
    pub closes: bool,
    pub remaining: Option<u64>,
}

impl EnumReport {
    /// The row's new `(enum_state, expect_remaining)`: closed with nothing expected, or still
    /// open with the latest estimate.
    pub fn next(&self) -> (i16, i64) {
        if self.closes {
            (0, 0)
        } else {
            (1, i64_of(self.remaining.unwrap_or(0)))
        }
    }
}

/// Whether a spawned task goes into the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Not added (scan unknown, ended, at `max_results` or `max_tasks`, or another org's).
    No,
    /// Added; its scan runs, so it may go straight onto a queue.
    Run,
    /// Added; its scan is paused, so it waits in the ledger as `pending`.
    Wait,
}

/// Counter changes of one scan, applied in one update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CounterDelta {
    pub scan_id: ScanId,
    pub done: u64,
    pub failed: u64,
    pub enqueued: u64,
    pub findings: u64,
    pub open_enums: i64,
    pub expect_extra: i64,
    /// An enumeration reported or opened: `expected_total` exists from now on.
    pub enum_touched: bool,
    pub verdicts: VerdictCounts,
}

/// A scan this batch ends, if it is still live when the backend ends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ending {
    pub scan_id: ScanId,
    pub to: ScanState,
    pub reason: Option<String>,
}

/// Per-scan bookkeeping.
#[derive(Debug)]
struct Tally {
    facts: ScanFacts,
    d_done: u64,
    d_failed: u64,
    d_enqueued: u64,
    d_findings: u64,
    d_verdicts: VerdictCounts,
    d_open_enums: i64,
    d_expect_extra: i64,
    enum_touched: bool,
    /// Spawned tasks admitted so far (what `max_tasks` leaves room for).
    admitted: u64,
    hit_max_results: bool,
    hit_max_tasks: bool,
    /// The error of the last task of this batch that failed: a scan whose every task failed
    /// names it in its reason (a clean or push scan has one task; its error is the answer).
    last_error: Option<String>,
    /// Set by [`RecordPlan::endings`].
    progress: Option<Progress>,
}

impl Tally {
    fn live(&self) -> bool {
        !self.facts.state.is_terminal()
    }

    fn changed(&self) -> bool {
        self.d_done + self.d_failed + self.d_enqueued + self.d_findings > 0
            || !self.d_verdicts.is_empty()
            || self.d_open_enums != 0
            || self.enum_touched
    }

    /// The scan's progress once the deltas are applied (as the counter update computes it).
    fn progress(&self) -> Progress {
        let mut p = self.facts.progress.clone();
        if !self.changed() {
            return p;
        }
        p.done += self.d_done;
        p.failed += self.d_failed;
        p.enqueued += self.d_enqueued;
        p.findings += self.d_findings;
        p.verdicts.add(&self.d_verdicts);
        if self.enum_touched {
            p.enqueue_done = self.facts.open_enums + self.d_open_enums == 0;
            let extra = self.facts.expect_extra + self.d_expect_extra;
            p.expected_total = Some(p.enqueued + u64::try_from(extra).unwrap_or(0));
        } else if p.expected_total.is_some() {
            let extra = u64::try_from(self.facts.expect_extra).unwrap_or(0);
            p.expected_total = Some(p.enqueued + extra);
        }
        p
    }
}

/// One `record` batch's decisions (see the module docs). Call order: [`Self::new`], then in any
/// order [`Self::done`], [`Self::failed`], [`Self::enumeration`]; then [`Self::findings`] and
/// [`Self::findings_inserted`] (always, it settles `max_results`); then [`Self::admit`] and
/// [`Self::inserted`] per spawned task; then [`Self::counters`], [`Self::endings`] and
/// [`Self::finish`].
#[derive(Debug)]
pub(crate) struct RecordPlan {
    scans: BTreeMap<ScanId, Tally>,
    /// Report order of each failed task (its first `Failed` report).
    failed_order: HashMap<TaskId, usize>,
    failed_events: Vec<(usize, NewEvent)>,
    finding_events: Vec<NewEvent>,
    spawned: u64,
}

impl RecordPlan {
    /// The scans a batch touches (its reports' and its spawned tasks'), in id order.
    pub fn scan_ids(reports: &[TaskReport]) -> Vec<ScanId> {
        reports
            .iter()
            .map(|r| r.scan_id)
            .chain(
                reports
                    .iter()
                    .flat_map(|r| r.spawned.iter().map(|t| t.scan_id)),
            )
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// The ledger status changes the reports ask for.
    pub fn ledger(reports: &[TaskReport]) -> LedgerWrites {
        let mut w = LedgerWrites::default();
        let mut failed_seen = BTreeSet::new();
        for r in reports {
            let row = (r.task_id, r.scan_id);
            match &r.status {
                TaskStatus::Running => {}
                TaskStatus::Done => w.done.push(row),
                TaskStatus::Failed { error } => {
                    // One row per task: a duplicate must not match the ledger twice.
                    if failed_seen.insert(r.task_id) {
                        w.failed.push((r.task_id, r.scan_id, error.clone()));
                    }
                }
                TaskStatus::Parked => w.parked.push(row),
                TaskStatus::Dropped => w.dropped.push(row),
            }
        }
        w
    }

    /// Reports that change an enumeration: only enumerating tasks (rare, never the no-op hot
    /// path) that report an estimate, say they are complete, or end.
    pub fn enumerations(reports: &[TaskReport]) -> Vec<EnumReport> {
        reports
            .iter()
            .filter(|r| r.enumerates)
            .filter_map(|r| {
                let closes = r.enumeration.is_some_and(|u| u.complete)
                    || matches!(
                        r.status,
                        TaskStatus::Done | TaskStatus::Failed { .. } | TaskStatus::Dropped
                    );
                let remaining = r.enumeration.and_then(|u| u.remaining);
                (closes || remaining.is_some()).then_some(EnumReport {
                    task_id: r.task_id,
                    scan_id: r.scan_id,
                    closes,
                    remaining,
                })
            })
            .collect()
    }

    /// Starts a plan from the touched scans as read (scans not found are simply absent).
    pub fn new(reports: &[TaskReport], facts: impl IntoIterator<Item = ScanFacts>) -> Self {
        let mut failed_order = HashMap::new();
        for (i, r) in reports.iter().enumerate() {
            if matches!(r.status, TaskStatus::Failed { .. }) {
                failed_order.entry(r.task_id).or_insert(i);
            }
        }
        RecordPlan {
            scans: facts
                .into_iter()
                .map(|f| {
                    (
                        f.id,
                        Tally {
                            facts: f,
                            d_done: 0,
                            d_failed: 0,
                            d_enqueued: 0,
                            d_findings: 0,
                            d_verdicts: VerdictCounts::default(),
                            d_open_enums: 0,
                            d_expect_extra: 0,
                            enum_touched: false,
                            admitted: 0,
                            hit_max_results: false,
                            hit_max_tasks: false,
                            last_error: None,
                            progress: None,
                        },
                    )
                })
                .collect(),
            failed_order,
            failed_events: Vec::new(),
            finding_events: Vec::new(),
            spawned: 0,
        }
    }

    fn live_mut(&mut self, scan: ScanId) -> Option<&mut Tally> {
        self.scans.get_mut(&scan).filter(|t| t.live())
    }

    /// `n` ledger rows of `scan` became `done` for the first time.
    pub fn done(&mut self, scan: ScanId, n: u64) {
        if let Some(t) = self.live_mut(scan) {
            t.d_done += n;
        }
    }

    /// A ledger row became `failed` for the first time: counted and announced if its scan is
    /// live.
    pub fn failed(&mut self, row: FailedRow) {
        let order = self
            .failed_order
            .get(&row.task_id)
            .copied()
            .unwrap_or(usize::MAX);
        let Some(t) = self.live_mut(row.scan_id) else {
            return;
        };
        t.d_failed += 1;
        t.last_error.clone_from(&row.error);
        let org = t.facts.org.clone();
        self.failed_events.push((
            order,
            NewEvent {
                scan_id: row.scan_id,
                org_id: org,
                data: EventData::TaskFailed {
                    task_id: row.task_id,
                    scanner: row.scanner,
                    target: row.target,
                    error: row.error,
                },
            },
        ));
    }

    /// An open enumeration, which expected `old` more sub-tasks, was updated as `e.next()`.
    pub fn enumeration(&mut self, e: &EnumReport, old: i64) {
        if let Some(t) = self.scans.get_mut(&e.scan_id) {
            t.d_expect_extra += e.next().1 - old;
            if e.closes {
                t.d_open_enums -= 1;
            }
            t.enum_touched = true;
        }
    }

    /// The findings to insert: those of live scans, stored with a new id, the scan's org and
    /// `now`, in batch order. They were validated where they were emitted (the engine's worker
    /// drops invalid ones), so the store takes them as they are.
    pub fn findings(&self, reports: &[TaskReport], now: DateTime<Utc>) -> Vec<Finding> {
        let mut out = Vec::new();
        for r in reports {
            let Some(t) = self.scans.get(&r.scan_id).filter(|t| t.live()) else {
                continue;
            };
            for f in &r.findings {
                out.push(Finding {
                    id: FindingId::new(),
                    scan_id: r.scan_id,
                    org_id: t.facts.org.clone(),
                    task_id: Some(r.task_id),
                    scanner: r.scanner.clone(),
                    kind: f.kind.clone(),
                    severity: f.severity,
                    title: f.title.clone(),
                    description: f.description.clone(),
                    target: f.target.clone(),
                    location: f.location.clone(),
                    fingerprint: f.fingerprint.clone(),
                    data: f.data.clone(),
                    secret: f.secret.clone(),
                    triage: Triage::Open,
                    previous_triage: None,
                    created_at: now,
                    updated_at: now,
                });
            }
        }
        out
    }

    /// The findings the store inserted (dedup left out the rest), in batch order; settles
    /// `max_results` for every scan, so it is called even when there were none.
    pub fn findings_inserted(&mut self, inserted: &[Finding]) {
        for f in inserted {
            if let Some(t) = self.scans.get_mut(&f.scan_id) {
                t.d_findings += 1;
            }
            self.finding_events.push(NewEvent {
                scan_id: f.scan_id,
                org_id: f.org_id.clone(),
                data: EventData::Finding(Box::new(f.clone())),
            });
        }
        for t in self.scans.values_mut() {
            t.hit_max_results = t.live()
                && t.facts
                    .max_results
                    .is_some_and(|m| t.facts.progress.findings + t.d_findings >= m);
        }
    }

    /// The verdicts to insert: `(scan, its org, task, verdict)` of live scans, in batch order
    /// (the store keeps the first per `(scan, key)`).
    pub fn verdicts<'r>(
        &self,
        reports: &'r [TaskReport],
    ) -> Vec<(ScanId, OrgId, TaskId, &'r NewVerdict)> {
        let mut out = Vec::new();
        for r in reports {
            let Some(t) = self.scans.get(&r.scan_id).filter(|t| t.live()) else {
                continue;
            };
            for v in &r.verdicts {
                out.push((r.scan_id, t.facts.org.clone(), r.task_id, v));
            }
        }
        out
    }

    /// The store inserted a verdict of this kind (dedup left out the others).
    pub fn verdict_inserted(&mut self, scan: ScanId, kind: argus_core::detector::VerdictKind) {
        if let Some(t) = self.scans.get_mut(&scan) {
            *t.d_verdicts.get_mut(kind) += 1;
        }
    }

    /// Whether a spawned task may enter the ledger; asked in batch order (the first ones take
    /// the room `max_tasks` leaves). Asking past the room fails the scan with `max_tasks`.
    pub fn admit(&mut self, task: &Task) -> Admit {
        let Some(t) = self.scans.get_mut(&task.scan_id) else {
            return Admit::No;
        };
        if !t.live() || t.hit_max_results || t.hit_max_tasks || task.org_id != t.facts.org {
            return Admit::No;
        }
        let room = t
            .facts
            .max_tasks
            .map_or(u64::MAX, |m| m.saturating_sub(t.facts.progress.enqueued));
        if t.admitted >= room {
            t.hit_max_tasks = true;
            return Admit::No;
        }
        t.admitted += 1;
        if t.facts.state == ScanState::Paused {
            Admit::Wait
        } else {
            Admit::Run
        }
    }

    /// The ledger took an admitted task (dedup left it in); `enumerates` if it opens an
    /// enumeration.
    pub fn inserted(&mut self, scan: ScanId, enumerates: bool) {
        if let Some(t) = self.scans.get_mut(&scan) {
            t.d_enqueued += 1;
            self.spawned += 1;
            if enumerates {
                t.d_open_enums += 1;
                t.enum_touched = true;
            }
        }
    }

    /// The artifacts to record: `(scan, its org, record)` of live scans, one per name (the
    /// batch's later record wins).
    pub fn artifacts<'r>(
        &self,
        reports: &'r [TaskReport],
    ) -> Vec<(ScanId, OrgId, &'r ArtifactMeta)> {
        let mut by_name: BTreeMap<(ScanId, &str), (OrgId, &ArtifactMeta)> = BTreeMap::new();
        for r in reports {
            let Some(t) = self.scans.get(&r.scan_id).filter(|t| t.live()) else {
                continue;
            };
            for a in &r.artifacts {
                by_name.insert((r.scan_id, a.name.as_str()), (t.facts.org.clone(), a));
            }
        }
        by_name
            .into_iter()
            .map(|((scan, _), (org, a))| (scan, org, a))
            .collect()
    }

    /// Counter changes of every scan that changed, in id order.
    pub fn counters(&self) -> Vec<CounterDelta> {
        self.scans
            .iter()
            .filter(|(_, t)| t.changed())
            .map(|(id, t)| CounterDelta {
                scan_id: *id,
                done: t.d_done,
                failed: t.d_failed,
                enqueued: t.d_enqueued,
                findings: t.d_findings,
                verdicts: t.d_verdicts,
                open_enums: t.d_open_enums,
                expect_extra: t.d_expect_extra,
                enum_touched: t.enum_touched,
            })
            .collect()
    }

    /// The live scans this batch ends, in id order (see [`ending`]).
    pub fn endings(&mut self) -> Vec<Ending> {
        let mut out = Vec::new();
        for (id, t) in &mut self.scans {
            let progress = t.progress();
            let end = if t.live() {
                let limit = t.hit_max_tasks.then(|| t.facts.max_tasks.unwrap_or(0));
                ending(&progress, t.hit_max_results, limit)
            } else {
                None
            };
            t.progress = Some(progress);
            if let Some((to, mut reason)) = end {
                if let (ScanState::Failed, Some(r), Some(e), false) =
                    (to, reason.as_mut(), &t.last_error, t.hit_max_tasks)
                {
                    let e: String = e.chars().take(MAX_REASON_ERROR).collect();
                    r.push_str(&format!("; the last: {e}"));
                }
                out.push(Ending {
                    scan_id: *id,
                    to,
                    reason,
                });
            }
        }
        out
    }

    /// The events to append, in order, given the state events of the endings that took effect;
    /// with the `(scan, state, reason)` of those endings and how many spawned tasks the ledger
    /// took.
    pub fn finish(mut self, ended: Vec<(Ending, NewEvent)>) -> PlanOutcome {
        let mut ended: BTreeMap<ScanId, (Ending, NewEvent)> = ended
            .into_iter()
            .map(|(e, ev)| (e.scan_id, (e, ev)))
            .collect();
        self.failed_events.sort_by_key(|(order, _)| *order);
        let mut events = self.finding_events;
        events.extend(self.failed_events.into_iter().map(|(_, ev)| ev));
        let mut finished = Vec::new();
        for (id, t) in &self.scans {
            if t.changed() {
                let progress = t.progress.clone().unwrap_or_else(|| t.progress());
                events.push(NewEvent {
                    scan_id: *id,
                    org_id: t.facts.org.clone(),
                    data: EventData::Progress(progress),
                });
            }
            if let Some((e, ev)) = ended.remove(id) {
                finished.push((e.scan_id, e.to, e.reason));
                events.push(ev);
            }
        }
        PlanOutcome {
            events,
            finished,
            spawned: self.spawned,
        }
    }
}

/// What a finished plan hands back to the backend.
#[derive(Debug)]
pub(crate) struct PlanOutcome {
    /// Events to append, in order.
    pub events: Vec<NewEvent>,
    /// Scans ended, with their state and reason.
    pub finished: Vec<(ScanId, ScanState, Option<String>)>,
    /// Spawned tasks the ledger took.
    pub spawned: u64,
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::event::EventKind;
    use argus_core::finding::Severity;
    use argus_core::task::EnumerationUpdate;
    use argus_core::testkit::store_suite::{finding, org, task};

    fn facts(id: ScanId, state: ScanState) -> ScanFacts {
        ScanFacts {
            id,
            org: org("org-a"),
            state,
            progress: Progress {
                enqueued: 2,
                done: 0,
                failed: 0,
                expected_total: None,
                enqueue_done: true,
                findings: 0,
                verdicts: Default::default(),
            },
            open_enums: 0,
            expect_extra: 0,
            max_results: None,
            max_tasks: None,
        }
    }

    fn report(t: &Task, status: TaskStatus) -> TaskReport {
        TaskReport::status(t, status)
    }

    fn plan_of(reports: &[TaskReport], f: Vec<ScanFacts>) -> RecordPlan {
        RecordPlan::new(reports, f)
    }

    #[test]
    fn ledger_keeps_first_failure_and_report_order() {
        let s = ScanId::new();
        let (a, b) = (task(s, &org("org-a"), "a"), task(s, &org("org-a"), "b"));
        let reports = vec![
            report(
                &a,
                TaskStatus::Failed {
                    error: "one".into(),
                },
            ),
            report(&b, TaskStatus::Done),
            report(
                &a,
                TaskStatus::Failed {
                    error: "two".into(),
                },
            ),
            report(&b, TaskStatus::Parked),
            report(&a, TaskStatus::Dropped),
            report(&a, TaskStatus::Running),
        ];
        let w = RecordPlan::ledger(&reports);
        assert_eq!(w.failed, vec![(a.id, s, "one".to_owned())]);
        assert_eq!(w.done, vec![(b.id, s)]);
        assert_eq!(w.parked, vec![(b.id, s)]);
        assert_eq!(w.dropped, vec![(a.id, s)]);
    }

    #[test]
    fn ended_scans_count_nothing_and_take_nothing() {
        let s = ScanId::new();
        let o = org("org-a");
        let t = task(s, &o, "a");
        let mut r = report(&t, TaskStatus::Done);
        r.findings = vec![finding("f", Severity::Low)];
        r.spawned = vec![task(s, &o, "child")];
        let reports = vec![r];
        let mut plan = plan_of(&reports, vec![facts(s, ScanState::Cancelled)]);
        plan.done(s, 1);
        assert!(plan.findings(&reports, Utc::now()).is_empty());
        plan.findings_inserted(&[]);
        assert_eq!(plan.admit(&reports[0].spawned[0]), Admit::No);
        assert!(plan.counters().is_empty(), "frozen counters");
        assert!(
            plan.endings().is_empty(),
            "an ended scan does not end again"
        );
        let out = plan.finish(Vec::new());
        assert!(out.events.is_empty());
        assert_eq!(out.spawned, 0);
    }

    #[test]
    fn a_scan_whose_every_task_failed_quotes_the_last_error() {
        let s = ScanId::new();
        let o = org("org-a");
        let t = task(s, &o, "a");
        let long = format!(
            "the push to https://h/r.git was rejected: {}",
            "x".repeat(900)
        );
        let reports = vec![report(
            &t,
            TaskStatus::Failed {
                error: long.clone(),
            },
        )];
        let mut f = facts(s, ScanState::Running);
        f.progress.enqueued = 1;
        let mut plan = plan_of(&reports, vec![f]);
        plan.failed(FailedRow {
            task_id: t.id,
            scan_id: s,
            scanner: "git-push".into(),
            target: Value::Null,
            error: Some(long.clone()),
        });
        let endings = plan.endings();
        assert_eq!(endings.len(), 1);
        assert_eq!(endings[0].to, ScanState::Failed);
        let reason = endings[0].reason.clone().unwrap();
        assert!(reason.starts_with("every task failed (1)"), "{reason}");
        assert!(reason.contains("; the last: the push to https://h/r.git was rejected"));
        assert!(
            reason.len() < long.len(),
            "the error is cut: {}",
            reason.len()
        );
    }

    #[test]
    fn completion_after_last_task_with_events_in_order() {
        let s = ScanId::new();
        let o = org("org-a");
        let (a, b) = (task(s, &o, "a"), task(s, &o, "b"));
        let mut ra = report(&a, TaskStatus::Done);
        ra.findings = vec![finding("f", Severity::High)];
        let rb = report(
            &b,
            TaskStatus::Failed {
                error: "boom".into(),
            },
        );
        let reports = vec![ra, rb];
        let mut f = facts(s, ScanState::Running);
        f.progress.enqueued = 2;
        let mut plan = plan_of(&reports, vec![f]);
        plan.done(s, 1);
        plan.failed(FailedRow {
            task_id: b.id,
            scan_id: s,
            scanner: "noop".into(),
            target: Value::Null,
            error: Some("boom".into()),
        });
        let found = plan.findings(&reports, Utc::now());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].org_id, o);
        plan.findings_inserted(&found);
        let counters = plan.counters();
        assert_eq!(
            counters,
            vec![CounterDelta {
                scan_id: s,
                done: 1,
                failed: 1,
                enqueued: 0,
                findings: 1,
                verdicts: Default::default(),
                open_enums: 0,
                expect_extra: 0,
                enum_touched: false,
            }]
        );
        let endings = plan.endings();
        assert_eq!(
            endings,
            vec![Ending {
                scan_id: s,
                to: ScanState::Completed,
                reason: None
            }]
        );
        let state = NewEvent::state(s, &o, ScanState::Running, ScanState::Completed, None);
        let out = plan.finish(vec![(endings[0].clone(), state.clone())]);
        let kinds: Vec<EventKind> = out.events.iter().map(|e| e.data.kind()).collect();
        assert_eq!(
            kinds,
            vec![
                EventKind::Finding,
                EventKind::TaskFailed,
                EventKind::Progress,
                EventKind::State
            ]
        );
        let EventData::Progress(p) = &out.events[2].data else {
            panic!("a progress event");
        };
        assert_eq!((p.done, p.failed, p.findings), (1, 1, 1));
        assert_eq!(out.events[3], state);
        assert_eq!(out.finished, vec![(s, ScanState::Completed, None)]);
    }

    #[test]
    fn failures_are_announced_in_report_order_and_only_for_live_scans() {
        let (s, gone) = (ScanId::new(), ScanId::new());
        let o = org("org-a");
        let (a, b, c) = (task(s, &o, "a"), task(s, &o, "b"), task(gone, &o, "c"));
        let fail = |t: &Task| report(t, TaskStatus::Failed { error: "x".into() });
        let reports = vec![fail(&a), fail(&b), fail(&c)];
        let mut f = facts(s, ScanState::Running);
        f.progress.enqueued = 5;
        let mut plan = plan_of(&reports, vec![f, facts(gone, ScanState::Failed)]);
        for (t, scan) in [(&b, s), (&c, gone), (&a, s)] {
            plan.failed(FailedRow {
                task_id: t.id,
                scan_id: scan,
                scanner: "noop".into(),
                target: Value::Null,
                error: Some("x".into()),
            });
        }
        plan.findings_inserted(&[]);
        assert_eq!(plan.counters()[0].failed, 2);
        plan.endings();
        let out = plan.finish(Vec::new());
        let failed: Vec<TaskId> = out
            .events
            .iter()
            .filter_map(|e| match e.data {
                EventData::TaskFailed { task_id, .. } => Some(task_id),
                _ => None,
            })
            .collect();
        assert_eq!(failed, vec![a.id, b.id]);
    }

    #[test]
    fn max_results_stops_spawning_and_completes() {
        let s = ScanId::new();
        let o = org("org-a");
        let t = task(s, &o, "a");
        let mut r = report(&t, TaskStatus::Running);
        r.findings = vec![finding("f1", Severity::Low), finding("f2", Severity::Low)];
        r.spawned = vec![task(s, &o, "child")];
        let reports = vec![r];
        let mut f = facts(s, ScanState::Running);
        f.max_results = Some(2);
        let mut plan = plan_of(&reports, vec![f]);
        let found = plan.findings(&reports, Utc::now());
        plan.findings_inserted(&found);
        assert_eq!(plan.admit(&reports[0].spawned[0]), Admit::No);
        let endings = plan.endings();
        assert_eq!(endings[0].to, ScanState::Completed);
        assert_eq!(endings[0].reason.as_deref(), Some("max_results"));
    }

    #[test]
    fn max_results_counts_only_inserted_findings() {
        let s = ScanId::new();
        let o = org("org-a");
        let t = task(s, &o, "a");
        let mut r = report(&t, TaskStatus::Running);
        r.findings = vec![finding("f1", Severity::Low), finding("f1", Severity::Low)];
        let reports = vec![r];
        let mut f = facts(s, ScanState::Running);
        f.max_results = Some(2);
        let mut plan = plan_of(&reports, vec![f]);
        let found = plan.findings(&reports, Utc::now());
        assert_eq!(found.len(), 2);
        // The store's dedup kept one of the two.
        plan.findings_inserted(&found[..1]);
        assert!(plan.endings().is_empty());
    }

    #[test]
    fn max_tasks_admits_what_fits_then_fails_the_scan() {
        let s = ScanId::new();
        let o = org("org-a");
        let t = task(s, &o, "a");
        let mut r = report(&t, TaskStatus::Running);
        r.spawned = (0..3).map(|i| task(s, &o, &format!("c{i}"))).collect();
        let reports = vec![r];
        let mut f = facts(s, ScanState::Running);
        f.max_tasks = Some(4);
        f.progress.enqueue_done = true;
        let mut plan = plan_of(&reports, vec![f]);
        plan.findings_inserted(&[]);
        let admitted: Vec<Admit> = reports[0].spawned.iter().map(|t| plan.admit(t)).collect();
        assert_eq!(admitted, vec![Admit::Run, Admit::Run, Admit::No]);
        plan.inserted(s, false);
        plan.inserted(s, false);
        assert_eq!(plan.counters()[0].enqueued, 2);
        let endings = plan.endings();
        assert_eq!(endings[0].to, ScanState::Failed);
        assert_eq!(
            endings[0].reason.as_deref(),
            Some(argus_core::scan::max_tasks_reason(4).as_str())
        );
        let out = plan.finish(Vec::new());
        assert_eq!(out.spawned, 2);
        assert!(
            out.finished.is_empty(),
            "an ending that did not take effect"
        );
    }

    #[test]
    fn spawns_wait_for_paused_scans_and_other_orgs_are_refused() {
        let s = ScanId::new();
        let o = org("org-a");
        let t = task(s, &o, "a");
        let mut r = report(&t, TaskStatus::Running);
        r.spawned = vec![task(s, &o, "c"), task(s, &org("org-b"), "d")];
        let reports = vec![r];
        let mut plan = plan_of(&reports, vec![facts(s, ScanState::Paused)]);
        plan.findings_inserted(&[]);
        assert_eq!(plan.admit(&reports[0].spawned[0]), Admit::Wait);
        assert_eq!(plan.admit(&reports[0].spawned[1]), Admit::No);
        assert_eq!(plan.admit(&task(ScanId::new(), &o, "x")), Admit::No);
    }

    #[test]
    fn enumerations_open_estimate_and_close() {
        let s = ScanId::new();
        let o = org("org-a");
        let mut lister = task(s, &o, "bucket");
        lister.enumerates = true;
        let mut r = report(&lister, TaskStatus::Running);
        r.enumeration = Some(EnumerationUpdate {
            remaining: Some(10),
            complete: false,
        });
        let quiet = report(&lister, TaskStatus::Running);
        let reports = vec![r, quiet];
        let enums = RecordPlan::enumerations(&reports);
        assert_eq!(enums.len(), 1, "a report without news changes nothing");
        assert_eq!(enums[0].next(), (1, 10));

        let mut f = facts(s, ScanState::Running);
        f.progress.enqueued = 1;
        f.progress.enqueue_done = false;
        f.open_enums = 1;
        let mut plan = plan_of(&reports, vec![f]);
        plan.enumeration(&enums[0], 0);
        plan.findings_inserted(&[]);
        assert!(plan.endings().is_empty());
        let out = plan.finish(Vec::new());
        let EventData::Progress(p) = &out.events[0].data else {
            panic!("a progress event");
        };
        assert_eq!((p.expected_total, p.enqueue_done), (Some(11), false));

        // It ends: closed, nothing more expected, the scan completes.
        let done = vec![report(&lister, TaskStatus::Done)];
        let enums = RecordPlan::enumerations(&done);
        assert_eq!(enums[0].next(), (0, 0));
        let mut f = facts(s, ScanState::Running);
        f.progress.enqueued = 1;
        f.progress.enqueue_done = false;
        f.progress.expected_total = Some(11);
        f.open_enums = 1;
        f.expect_extra = 10;
        let mut plan = plan_of(&done, vec![f]);
        plan.done(s, 1);
        plan.enumeration(&enums[0], 10);
        plan.findings_inserted(&[]);
        let d = &plan.counters()[0];
        assert_eq!(
            (d.open_enums, d.expect_extra, d.enum_touched),
            (-1, -10, true)
        );
        assert_eq!(plan.endings().len(), 1);
    }

    #[test]
    fn inserted_enumerating_rows_open_enumerations() {
        let s = ScanId::new();
        let o = org("org-a");
        let reports = vec![report(&task(s, &o, "a"), TaskStatus::Running)];
        let mut plan = plan_of(&reports, vec![facts(s, ScanState::Running)]);
        plan.findings_inserted(&[]);
        plan.inserted(s, true);
        assert!(
            plan.endings().is_empty(),
            "an open enumeration keeps the scan open"
        );
        let out = plan.finish(Vec::new());
        let EventData::Progress(p) = &out.events[0].data else {
            panic!("a progress event");
        };
        assert_eq!((p.enqueued, p.enqueue_done), (3, false));
    }

    #[test]
    fn artifacts_of_live_scans_later_record_wins() {
        let (s, gone) = (ScanId::new(), ScanId::new());
        let o = org("org-a");
        let meta = |scan: ScanId, size: u64| ArtifactMeta {
            scan_id: scan,
            org_id: o.clone(),
            name: argus_core::artifact::ArtifactName::parse("out.json").expect("name"),
            size,
            content_type: "application/json".into(),
            created_at: Utc::now(),
        };
        let mut r1 = report(&task(s, &o, "a"), TaskStatus::Running);
        r1.artifacts = vec![meta(s, 1)];
        let mut r2 = report(&task(s, &o, "b"), TaskStatus::Running);
        r2.artifacts = vec![meta(s, 2)];
        let mut r3 = report(&task(gone, &o, "c"), TaskStatus::Running);
        r3.artifacts = vec![meta(gone, 3)];
        let reports = vec![r1, r2, r3];
        let plan = plan_of(
            &reports,
            vec![
                facts(s, ScanState::Running),
                facts(gone, ScanState::Completed),
            ],
        );
        let a = plan.artifacts(&reports);
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].0, a[0].2.size), (s, 2));
    }
}

/// The triage states that carry over to a later scan's finding ([`Triage::carries_over`]), as
/// an SQL list for `IN`; both backends' finding inserts use it.
pub(crate) const CARRIED_TRIAGE_SQL: &str = "('false_positive', 'accepted')";

/// Sets what the store's insert decided from the triage memory on a planned finding (so its
/// `finding` event carries it).
pub(crate) fn remembered(
    f: &mut Finding,
    triage: &str,
    previous: Option<&str>,
) -> argus_core::Result<()> {
    let parse = |t: &str| {
        Triage::parse(t).ok_or_else(|| {
            argus_core::CoreError::Backend(format!("corrupt triage {t:?} in database"))
        })
    };
    f.triage = parse(triage)?;
    f.previous_triage = previous.map(parse).transpose()?;
    Ok(())
}

#[cfg(test)]
mod carried_tests {
    use super::*;

    /// The SQL list and `Triage::carries_over` say the same.
    #[test]
    fn carried_sql_matches_the_core_rule() {
        let listed: Vec<String> = Triage::ALL
            .into_iter()
            .filter(|t| t.carries_over())
            .map(|t| format!("'{}'", t.as_str()))
            .collect();
        assert_eq!(CARRIED_TRIAGE_SQL, format!("({})", listed.join(", ")));
    }
}

/// The `Invalid` answer of `select_findings` when ids are not findings of the scan: at the
/// first list that has some, naming every unknown id of both lists.
pub(crate) fn unknown_findings(
    scan: ScanId,
    select: &[FindingId],
    false_positives: &[FindingId],
) -> argus_core::CoreError {
    let path = if select.is_empty() {
        "/false_positives"
    } else {
        "/select"
    };
    let ids: Vec<String> = select
        .iter()
        .chain(false_positives)
        .map(ToString::to_string)
        .collect();
    argus_core::CoreError::invalid(
        path,
        format!("not findings of scan {scan}: {}", ids.join(", ")),
    )
}

/// The ids of `wanted` that are not in `found`, in request order.
pub(crate) fn missing(
    wanted: &[FindingId],
    found: &std::collections::HashSet<FindingId>,
) -> Vec<FindingId> {
    wanted
        .iter()
        .filter(|id| !found.contains(id))
        .copied()
        .collect()
}
