#![allow(clippy::unwrap_used)]
use argus_core::store::Store;
use argus_core::task::{TaskReport, TaskStatus};
use argus_core::testkit::store_suite::*;
use argus_store::{SqliteDb, SqliteStore};
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perf() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::new(SqliteDb::open(&dir.path().join("p.db")).await.unwrap()).await.unwrap();
    let o = org("perf");
    let names: Vec<String> = (0..100_000).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let (scan, _) = started(&store, &o, config(), &refs).await;
    eprintln!("start_scan 100k: {:?}", t0.elapsed());
    store.mark_running(&[scan]).await.unwrap();
    let a = Instant::now();
    for _ in 0..100 { store.pending_tasks(256).await.unwrap(); }
    eprintln!("100x pending_tasks(256) no writes: {:?}", a.elapsed());
    let (mut tp, mut tm, mut tr) = (0f64, 0f64, 0f64);
    let t1 = Instant::now();
    let mut n = 0;
    loop {
        let a = Instant::now();
        let tasks = store.pending_tasks(256).await.unwrap();
        tp += a.elapsed().as_secs_f64();
        if tasks.is_empty() { break; }
        let a = Instant::now();
        let ids: Vec<_> = tasks.iter().map(|t| t.id).collect();
        store.mark_published(&ids).await.unwrap();
        tm += a.elapsed().as_secs_f64();
        let a = Instant::now();
        let reports: Vec<_> = tasks.iter().map(|t| TaskReport::status(t, TaskStatus::Done)).collect();
        store.record(reports).await.unwrap();
        tr += a.elapsed().as_secs_f64();
        n += tasks.len();
    }
    let el = t1.elapsed();
    eprintln!("100k tasks: {:?} = {:.0}/s; pending {tp:.3}s publish {tm:.3}s record {tr:.3}s", el, n as f64 / el.as_secs_f64());
    let t2 = Instant::now();
    for _ in 0..20000 { store.get_scan(&o, scan).await.unwrap(); }
    eprintln!("20k get_scan sequential: {:?}", t2.elapsed());
}
