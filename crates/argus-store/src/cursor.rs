//! List cursors, one codec for every list of both stores.
//!
//! A cursor is the position after the last item of a page, as base64url (no padding) of a small
//! JSON object. Its `s` field names the list and sort it belongs to, so a cursor of another list
//! or sort is refused (`Invalid` at `/cursor`), never misread.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use argus_core::finding::{Finding, Page};
use argus_core::scan::Scan;
use argus_core::{CoreError, Result};

/// The answer to any cursor that this list did not hand out.
pub(crate) fn bad() -> CoreError {
    CoreError::invalid("/cursor", "not a cursor returned by this list")
}

/// The wire form of `position`.
pub(crate) fn encode<T: Serialize>(position: &T) -> String {
    // Serialising a struct of strings and integers cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default())
}

/// A position back from its wire form; anything unreadable is [`bad`].
pub(crate) fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

/// One page from up to `limit + 1` rows in list order: the extra row only tells that there is
/// more, and `next_cursor` is the position of the last item kept.
pub(crate) fn page<T>(mut items: Vec<T>, limit: u32, position: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(position)
    } else {
        None
    };
    Page { items, next_cursor }
}

/// The position of lists by `(name, id)` (templates, connectors): the last item's name and id;
/// `s` names the list, so a cursor of another list is refused rather than misread.
pub(crate) mod by_name {
    use serde::{Deserialize, Serialize};

    use argus_core::Result;

    #[derive(Serialize, Deserialize)]
    struct Wire {
        s: String,
        n: String,
        i: String,
    }

    /// The `(name, id)` to list after, from a cursor of the list `list`; anything else is
    /// `Invalid` at `/cursor`.
    pub(crate) fn decode(list: &str, cursor: &str) -> Result<(String, uuid::Uuid)> {
        let w: Wire = super::decode(cursor)?;
        if w.s != list {
            return Err(super::bad());
        }
        let id = uuid::Uuid::parse_str(&w.i).map_err(|_| super::bad())?;
        Ok((w.n, id))
    }

    /// The position after the item `(name, id)` in the list `list`.
    pub(crate) fn after(list: &str, name: &str, id: &impl ToString) -> String {
        super::encode(&Wire {
            s: list.into(),
            n: name.into(),
            i: id.to_string(),
        })
    }
}

/// The position of verdict lists (key order within a scan): the last key; `s` names the list
/// and its filter, so a cursor of the malicious-only list is refused by the full list.
#[derive(Serialize, Deserialize)]
pub(crate) struct KeyCursor {
    pub s: String,
    pub k: String,
}

impl KeyCursor {
    /// The position after `key` in the list `list`.
    pub(crate) fn after(list: &str, key: &str) -> String {
        encode(&KeyCursor {
            s: list.into(),
            k: key.into(),
        })
    }

    /// The last key of a cursor of the list `list`.
    pub(crate) fn decode(s: &str, list: &str) -> Result<String> {
        let c: KeyCursor = decode(s)?;
        if c.s != list {
            return Err(bad());
        }
        Ok(c.k)
    }

    /// The list name of a verdict list with this filter.
    pub(crate) fn verdict_list(kind: Option<argus_core::detector::VerdictKind>) -> String {
        match kind {
            Some(k) => format!("verdicts:{}", k.as_str()),
            None => "verdicts".into(),
        }
    }
}

/// The position of scan and finding lists: the sort key of the last item (`r` a rank such as
/// severity, `c` a time in milliseconds) plus its id; `s` names the sort.
#[derive(Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub s: String,
    #[serde(default)]
    pub r: i64,
    pub c: i64,
    pub i: String,
}

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        encode(self)
    }

    /// The position after `scan` in a scan list (newest first).
    pub(crate) fn after_scan(scan: &Scan) -> String {
        Cursor {
            s: "scans".into(),
            r: 0,
            c: scan.created_at.timestamp_millis(),
            i: scan.id.to_string(),
        }
        .encode()
    }

    /// The position after `finding` in a finding list of the sort `sort`.
    pub(crate) fn after_finding(sort: &str, finding: &Finding) -> String {
        Cursor {
            s: sort.into(),
            r: i64::from(finding.severity.rank()),
            c: finding.created_at.timestamp_millis(),
            i: finding.id.to_string(),
        }
        .encode()
    }

    /// Decodes a cursor of the sort `sort`.
    pub(crate) fn decode(s: &str, sort: &str) -> Result<Self> {
        let c: Cursor = decode(s)?;
        if c.s != sort {
            return Err(bad());
        }
        Ok(c)
    }
}
