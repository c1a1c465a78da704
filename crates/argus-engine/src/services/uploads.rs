//! The uploads service: one file judged at once by a file scanner's detector
//! (`POST /api/v1/scan/binary`), without a scan, a task or a stored record — the answer is the
//! verdict. The params go through the same checks as a scan's (schema, server paths against
//! the local-access policy before anything reads them).

use std::time::Instant;

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use argus_core::detector::{Content, DetectorError, NewVerdict};
use argus_core::error::{CoreError, Result};
use argus_core::ids::Principal;

use crate::Engine;

/// The uploads service (see the module docs); [`Engine::uploads`] hands it out.
#[derive(Clone, Copy, Debug)]
pub struct Uploads<'e> {
    pub(crate) engine: &'e Engine,
}

impl Uploads<'_> {
    /// Judges `bytes` (named `name` in the verdict) with the file scanner `scanner` and
    /// `params`. `Invalid` for an unknown scanner, one that is not a file scanner, or bad
    /// params; `Unavailable` when its engine cannot be reached.
    pub async fn scan(
        &self,
        who: &Principal,
        scanner: &str,
        params: &Value,
        name: &str,
        bytes: Bytes,
    ) -> Result<NewVerdict> {
        let _ = who; // every role may scan an upload; nothing of the org is read or written
        let s = self.engine.registry().get(scanner).ok_or_else(|| {
            CoreError::invalid(
                "/scanner",
                format!("unknown scanner '{scanner}'; GET /api/v1/scanners lists them"),
            )
        })?;
        for (pointer, path) in s.local_paths(params) {
            self.engine
                .local_access()
                .check_path(&path)
                .map_err(|m| CoreError::invalid(format!("/params{pointer}"), m))?;
        }
        s.validate_params(params).map_err(|e| match e {
            CoreError::Invalid { path, message } => CoreError::Invalid {
                path: format!("/params{path}"),
                message,
            },
            other => other,
        })?;
        let detector = match s.detector(params) {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(CoreError::invalid("/params", e)),
            None => {
                return Err(CoreError::invalid(
                    "/scanner",
                    format!("'{scanner}' is not a file scanner (try yara or clamav)"),
                ))
            }
        };
        let started = Instant::now();
        let sha = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as u64;
        let content = Content::bytes(name, bytes);
        let outcome = detector
            .scan(&content, &CancellationToken::new())
            .await
            .map_err(|e| match e {
                DetectorError::Unavailable(m) => CoreError::Unavailable {
                    what: "scanning engine",
                    message: m,
                },
                e => CoreError::Backend(e.to_string()),
            })?;
        Ok(NewVerdict {
            key: name.to_owned(),
            verdict: outcome.verdict,
            engine: detector.engine().to_owned(),
            signature: outcome.hits.first().map(|h| h.signature.clone()),
            hits: outcome.hits,
            size,
            sha256: Some(sha),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            cached: false,
            detail: outcome.detail,
            action: None,
        })
    }
}
