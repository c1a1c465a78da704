//! DeployGuard's wire shapes (`JobResponse`, `SecretFoundResponse`, `JobDetailResponse`, the
//! selection and push requests, the health answers) and the pure mappings from Argus records
//! onto them: a job's status from its scans ([`job_status`]), a secret from a finding
//! ([`secret_of`]), a secret type from a rule id ([`secret_type_of`]).
//!
//! Field names and status values are DeployGuard's (`deployguard/api/v2/models.py`); fields that
//! Argus adds are marked "Argus:" in their docs. Nothing here does I/O, so every rule is unit
//! tested below. Request strings carry [`crate::dto::NAME_PATTERN`] as their schema `pattern`
//! (written out: attributes take literals): blank ones are refused, and the document says so.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use argus_core::finding::{Finding, Severity, Triage, TriageCounts};
use argus_core::ids::{FindingId, ScanId};
use argus_core::scan::{Scan, ScanState};

/// The scan label holding the job's `source_platform`.
pub(crate) const LABEL_PLATFORM: &str = "deployguard.source_platform";
/// The scan label holding the job's `source_credentials_id` (an id of the credentials service,
/// never a secret).
pub(crate) const LABEL_CREDENTIALS: &str = "deployguard.source_credentials_id";
/// The scanner a job runs.
pub(crate) const SECRETS_SCANNER: &str = "secrets";
/// The finding kind of secrets.
pub(crate) const SECRET_KIND: &str = "secret";
/// The platforms DeployGuard accepts (`source_platform`, `target_platform`).
pub(crate) const PLATFORMS: [&str; 4] = ["github", "bitbucket", "gitlab", "azure_devops"];

/// A DeployGuard job status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Cloning,
    Scanning,
    ScanComplete,
    AwaitingSelection,
    Cleaning,
    CleanComplete,
    Uploading,
    Pushing,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    /// Every status.
    pub const ALL: [JobStatus; 12] = [
        JobStatus::Pending,
        JobStatus::Cloning,
        JobStatus::Scanning,
        JobStatus::ScanComplete,
        JobStatus::AwaitingSelection,
        JobStatus::Cleaning,
        JobStatus::CleanComplete,
        JobStatus::Uploading,
        JobStatus::Pushing,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Cloning => "cloning",
            JobStatus::Scanning => "scanning",
            JobStatus::ScanComplete => "scan_complete",
            JobStatus::AwaitingSelection => "awaiting_selection",
            JobStatus::Cleaning => "cleaning",
            JobStatus::CleanComplete => "clean_complete",
            JobStatus::Uploading => "uploading",
            JobStatus::Pushing => "pushing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// DeployGuard's secret types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretType {
    Password,
    ApiKey,
    Token,
    PrivateKey,
    Certificate,
    ConnectionString,
    EncryptionKey,
    Credential,
    Other,
}

/// `POST /api/v2/jobs`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobCreateRequest {
    /// `github`, `bitbucket`, `gitlab` or `azure_devops` (recorded on the job; Argus clones any
    /// git URL the same way). Optional here, required by DeployGuard.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(github|bitbucket|gitlab|azure_devops)$")]
    pub source_platform: Option<String>,
    /// The repository to scan: a git URL, or a path on the server under `scan.local_roots`.
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub source_url: String,
    /// Scan only this branch (or ref). Absent: every branch and tag (Argus's default, which is
    /// what cleaning rewrites anyway); DeployGuard's default was `main`.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub source_branch: Option<String>,
    /// Id of the source credential in the external credentials service (recorded on the job).
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub source_credentials_id: Option<String>,
}

