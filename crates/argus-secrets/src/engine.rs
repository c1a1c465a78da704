//! The compiled matcher and the plumbing shared by every input kind (git, files, readers).
//!
//! Hot path: [`Engine::scan_bytes`] runs once per unique blob. It (1) walks one Aho-Corasick DFA
//! over the blob to find every keyword occurrence (overlapping, ASCII case-insensitive; four
//! interleaved lanes, see `keyword_matches`), (2) runs only the regexes of the rules whose keyword
//! occurred — multi-line rules on the whole blob, single-line rules only on the lines holding
//! their keyword, (3) filters candidates (entropy, documentation placeholders for every rule and
//! broader placeholder words for rules that ask, validators, allowlists, inline `argus:allow`,
//! generic-rule shadowing: a generic match yields to a specific one and to an earlier generic one
//! on the same secret), (4) runs *pair rules* near the accepted matches of
//! their anchor rule ([`crate::rules::Requires`]: e.g. the AWS key id + secret key pair), and
//! (5) when base64 decoding is on ([`Engine::set_decode_base64`], the default), decodes base64
//! blocks of 32+ characters that turn out to be mostly printable and scans the decoded text with
//! steps 1–4, one level deep. Per-thread [`Scratch`] buffers are reused so the common no-match
//! case allocates nothing.
//!
//! Invariants:
//! - Every keyword occurrence is seen, whatever the lane boundaries (each lane starts one keyword
//!   length early and reports only matches ending in its own segment).
//! - A match's location is where the secret (or, for a pair rule, its anchor; for decoded text,
//!   the encoded block) starts; the secret hash and preview are always of the secret itself.
//! - Decoded findings never double-report: plain matches whose secret lies inside a block whose
//!   decoded text produced findings are dropped, and decoded text is never decoded again.
//!
//! Attribution ([`Collector`]) happens afterwards and only for matches: each match is paired with
//! every `(path, commit)` where its blob appears, grouped into one [`Finding`] per
//! `(rule, secret hash, path)`.

use crate::error::{Result, SecretsError};
use crate::finding::{fingerprint, preview, Confidence, Finding, Location, SecretValue};
use crate::rules::{AllowlistTarget, Rule, RuleSet, Validator};
use crate::suppress::Suppressions;
use crate::util;
use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind, StartKind};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
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
    /// Compiled on first use ([`CompiledRule::regex`]); `None` if compiling failed.
    regex: OnceLock<Option<Regex>>,
    group: usize,
    allow: CompiledAllowlist,
    path_only: Option<Regex>,
}

impl CompiledRule {
    /// The rule's regex, compiled on first use by whichever thread needs it first. The pattern
    /// parsed when the engine was built, so only a size limit can make this fail; such a rule
    /// matches nothing (and says so once in the log).
    fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| match build_rule_regex(&self.rule.pattern) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(rule = %self.rule.id, error = %e, "secret rule disabled: its regex does not compile");
                    None
                }
            })
            .as_ref()
    }
}

fn build_rule_regex(pattern: &str) -> std::result::Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(64 << 20)
        .dfa_size_limit(2 << 20)
        .build()
}

/// Parse a rule pattern (as `regex::bytes` would) without compiling it: the number of capture
/// groups including group 0, and the index of the group named `secret`, if any.
fn parse_captures(pattern: &str) -> std::result::Result<(usize, Option<usize>), String> {
    use regex_syntax::hir::{Hir, HirKind};
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    fn named(h: &Hir) -> Option<usize> {
        match h.kind() {
            HirKind::Capture(c) if c.name.as_deref() == Some("secret") => {
                usize::try_from(c.index).ok()
            }
            HirKind::Capture(c) => named(&c.sub),
            HirKind::Repetition(r) => named(&r.sub),
            HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().find_map(named),
            _ => None,
        }
    }
    Ok((hir.properties().explicit_captures_len() + 1, named(&hir)))
}

