//! The `Scanner` conformance suite (`argus_core::testkit::scanner_suite`) for this crate's
//! scanners: `noop`, and every built-in tool. A tool runs through a stand-in executable that
//! replays the first `[[examples]]` entry of its file (or hangs, for the cancel check): a real
//! process through the real process door, with the tool's real output mapping. The stand-in is
//! used whether or not the tool is installed, since the real one would scan the network.
//! Adding a tool file adds it here without a line to edit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod noop {
    use std::sync::Arc;

    use argus_core::scanner::Scanner;
    use argus_core::target::TargetKind;
    use argus_core::testkit::scanner_suite::{sample_target, Run, ScannerFixture, ScannerHarness};
    use argus_scanners::NoopScanner;
    use serde_json::json;

    struct Noop;

    #[async_trait::async_trait]
    impl ScannerHarness for Noop {
        async fn fixtures(&self) -> Vec<ScannerFixture> {
            let scanner: Arc<dyn Scanner> = Arc::new(NoopScanner);
            let target = sample_target(TargetKind::Domain);
            vec![ScannerFixture::new(
                scanner.clone(),
                TargetKind::ALL.into_iter().map(sample_target).collect(),
                Run {
                    scanner: scanner.clone(),
                    target: target.clone(),
                    params: json!({"findings": 3}),
                },
                Run {
                    scanner,
                    target,
                    params: json!({"sleep_ms": 600_000}),
                },
                vec![
                    (json!({"fanout": -1}), "/fanout".into()),
                    (
                        json!({"child": {"sleep_ms": "long"}}),
                        "/child/sleep_ms".into(),
                    ),
                ],
                (),
            )]
        }
    }

    argus_core::scanner_suite_tests!(Noop);
}

mod tools {
    use std::sync::Arc;

    use argus_core::scanner::Scanner;
    use argus_core::testkit::scanner_suite::{
        sample_target, wrong_type_param, Run, ScannerFixture, ScannerHarness,
    };
    use argus_scanners::builtin_tools;
    use argus_scanners::tool::examples::{example_target, stand_in, StandIn};

    /// Every built-in tool, each on its own stand-in executables.
    struct BuiltinTools;

    #[async_trait::async_trait]
    impl ScannerHarness for BuiltinTools {
        async fn fixtures(&self) -> Vec<ScannerFixture> {
            let mut out = Vec::new();
            for tool in builtin_tools().unwrap() {
                let def = tool.def().clone();
                let example = def
                    .examples
                    .first()
                    .unwrap_or_else(|| panic!("tools/{}.toml has no [[examples]]", def.name));
                let dir = tempfile::tempdir().unwrap();
                let replay: Arc<dyn Scanner> = Arc::new(
                    stand_in(
                        &def,
                        StandIn::Replay(&example.output),
                        &dir.path().join("replay"),
                    )
                    .unwrap(),
                );
                let hang: Arc<dyn Scanner> =
                    Arc::new(stand_in(&def, StandIn::Hang, &dir.path().join("hang")).unwrap());
                let target = example_target(example).unwrap();
                let params = example
                    .params
                    .clone()
                    .unwrap_or_else(|| serde_json::json!({}));
                let targets = def
                    .target_kinds
                    .iter()
                    .map(|k| {
                        if *k == target.kind() {
                            target.clone()
                        } else {
                            sample_target(*k)
                        }
                    })
                    .collect();
                let bad = wrong_type_param(&replay.info().params_schema)
                    .unwrap_or_else(|| panic!("tool {} has no typed param", def.name));
                out.push(ScannerFixture::new(
                    replay.clone(),
                    targets,
                    Run {
                        scanner: replay,
                        target: target.clone(),
                        params: params.clone(),
                    },
                    Run {
                        scanner: hang,
                        target,
                        params,
                    },
                    vec![bad],
                    dir,
                ));
            }
            out
        }
    }

    argus_core::scanner_suite_tests!(BuiltinTools);
}

/// Every scanner this crate's catalog builds is covered by a harness above: a factory line
/// added to `catalog.rs` without a harness fails here.
#[test]
fn every_catalog_scanner_has_a_harness() {
    use argus_core::component::{Doors, ScannerCatalog};
    use std::collections::BTreeMap;

    let mut catalog = ScannerCatalog::scanners();
    argus_scanners::catalog::register(&mut catalog);
    let tables = BTreeMap::from([("noop".to_owned(), serde_json::json!({"enabled": true}))]);
    let reg = catalog
        .registry(&tables, &Doors::new(argus_scanners::process::door()))
        .unwrap();
    let names: Vec<&str> = reg.names().collect();
    assert!(names.contains(&"noop"), "{names:?}");
    assert!(names.len() > 1, "{names:?}");
    for name in names {
        // `noop` has the Noop harness; every `tool:*` is a built-in tool (BuiltinTools).
        assert!(
            name == "noop" || name.starts_with("tool:"),
            "{name} is registered by the catalog but no conformance harness covers it"
        );
    }
}
