//! The cursor of connector lists, shared by both stores.
//!
//! Connectors are listed by `(name, id)` like templates; the cursor is the position after the
//! last item of a page (its name and id) in the stores' one cursor codec (`crate::cursor`),
//! tagged `"s": "connectors"` so that a cursor of another list (templates, scans) is refused
//! rather than misread. The stores fetch `limit + 1` rows; [`page`] trims the extra row.

use serde::{Deserialize, Serialize};

use argus_core::connector_config::RegisteredConnector;
use argus_core::finding::Page;
use argus_core::Result;

use crate::cursor::bad;

const TAG: &str = "connectors";

#[derive(Serialize, Deserialize)]
struct Wire {
    s: String,
    n: String,
    i: String,
}

/// Decodes a connector cursor into the `(name, id)` to list after; anything else is `Invalid`
/// at `/cursor`.
pub(crate) fn decode(cursor: &str) -> Result<(String, uuid::Uuid)> {
    let w: Wire = crate::cursor::decode(cursor)?;
    if w.s != TAG {
        return Err(bad());
    }
    let id = uuid::Uuid::parse_str(&w.i).map_err(|_| bad())?;
    Ok((w.n, id))
}

fn encode(c: &RegisteredConnector) -> String {
    crate::cursor::encode(&Wire {
        s: TAG.into(),
        n: c.name.clone(),
        i: c.id.to_string(),
    })
}

/// One page from up to `limit + 1` rows in list order.
pub(crate) fn page(items: Vec<RegisteredConnector>, limit: u32) -> Page<RegisteredConnector> {
    crate::cursor::page(items, limit, encode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_and_garbled_cursors_are_invalid() {
        for bad in ["%%%", "e30", ""] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        let other =
            crate::cursor::encode(&serde_json::json!({"s": "templates", "n": "a", "i": "x"}));
        assert!(decode(&other).is_err());
    }
}