/// A job: DeployGuard's `JobResponse`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct JobResponse {
    /// The job id: the id of the Argus scan (`/api/v1/scans/{id}`).
    pub id: ScanId,
    pub status: JobStatus,
    /// What the status means right now (a scan's failure reason, `paused`, …).
    pub status_message: Option<String>,
    /// 0-100, of the current phase (scan, clean or push).
    #[schema(minimum = 0, maximum = 100)]
    pub progress_percent: u8,
    /// Secret findings of the scan.
    pub total_secrets_found: u64,
    /// Secret findings triaged `selected`.
    pub secrets_selected_for_cleaning: u64,
    pub created_at: DateTime<Utc>,
    pub scan_completed_at: Option<DateTime<Utc>>,
    pub clean_completed_at: Option<DateTime<Utc>>,
    /// When the last push finished.
    pub completed_at: Option<DateTime<Utc>>,
    pub source_platform: Option<String>,
    pub source_url: String,
    pub source_branch: Option<String>,
    pub source_credentials_id: Option<String>,
    /// Argus: the most recent clean scan of this job, if any.
    pub clean_scan_id: Option<ScanId>,
    /// Argus: the most recent push scan of this job, if any.
    pub push_scan_id: Option<ScanId>,
}

/// A secret found: DeployGuard's `SecretFoundResponse`, from an Argus finding. There is no
/// value field: Argus never stores secret values, only `secret_value_preview` and
/// `secret_value_hash` (SHA-256).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SecretFoundResponse {
    /// The finding id (`/api/v1/findings/{id}`).
    pub id: FindingId,
    pub secret_type: SecretType,
    /// The rule's name (e.g. `GitHub Personal Access Token`).
    pub secret_name: Option<String>,
    /// First and last characters only.
    pub secret_value_preview: Option<String>,
    /// SHA-256 of the value, hex.
    pub secret_value_hash: Option<String>,
    /// Path of the first occurrence (empty when the finding has none).
    pub file_path: String,
    pub line_number: Option<u64>,
    pub commit_hash: Option<String>,
    /// The rule id.
    pub pattern_matched: Option<String>,
    /// 0-100, from the rule's confidence (high 90, medium 60, low 30).
    #[schema(minimum = 0, maximum = 100)]
    pub confidence: u8,
    pub is_false_positive: bool,
    /// Triaged `selected`. Unlike DeployGuard (everything selected until told otherwise), a
    /// secret is cleaned only once selected.
    pub selected_for_cleaning: bool,
    /// Places the same secret was found at.
    pub occurrence_count: u64,
    /// Argus: the finding's severity.
    pub severity: Severity,
    /// Argus: the finding's triage state.
    pub triage: Triage,
}

/// `GET /api/v2/jobs/{id}`: DeployGuard's `JobDetailResponse`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct JobDetailResponse {
    pub job: JobResponse,
    pub secrets: Vec<SecretFoundResponse>,
    /// Where the cleaned repository downloads from, once a clean completed (this API's own
    /// `/api/v2/jobs/{id}/download`, not a presigned URL).
    pub download_url: Option<String>,
    /// The scan's findings in Argus's own format (`/api/v1/scans/{id}/findings`).
    pub report_url: Option<String>,
}

/// `POST /api/v2/jobs/{id}/secrets/select`. Replaces the selection: the secrets in `secret_ids`
/// are selected, those in `mark_false_positives` become false positives, and every other
/// selected secret of the job goes back to open.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretSelectionRequest {
    #[schema(max_items = 1000)]
    pub secret_ids: Vec<FindingId>,
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub mark_false_positives: Vec<FindingId>,
}

/// The answer of `POST /api/v2/jobs/{id}/secrets/select`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SelectionResponse {
    pub message: String,
    pub selected_count: u64,
}

/// The answer of `POST /api/v2/jobs/{id}/clean` and `/push`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ActionResponse {
    pub message: String,
    pub job_id: ScanId,
    /// The job's status after the request (`cleaning`, `pushing`).
    pub status: JobStatus,
    /// Push only: the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    /// Argus: the scan that does the work (`/api/v1/scans/{id}`).
    pub scan_id: ScanId,
}

