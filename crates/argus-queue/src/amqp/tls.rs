//! TLS for `amqps://` broker URLs: which certificate authorities to trust and, optionally, which
//! client certificate to present.
//!
//! The settings travel in the URL's query, under the names RabbitMQ's own URI spec uses:
//! - `cacertfile=PATH`: a PEM file of one or more CA certificates, trusted *in addition to* the
//!   system's trust store (a private CA, a self-signed broker certificate).
//! - `certfile=PATH` and `keyfile=PATH` (both or neither): a PEM client certificate chain and its
//!   private key (PKCS#8, PKCS#1 or SEC1), for brokers that require client certificates.
//!
//! Paths are percent-decoded (`%2F` for `/` is accepted but not needed).
//!
//! Invariants:
//! - The files are read and parsed once, when the queue or bus is created, so a missing,
//!   unreadable or non-PEM file is a start-up error naming the parameter and the path (paths are
//!   not secrets; file contents are never shown). Reconnections reuse what was read.
//! - The parameters are refused on a plain `amqp://` URL: a URL that names a CA but does not use
//!   TLS is a mistake, and silently talking plaintext would hide it.
//! - The broker's certificate is always verified, host name included (there is no switch to turn
//!   verification off): against the system trust store plus `cacertfile`.
//! - The client private key stays inside a [`Redacted`], so no `Debug` output can show it.

use std::borrow::Cow;
use std::path::Path;

use argus_core::redacted::Redacted;
use argus_core::{CoreError, Result};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::uri::AMQPScheme;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Query parameters this module reads (and the rest of the stack ignores).
const CA: &str = "cacertfile";
const CERT: &str = "certfile";
const KEY: &str = "keyfile";

/// The TLS configuration for `url`: empty for `amqp://` (and for `amqps://` without parameters,
/// which then trusts the system store only).
pub(crate) fn tls_config(url: &str, scheme: &AMQPScheme) -> Result<Redacted<OwnedTLSConfig>> {
    let mut ca = None;
    let mut cert = None;
    let mut key = None;
    for (name, value) in query_pairs(url) {
        let slot = match name.as_ref() {
            CA => &mut ca,
            CERT => &mut cert,
            KEY => &mut key,
            _ => continue,
        };
        if value.is_empty() {
            return Err(invalid(format!("{name} is empty")));
        }
        *slot = Some(value.into_owned());
    }
    if matches!(scheme, AMQPScheme::AMQP) {
        if let Some(name) = [(CA, &ca), (CERT, &cert), (KEY, &key)]
            .into_iter()
            .find_map(|(n, v)| v.as_ref().map(|_| n))
        {
            return Err(invalid(format!(
                "{name} is a TLS setting but the URL is amqp://; use amqps:// to connect over TLS"
            )));
        }
        return Ok(Redacted::new(OwnedTLSConfig::default()));
    }
    let cert_chain = match &ca {
        Some(path) => {
            let pem = read(CA, path)?;
            let certs = certificates(CA, path, &pem)?;
            tracing::debug!(file = %path, certificates = certs, "trusting extra CA certificates for the broker");
            Some(
                String::from_utf8(pem).map_err(|_| {
                    invalid(format!("{CA} {path}: not a PEM file (not UTF-8 text)"))
                })?,
            )
        }
        None => None,
    };
    let identity = match (&cert, &key) {
        (Some(cert_path), Some(key_path)) => {
            let pem = read(CERT, cert_path)?;
            certificates(CERT, cert_path, &pem)?;
            let key = read(KEY, key_path)?;
            // Parsed here only to fail early; the error names the file, never its content.
            PrivateKeyDer::from_pem_slice(&key).map_err(|_| {
                invalid(format!("{KEY} {key_path}: no PEM private key in the file"))
            })?;
            Some(OwnedIdentity::PKCS8 { pem, key })
        }
        (None, None) => None,
        (Some(_), None) => return Err(invalid(format!("{CERT} needs {KEY} as well"))),
        (None, Some(_)) => return Err(invalid(format!("{KEY} needs {CERT} as well"))),
    };
    Ok(Redacted::new(OwnedTLSConfig {
        identity,
        cert_chain,
    }))
}

/// The decoded `name=value` pairs of `url`'s query (the fragment, if any, is not part of it).
fn query_pairs(url: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let Some((_, query)) = url.split_once('?') else {
        return Vec::new();
    };
    let query = query.split('#').next().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes()).collect()
}

fn read(param: &str, path: &str) -> Result<Vec<u8>> {
    std::fs::read(Path::new(path)).map_err(|e| invalid(format!("{param} {path}: {e}")))
}

/// How many certificates `pem` holds; an error unless at least one and all parse.
fn certificates(param: &str, path: &str, pem: &[u8]) -> Result<usize> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("{param} {path}: unreadable PEM ({e})")))?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "{param} {path}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file"
        )));
    }
    Ok(certs.len())
}

fn invalid(message: String) -> CoreError {
    CoreError::invalid("/queue/url", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_amqp_refuses_tls_parameters() {
        let e = tls_config("amqp://h/%2f?cacertfile=/etc/ca.pem", &AMQPScheme::AMQP).unwrap_err();
        assert!(e.to_string().contains("amqps://"), "{e}");
        assert!(tls_config("amqp://h/%2f?heartbeat=5", &AMQPScheme::AMQP).is_ok());
    }

    #[test]
    fn missing_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let url = format!("amqps://h/%2f?cacertfile={}", missing.display());
        let e = tls_config(&url, &AMQPScheme::AMQPS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cacertfile") && e.contains("nope.pem"), "{e}");

        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        let url = format!("amqps://h/%2f?cacertfile={}", junk.display());
        let e = tls_config(&url, &AMQPScheme::AMQPS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no PEM certificate"), "{e}");

        let url = format!("amqps://h/%2f?certfile={}", junk.display());
        let e = tls_config(&url, &AMQPScheme::AMQPS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs keyfile"), "{e}");
    }

    #[test]
    fn query_is_percent_decoded() {
        let pairs = query_pairs("amqps://h/%2f?cacertfile=%2Fetc%2Fca.pem&x=1#frag");
        assert_eq!(pairs[0].1, "/etc/ca.pem");
        assert_eq!(pairs[1].1, "1");
        assert!(query_pairs("amqps://h/%2f").is_empty());
    }
}
