//! Pack-order blob reading: every blob stored in a pack is inflated exactly once.
//!
//! Reading blobs one by one through the object database resolves each delta chain from its base
//! again (gix caches only the chain's base, not the intermediate results), so with git's usual
//! chains (depth up to 50) most of the CPU goes into inflating the same deltas over and over.
//! Here, per pack:
//! 1. every entry's header is parsed once (offsets from the `.idx`, sorted), giving each delta its
//!    base — an in-pack offset (`OFS_DELTA`) or an id looked up in the same index (`REF_DELTA`);
//! 2. the wanted blobs (ids looked up in the index) mark themselves and every base up their chain
//!    as *needed*; nothing else is ever inflated;
//! 3. the needed entries form a forest (base → deltas). Each tree is walked depth-first from its
//!    undeltified root, on the rayon pool (one tree per task): the root is inflated, each delta is
//!    inflated once and applied to its parent's bytes, which stay in a per-depth buffer while the
//!    subtree below is walked. Wanted blobs are handed to the visitor as they are produced.
//!
//! Invariants: a blob is visited at most once even when several packs hold it (`done` flags); a
//! blob that no pack yields (loose objects, a `REF_DELTA` base outside its pack, a damaged entry)
//! is left unvisited, and the caller reads it through the object database instead, so the set of
//! scanned blobs never depends on how the repository is packed. The walk is read-only and checks
//! the cancellation flag before every object.

use crate::error::{Result, SecretsError};
use gix::odb::pack;
use gix::ObjectId;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

const NONE: u32 = u32::MAX;

/// The packs of a repository (`objects/pack/*.idx` with their `.pack`).
pub(crate) struct PackSet {
    packs: Vec<(pack::index::File, pack::data::File)>,
}

impl PackSet {
    /// Open every pack of `repo`. A pack that cannot be opened is skipped: its blobs are then
    /// read through the object database by the caller.
    pub(crate) fn open(repo: &gix::Repository) -> Result<Self> {
        let dir = repo.objects.store_ref().path().join("pack");
        let hash = repo.object_hash();
        let mut packs = Vec::new();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PackSet { packs }),
            Err(e) => return Err(SecretsError::io(format!("reading {}", dir.display()), e)),
        };
        let mut idx_paths: Vec<_> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "idx"))
            .collect();
        idx_paths.sort();
        for idx in idx_paths {
            let data = idx.with_extension("pack");
            let (Ok(i), Ok(d)) = (
                pack::index::File::at(&idx, hash),
                pack::data::File::at(&data, hash),
            ) else {
                continue;
            };
            packs.push((i, d));
        }
        Ok(PackSet { packs })
    }

    /// Visit every blob of `blobs` that the packs hold, each once, in pack order, in parallel on
    /// the current rayon pool: `visit(state, blob index, content)`, with one `init()` state per
    /// task. Returns, per blob index, whether it was visited.
    pub(crate) fn for_each_blob<S>(
        &self,
        blobs: &[ObjectId],
        cancel: &AtomicBool,
        init: impl Fn() -> S + Sync,
        visit: impl Fn(&mut S, u32, &[u8]) + Sync,
    ) -> Vec<bool> {
        let done: Vec<AtomicBool> = blobs.iter().map(|_| AtomicBool::new(false)).collect();
        for (index, data) in &self.packs {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let Some(forest) = Forest::build(index, data, blobs, &done) else {
                continue;
            };
            forest.roots.par_iter().for_each_init(
                || (Walker::default(), init()),
                |(walker, state), &root| {
                    walker.walk(&forest, data, root, cancel, &done, &mut |bi, bytes| {
                        visit(state, bi, bytes)
                    });
                },
            );
        }
        done.into_iter().map(AtomicBool::into_inner).collect()
    }
}

/// The needed part of one pack, in pack-offset order.
struct Forest {
    /// Pack offset per position.
    offsets: Vec<u64>,
    /// Blob index wanted at each position, or [`NONE`].
    wanted: Vec<u32>,
    /// Children (deltas) of each position: `children[first[p]..first[p + 1]]`.
    first: Vec<u32>,
    children: Vec<u32>,
    /// Undeltified needed blob entries.
    roots: Vec<u32>,
}

