//! Prints the RabbitMQ queue's end-to-end throughput: tasks enqueued in batches of 1,000
//! (persistent, publisher-confirmed), claimed by N concurrent claimers and acked one delivery at
//! a time on the broker, as a worker pool does.
//!
//! Two runs on fresh, uuid-named queues (deleted afterwards): phased (enqueue everything, then
//! drain) and concurrent (one producer while the claimers drain). Figures only; nothing is
//! asserted.
//!
//! ```text
//! ARGUS_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f \
//!   cargo run --release -p argus-queue --features amqp --example amqp_throughput [tasks] [claimers] [prefetch]
//! ```
//! Defaults: 100,000 tasks, 4 claimers, prefetch 1,024 (shared by the claimers of the process).

use std::error::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::queue::Queue;
use argus_core::scan::Priority;
use argus_core::target::{Target, TargetKind};
use argus_core::task::Task;
use argus_core::{OrgId, ScanId, TaskId};
use argus_queue::{AmqpOptions, AmqpQueue};

const ENQUEUE_BATCH: usize = 1_000;
const CLAIM_BATCH: usize = 256;
const LEASE: Duration = Duration::from_secs(300);

type BoxError = Box<dyn Error + Send + Sync>;

fn tasks(n: usize) -> Result<Vec<Task>, BoxError> {
    let scan = ScanId::new();
    let org = OrgId::parse("org-bench")?;
    (0..n)
        .map(|i| {
            Ok(Task {
                id: TaskId::new(),
                scan_id: scan,
                org_id: org.clone(),
                scanner: "noop".to_owned(),
                target: Target::parse(TargetKind::Domain, &format!("host{i}.example.com"))?,
                depth: 0,
                priority: if i % 3 == 0 {
                    Priority::High
                } else {
                    Priority::Medium
                },
                max_attempts: 3,
                params: None,
                enumerates: false,
            })
        })
        .collect()
}

/// Claims and acks until `total` tasks were processed by all claimers together.
async fn work(q: AmqpQueue, done: Arc<AtomicUsize>, total: usize) -> Result<(), BoxError> {
    while done.load(Ordering::SeqCst) < total {
        let got = q
            .claim(CLAIM_BATCH, LEASE, Duration::from_millis(200))
            .await?;
        if got.is_empty() {
            continue;
        }
        q.ack(&got.iter().map(|d| d.lease).collect::<Vec<_>>())
            .await?;
        done.fetch_add(got.len(), Ordering::SeqCst);
    }
    Ok(())
}

fn report(what: &str, n: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{what:<44} {n:>7} tasks in {:>8.1} ms = {:>7.0} tasks/s",
        secs * 1e3,
        n as f64 / secs
    );
}

async fn fresh(url: &str, prefetch: u16) -> Result<AmqpQueue, BoxError> {
    Ok(AmqpQueue::connect(
        url,
        AmqpOptions {
            queue: format!("argus.bench.{}", uuid::Uuid::now_v7().simple()),
            prefetch,
            connect_timeout: Duration::from_secs(5),
        },
    )
    .await?)
}

async fn drain(q: &AmqpQueue, claimers: usize, total: usize) -> Result<(), BoxError> {
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..claimers)
        .map(|_| tokio::spawn(work(q.clone(), Arc::clone(&done), total)))
        .collect();
    for w in workers {
        w.await??;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let arg = |i: usize| std::env::args().nth(i);
    let total: usize = arg(1).map(|s| s.parse()).transpose()?.unwrap_or(100_000);
    let claimers: usize = arg(2).map(|s| s.parse()).transpose()?.unwrap_or(4);
    let prefetch: u16 = arg(3).map(|s| s.parse()).transpose()?.unwrap_or(1_024);
    let url = std::env::var("ARGUS_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    println!("{total} tasks, {claimers} claimers, prefetch {prefetch}");

    // Phased.
    let q = fresh(&url, prefetch).await?;
    let all = tasks(total)?;
    let t0 = Instant::now();
    for chunk in all.chunks(ENQUEUE_BATCH) {
        q.enqueue(chunk).await?;
    }
    let enqueued = t0.elapsed();
    report(
        "phased: enqueue (batches of 1,000, confirmed)",
        total,
        enqueued,
    );
    let t1 = Instant::now();
    drain(&q, claimers, total).await?;
    report("phased: claim + ack", total, t1.elapsed());
    report("phased: end to end", total, t0.elapsed());
    println!("depth after: {:?}", q.depth().await?);
    q.delete_topology().await?;

    // Concurrent: one producer while the claimers drain.
    let q = fresh(&url, prefetch).await?;
    let all = tasks(total)?;
    let t0 = Instant::now();
    let consumers = tokio::spawn({
        let q = q.clone();
        async move { drain(&q, claimers, total).await }
    });
    for chunk in all.chunks(ENQUEUE_BATCH) {
        q.enqueue(chunk).await?;
    }
    consumers.await??;
    report(
        &format!("concurrent: 1 producer + {claimers} claimers"),
        total,
        t0.elapsed(),
    );
    println!("depth after: {:?}", q.depth().await?);
    q.delete_topology().await?;
    Ok(())
}
