//! Runs the shared `Store` conformance suite against `PgStore` on a real PostgreSQL server
//! (`ARGUS_TEST_POSTGRES_URL`; skipped when unset, a failure under `CI=true`).
//!
//! One test per case; every case gets a fresh, empty store in its own schema (`argus_t_<uuid>`,
//! selected with `options=-c search_path=…` in the URL), so cases and concurrent test runs never
//! see each other's rows; a case's schema is dropped when it has passed (a failing case leaves
//! it for inspection).

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use argus_core::testkit::store_suite::{StoreFixture, StoreHarness};
use argus_store::{PgOptions, PgStore};
use sqlx::postgres::PgPoolOptions;

/// `base` with a fresh schema selected (and used as the application name, to find the
/// store's connections in `pg_stat_activity`).
fn schema_url(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}&application_name={schema}")
}

struct Postgres;

/// The schema a fixture's store lives in (its guard), dropped once its case passed.
struct Schema {
    name: String,
    admin: sqlx::PgPool,
}

#[async_trait::async_trait]
impl StoreHarness for Postgres {
    type Store = PgStore;

    async fn fresh(&self) -> Option<StoreFixture<PgStore>> {
        let base = argus_core::testkit::service_url("ARGUS_TEST_POSTGRES_URL")?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&base)
            .await
            .unwrap();
        let schema = format!("argus_t_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        let store = PgStore::connect(
            &schema_url(&base, &schema),
            PgOptions {
                max_connections: 5,
                migrate: true,
            },
        )
        .await
        .unwrap();
        Some(StoreFixture::new(
            store,
            Schema {
                name: schema,
                admin,
            },
        ))
    }

    async fn passed(&self, fixture: StoreFixture<PgStore>) {
        let schema = fixture.guard().downcast_ref::<Schema>().unwrap();
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", schema.name))
            .execute(&schema.admin)
            .await
            .unwrap();
    }
}

argus_core::store_suite_tests!(Postgres);
