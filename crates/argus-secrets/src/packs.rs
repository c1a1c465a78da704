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
//! Pack data is read with positioned reads (`pread`) into small per-task windows, not through a
//! memory mapping: reading every blob touches every page of a pack, and a mapping's touched pages
//! stay resident in the process for as long as it is mapped (that alone was the size of the pack
//! in the scan's peak RSS). With positioned reads the kernel's page cache still serves the bytes,
//! but the process holds only its windows. Git writes each delta family contiguously (base and
//! deltas, `compute_write_order`), so the depth-first walk mostly stays inside one window.
//!
//! [`RawReader`] gives the entries of a pack as stored (header, compressed bytes, CRC-32 from the
//! index) in pack order, for the history rewrite, which copies them into its output pack.
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
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

const NONE: u32 = u32::MAX;

/// Bytes read per positioned read (more when one entry is larger) by the blob walk, whose reads
/// mostly move forward through one delta family at a time.
const WINDOW: usize = 256 << 10;

/// The packs of a repository (`objects/pack/*.idx` with their `.pack`).
pub(crate) struct PackSet {
    packs: Vec<(pack::index::File, PackData)>,
}

/// One pack's data file, read with positioned reads.
struct PackData {
    /// Path of the `.pack` (the tree reader maps it, see [`ObjectReader`]).
    path: std::path::PathBuf,
    file: File,
    /// Where the entries end (the file length minus the trailing checksum).
    end: u64,
    hash: gix::hash::Kind,
    /// Every entry's offset, sorted: an entry's bytes end where the next entry starts.
    offsets: Vec<u64>,
}

impl PackData {
    /// Open the data file of `index`; `None` when it is not a version 2/3 pack with the index's
    /// object count and every indexed offset inside it.
    fn open(
        path: &std::path::Path,
        index: &pack::index::File,
        hash: gix::hash::Kind,
    ) -> Option<Self> {
        let file = File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        let mut header = [0u8; 12];
        file.read_exact_at(&mut header, 0).ok()?;
        let version = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let count = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        if &header[..4] != b"PACK" || !(2..=3).contains(&version) || count != index.num_objects() {
            return None;
        }
        let end = len.checked_sub(hash.len_in_bytes() as u64)?;
        let mut offsets: Vec<u64> = (0..index.num_objects())
            .map(|i| index.pack_offset_at_index(i))
            .collect();
        offsets.sort_unstable();
        if offsets.first().is_some_and(|&o| o < 12) || offsets.last().is_some_and(|&o| o >= end) {
            return None;
        }
        Some(PackData {
            path: path.to_owned(),
            file,
            end,
            hash,
            offsets,
        })
    }

    /// End of the entry at sorted position `p`.
    fn end_at(&self, p: usize) -> u64 {
        self.offsets.get(p + 1).copied().unwrap_or(self.end)
    }
}

/// A window of one pack's bytes filled by one positioned read and reused for every entry that
/// falls inside it.
#[derive(Default)]
struct Window {
    buf: Vec<u8>,
    /// Pack index and offset of `buf[0]` (`buf` empty: nothing read yet).
    pack: u32,
    start: u64,
}

impl Window {
    /// The bytes `from..to` of pack `pi`; `None` on a read error.
    fn get(&mut self, pi: u32, data: &PackData, from: u64, to: u64) -> Option<&[u8]> {
        let len = usize::try_from(to.checked_sub(from)?).ok()?;
        let inside =
            self.pack == pi && from >= self.start && to <= self.start + self.buf.len() as u64;
        if !inside {
            let avail = usize::try_from(data.end.saturating_sub(from)).unwrap_or(usize::MAX);
            let want = len.max(WINDOW.min(avail));
            if want <= WINDOW && self.buf.capacity() > 4 * WINDOW {
                // Do not keep a window sized for one huge entry.
                self.buf = Vec::new();
            }
            self.buf.resize(want, 0);
            if data.file.read_exact_at(&mut self.buf, from).is_err() {
                self.buf.clear();
                return None;
            }
            self.pack = pi;
            self.start = from;
        }
        let at = usize::try_from(from - self.start).ok()?;
        self.buf.get(at..at + len)
    }

    /// Header and compressed bytes of the entry `from..to` of pack `pi`.
    fn entry(
        &mut self,
        pi: u32,
        data: &PackData,
        from: u64,
        to: u64,
    ) -> Option<(pack::data::Entry, &[u8])> {
        let bytes = self.get(pi, data, from, to)?;
        let entry = pack::data::Entry::from_bytes(bytes, from, data.hash).ok()?;
        let body = bytes.get(entry.header_size()..)?;
        Some((entry, body))
    }
}

