//! The shared connector suite (`argus_core::testkit::connector_suite`) for every connector of
//! this crate, one test per case: a local folder; S3 on moto and Azure Blob on Azurite (started
//! by `.ci/run`); GCS and SharePoint on local fakes speaking their wire protocols (`fakes/`).
//! The cloud connectors are opened the way the server opens them: through the registry built
//! from a `[connectors]` config with named credentials whose secrets come from the environment
//! door.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fakes;

use std::collections::BTreeMap;
use std::sync::Arc;

use argus_connectors::{ConnectorsConfig, CredentialConfig};
use argus_core::component::ConnectorRegistry;
use argus_core::connector::Connector;
use argus_core::door::FixedEnv;

/// A registry with the credentials `creds` (name → config), their secrets in `env`.
fn registry(creds: Vec<(&str, CredentialConfig)>, env: &[(&str, &str)]) -> ConnectorRegistry {
    let config = ConnectorsConfig {
        allow_ambient_credentials: false,
        credentials: creds.into_iter().map(|(n, c)| (n.to_owned(), c)).collect(),
    };
    let env = FixedEnv(
        env.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    );
    argus_connectors::registry(
        &config,
        &env,
        Arc::new(argus_scanners::http::ReqwestDoor::new()),
    )
    .expect("registry")
}

fn open(r: &ConnectorRegistry, location: &str, credential: Option<&str>) -> Arc<dyn Connector> {
    r.open(&url::Url::parse(location).unwrap(), credential)
        .expect("open")
}

mod file {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    use argus_connectors::FileConnector;
    use argus_core::connector::Connector;
    use argus_core::testkit::connector_suite::ConnectorHarness;

    /// A temporary folder; objects are put and checked with plain file operations.
    struct Folder;

    /// The folder, and a locked folder made by `denied` (its mode restored on drop, so the
    /// temporary folder can be removed).
    struct Fixture {
        dir: tempfile::TempDir,
        locked: std::sync::Mutex<Option<std::path::PathBuf>>,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            if let Some(p) = self.locked.lock().unwrap().take() {
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
            }
        }
    }

    #[async_trait::async_trait]
    impl ConnectorHarness for Folder {
        type Fixture = Fixture;

        async fn fresh(&self) -> Option<Fixture> {
            Some(Fixture {
                dir: tempfile::tempdir().expect("temporary folder"),
                locked: std::sync::Mutex::new(None),
            })
        }

        fn connector(&self, f: &Fixture) -> Arc<dyn Connector> {
            Arc::new(FileConnector::new(f.dir.path()).expect("file connector"))
        }

        async fn put(&self, f: &Fixture, key: &str, data: &[u8]) {
            let path = f.dir.path().join(key);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, data).expect("write");
        }

        async fn exists(&self, f: &Fixture, key: &str) -> bool {
            f.dir.path().join(key).is_file()
        }

        /// A folder with mode 000. A process with CAP_DAC_OVERRIDE (root, as in this project's
        /// CI containers) reads it regardless, and no file mode refuses root: then `None`, found
        /// by probing rather than by asking who we are.
        async fn denied(&self, f: &Fixture) -> Option<Arc<dyn Connector>> {
            let locked = f.dir.path().join("locked");
            std::fs::create_dir(&locked).unwrap();
            std::fs::write(locked.join("secret.txt"), b"s").unwrap();
            let connector = FileConnector::new(&locked).expect("file connector");
            std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
            *f.locked.lock().unwrap() = Some(locked.clone());
            if std::fs::read_dir(&locked).is_ok() {
                eprintln!("file modes do not refuse this process (root): no denied folder");
                return None;
            }
            Some(Arc::new(connector))
        }
    }

    argus_core::connector_suite_tests!(Folder);
}

/// S3 (moto's server in `.ci/run`), Azure Blob (Azurite) and GCS (the local fake), each fixture
/// under its own prefix of the test bucket/container, opened through the registry with a named
/// credential; objects are put and checked with `object_store` directly (S3, Azure) or in the
/// fake (GCS). Environment as for `argus-store`'s object suite: `ARGUS_TEST_S3_URL` /
/// `_ENDPOINT`, `ARGUS_TEST_AZURE_URL` / `_ENDPOINT` and the emulators' credentials (skip when
/// unset, fail under CI=true).
#[cfg(feature = "object-store")]
mod object {
    use std::sync::Arc;

