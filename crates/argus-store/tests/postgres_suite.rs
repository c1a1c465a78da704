//! Runs the shared `Store` conformance suite against `PgStore` on a real PostgreSQL server
//! (`ARGUS_TEST_POSTGRES_URL`; skipped when unset, a failure under `CI=true`).
//!
//! Every case gets a fresh, empty store in its own schema (`argus_t_<uuid>`, selected with
//! `options=-c search_path=…` in the URL), so cases and concurrent test runs never see each
//! other's rows; the schemas are dropped when the suite has passed (a failing run leaves them
//! for inspection).

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use argus_store::{PgOptions, PgStore};
use sqlx::postgres::PgPoolOptions;

/// `base` with a fresh schema selected (and used as the application name, to find the
/// store's connections in `pg_stat_activity`).
fn schema_url(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}&application_name={schema}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_suite() {
    let Some(base) = argus_core::testkit::service_url("ARGUS_TEST_POSTGRES_URL") else {
        return;
    };
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&base)
        .await
        .unwrap();
    let schemas = Mutex::new(Vec::<String>::new());
    argus_core::testkit::store_suite::run_all(|| {
        let schema = format!("argus_t_{}", uuid::Uuid::now_v7().simple());
        schemas.lock().unwrap().push(schema.clone());
        let (admin, base) = (admin.clone(), base.clone());
        async move {
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&admin)
                .await
                .unwrap();
            PgStore::connect(
                &schema_url(&base, &schema),
                PgOptions {
                    max_connections: 5,
                    migrate: true,
                },
            )
            .await
            .unwrap()
        }
    })
    .await;
    for schema in schemas.into_inner().unwrap() {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&admin)
            .await
            .unwrap();
    }
}
