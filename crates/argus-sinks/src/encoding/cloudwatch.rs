//! CloudWatch Logs encoding: a batch becomes log events (`{timestamp, message}`, the message
//! being the body's compact JSON) cut into `PutLogEvents` requests that respect the service's
//! limits.
//!
//! Limits kept (AWS's `PutLogEvents` quotas):
//! - at most [`MAX_EVENTS`] events and [`MAX_REQUEST_BYTES`] bytes per request, counting each
//!   message's UTF-8 bytes plus [`EVENT_OVERHEAD`];
//! - events of one request in chronological order (sorted by timestamp, stably, so events of
//!   one millisecond keep the batch's order) and spanning less than 24 hours;
//! - a message longer than [`MAX_MESSAGE_BYTES`] is cut (at a character boundary): the
//!   message is then no longer valid JSON, but the event is not lost.
//!
//! Timestamps: an event's own time, except when CloudWatch would refuse it for its age
//! (older than 14 days) or for being ahead (more than 2 hours in the future): such an event
//! (a backlog forwarded after a long outage, a skewed clock) is stamped with the sending time
//! instead, so it is stored rather than rejected; its message still carries its own `time`.

use argus_core::sink::Outgoing;
use serde_json::{json, Value};

/// Most events in one `PutLogEvents` request.
pub const MAX_EVENTS: usize = 10_000;
/// Most bytes in one request, counted as CloudWatch counts them.
pub const MAX_REQUEST_BYTES: usize = 1_048_576;
/// Bytes CloudWatch adds to each message when counting a request.
pub const EVENT_OVERHEAD: usize = 26;
/// Longest message CloudWatch takes (256 KiB minus the overhead).
pub const MAX_MESSAGE_BYTES: usize = 262_144 - EVENT_OVERHEAD;
/// One request's events span less than this (24 hours).
pub const MAX_SPAN_MS: i64 = 24 * 3600 * 1000;
/// Events older than this are refused by CloudWatch (14 days) …
pub const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// … and so are events further ahead than this (2 hours).
pub const MAX_AHEAD_MS: i64 = 2 * 3600 * 1000;
/// Room kept inside the accepted window for the time the request takes to arrive.
const WINDOW_MARGIN_MS: i64 = 10 * 60 * 1000;

/// One log event, with the store event id it came from (for error reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub message: String,
    pub event_id: i64,
}

