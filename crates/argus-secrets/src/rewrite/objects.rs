//! Raw object surgery: commits, tags and trees are edited as bytes, so everything Argus does not
//! mean to change (header order, encoding, extra headers such as `mergetag`, odd whitespace in
//! messages) stays byte-for-byte what it was.
//!
//! Invariants: a tree keeps its entries, names, modes and order (only ids are swapped, in place,
//! so the sort order git requires is preserved); a commit's `tree`/`parent` lines are replaced
//! one for one (parent order kept); a signature is removed only by the caller's decision, when
//! the object changed.

use gix::ObjectId;

/// One entry of a raw tree: its mode bytes and where its id sits in the tree's bytes.
pub(crate) struct TreeEntry<'a> {
    pub mode: &'a [u8],
    pub id_at: usize,
}

/// What an entry points to, by mode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum EntryKind {
    Tree,
    Blob,
    /// A submodule commit (`160000`): another repository's object, never followed.
    Gitlink,
}

impl TreeEntry<'_> {
    pub(crate) fn kind(&self) -> EntryKind {
        match self.mode {
            b"40000" | b"040000" => EntryKind::Tree,
            b"160000" => EntryKind::Gitlink,
            _ => EntryKind::Blob,
        }
    }
}

/// Parse a raw tree; `None` when it is malformed.
pub(crate) fn tree_entries(data: &[u8], hash_len: usize) -> Option<Vec<TreeEntry<'_>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let sp = memchr::memchr(b' ', &data[pos..])? + pos;
        let nul = memchr::memchr(0, &data[sp..])? + sp;
        let id_at = nul + 1;
        if id_at + hash_len > data.len() {
            return None;
        }
        out.push(TreeEntry {
            mode: &data[pos..sp],
            id_at,
        });
        pos = id_at + hash_len;
    }
    Some(out)
}

/// Header lines and message of a commit or tag.
pub(crate) struct Parsed<'a> {
    /// Header lines without their newline; continuation lines (leading space) are kept
    /// attached to the header they continue.
    pub headers: Vec<&'a [u8]>,
    /// Everything after the blank line (may be empty); `None` when there is no blank line.
    pub message: Option<&'a [u8]>,
}

/// Split a commit or tag into headers (with continuations) and message.
pub(crate) fn parse(data: &[u8]) -> Parsed<'_> {
    let mut headers: Vec<&[u8]> = Vec::new();
    let mut pos = 0;
    let mut message = None;
    while pos < data.len() {
        let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |e| e + pos);
        let line = &data[pos..end];
        if line.is_empty() {
            message = Some(data.get(end + 1..).unwrap_or(&[]));
            break;
        }
        if line[0] == b' ' {
            if let Some(last) = headers.last_mut() {
                // Extend the previous header over this continuation line (same buffer).
                let start = last.as_ptr() as usize - data.as_ptr() as usize;
                *last = &data[start..end];
                pos = end + 1;
                continue;
            }
        }
        headers.push(line);
        pos = end + 1;
    }
    Parsed { headers, message }
}

/// The value of a header line `name value`, when `line` is that header.
pub(crate) fn header_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(name)?;
    rest.strip_prefix(b" ")
}

/// A hex id in a header value.
pub(crate) fn hex_id(value: &[u8]) -> Option<ObjectId> {
    ObjectId::from_hex(value).ok()
}

/// Whether a header is a signature over the object (`gpgsig`, `gpgsig-sha256`).
pub(crate) fn is_signature_header(line: &[u8]) -> bool {
    header_value(line, b"gpgsig").is_some() || header_value(line, b"gpgsig-sha256").is_some()
}

/// Where an inline tag signature (appended to the message) starts, if any.
pub(crate) fn tag_signature_start(message: &[u8]) -> Option<usize> {
    const MARKERS: [&[u8]; 3] = [
        b"-----BEGIN PGP SIGNATURE-----",
        b"-----BEGIN SSH SIGNATURE-----",
        b"-----BEGIN SIGNED MESSAGE-----",
    ];
    let mut pos = 0;
    let mut found = None;
    while pos < message.len() {
        let end = memchr::memchr(b'\n', &message[pos..]).map_or(message.len(), |e| e + pos);
        let line = &message[pos..end];
        if MARKERS.iter().any(|m| line.starts_with(m)) {
            // The last marker line wins (a message may quote a signature block).
            found = Some(pos);
        }
        pos = end + 1;
    }
    found
}

/// Reassemble headers and message.
pub(crate) fn assemble(headers: &[Vec<u8>], message: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        headers.iter().map(|h| h.len() + 1).sum::<usize>() + message.map_or(0, |m| m.len() + 1),
    );
    for h in headers {
        out.extend_from_slice(h);
        out.push(b'\n');
    }
    if let Some(m) = message {
        out.push(b'\n');
        out.extend_from_slice(m);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_headers_keep_continuations() {
        let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\ngpgsig -----BEGIN-----\n abc\n -----END-----\nencoding latin1\n\nmsg\n";
        let p = parse(raw);
        assert_eq!(p.headers.len(), 4);
        assert!(is_signature_header(p.headers[2]));
        assert_eq!(
            p.headers[2],
            b"gpgsig -----BEGIN-----\n abc\n -----END-----"
        );
        assert_eq!(p.message, Some(&b"msg\n"[..]));
        let rebuilt = assemble(
            &p.headers.iter().map(|h| h.to_vec()).collect::<Vec<_>>(),
            p.message,
        );
        assert_eq!(rebuilt, raw);
    }

    #[test]
    fn tag_signature_found() {
        let m = b"release\n-----BEGIN PGP SIGNATURE-----\nxyz\n-----END PGP SIGNATURE-----\n";
        assert_eq!(tag_signature_start(m), Some(8));
        assert_eq!(tag_signature_start(b"plain\n"), None);
    }

    #[test]
    fn tree_entries_parse() {
        let mut t = b"100644 a\0".to_vec();
        t.extend([1u8; 20]);
        t.extend(b"40000 d\0");
        t.extend([2u8; 20]);
        let e = tree_entries(&t, 20).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].kind(), EntryKind::Blob);
        assert_eq!(e[1].kind(), EntryKind::Tree);
        assert_eq!(e[1].id_at, 9 + 20 + 8);
        assert!(tree_entries(&t[..t.len() - 1], 20).is_none());
    }
}
