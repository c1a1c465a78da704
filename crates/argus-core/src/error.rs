//! The error kinds every trait implementation reports.
//!
//! Kinds map one-to-one to what a caller can do about them (and to HTTP statuses in `argus-api`):
//! `NotFound` 404, `Conflict` 409, `Invalid` 422, `QuotaExceeded` 429, `Unavailable` 503,
//! `Backend` 500.
//! Backends convert their own errors into these at their boundary.

use crate::scan::ScanState;

/// Shorthand for results carrying a [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// One error type for every seam, so the engine and the API never see a backend's own error type.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The record does not exist in the caller's organisation.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// A lifecycle rule refused the operation; `state` is the scan's current state when known.
    #[error("{message}")]
    Conflict {
        message: String,
        state: Option<ScanState>,
    },
    /// Input failed validation; `path` is a JSON pointer to the failing field.
    #[error("invalid {path}: {message}")]
    Invalid { path: String, message: String },
    /// An organisation's quota (`[quotas]`, see [`crate::quota`]) refuses the operation now;
    /// it may succeed once the org's other work has finished.
    #[error("{message}")]
    QuotaExceeded {
        message: String,
        /// Seconds after which trying again is sensible.
        retry_after_secs: u32,
    },
    /// A dependency (database, broker, object store) cannot be reached right now; retry later.
    #[error("{what} unavailable: {message}")]
    Unavailable { what: &'static str, message: String },
    /// Anything else a backend reports; carries no secrets (backends strip credentials).
    #[error("backend error: {0}")]
    Backend(String),
}

impl CoreError {
    /// An `Invalid` error at a JSON pointer.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A `NotFound` error for a kind of record.
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        CoreError::NotFound {
            what,
            id: id.to_string(),
        }
    }

    /// A `Conflict` naming the scan's current state.
    pub fn illegal(action: &str, state: ScanState) -> Self {
        CoreError::Conflict {
            message: format!("cannot {action} a scan that is {state}"),
            state: Some(state),
        }
    }
}
