//! TLS to PostgreSQL: the libpq parameters of the store URL, checked before the first connection.
//!
//! sqlx does the TLS itself (rustls with ring; the system's trust store plus `sslrootcert`), from
//! the URL's `sslmode` (`disable`, `prefer` (sqlx's default), `require`, `verify-ca`,
//! `verify-full`), `sslrootcert` (PEM CA file), `sslcert` and `sslkey` (client certificate and
//! key, PEM). This module only adds what libpq users expect and sqlx leaves out:
//! - `sslmode=require` together with `sslrootcert` verifies the server's certificate against that
//!   CA (becomes `verify-ca`), as libpq does; plain `require` encrypts without verifying.
//! - The files named by `sslrootcert`, `sslcert` and `sslkey` are read once at start-up, so a
//!   missing or non-PEM file is an `Invalid` error naming the parameter and path (not a
//!   connection failure that hides which file it was). sqlx reads them again for each new
//!   connection, so a renewed file is picked up without a restart.
//!
//! Known deviation (upstream): `verify-ca` should skip the host-name check, but sqlx 0.8.6's
//! verifier does not recognise rustls' newer name-mismatch error (sqlx issue 3793; the fix, PR 3861, is not in 0.8.6), so it
//! checks the name as `verify-full` does: stricter, never weaker. `tests/postgres_tls.rs` pins it.
//!
//! Invariant: file contents and the URL itself never appear in an error or a log line.

use std::borrow::Cow;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use argus_core::CoreError;

/// Applies the rules above to options parsed from `url`.
pub(super) fn check(url: &str, mut opts: PgConnectOptions) -> Result<PgConnectOptions, CoreError> {
    let mut root = false;
    for (name, value) in query_pairs(url) {
        let what = match name.as_ref() {
            "sslrootcert" | "ssl-root-cert" | "ssl-ca" => {
                root = true;
                Pem::Certificates
            }
            "sslcert" | "ssl-cert" => Pem::Certificates,
            "sslkey" | "ssl-key" => Pem::Key,
            _ => continue,
        };
        validate(&name, &value, what)?;
    }
    if root && matches!(opts.get_ssl_mode(), PgSslMode::Require) {
        opts = opts.ssl_mode(PgSslMode::VerifyCa);
    }
    Ok(opts)
}

enum Pem {
    Certificates,
    Key,
}

fn validate(param: &str, path: &str, what: Pem) -> Result<(), CoreError> {
    let invalid = |msg: String| CoreError::invalid("/store/url", format!("{param} {path}: {msg}"));
    if path.is_empty() {
        return Err(invalid("empty path".into()));
    }
    let pem = std::fs::read(path).map_err(|e| invalid(e.to_string()))?;
    match what {
        Pem::Certificates => {
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(format!("unreadable PEM ({e})")))?;
            if certs.is_empty() {
                return Err(invalid(
                    "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".into(),
                ));
            }
        }
        Pem::Key => {
            // The parse error could quote nothing secret, but say only what is wrong.
            PrivateKeyDer::from_pem_slice(&pem)
                .map_err(|_| invalid("no PEM private key in the file".into()))?;
        }
    }
    Ok(())
}

/// The decoded `name=value` pairs of `url`'s query.
fn query_pairs(url: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let Some((_, query)) = url.split_once('?') else {
        return Vec::new();
    };
    let query = query.split('#').next().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn missing_and_non_pem_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "postgres://u:pw@h/db?sslmode=verify-full&sslrootcert={}",
            dir.path().join("none.pem").display()
        );
        let opts = PgConnectOptions::from_str(&url).unwrap();
        let e = check(&url, opts).unwrap_err().to_string();
        assert!(e.contains("sslrootcert") && e.contains("none.pem"), "{e}");
        assert!(!e.contains("pw"), "{e}");

        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not pem").unwrap();
        let url = format!("postgres://h/db?sslkey={}", junk.display());
        let opts = PgConnectOptions::from_str(&url).unwrap();
        let e = check(&url, opts).unwrap_err().to_string();
        assert!(e.contains("no PEM private key"), "{e}");
    }

    #[test]
    fn plain_urls_pass_unchanged() {
        let url = "postgres://u@h/db?sslmode=require";
        let opts = check(url, PgConnectOptions::from_str(url).unwrap()).unwrap();
        assert!(matches!(opts.get_ssl_mode(), PgSslMode::Require));
    }
}
