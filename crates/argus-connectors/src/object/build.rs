//! Building an `object_store` client from a location URL: the one place Argus does it, for
//! connectors and (through the binary) the artifact store alike.
//!
//! Invariants:
//! - A URL is `s3://bucket/prefix`, `az://container/prefix` (also `azure://`) or
//!   `gs://bucket/prefix`: no user info (credentials never travel in URLs, which end up in
//!   configs and logs), no query, no fragment, a prefix of clean segments.
//! - Credentials are explicit ([`StoreCredentials`]); the builders' `from_env()` (standard
//!   environment variables, instance identity) is used only for [`StoreCredentials::Ambient`],
//!   which the caller chooses by policy. Explicit credentials start from an empty builder, so no
//!   stray `AWS_*` variable of the server mixes into them.
//! - Timeouts and retries are bounded (a minute of retries at most), so a dead service turns
//!   into an error a request can report, not a three-minute hang.

use std::sync::Arc;
use std::time::Duration;

use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use argus_core::connector::ConnectorError;
use argus_core::redacted::Redacted;

/// How the client authenticates.
#[derive(Clone, Debug, Default)]
pub enum StoreCredentials {
    /// The server's own identity: the builder's `from_env()` (standard variables such as
    /// `AWS_ACCESS_KEY_ID`, `AZURE_STORAGE_ACCOUNT_KEY`, `GOOGLE_SERVICE_ACCOUNT`; instance
    /// metadata).
    #[default]
    Ambient,
    /// S3 access keys.
    S3 {
        access_key_id: Redacted<String>,
        secret_access_key: Redacted<String>,
        session_token: Option<Redacted<String>>,
    },
    /// An Azure storage account and its key.
    Azure {
        account: String,
        access_key: Redacted<String>,
    },
    /// A GCS service account JSON key.
    Gcs {
        service_account_key: Redacted<String>,
    },
}

/// Connection options of one store.
#[derive(Clone, Debug, Default)]
pub struct StoreOptions {
    /// S3-compatible endpoint, Azure Blob account URL (`http://127.0.0.1:10000/devstoreaccount1`
    /// for Azurite), or GCS base URL (with explicit GCS credentials only: it is written into the
    /// service account key, where `object_store` reads it).
    pub endpoint: Option<String>,
    /// S3 region (default: `us-east-1`, or `AWS_REGION` with ambient credentials).
    pub region: Option<String>,
    /// Allow plain `http://` endpoints.
    pub allow_http: bool,
    /// How to authenticate.
    pub credentials: StoreCredentials,
}

/// A built client and where in it the URL points.
#[derive(Clone)]
pub struct BuiltStore {
    /// The client (holds credentials: never print it).
    pub store: Arc<dyn ObjectStore>,
    /// `s3`, `azure` or `gcs`.
    pub backend: &'static str,
    /// The bucket or container.
    pub bucket: String,
    /// The prefix inside it (no leading or trailing `/`; empty: the whole bucket).
    pub prefix: String,
}

impl std::fmt::Debug for BuiltStore {
    // Hand-written: `object_store` clients print their credentials in `Debug`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltStore")
            .field("backend", &self.backend)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Invalid(message.into())
}

/// The parts of a store URL, checked (see the module docs): scheme, bucket, prefix.
pub fn parse_store_url(url: &url::Url) -> Result<(&'static str, String, String), ConnectorError> {
    let backend = match url.scheme() {
        "s3" | "s3a" => "s3",
        "az" | "azure" | "adl" => "azure",
        "gs" => "gcs",
        other => {
            return Err(invalid(format!(
                "unsupported scheme {other:?}: use s3://, az://, azure:// or gs://"
            )))
        }
    };
    let bucket = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid(format!("{url}: the URL names no bucket or container")))?
        .to_owned();
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials do not belong in the URL: name a credential instead",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(format!(
            "{url}: the URL takes no query or fragment"
        )));
    }
    let prefix = object_store::path::Path::from_url_path(url.path())
        .map_err(|e| invalid(format!("{url}: bad prefix: {e}")))?;
    Ok((backend, bucket, prefix.as_ref().to_owned()))
}

fn client_options(allow_http: bool) -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120))
        .with_allow_http(allow_http)
}

fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 5,
        retry_timeout: Duration::from_secs(60),
    }
}