/// `POST /api/v2/jobs/{id}/push`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// `github`, `bitbucket`, `gitlab` or `azure_devops` (checked, otherwise unused).
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(github|bitbucket|gitlab|azure_devops)$")]
    pub target_platform: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub target_url: String,
    /// With `push_all_branches: false`, the one branch pushed (default `main`).
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub target_branch: Option<String>,
    /// Id of the target credential in the external credentials service.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub target_credentials_id: Option<String>,
    /// Overwrite the target's refs (needed when they hold the old history).
    #[serde(default)]
    pub force_push: bool,
    /// Push every branch and tag (default) or only `target_branch`.
    #[serde(default = "yes")]
    pub push_all_branches: bool,
}

fn yes() -> bool {
    true
}

/// `GET /api/v2/health`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HealthResponse {
    /// Always `healthy` while the process serves.
    pub status: &'static str,
    pub service: &'static str,
    pub version: String,
}

/// `GET /api/v2/health/ready` (200; the 503 answer is a problem with the same `services`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ReadyResponse {
    /// `ready`.
    pub status: &'static str,
    /// Each dependency (`store`, `queue`, `artifacts`) and whether it is reachable.
    pub services: BTreeMap<String, bool>,
}

/// The newest clean and push scans of a job, as far as they decide its status.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Derived<'a> {
    pub(crate) clean: Option<&'a Scan>,
    pub(crate) push: Option<&'a Scan>,
}

/// A job's status, message and progress (see the mapping in the module docs of `v2`).
pub(crate) fn job_status(
    source: &Scan,
    secrets: &TriageCounts,
    derived: Derived<'_>,
) -> (JobStatus, Option<String>, u8) {
    let percent = |s: &Scan| -> u8 {
        if s.state == ScanState::Completed {
            100
        } else {
            // In [0, 1] by `fraction`'s contract; the cast cannot truncate past 100.
            (s.progress.fraction() * 100.0).floor().clamp(0.0, 100.0) as u8
        }
    };
    match source.state {
        ScanState::Created | ScanState::Queued => {
            return (JobStatus::Pending, Some("queued".into()), 0)
        }
        ScanState::Running => return (JobStatus::Scanning, None, percent(source)),
        ScanState::Paused => return (JobStatus::Scanning, Some("paused".into()), percent(source)),
        ScanState::Failed => return (JobStatus::Failed, source.reason.clone(), percent(source)),
        ScanState::Cancelled => {
            return (JobStatus::Cancelled, source.reason.clone(), percent(source))
        }
        ScanState::Completed => {}
    }
    // The phase that happened last decides: a clean started after a push makes the push stale.
    let push_is_newer = match (derived.clean, derived.push) {
        (Some(c), Some(p)) => p.created_at >= c.created_at,
        (None, Some(_)) => true,
        _ => false,
    };
    if let (true, Some(p)) = (push_is_newer, derived.push) {
        return match p.state {
            ScanState::Created | ScanState::Queued | ScanState::Running | ScanState::Paused => {
                (JobStatus::Pushing, state_message(p), percent(p))
            }
            ScanState::Completed => (JobStatus::Completed, p.reason.clone(), 100),
            ScanState::Failed => (
                JobStatus::Failed,
                Some(format!(
                    "push failed: {}",
                    p.reason.as_deref().unwrap_or("see the push scan's events")
                )),
                percent(p),
            ),
            // The cleaned repository is still there: push again.
            ScanState::Cancelled => (JobStatus::CleanComplete, Some("push cancelled".into()), 100),
        };
    }
    if let Some(c) = derived.clean {
        return match c.state {
            ScanState::Created | ScanState::Queued | ScanState::Running | ScanState::Paused => {
                (JobStatus::Cleaning, state_message(c), percent(c))
            }
            ScanState::Completed => (JobStatus::CleanComplete, c.reason.clone(), 100),
            ScanState::Failed => (
                JobStatus::Failed,
                Some(format!(
                    "clean failed: {}",
                    c.reason.as_deref().unwrap_or("see the clean scan's events")
                )),
                percent(c),
            ),
            // The selection is still there: clean again.
            ScanState::Cancelled => (
                JobStatus::AwaitingSelection,
                Some("cleaning cancelled".into()),
                100,
            ),
        };
    }
    if secrets.open + secrets.selected > 0 {
        (JobStatus::AwaitingSelection, None, 100)
    } else {
        // Nothing found, or everything found was marked a false positive (or accepted, fixed).
        (
            JobStatus::ScanComplete,
            Some("no secrets to clean".into()),
            100,
        )
    }
}

