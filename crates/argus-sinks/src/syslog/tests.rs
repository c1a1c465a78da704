//! Unit tests of the syslog destination: config checks, the RFC 5424 encoder, truncation and
//! framing (the wire itself is tested against local receivers in `tests/suite_syslog.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use argus_core::component::{BuildError, ComponentConfig};
use argus_core::door::FixedEnv;
use argus_core::finding::{Location, Severity};
use argus_core::ids::{FindingId, ScanId};
use argus_core::scan::ScanState;
use argus_core::sink::{
    LifecycleAction, Outgoing, ScanLifecycle, ScanResult, Sink, SinkEvent, SinkPayload, MASKED,
};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::*;
use crate::encoding::rfc5424::{
    header_field, is_sd_name, push_param_value, severity_code, summary, Encoder, MsgFormat,
};

fn config(v: Value) -> Result<Config, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

fn sink(v: Value) -> Result<SyslogSink, BuildError> {
    SyslogSink::new(config(v).expect("parses"), &FixedEnv::default())
}

fn config_error(v: Value) -> (String, String) {
    match sink(v) {
        Err(BuildError::Config { what, message }) => (what, message),
        other => panic!("expected a config error, got {other:?}"),
    }
}

/// A secrets result: event 42 of org `acme`, at 1 780 000 000 s, `src/app.py` line 7.
fn sample_result() -> SinkEvent {
    SinkEvent {
        schema: "argus.event".into(),
        schema_version: argus_core::sink::SCHEMA_VERSION,
        event_id: 42,
        time: Utc.timestamp_opt(1_780_000_000, 0).unwrap(),
        org_id: "acme".into(),
        scan_id: ScanId::new(),
        payload: SinkPayload::ScanResult(ScanResult {
            finding_id: FindingId::new(),
            task_id: None,
            scanner: "secrets".into(),
            target_kind: "repo".into(),
            target: "https://git.example.com/app.git".into(),
            location: Location {
                path: Some("src/app.py".into()),
                line: Some(7),
                commit: None,
                url: None,
            },
            finding_kind: "aws-access-key-id".into(),
            severity: Severity::Info,
            title: "the real title".into(),
            description: None,
            rule: Some("aws-access-key-id".into()),
            verdict: None,
            action: None,
            fingerprint: "fp-42".into(),
            secret: None,
            data: json!({ "n": 1 }),
        }),
    }
}

fn result_event(severity: Severity) -> SinkEvent {
    let mut e = sample_result();
    if let SinkPayload::ScanResult(r) = &mut e.payload {
        r.severity = severity;
    }
    e
}

fn lifecycle_event(action: LifecycleAction, reason: Option<&str>) -> SinkEvent {
    let mut e = sample_result();
    e.payload = SinkPayload::ScanLifecycle(ScanLifecycle {
        action,
        from: ScanState::Running,
        to: ScanState::Failed,
        reason: reason.map(str::to_owned),
        counters: None,
    });
    e
}

fn encoder(format: MsgFormat) -> Encoder {
    Encoder {
        facility: 16,
        hostname: "host1".into(),
        app_name: "argus".into(),
        format,
    }
}

#[test]
fn the_url_is_required_and_checked() {
    let (what, message) = config_error(json!({}));
    assert_eq!(what, "sinks.syslog.url");
    assert!(message.contains("missing"), "{message}");
    for bad in [
        "http://siem:514",
        "siem:514",
        "tcp://",
        "tcp://siem:514/path",
        "tcp://siem:514?x=1",
        "tcp://user:pw@siem:514",
        "udp://siem:0",
    ] {
        let (what, message) = config_error(json!({ "url": bad }));
        assert_eq!(what, "sinks.syslog.url", "{bad}");
        assert!(!message.contains("pw"), "{message}");
    }
}

