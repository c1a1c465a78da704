//! The SharePoint connector: a folder of a SharePoint document library (a Microsoft Graph
//! drive) as a location, `sharepoint://<site-host-or-id>/<drive-name-or-id>/<folder/path>`.
//!
//! The site is a host name (`contoso.sharepoint.com`, its root site) or a Graph site id
//! (`contoso.sharepoint.com,<guid>,<guid>`); the drive is a document library's name
//! (`Documents`, percent-encoded in the URL) or drive id; the rest is the folder's path inside
//! the drive (empty: the drive's root). Site, drive and folder are resolved on first use and
//! then kept.
//!
//! Invariants:
//! - Keys are the paths of files below the folder, `/`-separated. Listing walks the folder tree
//!   depth-first and sorts each folder's children by key, a folder's key being its name plus
//!   `/`: that yields ascending byte order of whole keys (Graph's own ordering is by
//!   case-insensitive name, which is not), and "every key after the continuation" is a clean
//!   cut of the walk.
//! - **Continuation = the last key returned.** A listing resumes by walking again from the
//!   folder down the path of that key, skipping every subtree that sorts wholly before it. Cost:
//!   a resumed page re-lists the folders on the path from the location's folder to the
//!   continuation key, each in full (all its `@odata.nextLink` pages; a folder must be listed
//!   whole to be sorted); everything else is listed once. To spare a sequential enumeration that
//!   cost, the connector keeps the walk's state of its last page (one sorted folder listing per
//!   level of the path, nothing more) for [`CURSOR_TTL`] and resumes from it when the next call
//!   passes that page's continuation; any other continuation, or an older one, re-walks. So a
//!   page holds at most one folder's entries per level of depth in memory, never the listing.
//! - Reading resolves the key by path (`/drives/{d}/root:/{folder}/{key}`), refuses folders
//!   (`NotFound`: not an object) and streams `/drives/{d}/items/{id}/content`, following Graph's
//!   redirect to the pre-authenticated download URL.
//! - `move` creates the quarantine folders below the location's folder as needed and moves the
//!   item with one `PATCH` (new parent and name): the content never leaves SharePoint.
//!   `delete` deletes the item (it goes to the site's recycle bin, as in SharePoint's UI).
//!   Tags are `Unsupported` (SharePoint has list-item columns, not object tags).
//! - Every key and prefix is checked ([`check_key`]) before it becomes a path.

mod graph;
mod opener;

pub use graph::{Auth, Graph, MAX_ATTEMPTS, MAX_RETRY_AFTER};
pub use opener::SharePointOpener;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::Deserialize;

use argus_core::connector::{
    check_key, check_prefix, Action, ActionOutcome, ByteStream, Connector, ConnectorError,
    ConnectorInfo, ObjectInfo, ObjectPage,
};

/// How long the state of a listing's last page is kept for its next page.
pub const CURSOR_TTL: Duration = Duration::from_secs(120);

/// Children asked for per Graph page (Graph's maximum for children is 999; it may send fewer).
const CHILDREN_PAGE: &str = "500";

/// The fields of a driveItem the connector reads.
const ITEM_FIELDS: &str = "id,name,size,eTag,lastModifiedDateTime,folder,file";

/// A Graph driveItem (only what is used).
#[derive(Clone, Debug, Deserialize)]
pub struct DriveItem {
    /// The item id.
    pub id: String,
    /// Its name in its folder.
    pub name: String,
    /// Size in bytes (of a folder: of its content).
    #[serde(default)]
    pub size: u64,
    /// Its version tag.
    #[serde(default, rename = "eTag")]
    pub e_tag: Option<String>,
    /// Last modification time.
    #[serde(default, rename = "lastModifiedDateTime")]
    pub last_modified: Option<DateTime<Utc>>,
    /// Present on folders.
    #[serde(default)]
    pub folder: Option<serde_json::Value>,
    /// Present on files.
    #[serde(default)]
    pub file: Option<serde_json::Value>,
}

/// A Graph collection page.
#[derive(Deserialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct Drive {
    id: String,
    #[serde(default)]
    name: String,
}

/// What a location URL names, parsed without I/O.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharePointLocation {
    /// Site host name or id.
    pub site: String,
    /// Drive (document library) name or id.
    pub drive: String,
    /// Folder path segments inside the drive (empty: its root).
    pub folder: Vec<String>,
}

