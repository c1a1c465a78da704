//! Queue conformance suite: the semantics of [`Queue`] (see `crate::queue`) checked the same way
//! for every backend.
//!
//! A backend provides a [`QueueHarness`] that hands out a fresh, empty queue per check, then
//! either generates one `#[tokio::test]` per check:
//!
//! ```ignore
//! struct Embedded;
//! #[async_trait::async_trait]
//! impl QueueHarness for Embedded { /* fresh(), dedups_task_ids() */ }
//! argus_core::queue_suite_tests!(Embedded);
//! ```
//!
//! or calls the checks (or [`run_all`]) itself. The generated tests need `tokio` (with `macros`
//! and `rt-multi-thread`) among the calling crate's dev-dependencies.
//!
//! Rules the checks keep: no sleeps as synchronisation (waiting for an effect polls with a
//! deadline), no upper bounds on time except where the bound *is* the behaviour under test (a
//! woken claimer returns before its `wait` ends), and every lower bound follows from the
//! semantics (a task retried with a delay cannot be delivered before the delay).

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::ids::{OrgId, ScanId, TaskId};
use crate::queue::{Queue, QueueDepth};
use crate::scan::Priority;
use crate::target::{Target, TargetKind};
use crate::task::{Delivery, Task};

/// A queue under test plus whatever must outlive it (a temporary directory, a broker handle).
pub struct Fixture {
    pub queue: Arc<dyn Queue>,
    // Dropped after `queue` (fields drop in declaration order).
    _guard: Box<dyn Any + Send>,
}

impl Fixture {
    /// Wraps a queue and the guard that keeps its backing resources alive.
    pub fn new(queue: Arc<dyn Queue>, guard: impl Any + Send) -> Self {
        Fixture {
            queue,
            _guard: Box::new(guard),
        }
    }
}

/// How the suite obtains queues of one backend.
#[async_trait]
pub trait QueueHarness: Send + Sync {
    /// A new, empty queue, isolated from every other queue this harness handed out.
    async fn fresh(&self) -> Fixture;

    /// Whether `enqueue` drops a task whose id is already queued (backend-optional: the embedded
    /// queue dedups, a broker may not; the engine tolerates duplicates either way).
    fn dedups_task_ids(&self) -> bool;
}

/// Generates one `#[tokio::test]` per suite check for a harness expression.
#[macro_export]
macro_rules! queue_suite_tests {
    ($harness:expr) => {
        $crate::queue_suite_tests!(@each $harness;
            priority_then_fifo,
            batch_claim_respects_max,
            lease_expiry_redelivers,
            stale_tokens_are_noops,
            renew_keeps_lease,
            retry_with_delay,
            dead_letter_is_never_delivered,
            enqueue_is_idempotent_on_task_id,
            purge_scan_removes_only_its_ready_tasks,
            waiting_claimer_is_woken_by_enqueue,
            concurrent_claimers_never_share_a_task,
            ping_and_backend,
        );
    };
    (@each $harness:expr; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let harness = $harness;
                $crate::testkit::queue_suite::$check(&harness).await;
            }
        )*
    };
}

/// Runs every check in sequence.
pub async fn run_all(h: &dyn QueueHarness) {
    priority_then_fifo(h).await;
    batch_claim_respects_max(h).await;
    lease_expiry_redelivers(h).await;
    stale_tokens_are_noops(h).await;
    renew_keeps_lease(h).await;
    retry_with_delay(h).await;
    dead_letter_is_never_delivered(h).await;
    enqueue_is_idempotent_on_task_id(h).await;
    purge_scan_removes_only_its_ready_tasks(h).await;
    waiting_claimer_is_woken_by_enqueue(h).await;
    concurrent_claimers_never_share_a_task(h).await;
    ping_and_backend(h).await;
}

/// Leases long enough never to expire during a check.
const LONG: Duration = Duration::from_secs(120);
/// How long a claim may wait for work that is known to be (or about to be) there.
const SOON: Duration = Duration::from_secs(2);
/// Upper bound on waiting for an asynchronous effect (expiry, delay) before failing.
const DEADLINE: Duration = Duration::from_secs(15);

trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T> Must<T> for crate::Result<T> {
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what} failed: {e}"),
        }
    }
}

