//! The compiled matcher and the plumbing shared by every input kind (git, files, readers).
//!
//! Hot path: [`Engine::scan_bytes`] runs once per unique blob. It (1) runs one Aho-Corasick
//! automaton over the blob to learn which rule keywords occur, (2) runs only the regexes of those
//! rules, (3) filters candidates (entropy, placeholders, validators, allowlists, inline
//! `argus:allow`), and (4) records byte offsets and line numbers. Per-thread [`Scratch`] buffers are
//! reused so the common no-match case allocates nothing.
//!
//! Attribution ([`Collector`]) happens afterwards and only for matches: each match is paired with
//! every `(path, commit)` where its blob appears, grouped into one [`Finding`] per
//! `(rule, secret hash, path)`.

use crate::error::{Result, SecretsError};
use crate::finding::{fingerprint, preview, Finding, Location, SecretValue};
use crate::rules::{AllowlistTarget, Rule, RuleSet, Validator};
use crate::suppress::Suppressions;
use crate::util;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Why a blob or file was not scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// Contains NUL bytes in its first 8 KiB (and binary scanning is off).
    Binary,
    /// Average line length above 2,000 bytes: minified or generated code.
    Minified,
    /// Larger than [`ScanPolicy::max_blob_size`].
    TooLarge,
    /// Could not be read (missing object, I/O error).
    Unreadable,
}

impl SkipReason {
    /// Key used in the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Binary => "binary",
            SkipReason::Minified => "minified",
            SkipReason::TooLarge => "too_large",
            SkipReason::Unreadable => "unreadable",
        }
    }
}

/// What to scan and what to keep; shared by every input kind.
#[derive(Clone, Debug)]
pub struct ScanPolicy {
    /// Blobs larger than this are skipped (counted as `too_large`). Default 32 MiB.
    pub max_blob_size: u64,
    /// Scan blobs that look binary (NUL bytes). Default false.
    pub scan_binary: bool,
    /// Skip minified/generated text (very long average lines). Default true.
    pub skip_minified: bool,
    /// Keep full secret values in [`Finding::secret`] (direct mode `--show-secrets` only).
    pub keep_secret_values: bool,
    /// Fingerprints to drop (ignore file) and previous findings (baseline).
    pub suppressions: Suppressions,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
}

impl Default for ScanPolicy {
    fn default() -> Self {
        ScanPolicy {
            max_blob_size: 32 * 1024 * 1024,
            scan_binary: false,
            skip_minified: true,
            keep_secret_values: false,
            suppressions: Suppressions::default(),
            threads: 0,
        }
    }
}

/// Live counters a caller can poll (progress bars, platform progress events).
#[derive(Debug, Default)]
pub struct ScanProgress {
    /// Commits walked so far (git).
    pub commits: AtomicU64,
    /// Blobs or files to scan, once known.
    pub blobs_total: AtomicU64,
    /// Blobs or files done (scanned or skipped).
    pub blobs_done: AtomicU64,
    /// Bytes scanned.
    pub bytes_done: AtomicU64,
}

/// Cancellation flag and progress counters for one scan.
#[derive(Clone, Debug, Default)]
pub struct ScanControl {
    /// Set to true to stop the scan; it returns [`SecretsError::Cancelled`] shortly after.
    pub cancel: Arc<AtomicBool>,
    /// Progress counters updated by the scan.
    pub progress: Arc<ScanProgress>,
}

