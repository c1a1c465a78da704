//! Runs the shared `ArtifactStore` suite, and a streaming round trip larger than one part,
//! against real object-storage services: S3 (moto's server in `.ci/run`) and Azure Blob
//! (Azurite). GCS is supported by URL but not tested here (no emulator that speaks enough of
//! its API is installable from this project's registries).
//!
//! Environment (set by `.ci/run`; a test skips when its URL is unset, and fails under CI=true):
//! - `ARGUS_TEST_S3_URL` (`s3://argus-test`), `ARGUS_TEST_S3_ENDPOINT` (`http://127.0.0.1:PORT`)
//!   and the standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_REGION`;
//! - `ARGUS_TEST_AZURE_URL` (`az://argus-test`), `ARGUS_TEST_AZURE_ENDPOINT`
//!   (`http://127.0.0.1:PORT/devstoreaccount1`, optional with `AZURE_STORAGE_USE_EMULATOR=true`
//!   on Azurite's default port) and `AZURE_STORAGE_ACCOUNT_NAME` / `AZURE_STORAGE_ACCOUNT_KEY`.
//!
//! Every fixture writes under its own unique prefix, so runs never see each other's objects.

#![cfg(feature = "object-store")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::StreamExt;
use sha2::{Digest, Sha256};

use argus_core::artifact::ArtifactStore;
use argus_core::testkit::artifact_suite::{content, key, stream_of};
use argus_core::{CoreError, ScanId};
use argus_store::object::{DEFAULT_PART_SIZE, MIN_PART_SIZE};
use argus_store::{ObjectArtifactStore, ObjectOptions};

/// A service under test: its base URL and endpoint.
struct Service {
    url: String,
    endpoint: Option<String>,
}

fn service(url_var: &str, endpoint_var: &str) -> Option<Service> {
    let url = argus_core::testkit::service_url(url_var)?;
    let endpoint = std::env::var(endpoint_var)
        .ok()
        .filter(|v| !v.trim().is_empty());
    Some(Service { url, endpoint })
}

impl Service {
    /// A store under a fresh prefix below the configured URL.
    fn fresh(&self) -> ObjectArtifactStore {
        let url = format!(
            "{}/t-{}",
            self.url.trim_end_matches('/'),
            uuid::Uuid::now_v7().simple()
        );
        let allow_http = self
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        ObjectArtifactStore::from_url(
            &url,
            ObjectOptions {
                endpoint: self.endpoint.clone(),
                region: None,
                allow_http,
            },
        )
        .unwrap()
    }
}

/// The shared suite, with the smallest part size so its 5 MiB case is a real multipart upload
/// (one full part and a 123-byte last part).
async fn suite(svc: &Service) {
    svc.fresh().ping().await.unwrap();
    argus_core::testkit::artifact_suite::run_all(|| async {
        svc.fresh().with_part_size(MIN_PART_SIZE)
    })
    .await;
}

/// 12 MiB in odd-sized chunks with the default part size (two parts), read back as a stream
/// with a matching SHA-256; then `delete_scan` removes it.
async fn large_round_trip(svc: &Service) {
    let store = svc.fresh();
    assert_eq!(store.part_size(), DEFAULT_PART_SIZE);
    let data = content(12 * 1024 * 1024, 42);
    assert!(data.len() > store.part_size());
    let want = Sha256::digest(&data).to_vec();
    let scan = ScanId::new();
    let k = key(scan, "clone/repo.bundle");
    let n = store.put(&k, stream_of(data, 100_003)).await.unwrap();
    assert_eq!(n, 12 * 1024 * 1024);

    let mut s = store.get(&k).await.unwrap();
    let (mut h, mut len, mut chunks) = (Sha256::new(), 0u64, 0usize);
    while let Some(c) = s.next().await {
        let c = c.unwrap();
        h.update(&c);
        len += c.len() as u64;
        chunks += 1;
    }
    assert_eq!(len, n);
    assert_eq!(h.finalize().to_vec(), want);
    // Streamed, not one buffer.
    assert!(chunks > 1, "body arrived in {chunks} chunk(s)");

    store.delete_scan(scan).await.unwrap();
    assert!(matches!(
        store.get(&k).await,
        Err(CoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_artifact_suite() {
    let Some(svc) = service("ARGUS_TEST_S3_URL", "ARGUS_TEST_S3_ENDPOINT") else {
        return;
    };
    assert_eq!(svc.fresh().backend(), "s3");
    suite(&svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_large_multipart_round_trip() {
    let Some(svc) = service("ARGUS_TEST_S3_URL", "ARGUS_TEST_S3_ENDPOINT") else {
        return;
    };
    large_round_trip(&svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_artifact_suite() {
    let Some(svc) = service("ARGUS_TEST_AZURE_URL", "ARGUS_TEST_AZURE_ENDPOINT") else {
        return;
    };
    assert_eq!(svc.fresh().backend(), "azure");
    suite(&svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_large_multipart_round_trip() {
    let Some(svc) = service("ARGUS_TEST_AZURE_URL", "ARGUS_TEST_AZURE_ENDPOINT") else {
        return;
    };
    large_round_trip(&svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_is_unavailable_on_ping() {
    // A bucket that does not exist: readiness must fail with the 503 kind, not 500.
    let Some(svc) = service("ARGUS_TEST_S3_URL", "ARGUS_TEST_S3_ENDPOINT") else {
        return;
    };
    let bogus = Service {
        url: format!("s3://argus-missing-{}", uuid::Uuid::now_v7().simple()),
        endpoint: svc.endpoint.clone(),
    };
    assert!(matches!(
        bogus.fresh().ping().await,
        Err(CoreError::Unavailable { .. })
    ));
}