#[test]
fn endpoints_are_normalised_with_default_ports() {
    for (url, shown) in [
        ("udp://siem.example.com", "udp://siem.example.com:514"),
        ("tcp://siem.example.com", "tcp://siem.example.com:514"),
        ("tls://siem.example.com", "tls://siem.example.com:6514"),
        (
            "TCP://SIEM.example.com:1514/",
            "tcp://siem.example.com:1514",
        ),
        ("udp://[::1]:5514", "udp://[::1]:5514"),
        ("tcp://10.0.0.1:601", "tcp://10.0.0.1:601"),
    ] {
        let s = sink(json!({ "url": url })).expect(url);
        assert_eq!(s.endpoint(), shown);
        assert_eq!(s.kind(), "syslog");
        assert_eq!(s.max_batch(), MAX_BATCH);
    }
    let d = parse_url(Some("tcp://10.0.0.1:601")).unwrap();
    assert_eq!(d.peer.host, url::Host::<String>::Ipv4([10, 0, 0, 1].into()));
}

#[test]
fn settings_are_checked_with_the_key_they_concern() {
    let cases = [
        (
            json!({ "url": "tcp://s:1", "app_name": "has space" }),
            "app_name",
        ),
        (
            json!({ "url": "tcp://s:1", "app_name": "x".repeat(49) }),
            "app_name",
        ),
        (json!({ "url": "tcp://s:1", "hostname": "a b" }), "hostname"),
        (
            json!({ "url": "udp://s:1", "max_message": 70000 }),
            "max_message",
        ),
        (
            json!({ "url": "tcp://s:1", "max_message": 0 }),
            "max_message",
        ),
        (
            json!({ "url": "tcp://s:1", "connect_timeout_ms": 0 }),
            "connect_timeout_ms",
        ),
        (
            json!({ "url": "tcp://s:1", "ca_file": "/x.pem" }),
            "ca_file",
        ),
        (
            json!({ "url": "udp://s:1", "server_name": "x" }),
            "server_name",
        ),
        (
            json!({ "url": "tls://s:1", "ca_file": "/no/such/ca.pem" }),
            "ca_file",
        ),
    ];
    for (v, key) in cases {
        let (what, _) = config_error(v.clone());
        assert_eq!(what, format!("sinks.syslog.{key}"), "{v}");
    }
}

#[test]
fn a_ca_file_without_certificates_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate\n").unwrap();
    let (what, message) = config_error(json!({ "url": "tls://s:1", "ca_file": path }));
    assert_eq!(what, "sinks.syslog.ca_file");
    assert!(message.contains("no PEM certificate"), "{message}");
}

#[test]
fn tls_without_a_ca_file_uses_the_web_roots() {
    sink(json!({ "url": "tls://siem.example.com" })).expect("web roots");
    sink(json!({ "url": "tls://10.1.2.3", "server_name": "siem.example.com" }))
        .expect("IP with a name override");
}

#[test]
fn unknown_keys_and_bad_values_do_not_parse() {
    assert!(config(json!({ "url": "tcp://s:1", "port": 514 })).is_err());
    assert!(config(json!({ "format": "cef" })).is_err());
    assert!(config(json!({ "facility": "local8" })).is_err());
    assert!(config(json!({ "facility": 24 })).is_err());
}

#[test]
fn facilities_by_name_or_code() {
    for (v, code) in [
        (json!("local0"), 16),
        (json!("LOCAL7"), 23),
        (json!("user"), 1),
        (json!("auth"), 4),
        (json!("security"), 4),
        (json!("authpriv"), 10),
        (json!("kern"), 0),
        (json!(3), 3),
        (json!(23), 23),
    ] {
        let c = config(json!({ "facility": v })).expect("parses");
        assert_eq!(c.facility.0, code, "{v}");
    }
    assert_eq!(Config::default().facility, Facility(16));
    // Written back by name.
    let c = config(json!({ "facility": 19 })).unwrap();
    assert_eq!(serde_json::to_value(&c).unwrap()["facility"], "local3");
}

#[test]
fn defaults_and_absolute_ca_paths() {
    let c = Config::default();
    assert_eq!(c.app_name, "argus");
    assert_eq!(c.format, MsgFormat::Rfc5424);
    assert_eq!(c.connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS);
    let mut c = config(json!({ "url": "tls://s", "ca_file": "certs/ca.pem" })).unwrap();
    c.absolutize(Path::new("/etc/argus"));
    assert_eq!(
        c.ca_file.as_deref(),
        Some(Path::new("/etc/argus/certs/ca.pem"))
    );
}

