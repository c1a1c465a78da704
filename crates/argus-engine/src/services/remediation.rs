//! The remediation service: cleaning a secrets scan's repository of its selected secrets,
//! downloading the cleaned repository, and pushing it to a remote — each clean and push a
//! tracked scan of its own (progress, events, cancel), derived from the scan it acts on
//! (`Scan::source_scan_id`). The contract with the scanners that do the work is
//! [`argus_core::remediation`].
//!
//! - `clean(source)`: the source must be a completed secrets scan of the caller's org with
//!   selected secret findings (else 409). The clean scan gets one `repo` target, the selected
//!   findings' SHA-256 and rule ids (never values: the platform never held them), the
//!   replacement texts, and the source's sealed repository copy as its input (when the source
//!   kept one; otherwise its task clones the repository again with the source's credential).
//! - `latest_clean(id)`: `id` itself when it is a clean scan, else the newest clean scan derived
//!   from it (409 when there is none), so clients may keep using the secrets scan's id.
//! - `download(id)`: the completed clean scan's cleaned repository (bundle, `.tar.gz` or `.zip`
//!   of a bare mirror), streamed from the artifact store (409 before the clean completed).
//! - `push(id)`: a push scan of the completed clean's bundle to `target_url` (409 before).
//!
//! Invariants: every read is scoped by the caller's org before anything is copied; inputs are
//! copied into the new scan's own private files (a derived task reads only its own scan's
//! files), and the new scan is deleted again if that copy fails; credentials travel as names or
//! ids, never as values.

use std::collections::{BTreeMap, BTreeSet};

use argus_core::artifact::{ArtifactKey, ArtifactName, ByteStream};
use argus_core::error::{CoreError, Result};
use argus_core::finding::{FindingQuery, Triage};
use argus_core::ids::{Principal, ScanId};
use argus_core::remediation::{
    self as contract, CleanParams, PushParams, SelectedSecret, CLEAN_SCANNER, PUSH_SCANNER,
};
use argus_core::scan::{Scan, ScanConfig, ScanState, ScannerSpec};
use argus_core::store::ScanQuery;
use argus_core::target::{Target, TargetKind};

use crate::services::scans::CreateScan;
use crate::Engine;

/// The scanner whose findings a clean acts on.
const SECRETS_SCANNER: &str = "secrets";

/// Longest replacement text (characters).
pub const MAX_REPLACEMENT: usize = 1_000;

/// Most per-rule replacements in one request.
pub const MAX_REPLACE_RULES: usize = 200;

/// Most selected findings one clean takes (pages of the store's listing).
const MAX_SELECTED: usize = 100_000;

/// What `POST /scans/{id}/clean` asks for.
#[derive(Clone, Debug, Default)]
pub struct CleanRequest {
    /// Text written in place of each selected value (default `***REMOVED***`).
    pub replacement: Option<String>,
    /// Also clean commit and tag messages.
    pub messages: bool,
    /// Per-rule replacement text (rule id → text), e.g. to keep a URL parseable.
    pub replace_rules: BTreeMap<String, String>,
    /// Which repository of the source scan, when its selections span several.
    pub target: Option<String>,
}

/// The default replacement (git-filter-repo's).
pub const DEFAULT_REPLACEMENT: &str = "***REMOVED***";

/// How a cleaned repository is downloaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// A git bundle of every ref (`git clone repo.bundle`).
    Bundle,
    /// A `.zip` of a bare mirror.
    Zip,
    /// A `.tar.gz` of a bare mirror.
    TarGz,
}

impl ExportFormat {
    /// Parses `bundle`, `zip` or `tar.gz`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bundle" => Some(ExportFormat::Bundle),
            "zip" => Some(ExportFormat::Zip),
            "tar.gz" | "tgz" => Some(ExportFormat::TarGz),
            _ => None,
        }
    }

    fn artifact(self) -> &'static str {
        match self {
            ExportFormat::Bundle => contract::CLEANED_BUNDLE,
            ExportFormat::Zip => contract::CLEANED_ZIP,
            ExportFormat::TarGz => contract::CLEANED_TAR_GZ,
        }
    }

    /// The downloaded file's extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Bundle => "bundle",
            ExportFormat::Zip => "zip",
            ExportFormat::TarGz => "tar.gz",
        }
    }
}

/// What `POST /scans/{id}/push` asks for.
#[derive(Clone, Debug, Default)]
pub struct PushRequest {
    pub target_url: String,
    /// A configured credential by name.
    pub credential: Option<String>,
    /// A credential of the external credentials service by id.
    pub credentials_id: Option<String>,
    /// Refspecs to push; empty: every branch and tag.
    pub refs: Vec<String>,
    /// Push every ref and delete remote refs that are not here.
    pub mirror: bool,
    /// Replace the remote's history (non-fast-forward).
    pub force: bool,
}

