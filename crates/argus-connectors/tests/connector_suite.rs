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