impl Forest {
    /// `None` when the pack holds none of the blobs still to visit, or cannot be read.
    fn build(
        index: &pack::index::File,
        data: &pack::data::File,
        blobs: &[ObjectId],
        done: &[AtomicBool],
    ) -> Option<Forest> {
        let n = usize::try_from(index.num_objects()).ok()?;
        let mut order: Vec<(u64, u32)> = (0..index.num_objects())
            .map(|i| (index.pack_offset_at_index(i), i))
            .collect();
        order.sort_unstable();
        let mut pos_of_idx = vec![NONE; n];
        for (p, &(_, i)) in order.iter().enumerate() {
            pos_of_idx[i as usize] = p as u32;
        }
        let offsets: Vec<u64> = order.iter().map(|o| o.0).collect();
        drop(order);

        let mut wanted = vec![NONE; n];
        let mut any = false;
        for (bi, id) in blobs.iter().enumerate() {
            if done[bi].load(Ordering::Relaxed) {
                continue;
            }
            if let Some(i) = index.lookup(id) {
                wanted[pos_of_idx[i as usize] as usize] = bi as u32;
                any = true;
            }
        }
        if !any {
            return None;
        }

        // Base position of every entry ([`NONE`] for undeltified entries, `NONE - 1` when the
        // base is not in this pack or the header is unreadable).
        const MISSING: u32 = NONE - 1;
        let base: Vec<u32> = offsets
            .iter()
            .map(|&off| match data.entry(off) {
                Ok(e) => match e.header {
                    pack::data::entry::Header::OfsDelta { base_distance } => e
                        .checked_base_pack_offset(base_distance)
                        .and_then(|b| offsets.binary_search(&b).ok())
                        .map_or(MISSING, |p| p as u32),
                    pack::data::entry::Header::RefDelta { base_id } => index
                        .lookup(base_id)
                        .map_or(MISSING, |i| pos_of_idx[i as usize]),
                    _ => NONE,
                },
                Err(_) => MISSING,
            })
            .collect();

        // Needed: wanted entries and every base up their chains (stop at the first already
        // needed one, so this is linear). A chain that ends in a missing base is dropped.
        let mut need = vec![false; n];
        let mut chain = Vec::new();
        for p in 0..n {
            if wanted[p] == NONE || need[p] {
                continue;
            }
            chain.clear();
            let mut q = p as u32;
            let mut ok = true;
            loop {
                if need[q as usize] {
                    break;
                }
                if chain.len() >= n {
                    // Longer than the pack: a cycle, the pack is corrupt.
                    ok = false;
                    break;
                }
                chain.push(q);
                match base[q as usize] {
                    NONE => break,
                    MISSING => {
                        ok = false;
                        break;
                    }
                    b => q = b,
                }
            }
            if ok {
                for &c in &chain {
                    need[c as usize] = true;
                }
            }
        }

        let mut first = vec![0u32; n + 1];
        let mut roots = Vec::new();
        for p in 0..n {
            if !need[p] {
                continue;
            }
            match base[p] {
                NONE => roots.push(p as u32),
                b => first[b as usize + 1] += 1,
            }
        }
        for p in 0..n {
            first[p + 1] += first[p];
        }
        let mut fill = first.clone();
        let mut children = vec![0u32; first[n] as usize];
        for p in 0..n {
            if need[p] && base[p] != NONE {
                let b = base[p] as usize;
                children[fill[b] as usize] = p as u32;
                fill[b] += 1;
            }
        }
        Some(Forest {
            offsets,
            wanted,
            first,
            children,
            roots,
        })
    }

    fn children(&self, p: u32) -> &[u32] {
        let (a, b) = (self.first[p as usize], self.first[p as usize + 1]);
        &self.children[a as usize..b as usize]
    }
}

/// Per-task buffers of the depth-first walk.
#[derive(Default)]
struct Walker {
    inflate: gix::zlib::Inflate,
    /// Object bytes per depth of the current path.
    levels: Vec<Vec<u8>>,
    /// Inflated delta instructions.
    delta: Vec<u8>,
    /// (position, next child) per depth.
    stack: Vec<(u32, u32)>,
}

impl Walker {
    /// Inflate entry `p` into `out` (delta instructions or a whole object).
    fn inflate(&mut self, data: &pack::data::File, offset: u64, delta: bool, level: usize) -> bool {
        let Ok(entry) = data.entry(offset) else {
            return false;
        };
        let Ok(size) = usize::try_from(entry.decompressed_size) else {
            return false;
        };
        let out = if delta {
            &mut self.delta
        } else {
            &mut self.levels[level]
        };
        out.clear();
        out.resize(size, 0);
        data.decompress_entry(&entry, &mut self.inflate, out)
            .is_ok()
    }