/// A pair rule resolved to rule indices (see [`crate::rules::Requires`]).
#[derive(Clone, Copy, Debug)]
struct Pair {
    rule: u32,
    anchor: u32,
    within: usize,
}

/// A compiled rule set. Cheap to share (`Arc<Engine>`); scanning takes `&self`.
pub struct Engine {
    rules: Vec<CompiledRule>,
    /// Aho-Corasick DFA over every keyword (ASCII case-insensitive, all overlapping matches).
    keywords: Option<DFA>,
    /// Rule indices per keyword pattern index.
    keyword_rules: Vec<Vec<u32>>,
    /// Rules without keywords: run on every blob.
    always: Vec<u32>,
    /// Pair rules: run only near accepted matches of their anchor rule.
    pairs: Vec<Pair>,
    global: CompiledAllowlist,
    /// Decode base64 blocks one level deep (see [`Engine::set_decode_base64`]).
    decode_base64: bool,
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
    /// Base64 blocks of the current blob.
    blocks: Vec<(usize, usize)>,
    /// Decoded base64 block.
    decoded: Vec<u8>,
}

/// A match that passed every filter, before line numbers are computed.
#[derive(Clone, Copy, Debug)]
struct Accepted {
    rule: u32,
    /// Span reported as the location (the anchor for a pair rule).
    at: (usize, usize),
    /// Span of the secret value.
    secret: (usize, usize),
}

