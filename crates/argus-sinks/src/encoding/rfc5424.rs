//! RFC 5424 syslog lines: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG`.
//!
//! What goes in a line comes from the outgoing **body** (the event after the entry's masking
//! and truncation); from the event itself only what the body cannot mask away is taken: the
//! event id, time, kind, severity, scan and organisation. So a masked field never leaves
//! through a header, a structured-data parameter or the summary.
//!
//! Two message formats ([`MsgFormat`]):
//! - `rfc5424`: one SD-ELEMENT `[argus@32473 event_id=".." kind=".." org_id=".." scan_id=".."
//!   severity=".." …]` carrying the body's scalar fields (top level, and one level into nested
//!   objects as `parent.child`), and MSG = a one-line human summary built from the body;
//! - `json`: no structured data (`-`) and MSG = the body as compact one-line JSON.
//!
//! Invariants:
//! - PRI = facility × 8 + severity, severity from [`SinkEvent::severity`] (critical → 2,
//!   high → 3, medium → 4, low → 5, info → 6);
//! - every header field is printable US-ASCII without spaces, within the RFC's lengths;
//! - PARAM-VALUEs escape `"`, `\` and `]` (RFC 5424 §6.3.3); PARAM-NAMEs that are not valid
//!   SD-NAMEs (1–32 printable US-ASCII characters other than `=`, space, `]`, `"`) are left
//!   out rather than sent malformed;
//! - MSG carries no line break or other control character in the `rfc5424` format (the JSON
//!   format escapes them), so a receiver that splits on newlines still sees one event per line.
//!   MSG is sent without a BOM (RFC 5424's MSG-ANY): receivers that parse MSG as JSON choke
//!   on one.

use std::fmt::Write as _;

use argus_core::finding::Severity;
use argus_core::sink::{Outgoing, SinkEvent, SinkEventKind};
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The SD-ID of Argus's structured data element (32473 is the enterprise number RFC 5612
/// reserves for documentation and examples).
pub const SD_ID: &str = "argus@32473";

/// The longest HOSTNAME, APP-NAME and MSGID RFC 5424 allows.
pub const MAX_HOSTNAME: usize = 255;
pub const MAX_APP_NAME: usize = 48;
const MAX_SD_NAME: usize = 32;

/// What a line's STRUCTURED-DATA and MSG hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MsgFormat {
    /// An `argus@32473` SD-ELEMENT with the body's scalar fields, and a summary as MSG.
    #[default]
    Rfc5424,
    /// No structured data; MSG is the body as compact JSON.
    Json,
}

/// The fixed parts of every line a sink writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoder {
    /// Facility code, 0–23.
    pub facility: u8,
    /// HOSTNAME: a valid header field (see [`header_field`]) or `-`.
    pub hostname: String,
    /// APP-NAME: a valid header field or `-`.
    pub app_name: String,
    pub format: MsgFormat,
}

/// The syslog severity code of an event severity.
pub fn severity_code(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

/// `value` as a header field of at most `max` characters: printable US-ASCII without spaces
/// (anything else becomes `_`), `-` when empty.
pub fn header_field(value: &str, max: usize) -> String {
    let field: String = value
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if field.is_empty() {
        "-".to_owned()
    } else {
        field
    }
}

/// Whether `name` may be an SD-NAME (RFC 5424 §6.3.3).
pub fn is_sd_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SD_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'=' | b']' | b'"'))
}

/// Appends `value` as a PARAM-VALUE's content, escaping `"`, `\` and `]`.
pub fn push_param_value(out: &mut String, value: &str) {
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

impl Encoder {
    /// The syslog line for one outgoing event (without framing).
    pub fn encode(&self, out: &Outgoing) -> String {
        let event = &out.event;
        let pri = u16::from(self.facility) * 8 + u16::from(severity_code(event.severity()));
        let mut line = format!(
            "<{pri}>1 {} {} {} - {} ",
            event.time.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.hostname,
            self.app_name,
            event.kind().as_str(),
        );
        match self.format {
            MsgFormat::Json => {
                line.push_str("- ");
                // A `Value`'s Display is compact JSON; strings escape every control character,
                // so this is one line.
                let _ = write!(line, "{}", out.body);
            }
            MsgFormat::Rfc5424 => {
                push_structured_data(&mut line, event, &out.body);
                line.push(' ');
                line.extend(summary(event, &out.body).chars().map(|c| {
                    if c.is_control() {
                        ' '
                    } else {
                        c
                    }
                }));
            }
        }
        line
    }
}

/// The `[argus@32473 …]` element: the event's unmaskable fields first, then the body's scalars
/// in the body's order.
fn push_structured_data(out: &mut String, event: &SinkEvent, body: &Value) {
    let fixed = [
        ("event_id", event.event_id.to_string()),
        ("kind", event.kind().as_str().to_owned()),
        ("org_id", event.org_id.clone()),
        ("scan_id", event.scan_id.to_string()),
        ("severity", event.severity().as_str().to_owned()),
    ];
    out.push('[');
    out.push_str(SD_ID);
    for (name, value) in &fixed {
        push_param(out, name, value);
    }
    let Some(map) = body.as_object() else {
        out.push(']');
        return;
    };
    for (name, value) in map {
        if fixed.iter().any(|(n, _)| n == name) {
            continue;
        }
        match value {
            Value::Object(inner) => {
                for (child, value) in inner {
                    if let Some(text) = scalar(value) {
                        push_param(out, &format!("{name}.{child}"), &text);
                    }
                }
            }
            other => {
                if let Some(text) = scalar(other) {
                    push_param(out, name, &text);
                }
            }
        }
    }
    out.push(']');
}

fn push_param(out: &mut String, name: &str, value: &str) {
    if !is_sd_name(name) {
        return;
    }
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    push_param_value(out, value);
    out.push('"');
}

/// A scalar's text; `None` for null, lists and objects.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// The one-line summary of [`SinkEvent::summary`], with its words taken from the body so a
/// masked title or reason stays masked (a field the body lost is left out).
pub fn summary(event: &SinkEvent, body: &Value) -> String {
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    match event.kind() {
        SinkEventKind::ScanResult => {
            let mut s = event.severity().as_str().to_owned();
            if let Some(scanner) = text("scanner") {
                s.push(' ');
                s.push_str(scanner);
            }
            s.push(':');
            if let Some(title) = text("title") {
                s.push(' ');
                s.push_str(title);
            }
            s
        }
        SinkEventKind::ScanLifecycle => {
            let mut s = format!("scan {}", event.scan_id);
            if let Some(action) = text("action") {
                s.push(' ');
                s.push_str(action);
            }
            if let Some(reason) = text("reason") {
                let _ = write!(s, " ({reason})");
            }
            s
        }
        // `audit <user> <action> <resource>: <outcome> (<status>)`, each word as the body has it.
        SinkEventKind::Audit => {
            let mut s = "audit".to_owned();
            for key in ["user_id", "action", "resource"] {
                if let Some(v) = text(key) {
                    s.push(' ');
                    s.push_str(v);
                }
            }
            s.push(':');
            if let Some(outcome) = text("outcome") {
                s.push(' ');
                s.push_str(outcome);
            }
            if let Some(status) = body.get("status").and_then(Value::as_u64) {
                let _ = write!(s, " ({status})");
            }
            s
        }
    }
}