#[test]
fn the_hostname_comes_from_the_config_or_the_environment() {
    let with = |env: &[(&str, &str)], v: Value| {
        let env = FixedEnv(
            env.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        );
        SyslogSink::new(config(v).unwrap(), &env).unwrap()
    };
    let s = with(&[("HOSTNAME", "scanner-7")], json!({ "url": "udp://s" }));
    assert_eq!(s.encoder.hostname, "scanner-7");
    let s = with(
        &[("HOSTNAME", "scanner-7")],
        json!({ "url": "udp://s", "hostname": "argus-prod" }),
    );
    assert_eq!(s.encoder.hostname, "argus-prod");
    // Without either, the kernel's name (or `-`): always a valid header field.
    let s = with(&[], json!({ "url": "udp://s" }));
    assert!(!s.encoder.hostname.is_empty());
    assert!(s.encoder.hostname.bytes().all(|b| b.is_ascii_graphic()));
}

#[test]
fn pri_is_facility_times_eight_plus_the_mapped_severity() {
    let enc = encoder(MsgFormat::Json);
    for (severity, code) in [
        (Severity::Critical, 2),
        (Severity::High, 3),
        (Severity::Medium, 4),
        (Severity::Low, 5),
        (Severity::Info, 6),
    ] {
        assert_eq!(severity_code(severity), code);
        let line = enc.encode(&Outgoing::new(result_event(severity)));
        assert!(line.starts_with(&format!("<{}>1 ", 128 + code)), "{line}");
    }
    // A failed scan is high; other lifecycle steps are info.
    let failed = enc.encode(&Outgoing::new(lifecycle_event(
        LifecycleAction::Failed,
        None,
    )));
    assert!(failed.starts_with("<131>1 "), "{failed}");
    let done = enc.encode(&Outgoing::new(lifecycle_event(
        LifecycleAction::Completed,
        None,
    )));
    assert!(done.starts_with("<134>1 "), "{done}");
}

#[test]
fn a_json_line_has_the_header_and_the_body_as_one_line() {
    let mut event = result_event(Severity::High);
    if let SinkPayload::ScanResult(r) = &mut event.payload {
        r.title = "two\nlines".into();
    }
    let out = Outgoing::new(event);
    let line = encoder(MsgFormat::Json).encode(&out);
    let head = "<131>1 2026-05-28T20:26:40.000000Z host1 argus - scan_result - ";
    assert!(line.starts_with(head), "{line}");
    let body: Value = serde_json::from_str(&line[head.len()..]).unwrap();
    assert_eq!(body, out.body);
    assert!(!line.contains('\n'));
}

