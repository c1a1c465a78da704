//! `Store` implementations and the local-disk `ArtifactStore`.
//!
//! - [`sqlite::SqliteStore`]: the embedded store (one SQLite file shared with the embedded queue).
//! - [`sqlite::EmbeddedQueue`]: the embedded `Queue`, a table of that same SQLite file (beside
//!   the store because the store enqueues inside its own transactions, `sqlite::InlineQueue`).
//! - [`postgres::PgStore`] (feature `postgres`): the distributed-mode store on PostgreSQL, shared
//!   by several processes (see its module docs for the locking and ordering rules).
//! - [`local::LocalArtifactStore`]: artifacts as files under `{root}/scans/{scan_id}/{name}`.
//! - `object::ObjectArtifactStore` (feature `object-store`): artifacts in S3-compatible storage,
//!   Azure Blob or GCS, chosen by URL (`s3://`, `az://`, `gs://`).

mod connector_cursor;
mod cursor;
pub mod local;
#[cfg(feature = "object-store")]
pub mod object;
mod plan;
#[cfg(feature = "postgres")]
pub mod postgres;
mod rate;
mod schedule_cursor;
pub mod sqlite;
mod template_cursor;

pub use local::LocalArtifactStore;
#[cfg(feature = "object-store")]
pub use object::{ObjectArtifactStore, ObjectOptions};
#[cfg(feature = "postgres")]
pub use postgres::{PgOptions, PgStore};
pub use sqlite::{EmbeddedQueue, EmbeddedQueueOptions, SqliteDb, SqliteStore};
