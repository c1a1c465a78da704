//! The shared conformance suite of [`Connector`] implementations (see `connector.rs` for the
//! semantics it checks): listing with paging in key order, resuming from a continuation,
//! prefixes, reading, every action, missing objects and keys that could leave the location.
//!
//! A backend implements [`ConnectorHarness`] (a fresh, empty location, and a side door to put
//! objects in and see what is there without going through the connector) and invokes
//! [`connector_suite_tests!`](crate::connector_suite_tests), which generates one test per case.
//! A harness whose service is not configured returns `None` from `fresh` (skip with a printed
//! reason; under `CI=true` it should fail instead, as `service_url` does).
//!
//! Refused access is a case too: a harness hands out, through [`ConnectorHarness::denied`], a
//! connector whose credentials or permissions the backend refuses, and `list` and `read` must
//! then be [`ConnectorError::PermissionDenied`] (not `NotFound`, not a generic backend error), so
//! an operator sees a permission problem as one. A backend that cannot refuse in the test
//! environment (an emulator that accepts any key, a folder read as root) returns `None` and says
//! why in a comment.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;

use crate::connector::{Action, ActionOutcome, Connector, ConnectorError, ObjectInfo};

/// A fresh location for one case.
#[async_trait]
pub trait ConnectorHarness: Send + Sync + 'static {
    /// What keeps the location alive (a temporary folder, a bucket prefix).
    type Fixture: Send + Sync;
    /// A fresh, empty location; `None` skips the case.
    async fn fresh(&self) -> Option<Self::Fixture>;
    /// The connector of the fixture's location.
    fn connector(&self, fixture: &Self::Fixture) -> Arc<dyn Connector>;
    /// Puts an object straight into the location (not through the connector).
    async fn put(&self, fixture: &Self::Fixture, key: &str, data: &[u8]);
    /// Whether an object exists, seen straight in the location.
    async fn exists(&self, fixture: &Self::Fixture, key: &str) -> bool;
    /// A connector to a location holding the object `secret.txt` (put there by the harness)
    /// whose credentials or permissions the backend refuses; `None` when the backend cannot
    /// refuse here (say why where it is implemented).
    async fn denied(&self, fixture: &Self::Fixture) -> Option<Arc<dyn Connector>> {
        let _ = fixture;
        None
    }
}

/// Generates one `#[tokio::test]` per suite case for a harness expression.
#[macro_export]
macro_rules! connector_suite_tests {
    ($harness:expr) => {
        $crate::connector_suite_tests!(@each $harness;
            empty_location_lists_nothing,
            list_pages_in_key_order,
            list_resumes_from_a_continuation,
            list_by_prefix,
            read_returns_the_content,
            missing_objects_are_not_found,
            keys_outside_the_location_are_refused,
            action_none_leaves_the_object,
            action_delete_removes_the_object,
            action_move_quarantines_the_object,
            action_tag_is_taken_or_unsupported,
            refused_access_is_permission_denied,
        );
    };
    (@each $harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                use $crate::testkit::connector_suite::ConnectorHarness as _;
                let harness = $harness;
                let Some(fixture) = harness.fresh().await else {
                    return;
                };
                $crate::testkit::connector_suite::$case(&harness, &fixture).await;
            }
        )*
    };
}

/// Content of the `i`th seeded object: distinct lengths, so sizes are checked too.
fn body(i: usize) -> Vec<u8> {
    format!("object {i} ").repeat(i + 1).into_bytes()
}

/// Every page of a listing, checked page by page (at most `limit` each, continuation only on
/// a full page… or `None` at the end).
async fn list_all(c: &dyn Connector, prefix: &str, limit: usize) -> (Vec<ObjectInfo>, usize) {
    let mut all = Vec::new();
    let mut continuation: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = c
            .list(prefix, continuation.as_deref(), limit)
            .await
            .expect("list");
        pages += 1;
        assert!(page.objects.len() <= limit, "page larger than the limit");
        all.extend(page.objects);
        match page.continuation {
            Some(next) => {
                assert_ne!(continuation.as_deref(), Some(next.as_str()), "no progress");
                continuation = Some(next);
            }
            None => break,
        }
        assert!(pages < 10_000, "listing does not end");
    }
    (all, pages)
}

