//! The `[connectors]` config section and the openers built from it: which location URLs the
//! server opens, with which named credentials.
//!
//! ```toml
//! [connectors]
//! allow_ambient_credentials = false
//!
//! [connectors.credentials.backups]
//! scheme = "s3"
//! locations = ["s3://backups/incoming"]
//! region = "eu-west-1"
//! access_key_id_env = "BACKUPS_AWS_KEY_ID"
//! secret_access_key_env = "BACKUPS_AWS_SECRET"
//!
//! [connectors.credentials.intranet]
//! scheme = "sharepoint"
//! tenant_id = "..."
//! client_id = "..."
//! client_secret_env = "INTRANET_GRAPH_SECRET"
//! ```
//!
//! Invariants:
//! - The config holds no secret: a credential names the environment variables that hold its
//!   secrets (`*_env`), read once through the [`EnvDoor`] when the openers are built. A missing
//!   variable fails start-up, naming the credential and the variable. Secret values are kept in
//!   [`Redacted`] and never logged or printed.
//! - A cloud location (`s3://`, `az://`, `gs://`) opened without a credential uses the server's
//!   own identity (the `object_store` builders' `from_env()`: instance roles, standard
//!   environment variables) only when `allow_ambient_credentials` is true; otherwise
//!   [`ConnectorOpener::check`](argus_core::connector::ConnectorOpener::check) refuses it, so a
//!   scan author cannot borrow the server's identity by leaving the credential out. SharePoint
//!   always needs a credential; `file://` never takes one.
//! - A credential is used only for its own scheme and, when it lists `locations`, only for
//!   locations under one of them (whole path segments: `s3://b/in` covers `s3://b/in/x`, not
//!   `s3://b/inbox`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use argus_core::connector::{ConnectorError, ConnectorOpener};
use argus_core::door::{EnvDoor, HttpDoor};
use argus_core::redacted::Redacted;

/// The `[connectors]` section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectorsConfig {
    /// Let `s3://`, `az://` and `gs://` locations without a named credential use the server's
    /// own identity (instance role, standard environment variables). Off by default: such a
    /// location is refused.
    pub allow_ambient_credentials: bool,
    /// Named credentials, `[connectors.credentials.<name>]`; a scan names one per location.
    pub credentials: BTreeMap<String, CredentialConfig>,
}

/// One named credential: non-secret options, and the names of the environment variables that
/// hold its secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CredentialConfig {
    /// The scheme it is for: `s3`, `az`, `gs` or `sharepoint`.
    pub scheme: String,
    /// Location URL prefixes it may be used for; empty: any location of its scheme.
    pub locations: Vec<String>,
    /// S3-compatible endpoint (MinIO, Ceph), Azure Blob account URL, or GCS base URL.
    pub endpoint: Option<String>,
    /// S3 region.
    pub region: Option<String>,
    /// Allow plain `http://` endpoints (emulators, a private MinIO).
    pub allow_http: bool,
    /// Azure storage account name.
    pub account: Option<String>,
    /// SharePoint: the Entra ID (Azure AD) tenant, for the default token URL.
    pub tenant_id: Option<String>,
    /// SharePoint: the application (client) id.
    pub client_id: Option<String>,
    /// SharePoint: the OAuth2 token endpoint (default
    /// `https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token`).
    pub token_url: Option<String>,
    /// SharePoint: the Microsoft Graph base URL (default `https://graph.microsoft.com/v1.0`).
    pub graph_url: Option<String>,
    /// S3: variable holding the access key id.
    pub access_key_id_env: Option<String>,
    /// S3: variable holding the secret access key.
    pub secret_access_key_env: Option<String>,
    /// S3: variable holding a session token (temporary credentials).
    pub session_token_env: Option<String>,
    /// Azure: variable holding the storage account key.
    pub account_key_env: Option<String>,
    /// GCS: variable holding a service account JSON key.
    pub service_account_env: Option<String>,
    /// SharePoint: variable holding the application's client secret.
    pub client_secret_env: Option<String>,
    /// SharePoint: variable holding a ready bearer token (instead of client credentials).
    pub token_env: Option<String>,
}

/// Why the `[connectors]` config cannot be used: start-up fails with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A credential is malformed (unknown scheme, a location of another scheme, a secret its
    /// scheme needs is not named…).
    #[error("connectors.credentials.{name}: {message}")]
    Credential { name: String, message: String },
    /// A variable a credential names is not set.
    #[error("connectors.credentials.{name}.{field}: the environment variable {var} is not set")]
    MissingEnv {
        name: String,
        field: &'static str,
        var: String,
    },
}

