//! Git input: full history, commit ranges, the index, and unreachable packed objects.
//!
//! Algorithm (designed so every blob is read and scanned once, and every pack entry inflated
//! about once):
//! 1. Resolve tips (all refs, or `--branch` refs, or the right side of a range) and the exclusion
//!    set (ancestors of `--since-commit` or of the left side of a range).
//! 2. Walk commits from the tips, decoding only commit objects.
//! 3. In parallel over chunks of consecutive commits, diff each commit's tree against each
//!    parent's tree (merge-join on raw tree bytes, see `diff_trees`), descending only into
//!    subtrees whose ids differ, to find the `(path, blob)` pairs the commit *introduces*. For a
//!    merge, a pair counts only if it differs from every parent (so merges do not re-report blobs
//!    that came from a branch). Result: a compact occurrence table `(blob, commit, path)`. Packed
//!    trees are read through [`ObjectReader`] (delta chains resolved once, intermediate versions
//!    cached), the rest through the object database.
//! 4. Scan each unique blob once: packed blobs in pack order through [`PackSet::for_each_blob`]
//!    (each delta inflated once and applied to its base, in parallel over delta trees), then the
//!    blobs no pack yielded (loose objects) through the object database, in parallel.
//! 5. Only for blobs with matches, join with the occurrence table to produce locations.
//!
//! Invariants: the walk never follows a parent in the exclusion set; a missing object (shallow or
//! partial clone) is counted as `unreadable` rather than failing the scan; the set of scanned blobs
//! and the report do not depend on how the repository is packed (loose and packed give the same
//! findings and counts); the cancellation flag is checked between commits and between blobs.
//!
//! Memory: peak RSS does not grow with the size of the packs. The blob walk reads pack data with
//! positioned reads (nothing of a pack stays resident in the process), the tree reader maps a pack
//! only for one generation of its bounded cache, the object database is re-opened after the
//! commit walk (dropping what the walk touched) and dropped during the blob scan, and the diff is
//! interned in waves of `DIFF_WAVE` commits rather than held for the whole history.

use crate::engine::{
    Collector, CommitMeta, Engine, MatchStats, RawMatch, ScanControl, ScanPolicy, ScanSummary,
    Scratch, SkipReason,
};
use crate::error::{Result, SecretsError};
use crate::finding::Finding;
use crate::packs::{ObjectReader, PackSet};
use gix::objs::Find;
use gix::prelude::Header as _;
use gix::ObjectId;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Which refs to start the history walk from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RefSelection {
    /// Every ref (branches, tags, remotes, notes, stash...) plus `HEAD`.
    #[default]
    All,
    /// These refs or commit ids only (`main`, `refs/heads/dev`, `v1.2`, a full commit id, `HEAD`).
    Refs(Vec<String>),
}

/// Options of a git scan.
#[derive(Clone, Debug, Default)]
pub struct GitScanOptions {
    /// Blob policy, suppressions, threads.
    pub policy: ScanPolicy,
    /// Tips to walk from.
    pub refs: RefSelection,
    /// Only commits not reachable from this commit (CI incremental scans).
    pub since_commit: Option<String>,
    /// `A..B`: commits reachable from `B` but not from `A` (overrides `refs`).
    pub commit_range: Option<String>,
    /// Scan only the index entries that differ from `HEAD` (pre-commit hook); no history.
    pub staged: bool,
    /// Also scan blobs in the object database that no walked commit reaches (dangling, stashed,
    /// rewritten-away history still in packs). They are reported without a commit or path.
    pub include_unreachable: bool,
}

/// A walked commit.
struct CommitInfo {
    tree: ObjectId,
    parents: Vec<ObjectId>,
    meta: CommitMeta,
}

/// `(path, blob)` pairs introduced by one commit.
type Introduced = Vec<(Vec<u8>, ObjectId)>;

fn git<E: std::fmt::Display>(e: E) -> SecretsError {
    SecretsError::git(e)
}

/// Open a repository at `path` (work tree or bare, or any folder inside a work tree).
fn open_repo(path: &Path) -> Result<gix::Repository> {
    gix::discover(path).map_err(|e| SecretsError::Git(format!("{}: {e}", path.display())))
}

