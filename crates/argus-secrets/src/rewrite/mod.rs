//! History rewriting: replace selected secret values in every blob (and optionally every commit
//! and tag message) of a repository's history, writing the cleaned repository as a new bare
//! repository. The source repository is only read.
//!
//! Algorithm (each object read about once, only what must change is written):
//! 1. Open the source (refusing shallow clones), list its refs, and walk every commit reachable
//!    from them parents-first (iterative depth-first post-order), keeping only ids, trees and
//!    parents in memory.
//! 2. Walk every unique tree once (packed trees through `packs::ObjectReader`, which keeps the
//!    intermediate objects of delta chains, so consecutive versions of a folder cost one delta
//!    each) to collect the unique blob ids and a compact graph of which trees and blobs each tree
//!    holds ([`TreeGraph`]: indices, no ids or names). Then scan every blob once, in parallel and
//!    in pack order (`packs::PackSet`, each delta inflated once), with one Aho-Corasick automaton
//!    over the secret values. A blob that matches is rewritten on the spot (every occurrence,
//!    leftmost-longest) and appended to a scratch pack; blobs are never held beyond the worker
//!    that reads them (bounded memory).
//! 3. From the graph, mark the trees with a changed blob below them; only those are read again
//!    and rewritten (memoized by id, ids swapped in place, each swap recorded as an
//!    `assemble::Edit`). Commits are rewritten parents-first: a commit changes when its tree, any
//!    parent or (with `messages`) its message changes; commits before the first affected one keep
//!    their ids. Annotated tags are re-created over their new targets; lightweight refs move.
//! 4. The output: `git init --bare`, then one pack holding exactly the objects of the new history
//!    written directly with its index (`assemble`: the source's entries copied as stored, deltas
//!    kept, a changed tree written as its old delta carried over to the new ids), then refs with
//!    `git update-ref --stdin`. The output shares nothing with the source (no alternates) and
//!    holds no unreachable (secret-bearing) object; no `git repack` or `git index-pack` runs.
//!
//! Invariants:
//! - The source repository is never written to (no command runs in it; gix opens it read-only
//!   in practice: nothing here calls a writing API on it).
//! - Secret values exist only in the [`RewritePlan`] and the automaton built from it; errors,
//!   reports and logs carry object ids and counts, never values.
//! - A signed commit or tag whose object changed loses its signature (it could no longer verify)
//!   and is listed in [`RewriteReport::signatures_dropped`]; unchanged objects keep theirs.
//! - Git LFS pointer blobs are left as they are (the pointer does not hold the file's content);
//!   a pointer that matched a secret is listed in [`RewriteReport::lfs_pointers_left`].
//! - Notes refs are kept and their own history cleaned, but notes are not re-keyed to the new
//!   commit ids; [`RewriteReport::notes_not_remapped`] says which notes refs this concerns.
//! - The output holds every object reachable from its refs and nothing else, each once, in one
//!   pack whose deltas all have their base inside it (self-contained, `git fsck --full` clean).
//! - On any error or cancellation the partially written output folder is removed.

mod assemble;
mod gitcmd;
mod objects;
mod pack;

use crate::finding::SecretValue;
use crate::packs::{ObjectReader, PackSet};
use aho_corasick::{AhoCorasick, MatchKind};
use assemble::{Edit, TreeEdit};
use gix::objs::Find;
use gix::prelude::Header as _;
use gix::ObjectId;
use objects::EntryKind;
use pack::PackWriter;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// Maps keyed by object ids, hashed by their first bytes (ids are already uniform hashes).
type IdMap<V> = gix::hashtable::HashMap<ObjectId, V>;

/// Delta-base cache of the object database, for what the packs reader does not serve.
const PACK_CACHE_BYTES: usize = 32 << 20;

/// Bytes per cache generation of the packs reader of the tree and commit passes (two generations:
/// at most twice this is held). Trees are read in history order, and consecutive versions of a
/// folder are neighbours on one delta chain, so the intermediate objects it keeps make most reads
/// one delta away from a cached object.
const READER_CACHE_BYTES: usize = 48 << 20;

/// Marks a tree (rather than a blob) in [`TreeGraph::edges`].
const TREE_BIT: u32 = 1 << 31;

/// The default replacement text (the same as git-filter-repo's).
pub const DEFAULT_REPLACEMENT: &str = "***REMOVED***";

/// Errors of a history rewrite.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// The source path is not a git repository.
    #[error("{0} is not a git repository")]
    NotARepository(PathBuf),
    /// The source is a shallow clone: its history is incomplete, so it cannot be rewritten.
    #[error("{0} is a shallow clone; fetch its full history first (git fetch --unshallow)")]
    Shallow(PathBuf),
    /// An object the history refers to is missing.
    #[error("object {id} is missing from the repository ({context}); the repository is incomplete or corrupt")]
    MissingObject { id: String, context: String },
    /// An object could not be read or parsed.
    #[error("object {id} is corrupt: {message}")]
    CorruptObject { id: String, message: String },
    /// The output folder exists and is not empty.
    #[error("output folder {0} exists and is not empty")]
    OutputNotEmpty(PathBuf),
    /// The plan has no (non-empty) secret value to replace.
    #[error("nothing to replace: the plan holds no secret value")]
    EmptyPlan,
    /// A `git` command failed.
    #[error("{0}")]
    Git(String),
    /// Reading or writing files failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The rewrite was cancelled through [`RewriteControl::cancel`].
    #[error("rewrite cancelled")]
    Cancelled,
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RewriteError {
    let context = context.into();
    move |source| RewriteError::Io { context, source }
}

