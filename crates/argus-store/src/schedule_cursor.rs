//! The cursor of schedule lists, shared by both stores: schedules are listed by `(name, id)`,
//! in the stores' one cursor codec (`crate::cursor`), tagged `"s": "schedules"` so that a
//! cursor of another list is refused rather than misread.

use argus_core::finding::Page;
use argus_core::schedule::Schedule;
use argus_core::Result;

use crate::cursor::by_name;

const TAG: &str = "schedules";

/// Decodes a schedule cursor into the `(name, id)` to list after; anything else is `Invalid`
/// at `/cursor`.
pub(crate) fn decode(cursor: &str) -> Result<(String, uuid::Uuid)> {
    by_name::decode(TAG, cursor)
}

/// One page from up to `limit + 1` rows in list order.
pub(crate) fn page(items: Vec<Schedule>, limit: u32) -> Page<Schedule> {
    crate::cursor::page(items, limit, |s| by_name::after(TAG, &s.name, &s.id))
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
