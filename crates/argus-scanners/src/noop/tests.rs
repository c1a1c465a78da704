//! `noop`'s unit tests: the params schema checks paths; the factory builds only when enabled.

use super::*;
use argus_core::component::Factory;

#[test]
fn schema_compiles_and_checks() {
    let s = NoopScanner;
    assert!(s
        .validate_params(&json!({"fanout": 3, "fail": true, "sleep_ms": 1, "findings": 2}))
        .is_ok());
    assert!(s.validate_params(&Value::Null).is_ok());
    match s.validate_params(&json!({"fanout": -1})) {
        Err(CoreError::Invalid { path, .. }) => assert_eq!(path, "/fanout"),
        other => panic!("{other:?}"),
    }
    assert!(s.validate_params(&json!({"other": 1})).is_err());
    assert!(s
        .validate_params(&json!({"fanout": 2, "child": {"findings": 1, "sleep_ms": 3}}))
        .is_ok());
    match s.validate_params(&json!({"child": {"sleep_ms": "long"}})) {
        Err(CoreError::Invalid { path, .. }) => assert_eq!(path, "/child/sleep_ms"),
        other => panic!("{other:?}"),
    }
    assert!(s
        .validate_params(&json!({"discover": ["a.example", 3]}))
        .is_err());
    assert_eq!(
        Target::parse(TargetKind::Url, "noop://task/1")
            .unwrap()
            .value(),
        "noop://task/1"
    );
}

#[test]
fn factory_builds_only_when_enabled() {
    let doors = Doors::new(crate::process::door());
    let off = NoopFactory.build(NoopConfig::default(), &doors).unwrap();
    assert!(off.is_empty());
    let on = NoopFactory
        .build(NoopConfig { enabled: true }, &doors)
        .unwrap();
    assert_eq!(on.len(), 1);
    assert_eq!(on[0].info().name, NOOP);
}

#[test]
fn typed_params_read_defaults_and_values() {
    let p: NoopParams = ParamsSchema::read(&Value::Null).unwrap();
    assert_eq!(p, NoopParams::default());
    let p: NoopParams =
        ParamsSchema::read(&json!({"fanout": 2, "discover": ["a.example"], "enumerate": true}))
            .unwrap();
    assert_eq!((p.fanout, p.enumerate), (2, true));
    assert_eq!(p.discover, vec!["a.example".to_owned()]);
}