/// Inflate one entry's compressed `body` into `out`, which must come out exactly
/// `entry.decompressed_size` bytes long (pack headers are untrusted).
fn inflate_entry(
    inflate: &mut gix::zlib::Inflate,
    entry: &pack::data::Entry,
    body: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let Ok(size) = usize::try_from(entry.decompressed_size) else {
        return false;
    };
    out.clear();
    out.resize(size, 0);
    inflate.reset();
    matches!(
        inflate.once(body, out),
        Ok((gix::zlib::Status::StreamEnd, _, n)) if n == size
    )
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
            let Ok(i) = pack::index::File::at(&idx, hash) else {
                continue;
            };
            let Some(d) = PackData::open(&idx.with_extension("pack"), &i, hash) else {
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
        for (pi, (index, data)) in self.packs.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let pi = pi as u32;
            let Some(forest) = Forest::build(pi, index, data, blobs, &done) else {
                continue;
            };
            forest.roots.par_iter().for_each_init(
                || (Walker::default(), init()),
                |(walker, state), &root| {
                    walker.walk(&forest, pi, data, root, cancel, &done, &mut |bi, bytes| {
                        visit(state, bi, bytes)
                    });
                },
            );
        }
        done.into_iter().map(AtomicBool::into_inner).collect()
    }
}

/// One entry of a pack as stored, for copying it into another pack (`rewrite`'s output).
pub(crate) struct RawEntry {
    /// The object's id.
    pub id: ObjectId,
    /// Where the entry starts in its pack.
    pub offset: u64,
    /// Where it ends (the next entry's offset, or the trailing checksum).
    pub end: u64,
    /// The entry's CRC-32 from a version 2 index (over header and compressed bytes).
    pub crc32: Option<u32>,
}

/// What an entry's header says.
pub(crate) struct RawHeader {
    pub kind: RawKind,
    /// The inflated size of the entry's data (the object, or the delta's instructions).
    pub size: u64,
    /// Where the compressed data starts within the entry's bytes.
    pub data_at: usize,
}

/// The kind of a pack entry.
pub(crate) enum RawKind {
    /// A whole object.
    Base,
    /// A delta against the entry at this offset of the same pack.
    OfsDelta(u64),
    /// A delta against the object with this id.
    RefDelta(ObjectId),
}

/// Sequential access to the raw entries of the packs of a [`PackSet`].
pub(crate) struct RawReader<'p> {
    packs: &'p PackSet,
    window: Window,
    inflate: gix::zlib::Inflate,
}

impl PackSet {
    /// How many packs were opened.
    pub(crate) fn len(&self) -> usize {
        self.packs.len()
    }

    /// The entries of pack `pi` in pack order (ascending offsets).
    pub(crate) fn raw_entries(&self, pi: usize) -> Vec<RawEntry> {
        let Some((index, data)) = self.packs.get(pi) else {
            return Vec::new();
        };
        let mut order: Vec<(u64, u32)> = (0..index.num_objects())
            .map(|i| (index.pack_offset_at_index(i), i))
            .collect();
        order.sort_unstable();
        order
            .iter()
            .enumerate()
            .map(|(p, &(offset, i))| RawEntry {
                id: index.oid_at_index(i).to_owned(),
                offset,
                end: data.end_at(p),
                crc32: index.crc32_at_index(i),
            })
            .collect()
    }

    /// A reader of raw entries.
    pub(crate) fn raw_reader(&self) -> RawReader<'_> {
        RawReader {
            packs: self,
            window: Window::default(),
            inflate: gix::zlib::Inflate::default(),
        }
    }
}

impl RawReader<'_> {
    /// The bytes of `entry` of pack `pi` (header and compressed data) and what its header says;
    /// `None` when it cannot be read or parsed.
    pub(crate) fn entry(&mut self, pi: usize, entry: &RawEntry) -> Option<(&[u8], RawHeader)> {
        let (_, data) = self.packs.packs.get(pi)?;
        let bytes = self.window.get(pi as u32, data, entry.offset, entry.end)?;
        let e = pack::data::Entry::from_bytes(bytes, entry.offset, data.hash).ok()?;
        let kind = match e.header {
            pack::data::entry::Header::OfsDelta { base_distance } => {
                RawKind::OfsDelta(e.checked_base_pack_offset(base_distance)?)
            }
            pack::data::entry::Header::RefDelta { base_id } => RawKind::RefDelta(base_id),
            h => {
                h.as_kind()?;
                RawKind::Base
            }
        };
        let header = RawHeader {
            kind,
            size: e.decompressed_size,
            data_at: e.header_size(),
        };
        Some((bytes, header))
    }

    /// Inflate the data of `entry` of pack `pi` (a whole object or a delta's instructions) into
    /// `out`; false when it cannot be read or does not inflate to the size its header says.
    pub(crate) fn inflate(&mut self, pi: usize, entry: &RawEntry, out: &mut Vec<u8>) -> bool {
        let Some((_, data)) = self.packs.packs.get(pi) else {
            return false;
        };
        let Some((e, body)) = self.window.entry(pi as u32, data, entry.offset, entry.end) else {
            return false;
        };
        inflate_entry(&mut self.inflate, &e, body, out)
    }
}