/// Builds the client for `url` with `options`. Nothing is contacted yet.
pub fn build_store(url: &url::Url, options: &StoreOptions) -> Result<BuiltStore, ConnectorError> {
    let (backend, bucket, prefix) = parse_store_url(url)?;
    let build_err = |e: object_store::Error| invalid(format!("{url}: {e}"));
    let mismatch = |want: &str| {
        invalid(format!(
            "{url}: the credential is not for {want} (a {backend} location)"
        ))
    };
    let store: Arc<dyn ObjectStore> = match backend {
        "s3" => {
            use object_store::aws::AmazonS3Builder;
            // With the ambient identity the environment also says whether plain HTTP is fine
            // (`AWS_ALLOW_HTTP`, read by `from_env`); the client options set below would
            // otherwise reset it.
            let allow_http = options.allow_http
                || (matches!(options.credentials, StoreCredentials::Ambient)
                    && std::env::var("AWS_ALLOW_HTTP")
                        .is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1"));
            let mut b = match &options.credentials {
                StoreCredentials::Ambient => AmazonS3Builder::from_env(),
                StoreCredentials::S3 {
                    access_key_id,
                    secret_access_key,
                    session_token,
                } => {
                    let b = AmazonS3Builder::new()
                        .with_access_key_id(access_key_id.expose())
                        .with_secret_access_key(secret_access_key.expose())
                        .with_region("us-east-1");
                    match session_token {
                        Some(t) => b.with_token(t.expose()),
                        None => b,
                    }
                }
                _ => return Err(mismatch("S3")),
            }
            .with_bucket_name(&bucket)
            .with_client_options(client_options(allow_http))
            .with_retry(retry_config())
            .with_allow_http(allow_http);
            if let Some(ep) = &options.endpoint {
                b = b.with_endpoint(ep);
            }
            if let Some(r) = &options.region {
                b = b.with_region(r);
            }
            Arc::new(b.build().map_err(build_err)?)
        }
        "azure" => {
            use object_store::azure::MicrosoftAzureBuilder;
            let mut b = match &options.credentials {
                StoreCredentials::Ambient => MicrosoftAzureBuilder::from_env(),
                StoreCredentials::Azure {
                    account,
                    access_key,
                } => MicrosoftAzureBuilder::new()
                    .with_account(account)
                    .with_access_key(access_key.expose()),
                _ => return Err(mismatch("Azure")),
            }
            .with_container_name(&bucket)
            .with_client_options(client_options(options.allow_http))
            .with_retry(retry_config())
            .with_allow_http(options.allow_http);
            if let Some(ep) = &options.endpoint {
                b = b.with_endpoint(ep.clone());
            }
            Arc::new(b.build().map_err(build_err)?)
        }
        _ => {
            use object_store::gcp::GoogleCloudStorageBuilder;
            let b = match &options.credentials {
                StoreCredentials::Ambient => {
                    if options.endpoint.is_some() {
                        // object_store reads the GCS base URL only from a service account key;
                        // silently talking to the real GCS instead would be worse than refusing.
                        return Err(invalid(
                            "a custom gs:// endpoint needs a named credential with a service \
                             account key",
                        ));
                    }
                    GoogleCloudStorageBuilder::from_env()
                }
                StoreCredentials::Gcs {
                    service_account_key,
                } => GoogleCloudStorageBuilder::new().with_service_account_key(with_base_url(
                    service_account_key.expose(),
                    options.endpoint.as_deref(),
                )?),
                _ => return Err(mismatch("GCS")),
            };
            Arc::new(
                b.with_bucket_name(&bucket)
                    .with_client_options(client_options(options.allow_http))
                    .with_retry(retry_config())
                    .build()
                    .map_err(build_err)?,
            )
        }
    };
    Ok(BuiltStore {
        store,
        backend,
        bucket,
        prefix,
    })
}

/// The service account key with `gcs_base_url` set to `endpoint` (where `object_store` takes
/// the GCS base URL from); unchanged without an endpoint. Errors never quote the key.
fn with_base_url(key: &str, endpoint: Option<&str>) -> Result<String, ConnectorError> {
    let Some(endpoint) = endpoint else {
        return Ok(key.to_owned());
    };
    let mut v: serde_json::Value = serde_json::from_str(key)
        .map_err(|e| invalid(format!("the service account key is not JSON ({e})")))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| invalid("the service account key is not a JSON object"))?;
    obj.insert(
        "gcs_base_url".into(),
        serde_json::Value::String(endpoint.trim_end_matches('/').to_owned()),
    );
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn u(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn urls_are_parsed_and_checked() {
        assert_eq!(
            parse_store_url(&u("s3://bucket-a/some/prefix/")).unwrap(),
            ("s3", "bucket-a".into(), "some/prefix".into())
        );
        assert_eq!(
            parse_store_url(&u("az://c")).unwrap(),
            ("azure", "c".into(), String::new())
        );
        for bad in [
            "ftp://bucket/x",
            "s3://user:pass@bucket/x",
            "s3://bucket/x?y=1",
            "s3://bucket/a//b",
        ] {
            assert!(
                matches!(parse_store_url(&u(bad)), Err(ConnectorError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn explicit_credentials_build_and_mismatches_are_refused() {
        let s3 = StoreOptions {
            endpoint: Some("http://127.0.0.1:9".into()),
            allow_http: true,
            credentials: StoreCredentials::S3 {
                access_key_id: Redacted::new("id".into()),
                secret_access_key: Redacted::new("hunter2".into()),
                session_token: None,
            },
            ..Default::default()
        };
        let built = build_store(&u("s3://b/p/q"), &s3).unwrap();
        assert_eq!((built.backend, built.prefix.as_str()), ("s3", "p/q"));
        assert!(!format!("{built:?}").contains("hunter2"));
        let c = super::super::ObjectConnector::new(built.store.clone(), "s3", "s3://b/p/q", "p/q")
            .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"), "{c:?}");
        assert!(matches!(
            build_store(&u("az://c/p"), &s3),
            Err(ConnectorError::Invalid(_))
        ));
        assert!(matches!(
            build_store(
                &u("gs://b"),
                &StoreOptions {
                    endpoint: Some("http://127.0.0.1:9".into()),
                    ..Default::default()
                }
            ),
            Err(ConnectorError::Invalid(_))
        ));
    }

    #[test]
    fn a_gcs_endpoint_goes_into_the_key() {
        let k = with_base_url(r#"{"client_email":"a@b"}"#, Some("http://127.0.0.1:5/")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&k).unwrap();
        assert_eq!(v["gcs_base_url"], "http://127.0.0.1:5");
        assert_eq!(v["client_email"], "a@b");
        let e = with_base_url("not json hunter2", Some("x")).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