impl ScanControl {
    /// A fresh control (not cancelled, zero progress).
    pub fn new() -> Self {
        ScanControl::default()
    }
    /// Control sharing an existing cancellation flag.
    pub fn with_cancel(cancel: Arc<AtomicBool>) -> Self {
        ScanControl {
            cancel,
            progress: Arc::default(),
        }
    }
    pub(crate) fn check(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(SecretsError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// What a scan did.
#[derive(Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ScanSummary {
    /// Commits walked (git only).
    pub commits_scanned: u64,
    /// Unique blobs (or files) scanned.
    pub blobs_scanned: u64,
    /// Bytes of blob content scanned.
    pub bytes_scanned: u64,
    /// Blobs skipped, by reason (`binary`, `minified`, `too_large`, `unreadable`).
    pub blobs_skipped: BTreeMap<String, u64>,
    /// Bytes of skipped blobs (when known).
    pub bytes_skipped: u64,
    /// Findings reported (after suppression).
    pub findings: u64,
    /// Findings reported, by rule id.
    pub findings_by_rule: BTreeMap<String, u64>,
    /// Matches or findings suppressed, by mechanism (`inline`, `allowlist`, `ignore_file`,
    /// `baseline`).
    pub suppressed: BTreeMap<String, u64>,
    /// Wall time in seconds.
    pub elapsed_secs: f64,
    /// Scanned MiB per second of wall time.
    pub mib_per_sec: f64,
    /// Wall time per phase in seconds (`walk`, `diff`, `scan`, `attribute`), for benchmarks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub phase_secs: BTreeMap<String, f64>,
}

impl ScanSummary {
    pub(crate) fn skip(&mut self, reason: SkipReason, bytes: u64) {
        *self
            .blobs_skipped
            .entry(reason.as_str().to_string())
            .or_default() += 1;
        self.bytes_skipped += bytes;
    }
    pub(crate) fn suppress(&mut self, how: &str, n: u64) {
        if n > 0 {
            *self.suppressed.entry(how.to_string()).or_default() += n;
        }
    }
    pub(crate) fn phase(&mut self, name: &str, since: Instant) -> Instant {
        let now = Instant::now();
        self.phase_secs
            .insert(name.to_string(), (now - since).as_secs_f64());
        now
    }
    pub(crate) fn finish_timing(&mut self, start: Instant) {
        self.elapsed_secs = start.elapsed().as_secs_f64();
        self.mib_per_sec = if self.elapsed_secs > 0.0 {
            self.bytes_scanned as f64 / (1024.0 * 1024.0) / self.elapsed_secs
        } else {
            0.0
        };
    }
}

struct CompiledAllowlist {
    regexes: Option<RegexSet>,
    target: AllowlistTarget,
    stopwords: Vec<Vec<u8>>,
    paths: Option<RegexSet>,
}

impl CompiledAllowlist {
    fn new(id: &str, a: &crate::rules::Allowlist) -> Result<Self> {
        let set = |pats: &[String]| -> Result<Option<RegexSet>> {
            if pats.is_empty() {
                return Ok(None);
            }
            RegexSetBuilder::new(pats)
                .size_limit(64 << 20)
                .build()
                .map(Some)
                .map_err(|e| SecretsError::InvalidRule {
                    id: id.to_string(),
                    message: e.to_string(),
                })
        };
        Ok(CompiledAllowlist {
            regexes: set(&a.regexes)?,
            target: a.regex_target,
            stopwords: a
                .stopwords
                .iter()
                .map(|s| s.to_ascii_lowercase().into_bytes())
                .collect(),
            paths: set(&a.paths)?,
        })
    }

    fn allows(&self, secret: &[u8], whole: &[u8], line: &[u8]) -> bool {
        if let Some(set) = &self.regexes {
            let hay = match self.target {
                AllowlistTarget::Secret => secret,
                AllowlistTarget::Match => whole,
                AllowlistTarget::Line => line,
            };
            if set.is_match(hay) {
                return true;
            }
        }
        if !self.stopwords.is_empty() {
            let lower = secret.to_ascii_lowercase();
            if self
                .stopwords
                .iter()
                .any(|w| memchr::memmem::find(&lower, w).is_some())
            {
                return true;
            }
        }
        false
    }

    fn allows_path(&self, path: &str) -> bool {
        self.paths
            .as_ref()
            .is_some_and(|p| p.is_match(path.as_bytes()))
    }
}

struct CompiledRule {
    rule: Rule,
    /// Runs on the whole blob; otherwise only on the lines where one of its keywords occurs.
    multiline: bool,
    regex: Regex,
    group: usize,
    allow: CompiledAllowlist,
    path_only: Option<Regex>,
}

/// A compiled rule set. Cheap to share (`Arc<Engine>`); scanning takes `&self`.
pub struct Engine {
    rules: Vec<CompiledRule>,
    keywords: Option<AhoCorasick>,
    /// Rule indices per keyword pattern index.
    keyword_rules: Vec<Vec<u32>>,
    /// Rules without keywords: run on every blob.
    always: Vec<u32>,
    global: CompiledAllowlist,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// Per-thread reusable buffers for [`Engine::scan_bytes`].
#[derive(Default)]
pub(crate) struct Scratch {
    triggered: Vec<bool>,
    list: Vec<u32>,
    /// (rule, keyword offset) for single-line rules.
    hits: Vec<(u32, usize)>,
    /// Byte ranges to run one rule's regex on.
    windows: Vec<(usize, usize)>,
}

/// One accepted match inside one blob (path-independent).
#[derive(Clone, Debug)]
pub(crate) struct RawMatch {
    pub rule: u32,
    pub start: usize,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub sha256: String,
    pub preview: String,
    pub secret: Option<SecretValue>,
}

/// Counters from one blob scan.
#[derive(Default, Clone, Copy)]
pub(crate) struct MatchStats {
    pub inline: u64,
    pub allowlist: u64,
}

impl Engine {
    /// Compile a rule set. Fails on an invalid regex or allowlist entry.
    pub fn new(set: RuleSet) -> Result<Self> {
        let global = CompiledAllowlist::new("<global allowlist>", set.allowlist())?;
        let mut rules = Vec::with_capacity(set.len());
        let mut kw_index: HashMap<String, usize> = HashMap::new();
        let mut kw_patterns: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::new();
        for (i, rule) in set.rules().iter().enumerate() {
            let bad = |m: String| SecretsError::InvalidRule {
                id: rule.id.clone(),
                message: m,
            };
            let regex = RegexBuilder::new(&rule.pattern)
                .size_limit(64 << 20)
                .dfa_size_limit(16 << 20)
                .build()
                .map_err(|e| bad(e.to_string()))?;
            let group = match (
                rule.secret_group,
                regex.capture_names().position(|n| n == Some("secret")),
            ) {
                (Some(g), _) => {
                    if g >= regex.captures_len() {
                        return Err(bad(format!("secret_group {g} does not exist")));
                    }
                    g
                }
                (None, Some(named)) => named,
                (None, None) if regex.captures_len() > 1 => 1,
                (None, None) => 0,
            };
            let path_only = match &rule.path {
                Some(p) => Some(Regex::new(p).map_err(|e| bad(e.to_string()))?),
                None => None,
            };
            let idx = u32::try_from(i).map_err(|_| bad("too many rules".into()))?;
            if rule.keywords.is_empty() {
                always.push(idx);
            }
            for kw in &rule.keywords {
                let kw = kw.to_ascii_lowercase();
                if kw.is_empty() {
                    return Err(bad("empty keyword".into()));
                }
                let k = *kw_index.entry(kw.clone()).or_insert_with(|| {
                    kw_patterns.push(kw);
                    keyword_rules.push(Vec::new());
                    kw_patterns.len() - 1
                });
                if !keyword_rules[k].contains(&idx) {
                    keyword_rules[k].push(idx);
                }
            }
            rules.push(CompiledRule {
                multiline: rule.multiline || rule.keywords.is_empty(),
                allow: CompiledAllowlist::new(&rule.id, &rule.allowlist)?,
                rule: rule.clone(),
                regex,
                group,
                path_only,
            });
        }
        let keywords = if kw_patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    // A full DFA: ~250 short keywords stay small (a few MB) and it is the
                    // fastest Aho-Corasick variant, which matters as it runs over every byte.
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&kw_patterns)
                    .map_err(|e| SecretsError::InvalidRule {
                        id: "<keywords>".into(),
                        message: e.to_string(),
                    })?,
            )
        };
        Ok(Engine {
            rules,
            keywords,
            keyword_rules,
            always,
            global,
        })
    }