    /// Walk the tree rooted at `root`; `visit(blob index, bytes)` for wanted entries. A damaged
    /// entry stops the walk below it (those blobs stay unvisited for the caller's fallback).
    fn walk(
        &mut self,
        forest: &Forest,
        data: &pack::data::File,
        root: u32,
        cancel: &AtomicBool,
        done: &[AtomicBool],
        visit: &mut dyn FnMut(u32, &[u8]),
    ) {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        if !self.inflate(data, forest.offsets[root as usize], false, 0) {
            return;
        }
        let mut emit = |p: u32, bytes: &[u8]| {
            let bi = forest.wanted[p as usize];
            if bi != NONE && !done[bi as usize].swap(true, Ordering::Relaxed) {
                visit(bi, bytes);
            }
        };
        emit(root, &self.levels[0]);
        self.stack.clear();
        self.stack.push((root, 0));
        while let Some(&mut (node, ref mut next)) = self.stack.last_mut() {
            let kids = forest.children(node);
            let Some(&child) = kids.get(*next as usize) else {
                self.stack.pop();
                continue;
            };
            *next += 1;
            if cancel.load(Ordering::Relaxed) {
                return;
            }
            let depth = self.stack.len();
            if self.levels.len() <= depth {
                self.levels.push(Vec::new());
            }
            if !self.inflate(data, forest.offsets[child as usize], true, depth) {
                continue;
            }
            let (parents, rest) = self.levels.split_at_mut(depth);
            if apply_delta(&parents[depth - 1], &self.delta, &mut rest[0]).is_none() {
                continue;
            }
            emit(child, &self.levels[depth]);
            if !forest.children(child).is_empty() {
                self.stack.push((child, 0));
            }
        }
    }
}

/// Random access to packed objects (trees, for the history diff) with a cache of decoded objects
/// keyed by pack offset that also keeps every *intermediate* object of a delta chain. The diff
/// reads trees in history order, and consecutive versions of a folder are neighbours on one delta
/// chain, so after the first version of a chain is resolved the next ones are cache hits or a
/// single delta away — instead of a walk down the whole chain per tree.
///
/// The cache is two generations of at most `cap` bytes each: when the current one is full it
/// becomes the old one (the previous old one is dropped), and a hit in the old generation moves
/// the object back into the current one. Memory is bounded by `2 × cap` per reader.
pub(crate) struct ObjectReader<'p> {
    packs: &'p PackSet,
    inflate: gix::zlib::Inflate,
    delta: Vec<u8>,
    chain: Vec<u64>,
    cap: usize,
    bytes: usize,
    current: HashMap<(u32, u64), Cached, OffsetHash>,
    old: HashMap<(u32, u64), Cached, OffsetHash>,
    /// Where recently read ids live: a commit's old tree is its parent's new tree, so this saves
    /// half of the index searches. Cleared with each cache generation.
    located: gix::hashtable::HashMap<ObjectId, (u32, u64)>,
}

type Cached = (gix::objs::Kind, Box<[u8]>);

/// Hasher for `(pack, offset)` keys: one multiply (offsets are distinct and well spread).
#[derive(Default, Clone, Copy)]
struct OffsetHash;

impl std::hash::BuildHasher for OffsetHash {
    type Hasher = OffsetHasher;
    fn build_hasher(&self) -> OffsetHasher {
        OffsetHasher(0)
    }
}

struct OffsetHasher(u64);

impl std::hash::Hasher for OffsetHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl<'p> ObjectReader<'p> {
    /// A reader over `packs` whose cache generations hold at most `cap` bytes each.
    pub(crate) fn new(packs: &'p PackSet, cap: usize) -> Self {
        ObjectReader {
            packs,
            inflate: gix::zlib::Inflate::default(),
            delta: Vec::new(),
            chain: Vec::new(),
            cap,
            bytes: 0,
            current: HashMap::default(),
            old: HashMap::default(),
            located: gix::hashtable::HashMap::default(),
        }
    }

    /// Decode object `id` into `out` and return its kind; `None` when no pack holds it (or its
    /// entry is damaged): the caller then asks the object database.
    pub(crate) fn read(&mut self, id: &gix::oid, out: &mut Vec<u8>) -> Option<gix::objs::Kind> {
        if let Some(&(pi, offset)) = self.located.get(id) {
            return self.decode(pi, offset, out);
        }
        let packs = self.packs;
        for (pi, (index, _)) in packs.packs.iter().enumerate() {
            if let Some(i) = index.lookup(id) {
                let at = (pi as u32, index.pack_offset_at_index(i));
                self.located.insert(id.to_owned(), at);
                return self.decode(at.0, at.1, out);
            }
        }
        None
    }

    fn get(&mut self, key: (u32, u64)) -> Option<&Cached> {
        if !self.current.contains_key(&key) {
            let v = self.old.remove(&key)?;
            self.put(key, v);
        }
        self.current.get(&key)
    }

    fn put(&mut self, key: (u32, u64), v: Cached) {
        let len = v.1.len();
        if self.bytes + len > self.cap {
            self.old = std::mem::take(&mut self.current);
            self.located.clear();
            self.bytes = 0;
        }
        self.bytes += len;
        self.current.insert(key, v);
    }

