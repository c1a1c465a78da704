//! The shared connector suite (`argus_core::testkit::connector_suite`) for every connector of
//! this crate, one test per case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod file {
    use std::sync::Arc;

    use argus_connectors::FileConnector;
    use argus_core::connector::Connector;
    use argus_core::testkit::connector_suite::ConnectorHarness;

    /// A temporary folder; objects are put and checked with plain file operations.
    struct Folder;

    #[async_trait::async_trait]
    impl ConnectorHarness for Folder {
        type Fixture = tempfile::TempDir;

        async fn fresh(&self) -> Option<tempfile::TempDir> {
            Some(tempfile::tempdir().expect("temporary folder"))
        }

        fn connector(&self, dir: &tempfile::TempDir) -> Arc<dyn Connector> {
            Arc::new(FileConnector::new(dir.path()).expect("file connector"))
        }

        async fn put(&self, dir: &tempfile::TempDir, key: &str, data: &[u8]) {
            let path = dir.path().join(key);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, data).expect("write");
        }

        async fn exists(&self, dir: &tempfile::TempDir, key: &str) -> bool {
            dir.path().join(key).is_file()
        }
    }

    argus_core::connector_suite_tests!(Folder);
}

/// S3 (moto's server in `.ci/run`) and Azure Blob (Azurite), each fixture under its own prefix
/// of the test bucket/container; objects are put and checked with `object_store` directly.
/// Environment as for `argus-store`'s object suite: `ARGUS_TEST_S3_URL` / `_ENDPOINT`,
/// `ARGUS_TEST_AZURE_URL` / `_ENDPOINT` and the emulators' credentials (skip when unset, fail
/// under CI=true).
#[cfg(feature = "object-store")]
mod object {
    use std::sync::Arc;

    use argus_connectors::ObjectConnector;
    use argus_core::connector::Connector;
    use argus_core::testkit::connector_suite::ConnectorHarness;
    use object_store::path::Path;
    use object_store::ObjectStore;

    pub struct Fixture {
        store: Arc<dyn ObjectStore>,
        prefix: String,
        url: String,
    }

    fn client_options() -> object_store::ClientOptions {
        object_store::ClientOptions::new().with_allow_http(true)
    }

    fn endpoint(var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|v| !v.trim().is_empty())
    }

    /// One object-storage service: the variables naming its test URL and endpoint, and how to
    /// build a store for that URL.
    pub struct Cloud {
        url_var: &'static str,
        endpoint_var: &'static str,
        build: fn(&str, Option<String>) -> Arc<dyn ObjectStore>,
    }

    pub const S3: Cloud = Cloud {
        url_var: "ARGUS_TEST_S3_URL",
        endpoint_var: "ARGUS_TEST_S3_ENDPOINT",
        build: |url, endpoint| {
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_url(url)
                .with_client_options(client_options());
            if let Some(ep) = endpoint {
                b = b.with_endpoint(ep).with_allow_http(true);
            }
            Arc::new(b.build().expect("S3 store"))
        },
    };

    pub const AZURE: Cloud = Cloud {
        url_var: "ARGUS_TEST_AZURE_URL",
        endpoint_var: "ARGUS_TEST_AZURE_ENDPOINT",
        build: |url, endpoint| {
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url)
                .with_client_options(client_options());
            if let Some(ep) = endpoint {
                b = b.with_endpoint(ep).with_allow_http(true);
            }
            Arc::new(b.build().expect("Azure store"))
        },
    };

    #[async_trait::async_trait]
    impl ConnectorHarness for Cloud {
        type Fixture = Fixture;

        /// A fresh prefix of the service's test bucket or container.
        async fn fresh(&self) -> Option<Fixture> {
            let url = argus_core::testkit::service_url(self.url_var)?;
            let store = (self.build)(&url, endpoint(self.endpoint_var));
            let prefix = format!("t-{}", uuid::Uuid::now_v7().simple());
            Some(Fixture { store, prefix, url })
        }

        fn connector(&self, f: &Fixture) -> Arc<dyn Connector> {
            let scheme = f.url.split("://").next().unwrap_or("s3").to_owned();
            Arc::new(
                ObjectConnector::new(
                    f.store.clone(),
                    &scheme,
                    &format!("{}/{}", f.url, f.prefix),
                    &f.prefix,
                )
                .expect("connector"),
            )
        }

        async fn put(&self, f: &Fixture, key: &str, data: &[u8]) {
            let path = Path::from(format!("{}/{key}", f.prefix));
            f.store.put(&path, data.to_vec().into()).await.expect("put");
        }

        async fn exists(&self, f: &Fixture, key: &str) -> bool {
            let path = Path::from(format!("{}/{key}", f.prefix));
            f.store.head(&path).await.is_ok()
        }
    }

    mod s3 {
        argus_core::connector_suite_tests!(super::S3);
    }

    mod azure {
        argus_core::connector_suite_tests!(super::AZURE);
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