/// The schemes a credential may be for.
pub const CREDENTIAL_SCHEMES: &[&str] = &["s3", "az", "gs", "sharepoint"];

/// A credential with its secrets read.
#[derive(Debug)]
pub struct Credential {
    /// Its name in the config.
    pub name: String,
    /// Its non-secret options (the `*_env` fields name variables, not values).
    pub options: CredentialConfig,
    /// Location prefixes it may be used for (empty: any of its scheme).
    locations: Vec<url::Url>,
    /// The secrets, by the config field that named them (`access_key_id_env` → its value).
    secrets: BTreeMap<&'static str, Redacted<String>>,
}

impl Credential {
    /// The secret named by `field` (`"client_secret_env"`…), when the credential has one.
    pub fn secret(&self, field: &str) -> Option<&Redacted<String>> {
        self.secrets.get(field)
    }

    /// Whether it may be used for `location`.
    fn covers(&self, location: &url::Url) -> bool {
        self.locations.is_empty() || self.locations.iter().any(|p| under(location, p))
    }
}

/// Whether `location` lies under `prefix`, by whole path segments.
fn under(location: &url::Url, prefix: &url::Url) -> bool {
    if location.scheme() != prefix.scheme() || location.host_str() != prefix.host_str() {
        return false;
    }
    let seg = |u: &url::Url| -> Vec<String> {
        u.path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (l, p) = (seg(location), seg(prefix));
    l.len() >= p.len() && l[..p.len()] == p[..]
}

/// Every configured credential, and whether ambient identity is allowed: what each opener
/// consults in `check` and `open`.
#[derive(Debug, Default)]
pub struct Credentials {
    allow_ambient: bool,
    by_name: BTreeMap<String, Arc<Credential>>,
}

/// The config fields that name secret variables, per scheme (any other `*_env` is refused for
/// that scheme, so a misplaced secret is an error rather than silently unused).
fn secret_fields(scheme: &str) -> &'static [&'static str] {
    match scheme {
        "s3" => &[
            "access_key_id_env",
            "secret_access_key_env",
            "session_token_env",
        ],
        "az" => &["account_key_env"],
        "gs" => &["service_account_env"],
        "sharepoint" => &["client_secret_env", "token_env"],
        _ => &[],
    }
}

