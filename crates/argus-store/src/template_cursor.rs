//! The cursor of template lists, shared by both stores.
//!
//! Templates are listed by `(name, id)`; the cursor is the position after the last item of a
//! page: that item's name and id, in the stores' one cursor codec (`crate::cursor`), tagged
//! `"s": "templates"` so that a cursor of another list (scans, findings) is refused rather than
//! misread. The stores fetch
//! `limit + 1` rows; [`page`] trims the extra row and derives `next_cursor` from the last kept
//! item, so a cursor is only handed out while more items follow.

use argus_core::finding::Page;
use argus_core::template::Template;
use argus_core::Result;

use crate::cursor::by_name;

const TAG: &str = "templates";

/// Decodes a template cursor into the `(name, id)` to list after; anything else is `Invalid`
/// at `/cursor`.
pub(crate) fn decode(cursor: &str) -> Result<(String, uuid::Uuid)> {
    by_name::decode(TAG, cursor)
}

/// One page from up to `limit + 1` rows in list order.
pub(crate) fn page(items: Vec<Template>, limit: u32) -> Page<Template> {
    crate::cursor::page(items, limit, |t| by_name::after(TAG, &t.name, &t.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_and_garbled_cursors_are_invalid() {
        for bad in ["%%%", "e30", ""] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        let other = crate::cursor::encode(&serde_json::json!({"s": "scans", "n": "a", "i": "x"}));
        assert!(decode(&other).is_err());
    }
}
