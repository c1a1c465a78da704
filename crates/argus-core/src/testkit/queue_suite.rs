//! queue conformance suite (to be written).