fn env_fields(c: &CredentialConfig) -> [(&'static str, Option<&String>); 7] {
    [
        ("access_key_id_env", c.access_key_id_env.as_ref()),
        ("secret_access_key_env", c.secret_access_key_env.as_ref()),
        ("session_token_env", c.session_token_env.as_ref()),
        ("account_key_env", c.account_key_env.as_ref()),
        ("service_account_env", c.service_account_env.as_ref()),
        ("client_secret_env", c.client_secret_env.as_ref()),
        ("token_env", c.token_env.as_ref()),
    ]
}

impl Credentials {
    /// Reads every credential's secrets through `env` and checks each credential is complete
    /// for its scheme.
    pub fn from_config(config: &ConnectorsConfig, env: &dyn EnvDoor) -> Result<Self, ConfigError> {
        let mut by_name = BTreeMap::new();
        for (name, c) in &config.credentials {
            let bad = |message: String| ConfigError::Credential {
                name: name.clone(),
                message,
            };
            if !CREDENTIAL_SCHEMES.contains(&c.scheme.as_str()) {
                return Err(bad(format!(
                    "scheme {:?}: expected one of {}",
                    c.scheme,
                    CREDENTIAL_SCHEMES.join(", ")
                )));
            }
            let mut locations = Vec::new();
            for l in &c.locations {
                let u = url::Url::parse(l).map_err(|e| bad(format!("location {l:?}: {e}")))?;
                if u.scheme() != c.scheme {
                    return Err(bad(format!(
                        "location {l:?} is not a {}:// location",
                        c.scheme
                    )));
                }
                locations.push(u);
            }
            let allowed = secret_fields(&c.scheme);
            let mut secrets = BTreeMap::new();
            for (field, var) in env_fields(c) {
                let Some(var) = var else { continue };
                if !allowed.contains(&field) {
                    return Err(bad(format!(
                        "{field} is not used by {}:// credentials (they take {})",
                        c.scheme,
                        allowed.join(", ")
                    )));
                }
                let value = env.var(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                    ConfigError::MissingEnv {
                        name: name.clone(),
                        field,
                        var: var.clone(),
                    }
                })?;
                secrets.insert(field, Redacted::new(value));
            }
            let has = |f: &str| secrets.contains_key(f);
            let missing = match c.scheme.as_str() {
                "s3" if !(has("access_key_id_env") && has("secret_access_key_env")) => {
                    Some("access_key_id_env and secret_access_key_env")
                }
                "az" if c.account.is_none() || !has("account_key_env") => {
                    Some("account and account_key_env")
                }
                "gs" if !has("service_account_env") => Some("service_account_env"),
                "sharepoint"
                    if !has("token_env")
                        && !(has("client_secret_env")
                            && c.client_id.is_some()
                            && (c.tenant_id.is_some() || c.token_url.is_some())) =>
                {
                    Some("token_env, or client_id + client_secret_env + tenant_id (or token_url)")
                }
                _ => None,
            };
            if let Some(m) = missing {
                return Err(bad(format!("a {}:// credential needs {m}", c.scheme)));
            }
            by_name.insert(
                name.clone(),
                Arc::new(Credential {
                    name: name.clone(),
                    options: c.clone(),
                    locations,
                    secrets,
                }),
            );
        }
        Ok(Credentials {
            allow_ambient: config.allow_ambient_credentials,
            by_name,
        })
    }

    /// The credential to open `location` with: the named one, checked to be for this scheme and
    /// this location; or `None` (ambient identity) where that is allowed (see the module docs).
    pub fn pick(
        &self,
        location: &url::Url,
        name: Option<&str>,
    ) -> Result<Option<Arc<Credential>>, ConnectorError> {
        let scheme = location.scheme();
        let Some(name) = name else {
            return match scheme {
                "sharepoint" => Err(ConnectorError::Invalid(
                    "a sharepoint:// location needs a credential: name one of \
                     [connectors.credentials]"
                        .into(),
                )),
                "s3" | "az" | "gs" if !self.allow_ambient => Err(ConnectorError::Invalid(format!(
                    "a {scheme}:// location needs a credential: name one of \
                     [connectors.credentials], or let the server use its own identity with \
                     connectors.allow_ambient_credentials = true"
                ))),
                _ => Ok(None),
            };
        };
        let c = self.by_name.get(name).ok_or_else(|| {
            ConnectorError::Invalid(format!(
                "no credential named {name:?} in [connectors.credentials]"
            ))
        })?;
        if c.options.scheme != scheme {
            return Err(ConnectorError::Invalid(format!(
                "credential {name:?} is for {}:// locations, not {scheme}://",
                c.options.scheme
            )));
        }
        if !c.covers(location) {
            return Err(ConnectorError::Invalid(format!(
                "credential {name:?} may not be used for {location} (its locations: {})",
                c.options.locations.join(", ")
            )));
        }
        Ok(Some(c.clone()))
    }
}

/// Every opener this build has, sharing the credentials of `config` (secrets read through
/// `env` now) and the process's HTTP client door (SharePoint's Graph calls go through it):
/// `file`, `sharepoint`, and `s3`/`az`/`gs` with the `object-store` feature. Register them in
/// a [`ConnectorRegistry`](argus_core::component::ConnectorRegistry) with `add`.
pub fn openers(
    config: &ConnectorsConfig,
    env: &dyn EnvDoor,
    http: Arc<dyn HttpDoor>,
) -> Result<Vec<Arc<dyn ConnectorOpener>>, ConfigError> {
    let credentials = Arc::new(Credentials::from_config(config, env)?);
    Ok(vec![
        Arc::new(crate::file::FileOpener),
        Arc::new(crate::sharepoint::SharePointOpener::new(
            credentials.clone(),
            http,
        )),
        #[cfg(feature = "object-store")]
        Arc::new(crate::object::ObjectOpener::new(credentials)),
    ])
}

