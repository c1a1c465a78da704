//! This crate's scanner factories: one registration line each. A new native scanner is a
//! folder beside [`crate::noop`] plus a line here (see ARCHITECTURE.md, "How to add a
//! scanner"); a new external tool needs no line at all, only a file in `tools/`.

use argus_core::component::ScannerCatalog;

/// Adds `noop` (built only with `[scanners.noop] enabled = true`) and `tools` (every tool file).
pub fn register(catalog: &mut ScannerCatalog) {
    catalog.add(crate::noop::NoopFactory);
    catalog.add(crate::tool::ToolsFactory);
}
