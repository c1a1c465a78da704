//! This crate's scanner factories: one registration line each.

use argus_core::component::ScannerCatalog;

/// Adds `secrets` (always built; configured by the `[secrets]` table).
pub fn register(catalog: &mut ScannerCatalog) {
    catalog.add(crate::scanner::SecretsFactory);
}