/// The registry of every opener of `config`: what the binary hands to components in `Doors`.
pub fn registry(
    config: &ConnectorsConfig,
    env: &dyn EnvDoor,
    http: Arc<dyn HttpDoor>,
) -> Result<argus_core::component::ConnectorRegistry, ConfigError> {
    let mut r = argus_core::component::ConnectorRegistry::new();
    for o in openers(config, env, http)? {
        r.add(o);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use argus_core::door::FixedEnv;

    fn env(pairs: &[(&str, &str)]) -> FixedEnv {
        FixedEnv(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn parse(toml_text: &str) -> ConnectorsConfig {
        toml::from_str(toml_text).expect("config")
    }

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    const S3_CRED: &str = r#"
        [credentials.backups]
        scheme = "s3"
        locations = ["s3://backups/in"]
        access_key_id_env = "K"
        secret_access_key_env = "S"
    "#;

    #[test]
    fn an_empty_section_refuses_cloud_locations_without_a_credential() {
        let c = Credentials::from_config(&ConnectorsConfig::default(), &env(&[])).unwrap();
        for loc in ["s3://b/p", "az://c/p", "gs://b"] {
            let e = c.pick(&url(loc), None).unwrap_err().to_string();
            assert!(
                e.contains("name one of") && e.contains("connectors.allow_ambient_credentials"),
                "{e}"
            );
        }
        assert!(c.pick(&url("file:///srv"), None).unwrap().is_none());
        assert!(c.pick(&url("sharepoint://site/docs"), None).is_err());
        let ambient = Credentials::from_config(
            &ConnectorsConfig {
                allow_ambient_credentials: true,
                ..Default::default()
            },
            &env(&[]),
        )
        .unwrap();
        assert!(ambient.pick(&url("s3://b/p"), None).unwrap().is_none());
        assert!(ambient.pick(&url("sharepoint://site/docs"), None).is_err());
    }

    #[test]
    fn a_credential_is_used_only_for_its_scheme_and_locations() {
        let c =
            Credentials::from_config(&parse(S3_CRED), &env(&[("K", "id"), ("S", "sec")])).unwrap();
        let got = c
            .pick(&url("s3://backups/in/2024"), Some("backups"))
            .unwrap()
            .unwrap();
        assert_eq!(got.secret("access_key_id_env").unwrap().expose(), "id");
        assert!(c.pick(&url("s3://backups/in"), Some("backups")).is_ok());
        for (loc, name) in [
            ("s3://backups/inbox", "backups"),
            ("s3://other/in", "backups"),
            ("gs://backups/in", "backups"),
            ("s3://backups/in", "nope"),
        ] {
            assert!(
                matches!(
                    c.pick(&url(loc), Some(name)),
                    Err(ConnectorError::Invalid(_))
                ),
                "{loc} with {name}"
            );
        }
    }

    #[test]
    fn missing_variables_and_incomplete_credentials_fail_start_up() {
        let e = Credentials::from_config(&parse(S3_CRED), &env(&[("K", "id")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "connectors.credentials.backups.secret_access_key_env: the environment variable S is not set"
        );
        for (text, want) in [
            ("[credentials.x]\nscheme = \"ftp\"", "scheme \"ftp\""),
            (
                "[credentials.x]\nscheme = \"s3\"\nlocations = [\"gs://b\"]",
                "not a s3:// location",
            ),
            (
                "[credentials.x]\nscheme = \"gs\"\naccount_key_env = \"K\"",
                "account_key_env is not used",
            ),
            (
                "[credentials.x]\nscheme = \"az\"",
                "account and account_key_env",
            ),
            (
                "[credentials.x]\nscheme = \"sharepoint\"\nclient_id = \"c\"",
                "token_env, or client_id",
            ),
        ] {
            let e = Credentials::from_config(&parse(text), &env(&[("K", "v")]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        assert!(toml::from_str::<ConnectorsConfig>("allow_ambient = true").is_err());
        assert!(
            toml::from_str::<ConnectorsConfig>("[credentials.x]\nscheme = \"s3\"\nkey = 1")
                .is_err()
        );
    }

    #[test]
    fn secrets_never_print() {
        let c = Credentials::from_config(
            &parse(S3_CRED),
            &env(&[("K", "AKIDVALUE"), ("S", "hunter2")]),
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("AKIDVALUE"),
            "{shown}"
        );
    }

    #[test]
    fn openers_serve_every_scheme_of_this_build() {
        let r = registry(
            &ConnectorsConfig::default(),
            &env(&[]),
            Arc::new(argus_core::door::NoHttp),
        )
        .unwrap();
        let mut want = vec!["file", "sharepoint"];
        if cfg!(feature = "object-store") {
            want.extend(["s3", "az", "gs"]);
        }
        want.sort_unstable();
        assert_eq!(r.schemes(), want);
    }
}