fn state_message(s: &Scan) -> Option<String> {
    match s.state {
        ScanState::Created | ScanState::Queued => Some("queued".into()),
        ScanState::Paused => Some("paused".into()),
        _ => None,
    }
}

/// DeployGuard's secret type for an Argus rule id (`github-pat`, `aws-secret-access-key`, …).
pub(crate) fn secret_type_of(rule_id: &str) -> SecretType {
    let r = rule_id.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| r.contains(w));
    if has(&[
        "private-key",
        "private_key",
        "privatekey",
        "ssh-key",
        "pgp",
        "rsa",
    ]) {
        SecretType::PrivateKey
    } else if has(&["cert", "pkcs", "pfx"]) {
        SecretType::Certificate
    } else if has(&[
        "connection",
        "conn-str",
        "dsn",
        "jdbc",
        "mongodb",
        "postgres",
        "mysql",
        "redis",
        "uri",
        "url",
    ]) {
        SecretType::ConnectionString
    } else if has(&["password", "passwd", "pwd"]) {
        SecretType::Password
    } else if has(&["encryption", "aes", "fernet", "master-key", "signing-key"]) {
        SecretType::EncryptionKey
    } else if has(&["token", "pat", "jwt", "bearer", "oauth", "session"]) {
        SecretType::Token
    } else if has(&["api-key", "api_key", "apikey", "access-key", "key"]) {
        SecretType::ApiKey
    } else if has(&["secret", "credential", "auth"]) {
        SecretType::Credential
    } else {
        SecretType::Other
    }
}

