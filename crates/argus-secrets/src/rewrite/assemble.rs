//! The output pack: every object of the rewritten history, and nothing else, in one pack written
//! directly (no `git repack`, no borrowed object store).
//!
//! The source's packs are walked in pack order, each entry once:
//! - an object the output keeps unchanged is copied as stored: a whole object byte for byte, a
//!   delta with its compressed instructions as they were when its base is in the output too (only
//!   the base's distance is rewritten);
//! - a tree the rewrite changed is written where its old version was, as a delta against the
//!   output version of the old version's base: a changed tree differs from its old version only in
//!   ids swapped in place ([`TreeEdit`]), so the old delta's instructions are carried over
//!   ([`transform_delta`]) with the bytes that changed on either side turned into literal inserts.
//!   No delta search is needed and the output keeps the source's delta chains;
//! - a delta whose base is not in the output (a secret-bearing blob, an unreachable object) is
//!   resolved and written whole.
//!
//! Then the new objects nobody wrote yet (cleaned blobs, commits, tags, trees whose old version
//! was loose) are copied from the scratch pack, and what is left (loose objects of the source)
//! is read through the object database.
//!
//! Invariants: exactly the objects of `keep` are written, each once (so the output holds no
//! unreachable object, in particular none of the replaced originals); an entry is copied only when
//! its bytes match the source index's CRC-32 (corruption is not carried over: the object is then
//! resolved through the object database, which reports it); a delta is written only after its
//! base; a materialized changed tree must hash to the id the rewrite computed.

use super::{corrupt, io, IdMap, RewriteControl, RewriteError};
use crate::packs::{copy_op, delta_size, PackSet, RawKind};
use gix::ObjectId;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// One id swapped in place in a tree: at byte `at`, `old` became `new`.
#[derive(Clone, Debug)]
pub(crate) struct Edit {
    pub at: u32,
    pub old: ObjectId,
    pub new: ObjectId,
}

/// The new version of a changed tree and how it differs from the old one (edits sorted by `at`).
#[derive(Clone, Debug)]
pub(crate) struct TreeEdit {
    pub new: ObjectId,
    pub edits: Box<[Edit]>,
}

