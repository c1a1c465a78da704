//! `git-push`: one task per push scan, on the target remote (`repo` target = where to push).
//!
//! The input is the clean scan's bundle, staged by the remediation service as this scan's
//! private file ([`argus_core::remediation::push_input_name`]); it is cloned (`--mirror`) into
//! the work folder and pushed with [`crate::push::push`]. Credentials: a configured credential
//! by name (bound to its host: a token for http(s) URLs, an ssh key for ssh URLs, as for
//! cloning), or an id of the external credentials service (`secrets.credentials_service_url`,
//! a token), fetched at the moment of use for the push's creator.
//! The outcome (each ref's update) is kept as the artifact `push/result.json`; a rejected push
//! fails the task with git's message, credentials masked.

use super::{parse_params, push_schema, stage_input, work_dir};
use crate::credentials::{CredentialsService, GitAuth, DEFAULT_TOKEN_USERNAME};
use crate::push::{push, PushError, PushOptions};
use crate::remote::{self, GitOptions};
use crate::scanner::{git_error, Auth, SecretsScanner};
use argus_core::artifact::ArtifactName;
use argus_core::remediation::{self as contract, PushParams, INTERNAL_SOURCE, PUSH_SCANNER};
use argus_core::scanner::{Emission, ScanError, Scanner, ScannerInfo, TaskContext};
use argus_core::target::{Target, TargetKind};
use argus_core::CoreError;
use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Limit per `git` run of a push.
const GIT_TIMEOUT: Duration = Duration::from_secs(3600);

/// The `git-push` scanner; shares the `secrets` scanner's `git`, door and credentials.
#[derive(Debug)]
pub struct GitPushScanner {
    secrets: Arc<SecretsScanner>,
    service: Option<CredentialsService>,
}

impl GitPushScanner {
    /// The scanner over `secrets`' credentials, with the external credentials service when one
    /// is configured.
    pub fn new(secrets: Arc<SecretsScanner>, service: Option<CredentialsService>) -> Self {
        GitPushScanner { secrets, service }
    }

    fn git(&self) -> GitOptions {
        self.secrets.git_options(GIT_TIMEOUT)
    }

    /// Why these params cannot authenticate a push to `url` (checked at creation and at run):
    /// the rules of cloning (a credential bound to its host and transport; ssh only with a named
    /// key unless ambient ssh is allowed), and a credentials service when an id is given.
    fn check_auth(&self, url: &str, params: &PushParams) -> Result<(), String> {
        if params.credentials_id.is_some() {
            // Its token is sent only to an http(s) target's host (see `crate::push`).
            if self.service.is_none() {
                return Err("credentials_id needs an external credentials service, and none is configured (secrets.credentials_service_url)".into());
            }
            if remote::is_ssh_url(url) {
                // Else ssh would fall back to this server's own identity.
                return Err("a credential of the credentials service is a token; ssh URLs need a named ssh key credential".into());
            }
            return Ok(());
        }
        self.secrets
            .auth_for(url, params.credential.as_deref())
            .map(|_| ())
    }

    /// How this push authenticates, fetched now: a token for `git push` (http(s)), or git
    /// options carrying the named ssh key (written into `ssh_dir`).
    async fn auth(
        &self,
        url: &str,
        params: &PushParams,
        git: GitOptions,
        ssh_dir: &std::path::Path,
    ) -> Result<(Option<GitAuth>, GitOptions), ScanError> {
        if let (Some(id), Some(service)) = (&params.credentials_id, &self.service) {
            let auth = service
                .fetch(id, &params.user_id)
                .await
                .map_err(|e| ScanError::Failed(format!("fetching credential '{id}': {e}")))?;
            return Ok((Some(auth), git));
        }
        match self
            .secrets
            .auth_for(url, params.credential.as_deref())
            .map_err(ScanError::Failed)?
        {
            Auth::Token(token) => Ok((
                Some(GitAuth {
                    username: DEFAULT_TOKEN_USERNAME.to_owned(),
                    token,
                }),
                git,
            )),
            ssh @ Auth::Ssh { .. } => {
                Ok((None, self.secrets.clone_options(&git, ssh, ssh_dir).await?))
            }
            Auth::Ambient => Ok((None, git)),
        }
    }
}

