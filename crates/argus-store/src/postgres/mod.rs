//! PostgreSQL backend: [`PgStore`], the [`Store`](argus_core::store::Store) of distributed mode,
//! where several `argus` processes share one database.
//!
//! Connecting: [`PgStore::connect`] takes a libpq-style URL (`postgres://user:pass@host/db?…`).
//! The URL may carry `application_name` (default `argus`; it names the connections in
//! `pg_stat_activity`) and `options=-c search_path=<schema>` to keep an installation in its own
//! schema. The URL and the connect options are never logged or put into error messages, so
//! credentials in them stay out of logs.
//!
//! TLS: libpq's `sslmode` (`require`, `verify-ca`, `verify-full`, …), `sslrootcert`, `sslcert`
//! and `sslkey` in the URL, carried out by sqlx over rustls; see [`tls`] for the checks made at
//! start-up and where the behaviour follows libpq rather than sqlx.
//!
//! Invariants kept by this module:
//! - Every error leaves as a [`CoreError`]: unreachable server, broken connections, pool
//!   exhaustion, deadlocks and serialisation failures are `Unavailable` (retry later, HTTP 503);
//!   unique violations `Conflict`; text PostgreSQL cannot store (NUL characters) `Invalid`.
//! - The pool tests each idle connection before handing it out, so after the server drops
//!   connections (restart, fail-over, `pg_terminate_backend`) the next call reconnects instead
//!   of failing.
//! - Migrations are embedded (versions 1..999) and tolerate other crates' migrations in the same
//!   `_sqlx_migrations` table; the sqlx migrator serialises concurrent migrating processes with
//!   an advisory lock.

mod api_keys;
mod artifacts;
mod audit;
mod connectors;
mod coordination;
mod events;
mod findings;
mod ledger;
mod retention;
mod rows;
mod scans;
mod schedules;
mod sinks;
mod store;
mod templates;
mod tls;
mod verdicts;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

use argus_core::CoreError;

/// Connection settings the CLI passes to [`PgStore::connect`].
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Upper bound of the connection pool (per process).
    pub max_connections: u32,
    /// Apply the embedded migrations on connect.
    pub migrate: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            migrate: true,
        }
    }
}

/// The PostgreSQL [`Store`](argus_core::store::Store). Cheap to clone: clones share the pool and
/// the relay identity (one identity per `connect`, i.e. per process).
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    relay: Arc<Relay>,
}

/// Identity of this store instance for the relay lease on pending ledger rows.
struct Relay {
    /// Written into `scan_tasks.relay_owner` for the rows `pending_tasks` handed out.
    owner: Uuid,
    /// Serialises `pending_tasks` within the instance, so two concurrent callers in one process
    /// cannot both receive a row this instance holds the lease for.
    gate: tokio::sync::Mutex<()>,
    /// Relay marks this instance handed tasks out of (`pending_tasks`), with the ids of the
    /// listed tasks still to be published: `mark_published` deletes a mark once that set is
    /// empty (see "Relay marks" in `store.rs`). Lost on a crash, which only means the mark's
    /// tasks are published again once its lease ran out.
    marks: std::sync::Mutex<HashMap<Uuid, HashSet<Uuid>>>,
}

impl fmt::Debug for PgStore {
    // Written by hand so that nothing reachable from here (connect options) is ever printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("pool_size", &self.pool.size())
            .field("relay_owner", &self.relay.owner)
            .finish_non_exhaustive()
    }
}

/// How long a relay may hold pending rows it received from `pending_tasks` before another
/// process may take them (the relay publishes a batch in well under a second).
const RELAY_LEASE: Duration = Duration::from_secs(30);