async fn read_all(c: &dyn Connector, key: &str) -> Vec<u8> {
    let mut stream = c.read(key).await.expect("read");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

/// Seeds `n` objects under `dir/`, plus keys that test the key order (`a.txt` sorts before
/// `a/…`, since `.` < `/`). Returns the sorted keys with their bodies.
async fn seed<H: ConnectorHarness>(h: &H, f: &H::Fixture, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut keys: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| (format!("dir/{i:03}.bin"), body(i)))
        .collect();
    keys.push(("a.txt".into(), body(n)));
    keys.push(("a/inner/deep.txt".into(), body(n + 1)));
    keys.push(("z".into(), body(n + 2)));
    for (k, b) in &keys {
        h.put(f, k, b).await;
    }
    keys.sort();
    keys
}

/// An empty location lists one empty, final page.
pub async fn empty_location_lists_nothing<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    let c = h.connector(f);
    let page = c.list("", None, 10).await.expect("list");
    assert!(page.objects.is_empty());
    assert_eq!(page.continuation, None);
}

/// Every object exactly once, in ascending key order, with its size, over several pages.
pub async fn list_pages_in_key_order<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    let seeded = seed(h, f, 25).await;
    let c = h.connector(f);
    let (all, pages) = list_all(c.as_ref(), "", 7).await;
    let keys: Vec<&str> = all.iter().map(|o| o.key.as_str()).collect();
    let want: Vec<&str> = seeded.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, want);
    assert!(
        pages >= 4,
        "28 objects by 7 take at least 4 pages, got {pages}"
    );
    for (o, (_, b)) in all.iter().zip(&seeded) {
        assert_eq!(o.size, b.len() as u64, "size of {}", o.key);
    }
}

/// A listing started again from a page's continuation lists exactly what follows it.
pub async fn list_resumes_from_a_continuation<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    let seeded = seed(h, f, 12).await;
    let c = h.connector(f);
    let first = c.list("", None, 5).await.expect("list");
    let cont = first.continuation.clone().expect("more than one page");
    assert_eq!(
        first.objects.last().map(|o| o.key.clone()),
        Some(cont.clone())
    );
    // A fresh listing from the checkpoint, as a restarted enumeration would do.
    let mut rest = Vec::new();
    let mut next = Some(cont);
    while let Some(c_) = next {
        let page = c.list("", Some(&c_), 4).await.expect("list");
        rest.extend(page.objects.into_iter().map(|o| o.key));
        next = page.continuation;
    }
    let mut keys: Vec<String> = first.objects.into_iter().map(|o| o.key).collect();
    keys.extend(rest);
    let want: Vec<String> = seeded.into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, want, "nothing twice, nothing skipped");
}

/// A prefix limits the listing to the keys that start with it.
pub async fn list_by_prefix<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    let seeded = seed(h, f, 9).await;
    let c = h.connector(f);
    let (all, _) = list_all(c.as_ref(), "dir/", 4).await;
    let want: Vec<&str> = seeded
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.starts_with("dir/"))
        .collect();
    assert_eq!(all.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), want);
    let (a, _) = list_all(c.as_ref(), "a/", 4).await;
    assert_eq!(
        a.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["a/inner/deep.txt"]
    );
}

/// Reading gives back the bytes put, also for an object larger than one chunk.
pub async fn read_returns_the_content<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    h.put(f, "big/blob.bin", &big).await;
    h.put(f, "small.txt", b"hello").await;
    let c = h.connector(f);
    assert_eq!(read_all(c.as_ref(), "big/blob.bin").await, big);
    assert_eq!(read_all(c.as_ref(), "small.txt").await, b"hello");
}

/// A missing object is `NotFound` for reads and actions.
pub async fn missing_objects_are_not_found<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    h.put(f, "present", b"x").await;
    let c = h.connector(f);
    assert!(matches!(
        c.read("absent").await.map(|_| ()),
        Err(ConnectorError::NotFound(_))
    ));
    assert!(matches!(
        c.act("absent", &Action::Delete).await,
        Err(ConnectorError::NotFound(_))
    ));
}

