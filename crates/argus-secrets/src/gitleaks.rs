//! Import of gitleaks-format TOML configs (`gitleaks.toml`), loaded as is.
//!
//! Mapping (gitleaks → Argus rule):
//! - `[[rules]] id`, `description` → `id`, `name` and `description`; `regex` → `pattern`;
//!   `secretGroup` → `secret_group`; `entropy` → `entropy`; `keywords` → `keywords`; `tags` → `tags`;
//!   `path` (with a `regex`) → `path` (rule only reports in matching files).
//! - `[rules.allowlist]` (v8.0-v8.20) and `[[rules.allowlists]]` (v8.21+): `regexes`, `stopwords`,
//!   `paths`, `regexTarget` (`secret` default, `match`, `line`) → the rule allowlist. Several
//!   `[[rules.allowlists]]` tables are merged (OR), which is exactly gitleaks' default `condition = "OR"`.
//! - Global `[allowlist]` / `[[allowlists]]`: `regexes`, `stopwords`, `paths` → global allowlist.
//! - Severity is `medium` and confidence `medium` (gitleaks has neither); tag `gitleaks` is added.
//!
//! Not supported (reported as warnings, never silently wrong):
//! - rules with only `path` and no `regex` (file-name-only rules) are skipped;
//! - `[extend]` (`useDefault`, `path`): not followed; combine with the built-in rules instead;
//! - allowlist `commits` and `condition = "AND"` (an AND allowlist is dropped, which can only
//!   produce more findings, never hide one);
//! - regexes that Rust's `regex` does not accept (rare: gitleaks also uses RE2 syntax) fail loading.

use crate::error::{Result, SecretsError};
use crate::finding::{Confidence, Severity};
use crate::rules::{Allowlist, AllowlistTarget, Rule, RuleSet};
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GlAllowlist {
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    regex_target: Option<String>,
    #[serde(default)]
    commits: Vec<String>,
    #[serde(default)]
    condition: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GlRule {
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    secret_group: Option<usize>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    allowlist: Option<GlAllowlist>,
    #[serde(default)]
    allowlists: Vec<GlAllowlist>,
}

#[derive(Deserialize)]
struct GlConfig {
    #[serde(default)]
    rules: Vec<GlRule>,
    #[serde(default)]
    allowlist: Option<GlAllowlist>,
    #[serde(default)]
    allowlists: Vec<GlAllowlist>,
    #[serde(default)]
    extend: Option<toml::Value>,
}

fn merge_allowlists(
    lists: impl IntoIterator<Item = GlAllowlist>,
    id: &str,
    warnings: &mut Vec<String>,
) -> Allowlist {
    let mut out = Allowlist::default();
    for a in lists {
        if a.condition
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("and"))
        {
            warnings.push(format!(
                "{id}: allowlist with condition AND is not supported; ignored"
            ));
            continue;
        }
        if !a.commits.is_empty() {
            warnings.push(format!(
                "{id}: allowlist commits are not supported; ignored"
            ));
        }
        match a.regex_target.as_deref() {
            Some("match") => out.regex_target = AllowlistTarget::Match,
            Some("line") => out.regex_target = AllowlistTarget::Line,
            _ => {}
        }
        out.regexes.extend(a.regexes);
        out.stopwords.extend(a.stopwords);
        out.paths.extend(a.paths);
    }
    out
}

/// Parse gitleaks TOML text. Returns the rules and warnings about unsupported parts.
pub fn from_toml_str(text: &str, origin: &Path) -> Result<(RuleSet, Vec<String>)> {
    let cfg: GlConfig = toml::from_str(text).map_err(|e| SecretsError::RuleFile {
        path: origin.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut warnings = Vec::new();
    if cfg.extend.is_some() {
        warnings.push("[extend] is not supported; only the rules in this file are loaded".into());
    }
    let mut set = RuleSet::empty();
    for r in cfg.rules {
        let Some(pattern) = r.regex else {
            warnings.push(format!(
                "{}: path-only rules are not supported; skipped",
                r.id
            ));
            continue;
        };
        let allow = merge_allowlists(
            r.allowlist.into_iter().chain(r.allowlists),
            &r.id,
            &mut warnings,
        );
        let mut tags = r.tags;
        tags.push("gitleaks".into());
        set.push(Rule {
            name: r.description.clone().unwrap_or_else(|| r.id.clone()),
            description: r.description.unwrap_or_default(),
            id: r.id,
            pattern,
            keywords: r.keywords,
            secret_group: r.secret_group.filter(|g| *g > 0),
            entropy: r.entropy,
            severity: Severity::Medium,
            confidence: Confidence::Medium,
            tags,
            references: Vec::new(),
            validate: None,
            placeholder_check: false,
            generic: false,
            // gitleaks matches whole fragments; keep that semantics.
            multiline: true,
            path: r.path,
            requires: None,
            allowlist: allow,
            examples: Vec::new(),
            negative_examples: Vec::new(),
        });
    }
    let global = merge_allowlists(
        cfg.allowlist.into_iter().chain(cfg.allowlists),
        "global",
        &mut warnings,
    );
    *set.allowlist_mut() = global;
    Ok((set, warnings))
}

/// Load a gitleaks TOML file. Returns the rules and warnings about unsupported parts.
pub fn load(path: &Path) -> Result<(RuleSet, Vec<String>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SecretsError::io(format!("reading {}", path.display()), e))?;
    from_toml_str(&text, path)
}
