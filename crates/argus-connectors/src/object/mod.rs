//! The object-storage connector: `s3://`, `az://` and `gs://` locations through `object_store`.
//!
//! The connector is handed a built store and the prefix it covers. Building a store from a URL
//! and credentials is [`build_store`]'s (`build.rs`, also what the binary should use for the
//! artifact store, so the builder exists once); [`ObjectOpener`] (`opener.rs`) joins the two for
//! the connector registry.
//!
//! Invariants:
//! - Keys are the object paths below the location's prefix; every key is checked
//!   ([`check_key`]) before it becomes a path, so none reaches outside the prefix.
//! - Listing streams the backend's own pages (`list_with_offset`: S3's `start-after`, Azure's and
//!   GCS's lexicographic listings) and stops at `limit`: no listing is held whole in memory.
//! - Reads and actions look the object up first, so a missing object is `NotFound` even where
//!   the backend's delete is idempotent (S3).
//! - Object tags are not reachable through `object_store`: `Action::Tag` is `Unsupported`.

mod build;
mod opener;

pub use build::{build_store, parse_store_url, BuiltStore, StoreCredentials, StoreOptions};
pub use opener::ObjectOpener;

use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectStore;

use argus_core::connector::{
    check_key, check_prefix, Action, ActionOutcome, ByteStream, Connector, ConnectorError,
    ConnectorInfo, ObjectInfo, ObjectPage,
};

/// A prefix of a bucket or container.
pub struct ObjectConnector {
    store: Arc<dyn ObjectStore>,
    scheme: String,
    location: String,
    /// The location's prefix inside the store (no leading or trailing `/`; empty: the whole store).
    root: String,
}

impl std::fmt::Debug for ObjectConnector {
    // Hand-written: `object_store` clients print their credentials in `Debug`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectConnector")
            .field("location", &self.location)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn store_error(key: &str, e: object_store::Error) -> ConnectorError {
    match e {
        object_store::Error::NotFound { .. } => ConnectorError::NotFound(key.to_owned()),
        object_store::Error::PermissionDenied { source, .. }
        | object_store::Error::Unauthenticated { source, .. } => {
            ConnectorError::PermissionDenied(format!("{key}: {source}"))
        }
        other if refused(&other) => ConnectorError::PermissionDenied(format!("{key}: {other}")),
        other => ConnectorError::Backend(format!("{key}: {other}")),
    }
}

/// Whether a generic `object_store` error is the service refusing access. Listing errors reach
/// us as `Error::Generic` around the client's retry error, whose type is private to
/// `object_store`; its message carries the HTTP status, so the status is read from there.
fn refused(e: &object_store::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if text.contains("status code: 401") || text.contains("status code: 403") {
            return true;
        }
        cur = err.source();
    }
    false
}

impl ObjectConnector {
    /// The objects of `store` below `prefix`; `scheme` and `location` (a URL without
    /// credentials) are what [`Connector::describe`] reports.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        scheme: &str,
        location: &str,
        prefix: &str,
    ) -> Result<Self, ConnectorError> {
        let root = prefix.trim_matches('/').to_owned();
        if !root.is_empty() {
            check_prefix(&root)?;
        }
        Ok(ObjectConnector {
            store,
            scheme: scheme.to_owned(),
            location: location.to_owned(),
            root,
        })
    }

    fn full(&self, key: &str) -> String {
        if self.root.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.root)
        }
    }

    fn path(&self, key: &str) -> Result<Path, ConnectorError> {
        check_key(key)?;
        Path::parse(self.full(key))
            .map_err(|e| ConnectorError::Invalid(format!("key {key:?}: {e}")))
    }

    fn key_of(&self, p: &Path) -> Option<String> {
        let s = p.as_ref();
        if self.root.is_empty() {
            return Some(s.to_owned());
        }
        s.strip_prefix(&self.root)?
            .strip_prefix('/')
            .map(str::to_owned)
    }

    /// The object at `key`, which must exist.
    async fn existing(&self, key: &str) -> Result<Path, ConnectorError> {
        let path = self.path(key)?;
        self.store
            .head(&path)
            .await
            .map_err(|e| store_error(key, e))?;
        Ok(path)
    }
}

#[async_trait]
impl Connector for ObjectConnector {
    fn describe(&self) -> ConnectorInfo {
        ConnectorInfo {
            scheme: self.scheme.clone(),
            location: self.location.clone(),
            actions: vec!["none".into(), "move".into(), "delete".into()],
        }
    }

    async fn list(
        &self,
        prefix: &str,
        continuation: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, ConnectorError> {
        let limit = limit.max(1);
        // object_store prefixes match whole segments: list from the prefix's folder and keep
        // the keys that start with the prefix itself.
        let folder = prefix.rsplit_once('/').map_or("", |(d, _)| d);
        let list_root = if folder.is_empty() {
            (!self.root.is_empty()).then(|| Path::from(self.root.as_str()))
        } else {
            check_prefix(folder)?;
            Some(Path::from(self.full(folder)))
        };
        let mut stream = match continuation {
            Some(c) => {
                let offset = self
                    .path(c)
                    .map_err(|_| ConnectorError::Invalid(format!("continuation {c:?}")))?;
                self.store.list_with_offset(list_root.as_ref(), &offset)
            }
            None => self.store.list(list_root.as_ref()),
        };
        let mut objects = Vec::new();
        let mut full = false;
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| store_error(prefix, e))?;
            let Some(key) = self.key_of(&meta.location) else {
                continue;
            };
            if !key.starts_with(prefix) {
                continue;
            }
            objects.push(ObjectInfo {
                key,
                size: meta.size,
                etag: meta.e_tag,
                modified: Some(meta.last_modified),
            });
            if objects.len() >= limit {
                full = true;
                break;
            }
        }
        let continuation = if full {
            objects.last().map(|o| o.key.clone())
        } else {
            None
        };
        Ok(ObjectPage {
            objects,
            continuation,
        })
    }

    async fn read(&self, key: &str) -> Result<ByteStream, ConnectorError> {
        let path = self.path(key)?;
        let got = self
            .store
            .get(&path)
            .await
            .map_err(|e| store_error(key, e))?;
        let owned = key.to_owned();
        Ok(Box::pin(got.into_stream().map_err(move |e| {
            io::Error::other(format!("{owned}: {e}"))
        })))
    }

    async fn act(&self, key: &str, action: &Action) -> Result<ActionOutcome, ConnectorError> {
        let path = self.existing(key).await?;
        match action {
            Action::None => Ok(ActionOutcome::Nothing),
            Action::Tag { .. } => Ok(ActionOutcome::Unsupported {
                reason: "object tags are not reachable through this connector".into(),
            }),
            Action::Delete => {
                self.store
                    .delete(&path)
                    .await
                    .map_err(|e| store_error(key, e))?;
                Ok(ActionOutcome::Done { detail: None })
            }
            Action::Move { prefix } => {
                check_prefix(prefix)?;
                let dest_key = format!("{}/{key}", prefix.trim_end_matches('/'));
                let dest = self.path(&dest_key)?;
                self.store
                    .rename(&path, &dest)
                    .await
                    .map_err(|e| store_error(key, e))?;
                Ok(ActionOutcome::Done {
                    detail: Some(dest_key),
                })
            }
        }
    }
}
