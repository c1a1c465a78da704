//! Microsoft Sentinel (Azure Monitor Logs Ingestion API) encoding: each event becomes one
//! record, its body with `TimeGenerated` (the event's time, RFC 3339) added, and a batch
//! becomes JSON arrays of records, each at most [`MAX_CALL_BYTES`] (the API's 1 MB per call).
//!
//! A body that is not a JSON object (never the case for forwarded events) travels as
//! `{"Body": <body>}` so that every record is an object the data collection rule can map.
//! A single record larger than a call cannot be sent at all: it is returned apart, for the
//! sink to report as rejected.

use argus_core::sink::Outgoing;
use chrono::SecondsFormat;
use serde_json::{Map, Value};

/// Most bytes of one upload's JSON array.
pub const MAX_CALL_BYTES: usize = 1_048_576;

/// The column every Log Analytics table has, set from the event's time.
pub const TIME_GENERATED: &str = "TimeGenerated";

/// One upload: the JSON array's bytes and the events it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub body: Vec<u8>,
    pub event_ids: Vec<i64>,
}

/// The record for one event.
pub fn record(o: &Outgoing) -> Value {
    let mut map = match &o.body {
        Value::Object(m) => m.clone(),
        other => {
            let mut m = Map::new();
            m.insert("Body".into(), other.clone());
            m
        }
    };
    map.insert(
        TIME_GENERATED.into(),
        Value::from(o.event.time.to_rfc3339_opts(SecondsFormat::Millis, true)),
    );
    Value::Object(map)
}

/// The batch as uploads of at most `max_bytes` each, in order, and the ids (with sizes) of
/// events whose record alone is larger.
pub fn calls(batch: &[Outgoing], max_bytes: usize) -> (Vec<Call>, Vec<(i64, usize)>) {
    let mut out = Vec::new();
    let mut too_large = Vec::new();
    let mut current = Call {
        body: b"[".to_vec(),
        event_ids: Vec::new(),
    };
    for o in batch {
        let r = record(o).to_string();
        // `[` + records joined by `,` + `]`.
        if r.len() + 2 > max_bytes {
            too_large.push((o.event.event_id, r.len()));
            continue;
        }
        if !current.event_ids.is_empty() && current.body.len() + 1 + r.len() + 1 > max_bytes {
            current.body.push(b']');
            out.push(std::mem::replace(
                &mut current,
                Call {
                    body: b"[".to_vec(),
                    event_ids: Vec::new(),
                },
            ));
        }
        if !current.event_ids.is_empty() {
            current.body.push(b',');
        }
        current.body.extend_from_slice(r.as_bytes());
        current.event_ids.push(o.event.event_id);
    }
    if !current.event_ids.is_empty() {
        current.body.push(b']');
        out.push(current);
    }
    (out, too_large)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::ids::ScanId;
    use argus_core::scan::ScanState;
    use argus_core::sink::{LifecycleAction, ScanLifecycle, SinkEvent, SinkPayload};
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn outgoing(id: i64, body: Value) -> Outgoing {
        let event = SinkEvent {
            schema: "argus.event".into(),
            schema_version: 1,
            event_id: id,
            time: Utc.timestamp_millis_opt(1_780_000_000_123).unwrap(),
            org_id: "acme".into(),
            scan_id: ScanId::new(),
            payload: SinkPayload::ScanLifecycle(ScanLifecycle {
                action: LifecycleAction::Completed,
                from: ScanState::Running,
                to: ScanState::Completed,
                reason: None,
                counters: None,
            }),
        };
        Outgoing { event, body }
    }

    #[test]
    fn records_are_the_body_with_time_generated() {
        let r = record(&outgoing(1, json!({"title": "****", "n": 1})));
        assert_eq!(
            r,
            json!({"title": "****", "n": 1, "TimeGenerated": "2026-05-28T20:26:40.123Z"})
        );
        let r = record(&outgoing(1, json!("text")));
        assert_eq!(r["Body"], "text");
    }

    #[test]
    fn calls_stay_within_the_limit_and_keep_the_order() {
        let batch: Vec<_> = (0..10)
            .map(|i| outgoing(i, json!({"s": "z".repeat(100)})))
            .collect();
        let one = record(&batch[0]).to_string().len();
        // Room for exactly three records per call.
        let max = 2 + 3 * one + 2;
        let (calls, too_large) = calls(&batch, max);
        assert!(too_large.is_empty());
        assert_eq!(
            calls.iter().map(|c| c.event_ids.len()).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
        let mut ids: Vec<i64> = Vec::new();
        for c in &calls {
            assert!(c.body.len() <= max);
            let v: Value = serde_json::from_slice(&c.body).unwrap();
            assert_eq!(v.as_array().unwrap().len(), c.event_ids.len());
            ids.extend(&c.event_ids);
        }
        assert_eq!(ids, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn a_record_larger_than_a_call_is_set_apart() {
        let batch = vec![
            outgoing(1, json!({"s": "a"})),
            outgoing(2, json!({"s": "b".repeat(MAX_CALL_BYTES)})),
            outgoing(3, json!({"s": "c"})),
        ];
        let (calls, too_large) = calls(&batch, MAX_CALL_BYTES);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].event_ids, vec![1, 3]);
        assert_eq!(too_large.len(), 1);
        assert_eq!(too_large[0].0, 2);
    }
}
