//! store conformance suite (to be written).