/// A task of `scan` with a distinct target per `n`.
pub fn task(scan: ScanId, priority: Priority, n: usize) -> Task {
    let org = match OrgId::parse("org-suite") {
        Ok(o) => o,
        Err(e) => panic!("org id: {e}"),
    };
    let target = match Target::parse(TargetKind::Domain, &format!("t{n}.example.com")) {
        Ok(t) => t,
        Err(e) => panic!("target: {e}"),
    };
    Task {
        id: TaskId::new(),
        scan_id: scan,
        org_id: org,
        scanner: "noop".to_owned(),
        target,
        depth: 0,
        priority,
        max_attempts: 3,
        params: None,
        enumerates: false,
    }
}

fn ids(ds: &[Delivery]) -> Vec<TaskId> {
    ds.iter().map(|d| d.task.id).collect()
}

/// Claims until `n` deliveries arrived (at most `max` per claim) or the deadline passes.
async fn drain(q: &dyn Queue, n: usize, max: usize) -> Vec<Delivery> {
    let end = Instant::now() + DEADLINE;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < end {
        let got = q
            .claim(max.min(n - out.len()), LONG, SOON)
            .await
            .must("claim");
        assert!(
            got.len() <= max,
            "claim({max}) returned {} tasks",
            got.len()
        );
        out.extend(got);
    }
    assert_eq!(out.len(), n, "expected {n} deliveries before the deadline");
    out
}

/// Claims with `lease` until one delivery arrives or the deadline passes.
async fn poll_one(q: &dyn Queue, lease: Duration) -> Delivery {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        let mut got = q
            .claim(1, lease, Duration::from_millis(200))
            .await
            .must("claim");
        if let Some(d) = got.pop() {
            return d;
        }
    }
    panic!("no delivery before the deadline");
}

async fn depth(q: &dyn Queue) -> QueueDepth {
    q.depth().await.must("depth")
}

fn depth_of(ready: u64, leased: u64, dead: u64) -> QueueDepth {
    QueueDepth {
        ready,
        leased,
        dead,
    }
}

/// Higher priority first, FIFO within a priority, across enqueue calls and within a batch claim.
pub async fn priority_then_fifo(h: &dyn QueueHarness) {
    let f = h.fresh().await;
    let q = f.queue.as_ref();
    let scan = ScanId::new();
    let l1 = task(scan, Priority::Low, 1);
    let m1 = task(scan, Priority::Medium, 2);
    let h1 = task(scan, Priority::High, 3);
    let m2 = task(scan, Priority::Medium, 4);
    let h2 = task(scan, Priority::High, 5);
    let l2 = task(scan, Priority::Low, 6);
    q.enqueue(&[l1.clone(), m1.clone(), h1.clone()])
        .await
        .must("enqueue");
    q.enqueue(&[m2.clone(), h2.clone(), l2.clone()])
        .await
        .must("enqueue");
    assert_eq!(depth(q).await, depth_of(6, 0, 0));

    let mut got = drain(q, 1, 1).await;
    got.extend(drain(q, 5, 10).await);
    assert_eq!(ids(&got), vec![h1.id, h2.id, m1.id, m2.id, l1.id, l2.id]);
    assert!(
        got.iter().all(|d| d.attempt == 1),
        "first deliveries have attempt 1"
    );
    let leases: HashSet<_> = got.iter().map(|d| d.lease).collect();
    assert_eq!(leases.len(), 6, "every delivery has its own lease");
    assert_eq!(got[0].task, h1, "the task travels intact");
    assert_eq!(depth(q).await, depth_of(0, 6, 0));

    q.ack(&got.iter().map(|d| d.lease).collect::<Vec<_>>())
        .await
        .must("ack");
    assert_eq!(depth(q).await, depth_of(0, 0, 0));
}

