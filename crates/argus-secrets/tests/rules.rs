//! Every built-in rule is checked against its own positive and negative examples, with the full
//! engine (prefilter, validators, allowlists and generic-rule shadowing all active).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use argus_secrets::{Engine, RuleSet};
use std::collections::HashSet;

#[test]
fn builtin_rule_set_is_well_formed() {
    let set = RuleSet::builtin().unwrap();
    assert!(set.len() >= 600, "only {} rules", set.len());
    let mut ids = HashSet::new();
    for r in set.rules() {
        assert!(ids.insert(r.id.clone()), "duplicate id {}", r.id);
        // Pair rules run only near their anchor's matches; every other rule needs keywords.
        assert!(
            !r.keywords.is_empty() || r.requires.is_some(),
            "{} has no keywords (would run on every blob)",
            r.id
        );
        // Several of each: a rule is written from a documented format and proven on more than
        // one shape of line, and on near misses (wrong length, prefix, placeholder).
        assert!(r.examples.len() >= 2, "{} has fewer than 2 examples", r.id);
        assert!(
            r.negative_examples.len() >= 2,
            "{} has fewer than 2 negative examples",
            r.id
        );
        for k in &r.keywords {
            assert!(
                k.len() >= 3,
                "{}: keyword {k:?} is shorter than 3 bytes",
                r.id
            );
        }
        assert!(
            r.id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "bad id {}",
            r.id
        );
    }
}

#[test]
fn every_rule_matches_its_examples_and_rejects_its_negatives() {
    let set = RuleSet::builtin().unwrap();
    let rules: Vec<_> = set.rules().to_vec();
    let engine = Engine::new(set).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for r in &rules {
        for ex in &r.examples {
            checked += 1;
            let ids = engine.matching_rule_ids(ex);
            if !ids.contains(&r.id) {
                failures.push(format!(
                    "{}: missed positive {:?} (got {:?})",
                    r.id, ex, ids
                ));
            }
        }
        for ex in &r.negative_examples {
            checked += 1;
            let ids = engine.matching_rule_ids(ex);
            if ids.contains(&r.id) {
                failures.push(format!("{}: matched negative {:?}", r.id, ex));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} example checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 2400, "only {checked} example checks");
}

#[test]
fn a_failing_rule_is_detected() {
    // The example check itself must be able to fail: a rule whose negative matches.
    let text = r#"
[[rule]]
id = "demo"
name = "demo"
pattern = '''demo_[a-z]{4}'''
keywords = ["demo_"]
examples = ["demo_abcd"]
negative_examples = ["demo_wxyz"]
"#;
    let set = RuleSet::from_toml_str(text, std::path::Path::new("demo.toml")).unwrap();
    let engine = Engine::new(set).unwrap();
    assert_eq!(
        engine.matching_rule_ids("demo_wxyz"),
        vec!["demo".to_string()]
    );
}

#[test]
fn overlapping_keywords_on_one_line_all_trigger() {
    // "abcd" holds both keywords, overlapping: the prefilter must still trigger both rules.
    let text = r#"
[[rule]]
id = "first"
name = "first"
pattern = '''(abc)d'''
keywords = ["abc"]
examples = ["abcd"]
negative_examples = ["abd"]

[[rule]]
id = "second"
name = "second"
pattern = '''a(bcd)'''
keywords = ["bcd"]
examples = ["abcd"]
negative_examples = ["bcx"]
"#;
    let set = RuleSet::from_toml_str(text, std::path::Path::new("overlap.toml")).unwrap();
    let engine = Engine::new(set).unwrap();
    let mut ids = engine.matching_rule_ids("line one\nxx abcd yy\nline three");
    ids.sort();
    assert_eq!(ids, vec!["first".to_string(), "second".to_string()]);
}
