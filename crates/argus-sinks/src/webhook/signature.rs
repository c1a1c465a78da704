//! Webhook signatures (the scheme is described in the [module docs](super)): making the
//! `X-Argus-Signature` header and checking one, for receivers and tests.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "X-Argus-Signature";
/// The event id header's name.
pub const EVENT_ID_HEADER: &str = "X-Argus-Event-Id";

/// The MAC over `"<t>.<body>"`.
fn mac(secret: &[u8], t: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Argus-Signature` value for `body` sent at unix time `t`:
/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature_header(secret: &[u8], t: i64, body: &[u8]) -> String {
    let tag = mac(secret, t, body).finalize().into_bytes();
    format!("t={t},v1={}", hex::encode(tag))
}

/// Whether `header` (an `X-Argus-Signature` value) signs `body` with `secret`, at a time no
/// further than `tolerance` from `now` (either way: an old signature may be a replay, one from
/// the future a wrong clock). Any of several `v1` entries may match (a sender rotating its
/// secret signs with both); entries of other versions are ignored. The MAC comparison is
/// constant-time.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> bool {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => candidates.push(value),
            _ => {}
        }
    }
    let Some(t) = t else {
        return false;
    };
    let age = now.timestamp().abs_diff(t);
    if age > tolerance.as_secs() {
        return false;
    }
    candidates.into_iter().any(|candidate| {
        hex::decode(candidate).is_ok_and(|tag| mac(secret, t, body).verify_slice(&tag).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    fn at(t: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(t, 0).unwrap()
    }

    #[test]
    fn a_signature_verifies_and_a_changed_one_does_not() {
        let body = br#"{"event_id":1}"#;
        let header = signature_header(b"s3cret", 1_780_000_000, body);
        assert!(header.starts_with("t=1780000000,v1="), "{header}");
        assert!(verify_signature(
            b"s3cret",
            &header,
            body,
            at(1_780_000_010),
            FIVE_MINUTES
        ));
        assert!(!verify_signature(
            b"other",
            &header,
            body,
            at(1_780_000_010),
            FIVE_MINUTES
        ));
        assert!(!verify_signature(
            b"s3cret",
            &header,
            br#"{"event_id":2}"#,
            at(1_780_000_010),
            FIVE_MINUTES
        ));
        // The timestamp is signed too.
        let moved = header.replace("t=1780000000", "t=1780000001");
        assert!(!verify_signature(
            b"s3cret",
            &moved,
            body,
            at(1_780_000_010),
            FIVE_MINUTES
        ));
    }

    #[test]
    fn old_and_future_signatures_are_refused() {
        let header = signature_header(b"k", 1_000_000, b"x");
        assert!(verify_signature(
            b"k",
            &header,
            b"x",
            at(1_000_300),
            FIVE_MINUTES
        ));
        assert!(!verify_signature(
            b"k",
            &header,
            b"x",
            at(1_000_301),
            FIVE_MINUTES
        ));
        assert!(!verify_signature(
            b"k",
            &header,
            b"x",
            at(999_699),
            FIVE_MINUTES
        ));
    }

    #[test]
    fn malformed_headers_are_refused_and_any_v1_may_match() {
        let good = signature_header(b"k", 10, b"x");
        let tag = good.split_once("v1=").unwrap().1;
        for bad in ["", "t=10", "v1=00", "t=x,v1=00", "t=10,v1=zz"] {
            assert!(
                !verify_signature(b"k", bad, b"x", at(10), FIVE_MINUTES),
                "{bad}"
            );
        }
        let rotated = format!("t=10,v1={},v0=ignored,v1={tag}", "00".repeat(32));
        assert!(verify_signature(b"k", &rotated, b"x", at(10), FIVE_MINUTES));
    }
}