/// A claim never returns more than `max`; everything is handed out exactly once.
pub async fn batch_claim_respects_max(h: &dyn QueueHarness) {
    let f = h.fresh().await;
    let q = f.queue.as_ref();
    let scan = ScanId::new();
    let tasks: Vec<Task> = (0..10).map(|n| task(scan, Priority::Medium, n)).collect();
    q.enqueue(&tasks).await.must("enqueue");

    let first = q.claim(3, LONG, SOON).await.must("claim");
    assert!(
        (1..=3).contains(&first.len()),
        "claim(3) returned {}",
        first.len()
    );
    let rest = drain(q, 10 - first.len(), 4).await;
    let all: HashSet<TaskId> = first.iter().chain(&rest).map(|d| d.task.id).collect();
    assert_eq!(all, tasks.iter().map(|t| t.id).collect::<HashSet<_>>());

    let none = q
        .claim(5, LONG, Duration::from_millis(300))
        .await
        .must("claim");
    assert!(none.is_empty(), "nothing is left to claim");
    assert_eq!(depth(q).await, depth_of(0, 10, 0));
    assert!(q
        .claim(0, LONG, Duration::ZERO)
        .await
        .must("claim(0)")
        .is_empty());
}

/// A lease that runs out is re-delivered with `attempt + 1` and a new token.
pub async fn lease_expiry_redelivers(h: &dyn QueueHarness) {
    let f = h.fresh().await;
    let q = f.queue.as_ref();
    let t = task(ScanId::new(), Priority::Medium, 1);
    q.enqueue(std::slice::from_ref(&t)).await.must("enqueue");

    let first = poll_one(q, Duration::from_millis(200)).await;
    assert_eq!(first.attempt, 1);
    let again = poll_one(q, LONG).await;
    assert_eq!(again.task.id, t.id);
    assert_eq!(again.attempt, first.attempt + 1);
    assert_ne!(
        again.lease, first.lease,
        "a re-delivery has a new lease token"
    );
    assert_eq!(depth(q).await, depth_of(0, 1, 0));
}

/// After a re-delivery the old token acks, renews, retries and dead-letters nothing.
pub async fn stale_tokens_are_noops(h: &dyn QueueHarness) {
    let f = h.fresh().await;
    let q = f.queue.as_ref();
    let t = task(ScanId::new(), Priority::Medium, 1);
    q.enqueue(std::slice::from_ref(&t)).await.must("enqueue");
    let stale = poll_one(q, Duration::from_millis(200)).await;
    let current = poll_one(q, LONG).await;
    assert_eq!(current.task.id, t.id);

    q.ack(&[stale.lease]).await.must("stale ack");
    q.renew(&[stale.lease], LONG).await.must("stale renew");
    q.retry(&stale.lease, Duration::ZERO)
        .await
        .must("stale retry");
    q.dead_letter(&stale.lease, "stale")
        .await
        .must("stale dead_letter");
    assert_eq!(
        depth(q).await,
        depth_of(0, 1, 0),
        "the current lease is untouched"
    );
    let none = q
        .claim(1, LONG, Duration::from_millis(300))
        .await
        .must("claim");
    assert!(
        none.is_empty(),
        "a stale retry must not release the current lease"
    );

    q.ack(&[current.lease]).await.must("ack");
    assert_eq!(
        depth(q).await,
        depth_of(0, 0, 0),
        "the current token still acks"
    );
}

/// A renewed lease outlives its original duration and its token stays valid.
pub async fn renew_keeps_lease(h: &dyn QueueHarness) {
    let f = h.fresh().await;
    let q = f.queue.as_ref();
    let t = task(ScanId::new(), Priority::Medium, 1);
    q.enqueue(std::slice::from_ref(&t)).await.must("enqueue");

    let original = Duration::from_secs(2);
    let d = poll_one(q, original).await;
    q.renew(&[d.lease], LONG).await.must("renew");
    // Another claimer waits past the original lease's end: the task must not come back.
    let other = q
        .claim(1, LONG, original + Duration::from_secs(1))
        .await
        .must("claim");
    assert!(
        other.is_empty(),
        "a renewed task was re-delivered: {:?}",
        ids(&other)
    );
    assert_eq!(depth(q).await, depth_of(0, 1, 0));

    q.ack(&[d.lease]).await.must("ack");
    assert_eq!(
        depth(q).await,
        depth_of(0, 0, 0),
        "the renewed token still acks"
    );
}

