//! Sealed repository copies: a scan's git bundle, encrypted at rest with AES-256-GCM, so history
//! cleaning can later work from the exact history that was scanned without the platform ever
//! keeping a readable copy of the secrets in it.
//!
//! Format (version 1): the 8-byte magic `ARGUSRC1`, a random 7-byte nonce prefix, then the
//! plaintext in 64 KiB segments, each sealed with the STREAM construction (Hoang, Reyhanitabar,
//! Rogaway, Vizár: "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance"),
//! `aead::stream::EncryptorBE32`: a per-segment counter and a last-segment flag are part of each
//! nonce, so segments cannot be reordered, dropped or truncated without [`open_file`] failing.
//! The magic is the associated data of every segment.
//!
//! Invariants:
//! - Only ciphertext is ever written to `dst` by [`seal_file`]; the caller deletes the plaintext.
//! - Memory stays bounded (two segments) whatever the repository's size.
//! - The key ([`RepoCopyKey`]) is read from an environment variable the operator names; it is
//!   never logged (its `Debug` prints `[REDACTED]`) and never stored.

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::aead::{OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// First bytes of every sealed file (and the associated data of every segment).
pub const MAGIC: &[u8; 8] = b"ARGUSRC1";

/// Plaintext bytes per segment.
const SEGMENT: usize = 64 * 1024;

/// AES-GCM tag bytes per segment.
const TAG: usize = 16;

/// Nonce prefix bytes: 12-byte GCM nonce minus STREAM's 4-byte counter and 1-byte flag.
const NONCE_PREFIX: usize = 7;

/// Why sealing or opening failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key is not 32 bytes as 64 hex digits or base64.
    #[error("the repository copy key must be 32 bytes, given as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)")]
    BadKey,
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not a sealed copy, was sealed with another key, or was altered or truncated.
    #[error(
        "the sealed copy cannot be opened: wrong key, or the file is damaged or not a sealed copy"
    )]
    Corrupt,
}

/// The 256-bit key sealed copies are encrypted with.
#[derive(Clone)]
pub struct RepoCopyKey([u8; 32]);

impl std::fmt::Debug for RepoCopyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RepoCopyKey([REDACTED])")
    }
}

impl RepoCopyKey {
    /// Parses 64 hex digits or standard/URL-safe base64 of 32 bytes (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, SealError> {
        use base64::Engine as _;
        let t = text.trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(t).map_err(|_| SealError::BadKey)?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(t))
                .map_err(|_| SealError::BadKey)?
        };
        let key: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(RepoCopyKey(key))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads `input` in segments of `len` bytes, one segment ahead, and hands each to `step` with
/// whether it is the last (an empty input is one empty last segment: STREAM always ends with a
/// last segment); writes what `step` returns. Returns the bytes written.
fn segments(
    input: &mut impl Read,
    out: &mut impl Write,
    len: usize,
    mut step: impl FnMut(Payload<'_, '_>, bool) -> Result<Vec<u8>, SealError>,
) -> Result<u64, SealError> {
    let (mut cur, mut next) = (vec![0u8; len], vec![0u8; len]);
    let mut cur_len = read_full(input, &mut cur)?;
    let mut written = 0u64;
    loop {
        let next_len = read_full(input, &mut next)?;
        let last = next_len == 0;
        let payload = Payload {
            msg: &cur[..cur_len],
            aad: MAGIC,
        };
        let bytes = step(payload, last)?;
        out.write_all(&bytes)?;
        written += bytes.len() as u64;
        if last {
            return Ok(written);
        }
        std::mem::swap(&mut cur, &mut next);
        cur_len = next_len;
    }
}

/// Encrypts the file `src` into a new file `dst` (blocking); returns the bytes written.
pub fn seal_file(key: &RepoCopyKey, src: &Path, dst: &Path) -> Result<u64, SealError> {
    let mut input = BufReader::new(File::open(src)?);
    let mut out = BufWriter::new(File::create(dst)?);
    let mut prefix = [0u8; NONCE_PREFIX];
    OsRng.fill_bytes(&mut prefix);
    out.write_all(MAGIC)?;
    out.write_all(&prefix)?;
    let mut enc = Some(EncryptorBE32::from_aead(key.cipher(), (&prefix).into()));
    let body = segments(&mut input, &mut out, SEGMENT, |payload, last| {
        // `encrypt_last` consumes the encryptor: the last segment is the last call.
        let sealed = if last {
            enc.take().ok_or(SealError::Corrupt)?.encrypt_last(payload)
        } else {
            enc.as_mut()
                .ok_or(SealError::Corrupt)?
                .encrypt_next(payload)
        };
        sealed.map_err(|_| SealError::Corrupt)
    })?;
    out.flush()?;
    out.get_ref().sync_all()?;
    Ok((MAGIC.len() + NONCE_PREFIX) as u64 + body)
}