    use argus_connectors::object::{build_store, StoreCredentials, StoreOptions};
    use argus_connectors::CredentialConfig;
    use argus_core::connector::Connector;
    use argus_core::redacted::Redacted;
    use argus_core::testkit::connector_suite::ConnectorHarness;
    use object_store::path::Path;
    use object_store::ObjectStore;

    use crate::fakes::gcs::{self as gcs_fake, GcsFake};

    /// Where a fixture's objects are put and seen without the connector.
    enum SideDoor {
        Store(Arc<dyn ObjectStore>),
        Fake(GcsFake),
    }

    pub struct Fixture {
        side: SideDoor,
        prefix: String,
        connector: Arc<dyn Connector>,
        denied: Option<Arc<dyn Connector>>,
    }

    fn var(name: &str) -> String {
        std::env::var(name).unwrap_or_default()
    }

    /// One object-storage service: how to make a fixture on it.
    pub struct Cloud {
        fresh: fn(String) -> futures::future::BoxFuture<'static, Option<Fixture>>,
    }

    fn fixture_prefix() -> String {
        format!("t-{}", uuid::Uuid::now_v7().simple())
    }

    /// S3 on moto, with the emulator's dummy keys as a named credential. No denied connector:
    /// moto's server checks no signature unless its IAM emulation is switched on
    /// (`INITIAL_NO_AUTH_ACTION_COUNT`), so any key is accepted.
    pub const S3: Cloud = Cloud {
        fresh: |prefix| {
            Box::pin(async move {
                let url = argus_core::testkit::service_url("ARGUS_TEST_S3_URL")?;
                let endpoint = var("ARGUS_TEST_S3_ENDPOINT");
                let cred = CredentialConfig {
                    scheme: "s3".into(),
                    locations: vec![url.clone()],
                    endpoint: Some(endpoint.clone()),
                    region: Some("us-east-1".into()),
                    allow_http: true,
                    access_key_id_env: Some("K".into()),
                    secret_access_key_env: Some("S".into()),
                    ..Default::default()
                };
                let (k, s) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"));
                let r = crate::registry(vec![("moto", cred)], &[("K", &k), ("S", &s)]);
                let location = format!("{url}/{prefix}");
                let side = build_store(
                    &url::Url::parse(&url).unwrap(),
                    &StoreOptions {
                        endpoint: Some(endpoint),
                        allow_http: true,
                        credentials: StoreCredentials::S3 {
                            access_key_id: Redacted::new(k),
                            secret_access_key: Redacted::new(s),
                            session_token: None,
                        },
                        ..Default::default()
                    },
                )
                .unwrap();
                Some(Fixture {
                    side: SideDoor::Store(side.store),
                    connector: crate::open(&r, &location, Some("moto")),
                    denied: None,
                    prefix,
                })
            })
        },
    };

    /// Azure Blob on Azurite; the denied connector has a wrong account key, which Azurite
    /// refuses (403 AuthorizationFailure), as Azure does.
    pub const AZURE: Cloud = Cloud {
        fresh: |prefix| {
            Box::pin(async move {
                let url = argus_core::testkit::service_url("ARGUS_TEST_AZURE_URL")?;
                let endpoint = var("ARGUS_TEST_AZURE_ENDPOINT");
                let account = var("AZURE_STORAGE_ACCOUNT_NAME");
                let key = var("AZURE_STORAGE_ACCOUNT_KEY");
                let cred = |env: &str| CredentialConfig {
                    scheme: "az".into(),
                    endpoint: Some(endpoint.clone()),
                    allow_http: true,
                    account: Some(account.clone()),
                    account_key_env: Some(env.into()),
                    ..Default::default()
                };
                // A well-formed key of the right length that is not the account's.
                let wrong = "d3JvbmcgYWNjb3VudCBrZXkgZm9yIGF6dXJpdGUgdGVzdHMgb25seSAtIG5vdCBhIHNlY3JldCEhISEhISE=";
                let r = crate::registry(
                    vec![("azurite", cred("K")), ("wrong-key", cred("W"))],
                    &[("K", &key), ("W", wrong)],
                );
                let location = format!("{url}/{prefix}");
                let side = build_store(
                    &url::Url::parse(&url).unwrap(),
                    &StoreOptions {
                        endpoint: Some(endpoint),
                        allow_http: true,
                        credentials: StoreCredentials::Azure {
                            account,
                            access_key: Redacted::new(key),
                        },
                        ..Default::default()
                    },
                )
                .unwrap();
                Some(Fixture {
                    side: SideDoor::Store(side.store),
                    connector: crate::open(&r, &location, Some("azurite")),
                    denied: Some(crate::open(&r, &location, Some("wrong-key"))),
                    prefix,
                })
            })
        },
    };

