//! Rules as data.
//!
//! A rule file is TOML with `[[rule]]` tables (see `rules/*.toml` for the built-in set and
//! `README.md` for the format) and an optional global `[allowlist]`. The built-in files are compiled
//! into the binary with `include_str!`, so the engine never depends on files at run time.
//!
//! Invariant: a [`RuleSet`] only holds rules with unique ids; loading a rule whose id already exists
//! replaces the earlier one (so a user rule folder can override a built-in rule).

use crate::error::{Result, SecretsError};
use crate::finding::{Confidence, Severity};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Built-in rule files, by category.
const BUILTIN: &[(&str, &str)] = &[
    ("cloud.toml", include_str!("../rules/cloud.toml")),
    ("infra.toml", include_str!("../rules/infra.toml")),
    ("code-hosts.toml", include_str!("../rules/code-hosts.toml")),
    ("ci.toml", include_str!("../rules/ci.toml")),
    ("registries.toml", include_str!("../rules/registries.toml")),
    ("comms.toml", include_str!("../rules/comms.toml")),
    ("payments.toml", include_str!("../rules/payments.toml")),
    ("business.toml", include_str!("../rules/business.toml")),
    ("saas.toml", include_str!("../rules/saas.toml")),
    ("ai.toml", include_str!("../rules/ai.toml")),
    ("identity.toml", include_str!("../rules/identity.toml")),
    ("keys.toml", include_str!("../rules/keys.toml")),
    (
        "config-files.toml",
        include_str!("../rules/config-files.toml"),
    ),
    ("generic.toml", include_str!("../rules/generic.toml")),
];

/// Extra check on a candidate secret beyond its regex; cuts false positives where a token format
/// carries structure that can be verified offline.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Validator {
    /// GitHub-style token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `npm_`): the last 6 base62
    /// characters are the CRC32 of the 30 preceding random characters.
    GithubCrc32,
    /// JSON Web Token: the header must be base64url JSON with an `alg` member.
    Jwt,
    /// Machine-generated look, for generic rules: 12+ characters, letters and digits, and a
    /// change of character class (upper, lower, digit, other) at least every six characters, so
    /// identifiers and words (`SecretKeyProvider`, `session_token_v2`) are not taken for keys.
    Random,
}

/// Pairing condition of a rule (`requires = { rule = "aws-access-key-id", within_bytes = 1024 }`).
///
/// A rule with `requires` is a *pair rule*: it has no keyword prefilter of its own and never runs
/// over a whole blob. For every accepted match of the anchor rule `rule` in a blob, its pattern
/// runs over the lines within `within_bytes` before and after that match; the candidate nearest
/// to the anchor (after entropy, placeholder, allowlist and inline-allow checks) makes one finding.
/// The finding's secret (hash, preview, fingerprint) is this rule's match — the *partner*, e.g. the
/// secret access key — and its location is the anchor's (e.g. the access key id), so the finding
/// points at the identifying half and is stable as long as the partner value and the path are.
/// The anchor rule's own findings are unaffected: pairing only adds findings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Requires {
    /// Id of the anchor rule (must exist in the same rule set and not be a pair rule itself).
    pub rule: String,
    /// How far from the anchor match the partner may start or end, in bytes (the window is widened
    /// to whole lines).
    pub within_bytes: usize,
}

/// What an allowlist regex is matched against.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AllowlistTarget {
    /// The captured secret (default).
    #[default]
    Secret,
    /// The whole regex match.
    Match,
    /// The full line(s) containing the match.
    Line,
}

/// Things not to report: regexes on the secret/match/line, stop words contained in the secret, and
/// path regexes (matched against the `/`-separated relative path).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regexes: Vec<String>,
    #[serde(default)]
    pub regex_target: AllowlistTarget,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stopwords: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

impl Allowlist {
    /// True when the allowlist has no entries.
    pub fn is_empty(&self) -> bool {
        self.regexes.is_empty() && self.stopwords.is_empty() && self.paths.is_empty()
    }
}