/// True when `path` is the root of a git work tree or a bare repository (used by callers to pick
/// [`Engine::scan_git`] over [`Engine::scan_path`]).
pub fn is_git_repository(path: &Path) -> bool {
    gix::open(path).is_ok()
}

/// Resolve a revision: a ref name (full or short), `HEAD`, or a full hex object id; peeled to a
/// commit.
fn resolve(repo: &gix::Repository, spec: &str) -> Result<ObjectId> {
    let spec = spec.trim();
    let id = if let Ok(mut r) = repo.find_reference(spec) {
        r.peel_to_id().map_err(git)?.detach()
    } else if let Ok(id) = ObjectId::from_hex(spec.as_bytes()) {
        id
    } else {
        return Err(SecretsError::Revision(spec.to_string()));
    };
    peel_to_commit(repo, id)?.ok_or_else(|| SecretsError::Revision(spec.to_string()))
}

/// Follow annotated tags; `None` when the target is not a commit (tagged tree/blob) or missing.
fn peel_to_commit(repo: &gix::Repository, mut id: ObjectId) -> Result<Option<ObjectId>> {
    let mut buf = Vec::new();
    for _ in 0..16 {
        let Some(data) = repo.objects.try_find(&id, &mut buf).map_err(git)? else {
            return Ok(None);
        };
        match data.kind {
            gix::objs::Kind::Commit => return Ok(Some(id)),
            gix::objs::Kind::Tag => {
                id = gix::objs::TagRef::from_bytes(data.data, repo.object_hash())
                    .map_err(git)?
                    .target();
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

fn all_tips(repo: &gix::Repository) -> Result<Vec<ObjectId>> {
    let mut tips = Vec::new();
    let platform = repo.references().map_err(git)?;
    for r in platform.all().map_err(git)? {
        let Ok(mut r) = r else { continue };
        let Ok(id) = r.peel_to_id() else { continue };
        if let Some(c) = peel_to_commit(repo, id.detach())? {
            tips.push(c);
        }
    }
    if let Ok(head) = repo.head_id() {
        if let Some(c) = peel_to_commit(repo, head.detach())? {
            tips.push(c);
        }
    }
    tips.sort();
    tips.dedup();
    Ok(tips)
}

fn read_commit(
    repo: &gix::Repository,
    id: &ObjectId,
    buf: &mut Vec<u8>,
) -> Result<Option<CommitInfo>> {
    let Some(data) = repo.objects.try_find(id, buf).map_err(git)? else {
        return Ok(None);
    };
    if data.kind != gix::objs::Kind::Commit {
        return Ok(None);
    }
    let c = gix::objs::CommitRef::from_bytes(data.data, repo.object_hash()).map_err(git)?;
    let (author, email, time) = match c.author() {
        Ok(sig) => (sig.name.to_string(), sig.email.to_string(), sig.seconds()),
        Err(_) => (String::new(), String::new(), 0),
    };
    Ok(Some(CommitInfo {
        tree: c.tree(),
        parents: c.parents().collect(),
        meta: CommitMeta {
            id: id.to_string(),
            author,
            email,
            time,
        },
    }))
}

/// Every commit reachable from `tips`, stopping at `excluded`. Missing parents (shallow clones)
/// end the walk on that line.
fn walk(
    repo: &gix::Repository,
    tips: &[ObjectId],
    excluded: &HashSet<ObjectId>,
    ctl: &ScanControl,
) -> Result<Vec<CommitInfo>> {
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let mut stack: Vec<ObjectId> = tips
        .iter()
        .filter(|t| !excluded.contains(*t))
        .copied()
        .collect();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        if out.len() % 1024 == 0 {
            ctl.check()?;
        }
        let Some(info) = read_commit(repo, &id, &mut buf)? else {
            continue;
        };
        for p in &info.parents {
            if !excluded.contains(p) && !seen.contains(p) {
                stack.push(*p);
            }
        }
        ctl.progress.commits.fetch_add(1, Ordering::Relaxed);
        out.push(info);
    }
    Ok(out)
}

fn ancestors(
    repo: &gix::Repository,
    tip: ObjectId,
    ctl: &ScanControl,
) -> Result<HashSet<ObjectId>> {
    let mut seen = HashSet::new();
    let mut stack = vec![tip];
    let mut buf = Vec::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        if seen.len() % 4096 == 0 {
            ctl.check()?;
        }
        if let Some(info) = read_commit(repo, &id, &mut buf)? {
            stack.extend(info.parents.into_iter().filter(|p| !seen.contains(p)));
        }
    }
    Ok(seen)
}

/// Per-depth pairs of (old, new) tree buffers, reused across commits so that diffing allocates
/// nothing but the output paths.
#[derive(Default)]
struct DiffBuffers {
    levels: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Where the diff reads objects: packed trees through an [`ObjectReader`] (every delta applied
/// once, intermediate chain objects cached), everything else (loose objects, commits outside the
/// walk) through the object database.
struct Trees<'p> {
    repo: gix::Repository,
    packed: Option<ObjectReader<'p>>,
}

impl Trees<'_> {
    /// Read tree `id` into `buf`; false when it is missing or not a tree (treated as empty).
    fn load(&mut self, id: &ObjectId, buf: &mut Vec<u8>) -> Result<bool> {
        if let Some(r) = &mut self.packed {
            match r.read(id, buf) {
                Some(gix::objs::Kind::Tree) => return Ok(true),
                Some(_) => {
                    buf.clear();
                    return Ok(false);
                }
                None => {}
            }
        }
        match self.repo.objects.try_find(id, buf).map_err(git)? {
            Some(d) if d.kind == gix::objs::Kind::Tree => Ok(true),
            _ => {
                buf.clear();
                Ok(false)
            }
        }
    }
}

fn entry_kind(mode: gix::objs::tree::EntryMode) -> u8 {
    if mode.is_tree() {
        b't'
    } else if mode.is_blob() {
        // Regular and executable files; symlinks and submodules are not content we scan.
        b'b'
    } else {
        b'o'
    }
}

/// Blobs in `new` that are not at the same path with the same id in `old`.
///
/// A merge-join over both trees in git's canonical entry order (`name_order`), straight on the raw
/// tree bytes: no per-entry allocation, no sorting; subtrees with equal ids are skipped whole. An
/// entry whose kind changed (file <-> folder) sorts differently and is simply seen as new.
fn diff_trees(
    trees: &mut Trees<'_>,
    old: Option<ObjectId>,
    new: ObjectId,
    prefix: &mut Vec<u8>,
    bufs: &mut DiffBuffers,
    depth: usize,
    out: &mut Introduced,
) -> Result<()> {
    if old == Some(new) {
        return Ok(());
    }
    if bufs.levels.len() <= depth {
        bufs.levels.resize_with(depth + 1, Default::default);
    }
    let (mut ob, mut nb) = std::mem::take(&mut bufs.levels[depth]);
    let result = (|| -> Result<()> {
        trees.load(&new, &mut nb)?;
        match old {
            Some(o) => {
                trees.load(&o, &mut ob)?;
            }
            None => ob.clear(),
        }
        let hash = trees.repo.object_hash();
        let mut olds = gix::objs::TreeRefIter::from_bytes(&ob, hash).peekable();
        for e in gix::objs::TreeRefIter::from_bytes(&nb, hash) {
            let e = e.map_err(git)?;
            let kind = entry_kind(e.mode);
            if kind == b'o' {
                continue;
            }
            // Advance the old side to the first entry not ordered before `e`.
            let mut prev = None;
            while let Some(o) = olds.peek() {
                let o = match o {
                    Ok(o) => *o,
                    Err(err) => return Err(git(err)),
                };
                match gix::objs::tree::name_order(
                    o.filename,
                    o.mode.is_tree(),
                    e.filename,
                    e.mode.is_tree(),
                ) {
                    std::cmp::Ordering::Less => {
                        olds.next();
                    }
                    std::cmp::Ordering::Equal => {
                        prev = Some((entry_kind(o.mode), o.oid.to_owned()));
                        olds.next();
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            let len = prefix.len();
            if kind == b'b' {
                if prev.is_some_and(|(k, id)| k == b'b' && id == e.oid) {
                    continue;
                }
                prefix.extend_from_slice(e.filename);
                out.push((prefix.clone(), e.oid.to_owned()));
                prefix.truncate(len);
            } else {
                let prev_tree = prev.filter(|(k, _)| *k == b't').map(|(_, id)| id);
                if prev_tree.as_deref() == Some(e.oid) {
                    continue;
                }
                prefix.extend_from_slice(e.filename);
                prefix.push(b'/');
                diff_trees(
                    trees,
                    prev_tree,
                    e.oid.to_owned(),
                    prefix,
                    bufs,
                    depth + 1,
                    out,
                )?;
                prefix.truncate(len);
            }
        }
        Ok(())
    })();
    bufs.levels[depth] = (ob, nb);
    result
}

fn tree_of(
    repo: &gix::Repository,
    commit: &ObjectId,
    known: &HashMap<ObjectId, ObjectId>,
    buf: &mut Vec<u8>,
) -> Result<Option<ObjectId>> {
    if let Some(t) = known.get(commit) {
        return Ok(Some(*t));
    }
    Ok(read_commit(repo, commit, buf)?.map(|c| c.tree))
}

fn introduced_by(
    src: &mut Trees<'_>,
    c: &CommitInfo,
    trees: &HashMap<ObjectId, ObjectId>,
    buf: &mut Vec<u8>,
    bufs: &mut DiffBuffers,
) -> Result<Introduced> {
    let mut prefix = Vec::new();
    let mut parent_trees = Vec::with_capacity(c.parents.len());
    for p in &c.parents {
        // A parent that is missing (shallow boundary) is treated as an empty tree.
        parent_trees.push(tree_of(&src.repo, p, trees, buf)?);
    }
    let mut first = Vec::new();
    diff_trees(
        src,
        parent_trees.first().copied().flatten(),
        c.tree,
        &mut prefix,
        bufs,
        0,
        &mut first,
    )?;
    if parent_trees.len() <= 1 || first.is_empty() {
        return Ok(first);
    }
    // Merge: keep only pairs that are new relative to every parent.
    let mut keep: HashSet<(Vec<u8>, ObjectId)> = first.into_iter().collect();
    for pt in &parent_trees[1..] {
        let mut other = Vec::new();
        diff_trees(src, *pt, c.tree, &mut prefix, bufs, 0, &mut other)?;
        let other: HashSet<(Vec<u8>, ObjectId)> = other.into_iter().collect();
        keep.retain(|k| other.contains(k));
    }
    let mut v: Introduced = keep.into_iter().collect();
    v.sort();
    Ok(v)
}

/// Thread-safe counters filled by the blob workers.
#[derive(Default)]
struct BlobCounters {
    scanned: AtomicU64,
    bytes: AtomicU64,
    skipped: [AtomicU64; 4],
    skipped_bytes: AtomicU64,
    inline: AtomicU64,
    allowlist: AtomicU64,
}

impl BlobCounters {
    fn skip(&self, r: SkipReason, bytes: u64) {
        let i = match r {
            SkipReason::Binary => 0,
            SkipReason::Minified => 1,
            SkipReason::TooLarge => 2,
            SkipReason::Unreadable => 3,
        };
        self.skipped[i].fetch_add(1, Ordering::Relaxed);
        self.skipped_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    fn add_stats(&self, s: MatchStats) {
        self.inline.fetch_add(s.inline, Ordering::Relaxed);
        self.allowlist.fetch_add(s.allowlist, Ordering::Relaxed);
    }
    fn into_summary(self, summary: &mut ScanSummary) {
        summary.blobs_scanned += self.scanned.into_inner();
        summary.bytes_scanned += self.bytes.into_inner();
        let reasons = [
            SkipReason::Binary,
            SkipReason::Minified,
            SkipReason::TooLarge,
            SkipReason::Unreadable,
        ];
        for (r, n) in reasons.iter().zip(self.skipped) {
            let n = n.into_inner();
            if n > 0 {
                *summary
                    .blobs_skipped
                    .entry(r.as_str().to_string())
                    .or_default() += n;
            }
        }
        summary.bytes_skipped += self.skipped_bytes.into_inner();
        summary.suppress("inline", self.inline.into_inner());
        summary.suppress("allowlist", self.allowlist.into_inner());
    }
}

/// Commits per diff task (consecutive in history, so the tree cache stays warm).
const DIFF_CHUNK: usize = 256;

/// Commits per diff wave (see `scan_git`): enough tasks to keep every thread busy.
const DIFF_WAVE: usize = 32 * DIFF_CHUNK;

/// Cache bytes per generation of each diff task's [`ObjectReader`] (two generations per reader,
/// one reader per thread in practice).
const TREE_CACHE_BYTES: usize = 16 << 20;

/// Per-thread repository handle for what the packs reader does not serve (loose objects, commits
/// outside the walk). gix's default delta-base cache (a 64-entry LRU) is kept; no object cache:
/// nothing read through it is read twice.
fn worker_repo(sync: &gix::ThreadSafeRepository) -> gix::Repository {
    let mut r = sync.to_thread_local();
    r.object_cache_size(0);
    r
}

pub(crate) fn thread_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("argus-secrets-{i}"))
        .build()
        .map_err(|e| SecretsError::io("starting worker threads", std::io::Error::other(e)))
}

impl Engine {
    /// Scan a git repository (work tree or bare) as selected by `opts`, handing each finding to
    /// `sink` once all blobs are scanned. Returns the summary; [`SecretsError::Cancelled`] when
    /// `ctl.cancel` was set.
    pub fn scan_git(
        &self,
        repo_path: &Path,
        opts: &GitScanOptions,
        ctl: &ScanControl,
        sink: &mut dyn FnMut(Finding),
    ) -> Result<ScanSummary> {
        let start = Instant::now();
        // No object cache: commits are read once by the walk, trees go through the packs'
        // reader with its own cache, blobs are read once.
        let mut repo = open_repo(repo_path)?;
        let mut sync = repo.clone().into_sync();
        let pool = thread_pool(opts.policy.threads)?;
        let packs = PackSet::open(&repo)?;
        let mut summary = ScanSummary::default();

        // (blob, commit index or u32::MAX, path index) and per-commit metadata.
        let mut metas: Vec<CommitMeta> = Vec::new();
        let mut paths: Vec<String> = Vec::new();
        let mut occurrences: Vec<(u32, u32, u32)> = Vec::new();
        let mut blobs: Vec<ObjectId> = Vec::new();
        let mut blob_index: gix::hashtable::HashMap<ObjectId, u32> =
            gix::hashtable::HashMap::default();
        let mut path_index: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut intern = |blob: ObjectId,
                          commit: u32,
                          path: Vec<u8>,
                          blobs: &mut Vec<ObjectId>,
                          occurrences: &mut Vec<(u32, u32, u32)>| {
            let b = *blob_index.entry(blob).or_insert_with(|| {
                blobs.push(blob);
                (blobs.len() - 1) as u32
            });
            let p = match path_index.get(&path) {
                Some(&p) => p,
                None => {
                    paths.push(String::from_utf8_lossy(&path).into_owned());
                    path_index.insert(path, (paths.len() - 1) as u32);
                    (paths.len() - 1) as u32
                }
            };
            occurrences.push((b, commit, p));
        };

        if opts.staged {
            for (path, blob) in staged_entries(&repo)? {
                intern(blob, u32::MAX, path, &mut blobs, &mut occurrences);
            }
        } else {
            let (tips, excluded) = self.tips_and_exclusions(&repo, opts, ctl)?;
            let mut commits = walk(&repo, &tips, &excluded, ctl)?;
            drop(excluded);
            // The walk read every commit through the object database, which keeps what it
            // touched resident (its pack index and commit pages) for as long as it is open. The
            // diff needs it only for what the packs reader does not serve, so start a fresh one.
            sync = open_repo(repo_path)?.into_sync();
            repo = sync.to_thread_local();
            let t = summary.phase("walk", start);
            // Oldest first: the first location of a finding is the introducing commit, and the
            // blob order follows history (good pack-cache locality).
            commits.sort_by(|a, b| {
                a.meta
                    .time
                    .cmp(&b.meta.time)
                    .then(a.meta.id.cmp(&b.meta.id))
            });
            summary.commits_scanned = commits.len() as u64;
            let trees: HashMap<ObjectId, ObjectId> = commits
                .iter()
                .filter_map(|c| {
                    ObjectId::from_hex(c.meta.id.as_bytes())
                        .ok()
                        .map(|id| (id, c.tree))
                })
                .collect();
            // Chunks of consecutive commits; each chunk borrows a tree reader from a small pool,
            // so reader caches live across chunks (rayon's per-split state would start cold).
            // The chunks are diffed in waves, each interned (in commit order) before the next
            // starts, so only one wave's `(path, blob)` lists are held at a time.
            let readers: Mutex<Vec<Trees<'_>>> = Mutex::new(Vec::new());
            for (w, wave) in commits.chunks(DIFF_WAVE).enumerate() {
                let introduced: Vec<Result<Introduced>> = pool.install(|| {
                    wave.par_chunks(DIFF_CHUNK)
                        .map(|chunk| {
                            let pooled = readers
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .pop();
                            let mut src = pooled.unwrap_or_else(|| Trees {
                                repo: worker_repo(&sync),
                                packed: Some(ObjectReader::new(&packs, TREE_CACHE_BYTES)),
                            });
                            let (mut buf, mut bufs) = (Vec::new(), DiffBuffers::default());
                            let out: Vec<Result<Introduced>> = chunk
                                .iter()
                                .map(|c| {
                                    ctl.check()?;
                                    introduced_by(&mut src, c, &trees, &mut buf, &mut bufs)
                                })
                                .collect();
                            readers
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .push(src);
                            out
                        })
                        .flatten_iter()
                        .collect()
                });
                for (k, intro) in introduced.into_iter().enumerate() {
                    let ci = (w * DIFF_WAVE + k) as u32;
                    for (path, blob) in intro? {
                        intern(blob, ci, path, &mut blobs, &mut occurrences);
                    }
                }
            }
            drop(readers);
            drop(trees);
            metas.extend(commits.into_iter().map(|c| c.meta));
            summary.phase("diff", t);
            if opts.include_unreachable {
                for id in repo.objects.iter().map_err(git)? {
                    let Ok(id) = id else { continue };
                    if blob_index.contains_key(&id) {
                        continue;
                    }
                    if let Ok(Some(h)) = repo.objects.try_header(&id) {
                        if h.kind() == gix::objs::Kind::Blob {
                            blob_index.insert(id, blobs.len() as u32);
                            blobs.push(id);
                        }
                    }
                }
            }
        }
        ctl.check()?;
        drop(path_index);

        // Scan every unique blob once.
        let t = Instant::now();
        ctl.progress
            .blobs_total
            .store(blobs.len() as u64, Ordering::Relaxed);
        let counters = BlobCounters::default();
        let policy = &opts.policy;
        let scan_one = |scratch: &mut Scratch, data: &[u8]| -> Option<Vec<RawMatch>> {
            ctl.progress.blobs_done.fetch_add(1, Ordering::Relaxed);
            if let Some(reason) = self.classify(data, policy) {
                counters.skip(reason, data.len() as u64);
                return None;
            }
            counters.scanned.fetch_add(1, Ordering::Relaxed);
            counters
                .bytes
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            ctl.progress
                .bytes_done
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            let mut out = Vec::new();
            let stats = self.scan_bytes(data, policy.keep_secret_values, scratch, &mut out);
            counters.add_stats(stats);
            (!out.is_empty()).then_some(out)
        };
        // Packed blobs in pack order (each delta inflated once), then whatever no pack yielded
        // (loose objects, damaged entries) through the object database.
        let found: Mutex<Vec<(u32, Vec<RawMatch>)>> = Mutex::new(Vec::new());
        // Release the object database (its mappings of the packs' indexes and data, with its
        // caches) while the packs are walked.
        drop(repo);
        drop(sync);
        let visited = pool.install(|| {
            packs.for_each_blob(&blobs, &ctl.cancel, Scratch::default, |scratch, i, data| {
                if let Some(m) = scan_one(scratch, data) {
                    found
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((i, m));
                }
            })
        });
        drop(packs);
        let rest: Vec<u32> = (0..blobs.len() as u32)
            .filter(|&i| !visited[i as usize])
            .collect();
        let sync = if rest.is_empty() {
            None
        } else {
            Some(open_repo(repo_path)?.into_sync())
        };
        let more: Vec<(u32, Vec<RawMatch>)> = pool.install(|| {
            rest.par_iter()
                .with_min_len(32)
                .map_init(
                    || {
                        (
                            sync.as_ref().map(worker_repo),
                            Vec::new(),
                            Scratch::default(),
                        )
                    },
                    |(r, buf, scratch), &i| {
                        if ctl.cancel.load(Ordering::Relaxed) {
                            return None;
                        }
                        let r = r.as_ref()?;
                        match r.objects.try_find(&blobs[i as usize], buf) {
                            Ok(Some(d)) if d.kind == gix::objs::Kind::Blob => {
                                scan_one(scratch, d.data).map(|m| (i, m))
                            }
                            _ => {
                                ctl.progress.blobs_done.fetch_add(1, Ordering::Relaxed);
                                counters.skip(SkipReason::Unreadable, 0);
                                None
                            }
                        }
                    },
                )
                .flatten()
                .collect()
        });
        let mut matched = found
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        matched.extend(more);
        matched.sort_unstable_by_key(|m| m.0);
        ctl.check()?;
        counters.into_summary(&mut summary);
        let t = summary.phase("scan", t);

        // Attribute matches to (commit, path) occurrences.
        occurrences.sort_unstable();
        let mut collector = Collector::new(self);
        for (bi, matches) in &matched {
            let lo = occurrences.partition_point(|o| o.0 < *bi);
            let hi = occurrences.partition_point(|o| o.0 <= *bi);
            let blob_hex = blobs[*bi as usize].to_string();
            if lo == hi {
                for m in matches {
                    collector.add(m, "", None, Some(&blob_hex));
                }
            }
            for &(_, ci, pi) in &occurrences[lo..hi] {
                let meta = metas.get(ci as usize);
                for m in matches {
                    collector.add(m, &paths[pi as usize], meta, Some(&blob_hex));
                }
            }
        }
        collector.finish(&opts.policy.suppressions, &mut summary, sink);
        summary.phase("attribute", t);
        summary.finish_timing(start);
        Ok(summary)
    }

    fn tips_and_exclusions(
        &self,
        repo: &gix::Repository,
        opts: &GitScanOptions,
        ctl: &ScanControl,
    ) -> Result<(Vec<ObjectId>, HashSet<ObjectId>)> {
        let mut excluded = HashSet::new();
        let tips = if let Some(range) = &opts.commit_range {
            let (a, b) = range
                .split_once("..")
                .ok_or_else(|| SecretsError::Revision(range.clone()))?;
            let b = if b.is_empty() { "HEAD" } else { b };
            if !a.is_empty() {
                excluded = ancestors(repo, resolve(repo, a)?, ctl)?;
            }
            vec![resolve(repo, b)?]
        } else {
            match &opts.refs {
                RefSelection::All => all_tips(repo)?,
                RefSelection::Refs(names) => names
                    .iter()
                    .map(|n| resolve(repo, n))
                    .collect::<Result<Vec<_>>>()?,
            }
        };
        if let Some(since) = &opts.since_commit {
            excluded.extend(ancestors(repo, resolve(repo, since)?, ctl)?);
        }
        Ok((tips, excluded))
    }
}

/// Index entries (stage 0 files) whose blob differs from the same path in `HEAD`.
fn staged_entries(repo: &gix::Repository) -> Result<Vec<(Vec<u8>, ObjectId)>> {
    let index = repo.open_index().map_err(git)?;
    let mut head: HashMap<Vec<u8>, ObjectId> = HashMap::new();
    if let Ok(id) = repo.head_id() {
        if let Some(commit) = peel_to_commit(repo, id.detach())? {
            let mut buf = Vec::new();
            if let Some(c) = read_commit(repo, &commit, &mut buf)? {
                let mut all = Vec::new();
                let mut bufs = DiffBuffers::default();
                let mut trees = Trees {
                    repo: repo.clone(),
                    packed: None,
                };
                diff_trees(
                    &mut trees,
                    None,
                    c.tree,
                    &mut Vec::new(),
                    &mut bufs,
                    0,
                    &mut all,
                )?;
                head.extend(all);
            }
        }
    }
    let mut out = Vec::new();
    for e in index.entries() {
        let is_file = e.mode == gix::index::entry::Mode::FILE
            || e.mode == gix::index::entry::Mode::FILE_EXECUTABLE;
        if e.stage_raw() != 0 || !is_file {
            continue;
        }
        let path = e.path(&index).to_vec();
        if head.get(&path) != Some(&e.id) {
            out.push((path, e.id));
        }
    }
    Ok(out)
}