#[test]
fn structured_data_escapes_values_and_skips_bad_names() {
    let event = result_event(Severity::Medium);
    let mut body = event.to_json();
    body["title"] = json!(r#"a "b" \c ]d"#);
    body["a name with spaces"] = json!("x");
    body["x".repeat(33)] = json!("too long");
    body["flag"] = json!(true);
    body["nothing"] = Value::Null;
    let line = encoder(MsgFormat::Rfc5424).encode(&Outgoing { event, body });
    let (sd, msg) = line.split_once("] ").unwrap();
    assert!(sd.contains(r#" title="a \"b\" \\c \]d""#), "{sd}");
    assert!(sd.contains(r#" flag="true""#), "{sd}");
    assert!(sd.contains(r#" location.path="src/app.py""#), "{sd}");
    assert!(sd.contains(r#" location.line="7""#), "{sd}");
    assert!(!sd.contains("spaces") && !sd.contains("too long") && !sd.contains("nothing"));
    // The unmaskable fields lead, once each.
    assert!(
        sd.contains(r#"[argus@32473 event_id="42" kind="scan_result" org_id="acme" scan_id=""#),
        "{sd}"
    );
    assert_eq!(sd.matches(" severity=").count(), 1);
    assert_eq!(msg, r#"medium secrets: a "b" \c ]d"#);
}

#[test]
fn the_summary_and_parameters_come_from_the_masked_body() {
    let event = result_event(Severity::Low);
    let mut body = event.to_json();
    body["title"] = json!(MASKED);
    body.as_object_mut().unwrap().remove("location");
    let out = Outgoing { event, body };
    let line = encoder(MsgFormat::Rfc5424).encode(&out);
    assert!(!line.contains("the real title"), "{line}");
    assert!(!line.contains("src/app.py"), "{line}");
    assert!(line.ends_with("] low secrets: ****"), "{line}");

    let mut body = json!({});
    let event = lifecycle_event(LifecycleAction::Failed, Some("disk full"));
    assert_eq!(summary(&event, &body), format!("scan {}", event.scan_id));
    body = event.to_json();
    assert_eq!(
        summary(&event, &body),
        format!("scan {} failed (disk full)", event.scan_id)
    );
}

#[test]
fn sd_names_and_header_fields() {
    assert!(is_sd_name("event_id"));
    assert!(is_sd_name("location.path"));
    assert!(!is_sd_name(""));
    assert!(!is_sd_name("a=b"));
    assert!(!is_sd_name("a]"));
    assert!(!is_sd_name("a\"b"));
    assert!(!is_sd_name("é"));
    assert!(!is_sd_name(&"x".repeat(33)));
    assert_eq!(header_field("", 48), "-");
    assert_eq!(header_field("my host", 48), "my_host");
    assert_eq!(header_field("hôte", 48), "h_te");
    assert_eq!(header_field(&"h".repeat(300), 255).len(), 255);
    let mut s = String::new();
    push_param_value(&mut s, "]\\\"x");
    assert_eq!(s, r#"\]\\\"x"#);
}

#[test]
fn truncation_keeps_whole_characters() {
    let mut s = "aü日🚀".to_owned(); // 1 + 2 + 3 + 4 bytes
    truncate_at_char_boundary(&mut s, 100);
    assert_eq!(s, "aü日🚀");
    for (max, expected) in [
        (10, "aü日🚀"),
        (9, "aü日"),
        (6, "aü日"),
        (5, "aü"),
        (2, "a"),
        (0, ""),
    ] {
        let mut s = "aü日🚀".to_owned();
        truncate_at_char_boundary(&mut s, max);
        assert_eq!(s, expected, "{max}");
    }
}

#[test]
fn udp_messages_are_cut_at_8192_bytes_unless_set() {
    let s = sink(json!({ "url": "udp://s", "hostname": "h" })).unwrap();
    let mut event = result_event(Severity::Info);
    if let SinkPayload::ScanResult(r) = &mut event.payload {
        r.title = "ü".repeat(10_000);
    }
    let out = Outgoing::new(event);
    let m = s.message(&out);
    assert!(m.len() <= DEFAULT_UDP_MESSAGE && m.len() >= DEFAULT_UDP_MESSAGE - 1);
    assert!(std::str::from_utf8(&m).is_ok());
    let s = sink(json!({ "url": "tcp://s", "hostname": "h" })).unwrap();
    assert!(s.message(&out).len() > 20_000);
    let s = sink(json!({ "url": "tcp://s", "hostname": "h", "max_message": 100 })).unwrap();
    assert_eq!(s.message(&out).len(), 100);
}

#[test]
fn frames_are_octet_counted() {
    let mut out = Vec::new();
    push_frame(&mut out, b"<134>1 x");
    push_frame(&mut out, "ü".as_bytes());
    assert_eq!(out, "8 <134>1 x2 ü".as_bytes());
}

#[test]
fn the_time_is_rfc3339_utc_with_microseconds() {
    let mut event = result_event(Severity::Info);
    event.time = Utc.timestamp_micros(1_780_000_000_123_456).unwrap();
    let line = encoder(MsgFormat::Json).encode(&Outgoing::new(event));
    assert!(
        line.contains(" 2026-05-28T20:26:40.123456Z host1 "),
        "{line}"
    );
}
