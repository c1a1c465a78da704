//! `argus remote`: a command-line client of a running Argus server, through its public HTTP API
//! only (`/api/v1`, the same API as the web UI; see `argus openapi`). Nothing here opens the
//! store or the queue, so it works against any server the user can reach with a token.
//!
//! - [`client`]: a small typed client over reqwest (routes, token, problem+json errors);
//! - [`sse`]: the Server-Sent Events parser behind `scans watch`;
//! - [`watch`]: live progress of one scan, resumable with `Last-Event-ID`;
//! - [`view`]: what tables read of the API's JSON, and the tables;
//! - [`cmd`]: the clap arguments and what each command prints.

mod client;
mod cmd;
mod sse;
mod view;
mod watch;

pub use cmd::{run, RemoteArgs};
