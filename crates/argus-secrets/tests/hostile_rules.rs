//! Hostile rule files and hostile scanned text (issue #16, "Hostile input, in CI"). Rule files
//! are operator input (`secrets.rules_dir`, `--rules`, gitleaks configs); scanned text is a
//! tenant's. Properties: any text is a rule set or a clear `RuleFile` error, never a panic; a
//! parsed rule set compiles or is refused with an error (bad regexes, missing capture groups,
//! bad pair rules), never a panic; a compiled engine scans any text without panicking; rules
//! that parse round-trip through TOML.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::OnceLock;

use argus_secrets::{Engine, Rule, RuleSet, SecretsError};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// TOML basic-string escaping, so generated patterns reach the parser as generated.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Regex-ish strings: real pieces (groups, named groups, classes, repetitions, anchors) and
/// broken ones (unbalanced, bad escapes, huge repetitions).
fn pattern() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("(?P<secret>".to_owned()),
        Just("(?i)".to_owned()),
        Just("[A-Za-z0-9]".to_owned()),
        Just("{20}".to_owned()),
        Just("{1000000}".to_owned()),
        Just("{3,}".to_owned()),
        Just("*".to_owned()),
        Just("+?".to_owned()),
        Just("\\b".to_owned()),
        Just("\\x".to_owned()),
        Just("\\p{L}".to_owned()),
        Just("^".to_owned()),
        Just("$".to_owned()),
        Just("|".to_owned()),
        Just("[".to_owned()),
        Just("key".to_owned()),
        Just("=".to_owned()),
        "[a-z_]{1,6}",
    ];
    proptest::collection::vec(piece, 1..10).prop_map(|v| v.concat())
}

/// One `[[rule]]` table with hostile values.
fn rule_table() -> impl Strategy<Value = String> {
    (
        "[a-z-]{1,10}",
        pattern(),
        proptest::collection::vec("[a-zA-Z_=]{0,5}", 0..3),
        proptest::option::of(0usize..6),
        proptest::option::of(prop_oneof![
            Just(-1.0f64),
            Just(0.0),
            Just(3.5),
            Just(f64::NAN),
            Just(1e300)
        ]),
        proptest::option::of(("[a-z-]{1,10}", 0usize..3000)),
        proptest::option::of(pattern()),
        proptest::collection::vec(pattern(), 0..2),
        proptest::option::of(proptest::sample::select(vec![
            "github-crc32",
            "jwt",
            "nope",
        ])),
        any::<(bool, bool, bool)>(),
    )
        .prop_map(
            |(id, pat, keywords, group, entropy, requires, path, allow, validate, flags)| {
                let mut t = format!(
                    "[[rule]]\nid = {}\nname = \"n\"\npattern = {}\nkeywords = [{}]\n",
                    quote(&id),
                    quote(&pat),
                    keywords
                        .iter()
                        .map(|k| quote(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if let Some(g) = group {
                    t.push_str(&format!("secret_group = {g}\n"));
                }
                if let Some(e) = entropy {
                    let e = if e.is_nan() {
                        "nan".to_owned()
                    } else {
                        format!("{e:?}")
                    };
                    t.push_str(&format!("entropy = {e}\n"));
                }
                if let Some(p) = path {
                    t.push_str(&format!("path = {}\n", quote(&p)));
                }
                if let Some(v) = validate {
                    t.push_str(&format!("validate = \"{v}\"\n"));
                }
                t.push_str(&format!(
                    "placeholder_check = {}\nmultiline = {}\ngeneric = {}\n",
                    flags.0, flags.1, flags.2
                ));
                if let Some((rule, within)) = requires {
                    t.push_str(&format!(
                        "requires = {{ rule = {}, within_bytes = {within} }}\n",
                        quote(&rule)
                    ));
                }
                if !allow.is_empty() {
                    t.push_str(&format!(
                        "[rule.allowlist]\nregexes = [{}]\n",
                        allow
                            .iter()
                            .map(|a| quote(a))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                t
            },
        )
}

/// Text to scan: secret-looking pieces, keywords, base64, NULs, invalid UTF-8 spelled as
/// replacement characters, long runs.
fn scanned_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("ghp_".to_owned()),
        Just("AKIA".to_owned()),
        Just("sk_live_".to_owned()),
        Just("glpat-".to_owned()),
        Just("xoxb-".to_owned()),
        Just("-----BEGIN RSA PRIVATE KEY-----\n".to_owned()),
        Just("password = \"".to_owned()),
        Just("eyJhbGciOi".to_owned()),
        Just("gitleaks:allow".to_owned()),
        Just("\n".to_owned()),
        Just("\0".to_owned()),
        Just("\u{FFFD}".to_owned()),
        "[A-Za-z0-9+/=]{8,48}",
        "[A-Za-z0-9_-]{20,40}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

fn builtin() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let mut e = Engine::builtin().unwrap();
        e.set_decode_base64(true);
        e
    })
}

#[derive(serde::Serialize)]
struct File<'a> {
    rule: &'a [Rule],
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_is_a_rule_file_or_a_clear_error(text in any::<String>()) {
        match RuleSet::from_toml_str(&text, Path::new("user.toml")) {
            Ok(set) => { let _ = Engine::new(set); }
            Err(e) => prop_assert!(matches!(e, SecretsError::RuleFile { .. }), "{e}"),
        }
        match argus_secrets::gitleaks::from_toml_str(&text, Path::new("gitleaks.toml")) {
            Ok((set, _)) => { let _ = Engine::new(set); }
            Err(e) => prop_assert!(matches!(e, SecretsError::RuleFile { .. }), "{e}"),
        }
    }

    /// Rule files shaped like real ones: they parse or not, compile or not, and a compiled
    /// engine scans hostile text; what parses serialises back to the same rules.
    #[test]
    fn structured_rule_files_compile_or_refuse_and_scan(
        tables in proptest::collection::vec(rule_table(), 1..4),
        text in scanned_text(),
    ) {
        let file = tables.concat();
        let Ok(set) = RuleSet::from_toml_str(&file, Path::new("user.toml")) else {
            return Ok(());
        };
        let rules: Vec<Rule> = set.rules().to_vec();
        // TOML cannot spell NaN back as the same value (NaN != NaN), so compare only the rest.
        if rules.iter().all(|r| r.entropy.is_none_or(|e| !e.is_nan())) {
            let text = toml::to_string(&File { rule: &rules }).unwrap();
            let back = RuleSet::from_toml_str(&text, Path::new("again.toml")).unwrap();
            prop_assert_eq!(back.rules(), rules.as_slice(), "{}", text);
        }
        if let Ok(engine) = Engine::new(set) {
            let _ = engine.matching_rule_ids(&text);
        }
    }

    /// The built-in rules (base64 decoding on) over hostile text: never a panic.
    #[test]
    fn builtin_rules_scan_any_text(text in scanned_text()) {
        let _ = builtin().matching_rule_ids(&text);
    }
}