    fn decode(&mut self, pi: u32, offset: u64, out: &mut Vec<u8>) -> Option<gix::objs::Kind> {
        let packs = self.packs;
        let (index, data) = packs.packs.get(pi as usize)?;
        self.chain.clear();
        let mut at = offset;
        // Down the chain to a cached object or an undeltified one.
        let kind = loop {
            if let Some((kind, bytes)) = self.get((pi, at)) {
                let kind = *kind;
                out.clear();
                out.extend_from_slice(bytes);
                break kind;
            }
            let entry = data.entry(at).ok()?;
            match entry.header {
                pack::data::entry::Header::OfsDelta { base_distance } => {
                    self.chain.push(at);
                    at = entry.checked_base_pack_offset(base_distance)?;
                }
                pack::data::entry::Header::RefDelta { base_id } => {
                    self.chain.push(at);
                    at = index.pack_offset_at_index(index.lookup(base_id)?);
                }
                header => {
                    let kind = header.as_kind()?;
                    out.clear();
                    out.resize(usize::try_from(entry.decompressed_size).ok()?, 0);
                    data.decompress_entry(&entry, &mut self.inflate, out).ok()?;
                    self.put((pi, at), (kind, out.as_slice().into()));
                    break kind;
                }
            }
            if self.chain.len() > 100_000 {
                return None; // a cycle: damaged pack
            }
        };
        // Back up the chain, keeping every intermediate object.
        let mut next = Vec::new();
        while let Some(at) = self.chain.pop() {
            let entry = data.entry(at).ok()?;
            self.delta.clear();
            self.delta
                .resize(usize::try_from(entry.decompressed_size).ok()?, 0);
            data.decompress_entry(&entry, &mut self.inflate, &mut self.delta)
                .ok()?;
            apply_delta(out, &self.delta, &mut next)?;
            std::mem::swap(out, &mut next);
            self.put((pi, at), (kind, out.as_slice().into()));
        }
        Some(kind)
    }
}

/// Little-endian base-128 size at the start of a delta.
fn delta_size(d: &[u8], mut i: usize) -> Option<(usize, usize)> {
    let mut size = 0usize;
    let mut shift = 0u32;
    loop {
        let b = *d.get(i)?;
        i += 1;
        size |= usize::from(b & 0x7f).checked_shl(shift)?;
        shift += 7;
        if b & 0x80 == 0 {
            return Some((size, i));
        }
        if shift > 63 {
            return None;
        }
    }
}

/// Apply a git delta to `base`, writing the result into `out`. `None` when the delta is
/// malformed or does not fit `base`.
fn apply_delta(base: &[u8], delta: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let (base_size, i) = delta_size(delta, 0)?;
    let (result_size, mut i) = delta_size(delta, i)?;
    if base_size != base.len() {
        return None;
    }
    out.clear();
    out.reserve(result_size);
    while i < delta.len() {
        let cmd = delta[i];
        i += 1;
        if cmd & 0x80 != 0 {
            let mut off = 0usize;
            let mut size = 0usize;
            for k in 0..4 {
                if cmd & (1 << k) != 0 {
                    off |= usize::from(*delta.get(i)?) << (8 * k);
                    i += 1;
                }
            }
            for k in 0..3 {
                if cmd & (0x10 << k) != 0 {
                    size |= usize::from(*delta.get(i)?) << (8 * k);
                    i += 1;
                }
            }
            if size == 0 {
                size = 0x10000;
            }
            out.extend_from_slice(base.get(off..off.checked_add(size)?)?);
        } else if cmd != 0 {
            let n = usize::from(cmd);
            out.extend_from_slice(delta.get(i..i + n)?);
            i += n;
        } else {
            return None;
        }
    }
    (out.len() == result_size).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_copy_and_insert_instructions() {
        let base = b"hello, world";
        // base size 12, result size 11: copy "hello" (offset 0, size 5), insert " git!", copy "d"?
        let mut delta = vec![12u8, 11];
        delta.extend([0x80 | 0x10, 5]); // copy offset 0, size 5
        delta.push(5);
        delta.extend(b" git!");
        delta.extend([0x80 | 0x01 | 0x10, 11, 1]); // copy offset 11, size 1
        let mut out = Vec::new();
        assert!(apply_delta(base, &delta, &mut out).is_some());
        assert_eq!(out, b"hello git!d");
        // Wrong base size, out-of-range copy, reserved opcode.
        assert!(apply_delta(b"short", &delta, &mut out).is_none());
        assert!(apply_delta(base, &[12, 1, 0x80 | 0x01 | 0x10, 40, 1], &mut out).is_none());
        assert!(apply_delta(base, &[12, 1, 0], &mut out).is_none());
    }
}
