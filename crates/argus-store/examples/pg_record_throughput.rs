//! Throughput of the PostgreSQL store on the platform's hot paths, in tasks per second:
//! 1. `start_scan` with 100,000 tasks (one transaction);
//! 2. relay cycles: `pending_tasks(1000)` + `mark_published` until the ledger is empty;
//! 3. `record` of 100,000 single-task reports in batches of 1,000, one committer;
//! 4. the same with 4 concurrent committers (4 processes' committers on 4 scans).
//!
//! Run (release build, against a scratch database; the run works in its own schema and drops
//! it at the end):
//!
//! ```text
//! ARGUS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo run --release -p argus-store --features postgres --example pg_record_throughput
//! ```
//!
//! `ARGUS_BENCH_TASKS` overrides the task count (default 100,000).

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use argus_core::store::prelude::*;
use argus_core::task::{Task, TaskReport, TaskStatus};
use argus_core::testkit::store_suite::{config, new_scan, org, task};
use argus_core::{OrgId, ScanId, TaskId};
use argus_store::{PgOptions, PgStore};

const BATCH: usize = 1000;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

fn rate(n: usize, since: Instant) -> String {
    let s = since.elapsed().as_secs_f64();
    format!("{n} tasks in {s:.2} s = {:.0} tasks/s", n as f64 / s)
}

async fn new_started(store: &PgStore, o: &OrgId, n: usize) -> Res<(ScanId, Vec<Task>)> {
    let scan = store.create_scan(new_scan(o, config())).await?;
    let tasks: Vec<Task> = (0..n)
        .map(|i| task(scan.id, o, &format!("host{i}")))
        .collect();
    store.start_scan(o, scan.id, tasks.clone()).await?;
    Ok((scan.id, tasks))
}

async fn commit_all(store: &PgStore, tasks: &[Task]) -> Res<()> {
    for chunk in tasks.chunks(BATCH) {
        let reports = chunk
            .iter()
            .map(|t| TaskReport::status(t, TaskStatus::Done))
            .collect();
        store.record(reports).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    let base = std::env::var("ARGUS_TEST_POSTGRES_URL")
        .map_err(|_| "set ARGUS_TEST_POSTGRES_URL to a scratch PostgreSQL database")?;
    let n: usize = std::env::var("ARGUS_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let schema = format!("argus_bench_{}", uuid::Uuid::now_v7().simple());
    let admin = sqlx::PgPool::connect(&base).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await?;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let result = run(&url, n).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await?;
    result
}

async fn run(url: &str, n: usize) -> Res<()> {
    let store = Arc::new(PgStore::connect(url, PgOptions::default()).await?);
    let o = org("bench");
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(store.pool())
        .await?;
    println!("PostgreSQL {version}, {n} tasks, batches of {BATCH}");

    // 1. start_scan with n tasks.
    let t0 = Instant::now();
    let (scan, tasks) = new_started(&store, &o, n).await?;
    println!("start_scan:                      {}", rate(n, t0));

    // 2. relay cycles.
    let t0 = Instant::now();
    let mut moved = 0;
    loop {
        let batch = store.pending_tasks(BATCH as u32).await?;
        if batch.is_empty() {
            break;
        }
        let ids: Vec<TaskId> = batch.iter().map(|t| t.id).collect();
        store.mark_published(&ids).await?;
        moved += ids.len();
    }
    println!("pending_tasks + mark_published:  {}", rate(moved, t0));

    // 3. record, one committer.
    store.mark_running(&[scan]).await?;
    let t0 = Instant::now();
    commit_all(&store, &tasks).await?;
    println!("record (1 committer):            {}", rate(n, t0));
    let s = store.get_scan(&o, scan).await?;
    if s.progress.done != n as u64 {
        return Err(format!("expected {n} done, got {}", s.progress.done).into());
    }

    // 4. record, 4 committers on 4 scans.
    const COMMITTERS: usize = 4;
    let mut work = Vec::new();
    for _ in 0..COMMITTERS {
        work.push(new_started(&store, &o, n / COMMITTERS).await?);
    }
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for (_, tasks) in work {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            commit_all(&store, &tasks).await.map_err(|e| e.to_string())
        }));
    }
    for h in handles {
        h.await??;
    }
    println!(
        "record ({COMMITTERS} committers, {COMMITTERS} scans): {}",
        rate(n / COMMITTERS * COMMITTERS, t0)
    );
    store.close().await;
    Ok(())
}
