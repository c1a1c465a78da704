//! The opener of `s3://`, `az://` and `gs://` locations: builds the `object_store` client from
//! the location URL and the named credential ([`build_store`]) and confines an
//! [`ObjectConnector`] to the URL's prefix.
//!
//! The ambient-identity rule and which credential may open which location are the
//! [`Credentials`]' (see `config.rs`); `check` runs them and the URL checks without I/O.

use std::sync::Arc;

use argus_core::connector::{Connector, ConnectorError, ConnectorOpener};

use super::build::{build_store, parse_store_url, StoreCredentials, StoreOptions};
use super::ObjectConnector;
use crate::config::{Credential, Credentials};

/// Opens object-storage locations.
#[derive(Debug)]
pub struct ObjectOpener {
    credentials: Arc<Credentials>,
}

impl ObjectOpener {
    /// An opener using `credentials`.
    pub fn new(credentials: Arc<Credentials>) -> Self {
        ObjectOpener { credentials }
    }
}

/// The store options a credential stands for (`None`: ambient identity).
fn options(credential: Option<&Credential>) -> Result<StoreOptions, ConnectorError> {
    let Some(c) = credential else {
        return Ok(StoreOptions::default());
    };
    let secret = |field: &str| {
        c.secret(field).cloned().ok_or_else(|| {
            ConnectorError::Invalid(format!("credential {:?} has no {field}", c.name))
        })
    };
    let credentials = match c.options.scheme.as_str() {
        "s3" => StoreCredentials::S3 {
            access_key_id: secret("access_key_id_env")?,
            secret_access_key: secret("secret_access_key_env")?,
            session_token: c.secret("session_token_env").cloned(),
        },
        "az" => StoreCredentials::Azure {
            account: c.options.account.clone().unwrap_or_default(),
            access_key: secret("account_key_env")?,
        },
        "gs" => StoreCredentials::Gcs {
            service_account_key: secret("service_account_env")?,
        },
        other => {
            return Err(ConnectorError::Invalid(format!(
                "credential {:?} is for {other}://",
                c.name
            )))
        }
    };
    Ok(StoreOptions {
        endpoint: c.options.endpoint.clone(),
        region: c.options.region.clone(),
        allow_http: c.options.allow_http,
        credentials,
    })
}

impl ConnectorOpener for ObjectOpener {
    fn schemes(&self) -> &'static [&'static str] {
        &["s3", "az", "gs"]
    }

    fn check(&self, location: &url::Url, credential: Option<&str>) -> Result<(), ConnectorError> {
        parse_store_url(location)?;
        self.credentials.pick(location, credential).map(drop)
    }

    fn open(
        &self,
        location: &url::Url,
        credential: Option<&str>,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        let picked = self.credentials.pick(location, credential)?;
        let built = build_store(location, &options(picked.as_deref())?)?;
        Ok(Arc::new(ObjectConnector::new(
            built.store,
            location.scheme(),
            location.as_str(),
            &built.prefix,
        )?))
    }
}
