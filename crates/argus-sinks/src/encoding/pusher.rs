//! Pusher Channels encoding: one event becomes one trigger request body,
//! `{"name": …, "channels": ["<prefix>-org-<org>", "<prefix>-scan-<scan id>"], "data": "<body
//! as a JSON string>"}`.
//!
//! Limits kept (Pusher's HTTP API):
//! - channel names only use `A-Za-z0-9_-=@,.;` (anything else in the prefix or the org id
//!   becomes `_`) and are at most [`MAX_CHANNEL_CHARS`] long;
//! - `data` is at most [`MAX_DATA_BYTES`]. A larger body is sent reduced, never dropped, and
//!   marked `"truncated": true`: first with its strings cut (to 1024, then 256, 64, 16
//!   characters, ending in `…`); if that is not enough (a body of many small values), as its
//!   envelope alone: the identifying fields ([`ENVELOPE`]) with strings cut to 64 characters.

use serde_json::{json, Map, Value};

/// Most bytes of an event's `data` (Pusher's 10 KB).
pub const MAX_DATA_BYTES: usize = 10_240;
/// Longest channel name Pusher accepts.
pub const MAX_CHANNEL_CHARS: usize = 164;
/// Longest event name Pusher accepts.
pub const MAX_NAME_CHARS: usize = 200;

/// The fields a body reduced to its envelope keeps.
pub const ENVELOPE: &[&str] = &[
    "schema",
    "schema_version",
    "event_id",
    "kind",
    "time",
    "org_id",
    "scan_id",
    "severity",
    "scanner",
    "finding_kind",
    "title",
    "fingerprint",
    "action",
];

/// Whether Pusher accepts `c` in a channel name.
pub fn is_channel_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-=@,.;".contains(c)
}

/// `name` with every character Pusher refuses replaced by `_`, cut to the longest name.
pub fn channel_name(name: &str) -> String {
    name.chars()
        .map(|c| if is_channel_char(c) { c } else { '_' })
        .take(MAX_CHANNEL_CHARS)
        .collect()
}

/// The event's two channels: its organisation's and its scan's.
pub fn channels(prefix: &str, org: &str, scan: &str) -> [String; 2] {
    [
        channel_name(&format!("{prefix}-org-{org}")),
        channel_name(&format!("{prefix}-scan-{scan}")),
    ]
}

/// The body as Pusher's `data` string, reduced as the module docs say when too large.
pub fn data(body: &Value) -> String {
    let full = body.to_string();
    if full.len() <= MAX_DATA_BYTES {
        return full;
    }
    for limit in [1024, 256, 64, 16] {
        let mut reduced = body.clone();
        cut_strings(&mut reduced, limit);
        let s = marked(reduced).to_string();
        if s.len() <= MAX_DATA_BYTES {
            return s;
        }
    }
    let mut envelope = Map::new();
    if let Value::Object(map) = body {
        for key in ENVELOPE {
            if let Some(v) = map.get(*key) {
                envelope.insert((*key).to_owned(), v.clone());
            }
        }
    }
    let mut envelope = Value::Object(envelope);
    cut_strings(&mut envelope, 64);
    marked(envelope).to_string()
}

/// `v` with `"truncated": true` (a non-object is wrapped as `{"body": …}` first).
fn marked(v: Value) -> Value {
    let mut map = match v {
        Value::Object(map) => map,
        other => {
            let mut m = Map::new();
            m.insert("body".into(), other);
            m
        }
    };
    map.insert("truncated".into(), Value::Bool(true));
    Value::Object(map)
}

fn cut_strings(v: &mut Value, max: usize) {
    match v {
        Value::String(s) => {
            if let Some((cut, _)) = s.char_indices().nth(max) {
                s.truncate(cut);
                s.push('…');
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| cut_strings(i, max)),
        Value::Object(map) => map.values_mut().for_each(|i| cut_strings(i, max)),
        _ => {}
    }
}

/// The trigger request's body.
pub fn trigger_body(name: &str, channels: &[String], data: &str) -> Vec<u8> {
    let name: String = name.chars().take(MAX_NAME_CHARS).collect();
    json!({ "name": name, "channels": channels, "data": data })
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_keep_only_what_pusher_accepts() {
        assert_eq!(
            channels("argus", "acme corp/eu#1", "0193a"),
            [
                "argus-org-acme_corp_eu_1".to_owned(),
                "argus-scan-0193a".to_owned()
            ]
        );
        assert_eq!(channel_name("a=b@c,d.e;f_g-h"), "a=b@c,d.e;f_g-h");
        assert_eq!(channel_name(&"x".repeat(500)).len(), MAX_CHANNEL_CHARS);
        assert_eq!(channel_name("ü"), "_");
    }

    #[test]
    fn a_small_body_is_sent_whole() {
        let body = json!({"event_id": 1, "title": "t"});
        assert_eq!(data(&body), body.to_string());
    }

    #[test]
    fn a_body_with_a_long_string_has_its_strings_cut() {
        let body = json!({"event_id": 1, "title": "t", "description": "d".repeat(20_000)});
        let d = data(&body);
        assert!(d.len() <= MAX_DATA_BYTES);
        let v: Value = serde_json::from_str(&d).unwrap();
        assert_eq!(v["truncated"], true);
        assert_eq!(v["event_id"], 1);
        assert_eq!(v["title"], "t");
        assert_eq!(v["description"].as_str().unwrap().chars().count(), 1025);
    }

    #[test]
    fn a_body_of_many_values_is_reduced_to_its_envelope() {
        let body = json!({
            "event_id": 9, "kind": "scan_result", "title": "x".repeat(100),
            "data": {"ports": (0..5000).collect::<Vec<_>>()},
        });
        let d = data(&body);
        assert!(d.len() <= MAX_DATA_BYTES);
        let v: Value = serde_json::from_str(&d).unwrap();
        assert_eq!(v["truncated"], true);
        assert_eq!(v["event_id"], 9);
        assert_eq!(v["kind"], "scan_result");
        assert!(v.get("data").is_none());
        assert_eq!(v["title"].as_str().unwrap().chars().count(), 65);
    }

    #[test]
    fn the_trigger_body_carries_the_data_as_a_string() {
        let b = trigger_body("scan_result", &["a".into(), "b".into()], r#"{"n":1}"#);
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            v,
            json!({"name": "scan_result", "channels": ["a", "b"], "data": "{\"n\":1}"})
        );
    }
}
