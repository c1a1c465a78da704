//! placeholder
pub mod process;
