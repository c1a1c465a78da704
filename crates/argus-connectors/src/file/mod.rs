//! The `file` connector: a local folder as a location (`file:///path`).
//!
//! Invariants:
//! - Keys are paths relative to the root with `/` separators, listed in ascending byte order of
//!   the whole key: a folder sorts as its name plus `/`, so a depth-first walk yields keys in the
//!   same order as a flat listing would, and "every key after the continuation" is a clean cut.
//! - A listing holds one folder's entries at a time, never the whole tree, and a page resumes
//!   after its continuation by skipping whole subtrees that sort before it.
//! - Symbolic links are neither listed nor followed, and every path is re-checked to lie inside
//!   the root after resolution: a key cannot reach outside the folder.
//! - Objects have no tags here: `Action::Tag` is `Unsupported`.

mod opener;

pub use opener::FileOpener;

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_util::io::ReaderStream;

use argus_core::connector::{
    check_key, check_prefix, Action, ActionOutcome, ByteStream, Connector, ConnectorError,
    ConnectorInfo, ObjectInfo, ObjectPage,
};

/// A local folder.
#[derive(Clone, Debug)]
pub struct FileConnector {
    /// Canonical root folder.
    root: PathBuf,
}

impl FileConnector {
    /// The folder `root`, which must exist.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, ConnectorError> {
        let root = root.as_ref();
        let canon = std::fs::canonicalize(root)
            .map_err(|e| ConnectorError::io(&root.display().to_string(), &e))?;
        if !canon.is_dir() {
            return Err(ConnectorError::Invalid(format!(
                "{} is not a folder",
                root.display()
            )));
        }
        Ok(FileConnector { root: canon })
    }

    /// The path of `key`, checked to be a key and to stay inside the root (no symlink on the
    /// way out). `must_exist` also resolves it and refuses a link as the object itself.
    fn path_of(&self, key: &str, must_exist: bool) -> Result<PathBuf, ConnectorError> {
        check_key(key)?;
        let path = self.root.join(key);
        if must_exist {
            let meta = std::fs::symlink_metadata(&path).map_err(|e| ConnectorError::io(key, &e))?;
            if !meta.is_file() {
                return Err(ConnectorError::NotFound(key.to_owned()));
            }
            // A key without folders names an entry of the canonical root that is a regular
            // file, not a link (just checked): nothing to resolve. Only folders on the way can
            // be links out of the root, and resolving them costs a readlink per component, which
            // matters at thousands of small files per second.
            if key.contains('/') {
                let canon =
                    std::fs::canonicalize(&path).map_err(|e| ConnectorError::io(key, &e))?;
                if !canon.starts_with(&self.root) {
                    return Err(ConnectorError::Invalid(format!(
                        "key {key:?} leads outside the location"
                    )));
                }
            }
        }
        Ok(path)
    }
}

fn info(key: String, meta: &std::fs::Metadata) -> ObjectInfo {
    let modified = meta.modified().ok();
    let nanos = modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    ObjectInfo {
        key,
        size: meta.len(),
        etag: Some(format!("{:x}-{nanos:x}", meta.len())),
        modified: modified.map(DateTime::<Utc>::from),
    }
}

/// One listing page, walking depth-first in key order (see the module docs).
struct Walk<'a> {
    prefix: &'a str,
    after: Option<&'a str>,
    limit: usize,
    out: Vec<ObjectInfo>,
}

