//! Hostile input to the core parsers that take outside input (issue #16, "Hostile input, in
//! CI"): targets of every kind, artifact names, chaining rule files and the finding data chain
//! rules render targets from. Properties: never a panic on arbitrary input; a canonical value
//! parses back to itself (display/parse and serde round trips); a parsed artifact name is a
//! plain relative path that cannot leave the folder it is joined to; a URL-shaped target keeps
//! no `..` segment after normalisation.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Component, Path};

use argus_core::artifact::ArtifactName;
use argus_core::chain::{ChainRule, ChainRules};
use argus_core::finding::{NewFinding, Severity};
use argus_core::target::{RawTarget, Target, TargetKind};
use proptest::prelude::*;
use serde_json::{json, Value};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn kind() -> impl Strategy<Value = TargetKind> {
    proptest::sample::select(TargetKind::ALL.to_vec())
}

/// Strings that look like targets of every kind, with hostile pieces mixed in: traversal,
/// encoded dots, NULs and other control characters, brackets, ports, schemes, long labels.
fn target_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("..".to_owned()),
        Just("%2e%2e".to_owned()),
        Just("%2E.".to_owned()),
        Just("/".to_owned()),
        Just("\\".to_owned()),
        Just("\0".to_owned()),
        Just("\n".to_owned()),
        Just(":".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("@".to_owned()),
        Just("#".to_owned()),
        Just("?".to_owned()),
        Just("%".to_owned()),
        Just(".".to_owned()),
        Just("file://".to_owned()),
        Just("s3://".to_owned()),
        Just("https://".to_owned()),
        Just("noop://".to_owned()),
        Just("::1".to_owned()),
        Just("10.0.0.1".to_owned()),
        Just("/24".to_owned()),
        Just("example.COM".to_owned()),
        Just("xn--".to_owned()),
        Just("-".to_owned()),
        Just("ä".to_owned()),
        Just("\u{202e}".to_owned()),
        "[a-zA-Z0-9_-]{1,12}",
        "[0-9]{1,6}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config())]

    /// Any string, any kind: `Ok` or an invalid-value error, never a panic. What parses is
    /// canonical: parsing its value again gives the same target, and the wire form (JSON)
    /// round-trips.
    #[test]
    fn targets_parse_or_refuse_and_canonical_values_are_fixed_points(
        kind in kind(),
        value in target_like(),
    ) {
        let Ok(t) = Target::parse(kind, &value) else { return Ok(()) };
        prop_assert_eq!(t.kind(), kind);
        prop_assert!(!t.value().is_empty());
        prop_assert!(!t.value().chars().any(char::is_control), "{:?}", t);
        let again = Target::parse(kind, t.value());
        prop_assert_eq!(again.as_ref().ok(), Some(&t), "canonical value does not re-parse to itself");
        prop_assert_eq!(t.to_string(), t.key());
        prop_assert_eq!(t.key(), format!("{}:{}", kind.as_str(), t.value()));
        let wire = serde_json::to_string(&t).unwrap();
        let back: Target = serde_json::from_str(&wire).unwrap();
        prop_assert_eq!(&back, &t);
        // Host and port never panic either, and a host is itself canonical.
        let _ = t.port();
        if let Some(h) = t.host() {
            prop_assert!(!h.is_empty());
        }
    }

    /// Arbitrary strings (not only target-like ones) for every kind, through the JSON wire form
    /// too, where an API client sends them.
    #[test]
    fn arbitrary_strings_never_panic(value in any::<String>()) {
        for kind in TargetKind::ALL {
            let _ = Target::parse(kind, &value);
            let raw = json!({ "kind": kind.as_str(), "value": value });
            let _ = serde_json::from_value::<Target>(raw);
            let _ = Target::guess(&value, |_| true);
        }
        let _ = TargetKind::parse(&value);
        let _ = serde_json::from_str::<RawTarget>(&value);
    }

    /// Kinds that normalise URLs (`url`, `location`, `object`) keep no `..` or `.` path segment,
    /// however the traversal was spelled (`..`, `%2e%2e`, mixed case).
    #[test]
    fn url_targets_keep_no_dot_segments(
        kind in proptest::sample::select(vec![TargetKind::Url, TargetKind::Location, TargetKind::Object]),
        scheme in proptest::sample::select(vec!["file://", "s3://bucket", "https://h.example", "gs://b", "az://c"]),
        segs in proptest::collection::vec(
            proptest::sample::select(vec!["..", ".", "%2e%2e", "%2E%2e", ".%2e", "%2e", "a", "b", "etc", "passwd"]),
            0..8,
        ),
    ) {
        let value = format!("{scheme}/{}", segs.join("/"));
        let Ok(t) = Target::parse(kind, &value) else { return Ok(()) };
        let u = url::Url::parse(t.value()).unwrap();
        for seg in u.path_segments().into_iter().flatten() {
            let lower = seg.to_ascii_lowercase();
            prop_assert!(
                !matches!(lower.as_str(), ".." | "." | "%2e%2e" | ".%2e" | "%2e." | "%2e"),
                "{value} → {} keeps a dot segment", t.value()
            );
        }
    }

    /// A parsed artifact name is a relative path of plain segments: joined to a folder it
    /// stays inside it, whatever was asked for.
    #[test]
    fn artifact_names_stay_inside_their_folder(
        name in proptest::collection::vec(
            prop_oneof![
                Just("..".to_owned()), Just(".".to_owned()), Just("/".to_owned()),
                Just("\\".to_owned()), Just("\0".to_owned()), Just("%2e%2e".to_owned()),
                Just("private".to_owned()), Just("~".to_owned()), Just(".git".to_owned()),
                "[a-z0-9._-]{1,8}", any::<String>(),
            ],
            0..8,
        ).prop_map(|v| v.concat()),
    ) {
        let Ok(n) = ArtifactName::parse(&name) else { return Ok(()) };
        let p = Path::new(n.as_str());
        prop_assert!(p.is_relative());
        for c in p.components() {
            prop_assert!(matches!(c, Component::Normal(_)), "{name:?} has {c:?}");
        }
        prop_assert!(!n.as_str().contains(['\\', '\0', '%']));
        let root = Path::new("/srv/artifacts/scan");
        prop_assert!(root.join(p).starts_with(root));
        // Its wire form round-trips.
        let back: ArtifactName = serde_json::from_value(json!(n.as_str())).unwrap();
        prop_assert_eq!(back, n);
    }

    /// A chaining rule file is operator input: any text is a rule set or a `RuleError`, never
    /// a panic.
    #[test]
    fn chain_rule_files_never_panic(text in any::<String>()) {
        let _ = ChainRules::from_toml(&text);
    }

    /// Rule files shaped like real ones, with hostile values: what validates serialises back
    /// to TOML that parses to the same rules.
    #[test]
    fn valid_chain_rules_round_trip(rules in proptest::collection::vec(chain_rule(), 0..5)) {
        let set = ChainRules { rules };
        let text = match toml::to_string(&set) {
            Ok(t) => t,
            Err(_) => return Ok(()),
        };
        match ChainRules::from_toml(&text) {
            Ok(back) => prop_assert_eq!(back, set),
            Err(e) => prop_assert!(set.validate().is_err(), "valid rules did not re-parse: {e}\n{text}"),
        }
    }

    /// A finding's data comes from a tool's output (hostile): following it through any rule
    /// never panics, and every target a rule renders from it is a valid, canonical target.
    #[test]
    fn rendering_targets_from_finding_data_never_panics(
        rules in proptest::collection::vec(chain_rule(), 1..4),
        data in proptest::collection::btree_map(
            proptest::sample::select(vec!["url", "host", "port", "ip", "name", "x"]),
            prop_oneof![
                target_like().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| json!(f)),
                Just(Value::Null),
                Just(json!([1, "a"])),
            ],
            0..5,
        ),
        kind in "[a-z:-]{1,12}",
    ) {
        let set = ChainRules { rules };
        if set.validate().is_err() {
            return Ok(());
        }
        let target = Target::parse(TargetKind::Domain, "example.com").unwrap();
        let mut f = NewFinding::new(kind, Severity::Info, "t", target, &["x"]);
        f.data = serde_json::to_value(&data).unwrap();
        let scanners = ["a", "b", "tool:x"];
        for finding_kind in ["open-port", "http-service", f.kind.clone().as_str()] {
            let mut g = f.clone();
            g.kind = finding_kind.to_owned();
            for follow in set.follow_finding(&scanners, "a", &g, |_, _| true) {
                let again = Target::parse(follow.target.kind(), follow.target.value()).unwrap();
                prop_assert_eq!(again, follow.target);
            }
        }
        let _ = set.graph(&scanners, |_| TargetKind::ALL.to_vec(), |_, _| true);
    }
}