/// The needed part of one pack, in pack-offset order (positions index [`PackData::offsets`]).
struct Forest {
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
        pi: u32,
        index: &pack::index::File,
        data: &PackData,
        blobs: &[ObjectId],
        done: &[AtomicBool],
    ) -> Option<Forest> {
        let n = usize::try_from(index.num_objects()).ok()?;
        let offsets = &data.offsets;
        // Sorting (offset, index) pairs is cheaper than a binary search in `offsets` per object.
        let mut order: Vec<(u64, u32)> = (0..index.num_objects())
            .map(|i| (index.pack_offset_at_index(i), i))
            .collect();
        order.sort_unstable();
        let mut pos_of_idx = vec![NONE; n];
        for (p, &(_, i)) in order.iter().enumerate() {
            pos_of_idx[i as usize] = p as u32;
        }
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
        // Headers are read in pack order through one large window (a sequential read).
        let mut window = Window::default();
        let base: Vec<u32> = offsets
            .iter()
            .enumerate()
            .map(|(p, &off)| {
                // The longest header: 10 size bytes + a 32-byte base id.
                let to = data.end_at(p).min(off + 48);
                match window.entry(pi, data, off, to) {
                    Some((e, _)) => match e.header {
                        pack::data::entry::Header::OfsDelta { base_distance } => e
                            .checked_base_pack_offset(base_distance)
                            .and_then(|b| offsets.binary_search(&b).ok())
                            .map_or(MISSING, |p| p as u32),
                        pack::data::entry::Header::RefDelta { base_id } => index
                            .lookup(base_id)
                            .map_or(MISSING, |i| pos_of_idx[i as usize]),
                        _ => NONE,
                    },
                    None => MISSING,
                }
            })
            .collect();
        drop(window);

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
    window: Window,
}

impl Walker {
    /// Inflate the entry at position `p` of pack `pi` into the delta buffer or into `level`.
    fn inflate(&mut self, pi: u32, data: &PackData, p: u32, delta: bool, level: usize) -> bool {
        let p = p as usize;
        let Some(&from) = data.offsets.get(p) else {
            return false;
        };
        let Some((entry, body)) = self.window.entry(pi, data, from, data.end_at(p)) else {
            return false;
        };
        let out = if delta {
            &mut self.delta
        } else {
            &mut self.levels[level]
        };
        inflate_entry(&mut self.inflate, &entry, body, out)
    }

