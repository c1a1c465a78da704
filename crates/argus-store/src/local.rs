//! [`LocalArtifactStore`]: artifacts as files under `{root}/scans/{scan_id}/{name}`.
//!
//! Invariants:
//! - Content is streamed in and out, never held whole in memory.
//! - A write goes to a hidden temporary file in the destination folder and is renamed into place,
//!   so readers see the old content or the new one, never a partial file. (`ArtifactName` forbids
//!   segments starting with `.`, so temporary names cannot clash with artifacts.)
//! - Defence in depth beyond `ArtifactName` validation: every path component below the root is
//!   checked not to be a symlink, and the resolved folder must stay inside `{root}/scans/{scan_id}`.

use async_trait::async_trait;
use futures::StreamExt;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use argus_core::artifact::{ArtifactKey, ArtifactStore, ByteStream, StoredScan};
use argus_core::{CoreError, Result, ScanId};

/// Chunk size for streaming reads.
const CHUNK: usize = 64 * 1024;

/// Artifacts on the local file system.
#[derive(Clone, Debug)]
pub struct LocalArtifactStore {
    /// Canonical root folder.
    root: PathBuf,
}

fn io_err(what: &str, e: std::io::Error) -> CoreError {
    CoreError::Backend(format!("artifact store: {what}: {e}"))
}

fn escape() -> CoreError {
    CoreError::invalid("/name", "artifact path leaves its scan folder")
}

impl LocalArtifactStore {
    /// Opens (creating if needed) an artifact folder.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join("scans")).map_err(|e| io_err("cannot create root", e))?;
        let root = root
            .canonicalize()
            .map_err(|e| io_err("cannot resolve root", e))?;
        Ok(LocalArtifactStore { root })
    }

    /// The canonical root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn scan_dir(&self, scan: ScanId) -> PathBuf {
        self.root.join("scans").join(scan.to_string())
    }

    fn path_of(&self, key: &ArtifactKey) -> PathBuf {
        let mut p = self.scan_dir(key.scan_id);
        for seg in key.name.as_str().split('/') {
            p.push(seg);
        }
        p
    }

    /// Fails if any existing component between the root and `path` is a symlink, or if `path`'s
    /// folder does not resolve inside the scan's folder.
    async fn check_path(&self, scan: ScanId, path: &Path) -> Result<()> {
        let rel = path.strip_prefix(&self.root).map_err(|_| escape())?;
        let mut cur = self.root.clone();
        for comp in rel.components() {
            match comp {
                std::path::Component::Normal(c) => cur.push(c),
                _ => return Err(escape()),
            }
            match tokio::fs::symlink_metadata(&cur).await {
                Ok(m) if m.file_type().is_symlink() => return Err(escape()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(io_err("cannot inspect path", e)),
            }
        }
        let scan_dir = self.scan_dir(scan);
        if let Some(parent) = path.parent() {
            if let Ok(resolved) = tokio::fs::canonicalize(parent).await {
                if !resolved.starts_with(&scan_dir) {
                    return Err(escape());
                }
            }
        }
        Ok(())
    }

    async fn write_stream(&self, key: &ArtifactKey, mut data: ByteStream) -> Result<u64> {
        let path = self.path_of(key);
        self.check_path(key.scan_id, &path).await?;
        let dir = path.parent().ok_or_else(escape)?.to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_err("cannot create folder", e))?;
        // Re-check now that the folders exist (a symlink could have been planted meanwhile).
        self.check_path(key.scan_id, &path).await?;
        let file_name = path
            .file_name()
            .ok_or_else(escape)?
            .to_string_lossy()
            .into_owned();
        let tmp = dir.join(format!(
            ".{file_name}.{}.tmp",
            uuid::Uuid::now_v7().simple()
        ));
        let result = async {
            let mut f = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| io_err("cannot create file", e))?;
            let mut n = 0u64;
            while let Some(chunk) = data.next().await {
                let chunk = chunk.map_err(|e| io_err("reading input stream", e))?;
                f.write_all(&chunk)
                    .await
                    .map_err(|e| io_err("cannot write", e))?;
                n += chunk.len() as u64;
            }
            f.flush().await.map_err(|e| io_err("cannot write", e))?;
            f.sync_data().await.map_err(|e| io_err("cannot sync", e))?;
            drop(f);
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| io_err("cannot rename", e))?;
            Ok::<u64, CoreError>(n)
        }
        .await;
        if result.is_err() {
            // Best effort: the temporary file may not exist if creation failed.
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }
}

