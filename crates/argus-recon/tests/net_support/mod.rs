//! Shared by the `net*` tests: runs a scanner on one target with a chosen network access and
//! collects what it emitted.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use argus_core::finding::NewFinding;
use argus_core::ids::{OrgId, ScanId, TaskId};
use argus_core::net::{NetAccess, RateGate};
use argus_core::scan::Priority;
use argus_core::scanner::{Emission, Emitter, ScanError, Scanner, TaskContext, TaskInputs};
use argus_core::target::Target;
use argus_core::task::Task;
use tokio_util::sync::CancellationToken;

/// What one run emitted.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<(), ScanError>,
    pub findings: Vec<NewFinding>,
    pub targets: Vec<Target>,
}

impl Outcome {
    /// The findings of `kind`.
    pub fn of_kind(&self, kind: &str) -> Vec<&NewFinding> {
        self.findings.iter().filter(|f| f.kind == kind).collect()
    }

    /// Target values emitted, sorted.
    pub fn target_values(&self) -> Vec<String> {
        let mut v: Vec<String> = self.targets.iter().map(|t| t.value().to_owned()).collect();
        v.sort();
        v
    }
}

/// Runs `scanner` on `target` with `params` and `net`, until it returns or `cancel` fires.
pub async fn run_with(
    scanner: &dyn Scanner,
    target: Target,
    params: serde_json::Value,
    net: NetAccess,
    cancel: CancellationToken,
) -> Outcome {
    let work = tempfile::tempdir().unwrap();
    let task = Task {
        id: TaskId::new(),
        scan_id: ScanId::new(),
        org_id: OrgId::parse("net-tests").unwrap(),
        scanner: scanner.info().name,
        target,
        depth: 0,
        priority: Priority::Medium,
        max_attempts: 1,
        params: None,
        enumerates: false,
    };
    let (emit, mut rx) = Emitter::channel(64);
    let drain = tokio::spawn(async move {
        let (mut findings, mut targets) = (Vec::new(), Vec::new());
        while let Some(e) = rx.recv().await {
            match e {
                Emission::Finding(f) => findings.push(f),
                Emission::Target(t) => targets.push(t),
                _ => {}
            }
        }
        (findings, targets)
    });
    let ctx = TaskContext {
        task,
        params,
        cancel,
        work_dir: work.path().to_path_buf(),
        emit,
        inputs: TaskInputs::none(),
        net,
    };
    let result = scanner.run(&ctx).await;
    drop(ctx);
    let (findings, targets) = drain.await.unwrap();
    for f in &findings {
        f.validate().unwrap();
    }
    Outcome {
        result,
        findings,
        targets,
    }
}

/// [`run_with`] without a guard and without cancellation.
pub async fn run(scanner: &dyn Scanner, target: Target, params: serde_json::Value) -> Outcome {
    run_with(
        scanner,
        target,
        params,
        NetAccess::unrestricted(),
        CancellationToken::new(),
    )
    .await
}

/// A rate gate that only counts the permits asked for.
#[derive(Debug, Default)]
pub struct CountingGate(pub AtomicU64);

#[async_trait::async_trait]
impl RateGate for CountingGate {
    async fn acquire(&self, permits: u32) {
        self.0.fetch_add(u64::from(permits), Ordering::SeqCst);
    }
}

/// Ports that were free a moment ago (bound then released): closed, barring a race with
/// another process binding the same port in between.
pub async fn released_ports(n: usize) -> Vec<u16> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

pub fn counting_access() -> (NetAccess, Arc<CountingGate>) {
    let gate = Arc::new(CountingGate::default());
    let mut net = NetAccess::unrestricted();
    net.rate = gate.clone();
    (net, gate)
}