impl Walk<'_> {
    /// Walks the folder `dir` whose keys start with `rel` (empty or ending in `/`); `true` once
    /// the page is full.
    fn folder(&mut self, dir: &Path, rel: &str) -> Result<bool, ConnectorError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            // A folder removed while listing has no objects left to list.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(ConnectorError::io(rel, &e)),
        };
        let mut here: Vec<(String, bool)> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| ConnectorError::io(rel, &e))?;
            let Ok(name) = entry.file_name().into_string() else {
                // A key is UTF-8; a name that is not cannot be addressed by one.
                continue;
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                here.push((format!("{rel}{name}/"), true));
            } else if kind.is_file() {
                here.push((format!("{rel}{name}"), false));
            }
            // Symbolic links and special files are not objects of the location.
        }
        here.sort();
        for (key, is_dir) in here {
            if is_dir {
                let before = self
                    .after
                    .is_some_and(|a| key.as_str() < a && !a.starts_with(&key));
                let outside = !(key.starts_with(self.prefix) || self.prefix.starts_with(&key));
                if before || outside {
                    continue;
                }
                if self.folder(&dir.join(&key[rel.len()..key.len() - 1]), &key)? {
                    return Ok(true);
                }
            } else {
                if self.after.is_some_and(|a| key.as_str() <= a) || !key.starts_with(self.prefix) {
                    continue;
                }
                let meta = match std::fs::metadata(dir.join(&key[rel.len()..])) {
                    Ok(m) => m,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(ConnectorError::io(&key, &e)),
                };
                self.out.push(info(key, &meta));
                if self.out.len() >= self.limit {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ConnectorError> + Send + 'static,
) -> Result<T, ConnectorError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ConnectorError::Backend(format!("file connector task: {e}")))?
}

#[async_trait]
impl Connector for FileConnector {
    fn describe(&self) -> ConnectorInfo {
        ConnectorInfo {
            scheme: "file".into(),
            location: format!("file://{}", self.root.display()),
            actions: vec!["none".into(), "move".into(), "delete".into()],
        }
    }

    async fn list(
        &self,
        prefix: &str,
        continuation: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, ConnectorError> {
        if let Some(c) = continuation {
            check_key(c).map_err(|_| ConnectorError::Invalid(format!("continuation {c:?}")))?;
        }
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        let after = continuation.map(str::to_owned);
        let limit = limit.max(1);
        blocking(move || {
            let mut walk = Walk {
                prefix: &prefix,
                after: after.as_deref(),
                limit,
                out: Vec::new(),
            };
            let full = walk.folder(&root, "")?;
            let continuation = if full {
                walk.out.last().map(|o| o.key.clone())
            } else {
                None
            };
            Ok(ObjectPage {
                objects: walk.out,
                continuation,
            })
        })
        .await
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.path_of(key, true).ok()
    }

    async fn read(&self, key: &str) -> Result<ByteStream, ConnectorError> {
        let path = self.path_of(key, true)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| ConnectorError::io(key, &e))?;
        Ok(Box::pin(ReaderStream::with_capacity(file, 64 * 1024)))
    }

    async fn act(&self, key: &str, action: &Action) -> Result<ActionOutcome, ConnectorError> {
        let path = self.path_of(key, true)?;
        match action {
            Action::None => Ok(ActionOutcome::Nothing),
            Action::Tag { .. } => Ok(ActionOutcome::Unsupported {
                reason: "a local folder has no object tags".into(),
            }),
            Action::Delete => {
                tokio::fs::remove_file(&path)
                    .await
                    .map_err(|e| ConnectorError::io(key, &e))?;
                Ok(ActionOutcome::Done { detail: None })
            }
            Action::Move { prefix } => {
                check_prefix(prefix)?;
                let dest_key = format!("{}/{key}", prefix.trim_end_matches('/'));
                let dest = self.path_of(&dest_key, false)?;
                if let Some(parent) = dest.parent() {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|e| ConnectorError::io(&dest_key, &e))?;
                    // A link in the quarantine path must not carry the object out of the root.
                    let canon = tokio::fs::canonicalize(parent)
                        .await
                        .map_err(|e| ConnectorError::io(&dest_key, &e))?;
                    if !canon.starts_with(&self.root) {
                        return Err(ConnectorError::Invalid(format!(
                            "quarantine prefix {prefix:?} leads outside the location"
                        )));
                    }
                }
                tokio::fs::rename(&path, &dest)
                    .await
                    .map_err(|e| ConnectorError::io(key, &e))?;
                Ok(ActionOutcome::Done {
                    detail: Some(dest_key),
                })
            }
        }
    }
}
