//! This crate's scanner factories: one registration line each.

use argus_core::component::ScannerCatalog;

/// Adds the recon scanners.
pub fn register(catalog: &mut ScannerCatalog) {
    catalog.add(crate::dns::DnsFactory);
    catalog.add(crate::subdomains::SubdomainsFactory);
    catalog.add(crate::ports::PortsFactory);
    catalog.add(crate::http::HttpFactory);
    catalog.add(crate::tls::TlsFactory);
}
