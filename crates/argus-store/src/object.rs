//! [`ObjectArtifactStore`]: artifacts in object storage — S3 and S3-compatible services (MinIO,
//! Ceph, moto…), Azure Blob Storage and Google Cloud Storage — through the `object_store` crate.
//!
//! Chosen by URL ([`ObjectArtifactStore::from_url`]): `s3://bucket/prefix`,
//! `az://container/prefix` (or `azure://`), `gs://bucket/prefix`. An artifact lives at
//! `{prefix}/scans/{scan_id}/{name}` ([`ArtifactKey::object_key`] under the prefix).
//!
//! Invariants:
//! - Content is streamed in and out, never held whole in memory. `put` buffers at most one part
//!   ([`DEFAULT_PART_SIZE`]); a stream that ends within it is sent with one `PUT`, a longer one
//!   becomes a multipart upload with at most [`MAX_PARTS_IN_FLIGHT`] parts uploading at once
//!   (back-pressure on the input stream beyond that).
//! - Writes are atomic: the object appears when the single `PUT` or the multipart completion
//!   succeeds, so readers see the old content or the new one, never a partial object. A failed
//!   multipart upload is aborted (best effort) so its parts do not linger.
//! - Credentials come only from the standard environment variables read by `object_store`'s
//!   `from_env()` builders (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//!   `AWS_REGION`; `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`,
//!   `AZURE_STORAGE_USE_EMULATOR`; `GOOGLE_SERVICE_ACCOUNT`, `GOOGLE_SERVICE_ACCOUNT_KEY`,
//!   `GOOGLE_APPLICATION_CREDENTIALS`…) or the platform's instance identity — never from Argus'
//!   config. The builders and clients hold those secrets, so they are never logged, and this
//!   type's `Debug` shows only the backend, bucket and prefix.
//! - Errors become [`CoreError`]s: a missing object is `NotFound`; a service that cannot be
//!   reached or answers with a server error (after `object_store`'s retries) is `Unavailable`
//!   (503 in the API); a bad URL is `Invalid`; anything else is `Backend`.
//!
//! Testing: S3 runs the shared suite against moto's S3 server and Azure against Azurite
//! (`tests/object_suite.rs`, started by `.ci/run`). **GCS is supported by URL but not tested
//! here**: the emulators installable from the registries this project uses do not speak enough
//! of the GCS JSON/XML API (multipart uploads in particular) to run the suite.

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, PutPayloadMut, RetryConfig, WriteMultipart,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::io::ReaderStream;

use argus_core::artifact::{ArtifactKey, ArtifactStore, ByteStream, StoredScan};
use argus_core::{CoreError, Result, ScanId};

/// Size of one multipart part, and the most `put` buffers before it starts uploading.
/// S3 requires at least 5 MiB for every part but the last.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// The smallest part size S3 accepts (every part but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// Parts uploading at once per `put`: bounds memory to about
/// `(MAX_PARTS_IN_FLIGHT + 1) × part size` per upload while keeping the link busy.
pub const MAX_PARTS_IN_FLIGHT: usize = 3;

/// Chunk size for streaming a local file into `put_file`.
const FILE_CHUNK: usize = 64 * 1024;

/// How long `ping` waits for the service before `/readyz` reports it unavailable.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// What `CoreError::Unavailable` names.
const WHAT: &str = "artifact store";

/// Connection options that are not credentials (those come from the environment only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectOptions {
    /// Service endpoint for S3-compatible storage (`http://127.0.0.1:9000` for MinIO) or an
    /// Azure Blob account URL (`http://127.0.0.1:10000/devstoreaccount1` for Azurite). Not
    /// supported for `gs://`.
    pub endpoint: Option<String>,
    /// S3 region (defaults to `AWS_REGION`, then `us-east-1`); ignored by Azure and GCS.
    pub region: Option<String>,
    /// Allow plain `http://` endpoints (emulators, MinIO on a private network).
    pub allow_http: bool,
}

/// Artifacts in object storage.
#[derive(Clone)]
pub struct ObjectArtifactStore {
    store: Arc<dyn ObjectStore>,
    backend: &'static str,
    /// Bucket or container, for `Debug` and error messages only.
    bucket: String,
    /// Every key lives under this prefix (empty = bucket root).
    prefix: ObjectPath,
    part_size: usize,
}

impl std::fmt::Debug for ObjectArtifactStore {
    // Hand-written: the inner client holds credentials, so it is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectArtifactStore")
            .field("backend", &self.backend)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix.as_ref())
            .field("part_size", &self.part_size)
            .finish()
    }
}

