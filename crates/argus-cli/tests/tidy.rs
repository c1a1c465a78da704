//! Tidy: the crate-dependency invariants of ARCHITECTURE.md, checked against `cargo metadata`.
//!
//! - Dependencies point inward: a crate's normal dependencies sit on a lower layer
//!   (core → store / queue / scanners → engine / secrets → api → cli); nothing depends on the CLI.
//! - `argus-core` uses nothing of ours and knows nothing of HTTP, SQL or AMQP.
//! - `argus-engine` knows only the core traits: of ours it depends on `argus-core` alone.
//! - Only `argus-cli` names concrete backends (`argus-store`, `argus-queue`); no backend crate
//!   depends on another (the embedded queue lives in `argus-store`, beside the SQLite store whose
//!   database it shares).
//!
//! Dev-dependencies are free: tests may wire real backends.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::BTreeMap;

/// Layer of each workspace crate; a normal dependency must point to a lower layer.
const LAYERS: &[(&str, u8)] = &[
    ("argus-core", 0),
    ("argus-store", 1),
    ("argus-queue", 1),
    ("argus-scanners", 1),
    ("argus-connectors", 1),
    ("argus-sinks", 1),
    ("argus-engine", 2),
    ("argus-secrets", 2),
    ("argus-malware", 2),
    ("argus-recon", 2),
    ("argus-api", 3),
    ("argus-cli", 4),
    ("argus-benches", 4),
];

/// Same-layer dependencies that exist on purpose: none (a new one must be argued for here and
/// in ARCHITECTURE.md).
const ALLOWED_SAME_LAYER: &[(&str, &str)] = &[];

/// Crates that may name a concrete backend crate.
const BACKENDS: &[&str] = &["argus-store", "argus-queue"];
const MAY_NAME_BACKENDS: &[&str] = &["argus-cli", "argus-benches"];

/// Libraries `argus-core` must not know (HTTP, SQL, AMQP, object storage).
const NOT_IN_CORE: &[&str] = &[
    "axum",
    "hyper",
    "reqwest",
    "sqlx",
    "lapin",
    "object_store",
    "tokio-postgres",
];

/// Normal (non-dev, non-build) dependencies of each package, by package name.
fn normal_deps(metadata: &Value) -> BTreeMap<String, Vec<String>> {
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().expect("name").to_owned())
                .collect();
            (p["name"].as_str().expect("name").to_owned(), deps)
        })
        .collect()
}

/// Every broken invariant, as a sentence.
fn violations(metadata: &Value) -> Vec<String> {
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut out = Vec::new();
    for (krate, deps) in normal_deps(metadata) {
        let Some(&own) = layer.get(krate.as_str()) else {
            out.push(format!(
                "{krate} has no layer: add it to LAYERS in tests/tidy.rs and to ARCHITECTURE.md"
            ));
            continue;
        };
        for dep in &deps {
            if let Some(&theirs) = layer.get(dep.as_str()) {
                let same_ok = ALLOWED_SAME_LAYER.contains(&(krate.as_str(), dep.as_str()));
                if theirs > own || (theirs == own && !same_ok) {
                    out.push(format!(
                        "{krate} depends on {dep}: dependencies point inward"
                    ));
                }
                if BACKENDS.contains(&dep.as_str())
                    && !MAY_NAME_BACKENDS.contains(&krate.as_str())
                    && !same_ok
                {
                    out.push(format!(
                        "{krate} depends on the backend crate {dep}: only argus-cli picks backends"
                    ));
                }
            }
            if krate == "argus-core" && NOT_IN_CORE.contains(&dep.as_str()) {
                out.push(format!(
                    "argus-core depends on {dep}: the core knows nothing of HTTP, SQL or AMQP"
                ));
            }
        }
        if krate == "argus-engine" {
            for dep in deps.iter().filter(|d| d.starts_with("argus-")) {
                if dep != "argus-core" {
                    out.push(format!(
                        "argus-engine depends on {dep}: the engine knows only the core traits"
                    ));
                }
            }
        }
    }
    out
}

fn workspace_metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .args(["--manifest-path", manifest])
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata JSON")
}

#[test]
fn crate_dependencies_keep_the_architecture() {
    let metadata = workspace_metadata();
    let names: Vec<String> = normal_deps(&metadata).into_keys().collect();
    // The check reads the real workspace (a metadata reader that saw nothing would pass).
    for (krate, _) in LAYERS {
        assert!(
            names.iter().any(|n| n == krate),
            "{krate} not in the workspace: {names:?}"
        );
    }
    let broken = violations(&metadata);
    assert!(
        broken.is_empty(),
        "ARCHITECTURE.md invariants broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn each_kind_of_break_is_caught() {
    let pkg = |name: &str, deps: &[(&str, Option<&str>)]| {
        serde_json::json!({
            "name": name,
            "dependencies": deps.iter().map(|(n, kind)| serde_json::json!({"name": n, "kind": kind})).collect::<Vec<_>>(),
        })
    };
    let case = |packages: Vec<Value>| violations(&serde_json::json!({ "packages": packages }));
    // What the workspace looks like today passes, dev-dependencies included.
    assert!(case(vec![
        pkg("argus-core", &[("serde", None)]),
        pkg(
            "argus-queue",
            &[("argus-core", None), ("argus-store", Some("dev"))]
        ),
        pkg(
            "argus-engine",
            &[("argus-core", None), ("argus-store", Some("dev"))]
        ),
        pkg("argus-cli", &[("argus-store", None), ("argus-api", None)]),
    ])
    .is_empty());
    let broken = [
        pkg("argus-core", &[("argus-scanners", None)]),
        pkg("argus-core", &[("sqlx", None)]),
        pkg("argus-engine", &[("argus-store", None)]),
        pkg("argus-engine", &[("argus-scanners", None)]),
        pkg("argus-api", &[("argus-cli", None)]),
        pkg("argus-api", &[("argus-queue", None)]),
        pkg("argus-store", &[("argus-queue", None)]),
        pkg("argus-queue", &[("argus-store", None)]),
        pkg("argus-newcomer", &[("argus-core", None)]),
    ];
    for p in broken {
        let shown = p.to_string();
        assert!(!case(vec![p]).is_empty(), "not caught: {shown}");
    }
}