/// Decrypts the sealed file `src` into a new file `dst` (blocking); returns the plaintext bytes.
/// Fails with [`SealError::Corrupt`] on a wrong key or any alteration, truncation included; `dst`
/// may then hold a prefix of the plaintext and must be discarded.
pub fn open_file(key: &RepoCopyKey, src: &Path, dst: &Path) -> Result<u64, SealError> {
    let mut input = BufReader::new(File::open(src)?);
    let mut head = [0u8; MAGIC.len() + NONCE_PREFIX];
    if read_full(&mut input, &mut head)? != head.len() || &head[..MAGIC.len()] != MAGIC {
        return Err(SealError::Corrupt);
    }
    let prefix: [u8; NONCE_PREFIX] = head[MAGIC.len()..]
        .try_into()
        .map_err(|_| SealError::Corrupt)?;
    let mut dec = Some(DecryptorBE32::from_aead(key.cipher(), (&prefix).into()));
    let mut out = BufWriter::new(File::create(dst)?);
    let plain = segments(&mut input, &mut out, SEGMENT + TAG, |payload, last| {
        let opened = if last {
            dec.take().ok_or(SealError::Corrupt)?.decrypt_last(payload)
        } else {
            dec.as_mut()
                .ok_or(SealError::Corrupt)?
                .decrypt_next(payload)
        };
        opened.map_err(|_| SealError::Corrupt)
    })?;
    out.flush()?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(b: u8) -> RepoCopyKey {
        RepoCopyKey::parse(&hex::encode([b; 32])).unwrap()
    }

    fn round_trip(len: usize) {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        let (src, sealed, back) = (
            dir.path().join("p"),
            dir.path().join("s"),
            dir.path().join("b"),
        );
        std::fs::write(&src, &data).unwrap();
        let n = seal_file(&key(1), &src, &sealed).unwrap();
        let ct = std::fs::read(&sealed).unwrap();
        assert_eq!(n, ct.len() as u64);
        let segments = len.div_ceil(SEGMENT).max(1);
        assert_eq!(ct.len(), 15 + len + segments * TAG, "len {len}");
        assert_eq!(open_file(&key(1), &sealed, &back).unwrap(), len as u64);
        assert_eq!(std::fs::read(&back).unwrap(), data);
    }

    #[test]
    fn round_trips_at_segment_edges() {
        for len in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 5] {
            round_trip(len);
        }
    }

    #[test]
    fn ciphertext_holds_no_plaintext_and_differs_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let secret = b"AKIAQYLPMN5HHHFPZAM2 is in here";
        let src = dir.path().join("p");
        std::fs::write(&src, secret.repeat(1000)).unwrap();
        seal_file(&key(2), &src, &dir.path().join("a")).unwrap();
        seal_file(&key(2), &src, &dir.path().join("b")).unwrap();
        let a = std::fs::read(dir.path().join("a")).unwrap();
        let b = std::fs::read(dir.path().join("b")).unwrap();
        assert!(!a.windows(8).any(|w| w == b"AKIAQYLP"));
        assert_ne!(
            a, b,
            "the random nonce prefix makes every sealing different"
        );
    }

    #[test]
    fn wrong_key_truncation_and_tampering_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("p");
        std::fs::write(&src, vec![9u8; 2 * SEGMENT + 10]).unwrap();
        let sealed = dir.path().join("s");
        seal_file(&key(3), &src, &sealed).unwrap();
        let out = dir.path().join("o");
        assert!(matches!(
            open_file(&key(4), &sealed, &out),
            Err(SealError::Corrupt)
        ));
        let ct = std::fs::read(&sealed).unwrap();
        // Dropping the last segment leaves a stream whose new last segment was not sealed as last.
        let cut = dir.path().join("cut");
        std::fs::write(&cut, &ct[..15 + 2 * (SEGMENT + TAG)]).unwrap();
        assert!(matches!(
            open_file(&key(3), &cut, &out),
            Err(SealError::Corrupt)
        ));
        let mut flipped = ct.clone();
        flipped[20] ^= 1;
        let bad = dir.path().join("bad");
        std::fs::write(&bad, &flipped).unwrap();
        assert!(matches!(
            open_file(&key(3), &bad, &out),
            Err(SealError::Corrupt)
        ));
        std::fs::write(&bad, b"not a sealed copy").unwrap();
        assert!(matches!(
            open_file(&key(3), &bad, &out),
            Err(SealError::Corrupt)
        ));
    }

    #[test]
    fn keys_parse_from_hex_or_base64_and_stay_redacted() {
        let hexed = hex::encode([7u8; 32]);
        let b64 = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
        assert_eq!(RepoCopyKey::parse(&hexed).unwrap().0, [7u8; 32]);
        assert_eq!(RepoCopyKey::parse(b64).unwrap().0, [7u8; 32]);
        assert!(RepoCopyKey::parse("short").is_err());
        assert!(RepoCopyKey::parse(&hex::encode([7u8; 16])).is_err());
        assert!(!format!("{:?}", RepoCopyKey::parse(&hexed).unwrap()).contains("0707"));
    }
}