    /// GCS on the local fake (`fakes/gcs.rs`), its base URL given as the credential's
    /// endpoint; the denied connector signs as a service account without access to the bucket.
    pub const GCS: Cloud = Cloud {
        fresh: |prefix| {
            Box::pin(async move {
                let fake = GcsFake::start().await;
                let cred = |env: &str| CredentialConfig {
                    scheme: "gs".into(),
                    endpoint: Some(fake.base.clone()),
                    allow_http: true,
                    service_account_env: Some(env.into()),
                    ..Default::default()
                };
                let r = crate::registry(
                    vec![("gcs", cred("K")), ("other-account", cred("D"))],
                    &[
                        ("K", &gcs_fake::service_account_key(gcs_fake::ACCOUNT)),
                        (
                            "D",
                            &gcs_fake::service_account_key(gcs_fake::DENIED_ACCOUNT),
                        ),
                    ],
                );
                let location = format!("gs://{}/{prefix}", gcs_fake::BUCKET);
                Some(Fixture {
                    connector: crate::open(&r, &location, Some("gcs")),
                    denied: Some(crate::open(&r, &location, Some("other-account"))),
                    side: SideDoor::Fake(fake),
                    prefix,
                })
            })
        },
    };

    #[async_trait::async_trait]
    impl ConnectorHarness for Cloud {
        type Fixture = Fixture;

        /// A fresh prefix of the service's test bucket or container.
        async fn fresh(&self) -> Option<Fixture> {
            (self.fresh)(fixture_prefix()).await
        }

        fn connector(&self, f: &Fixture) -> Arc<dyn Connector> {
            f.connector.clone()
        }

        async fn put(&self, f: &Fixture, key: &str, data: &[u8]) {
            let name = format!("{}/{key}", f.prefix);
            match &f.side {
                SideDoor::Store(s) => {
                    s.put(&Path::from(name), data.to_vec().into())
                        .await
                        .expect("put");
                }
                SideDoor::Fake(fake) => fake.put(&name, data),
            }
        }

        async fn exists(&self, f: &Fixture, key: &str) -> bool {
            let name = format!("{}/{key}", f.prefix);
            match &f.side {
                SideDoor::Store(s) => s.head(&Path::from(name)).await.is_ok(),
                SideDoor::Fake(fake) => fake.exists(&name),
            }
        }

        async fn denied(&self, f: &Fixture) -> Option<Arc<dyn Connector>> {
            self.put(f, "secret.txt", b"s").await;
            f.denied.clone()
        }
    }

    mod s3 {
        argus_core::connector_suite_tests!(super::S3);
    }

    mod azure {
        argus_core::connector_suite_tests!(super::AZURE);
    }

    mod gcs {
        argus_core::connector_suite_tests!(super::GCS);
    }

    /// The GCS fake also speaks the XML multipart upload `object_store` uses for large writes
    /// (not needed by connectors, which only read, copy and delete; kept checked so the fake
    /// can carry an artifact-store suite on GCS too).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gcs_fake_takes_multipart_uploads() {
        use object_store::{ObjectStore, WriteMultipart};