/// `retry` hands the task back after its delay (never before) with `attempt + 1`; a zero delay
/// makes it claimable at once.
pub async fn retry_with_delay(h: &dyn QueueHarness) {
    let f = h.fresh().await;
    let q = f.queue.as_ref();
    let t = task(ScanId::new(), Priority::Medium, 1);
    q.enqueue(std::slice::from_ref(&t)).await.must("enqueue");
    let d1 = poll_one(q, LONG).await;

    let delay = Duration::from_millis(500);
    let t0 = Instant::now();
    q.retry(&d1.lease, delay).await.must("retry");
    let early = q.claim(1, LONG, Duration::ZERO).await.must("claim");
    if !early.is_empty() {
        assert!(
            t0.elapsed() >= delay,
            "retried task delivered before its delay"
        );
    }
    let d2 = match early.into_iter().next() {
        Some(d) => d,
        None => poll_one(q, LONG).await,
    };
    // Wall-clock milliseconds vs. the monotonic clock: allow rounding.
    assert!(
        t0.elapsed() + Duration::from_millis(20) >= delay,
        "retried task delivered after {:?}, before its delay of {delay:?}",
        t0.elapsed()
    );
    assert_eq!(d2.task.id, t.id);
    assert_eq!(d2.attempt, 2);
    q.ack(&[d1.lease]).await.must("stale ack");

    q.retry(&d2.lease, Duration::ZERO).await.must("retry");
    let d3 = poll_one(q, LONG).await;
    assert_eq!((d3.task.id, d3.attempt), (t.id, 3));
    q.ack(&[d3.lease]).await.must("ack");
    assert_eq!(depth(q).await, depth_of(0, 0, 0));
}

/// A dead-lettered task is counted as dead and never delivered again.
pub async fn dead_letter_is_never_delivered(h: &dyn QueueHarness) {
    let f = h.fresh().await;
    let q = f.queue.as_ref();
    let scan = ScanId::new();
    let doomed = task(scan, Priority::High, 1);
    let fine = task(scan, Priority::Low, 2);
    q.enqueue(&[doomed.clone(), fine.clone()])
        .await
        .must("enqueue");

    let d = drain(q, 1, 1).await;
    assert_eq!(d[0].task.id, doomed.id);
    q.dead_letter(&d[0].lease, "tool exited with status 3")
        .await
        .must("dead_letter");
    assert_eq!(depth(q).await, depth_of(1, 0, 1));

    let next = drain(q, 1, 5).await;
    assert_eq!(ids(&next), vec![fine.id]);
    let none = q
        .claim(5, LONG, Duration::from_millis(600))
        .await
        .must("claim");
    assert!(
        none.is_empty(),
        "a dead task was delivered: {:?}",
        ids(&none)
    );
    q.ack(&[next[0].lease]).await.must("ack");
    assert_eq!(depth(q).await, depth_of(0, 0, 1));
}

/// Enqueueing a task id already queued (same batch, later batch, or while leased) adds nothing.
/// Backend-optional: skipped unless [`QueueHarness::dedups_task_ids`].
pub async fn enqueue_is_idempotent_on_task_id(h: &dyn QueueHarness) {
    if !h.dedups_task_ids() {
        return;
    }
    let f = h.fresh().await;
    let q = f.queue.as_ref();
    let t = task(ScanId::new(), Priority::Medium, 1);
    q.enqueue(&[t.clone(), t.clone()]).await.must("enqueue");
    q.enqueue(std::slice::from_ref(&t))
        .await
        .must("enqueue again");
    assert_eq!(depth(q).await, depth_of(1, 0, 0));

    let d = drain(q, 1, 5).await;
    q.enqueue(std::slice::from_ref(&t))
        .await
        .must("enqueue while leased");
    assert_eq!(depth(q).await, depth_of(0, 1, 0));
    let none = q
        .claim(5, LONG, Duration::from_millis(300))
        .await
        .must("claim");
    assert!(none.is_empty(), "a duplicate was delivered");
    q.ack(&[d[0].lease]).await.must("ack");
}

