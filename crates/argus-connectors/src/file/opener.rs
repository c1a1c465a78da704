//! The opener of `file:///path` locations: a local folder, with no credential.
//!
//! Which folders a scan may name is the engine's local-path policy (`scan.local_roots`), checked
//! before a location reaches the registry; the opener only checks the URL's shape.

use std::path::PathBuf;
use std::sync::Arc;

use argus_core::connector::{Connector, ConnectorError, ConnectorOpener};

use super::FileConnector;

/// Opens `file:///path` locations as [`FileConnector`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileOpener;

fn folder(location: &url::Url, credential: Option<&str>) -> Result<PathBuf, ConnectorError> {
    if credential.is_some() {
        return Err(ConnectorError::Invalid(
            "file:// locations take no credential".into(),
        ));
    }
    if location.scheme() != "file" {
        return Err(ConnectorError::Invalid(format!(
            "{location} is not a file:// location"
        )));
    }
    if location.query().is_some() || location.fragment().is_some() {
        return Err(ConnectorError::Invalid(
            "a file:// location takes no query or fragment".into(),
        ));
    }
    // `to_file_path` refuses a host other than none or `localhost`: a folder is local.
    location.to_file_path().map_err(|()| {
        ConnectorError::Invalid(format!(
            "{location} is not a local folder (file:///absolute/path)"
        ))
    })
}

impl ConnectorOpener for FileOpener {
    fn schemes(&self) -> &'static [&'static str] {
        &["file"]
    }

    fn check(&self, location: &url::Url, credential: Option<&str>) -> Result<(), ConnectorError> {
        folder(location, credential).map(drop)
    }

    fn open(
        &self,
        location: &url::Url,
        credential: Option<&str>,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        Ok(Arc::new(FileConnector::new(folder(location, credential)?)?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn local_folders_only_and_no_credential() {
        let dir = tempfile::tempdir().unwrap();
        let loc = url::Url::from_directory_path(dir.path()).unwrap();
        assert!(FileOpener.check(&loc, None).is_ok());
        assert!(FileOpener.open(&loc, None).is_ok());
        for bad in ["file://server/share", "file:///srv?x=1"] {
            let u = url::Url::parse(bad).unwrap();
            assert!(
                matches!(FileOpener.check(&u, None), Err(ConnectorError::Invalid(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            FileOpener.check(&loc, Some("cred")),
            Err(ConnectorError::Invalid(_))
        ));
    }
}