fn push_size(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Encoder of delta instructions: literal bytes are gathered and flushed in runs of at most 127.
#[derive(Default)]
pub(crate) struct DeltaOut {
    pub out: Vec<u8>,
    literal: Vec<u8>,
}

impl DeltaOut {
    pub(crate) fn new(base_size: usize, result_size: usize) -> Self {
        let mut d = DeltaOut::default();
        push_size(&mut d.out, base_size);
        push_size(&mut d.out, result_size);
        d
    }

    fn flush(&mut self) {
        for chunk in self.literal.chunks(127) {
            self.out.push(chunk.len() as u8);
            self.out.extend_from_slice(chunk);
        }
        self.literal.clear();
    }

    pub(crate) fn insert(&mut self, bytes: &[u8]) {
        self.literal.extend_from_slice(bytes);
    }

    /// Copy `size` bytes from `offset` of the base; `None` past 4 GiB (not encodable).
    pub(crate) fn copy(&mut self, offset: usize, mut size: usize) -> Option<()> {
        self.flush();
        let mut offset = u32::try_from(offset).ok()?;
        while size > 0 {
            let n = size.min(0xff_ffff);
            let mut cmd = 0x80u8;
            let mut args = [0u8; 7];
            let mut k = 0;
            for i in 0..4 {
                let b = (offset >> (8 * i)) as u8;
                if b != 0 {
                    cmd |= 1 << i;
                    args[k] = b;
                    k += 1;
                }
            }
            for i in 0..3 {
                let b = (n >> (8 * i)) as u8;
                if b != 0 {
                    cmd |= 0x10 << i;
                    args[k] = b;
                    k += 1;
                }
            }
            self.out.push(cmd);
            self.out.extend_from_slice(&args[..k]);
            size -= n;
            offset = offset.checked_add(u32::try_from(n).ok()?)?;
        }
        Some(())
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.flush();
        self.out
    }
}

/// The first edit whose id range ends after `pos`.
fn edit_at(edits: &[Edit], pos: usize, hash_len: usize) -> Option<&Edit> {
    let i = edits.partition_point(|e| e.at as usize + hash_len <= pos);
    edits.get(i)
}

/// Carry a delta from base `B` to result `X` over to one from `B'` to `X'`, where `B'` is `B`
/// with `base_edits` applied and `X'` is `X` with `result_edits` applied (ids swapped in place:
/// lengths do not change). A copied byte stays a copy only where neither side changed; every
/// other byte becomes a literal: the new id's byte where `X` changed, otherwise the old byte of
/// `B` (what `X` holds there). `None` when the delta is malformed or an edit does not fit.
pub(crate) fn transform_delta(
    delta: &[u8],
    base_edits: &[Edit],
    result_edits: &[Edit],
    hash_len: usize,
) -> Option<Vec<u8>> {
    let (base_size, i) = delta_size(delta, 0)?;
    let (result_size, mut i) = delta_size(delta, i)?;
    let fits = |edits: &[Edit], len: usize| edits.iter().all(|e| e.at as usize + hash_len <= len);
    if !fits(base_edits, base_size) || !fits(result_edits, result_size) {
        return None;
    }
    let new_byte = |pos: usize| -> Option<u8> {
        let e = edit_at(result_edits, pos, hash_len)?;
        let at = e.at as usize;
        (at <= pos).then(|| e.new.as_bytes()[pos - at])
    };
    let mut out = DeltaOut::new(base_size, result_size);
    let mut o = 0usize;
    while i < delta.len() {
        let cmd = delta[i];
        i += 1;
        if cmd & 0x80 != 0 {
            let (off, size) = copy_op(cmd, delta, &mut i)?;
            if off.checked_add(size)? > base_size || o + size > result_size {
                return None;
            }
            let mut k = 0;
            while k < size {
                let (po, ps) = (o + k, off + k);
                let r = edit_at(result_edits, po, hash_len).map(|e| e.at as usize);
                let b = edit_at(base_edits, ps, hash_len);
                let in_r = r.is_some_and(|a| a <= po);
                let in_b = b.is_some_and(|e| e.at as usize <= ps);
                if in_r {
                    out.insert(&[new_byte(po)?]);
                    k += 1;
                } else if in_b {
                    let e = b?;
                    out.insert(&[e.old.as_bytes()[ps - e.at as usize]]);
                    k += 1;
                } else {
                    let mut run = size - k;
                    if let Some(a) = r {
                        run = run.min(a - po);
                    }
                    if let Some(e) = b {
                        run = run.min(e.at as usize - ps);
                    }
                    out.copy(ps, run)?;
                    k += run;
                }
            }
            o += size;
        } else if cmd != 0 {
            let n = usize::from(cmd);
            let data = delta.get(i..i + n)?;
            if o + n > result_size {
                return None;
            }
            for (k, &byte) in data.iter().enumerate() {
                out.insert(&[new_byte(o + k).unwrap_or(byte)]);
            }
            i += n;
            o += n;
        } else {
            return None;
        }
    }
    (o == result_size).then(|| out.finish())
}

/// Apply `edits` to the bytes of an old tree (checking that each old id is where it should be).
fn apply_edits(data: &mut [u8], edits: &[Edit], hash_len: usize) -> bool {
    for e in edits {
        let at = e.at as usize;
        match data.get_mut(at..at + hash_len) {
            Some(slot) if slot == e.old.as_bytes() => slot.copy_from_slice(e.new.as_bytes()),
            _ => return false,
        }
    }
    true
}

/// Reads an object of the source whole into the buffer; its kind.
pub(crate) type ReadWhole<'r> =
    dyn FnMut(&ObjectId, &mut Vec<u8>) -> Result<gix::objs::Kind, RewriteError> + 'r;

/// What [`assemble`] reads besides the source packs.
pub(crate) struct Sources<'a> {
    pub packs: &'a PackSet,
    /// The scratch pack of new objects and its entries (id, offset, end), all undeltified.
    pub scratch: &'a Path,
    pub scratch_entries: &'a [(ObjectId, u64, u64)],
    /// Changed trees: old id → new version.
    pub tree_edits: &'a IdMap<TreeEdit>,
    pub hash: gix::hash::Kind,
}

/// Counters of [`assemble`], for the report and the tests.
#[derive(Debug, Default)]
pub(crate) struct AssembleStats {
    /// Whole objects copied as stored.
    pub copied: u64,
    /// Deltas copied as stored (only their base distance is new).
    pub copied_deltas: u64,
    /// Deltas carried over to changed bases or results.
    pub carried: u64,
    /// Objects written whole because their delta base is not in the output.
    pub resolved: u64,
    /// New objects copied from the scratch pack.
    pub new: u64,
    /// Objects read through the object database (loose in the source).
    pub loose: u64,
}

