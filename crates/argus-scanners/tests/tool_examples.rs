//! Every shipped tool file carries `[[examples]]`: sample output and the findings and chained
//! targets it must map to. Each example runs through the real tool scanner with a stand-in
//! executable replaying the output (a real process through the process door), and what comes
//! out must be what the example says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use argus_core::testkit::scanner_suite::{run_once, Run};
use argus_scanners::tool::examples::{compare, example_target, stand_in, StandIn};
use argus_scanners::{builtin_tool_files, builtin_tools, parse_tool};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[test]
fn every_shipped_tool_file_is_discovered() {
    // build.rs lists the folder: every file there is embedded, in name order.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let embedded: Vec<String> = builtin_tool_files()
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    assert_eq!(embedded, on_disk);
    for (name, text) in builtin_tool_files() {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(*text, on_disk, "{name} is embedded stale");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_tool_maps_its_examples() {
    let tools = builtin_tools().unwrap();
    assert!(tools.len() >= 6);
    for tool in tools {
        let def = tool.def();
        assert!(
            !def.examples.is_empty(),
            "tools/{}.toml has no [[examples]]",
            def.name
        );
        for (i, example) in def.examples.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let scanner = stand_in(def, StandIn::Replay(&example.output), dir.path()).unwrap();
            let run = Run {
                scanner: Arc::new(scanner),
                target: example_target(example).unwrap(),
                params: example
                    .params
                    .clone()
                    .unwrap_or_else(|| serde_json::json!({})),
            };
            let out = run_once(&run, CancellationToken::new()).await;
            assert!(
                out.result.is_ok(),
                "{} example {i}: {:?}",
                def.name,
                out.result
            );
            if let Err(e) = compare(example, &out.findings, &out.targets) {
                panic!("{} example {i}: {e}", def.name);
            }
        }
    }
}

/// The check can fail: a wrong expectation is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_example_is_caught() {
    let text = builtin_tool_files()
        .iter()
        .find(|(n, _)| *n == "subfinder.toml")
        .unwrap()
        .1
        .replace(
            "title = \"Subdomain www.example.com\"",
            "title = \"Subdomain wrong.example.com\"",
        );
    let tool = parse_tool(&text, "subfinder.toml", None).unwrap();
    let example = &tool.def().examples[0];
    let dir = tempfile::tempdir().unwrap();
    let scanner = stand_in(tool.def(), StandIn::Replay(&example.output), dir.path()).unwrap();
    let run = Run {
        scanner: Arc::new(scanner),
        target: example_target(example).unwrap(),
        params: serde_json::json!({}),
    };
    let out = run_once(&run, CancellationToken::new()).await;
    let err = compare(example, &out.findings, &out.targets).unwrap_err();
    assert!(err.contains("wrong.example.com"), "{err}");
}

/// Tool files may carry examples without affecting how the tool runs; a malformed examples
/// table is still an error naming the file.
#[test]
fn examples_are_accepted_and_checked_when_parsing() {
    let base = builtin_tool_files()
        .iter()
        .find(|(n, _)| *n == "subfinder.toml")
        .unwrap()
        .1;
    assert!(parse_tool(base, "subfinder.toml", None).is_ok());
    let bad =
        format!("{base}\n[[examples]]\ntarget = \"domain:x.example\"\nbogus = 1\noutput = \"\"\n");
    let err = parse_tool(&bad, "subfinder.toml", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("bogus"), "{err}");
}
