//! The cursor of connector lists, shared by both stores: by `(name, id)` like templates
//! (`crate::cursor::by_name`), tagged `"s": "connectors"` so that a cursor of another list
//! (templates, scans) is refused rather than misread. The stores fetch `limit + 1` rows;
//! [`page`] trims the extra row.

use argus_core::connector_config::RegisteredConnector;
use argus_core::finding::Page;
use argus_core::Result;

use crate::cursor::by_name;

const TAG: &str = "connectors";

/// Decodes a connector cursor into the `(name, id)` to list after; anything else is `Invalid`
/// at `/cursor`.
pub(crate) fn decode(cursor: &str) -> Result<(String, uuid::Uuid)> {
    by_name::decode(TAG, cursor)
}

/// One page from up to `limit + 1` rows in list order.
pub(crate) fn page(items: Vec<RegisteredConnector>, limit: u32) -> Page<RegisteredConnector> {
    crate::cursor::page(items, limit, |c| by_name::after(TAG, &c.name, &c.id))
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
