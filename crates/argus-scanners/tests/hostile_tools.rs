//! Hostile tool files and hostile tool output (issue #16, "Hostile input, in CI"). A tool file
//! is operator input; what an external tool prints is whatever the scanned target made it
//! print. Properties: any text is a tool or a `ToolError`, never a panic; templates and field
//! paths parse or refuse; every shipped tool, replaying output that is its own example with
//! values swapped for hostile ones (wrong types, huge numbers, control characters, traversal
//! strings, deep nesting) or plain garbage, through the real scanner (a real process through
//! the process door), ends `Ok` or with a scan error, and everything it emits is valid: each
//! finding passes `NewFinding::validate`, each target re-parses to itself.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use argus_core::target::Target;
use argus_core::testkit::scanner_suite::{run_once, Run};
use argus_scanners::tool::examples::{example_target, stand_in, StandIn};
use argus_scanners::tool::template::{FieldPath, Template};
use argus_scanners::{builtin_tools, parse_tool};
use proptest::prelude::*;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn hostile_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!("../../../etc/passwd")),
        Just(json!("file:///etc/shadow")),
        Just(json!("http://[::1]:0/")),
        Just(json!("a\u{0}b\nc\u{1b}[31m")),
        Just(json!("critical")),
        Just(json!("")),
        Just(json!("x".repeat(5000))),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the `n`-th node (depth-first) of `doc` with `with`.
fn replace_nth(doc: &mut Value, n: &mut usize, with: &Value) -> bool {
    if *n == 0 {
        *doc = with.clone();
        return true;
    }
    *n -= 1;
    match doc {
        Value::Array(a) => a.iter_mut().any(|v| replace_nth(v, n, with)),
        Value::Object(o) => o.values_mut().any(|v| replace_nth(v, n, with)),
        _ => false,
    }
}

/// An example's output with hostile swaps: every JSON line (or the whole JSON document) gets
/// one node replaced; non-JSON lines are replaced by garbage or kept.
fn mutate(output: &str, swaps: &[(usize, Value)], garbage: &str, whole: bool) -> String {
    let swap = |text: &str, i: usize| -> Option<String> {
        let mut doc: Value = serde_json::from_str(text).ok()?;
        let (at, with) = &swaps[i % swaps.len()];
        let mut n = *at % 64;
        replace_nth(&mut doc, &mut n, with);
        Some(doc.to_string())
    };
    if whole {
        if let Some(s) = swap(output, 0) {
            return s;
        }
    }
    let mut out = String::new();
    for (i, line) in output.lines().enumerate() {
        match swap(line, i) {
            Some(s) => out.push_str(&s),
            None if i % 2 == 0 => out.push_str(garbage),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out.push_str(garbage);
    out
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_text_is_a_tool_or_an_error(text in any::<String>()) {
        let _ = parse_tool(&text, "user.toml", None);
    }

    /// Shipped tool files with one line replaced by something hostile.
    #[test]
    fn damaged_tool_files_are_tools_or_errors(
        which in any::<proptest::sample::Index>(),
        line in any::<proptest::sample::Index>(),
        with in prop_oneof![
            Just("argv = [\"{target\"]".to_owned()),
            Just("records = \"a[]..b[]\"".to_owned()),
            Just("format = \"xml\"".to_owned()),
            Just("executable = \"../../bin/sh\"".to_owned()),
            Just("source = \"file:../../etc/passwd\"".to_owned()),
            Just("keep_files = [\"/etc/passwd\", \"../x\"]".to_owned()),
            Just("title = \"{a.b.c.d.e.f.^.^.^}\"".to_owned()),
            Just("[[examples]]".to_owned()),
            any::<String>(),
        ],
    ) {
        let files = argus_scanners::builtin_tool_files();
        let (name, text) = files[which.index(files.len())];
        let lines: Vec<&str> = text.lines().collect();
        let i = line.index(lines.len());
        let mut damaged: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        damaged[i] = with;
        let _ = parse_tool(&damaged.join("\n"), name, None);
    }

    #[test]
    fn templates_and_field_paths_parse_or_refuse(s in any::<String>()) {
        let _ = Template::parse(&s);
        let _ = FieldPath::parse(&s);
    }
}

/// Builds one hostile output per case for every shipped tool and runs each through its real
/// scanner with a stand-in executable.
#[test]
fn shipped_tools_map_hostile_output_to_valid_findings() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tools = builtin_tools().unwrap();
    let strategy = (
        proptest::collection::vec((any::<usize>(), hostile_value()), 1..4),
        prop_oneof![
            Just(String::new()),
            Just("{".to_owned()),
            Just("[1,2".to_owned()),
            Just("null".to_owned()),
            Just("\u{0}\u{0}\u{ff}".to_owned()),
            any::<String>().prop_map(|s| s.replace('\n', " ")),
        ],
        any::<bool>(),
    );
    let mut runner = proptest::test_runner::TestRunner::new(config(24));
    runner
        .run(&strategy, |(swaps, garbage, whole)| {
            for tool in &tools {
                let def = tool.def();
                let Some(example) = def.examples.first() else {
                    continue;
                };
                let output = mutate(&example.output, &swaps, &garbage, whole);
                let dir = tempfile::tempdir().unwrap();
                let scanner = stand_in(def, StandIn::Replay(&output), dir.path()).unwrap();
                let run = Run {
                    scanner: Arc::new(scanner),
                    target: example_target(example).unwrap(),
                    params: example.params.clone().unwrap_or_else(|| json!({})),
                };
                let out = rt.block_on(run_once(&run, CancellationToken::new()));
                // Ok or a scan error; either way, what was emitted is valid.
                for f in &out.findings {
                    prop_assert!(
                        f.validate().is_ok(),
                        "{}: invalid finding {f:?} from\n{output}",
                        def.name
                    );
                }
                for t in &out.targets {
                    let again = Target::parse(t.kind(), t.value()).unwrap();
                    prop_assert_eq!(&again, t);
                }
            }
            Ok(())
        })
        .unwrap();
}
