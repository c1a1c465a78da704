//! artifact conformance suite (to be written).
