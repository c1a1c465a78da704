//! What a certificate says, read with x509-parser: names, issuer, validity, serial, and
//! whether it signed itself.

use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A parsed leaf certificate.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names of the subject alternative names.
    pub dns_names: Vec<String>,
    /// IP addresses of the subject alternative names.
    pub ip_addresses: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// Hex, colon-separated as x509 tools print it.
    pub serial: String,
    pub sha256: String,
    /// Issuer and subject are the same name.
    pub self_signed: bool,
}

/// Parses a DER certificate.
pub fn parse(der: &[u8]) -> Result<CertInfo, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns_names.push((*d).to_owned()),
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*b).ok().map(std::net::IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        ip_addresses.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let v = cert.validity();
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        dns_names,
        ip_addresses,
        not_before: v.not_before.timestamp(),
        not_after: v.not_after.timestamp(),
        serial: cert.raw_serial_as_string(),
        sha256: hex::encode(Sha256::digest(der)),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
    })
}

/// The domain a SAN names, for chaining: a wildcard's base domain (`*.example.com` →
/// `example.com`), lower case, without a trailing dot.
pub fn san_domain(name: &str) -> String {
    name.trim_start_matches("*.")
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_chain_to_their_base() {
        assert_eq!(san_domain("*.Example.com"), "example.com");
        assert_eq!(san_domain("www.example.com."), "www.example.com");
    }
}
