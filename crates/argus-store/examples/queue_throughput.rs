//! Prints the embedded queue's end-to-end throughput on a temporary SQLite file: 100,000 tasks
//! enqueued in batches of 1,000, claimed in batches of 256 and acked.
//!
//! Two runs: phased (enqueue everything, then drain with one worker) and concurrent (one
//! producer and two workers at once). Figures only; nothing is asserted.
//!
//! `cargo run --release -p argus-store --example queue_throughput [tasks]`

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::queue::Queue;
use argus_core::scan::Priority;
use argus_core::target::{Target, TargetKind};
use argus_core::task::Task;
use argus_core::{OrgId, ScanId, TaskId};
use argus_store::sqlite::EmbeddedQueue;
use argus_store::SqliteDb;

const ENQUEUE_BATCH: usize = 1_000;
const CLAIM_BATCH: usize = 256;
const LEASE: Duration = Duration::from_secs(300);

fn tasks(n: usize) -> Result<Vec<Task>, Box<dyn Error>> {
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
                priority: Priority::Medium,
                max_attempts: 3,
                params: None,
                enumerates: false,
            })
        })
        .collect()
}

/// Claims and acks until `n` tasks were processed.
async fn work(
    q: Arc<EmbeddedQueue>,
    n: Arc<std::sync::atomic::AtomicUsize>,
    total: usize,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    use std::sync::atomic::Ordering;
    while n.load(Ordering::SeqCst) < total {
        let got = q
            .claim(CLAIM_BATCH, LEASE, Duration::from_millis(200))
            .await?;
        if got.is_empty() {
            continue;
        }
        q.ack(&got.iter().map(|d| d.lease).collect::<Vec<_>>())
            .await?;
        n.fetch_add(got.len(), Ordering::SeqCst);
    }
    Ok(())
}

/// Process CPU time (user + system, all threads) from /proc; `None` off Linux. Reported beside
/// wall time because the machine is shared: CPU per task is what the queue itself costs.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // Clock ticks; 100 Hz on every Linux configuration Argus targets.
    Some(Duration::from_millis((utime + stime) * 10))
}

struct Phase {
    wall: Instant,
    cpu: Option<Duration>,
}

impl Phase {
    fn start() -> Self {
        Phase {
            wall: Instant::now(),
            cpu: cpu_time(),
        }
    }

    fn report(&self, what: &str, n: usize) {
        let secs = self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu, cpu_time()) {
            (Some(a), Some(b)) => format!(
                ", CPU {:>6.2} µs/task",
                (b - a).as_secs_f64() * 1e6 / n as f64
            ),
            _ => String::new(),
        };
        println!(
            "{what:<40} {n:>7} tasks in {:>7.1} ms = {:>7.0} tasks/s, wall {:>6.2} µs/task{cpu}",
            secs * 1e3,
            n as f64 / secs,
            secs * 1e6 / n as f64
        );
    }
}

fn report(what: &str, n: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{what:<40} {n:>7} tasks in {:>7.1} ms = {:>7.0} tasks/s, wall {:>6.2} µs/task",
        secs * 1e3,
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let total: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;

    // Phased.
    let q = EmbeddedQueue::new(SqliteDb::open(&dir.path().join("phased.db")).await?).await?;
    let all = tasks(total).map_err(|e| e.to_string())?;
    let whole = Phase::start();
    let enqueue = Phase::start();
    for chunk in all.chunks(ENQUEUE_BATCH) {
        q.enqueue(chunk).await?;
    }
    enqueue.report("phased: enqueue (batches of 1,000)", total);
    let drain = Phase::start();
    let (mut done, mut in_claim, mut in_ack) = (0, Duration::ZERO, Duration::ZERO);
    while done < total {
        let c = Instant::now();
        let got = q.claim(CLAIM_BATCH, LEASE, Duration::ZERO).await?;
        let a = Instant::now();
        in_claim += a - c;
        q.ack(&got.iter().map(|d| d.lease).collect::<Vec<_>>())
            .await?;
        in_ack += a.elapsed();
        done += got.len();
    }
    drain.report("phased: claim + ack", total);
    report("  of which claim (batches of 256)", total, in_claim);
    report("  of which ack (batches of 256)", total, in_ack);
    whole.report("phased: end to end", total);

    // Concurrent: one producer, two workers.
    let q = Arc::new(
        EmbeddedQueue::new(SqliteDb::open(&dir.path().join("concurrent.db")).await?).await?,
    );
    let all = tasks(total).map_err(|e| e.to_string())?;
    let processed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let concurrent = Phase::start();
    let workers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(work(Arc::clone(&q), Arc::clone(&processed), total)))
        .collect();
    for chunk in all.chunks(ENQUEUE_BATCH) {
        q.enqueue(chunk).await?;
    }
    for w in workers {
        w.await??;
    }
    concurrent.report("concurrent: 1 producer + 2 workers", total);
    println!("depth after: {:?}", q.depth().await?);
    Ok(())
}