/// The batch's log events, sorted by timestamp (stable), stamped as the module docs say
/// (`now_ms`: the sending time) and with long messages cut.
pub fn log_events(batch: &[Outgoing], now_ms: i64) -> Vec<LogEvent> {
    let oldest = now_ms - MAX_AGE_MS + WINDOW_MARGIN_MS;
    let newest = now_ms + MAX_AHEAD_MS - WINDOW_MARGIN_MS;
    let mut events: Vec<LogEvent> = batch
        .iter()
        .map(|o| {
            let own = o.event.time.timestamp_millis();
            let timestamp = if (oldest..=newest).contains(&own) {
                own
            } else {
                now_ms
            };
            LogEvent {
                timestamp,
                message: cut(o.body.to_string(), MAX_MESSAGE_BYTES),
                event_id: o.event.event_id,
            }
        })
        .collect();
    events.sort_by_key(|e| e.timestamp);
    events
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Sorted events cut into requests within the limits, in order.
pub fn requests(events: Vec<LogEvent>) -> Vec<Vec<LogEvent>> {
    let mut out: Vec<Vec<LogEvent>> = Vec::new();
    let mut current: Vec<LogEvent> = Vec::new();
    let mut bytes = 0;
    for e in events {
        let size = e.message.len() + EVENT_OVERHEAD;
        let full = current.len() >= MAX_EVENTS
            || bytes + size > MAX_REQUEST_BYTES
            || current
                .first()
                .is_some_and(|first| e.timestamp - first.timestamp >= MAX_SPAN_MS);
        if full && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(e);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The `PutLogEvents` request body for `events`.
pub fn put_log_events_body(group: &str, stream: &str, events: &[LogEvent]) -> Vec<u8> {
    let log_events: Vec<Value> = events
        .iter()
        .map(|e| json!({ "timestamp": e.timestamp, "message": e.message }))
        .collect();
    json!({
        "logGroupName": group,
        "logStreamName": stream,
        "logEvents": log_events,
    })
    .to_string()
    .into_bytes()
}

/// The store event ids of the events a `rejectedLogEventsInfo` answer names (indexes into
/// `events`: everything up to `tooOldLogEventEndIndex` and `expiredLogEventEndIndex`, and from
/// `tooNewLogEventStartIndex` on), with why.
pub fn rejected(info: &Value, events: &[LogEvent]) -> Vec<(i64, &'static str)> {
    let index = |k: &str| {
        info.get(k)
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok())
    };
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let why = if index("tooOldLogEventEndIndex").is_some_and(|end| i <= end) {
            Some("too old")
        } else if index("expiredLogEventEndIndex").is_some_and(|end| i <= end) {
            Some("older than the group's retention")
        } else if index("tooNewLogEventStartIndex").is_some_and(|start| i >= start) {
            Some("too far in the future")
        } else {
            None
        };
        if let Some(why) = why {
            out.push((e.event_id, why));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::sink::Outgoing;
    use chrono::{TimeZone, Utc};

    fn ev(timestamp: i64, len: usize, id: i64) -> LogEvent {
        LogEvent {
            timestamp,
            message: "x".repeat(len),
            event_id: id,
        }
    }

    #[test]
    fn requests_respect_the_byte_limit_counting_the_overhead() {
        // Four messages of a quarter of the limit: with the overhead only three fit.
        let len = MAX_REQUEST_BYTES / 4 - EVENT_OVERHEAD;
        let events: Vec<_> = (0..4).map(|i| ev(0, len, i)).collect();
        let reqs = requests(events);
        assert_eq!(
            reqs.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4],
            "exactly the limit fits"
        );
        let events: Vec<_> = (0..4).map(|i| ev(0, len + 1, i)).collect();
        let reqs = requests(events);
        assert_eq!(reqs.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 1]);
        for r in &reqs {
            let size: usize = r.iter().map(|e| e.message.len() + EVENT_OVERHEAD).sum();
            assert!(size <= MAX_REQUEST_BYTES);
        }
    }

    #[test]
    fn requests_respect_the_count_limit() {
        let events: Vec<_> = (0..MAX_EVENTS as i64 + 5).map(|i| ev(i, 1, i)).collect();
        let reqs = requests(events);
        assert_eq!(
            reqs.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![MAX_EVENTS, 5]
        );
    }

    #[test]
    fn requests_span_less_than_a_day() {
        let events = vec![
            ev(0, 1, 1),
            ev(MAX_SPAN_MS - 1, 1, 2),
            ev(MAX_SPAN_MS, 1, 3),
            ev(MAX_SPAN_MS + 5, 1, 4),
        ];
        let ids: Vec<Vec<i64>> = requests(events)
            .iter()
            .map(|r| r.iter().map(|e| e.event_id).collect())
            .collect();
        assert_eq!(ids, vec![vec![1, 2], vec![3, 4]]);
    }

    fn outgoing(id: i64, at_ms: i64, body: Value) -> Outgoing {
        use argus_core::ids::ScanId;
        use argus_core::scan::ScanState;
        use argus_core::sink::{LifecycleAction, ScanLifecycle, SinkEvent, SinkPayload};
        let event = SinkEvent {
            schema: "argus.event".into(),
            schema_version: 1,
            event_id: id,
            time: Utc.timestamp_millis_opt(at_ms).unwrap(),
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
    fn events_are_sorted_stably_and_stamped_inside_the_window() {
        let now = 1_800_000_000_000;
        let batch = vec![
            outgoing(1, now - 5_000, json!({"n": 1})),
            outgoing(2, now - 9_000, json!({"n": 2})),
            outgoing(3, now - 5_000, json!({"n": 3})),
            // Too old and too far ahead for CloudWatch: stamped with the sending time.
            outgoing(4, now - MAX_AGE_MS - 1, json!({"n": 4})),
            outgoing(5, now + MAX_AHEAD_MS + 1, json!({"n": 5})),
        ];
        let events = log_events(&batch, now);
        let got: Vec<(i64, i64)> = events.iter().map(|e| (e.event_id, e.timestamp)).collect();
        assert_eq!(
            got,
            vec![
                (2, now - 9_000),
                (1, now - 5_000),
                (3, now - 5_000),
                (4, now),
                (5, now)
            ]
        );
        assert_eq!(events[0].message, r#"{"n":2}"#, "the body, compact");
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let body = json!({ "s": "ü".repeat(MAX_MESSAGE_BYTES) });
        let events = log_events(&[outgoing(1, 1_800_000_000_000, body)], 1_800_000_000_000);
        let m = &events[0].message;
        assert!(m.len() <= MAX_MESSAGE_BYTES && m.len() > MAX_MESSAGE_BYTES - 4);
        assert!(m.starts_with(r#"{"s":"üü"#));
    }

    #[test]
    fn rejected_info_names_the_events() {
        let events: Vec<_> = (0..5).map(|i| ev(i, 1, 10 + i)).collect();
        let info = json!({"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 4});
        assert_eq!(
            rejected(&info, &events),
            vec![
                (10, "too old"),
                (11, "too old"),
                (14, "too far in the future")
            ]
        );
        assert!(rejected(&json!({}), &events).is_empty());
    }

    #[test]
    fn the_body_is_the_put_log_events_shape() {
        let body = put_log_events_body("g", "s", &[ev(7, 2, 1)]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"logGroupName": "g", "logStreamName": "s",
                   "logEvents": [{"timestamp": 7, "message": "xx"}]})
        );
    }
}