/// One detection rule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable identifier (`aws-access-key-id`); part of the fingerprint.
    pub id: String,
    /// Human name.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Regex (Rust `regex` syntax, matched on bytes). The secret is the named group `secret`, else
    /// group [`Rule::secret_group`], else group 1 when present, else the whole match.
    pub pattern: String,
    /// Literals, case-insensitive; the regex only runs on blobs containing one of them. A rule
    /// without keywords runs on every blob (slow; built-in rules always have keywords).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Capture group index holding the secret (overrides the default choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_group: Option<usize>,
    /// Minimum Shannon entropy (bits per character) of the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy: Option<f64>,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default)]
    pub confidence: Confidence,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate: Option<Validator>,
    /// Reject secrets that look like documentation placeholders (`changeme`, `<your-key>`, `xxxx`...).
    #[serde(default)]
    pub placeholder_check: bool,
    /// The pattern can span lines (PEM blocks, JSON documents): run it on the whole blob instead
    /// of only on the lines holding a keyword.
    #[serde(default)]
    pub multiline: bool,
    /// Generic rule: its match is dropped when a specific rule matched an overlapping secret.
    #[serde(default)]
    pub generic: bool,
    /// Only report in files whose path matches this regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Pair rule: only match near a match of another rule (see [`Requires`]). `keywords` and
    /// `multiline` are ignored for pair rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<Requires>,
    #[serde(default)]
    pub allowlist: Allowlist,
    /// Texts the rule must match (checked by the test suite).
    #[serde(default)]
    pub examples: Vec<String>,
    /// Texts the rule must not match (checked by the test suite).
    #[serde(default)]
    pub negative_examples: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<Rule>,
    #[serde(default)]
    allowlist: Option<Allowlist>,
}

/// An ordered set of rules plus a global allowlist.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    allowlist: Allowlist,
}

impl RuleSet {
    /// An empty rule set.
    pub fn empty() -> Self {
        RuleSet::default()
    }

    /// The built-in rules shipped in `crates/argus-secrets/rules/*.toml`.
    pub fn builtin() -> Result<Self> {
        let mut set = RuleSet::default();
        for (name, text) in BUILTIN {
            set.extend(RuleSet::from_toml_str(text, Path::new(name))?);
        }
        Ok(set)
    }

    /// Parse one rule file's text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Self> {
        let file: RuleFile = toml::from_str(text).map_err(|e| SecretsError::RuleFile {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut set = RuleSet::default();
        for rule in file.rule {
            set.push(rule);
        }
        if let Some(a) = file.allowlist {
            set.allowlist = a;
        }
        Ok(set)
    }

    /// Load one Argus rule file.
    pub fn load_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SecretsError::io(format!("reading {}", path.display()), e))?;
        RuleSet::from_toml_str(&text, path)
    }

    /// Load every `*.toml` file of a folder (sorted by name, not recursive).
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| SecretsError::io(format!("reading {}", dir.display()), e))?;
        let mut files = Vec::new();
        for entry in rd {
            let entry =
                entry.map_err(|e| SecretsError::io(format!("reading {}", dir.display()), e))?;
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "toml") {
                files.push(p);
            }
        }
        files.sort();
        let mut set = RuleSet::default();
        for f in files {
            set.extend(RuleSet::load_file(&f)?);
        }
        Ok(set)
    }

    /// Names of the built-in rule files, in load order (rule order matters where two generic
    /// rules match the same secret: the earlier one reports it).
    pub fn builtin_file_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(name, _)| *name)
    }

    /// Load a gitleaks-format TOML config; see [`crate::gitleaks`] for the mapping.
    pub fn load_gitleaks(path: &Path) -> Result<Self> {
        crate::gitleaks::load(path).map(|(set, _warnings)| set)
    }

    /// Add a rule, replacing any rule with the same id.
    pub fn push(&mut self, rule: Rule) {
        if let Some(existing) = self.rules.iter_mut().find(|r| r.id == rule.id) {
            *existing = rule;
        } else {
            self.rules.push(rule);
        }
    }

    /// Add all rules of `other` (same-id rules replace ours) and merge its global allowlist.
    pub fn extend(&mut self, other: RuleSet) {
        for r in other.rules {
            self.push(r);
        }
        let a = other.allowlist;
        self.allowlist.regexes.extend(a.regexes);
        self.allowlist.stopwords.extend(a.stopwords);
        self.allowlist.paths.extend(a.paths);
    }

    /// Keep only rules for which `keep` returns true.
    pub fn retain(&mut self, keep: impl FnMut(&Rule) -> bool) {
        self.rules.retain(keep);
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The global allowlist.
    pub fn allowlist(&self) -> &Allowlist {
        &self.allowlist
    }

    /// Mutable global allowlist (for allowlists coming from configuration).
    pub fn allowlist_mut(&mut self) -> &mut Allowlist {
        &mut self.allowlist
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