/// One secret value to replace and its replacement text.
#[derive(Clone, Debug)]
pub struct Replacement {
    /// The value (never printed: `SecretValue` redacts itself).
    pub value: SecretValue,
    /// What replaces every occurrence.
    pub with: String,
}

/// What to replace.
#[derive(Clone, Debug, Default)]
pub struct RewritePlan {
    /// Secret values with their replacements. Empty values are ignored; when a value is listed
    /// twice the first replacement wins.
    pub replacements: Vec<Replacement>,
    /// Also replace the values in commit and tag messages.
    pub messages: bool,
}

impl RewritePlan {
    /// Add a value replaced by `with` (e.g. [`DEFAULT_REPLACEMENT`] or a per-rule override that
    /// keeps a config file parseable).
    pub fn add(&mut self, value: SecretValue, with: impl Into<String>) {
        self.replacements.push(Replacement {
            value,
            with: with.into(),
        });
    }
}

/// Phases of a rewrite, for progress displays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RewritePhase {
    /// Listing refs and walking commits (`done` = commits walked).
    Walk = 0,
    /// Scanning blobs (`done`/`total` = blobs).
    Scan = 1,
    /// Rewriting trees and commits (`done`/`total` = commits).
    Rewrite = 2,
    /// Writing the output repository (`done`/`total` = objects of the output pack, then refs).
    Write = 3,
}

/// Live counters of a rewrite.
#[derive(Debug, Default)]
pub struct RewriteProgress {
    phase: AtomicU8,
    /// Units done in the current phase.
    pub done: AtomicU64,
    /// Units in the current phase, once known (0 = unknown).
    pub total: AtomicU64,
}

impl RewriteProgress {
    /// The current phase.
    pub fn phase(&self) -> RewritePhase {
        match self.phase.load(Ordering::Relaxed) {
            0 => RewritePhase::Walk,
            1 => RewritePhase::Scan,
            2 => RewritePhase::Rewrite,
            _ => RewritePhase::Write,
        }
    }
    fn enter(&self, phase: RewritePhase, total: u64) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        self.phase.store(phase as u8, Ordering::Relaxed);
    }
}

/// Cancellation flag and progress of one rewrite.
#[derive(Clone, Debug, Default)]
pub struct RewriteControl {
    /// Set to stop; the rewrite returns [`RewriteError::Cancelled`] shortly after and removes
    /// its partial output.
    pub cancel: Arc<AtomicBool>,
    /// Progress counters.
    pub progress: Arc<RewriteProgress>,
    /// Worker threads for the blob scan; 0 = one per core.
    pub threads: usize,
}

impl RewriteControl {
    fn check(&self) -> Result<(), RewriteError> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(RewriteError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// A ref of the output repository.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RefUpdate {
    pub name: String,
    pub old: String,
    pub new: String,
}

/// A signed object whose signature was removed because the object changed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DroppedSignature {
    /// `commit` or `tag`.
    pub kind: &'static str,
    pub old: String,
    pub new: String,
}

/// What a rewrite did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RewriteReport {
    /// Commits reachable from the refs.
    pub commits_total: u64,
    /// Commits whose id changed.
    pub commits_rewritten: u64,
    /// Unique blobs scanned.
    pub blobs_scanned: u64,
    /// Blobs that held a selected secret and were replaced.
    pub blobs_changed: u64,
    /// Trees whose id changed.
    pub trees_changed: u64,
    /// Annotated tags re-created.
    pub tags_rewritten: u64,
    /// Commit and tag messages in which a secret was replaced (`messages` only).
    pub messages_changed: u64,
    /// Objects in the output repository (every object of the new history, once).
    pub objects_written: u64,
    /// Of those, objects stored as deltas taken over from the source's packs (as they were, or
    /// carried over to a changed tree or base) instead of whole.
    pub deltas_reused: u64,
    /// Refs written to the output (every ref); `old != new` for the moved ones.
    pub refs: Vec<RefUpdate>,
    /// Refs whose target changed.
    pub refs_updated: u64,
    /// Signed commits and tags that lost their signature.
    pub signatures_dropped: Vec<DroppedSignature>,
    /// Git LFS pointer blobs that matched a secret and were left unchanged (blob ids).
    pub lfs_pointers_left: Vec<String>,
    /// Notes refs whose notes stay attached to the old commit ids (not re-keyed).
    pub notes_not_remapped: Vec<String>,
    /// Old → new id of every commit (also written to `<out>/commit-map`).
    pub commit_map: Vec<(String, String)>,
    /// Where the commit map was written.
    pub commit_map_path: PathBuf,
}

/// A ref of the source as read: a direct target or a symbolic one.
enum RefTarget {
    Object(ObjectId),
    Symbolic(String),
}

struct Commit {
    id: ObjectId,
    tree: ObjectId,
    parents: Vec<u32>,
}