        let fake = GcsFake::start().await;
        let built = build_store(
            &url::Url::parse(&format!("gs://{}", gcs_fake::BUCKET)).unwrap(),
            &StoreOptions {
                endpoint: Some(fake.base.clone()),
                allow_http: true,
                credentials: StoreCredentials::Gcs {
                    service_account_key: Redacted::new(gcs_fake::service_account_key(
                        gcs_fake::ACCOUNT,
                    )),
                },
                ..Default::default()
            },
        )
        .unwrap();
        let data: Vec<u8> = (0..(11 * 1024 * 1024u32))
            .map(|i| (i % 253) as u8)
            .collect();
        let path = Path::from("big/upload.bin");
        let upload = built.store.put_multipart(&path).await.unwrap();
        let mut w = WriteMultipart::new_with_chunk_size(upload, 5 * 1024 * 1024);
        w.write(&data);
        w.finish().await.unwrap();
        let got = built.store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data, "content differs");
        assert!(fake.exists("big/upload.bin"));
    }
}

/// SharePoint on the Graph fake (`fakes/graph.rs`), each fixture a fresh fake with the
/// location's folder two levels below the library root; objects are put and checked in the
/// fake. The connector authenticates with the client-credentials grant, and the fake throttles
/// every few requests.
mod sharepoint {
    use std::sync::Arc;

    use argus_connectors::CredentialConfig;
    use argus_core::connector::Connector;
    use argus_core::testkit::connector_suite::ConnectorHarness;

    use crate::fakes::graph::{self, GraphFake};

    pub struct SharePoint;

    pub struct Fixture {
        pub fake: GraphFake,
        pub folder: String,
        pub connector: Arc<dyn Connector>,
        pub denied: Arc<dyn Connector>,
    }

    pub fn credential(fake: &GraphFake, client: &str) -> CredentialConfig {
        CredentialConfig {
            scheme: "sharepoint".into(),
            tenant_id: Some("tenant-1".into()),
            client_id: Some(client.into()),
            client_secret_env: Some("GRAPH_SECRET".into()),
            token_url: Some(fake.token_url()),
            graph_url: Some(fake.graph_url()),
            ..Default::default()
        }
    }

    pub async fn fixture() -> Fixture {
        let fake = GraphFake::start().await;
        let folder = format!("Scans/t-{}", uuid::Uuid::now_v7().simple());
        fake.mkdir(&folder);
        let r = crate::registry(
            vec![
                ("intranet", credential(&fake, graph::CLIENT)),
                ("no-site", credential(&fake, graph::DENIED_CLIENT)),
            ],
            &[("GRAPH_SECRET", graph::SECRET)],
        );
        let location = format!("sharepoint://{}/{}/{folder}", graph::SITE, graph::LIBRARY);
        Fixture {
            connector: crate::open(&r, &location, Some("intranet")),
            denied: crate::open(&r, &location, Some("no-site")),
            fake,
            folder,
        }
    }

    #[async_trait::async_trait]
    impl ConnectorHarness for SharePoint {
        type Fixture = Fixture;

        async fn fresh(&self) -> Option<Fixture> {
            Some(fixture().await)
        }

        fn connector(&self, f: &Fixture) -> Arc<dyn Connector> {
            f.connector.clone()
        }

        async fn put(&self, f: &Fixture, key: &str, data: &[u8]) {
            f.fake.put(&format!("{}/{key}", f.folder), data);
        }

        async fn exists(&self, f: &Fixture, key: &str) -> bool {
            f.fake.exists(&format!("{}/{key}", f.folder))
        }

        /// An app whose token Graph accepts but that has no access to the site (403).
        async fn denied(&self, f: &Fixture) -> Option<Arc<dyn Connector>> {
            self.put(f, "secret.txt", b"s").await;
            Some(f.denied.clone())
        }
    }

    argus_core::connector_suite_tests!(SharePoint);
}

/// What the shared suite cannot check on every backend.
mod sharepoint_specific {
    use argus_core::connector::ConnectorError;
    use argus_core::testkit::connector_suite::ConnectorHarness;
    use futures::StreamExt;