#[async_trait]
impl ArtifactStore for LocalArtifactStore {
    fn backend(&self) -> &'static str {
        "local"
    }

    async fn put(&self, key: &ArtifactKey, data: ByteStream) -> Result<u64> {
        self.write_stream(key, data).await
    }

    async fn put_file(&self, key: &ArtifactKey, path: &Path) -> Result<u64> {
        let f = match tokio::fs::File::open(path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CoreError::not_found("file", path.display()))
            }
            Err(e) => return Err(io_err("cannot open source file", e)),
        };
        self.write_stream(key, Box::pin(ReaderStream::with_capacity(f, CHUNK)))
            .await
    }

    async fn get(&self, key: &ArtifactKey) -> Result<ByteStream> {
        let path = self.path_of(key);
        self.check_path(key.scan_id, &path).await?;
        match tokio::fs::symlink_metadata(&path).await {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(CoreError::not_found("artifact", key.object_key())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CoreError::not_found("artifact", key.object_key()))
            }
            Err(e) => return Err(io_err("cannot inspect artifact", e)),
        }
        let f = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CoreError::not_found("artifact", key.object_key()))
            }
            Err(e) => return Err(io_err("cannot open artifact", e)),
        };
        Ok(Box::pin(ReaderStream::with_capacity(f, CHUNK)))
    }

    async fn delete_scan(&self, scan: ScanId) -> Result<()> {
        let dir = self.scan_dir(scan);
        match tokio::fs::symlink_metadata(&dir).await {
            // A symlinked scan folder was not made by us: remove the link, never its target.
            Ok(m) if m.file_type().is_symlink() => tokio::fs::remove_file(&dir)
                .await
                .map_err(|e| io_err("cannot remove link", e)),
            Ok(_) => match tokio::fs::remove_dir_all(&dir).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_err("cannot remove scan folder", e)),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("cannot inspect scan folder", e)),
        }
    }

    async fn list_scans(&self) -> Result<Vec<StoredScan>> {
        let scans = self.root.join("scans");
        // A plain walk of lstat calls: blocking file-system work, off the async threads.
        tokio::task::spawn_blocking(move || list_scan_dirs(&scans))
            .await
            .map_err(|e| CoreError::Backend(format!("artifact store: listing stopped: {e}")))?
    }

    async fn ping(&self) -> Result<()> {
        let m = tokio::fs::metadata(self.root.join("scans"))
            .await
            .map_err(|e| CoreError::Unavailable {
                what: "artifact store",
                message: e.to_string(),
            })?;
        if m.is_dir() {
            Ok(())
        } else {
            Err(CoreError::Unavailable {
                what: "artifact store",
                message: "root is not a folder".into(),
            })
        }
    }
}

/// Every folder under `scans` named by a scan id, summed up without following links (a
/// symlinked scan folder is listed empty, as `delete_scan` removes only the link).
fn list_scan_dirs(scans: &Path) -> Result<Vec<StoredScan>> {
    let entries = match std::fs::read_dir(scans) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("cannot list scans", e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err("cannot list scans", e))?;
        let Some(scan_id) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<ScanId>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            // Removed meanwhile (a concurrent delete).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("cannot inspect scan folder", e)),
        };
        let mut stored = StoredScan {
            scan_id,
            objects: 0,
            bytes: 0,
            last_modified: modified(&meta),
        };
        if meta.is_dir() {
            walk(&path, &mut stored)?;
        }
        out.push(stored);
    }
    out.sort_by_key(|s| s.scan_id);
    Ok(out)
}

fn walk(dir: &Path, into: &mut StoredScan) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("cannot list scan folder", e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_err("cannot list scan folder", e))?;
        let meta = match std::fs::symlink_metadata(entry.path()) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("cannot inspect artifact", e)),
        };
        into.last_modified = into.last_modified.max(modified(&meta));
        if meta.is_dir() {
            walk(&entry.path(), into)?;
        } else {
            into.objects += 1;
            into.bytes += meta.len();
        }
    }
    Ok(())
}

fn modified(meta: &std::fs::Metadata) -> chrono::DateTime<chrono::Utc> {
    // A file system without modification times: "now", so nothing is ever old enough to go.
    meta.modified()
        .map(chrono::DateTime::<chrono::Utc>::from)
        .unwrap_or_else(|_| chrono::Utc::now())
}