fn parse(params: &Value) -> Result<PushParams, CoreError> {
    parse_params(push_schema(), params)
}

#[async_trait]
impl Scanner for GitPushScanner {
    fn info(&self) -> ScannerInfo {
        ScannerInfo {
            name: PUSH_SCANNER.into(),
            description:
                "Pushes a cleaned repository to a remote (run by POST /api/v1/scans/{id}/push)."
                    .into(),
            source: INTERNAL_SOURCE.into(),
            target_kinds: vec![TargetKind::Repo],
            params_schema: push_schema().0.clone(),
            available: true,
            detail: None,
        }
    }

    fn validate_params(&self, params: &Value) -> Result<(), CoreError> {
        parse(params).map(|_| ())
    }

    fn check_target(&self, target: &Target, params: &Value) -> Result<(), CoreError> {
        let params = parse(params)?;
        let url = target.value();
        if url::Url::parse(url).is_ok_and(|u| u.password().is_some()) {
            return Err(CoreError::invalid(
                "/target_url",
                "the target URL holds a password: pass a credential instead",
            ));
        }
        self.check_auth(url, &params)
            .map_err(|m| CoreError::invalid("/target_url", m))
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), ScanError> {
        if ctx.cancel.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        let params =
            parse(&ctx.params).map_err(|e| ScanError::Failed(format!("git-push params: {e}")))?;
        let url = ctx.task.target.value().to_owned();
        self.check_auth(&url, &params).map_err(ScanError::Failed)?;
        let work = work_dir(ctx).await?;
        let bundle = work.join("clean.bundle");
        let input = contract::push_input_name()
            .map_err(|e| ScanError::Failed(format!("push input name: {e}")))?;
        if !stage_input(ctx, &input, &bundle).await? {
            return Err(ScanError::Failed(
                "this push has no cleaned repository to push (was the clean scan deleted?)".into(),
            ));
        }
        let git = self.git();
        let repo = work.join("clean.git");
        let cloned = remote::clone_into(&bundle.to_string_lossy(), &repo, &git, &ctx.cancel).await;
        let _ = tokio::fs::remove_file(&bundle).await;
        cloned.map_err(git_error)?;

        let ssh_dir = work.join("ssh");
        let (auth, push_git) = self.auth(&url, &params, git, &ssh_dir).await?;
        let opts = PushOptions {
            refs: params.refs.clone(),
            mirror: params.mirror,
            force: params.force,
        };
        let pushed = push(&repo, &url, &opts, auth.as_ref(), &push_git, &ctx.cancel).await;
        // The key file is needed only by the push.
        let _ = tokio::fs::remove_dir_all(&ssh_dir).await;
        let outcome = pushed.map_err(|e| match e {
            PushError::Cancelled => ScanError::Cancelled,
            e if e.is_transient() => ScanError::Retryable(e.to_string()),
            e => ScanError::Failed(e.to_string()),
        })?;
        drop(auth);
        tracing::info!(task = %ctx.task.id, refs = outcome.refs.len(), "pushed");
        let file = work.join("result.json");
        let body = serde_json::to_vec_pretty(&json!({ "target": url, "refs": outcome.refs }))
            .map_err(|e| ScanError::Failed(format!("encoding the push result: {e}")))?;
        tokio::fs::write(&file, body)
            .await
            .map_err(|e| ScanError::Failed(format!("writing the push result: {e}")))?;
        ctx.emit
            .send(Emission::Artifact {
                name: ArtifactName::parse("push/result.json")
                    .map_err(|e| ScanError::Failed(e.to_string()))?,
                path: file,
                content_type: "application/json".into(),
            })
            .await
    }
}
