//! HTTPS: the server certificate and key, loaded from PEM files and reloadable while serving.
//!
//! Invariants:
//! - A reload either swaps in a complete, checked configuration (certificate chain parsed, key
//!   parsed, key matching the certificate) or changes nothing: a bad new pair leaves the server
//!   on the old one.
//! - Each new connection takes the configuration current at its accept; connections already
//!   open keep the certificate they were handshaken with.
//! - The private key is read from its file into rustls and nowhere else: errors name the
//!   files, never their contents.
//! - The crypto provider is `ring`, named explicitly, so no process-wide default provider is
//!   needed (and none can be ambiguous).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// The certificate chain and key files (PEM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server certificate first, then any intermediates.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why a certificate and key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading the certificate chain {path}: {detail}")]
    Cert { path: PathBuf, detail: String },
    #[error("the certificate file {0} holds no PEM certificate")]
    NoCert(PathBuf),
    #[error("reading the private key {path}: {detail}")]
    Key { path: PathBuf, detail: String },
    #[error("the certificate {cert} and key {key} do not make a usable pair: {detail}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        detail: String,
    },
}

/// The TLS configuration in use, replaced by [`ReloadableTls::reload`].
#[derive(Debug)]
pub struct ReloadableTls {
    files: TlsFiles,
    current: RwLock<Arc<ServerConfig>>,
}

impl ReloadableTls {
    /// Loads the pair; an error here means the server must not start.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let config = server_config(&files)?;
        Ok(Arc::new(ReloadableTls {
            files,
            current: RwLock::new(Arc::new(config)),
        }))
    }

    /// The files this configuration is read from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Reads the files again and, when they make a usable pair, serves new connections with
    /// it; otherwise keeps the current pair and returns why.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = Arc::new(server_config(&self.files)?);
        // A poisoned lock only means a reader panicked while holding an `Arc` clone: the value
        // is still a whole configuration, so go on with it.
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        *current = config;
        Ok(())
    }

    /// The configuration for a connection accepted now.
    pub(crate) fn current(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn server_config(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let cert_err = |detail: String| TlsError::Cert {
        path: files.cert.clone(),
        detail,
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(files.cert.clone()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        detail: e.to_string(),
    })?;
    let pair_err = |detail: String| TlsError::Pair {
        cert: files.cert.clone(),
        key: files.key.clone(),
        detail,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| pair_err(e.to_string()))?
        .with_no_client_auth()
        // Checks that the key parses and matches the leaf certificate's public key.
        .with_single_cert(certs, key)
        .map_err(|e| pair_err(e.to_string()))?;
    // HTTP/2 when the client offers it, else HTTP/1.1; `serve` picks the protocol from this.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
