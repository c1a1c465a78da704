//! Precision rules of the engine with the built-in rule set: documentation placeholders are
//! dropped for every rule (and counted as allowlisted), test-looking values are reported with low
//! confidence, identifiers are not taken for keys, one value gives one finding even when several
//! generic shapes describe it, and a value a specific rule recognised and rejected (a GitHub token
//! whose checksum fails) is not reported by a generic rule instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use argus_secrets::{Confidence, Engine, Finding, ScanPolicy, ScanSummary};

fn scan(text: &str) -> (Vec<Finding>, ScanSummary) {
    let engine = Engine::builtin().unwrap();
    let mut out = Vec::new();
    let summary = engine
        .scan_reader(
            &mut text.as_bytes(),
            "input.txt",
            &ScanPolicy::default(),
            &mut |f| out.push(f),
        )
        .unwrap();
    (out, summary)
}

fn rules(found: &[Finding]) -> Vec<&str> {
    found.iter().map(|f| f.rule_id.as_str()).collect()
}

#[test]
fn documentation_placeholders_are_never_reported() {
    for text in [
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        "STRIPE_SECRET_KEY=sk_live_000000000000000000000000\n",
        "api_key: <your-api-key>\n",
        "API_TOKEN=${API_TOKEN}\n",
        "token: \"{{ secrets.DEPLOY_TOKEN }}\"\n",
        "SLACK_TOKEN=xoxb-REDACTED\n",
        "password = \"aaaaaaaaaaaaaaaa\"\n",
        "client_secret = \"********************\"\n",
    ] {
        let (found, _) = scan(text);
        assert!(found.is_empty(), "{text:?} reported {:?}", rules(&found));
    }
    // Counted, so a user sees that something was recognised and let go.
    let (_, summary) = scan("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n");
    assert!(
        summary.suppressed.get("allowlist").copied().unwrap_or(0) >= 1,
        "{:?}",
        summary.suppressed
    );
}

#[test]
fn test_looking_values_are_reported_with_low_confidence() {
    let (found, _) = scan("STRIPE_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dc\n");
    assert!(!found.is_empty());
    assert!(found.iter().all(|f| f.confidence == Confidence::Low));
    let (found, _) = scan("service_key = \"key-1234567890qwxzvbnm\"\n");
    assert!(found.iter().all(|f| f.confidence == Confidence::Low));
    // The same shape with a random value keeps its rule's confidence.
    let (found, _) = scan("[DEBUG] Using API_KEY=rWE8I0axy6Fvw40RE8tsNS3L7zBU5vAhEnW4hq9G\n");
    assert_eq!(rules(&found), ["generic-credential-unquoted"]);
    assert_eq!(found[0].confidence, Confidence::Medium);
}

#[test]
fn identifiers_and_types_are_not_keys() {
    for text in [
        "    pub fn with_config(mut self, key: AmazonS3ConfigKey, value: String) -> Self {\n",
        "pub const PrivateKeyEKValidateKey: X509CertificateTemplatePrivateKeyFlag = 2048i32;\n",
        "let raw_private_key: Curve25519SeedBin<'_> = private_key\n",
        "cache_key=user_profile_settings_v2\n",
        "let token = next_token(input);\n",
        "secret = \"config.secret_key_base\"\n",
    ] {
        let (found, _) = scan(text);
        assert!(found.is_empty(), "{text:?} reported {:?}", rules(&found));
    }
}

#[test]
fn one_value_one_finding_and_rejected_formats_stay_rejected() {
    // An env line is also an unquoted assignment: one finding, from the first generic rule.
    let (found, _) = scan("SESSION_SECRET=yUa44feNGgFyXHpqaJqR9jndftaZAeRP\n");
    assert_eq!(rules(&found), ["generic-env-secret"]);
    // A provider rule wins over the generic shapes of the same value.
    let (found, _) = scan("GITHUB_TOKEN=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\n");
    assert_eq!(rules(&found), ["github-pat-classic"]);
    // The same token with a wrong checksum is not a GitHub token, and not "some credential"
    // either: the GitHub rule recognised the format and rejected it.
    let (found, _) = scan("token: ghp_R7nQ2xK9vL4mT8pW3sY6dF1gH5jZ0c1Iw7xy\n");
    assert!(found.is_empty(), "{:?}", rules(&found));
}

#[test]
fn generic_shapes_of_services_without_a_rule() {
    for (text, rule) in [
        (
            "[DEBUG] Using API_KEY=rWE8I0axy6Fvw40RE8tsNS3L7zBU5vAhEnW4hq9G\n",
            "generic-credential-unquoted",
        ),
        (
            "<secret>{AQAAABAAA xTiPNSDg6JjzG8fWoLb8JlE8SBcMKkCx2fZLZD91}</secret>\n",
            "generic-xml-credential",
        ),
        (
            "GET https://api.weather.io/v2/forecast?city=paris&api_key=f3a9c2e71b6d48e0a5c9d2b7e4f1a8c3\n",
            "generic-url-query-credential",
        ),
        (
            "{\"licenseKey\": \"Zp4QmV8sK2wRt7Yx9LcN3bHj\"}\n",
            "generic-secret-assignment",
        ),
    ] {
        let (found, _) = scan(text);
        assert_eq!(rules(&found), [rule], "{text:?}");
    }
    // Test vectors are key-shaped by design: generic rules skip them.
    let engine = Engine::builtin().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("poly1305_test.txt"),
        "Key = 2d773be37adb1e4d683bf0075e79c4ee037918535a7f99ccb7040fb5f5f43aea\n",
    )
    .unwrap();
    let mut out = Vec::new();
    engine
        .scan_path(
            dir.path(),
            &argus_secrets::PathScanOptions::default(),
            &argus_secrets::ScanControl::new(),
            &mut |f| out.push(f),
        )
        .unwrap();
    assert!(out.is_empty(), "{:?}", rules(&out));
}