/// The remediation service (see the module docs); [`Engine::remediation`] hands it out.
#[derive(Clone, Copy, Debug)]
pub struct Remediation<'e> {
    pub(crate) engine: &'e Engine,
}

fn is_scanner(scan: &Scan, name: &str) -> bool {
    scan.config.scanners.iter().any(|s| s.name == name)
}

fn conflict(scan: &Scan, message: String) -> CoreError {
    CoreError::Conflict {
        message,
        state: Some(scan.state),
    }
}

impl Remediation<'_> {
    /// Starts a clean scan of `source`'s selected secrets and returns it (running).
    pub async fn clean(&self, who: &Principal, source: ScanId, req: CleanRequest) -> Result<Scan> {
        let replacement = req
            .replacement
            .unwrap_or_else(|| DEFAULT_REPLACEMENT.to_owned());
        check_text("/replacement", &replacement)?;
        if req.replace_rules.len() > MAX_REPLACE_RULES {
            return Err(CoreError::invalid(
                "/replace_rules",
                format!("at most {MAX_REPLACE_RULES} rules"),
            ));
        }
        for (rule, text) in &req.replace_rules {
            if rule.is_empty() || rule.len() > 200 {
                return Err(CoreError::invalid(
                    "/replace_rules",
                    "rule ids are 1-200 characters",
                ));
            }
            check_text(&format!("/replace_rules/{rule}"), text)?;
        }
        let store = self.engine.store();
        let scan = store.get_scan(&who.org, source).await?;
        if !is_scanner(&scan, SECRETS_SCANNER) {
            return Err(conflict(
                &scan,
                format!("scan {source} is not a secrets scan: only secrets scans can be cleaned"),
            ));
        }
        if scan.state != ScanState::Completed {
            return Err(conflict(
                &scan,
                format!(
                    "scan {source} is {}: a scan is cleaned once it has completed",
                    scan.state
                ),
            ));
        }
        let by_target = self.selected(who, source).await?;
        if by_target.is_empty() {
            return Err(conflict(
                &scan,
                format!(
                    "nothing is selected in scan {source}: select the secrets to remove first (POST /api/v1/scans/{source}/findings/select)"
                ),
            ));
        }
        let (target, selected) = match &req.target {
            Some(want) => by_target
                .into_iter()
                .find(|(t, _)| t.value() == want)
                .ok_or_else(|| {
                    CoreError::invalid(
                        "/target",
                        format!("no selected finding of scan {source} is in repository '{want}'"),
                    )
                })?,
            None if by_target.len() == 1 => by_target.into_iter().next().ok_or_else(|| {
                CoreError::Backend("selected findings vanished while grouping".into())
            })?,
            None => {
                let names: Vec<&str> = by_target.keys().map(|t| t.value()).collect();
                return Err(CoreError::invalid(
                    "/target",
                    format!(
                        "the selected findings are in {} repositories; name one as `target`: {}",
                        names.len(),
                        names.join(", ")
                    ),
                ));
            }
        };
        let credential = scan
            .config
            .scanners
            .iter()
            .find(|s| s.name == SECRETS_SCANNER)
            .and_then(|s| s.params.get("credential"))
            .and_then(|c| c.as_str())
            .map(str::to_owned);
        let params = CleanParams {
            selected: selected.into_iter().collect(),
            replacement,
            replace_rules: req.replace_rules,
            messages: req.messages,
            credential,
        };
        let config = derived_config(&scan, CLEAN_SCANNER, &params, target.clone())?;
        let copy_name = contract::repo_copy_name(&target)?;
        let name = format!("clean of {}", scan.name);
        self.engine
            .scans()
            .create_derived(
                who,
                CreateScan {
                    name: Some(name.chars().take(200).collect()),
                    config,
                    template_id: None,
                    start: true,
                },
                source,
                |new| async move {
                    // No sealed copy (no repository copy key when the source ran): the task
                    // clones the repository again instead.
                    self.copy(source, &copy_name, new.id, &copy_name)
                        .await
                        .map(|_| ())
                },
            )
            .await
    }

    /// The selected secret findings of `scan`, as hashes and rule ids per repository.
    async fn selected(
        &self,
        who: &Principal,
        scan: ScanId,
    ) -> Result<BTreeMap<Target, BTreeSet<SelectedSecret>>> {
        let mut out: BTreeMap<Target, BTreeSet<SelectedSecret>> = BTreeMap::new();
        let mut cursor = None;
        let mut seen = 0usize;
        loop {
            let page = self
                .engine
                .store()
                .list_findings(
                    &who.org,
                    scan,
                    &FindingQuery {
                        triage: Some(Triage::Selected),
                        cursor: cursor.take(),
                        limit: 1000,
                        ..FindingQuery::default()
                    },
                )
                .await?;
            for f in page.items {
                seen += 1;
                let (Some(secret), TargetKind::Repo) = (&f.secret, f.target.kind()) else {
                    continue;
                };
                let Some(rule_id) = f.data.get("rule_id").and_then(|r| r.as_str()) else {
                    continue;
                };
                out.entry(f.target.clone())
                    .or_default()
                    .insert(SelectedSecret {
                        sha256: secret.sha256.clone(),
                        rule_id: rule_id.to_owned(),
                    });
            }
            match page.next_cursor {
                Some(c) if seen < MAX_SELECTED => cursor = Some(c),
                Some(_) => {
                    return Err(CoreError::invalid(
                        "",
                        format!("more than {MAX_SELECTED} findings are selected; clean in parts"),
                    ))
                }
                None => return Ok(out),
            }
        }
    }

    /// `id` when it is a clean scan of the caller's org, else the newest clean scan derived
    /// from it; `Conflict` when there is none.
    pub async fn latest_clean(&self, who: &Principal, id: ScanId) -> Result<Scan> {
        let store = self.engine.store();
        let scan = store.get_scan(&who.org, id).await?;
        if is_scanner(&scan, CLEAN_SCANNER) {
            return Ok(scan);
        }
        let mut cursor = None;
        loop {
            let page = store
                .list_scans(
                    &who.org,
                    &ScanQuery {
                        source_scan_id: Some(id),
                        cursor: cursor.take(),
                        limit: 100,
                        ..ScanQuery::default()
                    },
                )
                .await?;
            if let Some(clean) = page
                .items
                .into_iter()
                .find(|s| is_scanner(s, CLEAN_SCANNER))
            {
                return Ok(clean);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => {
                    return Err(conflict(
                        &scan,
                        format!(
                            "scan {id} has not been cleaned: start a clean first (POST /api/v1/scans/{id}/clean)"
                        ),
                    ))
                }
            }
        }
    }

    /// The completed clean of `id` (see [`Remediation::latest_clean`]), else `Conflict`.
    async fn completed_clean(&self, who: &Principal, id: ScanId, doing: &str) -> Result<Scan> {
        let clean = self.latest_clean(who, id).await?;
        if clean.state != ScanState::Completed {
            return Err(conflict(
                &clean,
                format!(
                    "clean scan {} is {}: {doing} once it has completed",
                    clean.id, clean.state
                ),
            ));
        }
        Ok(clean)
    }

    /// The cleaned repository of `id`: (file name, content type, bytes).
    pub async fn download(
        &self,
        who: &Principal,
        id: ScanId,
        format: ExportFormat,
    ) -> Result<(String, String, ByteStream)> {
        let clean = self.completed_clean(who, id, "download").await?;
        let name = ArtifactName::parse(format.artifact())?;
        // The org-scoped metadata first: it says the artifact is this org's and exists, and
        // carries the content type the clean task recorded.
        let meta = match self
            .engine
            .store()
            .get_artifact(&who.org, clean.id, name.as_str())
            .await
        {
            Ok(meta) => meta,
            Err(CoreError::NotFound { .. }) => {
                return Err(conflict(
                    &clean,
                    format!("clean scan {} holds no cleaned repository", clean.id),
                ))
            }
            Err(e) => return Err(e),
        };
        let bytes = self
            .engine
            .artifacts()
            .get(&ArtifactKey {
                scan_id: clean.id,
                name,
            })
            .await?;
        let stem = clean
            .config
            .targets
            .first()
            .map(|t| repo_stem(t.value()))
            .unwrap_or_else(|| "repository".into());
        Ok((
            format!("{stem}-cleaned.{}", format.extension()),
            meta.content_type,
            bytes,
        ))
    }

    /// Starts a push scan of the cleaned repository of `id` to `req.target_url`.
    pub async fn push(&self, who: &Principal, id: ScanId, req: PushRequest) -> Result<Scan> {
        let target = Target::parse(TargetKind::Repo, req.target_url.trim())
            .map_err(|e| CoreError::invalid("/target_url", e.to_string()))?;
        if req.credential.is_some() && req.credentials_id.is_some() {
            return Err(CoreError::invalid(
                "/credentials_id",
                "give `credential` (a configured one) or `credentials_id` (the credentials service), not both",
            ));
        }
        if req.mirror && !req.refs.is_empty() {
            return Err(CoreError::invalid(
                "/refs",
                "`mirror` pushes every ref: leave `refs` empty",
            ));
        }
        let clean = self.completed_clean(who, id, "push").await?;
        let params = PushParams {
            credential: req.credential,
            credentials_id: req.credentials_id,
            user_id: who.user.as_str().to_owned(),
            refs: req.refs,
            mirror: req.mirror,
            force: req.force,
        };
        let config = derived_config(&clean, PUSH_SCANNER, &params, target.clone())?;
        let from = ArtifactName::parse(contract::CLEANED_BUNDLE)?;
        let to = contract::push_input_name()?;
        let clean_id = clean.id;
        self.engine
            .scans()
            .create_derived(
                who,
                CreateScan {
                    name: Some(
                        format!("push to {}", target.value())
                            .chars()
                            .take(200)
                            .collect(),
                    ),
                    config,
                    template_id: None,
                    start: true,
                },
                clean_id,
                |new| async move {
                    if self.copy(clean_id, &from, new.id, &to).await? {
                        Ok(())
                    } else {
                        Err(CoreError::Conflict {
                            message: format!("clean scan {clean_id} holds no cleaned repository"),
                            state: Some(ScanState::Completed),
                        })
                    }
                },
            )
            .await
            // The push target is the request's `target_url`, whatever the config calls it.
            .map_err(|e| match e {
                CoreError::Invalid { path, message } if path.starts_with("/config/targets") => {
                    CoreError::Invalid {
                        path: "/target_url".into(),
                        message,
                    }
                }
                other => other,
            })
    }

    /// Copies scan `from`'s file `name` to scan `to`'s `as_name`; `false` when there was none.
    async fn copy(
        &self,
        from: ScanId,
        name: &ArtifactName,
        to: ScanId,
        as_name: &ArtifactName,
    ) -> Result<bool> {
        let artifacts = self.engine.artifacts();
        let bytes = match artifacts
            .get(&ArtifactKey {
                scan_id: from,
                name: name.clone(),
            })
            .await
        {
            Ok(b) => b,
            Err(CoreError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        artifacts
            .put(
                &ArtifactKey {
                    scan_id: to,
                    name: as_name.clone(),
                },
                bytes,
            )
            .await?;
        Ok(true)
    }
}

/// A derived scan's config: one internal scanner on one target, the source's priority and
/// attempts, no chaining.
fn derived_config<P: serde::Serialize>(
    source: &Scan,
    scanner: &str,
    params: &P,
    target: Target,
) -> Result<ScanConfig> {
    let params = serde_json::to_value(params)
        .map_err(|e| CoreError::Backend(format!("encoding {scanner} params: {e}")))?;
    Ok(ScanConfig {
        scanners: vec![ScannerSpec {
            name: scanner.to_owned(),
            params,
        }],
        targets: vec![target],
        recursion_depth: 0,
        max_duration: None,
        max_results: None,
        max_tasks: None,
        priority: source.config.priority,
        max_attempts: source.config.max_attempts,
        scope: Default::default(),
        labels: Default::default(),
        rate_limit: None,
    })
}

/// A replacement text: at most [`MAX_REPLACEMENT`] characters, no NUL or newline (it is
/// written into blobs and, with `messages`, commit messages).
fn check_text(path: &str, text: &str) -> Result<()> {
    if text.chars().count() > MAX_REPLACEMENT {
        return Err(CoreError::invalid(
            path,
            format!("at most {MAX_REPLACEMENT} characters"),
        ));
    }
    if text.contains(['\0', '\n', '\r']) {
        return Err(CoreError::invalid(
            path,
            "a replacement may not hold NUL or line breaks",
        ));
    }
    Ok(())
}

/// `repo` from `https://host/org/repo.git`, `/srv/git/repo`, `git@host:org/repo.git`: the
/// download's file name, kept to safe characters.
fn repo_stem(value: &str) -> String {
    let last = value
        .trim_end_matches('/')
        .rsplit(['/', ':', '\\'])
        .next()
        .unwrap_or("");
    let last = last.strip_suffix(".git").unwrap_or(last);
    let safe: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .take(100)
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        "repository".into()
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_stems() {
        assert_eq!(repo_stem("https://github.com/o/app.git"), "app");
        assert_eq!(repo_stem("git@github.com:o/app.git"), "app");
        assert_eq!(repo_stem("/srv/git/app/"), "app");
        assert_eq!(repo_stem("https://h/o/../"), "repository");
        assert_eq!(repo_stem("https://h/o/a b\"c"), "abc");
    }

    #[test]
    fn formats() {
        for (s, f) in [
            ("bundle", ExportFormat::Bundle),
            ("zip", ExportFormat::Zip),
            ("tar.gz", ExportFormat::TarGz),
        ] {
            assert_eq!(ExportFormat::parse(s), Some(f));
            assert!(ArtifactName::parse(f.artifact()).is_ok());
        }
        assert_eq!(ExportFormat::parse("rar"), None);
    }

    #[test]
    fn replacement_texts() {
        assert!(check_text("/r", "***REMOVED***").is_ok());
        assert!(check_text("/r", "a\nb").is_err());
        assert!(check_text("/r", &"x".repeat(MAX_REPLACEMENT + 1)).is_err());
    }
}
