//! The Splunk HTTP Event Collector envelope: one forwarded event as the JSON object HEC's
//! `/services/collector/event` endpoint takes, `{"time", "host", "source", "sourcetype",
//! "index", "event"}`. A request body is several of these written one after the other (no
//! separator, no array), which [`HecEnvelope::encode`] makes possible by returning each
//! event's bytes on their own.
//!
//! Invariants:
//! - `event` is the outgoing body exactly as given (masked and truncated by the forwarder),
//!   never the event re-serialized;
//! - `time` is the event's commit time in epoch seconds with milliseconds as the fraction (the
//!   form HEC documents), so Splunk's `_time` is the event's time, not the arrival time;
//! - `index` and `host` are written only when configured: without them HEC uses the token's
//!   default index and the sender's address.

use argus_core::sink::Outgoing;
use serde::Serialize;
use serde_json::Value;

/// The metadata every event of one sink carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HecEnvelope {
    /// `host`; omitted when `None`.
    pub host: Option<String>,
    /// `source`.
    pub source: String,
    /// `sourcetype`.
    pub sourcetype: String,
    /// `index`; omitted when `None` (the token's default index).
    pub index: Option<String>,
}

/// The wire form, borrowing everything.
#[derive(Serialize)]
struct Wire<'a> {
    time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    source: &'a str,
    sourcetype: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<&'a str>,
    event: &'a Value,
}

impl HecEnvelope {
    /// One event as its HEC JSON object (compact, no trailing newline).
    pub fn encode(&self, item: &Outgoing) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&Wire {
            time: epoch_seconds(item),
            host: self.host.as_deref(),
            source: &self.source,
            sourcetype: &self.sourcetype,
            index: self.index.as_deref(),
            event: &item.body,
        })
    }
}

/// The event's time in epoch seconds, milliseconds as the fraction. An `f64` holds every
/// millisecond exactly enough for the shortest-form printing to show three decimals at most.
fn epoch_seconds(item: &Outgoing) -> f64 {
    item.event.time.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::sink::SinkEvent;
    use chrono::TimeZone;
    use serde_json::json;

    fn item(millis: i64) -> Outgoing {
        let mut event: SinkEvent = serde_json::from_value(json!({
            "schema": "argus.event",
            "schema_version": 1,
            "event_id": 5,
            "time": "2026-01-01T00:00:00Z",
            "org_id": "acme",
            "scan_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "kind": "scan_lifecycle",
            "action": "completed",
            "from": "running",
            "to": "completed",
        }))
        .unwrap();
        event.time = chrono::Utc.timestamp_millis_opt(millis).unwrap();
        Outgoing {
            event,
            body: json!({"masked": "****"}),
        }
    }

    #[test]
    fn envelope_carries_the_body_and_the_time_in_seconds() {
        let envelope = HecEnvelope {
            host: None,
            source: "argus".into(),
            sourcetype: "argus:event".into(),
            index: None,
        };
        let bytes = envelope.encode(&item(1_780_000_001_234)).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("\"time\":1780000001.234"), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["event"], json!({"masked": "****"}));
        assert_eq!(v["sourcetype"], "argus:event");
        assert!(v.get("index").is_none() && v.get("host").is_none(), "{v}");
    }

    #[test]
    fn index_and_host_are_written_when_set() {
        let envelope = HecEnvelope {
            host: Some("scanner-1".into()),
            source: "s".into(),
            sourcetype: "t".into(),
            index: Some("sec".into()),
        };
        let v: Value = serde_json::from_slice(&envelope.encode(&item(0)).unwrap()).unwrap();
        assert_eq!(v["index"], "sec");
        assert_eq!(v["host"], "scanner-1");
        assert_eq!(v["time"], 0.0);
    }
}