/// Keys that could leave the location are refused before anything is touched.
pub async fn keys_outside_the_location_are_refused<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    h.put(f, "present", b"x").await;
    let c = h.connector(f);
    for key in ["../present", "/etc/passwd", "a/../../x", ""] {
        assert!(
            matches!(
                c.read(key).await.map(|_| ()),
                Err(ConnectorError::Invalid(_))
            ),
            "read {key:?}"
        );
        assert!(
            matches!(
                c.act(key, &Action::Delete).await,
                Err(ConnectorError::Invalid(_))
            ),
            "delete {key:?}"
        );
    }
    assert!(matches!(
        c.act(
            "present",
            &Action::Move {
                prefix: "../outside".into()
            }
        )
        .await,
        Err(ConnectorError::Invalid(_))
    ));
    assert!(h.exists(f, "present").await);
}

/// `none` does nothing.
pub async fn action_none_leaves_the_object<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    h.put(f, "keep/me", b"data").await;
    let c = h.connector(f);
    assert_eq!(
        c.act("keep/me", &Action::None).await.expect("act"),
        ActionOutcome::Nothing
    );
    assert!(h.exists(f, "keep/me").await);
}

/// `delete` removes the object; it is no longer listed.
pub async fn action_delete_removes_the_object<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    h.put(f, "bad/file.exe", b"MZ").await;
    h.put(f, "good.txt", b"ok").await;
    let c = h.connector(f);
    assert!(matches!(
        c.act("bad/file.exe", &Action::Delete).await.expect("act"),
        ActionOutcome::Done { .. }
    ));
    assert!(!h.exists(f, "bad/file.exe").await);
    let (all, _) = list_all(c.as_ref(), "", 10).await;
    assert_eq!(
        all.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["good.txt"]
    );
}

/// `move` puts the object under the quarantine prefix with its key, content intact.
pub async fn action_move_quarantines_the_object<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    h.put(f, "in/box/evil.bin", b"evil bytes").await;
    let c = h.connector(f);
    let outcome = c
        .act(
            "in/box/evil.bin",
            &Action::Move {
                prefix: "quarantine/".into(),
            },
        )
        .await
        .expect("act");
    assert_eq!(
        outcome,
        ActionOutcome::Done {
            detail: Some("quarantine/in/box/evil.bin".into())
        }
    );
    assert!(!h.exists(f, "in/box/evil.bin").await);
    assert!(h.exists(f, "quarantine/in/box/evil.bin").await);
    assert_eq!(
        read_all(c.as_ref(), "quarantine/in/box/evil.bin").await,
        b"evil bytes"
    );
}

/// `tag` is taken where the backend has tags, else reported unsupported; the object stays.
pub async fn action_tag_is_taken_or_unsupported<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    h.put(f, "tag/me", b"content").await;
    let c = h.connector(f);
    let outcome = c
        .act(
            "tag/me",
            &Action::Tag {
                name: "argus-verdict".into(),
                value: "malicious".into(),
            },
        )
        .await
        .expect("act");
    let supported = c.describe().actions.iter().any(|a| a == "tag");
    match outcome {
        ActionOutcome::Done { .. } => assert!(supported, "took an action it does not declare"),
        ActionOutcome::Unsupported { .. } => assert!(!supported, "declared but refused"),
        ActionOutcome::Nothing => panic!("a tag is not nothing"),
    }
    assert_eq!(read_all(c.as_ref(), "tag/me").await, b"content");
}

/// A location whose credentials or permissions are refused gives `PermissionDenied` for
/// listing and reading, so an operator sees a permission problem and not a missing object.
pub async fn refused_access_is_permission_denied<H: ConnectorHarness>(h: &H, f: &H::Fixture) {
    let Some(c) = h.denied(f).await else {
        eprintln!("skipping: this harness cannot refuse access here (see its `denied`)");
        return;
    };
    let listed = c.list("", None, 10).await;
    assert!(
        matches!(listed, Err(ConnectorError::PermissionDenied(_))),
        "list: {listed:?}"
    );
    let read = c.read("secret.txt").await.map(|_| ());
    assert!(
        matches!(read, Err(ConnectorError::PermissionDenied(_))),
        "read: {read:?}"
    );
}