    /// Engine with the built-in rules.
    pub fn builtin() -> Result<Self> {
        Engine::new(RuleSet::builtin()?)
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|r| &r.rule)
    }

    pub(crate) fn rule(&self, idx: u32) -> &Rule {
        &self.rules[idx as usize].rule
    }

    /// Decide whether a blob is scanned at all.
    pub(crate) fn classify(&self, data: &[u8], policy: &ScanPolicy) -> Option<SkipReason> {
        if data.len() as u64 > policy.max_blob_size {
            return Some(SkipReason::TooLarge);
        }
        let head = &data[..data.len().min(8000)];
        if !policy.scan_binary && memchr::memchr(0, head).is_some() {
            return Some(SkipReason::Binary);
        }
        if policy.skip_minified && data.len() > 16 * 1024 {
            // Judge on the first 64 KiB so the check stays O(1) for huge blobs.
            let probe = &data[..data.len().min(64 * 1024)];
            let lines = memchr::memchr_iter(b'\n', probe).count() + 1;
            if probe.len() / lines > 2000 {
                return Some(SkipReason::Minified);
            }
        }
        None
    }

    /// Scan raw bytes (caller already applied [`Engine::classify`]). Appends accepted matches to
    /// `out`, sorted by offset then rule.
    pub(crate) fn scan_bytes(
        &self,
        data: &[u8],
        keep_secret: bool,
        scratch: &mut Scratch,
        out: &mut Vec<RawMatch>,
    ) -> MatchStats {
        let mut stats = MatchStats::default();
        scratch.triggered.clear();
        scratch.triggered.resize(self.rules.len(), false);
        scratch.list.clear();
        scratch.hits.clear();
        if let Some(ac) = &self.keywords {
            // Two passes: a fast non-overlapping search finds the lines holding any keyword, then
            // an overlapping search over just those lines finds every keyword on them. This is
            // exact: keywords hold no newline, so a keyword hidden by an overlapping match lies on
            // that match's line, which the second pass covers.
            let mut line_end = 0usize;
            for m in ac.find_iter(data) {
                if m.start() < line_end {
                    continue;
                }
                let ls = memchr::memrchr(b'\n', &data[..m.start()]).map_or(0, |p| p + 1);
                let le =
                    memchr::memchr(b'\n', &data[m.start()..]).map_or(data.len(), |p| m.start() + p);
                line_end = le;
                for om in ac.find_overlapping_iter(&data[ls..le]) {
                    for &r in &self.keyword_rules[om.pattern().as_usize()] {
                        if self.rules[r as usize].multiline {
                            let t = &mut scratch.triggered[r as usize];
                            if !*t {
                                *t = true;
                                scratch.list.push(r);
                            }
                        } else {
                            scratch.hits.push((r, ls + om.start()));
                        }
                    }
                }
            }
        }
        scratch.list.extend_from_slice(&self.always);
        if scratch.list.is_empty() && scratch.hits.is_empty() {
            return stats;
        }
        scratch.list.sort_unstable();
        scratch.hits.sort_unstable();
        let first_new = out.len();
        // Spans of specific (non-generic) matches, to drop generic duplicates.
        let mut specific: Vec<(usize, usize)> = Vec::new();
        let mut candidates: Vec<(u32, usize, usize, bool)> = Vec::new();
        // Multi-line rules: whole blob.
        for &ri in &scratch.list {
            self.run_rule(
                ri,
                data,
                0,
                data.len(),
                &mut stats,
                &mut specific,
                &mut candidates,
            );
        }
        // Single-line rules: only the lines holding one of their keywords. A keyword is (part of)
        // what the rule matches, so a match can only be on such a line; this turns common
        // keywords (`token`, `https://`) from a full-blob regex pass into a few short ones.
        let mut i = 0;
        while i < scratch.hits.len() {
            let ri = scratch.hits[i].0;
            scratch.windows.clear();
            while i < scratch.hits.len() && scratch.hits[i].0 == ri {
                let pos = scratch.hits[i].1;
                i += 1;
                if scratch.windows.last().is_some_and(|w| pos < w.1) {
                    continue;
                }
                let ls = memchr::memrchr(b'\n', &data[..pos]).map_or(0, |p| p + 1);
                let le = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |p| pos + p);
                match scratch.windows.last_mut() {
                    Some(w) if ls <= w.1 => w.1 = le,
                    _ => scratch.windows.push((ls, le)),
                }
            }
            for &(ws, we) in &scratch.windows {
                self.run_rule(ri, data, ws, we, &mut stats, &mut specific, &mut candidates);
            }
        }
        candidates.sort_by_key(|c| (c.1, c.0));
        candidates.dedup_by_key(|c| (c.0, c.1, c.2));
        for (ri, start, end, generic) in candidates {
            if generic && specific.iter().any(|&(s, e)| s < end && start < e) {
                continue;
            }
            let secret = &data[start..end];
            let line = 1 + memchr::memchr_iter(b'\n', &data[..start]).count();
            let line_start = memchr::memrchr(b'\n', &data[..start]).map_or(0, |p| p + 1);
            let end_line = line + memchr::memchr_iter(b'\n', secret).count();
            let text = String::from_utf8_lossy(secret);
            out.push(RawMatch {
                rule: ri,
                start,
                line: u32::try_from(line).unwrap_or(u32::MAX),
                column: u32::try_from(start - line_start + 1).unwrap_or(u32::MAX),
                end_line: u32::try_from(end_line).unwrap_or(u32::MAX),
                sha256: hex::encode(Sha256::digest(secret)),
                preview: preview(&text),
                secret: keep_secret.then(|| SecretValue::new(text.into_owned())),
            });
        }
        debug_assert!(out[first_new..]
            .windows(2)
            .all(|w| w[0].start <= w[1].start));
        stats
    }

    /// Run rule `ri` on `data[ws..we]`, filtering candidates; offsets are relative to `data`.
    #[allow(clippy::too_many_arguments)]
    fn run_rule(
        &self,
        ri: u32,
        data: &[u8],
        ws: usize,
        we: usize,
        stats: &mut MatchStats,
        specific: &mut Vec<(usize, usize)>,
        candidates: &mut Vec<(u32, usize, usize, bool)>,
    ) {
        let cr = &self.rules[ri as usize];
        let hay = &data[..we];
        let mut at = ws;
        while at <= we {
            let Some(caps) = cr.regex.captures_at(hay, at) else {
                break;
            };
            let Some(whole) = caps.get(0) else { break };
            at = if whole.end() > whole.start() {
                whole.end()
            } else {
                whole.end() + 1
            };
            let m = caps.get(cr.group).unwrap_or(whole);
            let secret = m.as_bytes();
            if secret.is_empty() {
                continue;
            }
            if let Some(min) = cr.rule.entropy {
                if util::shannon_entropy(secret) < min {
                    continue;
                }
            }
            if cr.rule.placeholder_check && util::is_placeholder(secret) {
                continue;
            }
            let valid = match cr.rule.validate {
                None => true,
                Some(Validator::GithubCrc32) => util::github_crc32_ok(secret),
                Some(Validator::Jwt) => util::jwt_ok(secret),
            };
            if !valid {
                continue;
            }
            let (ls, le) = line_bounds(data, whole.start(), whole.end());
            let line_text = &data[ls..le];
            if cr.allow.allows(secret, whole.as_bytes(), line_text)
                || self.global.allows(secret, whole.as_bytes(), line_text)
            {
                stats.allowlist += 1;
                continue;
            }
            if memchr::memmem::find(line_text, b"argus:allow").is_some()
                || memchr::memmem::find(line_text, b"gitleaks:allow").is_some()
            {
                stats.inline += 1;
                continue;
            }
            if !cr.rule.generic {
                specific.push((m.start(), m.end()));
            }
            candidates.push((ri, m.start(), m.end(), cr.rule.generic));
        }
    }

    /// Test helper for rule examples: ids of the rules that report something in `text`.
    pub fn matching_rule_ids(&self, text: &str) -> Vec<String> {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        self.scan_bytes(text.as_bytes(), false, &mut scratch, &mut out);
        let mut ids: Vec<String> = out.iter().map(|m| self.rule(m.rule).id.clone()).collect();
        ids.dedup();
        ids
    }

    /// True when `path` is excluded for rule `idx` (global or rule path allowlist, or the rule's
    /// path filter does not match).
    pub(crate) fn path_suppressed(&self, idx: u32, path: &str) -> bool {
        let cr = &self.rules[idx as usize];
        if self.global.allows_path(path) || cr.allow.allows_path(path) {
            return true;
        }
        cr.path_only
            .as_ref()
            .is_some_and(|re| !re.is_match(path.as_bytes()))
    }
}

