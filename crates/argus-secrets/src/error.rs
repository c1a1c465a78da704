//! Error type of the secrets engine. Every fallible public function returns [`Result`].

use std::path::PathBuf;

/// Errors of the secret-scanning engine.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// A rule file could not be read or parsed.
    #[error("rule file {path}: {message}")]
    RuleFile { path: PathBuf, message: String },
    /// A rule is invalid (bad regex, duplicate id, unknown validator, failing example...).
    #[error("rule {id}: {message}")]
    InvalidRule { id: String, message: String },
    /// Reading the git repository failed.
    #[error("git: {0}")]
    Git(String),
    /// A revision given by the caller (branch, commit, range) could not be resolved.
    #[error("cannot resolve revision {0:?}")]
    Revision(String),
    /// Cloning a remote repository failed.
    #[error("clone failed: {0}")]
    Clone(String),
    /// Filesystem or stream I/O failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A baseline or ignore file is malformed.
    #[error("{path}: {message}")]
    Suppression { path: PathBuf, message: String },
    /// The scan was cancelled through [`crate::ScanControl::cancel`].
    #[error("scan cancelled")]
    Cancelled,
}

/// Result alias of this crate.
pub type Result<T, E = SecretsError> = std::result::Result<T, E>;

impl SecretsError {
    pub(crate) fn git(e: impl std::fmt::Display) -> Self {
        SecretsError::Git(e.to_string())
    }
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SecretsError::Io {
            context: context.into(),
            source,
        }
    }
}