impl AssembleStats {
    /// Objects written.
    pub(crate) fn total(&self) -> u64 {
        self.copied + self.copied_deltas + self.carried + self.resolved + self.new + self.loose
    }
}

/// Write every object of `keep` into `out`; `read` resolves an object of the source whole (for
/// deltas whose base is not in the output, and loose objects).
pub(crate) fn assemble(
    src: &Sources<'_>,
    keep: &gix::hashtable::HashSet<ObjectId>,
    out: &mut super::pack::PackWriter,
    read: &mut ReadWhole<'_>,
    control: &RewriteControl,
) -> Result<AssembleStats, RewriteError> {
    let hash_len = src.hash.len_in_bytes();
    let mut stats = AssembleStats::default();
    let mut raw = src.packs.raw_reader();
    let (mut delta, mut buf) = (Vec::new(), Vec::new());
    let werr = || io("writing the output pack");
    let progress = &control.progress;

    // Write `target` (the old object `old`, with `edits` applied when it is a changed tree)
    // whole, resolving `old` through `read`.
    let mut whole = |out: &mut super::pack::PackWriter,
                     buf: &mut Vec<u8>,
                     old: &ObjectId,
                     target: ObjectId,
                     edits: Option<&TreeEdit>|
     -> Result<(), RewriteError> {
        let kind = read(old, buf)?;
        if let Some(te) = edits {
            if !apply_edits(buf, &te.edits, hash_len) {
                return Err(corrupt(old, "tree changed while rewriting"));
            }
            let id = gix::objs::compute_hash(src.hash, kind, buf)
                .map_err(|e| corrupt(old, e.to_string()))?;
            if id != target {
                return Err(corrupt(old, "tree changed while rewriting"));
            }
        }
        out.add_raw(target, kind, buf).map_err(werr())
    };

    for pi in 0..src.packs.len() {
        let entries = src.packs.raw_entries(pi);
        for (n, e) in entries.iter().enumerate() {
            if n % 4096 == 0 {
                control.check()?;
            }
            let (target, edits) = if keep.contains(&e.id) {
                (e.id, None)
            } else if let Some(te) = src.tree_edits.get(&e.id) {
                (te.new, Some(te))
            } else {
                continue;
            };
            if out.offset_of(&target).is_some() || !keep.contains(&target) {
                continue;
            }
            progress
                .done
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some((bytes, header)) = raw.entry(pi, e) else {
                whole(out, &mut buf, &e.id, target, edits)?;
                stats.resolved += 1;
                continue;
            };
            if e.crc32.is_some_and(|c| c != crc32fast::hash(bytes)) {
                // Damaged in the source: the object database reports it (or reads it from
                // another copy).
                whole(out, &mut buf, &e.id, target, edits)?;
                stats.resolved += 1;
                continue;
            }
            let base_id = match header.kind {
                RawKind::Base if edits.is_none() => {
                    out.add_copied(target, bytes).map_err(werr())?;
                    stats.copied += 1;
                    continue;
                }
                RawKind::Base => {
                    whole(out, &mut buf, &e.id, target, edits)?;
                    stats.resolved += 1;
                    continue;
                }
                RawKind::OfsDelta(at) => match entries.binary_search_by_key(&at, |x| x.offset) {
                    Ok(b) => entries[b].id,
                    Err(_) => {
                        whole(out, &mut buf, &e.id, target, edits)?;
                        stats.resolved += 1;
                        continue;
                    }
                },
                RawKind::RefDelta(id) => id,
            };
            // The base as the output holds it: its new version when it is a changed tree,
            // itself when it is kept; otherwise the delta cannot be used.
            let (base_at, base_edits) = match src.tree_edits.get(&base_id) {
                Some(be) => (out.offset_of(&be.new), Some(be)),
                None => (out.offset_of(&base_id), None),
            };
            let Some(base_at) = base_at else {
                whole(out, &mut buf, &e.id, target, edits)?;
                stats.resolved += 1;
                continue;
            };
            if base_edits.is_none() && edits.is_none() {
                let size =
                    usize::try_from(header.size).map_err(|_| corrupt(&e.id, "delta size"))?;
                let body = bytes.get(header.data_at..).unwrap_or(&[]);
                out.add_delta(target, base_at, size, body).map_err(werr())?;
                stats.copied_deltas += 1;
                continue;
            }
            let carried = raw.inflate(pi, e, &mut delta).then(|| {
                transform_delta(
                    &delta,
                    base_edits.map_or(&[][..], |b| &b.edits),
                    edits.map_or(&[][..], |t| &t.edits),
                    hash_len,
                )
            });
            match carried.flatten() {
                Some(d) => {
                    out.add_delta_raw(target, base_at, &d).map_err(werr())?;
                    stats.carried += 1;
                }
                None => {
                    whole(out, &mut buf, &e.id, target, edits)?;
                    stats.resolved += 1;
                }
            }
        }
    }

    // New objects not written at an old version's place.
    let file = std::fs::File::open(src.scratch).map_err(io("reading the scratch pack"))?;
    for &(id, from, to) in src.scratch_entries {
        if out.offset_of(&id).is_some() || !keep.contains(&id) {
            continue;
        }
        let len = usize::try_from(to - from).map_err(|_| corrupt(&id, "entry size"))?;
        buf.resize(len, 0);
        file.read_exact_at(&mut buf, from)
            .map_err(io("reading the scratch pack"))?;
        out.add_copied(id, &buf).map_err(werr())?;
        stats.new += 1;
    }
    drop(file);

    // What no pack held: loose objects of the source.
    for id in keep {
        if out.offset_of(id).is_some() {
            continue;
        }
        control.check()?;
        let kind = read(id, &mut buf)?;
        out.add_raw(*id, kind, &buf).map_err(werr())?;
        stats.loose += 1;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[b; 20])
    }

    /// Apply a git delta with the packs reader's decoder (what reads these deltas back).
    fn apply(base: &[u8], delta: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::packs::apply_delta(base, delta, &mut out).expect("a well-formed delta");
        out
    }

    fn edited(data: &[u8], edits: &[Edit]) -> Vec<u8> {
        let mut d = data.to_vec();
        assert!(apply_edits(&mut d, edits, 20));
        d
    }

    #[test]
    fn carried_deltas_rebuild_the_new_result_from_the_new_base() {
        // A base of three "ids" and a result that copies around them, reorders and inserts.
        let mut base = Vec::new();
        for b in [1u8, 2, 3] {
            base.extend_from_slice(b"name\0");
            base.extend_from_slice(id(b).as_bytes());
        }
        // Result: base[0..25] (entry 1), "XY", base[50..75] (entry 3), base[25..50] (entry 2).
        let mut d = DeltaOut::new(base.len(), 25 + 2 + 25 + 25);
        d.copy(0, 25).unwrap();
        d.insert(b"XY");
        d.copy(50, 25).unwrap();
        d.copy(25, 25).unwrap();
        let delta = d.finish();
        let result = apply(&base, &delta);

        // The base changed its second id, the result its first (which sits in a copied run) and
        // its last (the second entry copied from the base, which changed there too).
        let base_edits = [Edit {
            at: 30,
            old: id(2),
            new: id(20),
        }];
        let result_edits = [
            Edit {
                at: 5,
                old: id(1),
                new: id(10),
            },
            Edit {
                at: 57,
                old: id(2),
                new: id(21),
            },
        ];
        let new_base = edited(&base, &base_edits);
        let new_result = edited(&result, &result_edits);
        let carried = transform_delta(&delta, &base_edits, &result_edits, 20).unwrap();
        assert_eq!(apply(&new_base, &carried), new_result);

        // Only the base changed: the result is the old one, rebuilt from the new base.
        let carried = transform_delta(&delta, &base_edits, &[], 20).unwrap();
        assert_eq!(apply(&new_base, &carried), result);
        // Nothing changed: the same result.
        let carried = transform_delta(&delta, &[], &[], 20).unwrap();
        assert_eq!(apply(&base, &carried), result);
        // An edit outside the object, or a truncated delta, is refused.
        let outside = [Edit {
            at: 70,
            old: id(3),
            new: id(4),
        }];
        assert!(transform_delta(&delta, &outside, &[], 20).is_none());
        assert!(transform_delta(&delta[..delta.len() - 1], &[], &[], 20).is_none());
    }

    #[test]
    fn long_copies_and_literals_are_split() {
        let base: Vec<u8> = (0..0x30000u32).map(|i| (i % 251) as u8).collect();
        let mut d = DeltaOut::new(base.len(), base.len() + 300);
        d.copy(0, base.len()).unwrap();
        d.insert(&[7u8; 300]);
        let delta = d.finish();
        let mut want = base.clone();
        want.extend([7u8; 300]);
        assert_eq!(apply(&base, &delta), want);
        assert!(DeltaOut::new(1, 1).copy(1 << 33, 1).is_none());
    }
}