/// Rewrite the history of `repo` into a new bare repository at `out` following `plan`.
///
/// `out` must not exist or be an empty folder; it is removed again on failure or cancellation.
pub fn rewrite_history(
    repo: &Path,
    out: &Path,
    plan: &RewritePlan,
    control: &RewriteControl,
) -> Result<RewriteReport, RewriteError> {
    let existed = out.exists();
    if existed
        && std::fs::read_dir(out)
            .map_err(io(format!("reading {}", out.display())))?
            .next()
            .is_some()
    {
        return Err(RewriteError::OutputNotEmpty(out.to_owned()));
    }
    let result = Rewriter::run(repo, out, plan, control);
    if result.is_err() {
        // Never leave a half-written repository (it may hold partial new objects).
        if existed {
            if let Ok(rd) = std::fs::read_dir(out) {
                for e in rd.flatten() {
                    let p = e.path();
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(out);
        }
    }
    result
}

/// The reachable trees as read once by [`Rewriter::collect_blobs`]: which trees and blobs each
/// holds, as indices (no ids, no names), so that after the blob scan the trees that need a new
/// version (those above a changed blob) are known without reading any tree again.
#[derive(Default)]
struct TreeGraph {
    /// Tree id → tree index.
    index: IdMap<u32>,
    /// Per tree index, where its children sit in `edges` (start, count).
    span: Vec<(usize, u32)>,
    /// Children: a tree index with [`TREE_BIT`] set, or a blob index (position in the blob list).
    edges: Vec<u32>,
    /// Per tree index: a changed blob lies below it (filled by [`TreeGraph::mark_dirty`]).
    dirty: Vec<bool>,
}

impl TreeGraph {
    /// Mark every tree with a changed blob below it (`changed` per blob index): a post-order walk
    /// over the graph, each tree visited once.
    fn mark_dirty(&mut self, changed: &[bool]) {
        let n = self.span.len();
        let mut dirty = vec![false; n];
        // 0 unvisited, 1 on the stack, 2 done.
        let mut state = vec![0u8; n];
        let mut stack: Vec<(u32, u32)> = Vec::new();
        for root in 0..n {
            if state[root] != 0 {
                continue;
            }
            state[root] = 1;
            stack.push((root as u32, 0));
            while let Some(&mut (t, ref mut next)) = stack.last_mut() {
                let (start, len) = self.span[t as usize];
                if *next < len {
                    let e = self.edges[start + *next as usize];
                    *next += 1;
                    if e & TREE_BIT != 0 {
                        let c = (e & !TREE_BIT) as usize;
                        match state[c] {
                            0 => {
                                state[c] = 1;
                                stack.push((c as u32, 0));
                            }
                            2 if dirty[c] => dirty[t as usize] = true,
                            // Trees cannot hold themselves (ids are hashes of contents).
                            _ => {}
                        }
                    } else if changed.get(e as usize).copied().unwrap_or(false) {
                        dirty[t as usize] = true;
                    }
                } else {
                    stack.pop();
                    state[t as usize] = 2;
                    if dirty[t as usize] {
                        if let Some(&(p, _)) = stack.last() {
                            dirty[p as usize] = true;
                        }
                    }
                }
            }
        }
        self.dirty = dirty;
    }

    /// Whether tree `id` is known to need no new version.
    fn clean(&self, id: &ObjectId) -> bool {
        self.index
            .get(id)
            .is_some_and(|&t| !self.dirty.get(t as usize).copied().unwrap_or(true))
    }
}

struct Rewriter<'a> {
    repo: gix::Repository,
    /// Packed trees and commits (delta chains resolved once); `None` outside the passes that read
    /// many objects, so its cache is not held during the blob scan.
    reader: Option<ObjectReader<'a>>,
    packs: &'a PackSet,
    graph: TreeGraph,
    hash_len: usize,
    kind: gix::hash::Kind,
    control: &'a RewriteControl,
    ac: Option<AhoCorasick>,
    with: Vec<String>,
    messages: bool,
    blob_map: IdMap<ObjectId>,
    tree_map: IdMap<ObjectId>,
    /// How each changed tree differs from its old version (for the output pack's deltas).
    tree_edits: IdMap<TreeEdit>,
    tag_map: IdMap<ObjectId>,
    commit_new: IdMap<ObjectId>,
    pack: PackWriter,
    report: RewriteReport,
    buf: Vec<u8>,
}

fn missing(id: &gix::oid, context: &str) -> RewriteError {
    RewriteError::MissingObject {
        id: id.to_string(),
        context: context.to_owned(),
    }
}

fn corrupt(id: &gix::oid, message: impl Into<String>) -> RewriteError {
    RewriteError::CorruptObject {
        id: id.to_string(),
        message: message.into(),
    }
}

/// Whether a blob is a Git LFS pointer file.
fn is_lfs_pointer(data: &[u8]) -> bool {
    data.len() < 1024 && data.starts_with(b"version https://git-lfs.github.com/spec/")
}

impl<'a> Rewriter<'a> {
    fn run(
        repo_path: &Path,
        out: &Path,
        plan: &RewritePlan,
        control: &'a RewriteControl,
    ) -> Result<RewriteReport, RewriteError> {
        let mut repo =
            gix::open(repo_path).map_err(|_| RewriteError::NotARepository(repo_path.to_owned()))?;
        if repo
            .is_shallow()
            .map_err(|e| RewriteError::Git(format!("{}: {e}", repo_path.display())))?
        {
            return Err(RewriteError::Shallow(repo_path.to_owned()));
        }
        repo.object_cache_size(8 << 20);
        // What the packs reader does not serve comes through the object database: a
        // memory-capped delta-base cache (instead of gix's default 64-entry list) keeps each base
        // inflated about once.
        repo.objects.set_pack_cache(|| {
            Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
                PACK_CACHE_BYTES,
            ))
        });

        // The automaton: values deduplicated (first replacement wins), empties dropped.
        let mut seen = HashSet::new();
        let (mut values, mut with) = (Vec::new(), Vec::new());
        for r in &plan.replacements {
            let v = r.value.expose();
            if !v.is_empty() && seen.insert(v) {
                values.push(v.as_bytes());
                with.push(r.with.clone());
            }
        }
        if values.is_empty() {
            return Err(RewriteError::EmptyPlan);
        }
        let ac = Some(
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&values)
                .map_err(|e| RewriteError::Git(format!("building the matcher: {e}")))?,
        );
        drop(seen);

        std::fs::create_dir_all(out).map_err(io(format!("creating {}", out.display())))?;
        let out = std::fs::canonicalize(out).map_err(io(format!("resolving {}", out.display())))?;
        gitcmd::git(&out, &["init", "--bare", "--quiet", "."], None)?;
        let pack_dir = out.join("objects").join("pack");
        std::fs::create_dir_all(&pack_dir).map_err(io("creating the pack folder"))?;
        let kind = repo.object_hash();
        let pack =
            PackWriter::create(&pack_dir, "new", kind).map_err(io("creating a scratch pack"))?;
        let packs = PackSet::open(&repo).map_err(|e| RewriteError::Git(e.to_string()))?;

        let mut rw = Rewriter {
            repo,
            reader: Some(ObjectReader::new(&packs, READER_CACHE_BYTES)),
            packs: &packs,
            graph: TreeGraph::default(),
            hash_len: kind.len_in_bytes(),
            kind,
            control,
            ac,
            with,
            messages: plan.messages,
            blob_map: IdMap::default(),
            tree_map: IdMap::default(),
            tree_edits: IdMap::default(),
            tag_map: IdMap::default(),
            commit_new: IdMap::default(),
            pack,
            report: RewriteReport::default(),
            buf: Vec::new(),
        };

        // 1. Refs and commits.
        control.progress.enter(RewritePhase::Walk, 0);
        let (refs, head) = rw.list_refs()?;
        let (commits, order, extra_trees, extra_blobs) = rw.walk(&refs, &head)?;
        rw.report.commits_total = commits.len() as u64;

        // 2. Blobs.
        let blobs = rw.collect_blobs(&commits, &extra_trees, extra_blobs)?;
        rw.reader = None;
        rw.scan_blobs(repo_path, &blobs)?;
        let changed: Vec<bool> = blobs.iter().map(|b| rw.blob_map.contains_key(b)).collect();
        rw.graph.mark_dirty(&changed);
        drop(changed);
        rw.reader = Some(ObjectReader::new(&packs, READER_CACHE_BYTES));

        // 3. Trees, commits, tags.
        control
            .progress
            .enter(RewritePhase::Rewrite, commits.len() as u64);
        let mut new_ids: Vec<ObjectId> = Vec::with_capacity(commits.len());
        new_ids.resize(commits.len(), ObjectId::null(kind));
        for &ci in &order {
            control.check()?;
            let c = &commits[ci as usize];
            let parents: Vec<ObjectId> = c.parents.iter().map(|&p| new_ids[p as usize]).collect();
            let new = rw.rewrite_commit(c, &parents, &commits)?;
            new_ids[ci as usize] = new;
            if new != c.id {
                rw.report.commits_rewritten += 1;
            }
            control.progress.done.fetch_add(1, Ordering::Relaxed);
        }
        for (c, new) in commits.iter().zip(&new_ids) {
            rw.commit_new.insert(c.id, *new);
        }
        rw.report.trees_changed = rw.tree_map.iter().filter(|(a, b)| a != b).count() as u64;

        // Refs: new targets.
        control.progress.enter(RewritePhase::Write, 0);
        let mut updates = Vec::new();
        let mut symbolic = Vec::new();
        for (name, target) in &refs {
            match target {
                RefTarget::Object(id) => {
                    let new = rw.rewrite_any(*id)?;
                    if new != *id {
                        rw.report.refs_updated += 1;
                    }
                    if name.starts_with("refs/notes/") && rw.report.commits_rewritten > 0 {
                        rw.report.notes_not_remapped.push(name.clone());
                    }
                    rw.report.refs.push(RefUpdate {
                        name: name.clone(),
                        old: id.to_string(),
                        new: new.to_string(),
                    });
                    updates.push((name.clone(), new));
                }
                RefTarget::Symbolic(to) => symbolic.push((name.clone(), to.clone())),
            }
        }
        let head_new = match &head {
            Some(RefTarget::Object(id)) => Some(rw.rewrite_any(*id)?),
            _ => None,
        };
        control.check()?;

        // 4. Output repository: exactly the objects of the new history, in one pack.
        let mut keep: gix::hashtable::HashSet<ObjectId> = gix::hashtable::HashSet::default();
        keep.extend(new_ids.iter().copied());
        keep.extend(
            blobs
                .iter()
                .map(|b| rw.blob_map.get(b).copied().unwrap_or(*b)),
        );
        drop(blobs);
        let mut dirty = Vec::new();
        for (id, t) in &rw.graph.index {
            if rw.graph.dirty.get(*t as usize).copied().unwrap_or(false) {
                dirty.push(*id);
            } else {
                keep.insert(*id);
            }
        }
        for id in dirty {
            keep.insert(rw.rewrite_tree(id)?);
        }
        keep.extend(rw.tag_map.values().copied());
        control
            .progress
            .enter(RewritePhase::Write, keep.len() as u64);
        let Rewriter {
            pack,
            mut report,
            repo,
            mut reader,
            tree_edits,
            ..
        } = rw;
        let (scratch, scratch_entries) = pack
            .finish_scratch()
            .map_err(io("finishing the scratch pack"))?;
        let mut output =
            PackWriter::create(&pack_dir, "out", kind).map_err(io("creating the output pack"))?;
        let mut read = |id: &ObjectId, buf: &mut Vec<u8>| {
            if let Some(r) = &mut reader {
                if let Some(kind) = r.read(id, buf) {
                    return Ok(kind);
                }
            }
            match repo.objects.try_find(id, buf) {
                Ok(Some(d)) => Ok(d.kind),
                Ok(None) => Err(missing(id, "object of the new history")),
                Err(e) => Err(corrupt(id, e.to_string())),
            }
        };
        let sources = assemble::Sources {
            packs: &packs,
            scratch: &scratch,
            scratch_entries: &scratch_entries,
            tree_edits: &tree_edits,
            hash: kind,
        };
        let stats = assemble::assemble(&sources, &keep, &mut output, &mut read, control)?;
        drop((reader, tree_edits, keep, scratch_entries));
        std::fs::remove_file(&scratch).map_err(io("removing the scratch pack"))?;
        output.finish().map_err(io("finishing the output pack"))?;
        report.objects_written = stats.total();
        report.deltas_reused = stats.copied_deltas + stats.carried;
        control.check()?;

        let mut stdin = Vec::new();
        for (name, id) in &updates {
            stdin.extend_from_slice(format!("create {name} {id}\n").as_bytes());
        }
        if !stdin.is_empty() {
            gitcmd::git(&out, &["update-ref", "--stdin"], Some(stdin))?;
        }
        for (name, to) in &symbolic {
            gitcmd::git(&out, &["symbolic-ref", name, to], None)?;
        }
        match (&head, head_new) {
            (Some(RefTarget::Symbolic(to)), _) => {
                gitcmd::git(&out, &["symbolic-ref", "HEAD", to], None)?;
            }
            (Some(RefTarget::Object(_)), Some(id)) => {
                let id = id.to_string();
                gitcmd::git(&out, &["update-ref", "--no-deref", "HEAD", &id], None)?;
            }
            _ => {}
        }
        control.check()?;

        report.commit_map = commits
            .iter()
            .zip(&new_ids)
            .map(|(c, n)| (c.id.to_string(), n.to_string()))
            .collect();
        let mut map = String::with_capacity(report.commit_map.len() * 82 + 90);
        map.push_str(&format!("{:<w$} new\n", "old", w = kind.len_in_hex()));
        for (o, n) in &report.commit_map {
            map.push_str(o);
            map.push(' ');
            map.push_str(n);
            map.push('\n');
        }
        report.commit_map_path = out.join("commit-map");
        std::fs::write(&report.commit_map_path, map).map_err(io("writing commit-map"))?;
        Ok(report)
    }

    /// Every ref (name → target, symbolic refs kept symbolic) and `HEAD`.
    #[allow(clippy::type_complexity)]
    fn list_refs(&self) -> Result<(Vec<(String, RefTarget)>, Option<RefTarget>), RewriteError> {
        let gerr = |e: &dyn std::fmt::Display| RewriteError::Git(format!("reading refs: {e}"));
        let mut refs = Vec::new();
        let platform = self.repo.references().map_err(|e| gerr(&e))?;
        for r in platform.all().map_err(|e| gerr(&e))? {
            let r = r.map_err(|e| gerr(&e))?;
            let name = r.name().as_bstr().to_string();
            let target = match r.target() {
                gix::refs::TargetRef::Object(id) => RefTarget::Object(id.to_owned()),
                gix::refs::TargetRef::Symbolic(to) => RefTarget::Symbolic(to.as_bstr().to_string()),
            };
            refs.push((name, target));
        }
        let head = match self.repo.find_reference("HEAD") {
            Ok(r) => Some(match r.target() {
                gix::refs::TargetRef::Object(id) => RefTarget::Object(id.to_owned()),
                gix::refs::TargetRef::Symbolic(to) => RefTarget::Symbolic(to.as_bstr().to_string()),
            }),
            Err(_) => None,
        };
        Ok((refs, head))
    }

    /// Read an object into `self.buf`; its kind.
    fn read(&mut self, id: &gix::oid, context: &str) -> Result<gix::objs::Kind, RewriteError> {
        if let Some(r) = &mut self.reader {
            if let Some(kind) = r.read(id, &mut self.buf) {
                return Ok(kind);
            }
        }
        match self.repo.objects.try_find(id, &mut self.buf) {
            Ok(Some(d)) => Ok(d.kind),
            Ok(None) => Err(missing(id, context)),
            Err(e) => Err(corrupt(id, e.to_string())),
        }
    }

    fn kind_of(&self, id: &gix::oid, context: &str) -> Result<gix::objs::Kind, RewriteError> {
        match self.repo.objects.try_header(id) {
            Ok(Some(h)) => Ok(h.kind()),
            Ok(None) => Err(missing(id, context)),
            Err(e) => Err(corrupt(id, e.to_string())),
        }
    }

    /// Walk the commits reachable from the refs, parents first. Also returns trees and blobs
    /// that refs or tags point to directly.
    #[allow(clippy::type_complexity)]
    fn walk(
        &mut self,
        refs: &[(String, RefTarget)],
        head: &Option<RefTarget>,
    ) -> Result<(Vec<Commit>, Vec<u32>, Vec<ObjectId>, Vec<ObjectId>), RewriteError> {
        let mut tips = Vec::new();
        let (mut extra_trees, mut extra_blobs) = (Vec::new(), Vec::new());
        let direct = refs
            .iter()
            .filter_map(|(n, t)| match t {
                RefTarget::Object(id) => Some((n.as_str(), *id)),
                RefTarget::Symbolic(_) => None,
            })
            .chain(match head {
                Some(RefTarget::Object(id)) => Some(("HEAD", *id)),
                _ => None,
            });
        for (name, mut id) in direct.collect::<Vec<_>>() {
            let ctx = format!("ref {name}");
            for _ in 0..64 {
                match self.read(&id, &ctx)? {
                    gix::objs::Kind::Commit => {
                        tips.push(id);
                        break;
                    }
                    gix::objs::Kind::Tree => {
                        extra_trees.push(id);
                        break;
                    }
                    gix::objs::Kind::Blob => {
                        extra_blobs.push(id);
                        break;
                    }
                    gix::objs::Kind::Tag => {
                        let p = objects::parse(&self.buf);
                        id = p
                            .headers
                            .iter()
                            .find_map(|h| objects::header_value(h, b"object"))
                            .and_then(objects::hex_id)
                            .ok_or_else(|| corrupt(&id, "tag without a target"))?;
                    }
                }
            }
        }

        let mut index: IdMap<u32> = IdMap::default();
        let mut commits: Vec<Commit> = Vec::new();
        let mut order: Vec<u32> = Vec::new();
        // (id, child index waiting for it), expanded marker.
        let mut stack: Vec<(ObjectId, bool)> = tips.into_iter().rev().map(|t| (t, false)).collect();
        let mut pending_parents: HashMap<u32, Vec<ObjectId>> = HashMap::new();
        while let Some((id, expanded)) = stack.pop() {
            if expanded {
                let ci = index[&id];
                let parents = pending_parents.remove(&ci).unwrap_or_default();
                let mut pi = Vec::with_capacity(parents.len());
                for p in &parents {
                    let &i = index
                        .get(p)
                        .ok_or_else(|| missing(p, &format!("parent of commit {id}")))?;
                    pi.push(i);
                }
                commits[ci as usize].parents = pi;
                order.push(ci);
                continue;
            }
            if index.contains_key(&id) {
                continue;
            }
            self.control.check()?;
            let kind = self.read(&id, "commit")?;
            if kind != gix::objs::Kind::Commit {
                return Err(corrupt(&id, format!("expected a commit, found a {kind}")));
            }
            let p = objects::parse(&self.buf);
            let tree = p
                .headers
                .first()
                .and_then(|h| objects::header_value(h, b"tree"))
                .and_then(objects::hex_id)
                .ok_or_else(|| corrupt(&id, "commit without a tree"))?;
            let parents: Vec<ObjectId> = p
                .headers
                .iter()
                .filter_map(|h| objects::header_value(h, b"parent"))
                .map(|v| objects::hex_id(v).ok_or_else(|| corrupt(&id, "bad parent line")))
                .collect::<Result<_, _>>()?;
            let ci = commits.len() as u32;
            index.insert(id, ci);
            commits.push(Commit {
                id,
                tree,
                parents: Vec::new(),
            });
            stack.push((id, true));
            for p in parents.iter().rev() {
                if !index.contains_key(p) {
                    stack.push((*p, false));
                }
            }
            pending_parents.insert(ci, parents);
            self.control.progress.done.fetch_add(1, Ordering::Relaxed);
        }
        Ok((commits, order, extra_trees, extra_blobs))
    }

    /// Every unique blob reachable from the commits' trees and the extra roots; also records
    /// which trees and blobs each tree holds ([`TreeGraph`]).
    fn collect_blobs(
        &mut self,
        commits: &[Commit],
        extra_trees: &[ObjectId],
        mut blobs: Vec<ObjectId>,
    ) -> Result<Vec<ObjectId>, RewriteError> {
        let too_many = || RewriteError::Git("more than 2^31 trees or blobs".into());
        let mut graph = TreeGraph::default();
        let mut blob_index: IdMap<u32> = IdMap::default();
        for (i, b) in blobs.iter().enumerate() {
            blob_index.entry(*b).or_insert(i as u32);
        }
        let mut stack: Vec<(ObjectId, u32)> = Vec::new();
        let roots = commits
            .iter()
            .map(|c| c.tree)
            .chain(extra_trees.iter().copied());
        let hash_len = self.hash_len;
        let mut data = Vec::new();
        let intern = |graph: &mut TreeGraph, id: ObjectId| -> Result<(u32, bool), RewriteError> {
            let next = u32::try_from(graph.span.len())
                .ok()
                .filter(|n| n & TREE_BIT == 0)
                .ok_or_else(too_many)?;
            match graph.index.entry(id) {
                gix::hashtable::hash_map::Entry::Occupied(e) => Ok((*e.get(), false)),
                gix::hashtable::hash_map::Entry::Vacant(e) => {
                    e.insert(next);
                    graph.span.push((0, 0));
                    Ok((next, true))
                }
            }
        };
        for root in roots {
            let (ti, new) = intern(&mut graph, root)?;
            if !new {
                continue;
            }
            self.control.check()?;
            stack.push((root, ti));
            while let Some((t, ti)) = stack.pop() {
                let kind = self.read(&t, "tree")?;
                if kind != gix::objs::Kind::Tree {
                    return Err(corrupt(&t, format!("expected a tree, found a {kind}")));
                }
                std::mem::swap(&mut data, &mut self.buf);
                let entries = objects::tree_entries(&data, hash_len)
                    .ok_or_else(|| corrupt(&t, "malformed tree"))?;
                let start = graph.edges.len();
                for e in entries {
                    let id = ObjectId::from_bytes_or_panic(&data[e.id_at..e.id_at + hash_len]);
                    match e.kind() {
                        EntryKind::Tree => {
                            let (ci, new) = intern(&mut graph, id)?;
                            if new {
                                stack.push((id, ci));
                            }
                            graph.edges.push(ci | TREE_BIT);
                        }
                        EntryKind::Blob => {
                            let next = u32::try_from(blobs.len())
                                .ok()
                                .filter(|n| n & TREE_BIT == 0)
                                .ok_or_else(too_many)?;
                            let bi = *blob_index.entry(id).or_insert_with(|| {
                                blobs.push(id);
                                next
                            });
                            graph.edges.push(bi);
                        }
                        EntryKind::Gitlink => {}
                    }
                }
                let len = (graph.edges.len() - start) as u32;
                graph.span[ti as usize] = (start, len);
            }
        }
        graph.edges.shrink_to_fit();
        self.graph = graph;
        Ok(blobs)
    }

    /// Scan every blob once; rewrite and write those that hold a secret.
    fn scan_blobs(&mut self, repo_path: &Path, blobs: &[ObjectId]) -> Result<(), RewriteError> {
        let control = self.control;
        control
            .progress
            .enter(RewritePhase::Scan, blobs.len() as u64);
        self.report.blobs_scanned = blobs.len() as u64;
        let Some(ac) = self.ac.as_ref() else {
            return Ok(());
        };
        let with = &self.with;
        let kind = self.kind;
        let changed: Mutex<Vec<(ObjectId, ObjectId)>> = Mutex::new(Vec::new());
        let lfs: Mutex<Vec<ObjectId>> = Mutex::new(Vec::new());
        let failure: Mutex<Option<RewriteError>> = Mutex::new(None);
        let pack = Mutex::new(&mut self.pack);
        let visit = |old: &ObjectId, data: &[u8]| {
            control.progress.done.fetch_add(1, Ordering::Relaxed);
            if !ac.is_match(data) {
                return;
            }
            if is_lfs_pointer(data) {
                lock(&lfs).push(*old);
                return;
            }
            let mut new = Vec::with_capacity(data.len());
            ac.replace_all_with_bytes(data, &mut new, |m, _, dst| {
                dst.extend_from_slice(with[m.pattern().as_usize()].as_bytes());
                true
            });
            let written = gix::objs::compute_hash(kind, gix::objs::Kind::Blob, &new)
                .map_err(|e| corrupt(old, e.to_string()))
                .and_then(|id| {
                    let z = pack::deflate(&new).map_err(io("compressing a blob"))?;
                    lock(&pack)
                        .add(id, gix::objs::Kind::Blob, new.len(), &z)
                        .map_err(io("writing the output pack"))?;
                    Ok(id)
                });
            match written {
                Ok(id) => lock(&changed).push((*old, id)),
                Err(e) => {
                    lock(&failure).get_or_insert(e);
                }
            }
        };

        let pool = crate::git::thread_pool(control.threads)
            .map_err(|e| RewriteError::Git(e.to_string()))?;
        let packs = self.packs;
        let visited = pool.install(|| {
            packs.for_each_blob(
                blobs,
                &control.cancel,
                || (),
                |_, i, data| visit(&blobs[i as usize], data),
            )
        });
        control.check()?;
        // What no pack yielded (loose objects) through the object database.
        let mut buf = Vec::new();
        let repo =
            gix::open(repo_path).map_err(|_| RewriteError::NotARepository(repo_path.to_owned()))?;
        for (i, id) in blobs.iter().enumerate() {
            if visited[i] {
                continue;
            }
            control.check()?;
            match repo.objects.try_find(id, &mut buf) {
                Ok(Some(d)) if d.kind == gix::objs::Kind::Blob => visit(id, d.data),
                Ok(Some(d)) => {
                    return Err(corrupt(id, format!("expected a blob, found a {}", d.kind)))
                }
                Ok(None) => return Err(missing(id, "blob")),
                Err(e) => return Err(corrupt(id, e.to_string())),
            }
        }
        if let Some(e) = lock(&failure).take() {
            return Err(e);
        }
        let changed = changed
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.report.blobs_changed = changed.len() as u64;
        self.blob_map.extend(changed);
        let mut lfs = lfs
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lfs.sort();
        self.report.lfs_pointers_left = lfs.iter().map(|i| i.to_string()).collect();
        Ok(())
    }

    fn write(
        &mut self,
        kind: gix::objs::Kind,
        data: &[u8],
        of: &gix::oid,
    ) -> Result<ObjectId, RewriteError> {
        let id = gix::objs::compute_hash(self.kind, kind, data)
            .map_err(|e| corrupt(of, e.to_string()))?;
        self.pack
            .add_raw(id, kind, data)
            .map_err(io("writing the output pack"))?;
        Ok(id)
    }

    /// The new id of tree `id` (itself when nothing below it changed).
    fn rewrite_tree(&mut self, id: ObjectId) -> Result<ObjectId, RewriteError> {
        if let Some(&n) = self.tree_map.get(&id) {
            return Ok(n);
        }
        if self.blob_map.is_empty() || self.graph.clean(&id) {
            return Ok(id);
        }
        let kind = self.read(&id, "tree")?;
        if kind != gix::objs::Kind::Tree {
            return Err(corrupt(&id, format!("expected a tree, found a {kind}")));
        }
        let mut data = std::mem::take(&mut self.buf);
        let hash_len = self.hash_len;
        let entries: Vec<(EntryKind, usize)> = objects::tree_entries(&data, hash_len)
            .ok_or_else(|| corrupt(&id, "malformed tree"))?
            .iter()
            .map(|e| (e.kind(), e.id_at))
            .collect();
        let mut edits = Vec::new();
        for (k, at) in entries {
            let old = ObjectId::from_bytes_or_panic(&data[at..at + hash_len]);
            let new = match k {
                EntryKind::Tree => self.rewrite_tree(old)?,
                EntryKind::Blob => self.blob_map.get(&old).copied().unwrap_or(old),
                EntryKind::Gitlink => old,
            };
            if new != old {
                data[at..at + hash_len].copy_from_slice(new.as_bytes());
                let at = u32::try_from(at).map_err(|_| corrupt(&id, "tree larger than 4 GiB"))?;
                edits.push(Edit { at, old, new });
            }
        }
        let new = if edits.is_empty() {
            id
        } else {
            let new = self.write(gix::objs::Kind::Tree, &data, &id)?;
            let edits = edits.into_boxed_slice();
            self.tree_edits.insert(id, TreeEdit { new, edits });
            new
        };
        self.tree_map.insert(id, new);
        Ok(new)
    }

    /// Replace secrets in a message; `None` when none occurs.
    fn clean_message(&self, message: &[u8]) -> Option<Vec<u8>> {
        let ac = self.ac.as_ref()?;
        if !self.messages || !ac.is_match(message) {
            return None;
        }
        let mut out = Vec::with_capacity(message.len());
        ac.replace_all_with_bytes(message, &mut out, |m, _, dst| {
            dst.extend_from_slice(self.with[m.pattern().as_usize()].as_bytes());
            true
        });
        Some(out)
    }

    fn rewrite_commit(
        &mut self,
        c: &Commit,
        new_parents: &[ObjectId],
        commits: &[Commit],
    ) -> Result<ObjectId, RewriteError> {
        let new_tree = self.rewrite_tree(c.tree)?;
        let parents_changed = c
            .parents
            .iter()
            .zip(new_parents)
            .any(|(&p, n)| commits[p as usize].id != *n);
        if new_tree == c.tree && !parents_changed && !self.messages {
            return Ok(c.id);
        }
        self.read(&c.id, "commit")?;
        let data = std::mem::take(&mut self.buf);
        let parsed = objects::parse(&data);
        let message = parsed.message.and_then(|m| self.clean_message(m));
        if new_tree == c.tree && !parents_changed && message.is_none() {
            self.buf = data;
            return Ok(c.id);
        }
        let mut signed = false;
        let mut headers = Vec::with_capacity(parsed.headers.len());
        let mut parent_i = 0;
        for h in &parsed.headers {
            if objects::header_value(h, b"tree").is_some() && headers.is_empty() {
                headers.push(format!("tree {new_tree}").into_bytes());
            } else if objects::header_value(h, b"parent").is_some() {
                let p = new_parents
                    .get(parent_i)
                    .ok_or_else(|| corrupt(&c.id, "parent lines changed while reading"))?;
                parent_i += 1;
                headers.push(format!("parent {p}").into_bytes());
            } else if objects::is_signature_header(h) {
                signed = true;
            } else {
                headers.push(h.to_vec());
            }
        }
        if message.is_some() {
            self.report.messages_changed += 1;
        }
        let raw = objects::assemble(&headers, message.as_deref().or(parsed.message));
        let new = self.write(gix::objs::Kind::Commit, &raw, &c.id)?;
        if signed {
            self.report.signatures_dropped.push(DroppedSignature {
                kind: "commit",
                old: c.id.to_string(),
                new: new.to_string(),
            });
        }
        self.buf = data;
        Ok(new)
    }

    /// New id of any object a ref or tag points to.
    fn rewrite_any(&mut self, id: ObjectId) -> Result<ObjectId, RewriteError> {
        if let Some(&n) = self.commit_new.get(&id) {
            return Ok(n);
        }
        if let Some(&n) = self.tag_map.get(&id) {
            return Ok(n);
        }
        match self.kind_of(&id, "ref target")? {
            gix::objs::Kind::Commit => Ok(self.commit_new.get(&id).copied().unwrap_or(id)),
            gix::objs::Kind::Tree => self.rewrite_tree(id),
            gix::objs::Kind::Blob => Ok(self.blob_map.get(&id).copied().unwrap_or(id)),
            gix::objs::Kind::Tag => self.rewrite_tag(id),
        }
    }

    fn rewrite_tag(&mut self, id: ObjectId) -> Result<ObjectId, RewriteError> {
        self.read(&id, "tag")?;
        let data = std::mem::take(&mut self.buf);
        let parsed = objects::parse(&data);
        let target = parsed
            .headers
            .iter()
            .find_map(|h| objects::header_value(h, b"object"))
            .and_then(objects::hex_id)
            .ok_or_else(|| corrupt(&id, "tag without a target"))?;
        let new_target = self.rewrite_any(target)?;
        let body = parsed.message.unwrap_or(&[]);
        let sig_at = objects::tag_signature_start(body);
        let text = &body[..sig_at.unwrap_or(body.len())];
        let cleaned = self.clean_message(text);
        let new = if new_target == target && cleaned.is_none() {
            id
        } else {
            let mut signed = sig_at.is_some();
            let mut headers = Vec::with_capacity(parsed.headers.len());
            for h in &parsed.headers {
                if objects::header_value(h, b"object").is_some() {
                    headers.push(format!("object {new_target}").into_bytes());
                } else if objects::is_signature_header(h) {
                    signed = true;
                } else {
                    headers.push(h.to_vec());
                }
            }
            if cleaned.is_some() {
                self.report.messages_changed += 1;
            }
            let message = cleaned.as_deref().unwrap_or(text);
            let raw = objects::assemble(&headers, parsed.message.map(|_| message));
            let new = self.write(gix::objs::Kind::Tag, &raw, &id)?;
            self.report.tags_rewritten += 1;
            if signed {
                self.report.signatures_dropped.push(DroppedSignature {
                    kind: "tag",
                    old: id.to_string(),
                    new: new.to_string(),
                });
            }
            new
        };
        self.tag_map.insert(id, new);
        self.buf = data;
        Ok(new)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
