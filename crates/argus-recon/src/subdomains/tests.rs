//! `subdomains`' unit tests: wordlists and passive answers parse; the schema names paths; the
//! factory reads its config table.

use super::*;

#[test]
fn words_parse() {
    assert_eq!(
        parse_words("www\n# comment\n\n API \nbad label\ndev.eu # trailing\n-x\n"),
        vec!["www", "api", "dev.eu", "-x"]
    );
    let shipped = parse_words(SHIPPED_WORDLIST);
    assert!(shipped.len() > 1000, "{}", shipped.len());
    assert!(shipped.iter().any(|w| w == "www"));
}

#[test]
fn passive_answers_parse() {
    let body = br#"[{"name_value": "a.example.com\n*.b.example.com\nexample.com", "common_name": "c.example.com"},
                   {"name_value": "evil.com\nx.notexample.com"}, {"id": 3}]"#;
    let names = passive_names(body, "example.com").unwrap();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(names, ["a.example.com", "b.example.com", "c.example.com"]);
    assert!(passive_names(b"{}", "example.com").is_err());
}

#[test]
fn schema_checks_paths() {
    let s = SubdomainsScanner::default();
    assert!(s.validate_params(&Value::Null).is_ok());
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("w.txt");
    std::fs::write(&list, "www\n").unwrap();
    let ok = json!({"wordlist": list.to_str().unwrap(), "words": ["a"], "concurrency": 10,
                    "passive_urls": ["http://127.0.0.1:1/{domain}"]});
    assert!(s.validate_params(&ok).is_ok());
    assert_eq!(
        s.local_paths(&ok),
        vec![("/wordlist".to_owned(), list.clone())]
    );
    for (bad, path) in [
        (
            json!({"wordlist": dir.path().join("none.txt").to_str().unwrap()}),
            "/wordlist",
        ),
        (json!({"concurrency": 0}), "/concurrency"),
        (json!({"words": [""]}), "/words/0"),
        (json!({"resolver": "x"}), "/resolver"),
        (
            json!({"passive_urls": ["ftp://x/{domain}"]}),
            "/passive_urls/0",
        ),
    ] {
        match s.validate_params(&bad) {
            Err(CoreError::Invalid { path: p, .. }) => assert_eq!(p, path, "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let p: SubdomainsParams = ParamsSchema::read(&Value::Null).unwrap();
    assert_eq!(p, SubdomainsParams::default());
}

#[test]
fn factory_reads_its_table() {
    let doors = Doors::new(argus_scanners::process::door());
    let built = SubdomainsFactory
        .build(
            SubdomainsConfig {
                resolver: Some("10.0.0.53:53".into()),
                passive_urls: vec!["https://crt.sh/?q=%25.{domain}&output=json".into()],
            },
            &doors,
        )
        .unwrap();
    assert_eq!(built[0].info().name, SUBDOMAINS);
    assert_eq!(built[0].emits(), vec![TargetKind::Domain]);
    let err = SubdomainsFactory
        .build(
            SubdomainsConfig {
                resolver: None,
                passive_urls: vec!["not a url".into()],
            },
            &doors,
        )
        .err()
        .unwrap();
    assert!(err.to_string().contains("passive_urls"), "{err}");
}
