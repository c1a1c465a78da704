//! The worker pool: claim → classify → run → commit → ack.
//!
//! Flow per process:
//! - the **claimer** leases up to `claim_batch` tasks while fewer than `concurrency` run, looks up
//!   their scans in one query and classifies each delivery: run it, park it (scan paused), drop
//!   it (scan finished or cancelled), skip it (already recorded: a re-delivery after a crash
//!   between commit and ack), or give up on it (`attempt > max_attempts`: dead-letter, failed);
//! - each runnable task runs in its own tokio task through [`TaskRunner`] (the run loop direct
//!   mode shares): a cancellation token and an emitter whose findings, targets and sub-tasks are
//!   collected into a [`TaskReport`] (committed early when large, so a million-object
//!   enumeration never sits in memory);
//! - the **committer** drains finished tasks in batches: one `Store::record` transaction per
//!   batch, then publishes the events, then acks. Acking only after the commit is what makes a
//!   crash at any point lose nothing: an un-acked task is re-delivered and `record` is
//!   idempotent;
//! - every run is counted in the process's [`metrics`](crate::metrics) (started, finished by
//!   outcome, duration; deliveries settled without a run by reason) and runs inside a `task`
//!   tracing span with `scan_id`, `task_id` and `scanner`, so every log line of the run (the
//!   scanner's own included) names its task; a `task finished` line (debug) ends it;
//! - the **keeper** renews leases of running tasks and cancels tasks whose scan ended (told by
//!   the bus, and by polling the store as a fallback for events from other processes).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use argus_core::error::CoreError;
use argus_core::ids::{ScanId, TaskId};
use argus_core::scan::{Scan, ScanState};
use argus_core::scanner::ScanError;
use argus_core::task::{Delivery, LeaseToken, TaskReport, TaskStatus};

use crate::metrics::{NotRun, TaskOutcome};
use crate::runner::{StoreSink, TaskRunner};
use crate::Engine;

/// Emissions collected before a running task's results are flushed to the store early.
const FLUSH_AT: usize = 1000;
/// Most finished tasks committed in one store transaction.
const COMMIT_BATCH: usize = 1024;

/// What the committer does with a delivery once its report (if any) is committed.
#[derive(Debug)]
enum Settle {
    Ack,
    DeadLetter(String),
    Retry(Duration),
    /// Give the delivery back without counting an attempt's result (worker shutting down).
    Release,
}

/// A finished delivery on its way to the committer.
#[derive(Debug)]
struct Finished {
    task_id: TaskId,
    lease: LeaseToken,
    report: Option<TaskReport>,
    settle: Settle,
    /// Whether the delivery holds a concurrency slot to give back.
    holds_slot: bool,
}

struct InFlight {
    lease: LeaseToken,
    scan_id: ScanId,
    cancel: CancellationToken,
}

struct Pool {
    engine: Arc<Engine>,
    slots: Arc<Semaphore>,
    inflight: Arc<Mutex<HashMap<TaskId, InFlight>>>,
    done_tx: mpsc::UnboundedSender<Finished>,
    /// Fires when in-flight tasks must stop now (shutdown grace elapsed).
    hard_stop: CancellationToken,
}

/// Starts the worker pool. It stops claiming when `shutdown` fires, lets running tasks finish
/// for a grace period, then cancels and releases the rest; the handle resolves when it is done.
pub fn spawn(engine: Arc<Engine>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(run(engine, shutdown))
}

async fn run(engine: Arc<Engine>, shutdown: CancellationToken) {
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let concurrency = engine.config().concurrency.max(1);
    let pool = Arc::new(Pool {
        engine: engine.clone(),
        slots: Arc::new(Semaphore::new(concurrency)),
        inflight: Arc::new(Mutex::new(HashMap::new())),
        done_tx,
        hard_stop: CancellationToken::new(),
    });
    let committer = tokio::spawn(commit_loop(
        engine.clone(),
        pool.slots.clone(),
        pool.inflight.clone(),
        done_rx,
    ));
    let keeper_stop = CancellationToken::new();
    let keeper = tokio::spawn(keep_loop(pool.clone(), keeper_stop.clone()));
    let advertiser = tokio::spawn(advertise_loop(engine.clone(), shutdown.clone()));

    claim_loop(&pool, &shutdown).await;

    // Graceful stop: wait for running tasks, then cancel what is left.
    let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
    if tokio::time::timeout(engine.config().shutdown_grace, pool.slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace elapsed; cancelling running tasks and releasing them");
        pool.hard_stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), pool.slots.acquire_many(all)).await;
    }
    keeper_stop.cancel();
    let _ = keeper.await;
    let _ = advertiser.await;
    drop(pool); // closes the committer's channel once every task has reported
    let _ = committer.await;
}