impl PgStore {
    /// Connects (one connection is opened at once, so an unreachable server is reported here as
    /// `Unavailable`) and applies the migrations when `opts.migrate`.
    pub async fn connect(url: &str, opts: PgOptions) -> Result<PgStore, CoreError> {
        // The parse error names the problem (unknown parameter, bad port), never the URL itself.
        let mut connect = PgConnectOptions::from_str(url)
            .map_err(|e| CoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        if connect.get_application_name().is_none() {
            connect = connect.application_name("argus");
        }
        let connect = tls::check(url, connect)?;
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            // A ping per acquire: a connection the server dropped is replaced, not returned.
            .test_before_acquire(true)
            .idle_timeout(Duration::from_secs(300))
            .connect_with(connect)
            .await
            .map_err(|e| CoreError::Unavailable {
                what: "database",
                message: e.to_string(),
            })?;
        let store = PgStore {
            pool,
            relay: Arc::new(Relay {
                owner: Uuid::now_v7(),
                gate: tokio::sync::Mutex::new(()),
                marks: std::sync::Mutex::new(HashMap::new()),
            }),
        };
        if opts.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Applies this crate's migrations (versions 1..999; other crates' versions in the same
    /// `_sqlx_migrations` table are left alone). Safe to run from several processes at once.
    pub async fn migrate(&self) -> Result<(), CoreError> {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.set_ignore_missing(true);
        migrator.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => match PgError::Sql(inner).into() {
                CoreError::Unavailable { what, message } => CoreError::Unavailable {
                    what,
                    message: format!("store migrations failed: {message}"),
                },
                other => CoreError::Backend(format!("store migrations failed: {other}")),
            },
            other => CoreError::Backend(format!("store migrations failed: {other}")),
        })
    }

    /// The connection pool (for admin commands and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool, waiting for checked-out connections to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Errors inside this module: sqlx errors keep their SQLSTATE until the boundary, so a
/// transaction can be retried on a deadlock before the error is flattened into a [`CoreError`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum PgError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl PgError {
    /// A deadlock or serialisation failure: the transaction was rolled back and may simply be
    /// run again.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            PgError::Sql(sqlx::Error::Database(d)) => {
                matches!(d.code().as_deref(), Some("40P01" | "40001"))
            }
            _ => false,
        }
    }
}

impl From<PgError> for CoreError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Core(c) => c,
            PgError::Sql(s) => db_err(s),
        }
    }
}

fn unavailable(message: String) -> CoreError {
    CoreError::Unavailable {
        what: "database",
        message,
    }
}

/// Maps a sqlx error to the core error kinds by SQLSTATE. Messages come from the server or the
/// socket and never carry the connection string.
pub(crate) fn db_err(e: sqlx::Error) -> CoreError {
    match e {
        sqlx::Error::RowNotFound => CoreError::not_found("record", "requested"),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => unavailable(e.to_string()),
        sqlx::Error::Database(ref d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                "23505" => CoreError::Conflict {
                    message: "record already exists".into(),
                    state: None,
                },
                // NUL in text (22021) or in a JSON string bound to jsonb (22P05).
                "22021" | "22P05" => CoreError::invalid(
                    "/",
                    "text must not contain NUL characters (not storable in PostgreSQL)",
                ),
                // Connection exceptions, server shutting down or not accepting connections,
                // insufficient resources, deadlock / serialisation failure, lock timeout,
                // statement cancelled: all transient.
                c if c.starts_with("08")
                    || c.starts_with("53")
                    || matches!(
                        c,
                        "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "55P03" | "57014"
                    ) =>
                {
                    unavailable(d.message().to_owned())
                }
                _ => CoreError::Backend(d.message().to_owned()),
            }
        }
        other => CoreError::Backend(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options() {
        let o = PgOptions::default();
        assert_eq!((o.max_connections, o.migrate), (16, true));
    }

    #[test]
    fn pool_errors_are_unavailable() {
        assert!(matches!(
            db_err(sqlx::Error::PoolTimedOut),
            CoreError::Unavailable { .. }
        ));
        assert!(matches!(
            db_err(sqlx::Error::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionReset
            ))),
            CoreError::Unavailable { .. }
        ));
        assert!(matches!(
            db_err(sqlx::Error::RowNotFound),
            CoreError::NotFound { .. }
        ));
    }

    #[tokio::test]
    async fn bad_url_names_no_credentials() {
        let err = PgStore::connect(
            "postgres://user:hunter2@localhost:notaport/db",
            PgOptions::default(),
        )
        .await
        .map(|_| ())
        .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