    use crate::fakes::graph;
    use crate::sharepoint::{credential, fixture, SharePoint};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn throttling_is_retried_and_the_token_is_reused() {
        let f = fixture().await;
        for i in 0..12 {
            SharePoint
                .put(&f, &format!("d{}/f{i}.txt", i % 3), b"x")
                .await;
        }
        let mut keys = Vec::new();
        let mut cont: Option<String> = None;
        loop {
            let page = f.connector.list("", cont.as_deref(), 5).await.unwrap();
            keys.extend(page.objects.into_iter().map(|o| o.key));
            match page.continuation {
                Some(c) => cont = Some(c),
                None => break,
            }
        }
        assert_eq!(keys.len(), 12);
        for key in &keys {
            let mut body = Vec::new();
            let mut s = f.connector.read(key).await.unwrap();
            while let Some(c) = s.next().await {
                body.extend_from_slice(&c.unwrap());
            }
            assert_eq!(body, b"x", "{key}");
        }
        assert!(
            f.fake.throttled() >= 2,
            "the fake throttled too little: the 429 and 503 retry paths went untested"
        );
        // Tokens are fetched on first use and then reused: one request for all those calls
        // (the denied credential's connector was opened but never used).
        assert_eq!(f.fake.token_requests(), 1);
    }