fn invalid_url(message: impl Into<String>) -> CoreError {
    CoreError::invalid("/artifacts/url", message)
}

/// Converts an `object_store` error at this boundary (see the module docs for the mapping).
fn map_err(op: &str, e: object_store::Error) -> CoreError {
    match e {
        object_store::Error::NotFound { path, .. } => CoreError::not_found("artifact", path),
        object_store::Error::Generic { .. } => CoreError::Unavailable {
            what: WHAT,
            message: format!("{op}: {e}"),
        },
        other => CoreError::Backend(format!("artifact store: {op}: {other}")),
    }
}

fn input_err(e: std::io::Error) -> CoreError {
    CoreError::Backend(format!("artifact store: reading input stream: {e}"))
}

/// Timeouts and retries shared by every backend. The defaults of `object_store` retry for up
/// to three minutes, which would hold API requests that long while the service is down; a
/// request may still take a while because one request carries a whole part.
fn client_options(allow_http: bool) -> ClientOptions {
    let opts = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120));
    if allow_http {
        opts.with_allow_http(true)
    } else {
        opts
    }
}

fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 5,
        retry_timeout: Duration::from_secs(60),
    }
}

impl ObjectArtifactStore {
    /// Builds a store from `s3://bucket/prefix`, `az://container/prefix` (also `azure://`) or
    /// `gs://bucket/prefix`. Credentials are read from the standard environment variables (see
    /// the module docs); nothing is contacted until the first operation (use [`ping`]).
    ///
    /// [`ping`]: ArtifactStore::ping
    pub fn from_url(url: &str, opts: ObjectOptions) -> Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| invalid_url(format!("not a URL: {e}")))?;
        let bucket = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid_url("the URL names no bucket or container"))?
            .to_owned();
        if !parsed.username().is_empty() || parsed.password().is_some() {
            // Credentials in the URL would end up in config dumps; they come from the env only.
            return Err(invalid_url(
                "credentials do not belong in the URL; use the standard environment variables",
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid_url("the URL takes no query or fragment"));
        }
        let prefix = ObjectPath::from_url_path(parsed.path())
            .map_err(|e| invalid_url(format!("bad prefix: {e}")))?;
        // The builders take the URL without our prefix: they only read the bucket from it.
        let bucket_url = format!("{}://{}", parsed.scheme(), bucket);
        let build_err = |e: object_store::Error| invalid_url(e.to_string());

        let (store, backend): (Arc<dyn ObjectStore>, &'static str) = match parsed.scheme() {
            "s3" | "s3a" => {
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(bucket_url)
                    .with_client_options(client_options(opts.allow_http))
                    .with_retry(retry_config());
                if let Some(ep) = &opts.endpoint {
                    b = b.with_endpoint(ep);
                }
                if let Some(r) = &opts.region {
                    b = b.with_region(r);
                }
                if opts.allow_http {
                    b = b.with_allow_http(true);
                }
                (Arc::new(b.build().map_err(build_err)?), "s3")
            }
            "az" | "azure" | "adl" => {
                let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(bucket_url)
                    .with_client_options(client_options(opts.allow_http))
                    .with_retry(retry_config());
                if let Some(ep) = &opts.endpoint {
                    b = b.with_endpoint(ep.clone());
                }
                if opts.allow_http {
                    b = b.with_allow_http(true);
                }
                (Arc::new(b.build().map_err(build_err)?), "azure")
            }
            "gs" => {
                if opts.endpoint.is_some() {
                    // Refuse rather than ignore: silently talking to the real GCS instead of
                    // the intended endpoint would be worse than an error.
                    return Err(invalid_url("a custom endpoint is not supported for gs://"));
                }
                let b = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(bucket_url)
                    .with_client_options(client_options(opts.allow_http))
                    .with_retry(retry_config());
                (Arc::new(b.build().map_err(build_err)?), "gcs")
            }
            other => {
                return Err(invalid_url(format!(
                    "unsupported scheme {other:?}: use s3://, az://, azure:// or gs://"
                )))
            }
        };
        Ok(Self::new(store, backend, bucket, prefix))
    }

    /// Wraps a built client: what the binary should use, with the client and its parts from
    /// `argus_connectors::object::build_store` (the one URL → client builder, shared with the
    /// storage connectors) — `prefix` as that builder returns it (`a/b`, or empty for the
    /// bucket root), checked here. A bad prefix is `Invalid`.
    pub fn with_store(
        store: Arc<dyn ObjectStore>,
        backend: &'static str,
        bucket: impl Into<String>,
        prefix: &str,
    ) -> Result<Self> {
        let prefix = ObjectPath::parse(prefix.trim_matches('/'))
            .map_err(|e| invalid_url(format!("bad prefix: {e}")))?;
        Ok(Self::new(store, backend, bucket, prefix))
    }

    /// Wraps any `object_store` implementation (used by tests with the in-memory store).
    pub fn new(
        store: Arc<dyn ObjectStore>,
        backend: &'static str,
        bucket: impl Into<String>,
        prefix: ObjectPath,
    ) -> Self {
        ObjectArtifactStore {
            store,
            backend,
            bucket: bucket.into(),
            prefix,
            part_size: DEFAULT_PART_SIZE,
        }
    }

    /// Sets the multipart part size (at least [`MIN_PART_SIZE`]; smaller values are raised).
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(MIN_PART_SIZE);
        self
    }

    /// The part size in use.
    pub fn part_size(&self) -> usize {
        self.part_size
    }

    /// The bucket or container.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix every artifact lives under (empty for the bucket root).
    pub fn prefix(&self) -> &str {
        self.prefix.as_ref()
    }

    /// `{prefix}/{rel}`, where `rel` is made of validated segments.
    fn path(&self, rel: &str) -> Result<ObjectPath> {
        let full = if self.prefix.as_ref().is_empty() {
            rel.to_owned()
        } else {
            format!("{}/{rel}", self.prefix.as_ref())
        };
        // `ArtifactName` already excludes empty, `.` and `..` segments; parsing re-checks.
        ObjectPath::parse(full)
            .map_err(|e| CoreError::invalid("/name", format!("bad object key: {e}")))
    }

    fn scan_path(&self, scan: ScanId) -> Result<ObjectPath> {
        self.path(&format!("scans/{scan}"))
    }

    /// Streams `data` to `path`: one `PUT` if it fits in a part, else a multipart upload.
    async fn write_stream(&self, path: &ObjectPath, mut data: ByteStream) -> Result<u64> {
        // Phase 1: buffer up to one part. Most artifacts (tool output) are small and take one
        // request; this also avoids empty multipart uploads, which S3 refuses.
        let mut head = PutPayloadMut::new();
        let mut total = 0u64;
        let overflow = loop {
            match data.next().await {
                None => break None,
                Some(chunk) => {
                    let chunk = chunk.map_err(input_err)?;
                    total += chunk.len() as u64;
                    if head.content_length() + chunk.len() <= self.part_size {
                        head.extend_from_slice(&chunk);
                    } else {
                        break Some(chunk);
                    }
                }
            }
        };
        let Some(first_overflow) = overflow else {
            self.store
                .put(path, head.freeze())
                .await
                .map_err(|e| map_err("put", e))?;
            return Ok(total);
        };

        // Phase 2: multipart. `WriteMultipart` cuts fixed-size parts and uploads them as
        // background tasks; `wait_for_capacity` applies back-pressure so at most
        // MAX_PARTS_IN_FLIGHT parts (plus the one being filled) are in memory.
        let upload = self
            .store
            .put_multipart(path)
            .await
            .map_err(|e| map_err("start multipart upload", e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        for block in head.freeze() {
            writer.put(block);
        }
        writer.write(&first_overflow);
        let fed = async {
            while let Some(chunk) = data.next().await {
                let chunk = chunk.map_err(input_err)?;
                writer
                    .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
                    .await
                    .map_err(|e| map_err("upload part", e))?;
                total += chunk.len() as u64;
                writer.write(&chunk);
            }
            Ok::<(), CoreError>(())
        }
        .await;
        match fed {
            Ok(()) => {
                // `finish` aborts the upload itself when completion fails.
                writer
                    .finish()
                    .await
                    .map_err(|e| map_err("complete multipart upload", e))?;
                Ok(total)
            }
            Err(e) => {
                // Best effort: parts of an unfinished upload cost storage on S3 and GCS.
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(path = %path, error = %abort, "cannot abort multipart upload");
                }
                Err(e)
            }
        }
    }
}

