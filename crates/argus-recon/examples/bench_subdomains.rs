//! Runs the `subdomains` scanner once, in-process, the way direct mode runs it (one task, no
//! network guard for the named target, no rate limit), and prints how long it took: the
//! brute-force benchmark's fallback when a release build of the `argus` binary is not at hand
//! (`argus scan subdomains` adds the task runner's bookkeeping and the output around the same
//! run).
//!
//! `cargo run --release -p argus-recon --example bench_subdomains -- \
//!     --resolver 127.0.0.1:5353 --wordlist words.txt --concurrency 500 example.test`

use std::time::Instant;

use argus_core::ids::{OrgId, ScanId, TaskId};
use argus_core::net::NetAccess;
use argus_core::scan::Priority;
use argus_core::scanner::{Emission, Emitter, Scanner, TaskContext, TaskInputs};
use argus_core::target::{Target, TargetKind};
use argus_core::task::Task;
use argus_recon::subdomains::SubdomainsScanner;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut params = serde_json::Map::new();
    let mut domain = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |k: &str| args.next().ok_or(format!("{k} needs a value"));
        match a.as_str() {
            "--resolver" => {
                params.insert("resolver".into(), value("--resolver")?.into());
            }
            "--wordlist" => {
                params.insert("wordlist".into(), value("--wordlist")?.into());
            }
            "--concurrency" => {
                let n: u64 = value("--concurrency")?.parse()?;
                params.insert("concurrency".into(), n.into());
            }
            d => domain = Some(d.to_owned()),
        }
    }
    let target = Target::parse(TargetKind::Domain, &domain.ok_or("a domain is needed")?)?;
    let scanner = SubdomainsScanner::default();
    let params = serde_json::Value::Object(params);
    scanner.validate_params(&params)?;
    let work = tempfile::tempdir()?;
    let (emit, mut rx) = Emitter::channel(1024);
    let drain = tokio::spawn(async move {
        let mut found = 0u64;
        while let Some(e) = rx.recv().await {
            if matches!(&e, Emission::Finding(f) if f.kind == "subdomain") {
                found += 1;
            }
        }
        found
    });
    let ctx = TaskContext {
        task: Task {
            id: TaskId::new(),
            scan_id: ScanId::new(),
            org_id: OrgId::parse("bench")?,
            scanner: "subdomains".into(),
            target,
            depth: 0,
            priority: Priority::Medium,
            max_attempts: 1,
            params: None,
            enumerates: false,
        },
        params,
        cancel: CancellationToken::new(),
        work_dir: work.path().to_path_buf(),
        emit,
        inputs: TaskInputs::none(),
        net: NetAccess::unrestricted(),
    };
    let t0 = Instant::now();
    let result = scanner.run(&ctx).await;
    let took = t0.elapsed();
    drop(ctx);
    let found = drain.await?;
    result?;
    println!("seconds {:.3}", took.as_secs_f64());
    println!("found {found}");
    Ok(())
}
