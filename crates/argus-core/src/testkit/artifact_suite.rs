//! ArtifactStore conformance suite: round trips of streamed content, files, overwrite,
//! NotFound and per-scan deletion, checked the same way for every backend.
//!
//! Usage: `argus_core::testkit::artifact_suite::run_all(|| async { make_store() }).await`;
//! each case gets a fresh store from `make`. Every case is also public.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Arc;

use crate::artifact::{ArtifactKey, ArtifactName, ArtifactStore, ByteStream};
use crate::error::CoreError;
use crate::ids::ScanId;

/// A key in `scan` named `name`.
pub fn key(scan: ScanId, name: &str) -> ArtifactKey {
    ArtifactKey {
        scan_id: scan,
        name: ArtifactName::parse(name).unwrap(),
    }
}

/// Deterministic pseudo-random content of `len` bytes (not compressible, not repetitive).
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// `data` as a stream of `chunk`-sized pieces.
pub fn stream_of(data: Vec<u8>, chunk: usize) -> ByteStream {
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

/// Reads a stream fully, returning (length, sha256, bytes when small).
async fn drain(mut s: ByteStream) -> (u64, Vec<u8>, Vec<u8>) {
    let mut h = Sha256::new();
    let mut n = 0u64;
    let mut small = Vec::new();
    while let Some(chunk) = s.next().await {
        let chunk = chunk.unwrap();
        h.update(&chunk);
        n += chunk.len() as u64;
        if small.len() < 1 << 20 {
            small.extend_from_slice(&chunk);
        }
    }
    (n, h.finalize().to_vec(), small)
}

fn sha(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

fn assert_not_found<T>(r: Result<T, CoreError>, what: &str) {
    match r {
        Err(CoreError::NotFound { .. }) => {}
        Err(e) => panic!("{what}: expected NotFound, got {e:?}"),
        Ok(_) => panic!("{what}: expected NotFound, got a value"),
    }
}

/// Runs every case, each against a fresh store from `make`.
pub async fn run_all<A, F, Fut>(make: F)
where
    A: ArtifactStore,
    F: Fn() -> Fut,
    Fut: Future<Output = A>,
{
    macro_rules! cases {
        ($($case:ident),* $(,)?) => {$(
            eprintln!("artifact_suite: {}", stringify!($case));
            $case(Arc::new(make().await)).await;
        )*};
    }
    cases!(
        round_trip_multi_mb,
        put_file_round_trip,
        overwrite_replaces,
        missing_is_not_found,
        delete_scan_removes_all,
        empty_artifact,
        list_scans_sums_folders
    );
}

/// A multi-megabyte stream in odd-sized chunks comes back byte for byte.
pub async fn round_trip_multi_mb<A: ArtifactStore>(store: Arc<A>) {
    store.ping().await.unwrap();
    assert!(!store.backend().is_empty());
    let data = content(5 * 1024 * 1024 + 123, 1);
    let k = key(ScanId::new(), "tool/out.bin");
    let n = store
        .put(&k, stream_of(data.clone(), 70_001))
        .await
        .unwrap();
    assert_eq!(n, data.len() as u64);
    let (len, digest, _) = drain(store.get(&k).await.unwrap()).await;
    assert_eq!(len, data.len() as u64);
    assert_eq!(digest, sha(&data));
}

/// `put_file` streams a local file in.
pub async fn put_file_round_trip<A: ArtifactStore>(store: Arc<A>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.bin");
    let data = content(3 * 1024 * 1024, 2);
    std::fs::write(&path, &data).unwrap();
    let k = key(ScanId::new(), "repo.bundle");
    assert_eq!(store.put_file(&k, &path).await.unwrap(), data.len() as u64);
    let (len, digest, _) = drain(store.get(&k).await.unwrap()).await;
    assert_eq!((len, digest), (data.len() as u64, sha(&data)));
    assert_not_found(
        store
            .put_file(&key(ScanId::new(), "x"), &dir.path().join("absent"))
            .await,
        "missing file",
    );
}

/// Putting a key again replaces its content entirely (also with shorter content).
pub async fn overwrite_replaces<A: ArtifactStore>(store: Arc<A>) {
    let k = key(ScanId::new(), "stdout.txt");
    store
        .put(&k, stream_of(b"first version, quite long".to_vec(), 4))
        .await
        .unwrap();
    store
        .put(&k, stream_of(b"second".to_vec(), 4))
        .await
        .unwrap();
    let (_, _, bytes) = drain(store.get(&k).await.unwrap()).await;
    assert_eq!(bytes, b"second");
}

/// Absent keys and scans are NotFound.
pub async fn missing_is_not_found<A: ArtifactStore>(store: Arc<A>) {
    let scan = ScanId::new();
    assert_not_found(store.get(&key(scan, "nothing.txt")).await, "unknown scan");
    store
        .put(&key(scan, "a/b.txt"), stream_of(b"x".to_vec(), 1))
        .await
        .unwrap();
    assert_not_found(store.get(&key(scan, "a/c.txt")).await, "unknown name");
    // A folder-like prefix is not an artifact.
    assert_not_found(store.get(&key(scan, "a")).await, "prefix");
}

/// `delete_scan` removes every artifact of the scan (idempotently) and nothing else.
pub async fn delete_scan_removes_all<A: ArtifactStore>(store: Arc<A>) {
    let (s1, s2) = (ScanId::new(), ScanId::new());
    for name in ["one.txt", "deep/two.txt"] {
        store
            .put(&key(s1, name), stream_of(b"data".to_vec(), 2))
            .await
            .unwrap();
    }
    store
        .put(&key(s2, "one.txt"), stream_of(b"keep".to_vec(), 2))
        .await
        .unwrap();
    store.delete_scan(s1).await.unwrap();
    assert_not_found(store.get(&key(s1, "one.txt")).await, "deleted");
    assert_not_found(store.get(&key(s1, "deep/two.txt")).await, "deleted nested");
    store.delete_scan(s1).await.unwrap();
    store.delete_scan(ScanId::new()).await.unwrap();
    let (_, _, bytes) = drain(store.get(&key(s2, "one.txt")).await.unwrap()).await;
    assert_eq!(bytes, b"keep");
}

/// Zero-byte artifacts exist and read back empty.
pub async fn empty_artifact<A: ArtifactStore>(store: Arc<A>) {
    let k = key(ScanId::new(), "empty.txt");
    assert_eq!(store.put(&k, stream_of(Vec::new(), 1)).await.unwrap(), 0);
    let (len, _, _) = drain(store.get(&k).await.unwrap()).await;
    assert_eq!(len, 0);
}

/// `list_scans` lists each scan folder once with its file count, size and a recent
/// modification time, private files included; a deleted scan is no longer listed. (Other
/// scans may share the store: only this case's are checked.)
pub async fn list_scans_sums_folders<A: ArtifactStore>(store: Arc<A>) {
    let before = chrono::Utc::now() - chrono::Duration::minutes(5);
    let (s1, s2) = (ScanId::new(), ScanId::new());
    for (name, len) in [
        ("one.txt", 3usize),
        ("deep/two.txt", 5),
        ("private/x/sealed", 7),
    ] {
        store
            .put(&key(s1, name), stream_of(vec![b'x'; len], 2))
            .await
            .unwrap();
    }
    store
        .put(&key(s2, "only.txt"), stream_of(vec![b'y'; 11], 4))
        .await
        .unwrap();
    let listed = store.list_scans().await.unwrap();
    let of = |id: ScanId| {
        listed
            .iter()
            .filter(|s| s.scan_id == id)
            .collect::<Vec<_>>()
    };
    let one = of(s1);
    assert_eq!(one.len(), 1, "one entry per scan: {listed:?}");
    assert_eq!((one[0].objects, one[0].bytes), (3, 15));
    assert!(one[0].last_modified > before, "{:?}", one[0]);
    let two = of(s2);
    assert_eq!((two[0].objects, two[0].bytes), (1, 11));
    store.delete_scan(s1).await.unwrap();
    let listed = store.list_scans().await.unwrap();
    assert!(
        !listed.iter().any(|s| s.scan_id == s1),
        "deleted scan listed"
    );
    assert!(listed.iter().any(|s| s.scan_id == s2));
}
