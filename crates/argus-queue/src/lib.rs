//! Argus task queues: implementations of [`argus_core::queue::Queue`], one module per backend.
//!
//! - [`embedded`]: the default, durable queue living in the store's SQLite database.
//!
//! Every implementation passes `argus_core::testkit::queue_suite` (see `tests/`).

pub mod embedded;

pub use embedded::{EmbeddedQueue, EmbeddedQueueOptions};