fn chain_rule() -> impl Strategy<Value = ChainRule> {
    let on = prop_oneof![
        proptest::sample::select(TargetKind::ALL.to_vec()).prop_map(|k| k.as_str().to_owned()),
        "finding:[a-z-]{0,10}",
        any::<String>(),
    ];
    let template = prop_oneof![
        Just("url:{url}".to_owned()),
        Just("service:{host}:{port}".to_owned()),
        Just("ip:{ip}".to_owned()),
        Just("domain:{name}".to_owned()),
        Just("location:file:///{x}".to_owned()),
        Just("url:{".to_owned()),
        Just("url:}{".to_owned()),
        "[a-z]{1,8}:[{}a-z:/.]{0,16}",
    ];
    (
        on,
        proptest::collection::vec(
            prop_oneof![
                Just("a".to_owned()),
                Just("b".to_owned()),
                Just("tool:x".to_owned())
            ],
            0..3,
        ),
        proptest::option::of(template),
        any::<bool>(),
        proptest::option::of(proptest::collection::btree_map(
            "[a-z]{1,4}",
            any::<i32>(),
            0..3,
        )),
    )
        .prop_map(|(on, run, target, rerun_self, when)| {
            let finding = on.starts_with("finding:");
            ChainRule {
                on,
                run,
                from: Vec::new(),
                when: when.filter(|_| finding).map(|m| {
                    m.into_iter()
                        .map(|(k, v)| (k, Value::from(v)))
                        .collect::<serde_json::Map<_, _>>()
                }),
                target: target.filter(|_| finding),
                params: None,
                rerun_self,
            }
        })
}

/// The shipped rules are a fixed point too (a positive control for the round trip).
#[test]
fn shipped_chain_rules_round_trip() {
    let shipped = ChainRules::shipped();
    assert!(!shipped.rules.is_empty());
    let text = toml::to_string(&shipped).unwrap();
    assert_eq!(ChainRules::from_toml(&text).unwrap(), shipped);
}