impl SharePointLocation {
    /// Parses `sharepoint://<site>/<drive>/<folder/path>`.
    pub fn parse(url: &url::Url) -> Result<Self, ConnectorError> {
        let bad = |why: &str| Err(ConnectorError::Invalid(format!("{url}: {why}")));
        if url.scheme() != "sharepoint" {
            return bad("not a sharepoint:// location");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return bad("credentials do not belong in the URL: name a credential instead");
        }
        if url.query().is_some() || url.fragment().is_some() || url.port().is_some() {
            return bad("a sharepoint:// location takes no port, query or fragment");
        }
        let Some(site) = url.host_str().filter(|h| !h.is_empty()) else {
            return bad("no site: sharepoint://<site>/<library>/<folder>");
        };
        let mut segs = Vec::new();
        for s in url.path().split('/').filter(|s| !s.is_empty()) {
            let decoded = percent_decode(s)
                .ok_or_else(|| ConnectorError::Invalid(format!("{url}: bad escape in {s:?}")))?;
            segs.push(decoded);
        }
        if segs.is_empty() {
            return bad("no document library: sharepoint://<site>/<library>/<folder>");
        }
        let drive = segs.remove(0);
        if !segs.is_empty() {
            check_prefix(&segs.join("/"))?;
        }
        Ok(SharePointLocation {
            site: site.to_owned(),
            drive,
            folder: segs,
        })
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The drive and folder a location resolved to.
#[derive(Clone, Debug)]
struct Resolved {
    drive: String,
    folder_id: String,
}

/// One folder's children still to visit, in key order (the walk's stack frame).
#[derive(Clone, Debug)]
struct Frame {
    entries: std::vec::IntoIter<(String, DriveItem)>,
}

/// A listing's state after a page: resumes the next page without re-walking.
#[derive(Debug)]
struct Cursor {
    prefix: String,
    continuation: String,
    stack: Vec<Frame>,
    saved: Instant,
}

/// A folder of a SharePoint document library.
#[derive(Debug)]
pub struct SharePointConnector {
    graph: Arc<Graph>,
    location: SharePointLocation,
    url: String,
    resolved: tokio::sync::OnceCell<Resolved>,
    cursor: std::sync::Mutex<Option<Cursor>>,
}

impl SharePointConnector {
    /// The folder `location` (its URL `url`, for `describe`), reached through `graph`.
    pub fn new(graph: Arc<Graph>, location: SharePointLocation, url: &str) -> Self {
        SharePointConnector {
            graph,
            location,
            url: url.to_owned(),
            resolved: tokio::sync::OnceCell::new(),
            cursor: std::sync::Mutex::new(None),
        }
    }

    async fn resolved(&self) -> Result<&Resolved, ConnectorError> {
        self.resolved.get_or_try_init(|| self.resolve()).await
    }

    /// Site → drive → folder id (three to four Graph calls, once).
    async fn resolve(&self) -> Result<Resolved, ConnectorError> {
        let loc = &self.location;
        let site: IdOnly = self
            .graph
            .get_json(
                &format!("site {}", loc.site),
                &self.graph.url(["sites", loc.site.as_str()]),
            )
            .await?;
        let mut next = Some(self.graph.url(["sites", site.id.as_str(), "drives"]));
        let mut drive = None;
        while let Some(u) = next.take() {
            let page: Page<Drive> = self.graph.get_json("document libraries", &u).await?;
            if let Some(d) = page
                .value
                .into_iter()
                .find(|d| d.name == loc.drive || d.id == loc.drive)
            {
                drive = Some(d.id);
                break;
            }
            next = next_link(page.next_link)?;
        }
        let drive = drive.ok_or_else(|| {
            ConnectorError::NotFound(format!(
                "document library {:?} of site {}",
                loc.drive, loc.site
            ))
        })?;
        let folder = self.item_at(&drive, &loc.folder, "").await?;
        if folder.folder.is_none() {
            return Err(ConnectorError::Invalid(format!(
                "{} is a file, not a folder",
                self.url
            )));
        }
        Ok(Resolved {
            drive,
            folder_id: folder.id,
        })
    }

    /// The item at `path` (segments from the drive root), `what` naming it in errors.
    async fn item_at(
        &self,
        drive: &str,
        path: &[String],
        what: &str,
    ) -> Result<DriveItem, ConnectorError> {
        let mut u = if path.is_empty() {
            self.graph.url(["drives", drive, "root"])
        } else {
            // Path addressing: /drives/{d}/root:/a/b (each segment percent-encoded).
            self.graph.url(
                ["drives", drive, "root:"]
                    .into_iter()
                    .chain(path.iter().map(String::as_str)),
            )
        };
        u.query_pairs_mut().append_pair("$select", ITEM_FIELDS);
        let what = if what.is_empty() {
            format!("folder {}", self.url)
        } else {
            what.to_owned()
        };
        self.graph.get_json(&what, &u).await
    }

    /// The file at `key` (below the location's folder), which must exist.
    async fn file(&self, key: &str) -> Result<(String, DriveItem), ConnectorError> {
        check_key(key)?;
        let r = self.resolved().await?;
        let path: Vec<String> = self
            .location
            .folder
            .iter()
            .cloned()
            .chain(key.split('/').map(str::to_owned))
            .collect();
        let item = self.item_at(&r.drive, &path, key).await?;
        if item.folder.is_some() {
            return Err(ConnectorError::NotFound(key.to_owned()));
        }
        Ok((r.drive.clone(), item))
    }

    /// Every child of folder `id`, all pages, sorted by key (`rel` + name, `/` after folders),
    /// keeping only what can hold keys after `after` that start with `prefix`.
    async fn frame(
        &self,
        drive: &str,
        id: &str,
        rel: &str,
        prefix: &str,
        after: Option<&str>,
    ) -> Result<Frame, ConnectorError> {
        let mut u = self.graph.url(["drives", drive, "items", id, "children"]);
        u.query_pairs_mut()
            .append_pair("$select", ITEM_FIELDS)
            .append_pair("$top", CHILDREN_PAGE);
        let mut next = Some(u);
        let mut here = Vec::new();
        while let Some(u) = next.take() {
            let page: Page<DriveItem> = self
                .graph
                .get_json(&format!("folder {rel:?} of {}", self.url), &u)
                .await?;
            for item in page.value {
                let (key, keep) = if item.folder.is_some() {
                    let key = format!("{rel}{}/", item.name);
                    // A folder is walked if keys below it can match the prefix and can sort
                    // after the continuation (it contains it, or sorts wholly after it).
                    let keep = (key.starts_with(prefix) || prefix.starts_with(&key))
                        && after.is_none_or(|a| key.as_str() > a || a.starts_with(&key));
                    (key, keep)
                } else if item.file.is_some() {
                    let key = format!("{rel}{}", item.name);
                    let keep = key.starts_with(prefix) && after.is_none_or(|a| key.as_str() > a);
                    (key, keep)
                } else {
                    // Neither file nor folder (a OneNote package…): not an object.
                    continue;
                };
                if keep {
                    here.push((key, item));
                }
            }
            next = next_link(page.next_link)?;
        }
        here.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Frame {
            entries: here.into_iter(),
        })
    }

    /// The folder `segments` below the location's folder, created where missing; its id.
    async fn ensure_folder(
        &self,
        r: &Resolved,
        segments: &[&str],
    ) -> Result<String, ConnectorError> {
        let mut parent = r.folder_id.clone();
        let mut path: Vec<String> = self.location.folder.clone();
        for seg in segments {
            path.push((*seg).to_owned());
            let what = format!("quarantine folder {}", path.join("/"));
            match self.item_at(&r.drive, &path, &what).await {
                Ok(item) if item.folder.is_some() => {
                    parent = item.id;
                    continue;
                }
                Ok(_) => {
                    return Err(ConnectorError::Backend(format!(
                        "{what}: a file is in the way"
                    )))
                }
                Err(ConnectorError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            let u = self.graph.url([
                "drives",
                r.drive.as_str(),
                "items",
                parent.as_str(),
                "children",
            ]);
            let body = serde_json::json!({
                "name": seg,
                "folder": {},
                "@microsoft.graph.conflictBehavior": "fail",
            });
            match self
                .graph
                .call_or_conflict(&what, |h| h.post(u.clone()).json(&body))
                .await?
            {
                Ok(resp) => {
                    let created: IdOnly = resp.json().await.map_err(|e| {
                        ConnectorError::Backend(format!("{what}: unexpected answer: {e}"))
                    })?;
                    parent = created.id;
                }
                // Created meanwhile by a concurrent move: use it.
                Err(_) => parent = self.item_at(&r.drive, &path, &what).await?.id,
            }
        }
        Ok(parent)
    }

    fn take_cursor(&self, prefix: &str, continuation: &str) -> Option<Vec<Frame>> {
        let mut slot = self.cursor.lock().ok()?;
        let c = slot.take()?;
        (c.prefix == prefix && c.continuation == continuation && c.saved.elapsed() < CURSOR_TTL)
            .then_some(c.stack)
    }

    fn keep_cursor(&self, prefix: &str, continuation: &str, stack: Vec<Frame>) {
        if let Ok(mut slot) = self.cursor.lock() {
            *slot = Some(Cursor {
                prefix: prefix.to_owned(),
                continuation: continuation.to_owned(),
                stack,
                saved: Instant::now(),
            });
        }
    }
}

/// A `@odata.nextLink` as a URL.
fn next_link(link: Option<String>) -> Result<Option<url::Url>, ConnectorError> {
    link.map(|l| {
        url::Url::parse(&l)
            .map_err(|e| ConnectorError::Backend(format!("bad @odata.nextLink {l:?}: {e}")))
    })
    .transpose()
}

#[async_trait]
impl Connector for SharePointConnector {
    fn describe(&self) -> ConnectorInfo {
        ConnectorInfo {
            scheme: "sharepoint".into(),
            location: self.url.clone(),
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
        if let Some(c) = continuation {
            check_key(c).map_err(|_| ConnectorError::Invalid(format!("continuation {c:?}")))?;
        }
        let r = self.resolved().await?;
        let mut stack = match continuation.and_then(|c| self.take_cursor(prefix, c)) {
            Some(stack) => stack,
            None => vec![
                self.frame(&r.drive, &r.folder_id, "", prefix, continuation)
                    .await?,
            ],
        };
        let mut objects = Vec::new();
        while objects.len() < limit {
            let Some(top) = stack.last_mut() else { break };
            let Some((key, item)) = top.entries.next() else {
                stack.pop();
                continue;
            };
            if item.folder.is_some() {
                let f = self
                    .frame(&r.drive, &item.id, &key, prefix, continuation)
                    .await?;
                stack.push(f);
            } else {
                objects.push(ObjectInfo {
                    key,
                    size: item.size,
                    etag: item.e_tag,
                    modified: item.last_modified,
                });
            }
        }
        let continuation = if objects.len() >= limit {
            objects.last().map(|o| o.key.clone())
        } else {
            None
        };
        if let Some(c) = &continuation {
            self.keep_cursor(prefix, c, stack);
        }
        Ok(ObjectPage {
            objects,
            continuation,
        })
    }

    async fn read(&self, key: &str) -> Result<ByteStream, ConnectorError> {
        let (drive, item) = self.file(key).await?;
        let u = self.graph.url([
            "drives",
            drive.as_str(),
            "items",
            item.id.as_str(),
            "content",
        ]);
        let mut resp = self.graph.call(key, |h| h.get(u.clone())).await?;
        if resp.status().is_redirection() {
            // A client that does not follow redirects: fetch the pre-authenticated download
            // URL ourselves, without the bearer token (it is meant for Graph only).
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    ConnectorError::Backend(format!("{key}: redirect without a location"))
                })?
                .to_owned();
            resp = self.graph.download(key, &to).await?;
        }
        let owned = key.to_owned();
        Ok(Box::pin(resp.bytes_stream().map_err(move |e| {
            io::Error::other(format!("{owned}: {e}"))
        })))
    }

    async fn act(&self, key: &str, action: &Action) -> Result<ActionOutcome, ConnectorError> {
        if let Action::Move { prefix } = action {
            check_prefix(prefix)?;
        }
        let (drive, item) = self.file(key).await?;
        match action {
            Action::None => Ok(ActionOutcome::Nothing),
            Action::Tag { .. } => Ok(ActionOutcome::Unsupported {
                reason: "SharePoint files have no object tags".into(),
            }),
            Action::Delete => {
                let u = self
                    .graph
                    .url(["drives", drive.as_str(), "items", item.id.as_str()]);
                self.graph.call(key, |h| h.delete(u.clone())).await?;
                Ok(ActionOutcome::Done { detail: None })
            }
            Action::Move { prefix } => {
                let dest_key = format!("{}/{key}", prefix.trim_end_matches('/'));
                check_key(&dest_key)?;
                let r = self.resolved().await?;
                let mut parts: Vec<&str> = dest_key.split('/').collect();
                let name = parts.pop().unwrap_or_default().to_owned();
                let parent = self.ensure_folder(r, &parts).await?;
                let u = self
                    .graph
                    .url(["drives", drive.as_str(), "items", item.id.as_str()]);
                let body = serde_json::json!({
                    "parentReference": { "id": parent },
                    "name": name,
                });
                self.graph
                    .call(key, |h| h.patch(u.clone()).json(&body))
                    .await?;
                Ok(ActionOutcome::Done {
                    detail: Some(dest_key),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn locations_name_a_site_a_library_and_a_folder() {
        let p = |s: &str| SharePointLocation::parse(&url::Url::parse(s).unwrap());
        assert_eq!(
            p("sharepoint://contoso.sharepoint.com/Shared%20Documents/In/Box").unwrap(),
            SharePointLocation {
                site: "contoso.sharepoint.com".into(),
                drive: "Shared Documents".into(),
                folder: vec!["In".into(), "Box".into()],
            }
        );
        assert_eq!(
            p("sharepoint://contoso.sharepoint.com,1,2/b!x")
                .unwrap()
                .folder,
            Vec::<String>::new()
        );
        for bad in [
            "sharepoint://site",
            "sharepoint://site/",
            "sharepoint://u:p@site/Docs",
            "sharepoint://site/Docs?x=1",
            "s3://site/Docs",
        ] {
            assert!(
                matches!(p(bad), Err(ConnectorError::Invalid(_))),
                "{bad} accepted"
            );
        }
    }
}
