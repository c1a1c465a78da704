//! Defence in depth of `LocalArtifactStore` beyond `ArtifactName` validation: symlinks planted
//! inside a scan's folder are refused for reads and writes, and files land at the documented path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use argus_core::artifact::{ArtifactKey, ArtifactName, ArtifactStore};
use argus_core::testkit::artifact_suite::stream_of;
use argus_core::{CoreError, ScanId};
use argus_store::LocalArtifactStore;
use futures::StreamExt;

fn key(scan: ScanId, name: &str) -> ArtifactKey {
    ArtifactKey {
        scan_id: scan,
        name: ArtifactName::parse(name).unwrap(),
    }
}

#[tokio::test]
async fn files_live_under_scans_scan_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalArtifactStore::new(dir.path().join("art")).unwrap();
    let scan = ScanId::new();
    store
        .put(&key(scan, "tool/out.txt"), stream_of(b"hello".to_vec(), 2))
        .await
        .unwrap();
    let on_disk = store
        .root()
        .join("scans")
        .join(scan.to_string())
        .join("tool")
        .join("out.txt");
    assert_eq!(std::fs::read(&on_disk).unwrap(), b"hello");
    // No temporary files are left behind.
    let left: Vec<_> = std::fs::read_dir(on_disk.parent().unwrap())
        .unwrap()
        .collect();
    assert_eq!(left.len(), 1);
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), b"do not read").unwrap();
    let store = LocalArtifactStore::new(dir.path().join("art")).unwrap();
    let scan = ScanId::new();
    let scan_dir = store.root().join("scans").join(scan.to_string());
    std::fs::create_dir_all(&scan_dir).unwrap();
    // A folder symlink pointing outside the scan's folder.
    std::os::unix::fs::symlink(&outside, scan_dir.join("link")).unwrap();
    // A file symlink.
    std::os::unix::fs::symlink(outside.join("secret.txt"), scan_dir.join("file.txt")).unwrap();

    for name in ["link/secret.txt", "file.txt"] {
        match store.get(&key(scan, name)).await {
            Err(CoreError::Invalid { .. }) => {}
            Err(e) => panic!("get {name}: expected Invalid, got {e:?}"),
            Ok(mut s) => panic!("get {name} followed a symlink: {:?}", s.next().await),
        }
    }
    match store
        .put(&key(scan, "link/new.txt"), stream_of(b"x".to_vec(), 1))
        .await
    {
        Err(CoreError::Invalid { .. }) => {}
        other => panic!("put through a symlink: {other:?}"),
    }
    assert!(!outside.join("new.txt").exists());
    assert_eq!(
        std::fs::read(outside.join("secret.txt")).unwrap(),
        b"do not read"
    );

    // delete_scan removes the scan folder but never follows links out of it.
    store.delete_scan(scan).await.unwrap();
    assert!(!scan_dir.exists());
    assert!(outside.join("secret.txt").exists());
}