/// Start and end of the line(s) containing `[start, end)`.
fn line_bounds(data: &[u8], start: usize, end: usize) -> (usize, usize) {
    let ls = memchr::memrchr(b'\n', &data[..start]).map_or(0, |p| p + 1);
    let le = memchr::memchr(b'\n', &data[end..]).map_or(data.len(), |p| end + p);
    (ls, le)
}

/// Commit metadata attached to a location.
#[derive(Clone, Debug)]
pub(crate) struct CommitMeta {
    pub id: String,
    pub author: String,
    pub email: String,
    pub time: i64,
}

struct Pending {
    finding: Finding,
    /// (commit time, insertion order) per location, for a stable oldest-first sort.
    keys: Vec<(i64, u64)>,
}

/// Groups matches into findings by `(rule, secret hash, path)`.
pub(crate) struct Collector<'e> {
    engine: &'e Engine,
    index: HashMap<(u32, String, String), usize>,
    pending: Vec<Pending>,
    seq: u64,
    pub suppressed_allowlist: u64,
}

impl<'e> Collector<'e> {
    pub(crate) fn new(engine: &'e Engine) -> Self {
        Collector {
            engine,
            index: HashMap::new(),
            pending: Vec::new(),
            seq: 0,
            suppressed_allowlist: 0,
        }
    }

