//! The JSON log line (`log.format = "json"`): one flat object per event, so log pipelines can
//! filter on `scan_id` or `request_id` without knowing which span set it.
//!
//! A line holds `timestamp` (RFC 3339, UTC, microseconds), `level`, `target`, the fields of
//! every span the event happened in (outermost first, so an inner span's field wins over an
//! outer one of the same name), then the event's own fields (`message` included), which win
//! over span fields. `timestamp`, `level` and `target` are always the formatter's own: a field
//! of that name is kept as `field.<name>` rather than overwriting them.
//!
//! The span fields are the ones `tracing_subscriber`'s [`JsonFields`] recorded when the span was
//! created (the worker's `task` span: `scan_id`, `task_id`, `scanner`, `attempt`; the API's
//! `request` span: `method`, `path`, `request_id`); [`init`] installs both.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Keys the formatter writes itself.
const RESERVED: [&str; 3] = ["timestamp", "level", "target"];

/// The flat JSON event format (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                // Recorded by `JsonFields` as a JSON object; anything else is not ours to parse.
                let Some(fields) = ext.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&fields.fields) {
                    for (k, v) in map {
                        insert(&mut line, k, v);
                    }
                }
            }
        }
        event.record(&mut Collect(&mut line));
        let meta = event.metadata();
        line.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert("level".into(), Value::String(meta.level().to_string()));
        line.insert("target".into(), Value::String(meta.target().to_owned()));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Puts a field in the line, keeping the formatter's own keys.
fn insert(line: &mut Map<String, Value>, key: String, value: Value) {
    if RESERVED.contains(&key.as_str()) {
        line.insert(format!("field.{key}"), value);
    } else {
        line.insert(key, value);
    }
}

/// Collects an event's fields as JSON values (numbers and booleans stay typed).
struct Collect<'a>(&'a mut Map<String, Value>);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        insert(
            self.0,
            field.name().to_owned(),
            Value::String(format!("{value:?}")),
        );
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        insert(
            self.0,
            field.name().to_owned(),
            Value::String(value.to_owned()),
        );
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        insert(self.0, field.name().to_owned(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        insert(self.0, field.name().to_owned(), Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        insert(self.0, field.name().to_owned(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        insert(self.0, field.name().to_owned(), Value::Bool(value));
    }
}

/// A JSON subscriber builder writing flat lines: [`FlatJson`] events over [`JsonFields`] spans.
pub fn json_builder() -> tracing_subscriber::fmt::SubscriberBuilder<JsonFields, FlatJson> {
    tracing_subscriber::fmt()
        .fmt_fields(JsonFields::new())
        .event_format(FlatJson)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buf: &Buf) -> Vec<Value> {
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn span_fields_are_flattened_into_each_line() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = json_builder()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("request", request_id = "r-1", path = "/x");
            let _o = outer.enter();
            let task =
                tracing::info_span!("task", scan_id = %"s-1", task_id = "t-1", attempt = 2u32);
            let _t = task.enter();
            tracing::info!(
                outcome = "done",
                took = 0.5,
                path = "/inner",
                level = "mine",
                "task finished"
            );
        });
        tracing::subscriber::with_default(
            json_builder()
                .with_writer({
                    let w = buf.clone();
                    move || w.clone()
                })
                .finish(),
            || tracing::warn!(n = 3, "outside any span"),
        );
        let got = lines(&buf);
        assert_eq!(got.len(), 2, "{got:?}");
        let l = &got[0];
        assert_eq!(l["message"], "task finished");
        assert_eq!(l["scan_id"], "s-1");
        assert_eq!(l["task_id"], "t-1");
        assert_eq!(l["attempt"], 2);
        assert_eq!(l["request_id"], "r-1");
        assert_eq!(l["outcome"], "done");
        assert_eq!(l["took"], 0.5);
        // The event's own field wins over the span's.
        assert_eq!(l["path"], "/inner");
        // The formatter's keys are its own.
        assert_eq!(l["level"], "INFO");
        assert_eq!(l["field.level"], "mine");
        assert!(l["target"].as_str().unwrap().starts_with("argus"), "{l}");
        assert!(
            chrono::DateTime::parse_from_rfc3339(l["timestamp"].as_str().unwrap()).is_ok(),
            "{l}"
        );
        let l = &got[1];
        assert_eq!(l["message"], "outside any span");
        assert_eq!(l["n"], 3);
        assert_eq!(l["level"], "WARN");
        assert!(l.get("scan_id").is_none());
    }
}