#[async_trait]
impl ArtifactStore for ObjectArtifactStore {
    fn backend(&self) -> &'static str {
        self.backend
    }

    async fn put(&self, key: &ArtifactKey, data: ByteStream) -> Result<u64> {
        let path = self.path(&key.object_key())?;
        self.write_stream(&path, data).await
    }

    async fn put_file(&self, key: &ArtifactKey, path: &Path) -> Result<u64> {
        let f = match tokio::fs::File::open(path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CoreError::not_found("file", path.display()))
            }
            Err(e) => {
                return Err(CoreError::Backend(format!(
                    "artifact store: cannot open source file: {e}"
                )))
            }
        };
        let dest = self.path(&key.object_key())?;
        self.write_stream(&dest, Box::pin(ReaderStream::with_capacity(f, FILE_CHUNK)))
            .await
    }

    async fn get(&self, key: &ArtifactKey) -> Result<ByteStream> {
        let path = self.path(&key.object_key())?;
        let result = match self.store.get(&path).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(CoreError::not_found("artifact", key.object_key()))
            }
            Err(e) => return Err(map_err("get", e)),
        };
        // The body arrives as it is read; `object_store` resumes interrupted bodies with
        // range requests.
        let stream = result
            .into_stream()
            .map_err(|e| std::io::Error::other(format!("artifact store: reading object: {e}")));
        Ok(Box::pin(stream))
    }

    async fn delete_scan(&self, scan: ScanId) -> Result<()> {
        let prefix = self.scan_path(scan)?;
        // `list` matches whole segments, so `scans/{id}` never matches another scan's keys.
        let locations = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        let mut deleted = self.store.delete_stream(locations);
        while let Some(r) = deleted.next().await {
            match r {
                Ok(_) => {}
                // Deleted concurrently (or by an earlier, interrupted call): already the goal.
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(map_err("delete", e)),
            }
        }
        Ok(())
    }

    async fn list_scans(&self) -> Result<Vec<StoredScan>> {
        let root = self.path("scans")?;
        let skip = root.parts().count();
        let mut by_scan: std::collections::BTreeMap<ScanId, StoredScan> = Default::default();
        let mut objects = self.store.list(Some(&root));
        while let Some(meta) = objects.next().await {
            let meta = match meta {
                Ok(m) => m,
                // Deleted between the listing's pages.
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(map_err("list", e)),
            };
            // `{prefix}/scans/{id}/…`: the segment after `scans` names the scan.
            let Some(scan_id) = meta
                .location
                .parts()
                .nth(skip)
                .and_then(|p| p.as_ref().parse::<ScanId>().ok())
            else {
                continue;
            };
            let e = by_scan.entry(scan_id).or_insert(StoredScan {
                scan_id,
                objects: 0,
                bytes: 0,
                last_modified: meta.last_modified,
            });
            e.objects += 1;
            e.bytes += meta.size;
            e.last_modified = e.last_modified.max(meta.last_modified);
        }
        Ok(by_scan.into_values().collect())
    }

    async fn ping(&self) -> Result<()> {
        // One list request of at most a page under the prefix: cheap, and it checks both the
        // network path and that the credentials may read the bucket.
        match tokio::time::timeout(
            PING_TIMEOUT,
            self.store.list_with_delimiter(Some(&self.prefix)),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(CoreError::Unavailable {
                what: WHAT,
                message: format!("{} bucket {:?}: {e}", self.backend, self.bucket),
            }),
            Err(_) => Err(CoreError::Unavailable {
                what: WHAT,
                message: format!(
                    "{} bucket {:?}: no answer within {}s",
                    self.backend,
                    self.bucket,
                    PING_TIMEOUT.as_secs()
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use argus_core::testkit::artifact_suite::{content, key, stream_of};
    use object_store::memory::InMemory;
    use object_store::{
        GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, PutMultipartOptions,
        PutOptions, PutPayload, PutResult, UploadPart,
    };
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    /// Counts requests and records how much of the input had been pulled when the first part
    /// was sent, to prove uploads start before the stream ends.
    #[derive(Debug, Default)]
    struct Counters {
        single_puts: AtomicUsize,
        multiparts: AtomicUsize,
        parts: AtomicUsize,
        pulled: AtomicU64,
        pulled_at_first_part: AtomicU64,
    }

    #[derive(Debug)]
    struct Counting {
        inner: InMemory,
        c: Arc<Counters>,
    }

    impl std::fmt::Display for Counting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Counting")
        }
    }

    #[derive(Debug)]
    struct CountingUpload {
        inner: Box<dyn MultipartUpload>,
        c: Arc<Counters>,
    }

    #[async_trait]
    impl MultipartUpload for CountingUpload {
        fn put_part(&mut self, data: PutPayload) -> UploadPart {
            if self.c.parts.fetch_add(1, Ordering::SeqCst) == 0 {
                let pulled = self.c.pulled.load(Ordering::SeqCst);
                self.c.pulled_at_first_part.store(pulled, Ordering::SeqCst);
            }
            self.inner.put_part(data)
        }
        async fn complete(&mut self) -> object_store::Result<PutResult> {
            self.inner.complete().await
        }
        async fn abort(&mut self) -> object_store::Result<()> {
            self.inner.abort().await
        }
    }

    #[async_trait]
    impl ObjectStore for Counting {
        async fn put_opts(
            &self,
            location: &ObjectPath,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.c.single_puts.fetch_add(1, Ordering::SeqCst);
            self.inner.put_opts(location, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            location: &ObjectPath,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.c.multiparts.fetch_add(1, Ordering::SeqCst);
            let inner = self.inner.put_multipart_opts(location, opts).await?;
            Ok(Box::new(CountingUpload {
                inner,
                c: self.c.clone(),
            }))
        }
        async fn get_opts(
            &self,
            location: &ObjectPath,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            self.inner.get_opts(location, options).await
        }
        async fn delete(&self, location: &ObjectPath) -> object_store::Result<()> {
            self.inner.delete(location).await
        }
        fn list(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy(&self, from: &ObjectPath, to: &ObjectPath) -> object_store::Result<()> {
            self.inner.copy(from, to).await
        }
        async fn copy_if_not_exists(
            &self,
            from: &ObjectPath,
            to: &ObjectPath,
        ) -> object_store::Result<()> {
            self.inner.copy_if_not_exists(from, to).await
        }
    }

    fn counting() -> (ObjectArtifactStore, Arc<Counters>) {
        let c = Arc::new(Counters::default());
        let store = Arc::new(Counting {
            inner: InMemory::new(),
            c: c.clone(),
        });
        let s = ObjectArtifactStore::new(store, "memory", "mem", ObjectPath::from("pre/fix"));
        (s, c)
    }

    /// `data` in 64 KiB chunks, counting bytes as the consumer pulls them.
    fn counted_stream(data: Vec<u8>, c: Arc<Counters>) -> ByteStream {
        let chunks: Vec<bytes::Bytes> = data
            .chunks(64 * 1024)
            .map(bytes::Bytes::copy_from_slice)
            .collect();
        Box::pin(futures::stream::iter(chunks).map(move |b| {
            c.pulled.fetch_add(b.len() as u64, Ordering::SeqCst);
            Ok(b)
        }))
    }

    async fn sha_of(s: ByteStream) -> (u64, Vec<u8>) {
        let mut s = s;
        let mut h = Sha256::new();
        let mut n = 0;
        while let Some(c) = s.next().await {
            let c = c.unwrap();
            n += c.len() as u64;
            h.update(&c);
        }
        (n, h.finalize().to_vec())
    }

    #[tokio::test]
    async fn in_memory_passes_the_shared_suite() {
        argus_core::testkit::artifact_suite::run_all(|| async {
            ObjectArtifactStore::new(
                Arc::new(InMemory::new()),
                "memory",
                "mem",
                ObjectPath::from("p"),
            )
            .with_part_size(MIN_PART_SIZE)
        })
        .await;
    }

    #[tokio::test]
    async fn large_put_is_multipart_and_starts_before_the_end() {
        let (store, c) = counting();
        let data = content(12 * 1024 * 1024 + 7, 9);
        let k = key(ScanId::new(), "big/blob.bin");
        let n = store
            .put(&k, counted_stream(data.clone(), c.clone()))
            .await
            .unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(c.single_puts.load(Ordering::SeqCst), 0);
        assert_eq!(c.multiparts.load(Ordering::SeqCst), 1);
        // 8 MiB + 4 MiB + 7 bytes.
        assert_eq!(c.parts.load(Ordering::SeqCst), 2);
        let first = c.pulled_at_first_part.load(Ordering::SeqCst);
        assert!(
            first <= (DEFAULT_PART_SIZE + 64 * 1024) as u64,
            "first part sent only after {first} bytes were pulled"
        );
        let (len, digest) = sha_of(store.get(&k).await.unwrap()).await;
        assert_eq!(len, data.len() as u64);
        assert_eq!(digest, Sha256::digest(&data).to_vec());
    }

    #[tokio::test]
    async fn small_put_is_one_request_under_the_prefix() {
        let (store, c) = counting();
        let scan = ScanId::new();
        let k = key(scan, "out.txt");
        store
            .put(&k, stream_of(b"hello".to_vec(), 2))
            .await
            .unwrap();
        assert_eq!(c.single_puts.load(Ordering::SeqCst), 1);
        assert_eq!(c.multiparts.load(Ordering::SeqCst), 0);
        let listed: Vec<_> = store
            .store
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(listed, vec![format!("pre/fix/scans/{scan}/out.txt")]);
    }

    #[tokio::test]
    async fn failing_input_aborts_and_leaves_nothing() {
        let (store, _c) = counting();
        let k = key(ScanId::new(), "broken.bin");
        let good = content(9 * 1024 * 1024, 3);
        let stream: ByteStream = Box::pin(
            futures::stream::iter(vec![
                Ok(bytes::Bytes::from(good)),
                Err(std::io::Error::other("source went away")),
            ])
            .boxed(),
        );
        assert!(matches!(
            store.put(&k, stream).await,
            Err(CoreError::Backend(_))
        ));
        assert!(matches!(
            store.get(&k).await,
            Err(CoreError::NotFound { .. })
        ));
    }

    #[test]
    fn urls_are_parsed_and_checked() {
        let s = ObjectArtifactStore::from_url(
            "s3://bucket-a/some/prefix/",
            ObjectOptions {
                endpoint: Some("http://127.0.0.1:9".into()),
                region: Some("eu-west-1".into()),
                allow_http: true,
            },
        )
        .unwrap();
        assert_eq!(
            (s.backend(), s.bucket(), s.prefix()),
            ("s3", "bucket-a", "some/prefix")
        );
        let s = ObjectArtifactStore::from_url("s3://bucket-b", ObjectOptions::default()).unwrap();
        assert_eq!(s.prefix(), "");
        let dbg = format!("{s:?}");
        assert!(dbg.contains("bucket-b") && !dbg.contains("secret"), "{dbg}");

        for bad in [
            "ftp://bucket/x",
            "s3://",
            "not a url",
            "s3://user:pass@bucket/x",
            "s3://bucket/x?y=1",
            "s3://bucket/a//b",
        ] {
            assert!(
                matches!(
                    ObjectArtifactStore::from_url(bad, ObjectOptions::default()),
                    Err(CoreError::Invalid { .. })
                ),
                "{bad} accepted"
            );
        }
        assert!(matches!(
            ObjectArtifactStore::from_url(
                "gs://bucket/x",
                ObjectOptions {
                    endpoint: Some("http://127.0.0.1:9".into()),
                    ..Default::default()
                }
            ),
            Err(CoreError::Invalid { .. })
        ));
    }

    #[tokio::test]
    async fn a_built_store_is_wrapped_under_its_prefix() {
        let s = ObjectArtifactStore::with_store(Arc::new(InMemory::new()), "memory", "b", "p/q")
            .unwrap();
        assert_eq!((s.bucket(), s.prefix()), ("b", "p/q"));
        let k = key(ScanId::new(), "x.txt");
        s.put(&k, stream_of(b"hi".to_vec(), 1)).await.unwrap();
        let listed: Vec<_> = s
            .store
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert!(listed[0].starts_with("p/q/scans/"), "{listed:?}");
        let root =
            ObjectArtifactStore::with_store(Arc::new(InMemory::new()), "memory", "b", "").unwrap();
        assert_eq!(root.prefix(), "");
        assert!(
            ObjectArtifactStore::with_store(Arc::new(InMemory::new()), "memory", "b", "a//b")
                .is_err()
        );
    }

    #[tokio::test]
    async fn unreachable_service_is_unavailable() {
        // Port 9 (discard) on loopback: nothing listens, so the connection is refused. Static
        // dummy credentials: without them the client would ask the cloud instance-metadata
        // address, which is not loopback.
        let inner = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name("bucket")
            .with_endpoint("http://127.0.0.1:9")
            .with_region("us-east-1")
            .with_access_key_id("dummy")
            .with_secret_access_key("dummy")
            .with_client_options(client_options(true))
            .with_retry(retry_config())
            .build()
            .unwrap();
        let s = ObjectArtifactStore::new(Arc::new(inner), "s3", "bucket", ObjectPath::from("x"));
        let started = std::time::Instant::now();
        assert!(matches!(s.ping().await, Err(CoreError::Unavailable { .. })));
        assert!(started.elapsed() < PING_TIMEOUT + Duration::from_secs(2));
    }
}