    /// A listing resumed by another connector (another process after a restart) has no kept
    /// cursor and re-walks from the continuation key: nothing twice, nothing skipped, at every
    /// cut, with a prefix too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_listing_resumes_from_its_key_without_the_kept_cursor() {
        let f = fixture().await;
        // Hundreds of requests about ordering, not throttling (tested above).
        f.fake.stop_throttling();
        let keys = [
            "a.txt",
            "a/b/c.txt",
            "a/b/d.txt",
            "a/e.txt",
            "a0",
            "b/x/y/z.bin",
            "b/x/za",
            "c",
        ];
        for k in keys {
            SharePoint.put(&f, k, k.as_bytes()).await;
        }
        let fresh = || {
            let r = crate::registry(
                vec![("intranet", credential(&f.fake, graph::CLIENT))],
                &[("GRAPH_SECRET", graph::SECRET)],
            );
            crate::open(
                &r,
                &format!(
                    "sharepoint://{}/{}/{}",
                    graph::SITE,
                    graph::LIBRARY,
                    f.folder
                ),
                Some("intranet"),
            )
        };
        for prefix in ["", "a/", "b/x/"] {
            let want: Vec<&str> = keys
                .iter()
                .copied()
                .filter(|k| k.starts_with(prefix))
                .collect();
            for cut in 1..want.len() {
                let first = fresh().list(prefix, None, cut).await.unwrap();
                let mut got: Vec<String> = first.objects.into_iter().map(|o| o.key).collect();
                let mut cont = first.continuation;
                while let Some(c) = cont {
                    // A new connector each page: never the kept cursor.
                    let page = fresh().list(prefix, Some(&c), 2).await.unwrap();
                    got.extend(page.objects.into_iter().map(|o| o.key));
                    cont = page.continuation;
                }
                assert_eq!(got, want, "prefix {prefix:?}, first page of {cut}");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revoked_token_is_renewed_once() {
        let f = fixture().await;
        SharePoint.put(&f, "k", b"v").await;
        assert_eq!(
            f.connector.list("", None, 10).await.unwrap().objects.len(),
            1
        );
        f.fake.revoke_tokens();
        assert_eq!(
            f.connector.list("", None, 10).await.unwrap().objects.len(),
            1
        );
        assert_eq!(f.fake.token_requests(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wrong_secret_is_permission_denied() {
        let fake = graph::GraphFake::start().await;
        fake.mkdir("Scans");
        let r = crate::registry(
            vec![("intranet", credential(&fake, graph::CLIENT))],
            &[("GRAPH_SECRET", "not-the-secret")],
        );
        let c = crate::open(
            &r,
            &format!("sharepoint://{}/{}/Scans", graph::SITE, graph::LIBRARY),
            Some("intranet"),
        );
        let e = c.list("", None, 10).await.unwrap_err();
        assert!(
            matches!(&e, ConnectorError::PermissionDenied(m) if m.contains("invalid_client")),
            "{e:?}"
        );
        assert!(!e.to_string().contains("not-the-secret"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_sites_libraries_and_folders_are_not_found() {
        let fake = graph::GraphFake::start().await;
        let r = crate::registry(
            vec![("intranet", credential(&fake, graph::CLIENT))],
            &[("GRAPH_SECRET", graph::SECRET)],
        );
        for loc in [
            format!("sharepoint://nowhere.example/{}", graph::LIBRARY),
            format!("sharepoint://{}/NoSuchLibrary", graph::SITE),
            format!(
                "sharepoint://{}/{}/missing/folder",
                graph::SITE,
                graph::LIBRARY
            ),
        ] {
            let c = crate::open(&r, &loc, Some("intranet"));
            let e = c.list("", None, 10).await.unwrap_err();
            assert!(matches!(e, ConnectorError::NotFound(_)), "{loc}: {e:?}");
        }
    }
}

/// The registry's rules, end to end: ambient identity refused by default, credentials kept to
/// their scheme and locations.
mod registry_rules {
    use argus_connectors::CredentialConfig;
    use argus_core::connector::ConnectorError;

    #[test]
    fn cloud_locations_need_a_fitting_credential() {
        let r = crate::registry(
            vec![(
                "docs",
                CredentialConfig {
                    scheme: "sharepoint".into(),
                    locations: vec!["sharepoint://contoso.example/Documents/Public".into()],
                    token_env: Some("T".into()),
                    ..Default::default()
                },
            )],
            &[("T", "token")],
        );
        let check = |loc: &str, cred: Option<&str>| r.check(&url::Url::parse(loc).unwrap(), cred);
        for loc in ["s3://b/p", "az://c/p", "gs://b/p"] {
            let e = check(loc, None).unwrap_err().to_string();
            // Without the `object-store` feature no opener serves these schemes at all.
            let want = if cfg!(feature = "object-store") {
                "connectors.allow_ambient_credentials"
            } else {
                "no connector for"
            };
            assert!(e.contains(want), "{e}");
        }
        assert!(check(
            "sharepoint://contoso.example/Documents/Public/x",
            Some("docs")
        )
        .is_ok());
        assert!(matches!(
            check(
                "sharepoint://contoso.example/Documents/Private",
                Some("docs")
            ),
            Err(ConnectorError::Invalid(_))
        ));
        assert!(matches!(
            check("s3://b/p", Some("docs")),
            Err(ConnectorError::Invalid(_))
        ));
        assert!(matches!(
            check("ftp://host/x", None),
            Err(ConnectorError::Invalid(_))
        ));
    }
}

/// What the shared suite cannot set up on every backend: links out of a local folder.
mod file_specific {
    use argus_connectors::FileConnector;
    use argus_core::connector::{Action, Connector, ConnectorError};

    #[tokio::test]
    async fn links_are_neither_listed_nor_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"server file").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real.txt"), b"ok").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linkdir")).unwrap();
        let c = FileConnector::new(dir.path()).unwrap();
        let page = c.list("", None, 100).await.unwrap();
        let keys: Vec<_> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["real.txt"]);
        for key in ["link", "linkdir/secret"] {
            assert!(c.read(key).await.is_err(), "{key} was readable");
        }
        // A quarantine folder that is a link out of the location is refused, object kept.
        assert!(matches!(
            c.act(
                "real.txt",
                &Action::Move {
                    prefix: "linkdir".into()
                }
            )
            .await,
            Err(ConnectorError::Invalid(_))
        ));
        assert!(dir.path().join("real.txt").is_file());
        assert!(!outside.path().join("real.txt").exists());
    }

    #[test]
    fn the_root_must_be_an_existing_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        assert!(matches!(
            FileConnector::new(dir.path().join("f")),
            Err(ConnectorError::Invalid(_))
        ));
        assert!(matches!(
            FileConnector::new(dir.path().join("missing")),
            Err(ConnectorError::NotFound(_))
        ));
    }
}