    /// Walk the tree rooted at `root`; `visit(blob index, bytes)` for wanted entries. A damaged
    /// entry stops the walk below it (those blobs stay unvisited for the caller's fallback).
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        forest: &Forest,
        pi: u32,
        data: &PackData,
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
        if !self.inflate(pi, data, root, false, 0) {
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
            if !self.inflate(pi, data, child, true, depth) {
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
///
/// Unlike the blob walk, tree reads jump around the pack (git writes trees in recency order, not
/// by delta family), so positioned reads would cost one system call per entry. The reader maps
/// the packs instead, but only for one cache generation: the mappings are dropped whenever the
/// generation turns over and re-opened on the next read, so the pages they hold resident are
/// those read during one generation (bounded by the cache size), not the whole tree region.
pub(crate) struct ObjectReader<'p> {
    packs: &'p PackSet,
    /// Per pack, its mapping while the current generation lasts.
    maps: Vec<Option<pack::data::File>>,
    /// Cache generations started so far (a mapping taken out by `decode` is put back only when
    /// this did not change meanwhile).
    generation: u64,
    inflate: gix::zlib::Inflate,
    delta: Vec<u8>,
    chain: Vec<u64>,
    cap: usize,
    current: Generation,
    old: Generation,
    /// Where recently read ids live: a commit's old tree is its parent's new tree, so this saves
    /// half of the index searches. Cleared with each cache generation.
    located: gix::hashtable::HashMap<ObjectId, (u32, u64)>,
}

/// One cache generation: the decoded objects stored back to back in one buffer, allocated once
/// and reused when the generation turns over (one allocation per object would leave the heap
/// fragmented after the diff, and the freed space resident while the blobs are scanned).
#[derive(Default)]
struct Generation {
    bytes: Vec<u8>,
    /// (pack, offset) → (kind, start, length) in `bytes`.
    at: HashMap<(u32, u64), (gix::objs::Kind, usize, usize), OffsetHash>,
}

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
            maps: packs.packs.iter().map(|_| None).collect(),
            generation: 0,
            delta: Vec::new(),
            chain: Vec::new(),
            cap,
            current: Generation::default(),
            old: Generation::default(),
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

    /// Copy the cached object `key` into `out`; a hit in the old generation moves it into the
    /// current one.
    fn cached(&mut self, key: (u32, u64), out: &mut Vec<u8>) -> Option<gix::objs::Kind> {
        out.clear();
        if let Some(&(kind, start, len)) = self.current.at.get(&key) {
            out.extend_from_slice(self.current.bytes.get(start..start + len)?);
            return Some(kind);
        }
        let (kind, start, len) = self.old.at.remove(&key)?;
        out.extend_from_slice(self.old.bytes.get(start..start + len)?);
        self.put(key, kind, out);
        Some(kind)
    }

    /// Cache a copy of `bytes` (objects larger than a generation are not cached).
    fn put(&mut self, key: (u32, u64), kind: gix::objs::Kind, bytes: &[u8]) {
        if bytes.len() > self.cap {
            return;
        }
        if self.current.bytes.len() + bytes.len() > self.cap {
            std::mem::swap(&mut self.current, &mut self.old);
            self.current.bytes.clear();
            self.current.at.clear();
            self.located.clear();
            self.generation += 1;
            self.maps.iter_mut().for_each(|m| *m = None);
        }
        if self.current.bytes.capacity() == 0 {
            self.current.bytes.reserve_exact(self.cap);
        }
        let start = self.current.bytes.len();
        self.current.bytes.extend_from_slice(bytes);
        self.current.at.insert(key, (kind, start, bytes.len()));
    }

    fn decode(&mut self, pi: u32, offset: u64, out: &mut Vec<u8>) -> Option<gix::objs::Kind> {
        let packs = self.packs;
        let (index, pack) = packs.packs.get(pi as usize)?;
        let data = match self.maps.get_mut(pi as usize)?.take() {
            Some(d) => d,
            None => pack::data::File::at(&pack.path, pack.hash).ok()?,
        };
        let generation = self.generation;
        let kind = self.decode_in(pi, index, &data, offset, out);
        if self.generation == generation {
            self.maps[pi as usize] = Some(data);
        }
        kind
    }

    fn decode_in(
        &mut self,
        pi: u32,
        index: &pack::index::File,
        data: &pack::data::File,
        offset: u64,
        out: &mut Vec<u8>,
    ) -> Option<gix::objs::Kind> {
        self.chain.clear();
        let mut at = offset;
        // Down the chain to a cached object or an undeltified one.
        let kind = loop {
            if let Some(kind) = self.cached((pi, at), out) {
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
                    self.put((pi, at), kind, out);
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
            self.put((pi, at), kind, out);
        }
        Some(kind)
    }
}

/// Little-endian base-128 size at the start of a delta.
pub(crate) fn delta_size(d: &[u8], mut i: usize) -> Option<(usize, usize)> {
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

/// The `(offset, size)` of a delta's copy instruction `cmd` (high bit set), whose operand bytes
/// start at `*i` (advanced past them). `None` when the delta ends early.
pub(crate) fn copy_op(cmd: u8, delta: &[u8], i: &mut usize) -> Option<(usize, usize)> {
    let mut off = 0usize;
    let mut size = 0usize;
    for k in 0..4 {
        if cmd & (1 << k) != 0 {
            off |= usize::from(*delta.get(*i)?) << (8 * k);
            *i += 1;
        }
    }
    for k in 0..3 {
        if cmd & (0x10 << k) != 0 {
            size |= usize::from(*delta.get(*i)?) << (8 * k);
            *i += 1;
        }
    }
    if size == 0 {
        size = 0x10000;
    }
    Some((off, size))
}

/// Apply a git delta to `base`, writing the result into `out`. `None` when the delta is
/// malformed or does not fit `base`.
pub(crate) fn apply_delta(base: &[u8], delta: &[u8], out: &mut Vec<u8>) -> Option<()> {
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
            let (off, size) = copy_op(cmd, delta, &mut i)?;
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
    use std::path::Path;
    use std::sync::Mutex;

    // The fixture is written by the git CLI, as in `tests/common` (not product code).
    #[allow(clippy::disallowed_methods)]
    fn git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "A")
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", "A")
            .env("GIT_COMMITTER_EMAIL", "a@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A repository packed by `git repack` (delta chains of 40 versions of a few files in
    /// folders, and blobs whose compressed entries are larger than a read window), with the ids
    /// of its blobs and trees.
    fn packed_repo() -> (tempfile::TempDir, Vec<ObjectId>, Vec<ObjectId>) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for v in 0..40 {
            for f in 0..5 {
                let folder = root.join(format!("d{}", f % 2));
                std::fs::create_dir_all(&folder).unwrap();
                let text: String = (0..400)
                    .map(|l| format!("line {l} of file {f} {}\n", if l % 41 == v { v } else { 0 }))
                    .collect();
                std::fs::write(folder.join(format!("f{f}.txt")), text).unwrap();
            }
            if v % 13 == 0 {
                // Incompressible: its entry alone is larger than a window.
                let big: Vec<u8> = (0..(3 * WINDOW / 8))
                    .flat_map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x.to_le_bytes()
                    })
                    .collect();
                std::fs::write(root.join("big.bin"), big).unwrap();
            }
            git(root, &["add", "-A"]);
            git(root, &["commit", "-q", "-m", &format!("v{v}")]);
        }
        git(root, &["repack", "-adfq", "--depth=50", "--window=10"]);
        let (mut blobs, mut trees) = (Vec::new(), Vec::new());
        let list = git(
            root,
            &[
                "cat-file",
                "--batch-all-objects",
                "--batch-check=%(objectname) %(objecttype)",
            ],
        );
        for line in list.lines() {
            let (id, kind) = line.split_once(' ').unwrap();
            let id = ObjectId::from_hex(id.as_bytes()).unwrap();
            match kind {
                "blob" => blobs.push(id),
                "tree" => trees.push(id),
                _ => {}
            }
        }
        (dir, blobs, trees)
    }