/// `purge_scan` removes the scan's queued tasks, not its leased ones nor other scans' tasks.
pub async fn purge_scan_removes_only_its_ready_tasks(h: &dyn QueueHarness) {
    let f = h.fresh().await;
    let q = f.queue.as_ref();
    let (a, b) = (ScanId::new(), ScanId::new());
    let a1 = task(a, Priority::High, 1);
    let a2 = task(a, Priority::Medium, 2);
    let a3 = task(a, Priority::Medium, 3);
    let b1 = task(b, Priority::Medium, 4);
    let b2 = task(b, Priority::Medium, 5);
    q.enqueue(&[a1.clone(), a2, b1.clone(), a3, b2.clone()])
        .await
        .must("enqueue");

    let leased = drain(q, 1, 1).await;
    assert_eq!(leased[0].task.id, a1.id);
    assert_eq!(q.purge_scan(a, 1000).await.must("purge"), 2);
    assert_eq!(depth(q).await, depth_of(2, 1, 0));

    let rest = drain(q, 2, 5).await;
    assert_eq!(ids(&rest), vec![b1.id, b2.id]);
    assert_eq!(
        q.purge_scan(b, 1000).await.must("purge"),
        0,
        "leased tasks are not purged"
    );
    let mut leases: Vec<_> = rest.iter().map(|d| d.lease).collect();
    leases.push(leased[0].lease);
    q.ack(&leases).await.must("ack");
    assert_eq!(depth(q).await, depth_of(0, 0, 0));
}

/// A claimer waiting for work returns with a task enqueued by another task, before `wait` ends.
pub async fn waiting_claimer_is_woken_by_enqueue(h: &dyn QueueHarness) {
    let f = h.fresh().await;
    let wait = Duration::from_secs(5);
    let (looked, looked_rx) = tokio::sync::oneshot::channel();
    let q = Arc::clone(&f.queue);
    let claimer = tokio::spawn(async move {
        let empty = q.claim(1, LONG, Duration::ZERO).await;
        let _ = looked.send(());
        let t0 = Instant::now();
        let got = q.claim(1, LONG, wait).await;
        (empty, got, t0.elapsed())
    });
    // The claimer found the queue empty and is about to wait; if the enqueue lands before it
    // starts waiting the check still holds (it must then return at once).
    let _ = looked_rx.await;
    let t = task(ScanId::new(), Priority::Medium, 1);
    f.queue
        .enqueue(std::slice::from_ref(&t))
        .await
        .must("enqueue");

    let (empty, got, elapsed) = match claimer.await {
        Ok(v) => v,
        Err(e) => panic!("claimer panicked: {e}"),
    };
    assert!(empty.must("claim").is_empty());
    let got = got.must("claim");
    assert_eq!(
        ids(&got),
        vec![t.id],
        "the woken claimer returns the new task"
    );
    assert!(
        elapsed < wait,
        "claimer slept through the enqueue ({elapsed:?})"
    );
}

/// Four claimers over 2,000 tasks: every task delivered, none twice.
pub async fn concurrent_claimers_never_share_a_task(h: &dyn QueueHarness) {
    let f = h.fresh().await;
    let scan = ScanId::new();
    let tasks: Vec<Task> = (0..2000)
        .map(|n| {
            task(
                scan,
                if n % 3 == 0 {
                    Priority::High
                } else {
                    Priority::Medium
                },
                n,
            )
        })
        .collect();
    for chunk in tasks.chunks(1000) {
        f.queue.enqueue(chunk).await.must("enqueue");
    }

    let mut claimers = Vec::new();
    for _ in 0..4 {
        let q = Arc::clone(&f.queue);
        claimers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let got = q.claim(64, LONG, Duration::from_millis(500)).await?;
                if got.is_empty() {
                    return Ok::<_, crate::CoreError>(seen);
                }
                q.ack(&got.iter().map(|d| d.lease).collect::<Vec<_>>())
                    .await?;
                seen.extend(got.into_iter().map(|d| d.task.id));
            }
        }));
    }
    let mut all = Vec::new();
    for c in claimers {
        match c.await {
            Ok(seen) => all.extend(seen.must("claimer")),
            Err(e) => panic!("claimer panicked: {e}"),
        }
    }
    let unique: HashSet<TaskId> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len(), "a task was delivered twice");
    assert_eq!(unique, tasks.iter().map(|t| t.id).collect::<HashSet<_>>());
    assert_eq!(depth(f.queue.as_ref()).await, depth_of(0, 0, 0));
}

/// `ping` answers on a healthy queue and the backend names itself.
pub async fn ping_and_backend(h: &dyn QueueHarness) {
    let f = h.fresh().await;
    f.queue.ping().await.must("ping");
    assert!(!f.queue.backend().is_empty());
    assert_eq!(depth(f.queue.as_ref()).await, depth_of(0, 0, 0));
}
