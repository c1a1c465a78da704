//! A small Server-Sent Events parser (the subset of the WHATWG rules a client of Argus needs).
//!
//! Bytes arrive in arbitrary chunks; [`SseParser::push`] returns the events completed by each
//! chunk. Lines end with `\n` or `\r\n` (what axum writes; a lone `\r` is not a line end here).
//! Fields: `id`, `event`, `data` (several `data` lines join with `\n`); lines starting with `:`
//! are comments (keep-alives) and are dropped; a blank line dispatches the event, and an event
//! without `data` is dropped as the standard says.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `id` field, if the event had one.
    pub id: Option<String>,
    /// The `event` field (`message` when absent).
    pub event: String,
    pub data: String,
}

/// Incremental parser state: the unfinished line and the event being built.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for &b in chunk {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if let Some(e) = self.line_done(&String::from_utf8_lossy(&line)) {
                    out.push(e);
                }
            } else {
                self.line.push(b);
            }
        }
        out
    }

    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take();
            let event = self.event.take();
            let id = self.id.take();
            return data.map(|data| SseEvent {
                id,
                event: event.unwrap_or_else(|| "message".to_owned()),
                data,
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "id" => self.id = Some(value.to_owned()),
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            // `retry` and unknown fields: nothing a one-shot watcher needs.
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_parse_the_same() {
        let text = ": keep-alive\n\nid: 7\nevent: state\ndata: {\"a\":1}\n\nid:8\r\nevent:progress\r\ndata: x\r\ndata: y\r\n\r\n";
        let whole = SseParser::default().push(text.as_bytes());
        assert_eq!(
            whole,
            vec![
                SseEvent {
                    id: Some("7".into()),
                    event: "state".into(),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    id: Some("8".into()),
                    event: "progress".into(),
                    data: "x\ny".into()
                },
            ]
        );
        for cut in 0..text.len() {
            let mut p = SseParser::default();
            let mut got = p.push(&text.as_bytes()[..cut]);
            got.extend(p.push(&text.as_bytes()[cut..]));
            assert_eq!(got, whole, "cut at {cut}");
        }
    }

    #[test]
    fn events_without_data_are_dropped_and_unfinished_ones_wait() {
        let mut p = SseParser::default();
        assert!(p.push(b"id: 1\nevent: x\n\n").is_empty());
        assert!(p.push(b"data: half").is_empty());
        let e = p.push(b"\n\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].event, "message");
        assert_eq!(e[0].id, None);
    }
}