/// One accepted match inside one blob (path-independent).
#[derive(Clone, Debug)]
pub(crate) struct RawMatch {
    pub rule: u32,
    /// Offset of the location (match start, pair anchor, or base64 block).
    pub start: usize,
    /// Byte span of the secret in the scanned blob (for decoded matches: the encoded block).
    pub span: (usize, usize),
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub sha256: String,
    pub preview: String,
    pub secret: Option<SecretValue>,
    /// `Some("base64")` when found inside a decoded block.
    pub encoding: Option<&'static str>,
    /// The value looks like a test or demo value ([`util::looks_like_test_value`]): the finding
    /// is reported with low confidence.
    pub test_value: bool,
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
        // Compiling ~700 regexes takes over a second (ten times that in a debug build), and a
        // scan only ever runs the few whose keywords occur: each rule's regex is compiled on
        // first use. Here the pattern is only parsed — that finds syntax errors and the capture
        // groups — which costs a small fraction of compiling it.
        for (i, rule) in set.rules().iter().enumerate() {
            let bad = |m: String| SecretsError::InvalidRule {
                id: rule.id.clone(),
                message: m,
            };
            let (captures_len, named) = parse_captures(&rule.pattern).map_err(bad)?;
            let group = match (rule.secret_group, named) {
                (Some(g), _) => {
                    if g >= captures_len {
                        return Err(bad(format!("secret_group {g} does not exist")));
                    }
                    g
                }
                (None, Some(named)) => named,
                (None, None) if captures_len > 1 => 1,
                (None, None) => 0,
            };
            let path_only = match &rule.path {
                Some(p) => Some(Regex::new(p).map_err(|e| bad(e.to_string()))?),
                None => None,
            };
            let idx = u32::try_from(i).map_err(|_| bad("too many rules".into()))?;
            // Pair rules have no prefilter of their own: they run only near their anchor.
            let keywords: &[String] = if rule.requires.is_some() {
                &[]
            } else {
                &rule.keywords
            };
            if keywords.is_empty() && rule.requires.is_none() {
                always.push(idx);
            }
            for kw in keywords {
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
                regex: OnceLock::new(),
                group,
                path_only,
            });
        }
        let mut pairs = Vec::new();
        for (i, rule) in set.rules().iter().enumerate() {
            let Some(req) = &rule.requires else { continue };
            let bad = |m: String| SecretsError::InvalidRule {
                id: rule.id.clone(),
                message: m,
            };
            let anchor = set
                .rules()
                .iter()
                .position(|r| r.id == req.rule)
                .ok_or_else(|| bad(format!("requires unknown rule {:?}", req.rule)))?;
            if anchor == i || set.rules()[anchor].requires.is_some() {
                return Err(bad(format!(
                    "requires {:?}, which is itself a pair rule",
                    req.rule
                )));
            }
            if req.within_bytes == 0 {
                return Err(bad("requires.within_bytes must be positive".into()));
            }
            pairs.push(Pair {
                rule: u32::try_from(i).map_err(|_| bad("too many rules".into()))?,
                anchor: u32::try_from(anchor).map_err(|_| bad("too many rules".into()))?,
                within: req.within_bytes,
            });
        }
        let keywords = if kw_patterns.is_empty() {
            None
        } else {
            Some(
                DFA::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .start_kind(StartKind::Unanchored)
                    // No start-state prefilter: with hundreds of keywords none applies, and
                    // without one only match states are "special" (one compare per byte).
                    .prefilter(false)
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
            pairs,
            global,
            decode_base64: true,
        })
    }

    /// Turn decoding of base64 blocks on or off (on by default). When on, every run of at least
    /// 32 base64 characters that decodes to mostly printable text is scanned
    /// again, decoded, one level deep; its findings carry `encoding: "base64"` and the location
    /// of the encoded block.
    pub fn set_decode_base64(&mut self, on: bool) {
        self.decode_base64 = on;
    }

    /// Whether base64 blocks are decoded and scanned (see [`Engine::set_decode_base64`]).
    pub fn decodes_base64(&self) -> bool {
        self.decode_base64
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
    /// `out`, sorted by location offset then rule: the plain-text matches and, when enabled, the
    /// matches found inside decoded base64 blocks (see [`Engine::scan_base64`]).
    pub(crate) fn scan_bytes(
        &self,
        data: &[u8],
        keep_secret: bool,
        scratch: &mut Scratch,
        out: &mut Vec<RawMatch>,
    ) -> MatchStats {
        let first = out.len();
        let mut stats = self.scan_plain(data, keep_secret, scratch, out);
        if self.decode_base64 {
            self.scan_base64(data, keep_secret, scratch, first, out, &mut stats);
        }
        stats
    }

    /// The rules over `data` as it is (no decoding).
    fn scan_plain(
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
        if let Some(dfa) = &self.keywords {
            // Every keyword occurrence (overlapping), in one pass: multi-line rules are
            // triggered for the whole blob, single-line rules remember where their keyword is.
            keyword_matches(dfa, data, |end, sid| {
                for k in 0..dfa.match_len(sid) {
                    let pid = dfa.match_pattern(sid, k);
                    let start = end - dfa.pattern_len(pid);
                    for &r in &self.keyword_rules[pid.as_usize()] {
                        if self.rules[r as usize].multiline {
                            let t = &mut scratch.triggered[r as usize];
                            if !*t {
                                *t = true;
                                scratch.list.push(r);
                            }
                        } else {
                            scratch.hits.push((r, start));
                        }
                    }
                }
            });
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
        // A generic match is dropped when a specific rule matched an overlapping secret, or when
        // an earlier generic rule (load order, for the same start) already reported an
        // overlapping one: several generic shapes (quoted, unquoted, env line) often describe the
        // same value, and it is one finding.
        let mut kept_generic: Vec<(usize, usize)> = Vec::new();
        let mut accepted: Vec<Accepted> = Vec::with_capacity(candidates.len());
        for (rule, start, end, generic) in candidates {
            let overlaps = |&(s, e): &(usize, usize)| s < end && start < e;
            if generic {
                if specific.iter().any(overlaps) || kept_generic.iter().any(overlaps) {
                    continue;
                }
                kept_generic.push((start, end));
            }
            accepted.push(Accepted {
                rule,
                at: (start, end),
                secret: (start, end),
            });
        }
        if !self.pairs.is_empty() {
            self.add_pairs(data, &mut accepted);
        }
        // Stable: plain matches keep their (offset, rule) order, pairs join at their anchor.
        accepted.sort_by_key(|a| (a.at.0, a.rule));
        for a in accepted {
            let (start, end) = a.at;
            let secret = &data[a.secret.0..a.secret.1];
            let line = 1 + memchr::memchr_iter(b'\n', &data[..start]).count();
            let line_start = memchr::memrchr(b'\n', &data[..start]).map_or(0, |p| p + 1);
            let end_line = line + memchr::memchr_iter(b'\n', &data[start..end]).count();
            let text = String::from_utf8_lossy(secret);
            out.push(RawMatch {
                rule: a.rule,
                start,
                span: a.secret,
                line: u32::try_from(line).unwrap_or(u32::MAX),
                column: u32::try_from(start - line_start + 1).unwrap_or(u32::MAX),
                end_line: u32::try_from(end_line).unwrap_or(u32::MAX),
                sha256: hex::encode(Sha256::digest(secret)),
                preview: preview(&text),
                secret: keep_secret.then(|| SecretValue::new(text.into_owned())),
                encoding: None,
                test_value: util::looks_like_test_value(secret),
            });
        }
        debug_assert!(out[first_new..]
            .windows(2)
            .all(|w| w[0].start <= w[1].start));
        stats
    }

    /// Pair rules: for each accepted anchor match, run the pair rule over the lines within its
    /// distance and keep the nearest partner (see [`crate::rules::Requires`]). The partner's own
    /// suppressions are not counted (its text is counted by the rules that report it alone), and
    /// a partner never shadows generic matches: pairing only adds findings.
    fn add_pairs(&self, data: &[u8], accepted: &mut Vec<Accepted>) {
        let n = accepted.len();
        let mut stats = MatchStats::default();
        let mut specific = Vec::new();
        let mut partners = Vec::new();
        for p in &self.pairs {
            for i in 0..n {
                let a = accepted[i];
                if a.rule != p.anchor {
                    continue;
                }
                let (s, e) = a.at;
                let (ws, _) = line_bounds(data, s.saturating_sub(p.within), s);
                let (_, we) = line_bounds(data, e, e.saturating_add(p.within).min(data.len()));
                partners.clear();
                self.run_rule(
                    p.rule,
                    data,
                    ws,
                    we,
                    &mut stats,
                    &mut specific,
                    &mut partners,
                );
                let nearest = partners
                    .iter()
                    .filter_map(|&(_, ps, pe, _)| {
                        let d = if ps >= e {
                            ps - e
                        } else if pe <= s {
                            s - pe
                        } else {
                            return None;
                        };
                        (d <= p.within).then_some((d, ps, pe))
                    })
                    .min_by_key(|c| c.0);
                if let Some((_, ps, pe)) = nearest {
                    accepted.push(Accepted {
                        rule: p.rule,
                        at: a.at,
                        secret: (ps, pe),
                    });
                }
            }
        }
    }

    /// Base64 decoding, one level deep: every block of at least [`BASE64_MIN_LEN`] base64
    /// characters (plus `=` padding) that decodes to mostly printable text is scanned with the
    /// rules (without further decoding). Matches get `encoding = "base64"` and the location of
    /// the block (its first byte, line and column). Not double-reported: when a block's decoded
    /// text holds findings, the plain matches whose secret lies inside the block (a generic
    /// `SECRET=<base64>` or a Kubernetes `data:` value: the same bytes, still encoded) are
    /// dropped. Blocks that are themselves tokens in base64 (session tokens, key material)
    /// decode to binary and are left alone. `out[first..]` are this blob's plain matches; the
    /// result is re-sorted by location.
    ///
    /// Cost: the block search samples one byte in [`BASE64_MIN_LEN`] and only looks around
    /// samples that are base64 characters, so ordinary text costs a fraction of a byte lookup per
    /// byte; decoding stops at the first few non-printable bytes.
    fn scan_base64(
        &self,
        data: &[u8],
        keep_secret: bool,
        scratch: &mut Scratch,
        first: usize,
        out: &mut Vec<RawMatch>,
        stats: &mut MatchStats,
    ) {
        let mut blocks = std::mem::take(&mut scratch.blocks);
        blocks.clear();
        find_base64_blocks(data, &mut blocks);
        if blocks.is_empty() {
            scratch.blocks = blocks;
            return;
        }
        let mut decoded = std::mem::take(&mut scratch.decoded);
        let mut found: Vec<RawMatch> = Vec::new();
        let mut explained: Vec<(usize, usize)> = Vec::new();
        let inside = |a: (usize, usize), b: (usize, usize)| b.0 <= a.0 && a.1 <= b.1;
        for &block in &blocks {
            if !decode_printable(&data[block.0..block.1], &mut decoded) {
                continue;
            }
            let before = found.len();
            let s = self.scan_plain(&decoded, keep_secret, scratch, &mut found);
            stats.inline += s.inline;
            stats.allowlist += s.allowlist;
            if found.len() == before {
                continue;
            }
            explained.push(block);
            let line = 1 + memchr::memchr_iter(b'\n', &data[..block.0]).count();
            let line_start = memchr::memrchr(b'\n', &data[..block.0]).map_or(0, |p| p + 1);
            for m in &mut found[before..] {
                m.start = block.0;
                m.span = block;
                m.line = u32::try_from(line).unwrap_or(u32::MAX);
                m.column = u32::try_from(block.0 - line_start + 1).unwrap_or(u32::MAX);
                m.end_line = m.line;
                m.encoding = Some("base64");
            }
        }
        if !explained.is_empty() {
            let mut i = 0usize;
            out.retain(|m| {
                i += 1;
                i - 1 < first || !explained.iter().any(|&b| inside(m.span, b))
            });
            out.append(&mut found);
            out[first..].sort_by_key(|m| (m.start, m.rule));
        }
        scratch.blocks = blocks;
        scratch.decoded = decoded;
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
        let Some(regex) = cr.regex() else { return };
        let hay = &data[..we];
        // Most windows (lines holding a keyword) hold no match: a match-or-not search runs on
        // the lazy DFA without allocating, where a capture search would set up capture slots.
        if !regex.is_match_at(hay, ws) {
            return;
        }
        let mut at = ws;
        while at <= we {
            let Some(caps) = regex.captures_at(hay, at) else {
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
            // Documentation values are the built-in allowlist of every rule (counted as such).
            let documented = util::is_doc_placeholder(secret, cr.rule.multiline);
            if documented {
                stats.allowlist += 1;
            }
            let placeholder =
                documented || (cr.rule.placeholder_check && util::is_placeholder(secret));
            let valid = !placeholder
                && match cr.rule.validate {
                    None => true,
                    Some(Validator::GithubCrc32) => util::github_crc32_ok(secret),
                    Some(Validator::Jwt) => util::jwt_ok(secret),
                    Some(Validator::Random) => util::looks_random(secret),
                };
            if !valid {
                // A specific rule that recognised the format and rejected the value (a `ghp_`
                // token whose checksum fails, a documented placeholder) also keeps generic rules
                // from reporting the same bytes as "some credential".
                if !cr.rule.generic {
                    specific.push((m.start(), m.end()));
                }
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

/// Call `on(end, state)` for every position where the keyword DFA is in a match state (`end` is
/// one past the last byte of the keywords ending there), in increasing order of `end`.
///
/// The DFA walk is a chain of dependent table loads, so one walk is bound by memory latency, not
/// by the CPU. Blobs of a few KiB and more are therefore cut into [`LANES`] segments walked in
/// lock step: the CPU overlaps the independent loads. Each lane starts `max keyword length - 1`
/// bytes before its segment (in the start state, which is exact for an unanchored automaton) and
/// reports only matches that end inside its segment, so every occurrence is reported exactly once
/// whatever the segment boundaries.
fn keyword_matches(dfa: &DFA, data: &[u8], mut on: impl FnMut(usize, StateID)) {
    // The lock-step loop below is written out for exactly four lanes.
    const LANES: usize = 4;
    let Ok(start) = dfa.start_state(Anchored::No) else {
        return;
    };
    let n = data.len();
    let back = dfa.max_pattern_len().saturating_sub(1);
    let seg = n.div_ceil(LANES);
    let walk = |from: usize,
                report: usize,
                to: usize,
                mut sid: StateID,
                on: &mut dyn FnMut(usize, StateID)| {
        for (i, &b) in data[from..to].iter().enumerate() {
            sid = dfa.next_state(Anchored::No, sid, b);
            if dfa.is_special(sid) && from + i >= report && dfa.is_match(sid) {
                on(from + i + 1, sid);
            }
        }
    };
    if n < 512 || seg <= back {
        walk(0, 0, n, start, &mut on);
        return;
    }
    // Lane k covers bytes [k*seg - back, (k+1)*seg) and reports from k*seg on.
    let begin = |k: usize| (k * seg).saturating_sub(if k == 0 { 0 } else { back });
    let end = |k: usize| ((k + 1) * seg).min(n);
    // Lock step over the length every lane has (lane 0 is the shortest: no look-back); the
    // matches of each lane are buffered so that `on` still sees them in order of `end`.
    let steps = (0..LANES).map(|k| end(k) - begin(k)).min().unwrap_or(0);
    let lane = |k: usize| &data[begin(k)..begin(k) + steps];
    let mut sid = [start; LANES];
    let mut found: [Vec<(usize, StateID)>; LANES] = Default::default();
    let (mut s0, mut s1, mut s2, mut s3) = (start, start, start, start);
    let bytes = lane(0).iter().zip(lane(1)).zip(lane(2)).zip(lane(3));
    for (j, (((&b0, &b1), &b2), &b3)) in bytes.enumerate() {
        s0 = dfa.next_state(Anchored::No, s0, b0);
        s1 = dfa.next_state(Anchored::No, s1, b1);
        s2 = dfa.next_state(Anchored::No, s2, b2);
        s3 = dfa.next_state(Anchored::No, s3, b3);
        // Without a prefilter only match states are special: one compare per lane, one branch.
        if dfa.is_special(s0) | dfa.is_special(s1) | dfa.is_special(s2) | dfa.is_special(s3) {
            for (k, s) in [s0, s1, s2, s3].into_iter().enumerate() {
                if dfa.is_match(s) && begin(k) + j >= k * seg {
                    found[k].push((begin(k) + j + 1, s));
                }
            }
        }
    }
    sid[0] = s0;
    sid[1] = s1;
    sid[2] = s2;
    sid[3] = s3;
    for k in 0..LANES {
        for &(e, s) in &found[k] {
            on(e, s);
        }
        let from = begin(k) + steps;
        walk(from, k * seg, end(k), sid[k], &mut |e, s| on(e, s));
    }
}

/// Shortest run of base64 characters treated as an encoded block (24 decoded bytes).
pub(crate) const BASE64_MIN_LEN: usize = 32;

/// Standard base64 alphabet: value + 1 per byte, 0 for bytes outside it.
const B64: [u8; 256] = {
    let mut t = [0u8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8 + 1;
        i += 1;
    }
    t
};

/// Runs of at least [`BASE64_MIN_LEN`] base64 characters, with up to two `=` after them.
///
/// Such a run covers three consecutive whole aligned 8-byte words, one of which has an index
/// divisible by 3, and at least one of that word's neighbours is whole base64 too. So only every
/// third word is classified (branch-free SWAR, [`all_base64`], after a 3-operation test for bytes
/// below `+`, which rejects most words of text); only a whole base64 word with a whole base64
/// neighbour is measured byte by byte. Ordinary text costs well under one operation per byte.
fn find_base64_blocks(data: &[u8], out: &mut Vec<(usize, usize)>) {
    const N: usize = BASE64_MIN_LEN;
    let is = |b: u8| B64[b as usize] != 0;
    let word = |w: usize| {
        data.get(w * 8..w * 8 + 8)
            .and_then(|c| <[u8; 8]>::try_from(c).ok())
            .map(u64::from_le_bytes)
    };
    let full = |w: usize| word(w).is_some_and(all_base64);
    let len = data.len();
    let words = len / 8;
    let mut resume = 0usize;
    let mut w = 0usize;
    while w < words {
        let Some(x) = word(w) else { break };
        if !all_base64(x) || !((w > 0 && full(w - 1)) || full(w + 1)) {
            w += 3;
            continue;
        }
        let at = w * 8;
        let mut s = at;
        while s > resume && is(data[s - 1]) {
            s -= 1;
        }
        let mut e = at + 8;
        while e < len && is(data[e]) {
            e += 1;
        }
        if e - s >= N {
            let mut pe = e;
            while pe < len && pe - e < 2 && data[pe] == b'=' {
                pe += 1;
            }
            out.push((s, pe));
        }
        resume = e;
        // Next word index divisible by 3 that starts at or after `e`.
        w = e.div_ceil(8).div_ceil(3) * 3;
    }
}

/// True when all 8 bytes of `x` are in the standard base64 alphabet (`A-Z a-z 0-9 + /`).
///
/// Per byte, with the high bit as the flag: `(v + (0x80 - lo))` has it set iff `v >= lo` and
/// `(v + (0x7f - hi))` iff `v > hi`, for 7-bit `v` (no carry crosses a byte); letters are tested
/// case-folded (`| 0x20` maps only `A-Z` into `a-z`); non-ASCII bytes are never base64.
fn all_base64(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Any byte below `+` (spaces, newlines, quotes, brackets...): not base64. Exact for ASCII
    // bytes; a non-ASCII byte may set a flag here too, and it is not base64 either.
    if x.wrapping_sub(0x2b * ONES) & !x & HIGH != 0 {
        return false;
    }
    let y = x & !HIGH;
    let range = |v: u64, lo: u64, hi: u64| (v + (0x80 - lo) * ONES) & !(v + (0x7f - hi) * ONES);
    let letters = range(y | (0x20 * ONES), 0x61, 0x7a);
    let digits = range(y, 0x30, 0x39);
    let plus = range(y, 0x2b, 0x2b);
    let slash = range(y, 0x2f, 0x2f);
    (letters | digits | plus | slash) & !x & HIGH == HIGH
}

/// Decode a base64 block into `out`; true when it is valid and at least 90 % of the decoded bytes
/// are printable ASCII or whitespace. Stops early once that cannot hold.
fn decode_printable(block: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut body = block;
    while let [rest @ .., b'='] = body {
        body = rest;
    }
    if body.len() % 4 == 1 {
        return false;
    }
    let printable = |b: u8| (0x20..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r');
    let mut bad = 0usize;
    for chunk in body.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = B64[c as usize];
            if v == 0 {
                return false;
            }
            acc |= u32::from(v - 1) << (18 - 6 * i);
        }
        for k in 0..chunk.len() - 1 {
            let b = (acc >> (16 - 8 * k)) as u8;
            if !printable(b) {
                bad += 1;
                if bad > 2 + out.len() / 10 {
                    return false;
                }
            }
            out.push(b);
        }
    }
    bad * 10 <= out.len()
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
                        confidence: if m.test_value {
                            Confidence::Low
                        } else {
                            rule.confidence
                        },
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
            encoding: m.encoding.map(str::to_string),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The lane-parallel keyword walk reports exactly the overlapping matches of a plain
    /// Aho-Corasick search, including matches that straddle lane boundaries.
    #[test]
    fn keyword_lanes_find_every_overlapping_match() {
        let kws = [
            "token",
            "ken",
            "secret",
            "AKIA",
            "begin rsa private key",
            "q~",
        ];
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(kws)
            .unwrap();
        let reference = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(kws)
            .unwrap();
        // Keywords everywhere, in particular around every possible lane boundary.
        let mut data = Vec::new();
        let mut x = 12345u32;
        while data.len() < 50_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            match x % 7 {
                0 => data.extend_from_slice(kws[(x as usize >> 8) % kws.len()].as_bytes()),
                1 => data.extend_from_slice(b"ToKeN"),
                _ => data.push(b"abcdefghijklmnopqrstuvwxyz \n~"[(x as usize >> 4) % 29]),
            }
        }
        for len in [
            0,
            1,
            511,
            512,
            513,
            4095,
            4096,
            4097,
            10_001,
            20_000,
            data.len(),
        ] {
            let hay = &data[..len];
            let mut ours = Vec::new();
            keyword_matches(&dfa, hay, |end, sid| {
                for k in 0..dfa.match_len(sid) {
                    ours.push((dfa.match_pattern(sid, k).as_usize(), end));
                }
            });
            let mut want: Vec<(usize, usize)> = reference
                .find_overlapping_iter(hay)
                .map(|m| (m.pattern().as_usize(), m.end()))
                .collect();
            ours.sort_unstable();
            want.sort_unstable();
            assert_eq!(ours, want, "len {len}");
        }
    }

    #[test]
    fn base64_word_classification_and_runs_match_a_byte_by_byte_reference() {
        for b in 0..=255u8 {
            let word = u64::from_le_bytes([b'A', b'z', b'0', b, b'+', b'/', b'9', b'q']);
            assert_eq!(all_base64(word), B64[b as usize] != 0, "byte {b:#x}");
        }
        // Random text with runs of every length, against a plain run-length scan.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut data = Vec::new();
        let mut x = 7u32;
        while data.len() < 100_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let run = (x >> 8) as usize % 70;
            for k in 0..run {
                data.push(alphabet[(k * 7 + (x as usize >> 3)) % 64]);
            }
            data.push(b"= .\n_-="[(x >> 20) as usize % 7]);
        }
        let mut got = Vec::new();
        find_base64_blocks(&data, &mut got);
        let mut want = Vec::new();
        let mut i = 0;
        while i < data.len() {
            if B64[data[i] as usize] == 0 {
                i += 1;
                continue;
            }
            let s = i;
            while i < data.len() && B64[data[i] as usize] != 0 {
                i += 1;
            }
            if i - s >= BASE64_MIN_LEN {
                let mut pe = i;
                while pe < data.len() && pe - i < 2 && data[pe] == b'=' {
                    pe += 1;
                }
                want.push((s, pe));
            }
        }
        assert!(want.len() > 100);
        assert_eq!(got, want);
    }

    #[test]
    fn base64_blocks_and_printable_decoding() {
        let text = b"x = \"Z2hwX3Rva2VuX3ZhbHVlX2hlcmVfMTIzNDU2Nzg5MA==\" short aGVsbG8= end";
        let mut blocks = Vec::new();
        find_base64_blocks(text, &mut blocks);
        assert_eq!(blocks.len(), 1);
        let (s, e) = blocks[0];
        assert_eq!(&text[s..e], b"Z2hwX3Rva2VuX3ZhbHVlX2hlcmVfMTIzNDU2Nzg5MA==");
        let mut out = Vec::new();
        assert!(decode_printable(&text[s..e], &mut out));
        assert_eq!(out, b"ghp_token_value_here_1234567890");
        // Binary content and invalid lengths are refused.
        assert!(!decode_printable(
            b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            &mut out
        ));
        assert!(!decode_printable(
            b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZ",
            &mut out
        ));
        // Runs at the very start and end of the data are found.
        let edge = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk";
        blocks.clear();
        find_base64_blocks(edge, &mut blocks);
        assert_eq!(blocks, vec![(0, edge.len())]);
    }
}
