//! `dns`'s unit tests: the params schema names paths; the factory reads its config table.

use super::*;

#[test]
fn schema_checks_paths() {
    let s = DnsScanner::default();
    assert!(s.validate_params(&Value::Null).is_ok());
    assert!(s
        .validate_params(
            &json!({"resolver": "127.0.0.1:5353", "record_types": ["A", "MX"], "timeout_ms": 100})
        )
        .is_ok());
    for (bad, path) in [
        (json!({"resolver": "dns.example"}), "/resolver"),
        (json!({"resolver": 5}), "/resolver"),
        (json!({"record_types": ["PTR"]}), "/record_types/0"),
        (json!({"timeout_ms": 0}), "/timeout_ms"),
    ] {
        match s.validate_params(&bad) {
            Err(CoreError::Invalid { path: p, .. }) => assert_eq!(p, path, "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let p: DnsParams = ParamsSchema::read(&Value::Null).unwrap();
    assert_eq!(p, DnsParams::default());
    assert_eq!(p.timeout_ms, params::DEFAULT_TIMEOUT_MS);
}

#[test]
fn factory_reads_the_resolver_setting() {
    let doors = Doors::new(argus_scanners::process::door());
    let built = DnsFactory
        .build(
            DnsConfig {
                resolver: Some("10.1.1.1".into()),
            },
            &doors,
        )
        .unwrap();
    assert_eq!(built.len(), 1);
    assert_eq!(built[0].info().name, DNS);
    assert_eq!(built[0].emits(), vec![TargetKind::Ip, TargetKind::Domain]);
    let err = DnsFactory
        .build(
            DnsConfig {
                resolver: Some("nope".into()),
            },
            &doors,
        )
        .err()
        .unwrap();
    assert!(err.to_string().contains("scanners.dns.resolver"), "{err}");
}