async fn claim_loop(pool: &Arc<Pool>, shutdown: &CancellationToken) {
    let engine = &pool.engine;
    let cfg = engine.config();
    let mut backoff = Duration::from_millis(100);
    loop {
        // Wait for at least one free slot, then take as many more as are free (up to a batch).
        let first = tokio::select! {
            _ = shutdown.cancelled() => return,
            p = pool.slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        first.forget();
        let extra = pool
            .slots
            .available_permits()
            .min(cfg.claim_batch.saturating_sub(1));
        let extra = match pool
            .slots
            .try_acquire_many(u32::try_from(extra).unwrap_or(0))
        {
            Ok(p) => {
                let n = p.num_permits();
                p.forget();
                n
            }
            Err(_) => 0,
        };
        let want = 1 + extra;
        let claimed = tokio::select! {
            _ = shutdown.cancelled() => { pool.slots.add_permits(want); return; }
            r = engine.queue().claim(want, cfg.lease, Duration::from_secs(1)) => r,
        };
        let deliveries = match claimed {
            Ok(d) => {
                backoff = Duration::from_millis(100);
                d
            }
            Err(e) => {
                pool.slots.add_permits(want);
                tracing::warn!(error = %e, "claim failed; backing off");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        pool.slots.add_permits(want - deliveries.len());
        if deliveries.is_empty() {
            continue;
        }
        tracing::debug!(tasks = deliveries.len(), "claimed tasks");
        if let Err(e) = dispatch(pool, deliveries).await {
            tracing::warn!(error = %e, "could not dispatch claimed tasks; their leases will expire and they will be re-delivered");
        }
    }
}

/// Classifies a claimed batch and starts the runnable tasks.
async fn dispatch(pool: &Arc<Pool>, deliveries: Vec<Delivery>) -> Result<(), CoreError> {
    let engine = &pool.engine;
    let mut scan_ids: Vec<ScanId> = deliveries.iter().map(|d| d.task.scan_id).collect();
    scan_ids.sort_unstable();
    scan_ids.dedup();
    let scans: HashMap<ScanId, Arc<Scan>> = match engine.store().scans_by_ids(&scan_ids).await {
        Ok(s) => s.into_iter().map(|s| (s.id, Arc::new(s))).collect(),
        Err(e) => {
            // Give the slots back; the leases expire and the tasks come back.
            pool.slots.add_permits(deliveries.len());
            return Err(e);
        }
    };
    let redelivered: Vec<TaskId> = deliveries
        .iter()
        .filter(|d| d.attempt > 1)
        .map(|d| d.task.id)
        .collect();
    let finished: HashSet<TaskId> = if redelivered.is_empty() {
        HashSet::new()
    } else {
        match engine.store().finished_tasks(&redelivered).await {
            Ok(f) => f.into_iter().collect(),
            Err(e) => {
                pool.slots.add_permits(deliveries.len());
                return Err(e);
            }
        }
    };
    let queued: Vec<ScanId> = scans
        .values()
        .filter(|s| s.state == ScanState::Queued)
        .map(|s| s.id)
        .collect();
    if !queued.is_empty() {
        let events = engine.store().mark_running(&queued).await?;
        engine.publish(&events);
    }

    for d in deliveries {
        let settle_now = |report: Option<TaskReport>, settle: Settle| Finished {
            task_id: d.task.id,
            lease: d.lease,
            report,
            settle,
            holds_slot: true,
        };
        let metrics = engine.metrics();
        let Some(scan) = scans.get(&d.task.scan_id).cloned() else {
            // The scan was deleted: nothing to record.
            metrics.task_not_run(&d.task.scanner, NotRun::ScanDeleted);
            let _ = pool.done_tx.send(settle_now(None, Settle::Ack));
            continue;
        };
        let finished_msg = if finished.contains(&d.task.id) {
            metrics.task_not_run(&d.task.scanner, NotRun::AlreadyRecorded);
            Some(settle_now(None, Settle::Ack))
        } else if scan.state == ScanState::Paused {
            metrics.task_not_run(&d.task.scanner, NotRun::Parked);
            Some(settle_now(
                Some(TaskReport::status(&d.task, TaskStatus::Parked)),
                Settle::Ack,
            ))
        } else if scan.state.is_terminal() {
            // The scan ended (stopped, failed, completed): drop the delivery without touching
            // the ledger, so a stopped scan's million queued tasks cost a claim and an ack each.
            metrics.task_not_run(&d.task.scanner, NotRun::ScanEnded);
            Some(settle_now(None, Settle::Ack))
        } else if !scan.state.is_active() {
            metrics.task_not_run(&d.task.scanner, NotRun::Dropped);
            Some(settle_now(
                Some(TaskReport::status(&d.task, TaskStatus::Dropped)),
                Settle::Ack,
            ))
        } else if d.attempt > d.task.max_attempts {
            metrics.task_not_run(&d.task.scanner, NotRun::GaveUp);
            let error = format!(
                "gave up after {} attempts: the worker running it stopped or lost its lease",
                d.task.max_attempts
            );
            Some(settle_now(
                Some(TaskReport::status(
                    &d.task,
                    TaskStatus::Failed {
                        error: error.clone(),
                    },
                )),
                Settle::DeadLetter(error),
            ))
        } else {
            None
        };
        if let Some(msg) = finished_msg {
            let _ = pool.done_tx.send(msg);
            continue;
        }
        let cancel = CancellationToken::new();
        if let Ok(mut map) = pool.inflight.lock() {
            map.insert(
                d.task.id,
                InFlight {
                    lease: d.lease,
                    scan_id: d.task.scan_id,
                    cancel: cancel.clone(),
                },
            );
        }
        // Every log line of the run names its task (the JSON log format flattens these fields).
        let span = tracing::info_span!(
            "task",
            scan_id = %d.task.scan_id,
            task_id = %d.task.id,
            scanner = %d.task.scanner,
            attempt = d.attempt,
        );
        let scanner = d.task.scanner.clone();
        metrics.task_started(&scanner);
        let pool = pool.clone();
        // The task continues the trace of the request that started its scan (`crate::trace`).
        crate::trace::set_parent(&span, scan.trace.as_deref());
        tokio::spawn(
            async move {
                let started = std::time::Instant::now();
                let (finished, outcome) = run_task(&pool, d, scan, cancel).await;
                let took = started.elapsed();
                pool.engine.metrics().task_finished(&scanner, outcome, took);
                tracing::debug!(
                    outcome = outcome.as_str(),
                    duration_s = took.as_secs_f64(),
                    "task finished"
                );
                let _ = pool.done_tx.send(finished);
            }
            .instrument(span),
        );
    }
    Ok(())
}

/// Runs one task to a `Finished` message and how the run ended (the run itself is
/// [`TaskRunner::run`]'s).
async fn run_task(
    pool: &Arc<Pool>,
    d: Delivery,
    scan: Arc<Scan>,
    cancel: CancellationToken,
) -> (Finished, TaskOutcome) {
    let engine = &pool.engine;
    let task = d.task;
    let finish = |report, settle| Finished {
        task_id: task.id,
        lease: d.lease,
        report: Some(report),
        settle,
        holds_slot: true,
    };
    let Some(scanner) = engine.registry().get(&task.scanner).cloned() else {
        let error = format!(
            "scanner '{}' is not available on worker {}",
            task.scanner,
            engine.config().worker_id
        );
        return (
            finish(
                TaskReport::status(&task, TaskStatus::Failed { error }),
                Settle::Ack,
            ),
            TaskOutcome::Failed,
        );
    };
    let mut ran = TaskRunner::of(engine, FLUSH_AT)
        .run(
            scanner.as_ref(),
            &scan.config,
            scan.progress.findings,
            &task,
            cancel,
            StoreSink(engine),
        )
        .await;

    let result = std::mem::replace(&mut ran.result, Ok(()));
    let (status, settle, outcome) = match result {
        Ok(()) => (TaskStatus::Done, Settle::Ack, TaskOutcome::Done),
        Err(ScanError::Cancelled) if pool.hard_stop.is_cancelled() => {
            // Shutdown, not the scan's doing: flush what we have and hand the task back.
            ran.flush().await;
            let released = Finished {
                task_id: task.id,
                lease: d.lease,
                report: None,
                settle: Settle::Release,
                holds_slot: true,
            };
            return (released, TaskOutcome::Released);
        }
        Err(ScanError::Cancelled) => (TaskStatus::Dropped, Settle::Ack, TaskOutcome::Cancelled),
        Err(e) if e.is_retryable() && d.attempt < task.max_attempts => {
            ran.flush().await;
            let delay = engine.config().retry_backoff * 2u32.saturating_pow(d.attempt - 1);
            tracing::info!(attempt = d.attempt, error = %e, "task failed; will retry");
            let retry = Finished {
                task_id: task.id,
                lease: d.lease,
                report: None,
                settle: Settle::Retry(delay),
                holds_slot: true,
            };
            return (retry, TaskOutcome::Retried);
        }
        Err(e) if e.is_retryable() => {
            let error = format!("{e}; gave up after {} attempts", d.attempt);
            (
                TaskStatus::Failed {
                    error: error.clone(),
                },
                Settle::DeadLetter(error),
                TaskOutcome::DeadLettered,
            )
        }
        Err(e) => (
            TaskStatus::Failed {
                error: e.to_string(),
            },
            Settle::Ack,
            TaskOutcome::Failed,
        ),
    };
    let report = ran.into_report(status);
    (finish(report, settle), outcome)
}

/// Commits finished tasks in batches, then settles their deliveries.
async fn commit_loop(
    engine: Arc<Engine>,
    slots: Arc<Semaphore>,
    inflight: Arc<Mutex<HashMap<TaskId, InFlight>>>,
    mut rx: mpsc::UnboundedReceiver<Finished>,
) {
    let mut batch: Vec<Finished> = Vec::with_capacity(COMMIT_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < COMMIT_BATCH {
            match rx.try_recv() {
                Ok(f) => batch.push(f),
                Err(_) => break,
            }
        }
        let reports: Vec<TaskReport> = batch.iter_mut().filter_map(|f| f.report.take()).collect();
        if !reports.is_empty() {
            let mut delay = Duration::from_millis(100);
            loop {
                match engine.store().record(reports.clone()).await {
                    Ok(out) => {
                        engine.publish(&out.events);
                        // Finished tasks free room in the relay's windows and org quotas.
                        if out.spawned > out.published || engine.relay_holding() {
                            engine.wake_relay();
                        }
                        // A finished scan's leftovers are the janitor's (see `monitor`).
                        break;
                    }
                    Err(e) => {
                        // Nothing is acked until this commits; the leases are renewed meanwhile.
                        tracing::warn!(error = %e, tasks = reports.len(), "could not commit task results; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(5));
                    }
                }
            }
        }
        // The results are durable now: hand the slots back before settling, so the claimer's
        // next claim overlaps this batch's ack instead of waiting behind it. The deliveries stay
        // in `inflight` (their leases renewed) until they are settled.
        let slots_back = batch.iter().filter(|f| f.holds_slot).count();
        slots.add_permits(slots_back);
        settle(&engine, &batch).await;
        if let Ok(mut map) = inflight.lock() {
            for f in &batch {
                map.remove(&f.task_id);
            }
        }
        batch.clear();
    }
}

async fn settle(engine: &Arc<Engine>, batch: &[Finished]) {
    let acks: Vec<LeaseToken> = batch
        .iter()
        .filter(|f| matches!(f.settle, Settle::Ack))
        .map(|f| f.lease)
        .collect();
    if !acks.is_empty() {
        if let Err(e) = engine.queue().ack(&acks).await {
            // Safe: the results are committed; a re-delivery is recognised and skipped.
            tracing::warn!(error = %e, "ack failed; tasks will be re-delivered and skipped");
        }
    }
    for f in batch {
        let r = match &f.settle {
            Settle::Ack => continue,
            Settle::DeadLetter(error) => engine.queue().dead_letter(&f.lease, error).await,
            Settle::Retry(delay) => engine.queue().retry(&f.lease, *delay).await,
            Settle::Release => engine.queue().retry(&f.lease, Duration::ZERO).await,
        };
        if let Err(e) = r {
            tracing::warn!(task = %f.task_id, error = %e, "could not settle delivery; its lease will expire");
        }
    }
}

/// How often a worker pool renews its advertisement; it lasts three times as long.
const ADVERTISE_EVERY: Duration = Duration::from_secs(10);

/// Tells the store which scanners this pool can run (those available here), until `stop`; then
/// withdraws, so API processes of a distributed deployment stop accepting scans only this pool
/// could run. A pool that dies stops renewing and its advertisement expires.
async fn advertise_loop(engine: Arc<Engine>, stop: CancellationToken) {
    let worker = engine.config().worker_id.clone();
    let scanners: Vec<String> = engine
        .registry()
        .infos()
        .into_iter()
        .filter(|i| i.available)
        .map(|i| i.name)
        .collect();
    let mut tick = tokio::time::interval(ADVERTISE_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = engine
            .store()
            .advertise(&worker, &scanners, ADVERTISE_EVERY * 3)
            .await
        {
            tracing::warn!(error = %e, "could not advertise this worker's scanners; will retry");
        }
    }
    if let Err(e) = engine.store().withdraw(&worker).await {
        tracing::debug!(error = %e, "could not withdraw this worker's advertisement; it expires");
    }
}

/// Renews leases of running tasks and cancels tasks whose scan has ended.
async fn keep_loop(pool: Arc<Pool>, stop: CancellationToken) {
    let engine = pool.engine.clone();
    let mut events = engine.bus().subscribe();
    let renew_every = (engine.config().lease / 3).max(Duration::from_millis(50));
    let mut renew = tokio::time::interval(renew_every);
    let mut poll = tokio::time::interval(engine.config().monitor_interval);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = pool.hard_stop.cancelled(), if !pool.hard_stop.is_cancelled() => {
                cancel_where(&pool, |_| true);
            }
            e = events.recv() => match e {
                Ok(ev) => {
                    if ev.data.state_to().is_some_and(ScanState::is_terminal) {
                        cancel_where(&pool, |s| s == ev.scan_id);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => poll_states(&pool).await,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    events = engine.bus().subscribe();
                }
            },
            _ = renew.tick() => {
                let leases: Vec<LeaseToken> = match pool.inflight.lock() {
                    Ok(m) => m.values().map(|f| f.lease).collect(),
                    Err(_) => Vec::new(),
                };
                if !leases.is_empty() {
                    if let Err(e) = engine.queue().renew(&leases, engine.config().lease).await {
                        tracing::warn!(error = %e, "lease renewal failed");
                    }
                }
            }
            _ = poll.tick() => poll_states(&pool).await,
        }
    }
}

/// Fallback for state changes made by other processes: look the scans up in the store.
async fn poll_states(pool: &Arc<Pool>) {
    let mut ids: Vec<ScanId> = match pool.inflight.lock() {
        Ok(m) => m.values().map(|f| f.scan_id).collect(),
        Err(_) => return,
    };
    if ids.is_empty() {
        return;
    }
    ids.sort_unstable();
    ids.dedup();
    match pool.engine.store().scans_by_ids(&ids).await {
        Ok(scans) => {
            let live: HashSet<ScanId> = scans
                .iter()
                .filter(|s| !s.state.is_terminal())
                .map(|s| s.id)
                .collect();
            cancel_where(pool, |s| !live.contains(&s));
        }
        Err(e) => tracing::debug!(error = %e, "state poll failed"),
    }
}

fn cancel_where(pool: &Pool, pred: impl Fn(ScanId) -> bool) {
    if let Ok(map) = pool.inflight.lock() {
        for f in map.values().filter(|f| pred(f.scan_id)) {
            f.cancel.cancel();
        }
    }
}