/// The secret a finding of a job is.
pub(crate) fn secret_of(f: &Finding) -> SecretFoundResponse {
    let data = |k: &str| f.data.get(k);
    let text = |k: &str| data(k).and_then(|v| v.as_str()).map(str::to_owned);
    let rule_id = text("rule_id");
    let confidence = match data("confidence").and_then(|v| v.as_str()) {
        Some("high") => 90,
        Some("medium") => 60,
        Some("low") => 30,
        _ => 100,
    };
    SecretFoundResponse {
        id: f.id,
        secret_type: secret_type_of(rule_id.as_deref().unwrap_or("")),
        secret_name: text("rule_name"),
        secret_value_preview: f.secret.as_ref().map(|s| s.preview.clone()),
        secret_value_hash: f.secret.as_ref().map(|s| s.sha256.clone()),
        file_path: f.location.path.clone().unwrap_or_default(),
        line_number: f.location.line,
        commit_hash: f.location.commit.clone(),
        pattern_matched: rule_id,
        confidence,
        is_false_positive: f.triage == Triage::FalsePositive,
        selected_for_cleaning: f.triage == Triage::Selected,
        occurrence_count: data("locations_total")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1)
            .max(1),
        severity: f.severity,
        triage: f.triage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::scan::{Progress, ScanConfig};

    fn scan(state: ScanState, minutes: i64) -> Scan {
        let at = DateTime::<Utc>::from_timestamp(1_700_000_000 + minutes * 60, 0).unwrap();
        Scan {
            id: ScanId::new(),
            org_id: argus_core::OrgId::parse("acme").unwrap(),
            user_id: argus_core::UserId::parse("alice").unwrap(),
            name: "x".into(),
            config: serde_json::from_value::<ScanConfig>(serde_json::json!({
                "scanners": [{"name": "secrets"}],
                "targets": [{"kind": "repo", "value": "https://example.com/r.git"}]
            }))
            .unwrap(),
            template_id: None,
            source_scan_id: None,
            state,
            reason: None,
            progress: Progress {
                enqueued: 4,
                done: 1,
                ..Progress::default()
            },
            created_at: at,
            updated_at: at,
            started_at: None,
            finished_at: None,
            trace: None,
            stuck_since: None,
        }
    }

    #[test]
    fn statuses_follow_the_scan_then_the_newest_clean_or_push() {
        let none = TriageCounts::default();
        let open = TriageCounts {
            open: 2,
            ..TriageCounts::default()
        };
        let st = |s: &Scan, c: &TriageCounts, d: Derived<'_>| job_status(s, c, d).0;
        let d0 = Derived::default();
        assert_eq!(
            st(&scan(ScanState::Created, 0), &none, d0),
            JobStatus::Pending
        );
        assert_eq!(
            st(&scan(ScanState::Queued, 0), &none, d0),
            JobStatus::Pending
        );
        let running = scan(ScanState::Running, 0);
        assert_eq!(
            job_status(&running, &none, d0),
            (JobStatus::Scanning, None, 25)
        );
        assert_eq!(
            st(&scan(ScanState::Paused, 0), &none, d0),
            JobStatus::Scanning
        );
        assert_eq!(
            st(&scan(ScanState::Failed, 0), &open, d0),
            JobStatus::Failed
        );
        assert_eq!(
            st(&scan(ScanState::Cancelled, 0), &open, d0),
            JobStatus::Cancelled
        );
        let done = scan(ScanState::Completed, 0);
        assert_eq!(st(&done, &none, d0), JobStatus::ScanComplete);
        assert_eq!(st(&done, &open, d0), JobStatus::AwaitingSelection);
        let only_fp = TriageCounts {
            false_positive: 3,
            ..TriageCounts::default()
        };
        assert_eq!(st(&done, &only_fp, d0), JobStatus::ScanComplete);

        let sel = TriageCounts {
            selected: 1,
            ..TriageCounts::default()
        };
        let clean = |state| scan(state, 1);
        let push = |state| scan(state, 2);
        for (c, want) in [
            (ScanState::Queued, JobStatus::Cleaning),
            (ScanState::Running, JobStatus::Cleaning),
            (ScanState::Completed, JobStatus::CleanComplete),
            (ScanState::Failed, JobStatus::Failed),
            (ScanState::Cancelled, JobStatus::AwaitingSelection),
        ] {
            let c = clean(c);
            let d = Derived {
                clean: Some(&c),
                push: None,
            };
            assert_eq!(st(&done, &sel, d), want, "clean {:?}", c.state);
        }
        let c = clean(ScanState::Completed);
        for (p, want) in [
            (ScanState::Queued, JobStatus::Pushing),
            (ScanState::Running, JobStatus::Pushing),
            (ScanState::Completed, JobStatus::Completed),
            (ScanState::Failed, JobStatus::Failed),
            (ScanState::Cancelled, JobStatus::CleanComplete),
        ] {
            let p = push(p);
            let d = Derived {
                clean: Some(&c),
                push: Some(&p),
            };
            assert_eq!(st(&done, &sel, d), want, "push {:?}", p.state);
        }
        // A clean started after the last push decides.
        let old_push = scan(ScanState::Completed, 0);
        let d = Derived {
            clean: Some(&c),
            push: Some(&old_push),
        };
        assert_eq!(st(&done, &sel, d), JobStatus::CleanComplete);
        // A failed scan keeps its reason as the message.
        let mut failed = scan(ScanState::Failed, 0);
        failed.reason = Some("clone failed".into());
        assert_eq!(
            job_status(&failed, &none, d0).1.as_deref(),
            Some("clone failed")
        );
    }

    #[test]
    fn wire_names_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(JobStatus::parse("done"), None);
    }

    #[test]
    fn secret_types_from_rule_ids() {
        for (rule, want) in [
            ("github-pat", SecretType::Token),
            ("gitlab-pat", SecretType::Token),
            ("aws-access-key-id", SecretType::ApiKey),
            ("private-key", SecretType::PrivateKey),
            ("generic-password", SecretType::Password),
            ("postgres-connection-string", SecretType::ConnectionString),
            ("stripe-api-key", SecretType::ApiKey),
            ("generic-secret", SecretType::Credential),
            ("something-else", SecretType::Other),
        ] {
            assert_eq!(secret_type_of(rule), want, "{rule}");
        }
    }
}
