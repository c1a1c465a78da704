//! The opener of `sharepoint://` locations: one Graph client per credential (so connectors of
//! the same credential share its token), the process's HTTP client from the HTTP door.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use argus_core::connector::{Connector, ConnectorError, ConnectorOpener};
use argus_core::door::HttpDoor;

use super::graph::{Auth, Graph};
use super::{SharePointConnector, SharePointLocation};
use crate::config::{Credential, Credentials};

/// Graph's default base URL.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";

/// Opens SharePoint document-library folders.
#[derive(Debug)]
pub struct SharePointOpener {
    credentials: Arc<Credentials>,
    http: Arc<dyn HttpDoor>,
    graphs: Mutex<BTreeMap<String, Arc<Graph>>>,
}

impl SharePointOpener {
    /// An opener using `credentials` and the HTTP client of `http`.
    pub fn new(credentials: Arc<Credentials>, http: Arc<dyn HttpDoor>) -> Self {
        SharePointOpener {
            credentials,
            http,
            graphs: Mutex::new(BTreeMap::new()),
        }
    }

    fn graph(&self, c: &Credential) -> Result<Arc<Graph>, ConnectorError> {
        let mut graphs = self
            .graphs
            .lock()
            .map_err(|_| ConnectorError::Backend("sharepoint opener lock poisoned".into()))?;
        if let Some(g) = graphs.get(&c.name) {
            return Ok(g.clone());
        }
        let http = self
            .http
            .client()
            .downcast_ref::<reqwest::Client>()
            .ok_or_else(|| {
                ConnectorError::Backend("no HTTP client in this process for sharepoint://".into())
            })?
            .clone();
        let o = &c.options;
        let base =
            url::Url::parse(o.graph_url.as_deref().unwrap_or(DEFAULT_GRAPH_URL)).map_err(|e| {
                ConnectorError::Invalid(format!("credential {:?}: graph_url: {e}", c.name))
            })?;
        let auth = match (c.secret("token_env"), c.secret("client_secret_env")) {
            (Some(t), _) => Auth::Token(t.clone()),
            (None, Some(secret)) => Auth::ClientCredentials {
                token_url: o.token_url.clone().unwrap_or_else(|| {
                    format!(
                        "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                        o.tenant_id.as_deref().unwrap_or("common")
                    )
                }),
                client_id: o.client_id.clone().unwrap_or_default(),
                client_secret: secret.clone(),
            },
            (None, None) => {
                return Err(ConnectorError::Invalid(format!(
                    "credential {:?} has neither token_env nor client_secret_env",
                    c.name
                )))
            }
        };
        let g = Arc::new(Graph::new(http, base, auth));
        graphs.insert(c.name.clone(), g.clone());
        Ok(g)
    }
}

impl ConnectorOpener for SharePointOpener {
    fn schemes(&self) -> &'static [&'static str] {
        &["sharepoint"]
    }

    fn check(&self, location: &url::Url, credential: Option<&str>) -> Result<(), ConnectorError> {
        SharePointLocation::parse(location)?;
        self.credentials.pick(location, credential).map(drop)
    }

    fn open(
        &self,
        location: &url::Url,
        credential: Option<&str>,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        let parsed = SharePointLocation::parse(location)?;
        let c = self
            .credentials
            .pick(location, credential)?
            .ok_or_else(|| {
                ConnectorError::Invalid("a sharepoint:// location needs a credential".into())
            })?;
        Ok(Arc::new(SharePointConnector::new(
            self.graph(&c)?,
            parsed,
            location.as_str(),
        )))
    }
}