    fn pack_path(root: &Path) -> String {
        let dir = root.join(".git/objects/pack");
        let pack = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "pack"))
            .unwrap();
        pack.to_string_lossy().into_owned()
    }

    #[test]
    fn blob_walk_yields_every_blob_once_without_mapping_the_pack() {
        let (dir, blobs, _) = packed_repo();
        let pack = pack_path(dir.path());
        let repo = gix::open(dir.path()).unwrap();
        let packs = PackSet::open(&repo).unwrap();
        // A mapping keeps every page read resident in the process (the size of the pack in a
        // full scan): the walk must read with positioned reads instead.
        let mapped = AtomicBool::new(false);
        let seen = Mutex::new(Vec::new());
        let visited = packs.for_each_blob(
            &blobs,
            &AtomicBool::new(false),
            || (),
            |_, i, bytes| {
                let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
                if maps.contains(&pack) {
                    mapped.store(true, Ordering::Relaxed);
                }
                seen.lock().unwrap().push((i, bytes.to_vec()));
            },
        );
        assert!(
            !mapped.load(Ordering::Relaxed),
            "{pack} is mapped during the walk"
        );
        assert!(visited.iter().all(|&v| v));
        let mut seen = seen.into_inner().unwrap();
        seen.sort_by_key(|s| s.0);
        assert_eq!(seen.len(), blobs.len(), "each blob once");
        assert!(seen.iter().any(|(_, b)| b.len() >= 2 * WINDOW));
        for (i, bytes) in seen {
            let obj = repo.find_object(blobs[i as usize]).unwrap();
            assert_eq!(bytes, obj.data, "blob {}", blobs[i as usize]);
        }
    }

    #[test]
    fn tree_reader_decodes_like_the_object_database_across_generations() {
        let (dir, _, trees) = packed_repo();
        let repo = gix::open(dir.path()).unwrap();
        let packs = PackSet::open(&repo).unwrap();
        // A cache smaller than a few trees: generations turn over (and the pack is re-mapped)
        // all the time.
        let mut reader = ObjectReader::new(&packs, 600);
        let mut out = Vec::new();
        for _ in 0..2 {
            for id in &trees {
                assert_eq!(reader.read(id, &mut out), Some(gix::objs::Kind::Tree));
                assert_eq!(out, repo.find_object(*id).unwrap().data, "tree {id}");
            }
        }
        assert!(reader.generation > 10, "{} generations", reader.generation);
    }

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