    /// Record that match `m` occurs at `path` (in `commit`, inside `blob`).
    pub(crate) fn add(
        &mut self,
        m: &RawMatch,
        path: &str,
        commit: Option<&CommitMeta>,
        blob: Option<&str>,
    ) {
        if self.engine.path_suppressed(m.rule, path) {
            self.suppressed_allowlist += 1;
            return;
        }
        let rule = self.engine.rule(m.rule);
        let key = (m.rule, m.sha256.clone(), path.to_string());
        let idx = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.pending.push(Pending {
                    finding: Finding {
                        rule_id: rule.id.clone(),
                        rule_name: rule.name.clone(),
                        severity: rule.severity,
                        confidence: rule.confidence,
                        fingerprint: fingerprint(&rule.id, &m.sha256, path),
                        preview: m.preview.clone(),
                        sha256: m.sha256.clone(),
                        locations: Vec::new(),
                        tags: rule.tags.clone(),
                        secret: m.secret.clone(),
                    },
                    keys: Vec::new(),
                });
                self.index.insert(key, self.pending.len() - 1);
                self.pending.len() - 1
            }
        };
        let p = &mut self.pending[idx];
        let loc = Location {
            path: path.to_string(),
            line: m.line,
            column: m.column,
            end_line: m.end_line,
            commit: commit.map(|c| c.id.clone()),
            author: commit.map(|c| c.author.clone()),
            email: commit.map(|c| c.email.clone()),
            date: commit.map(|c| util::rfc3339(c.time)),
            blob: blob.map(str::to_string),
        };
        if p.finding.locations.contains(&loc) {
            return;
        }
        p.finding.locations.push(loc);
        p.keys.push((commit.map_or(0, |c| c.time), self.seq));
        self.seq += 1;
    }

    /// Sort, apply fingerprint suppressions, count, and hand findings to `sink` in a deterministic
    /// order: by introduction time, then path, line and rule.
    pub(crate) fn finish(
        self,
        suppressions: &Suppressions,
        summary: &mut ScanSummary,
        sink: &mut dyn FnMut(Finding),
    ) {
        summary.suppress("allowlist", self.suppressed_allowlist);
        let mut items: Vec<(i64, Finding)> = self
            .pending
            .into_iter()
            .map(|mut p| {
                let mut zipped: Vec<((i64, u64), Location)> =
                    p.keys.into_iter().zip(p.finding.locations).collect();
                zipped.sort_by_key(|z| z.0);
                let first = zipped.first().map_or(0, |z| z.0 .0);
                p.finding.locations = zipped.into_iter().map(|z| z.1).collect();
                (first, p.finding)
            })
            .collect();
        items.sort_by(|a, b| {
            let (la, lb) = (a.1.primary(), b.1.primary());
            a.0.cmp(&b.0)
                .then_with(|| la.map(|l| &l.path).cmp(&lb.map(|l| &l.path)))
                .then_with(|| la.map(|l| l.line).cmp(&lb.map(|l| l.line)))
                .then_with(|| la.map(|l| l.column).cmp(&lb.map(|l| l.column)))
                .then_with(|| a.1.rule_id.cmp(&b.1.rule_id))
        });
        for (_, f) in items {
            if let Some(how) = suppressions.suppressed_by(&f.fingerprint) {
                summary.suppress(how, 1);
                continue;
            }
            summary.findings += 1;
            *summary
                .findings_by_rule
                .entry(f.rule_id.clone())
                .or_default() += 1;
            sink(f);
        }
    }
}
