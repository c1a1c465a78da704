//! AWS Signature Version 4 (header form), written out by hand: the request signing AWS JSON
//! APIs (CloudWatch Logs) need, without an SDK.
//!
//! The steps are AWS's: a canonical request (method, URI, sorted query, sorted lower-case
//! headers, signed header names, SHA-256 of the payload), a string to sign (algorithm, time,
//! scope, hash of the canonical request), a signing key derived from the secret by a chain of
//! HMAC-SHA256 over date, region, service and `aws4_request`, and the signature over the
//! string to sign. The unit tests check each step against AWS's published examples
//! (`get-vanilla`, `post-vanilla` and the IAM `ListUsers` example), so a change that breaks the
//! algorithm fails here, not against a live service.
//!
//! Invariants:
//! - the `Host` signed is the one the HTTP client sends: the URL's host, with the port only
//!   when it is not the scheme's default;
//! - the canonical URI is the URL's path as the `url` crate encodes it (the paths signed here
//!   are `/`; AWS's double encoding of already-encoded characters is not needed for them);
//! - secrets stay in [`Redacted`] and appear in no output of this module except the signature.

use argus_core::redacted::Redacted;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use url::Url;

/// The algorithm name in the string to sign and the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Static AWS credentials (read from the environment when a sink is built).
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Redacted<String>,
    /// The session token of temporary credentials, sent as `x-amz-security-token` (signed).
    pub session_token: Option<Redacted<String>>,
}

/// What a signature covers besides the request: the region and service it is for.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
}

/// One request to sign. `headers` are the ones the request will carry besides `Host`,
/// `X-Amz-Date`, `X-Amz-Security-Token` and `Authorization` (which signing adds); all of them
/// are signed.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// A signed request's headers, and the intermediate texts (for tests and debugging; none
/// holds a secret).
#[derive(Clone, Debug)]
pub struct Signed {
    /// Headers to add to the request: `x-amz-date`, `x-amz-security-token` (with a session
    /// token) and `authorization`, lower-case names.
    pub headers: Vec<(String, String)>,
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
}

/// Signs `request` at `at` for `scope` with `credentials`.
pub fn sign(
    credentials: &Credentials,
    scope: Scope<'_>,
    request: Request<'_>,
    at: DateTime<Utc>,
) -> Signed {
    let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
    let date = at.format("%Y%m%d").to_string();

    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), canonical_value(v)))
        .collect();
    headers.push(("host".into(), host_header(request.url)));
    headers.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.expose().clone()));
    }
    headers.sort();

    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let path = match request.url.path() {
        "" => "/",
        p => p,
    };
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        path,
        canonical_query(request.url),
        canonical_headers,
        signed_headers,
        sha256_hex(request.body)
    );
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{credential_scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let key = signing_key(
        credentials.secret_access_key.expose(),
        &date,
        scope.region,
        scope.service,
    );
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    );

    let mut out = vec![("x-amz-date".to_owned(), amz_date)];
    if let Some(token) = &credentials.session_token {
        out.push(("x-amz-security-token".into(), token.expose().clone()));
    }
    out.push(("authorization".into(), authorization));
    Signed {
        headers: out,
        canonical_request,
        string_to_sign,
        signature,
    }
}

/// The key derived from the secret for one day, region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `host` or `host:port` as an HTTP client sends it.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Trimmed, with runs of spaces inside collapsed to one (AWS's canonical header value).
fn canonical_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The query's pairs, each side URI-encoded, sorted by name then value, joined with `&`.
fn canonical_query(url: &Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (uri_encode(&k), uri_encode(&v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// AWS's URI encoding: every byte but the unreserved `A-Za-z0-9-_.~` as `%XX` (upper case).
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The credentials of AWS's Signature Version 4 test suite and examples.
    fn example() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Redacted::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: None,
        }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap()
    }

    fn authorization(s: &Signed) -> &str {
        &s.headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1
    }

    const SUITE: Scope<'static> = Scope {
        region: "us-east-1",
        service: "service",
    };

    #[test]
    fn get_vanilla_matches_the_aws_test_suite() {
        let url = Url::parse("https://example.amazonaws.com/").unwrap();
        let request = Request {
            method: "GET",
            url: &url,
            headers: &[],
            body: b"",
        };
        let s = sign(&example(), SUITE, request, at());
        assert_eq!(
            s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            authorization(&s),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(
            s.headers[0],
            ("x-amz-date".to_owned(), "20150830T123600Z".to_owned())
        );
    }

    #[test]
    fn post_vanilla_and_query_order_match_the_aws_test_suite() {
        let url = Url::parse("https://example.amazonaws.com/").unwrap();
        let post = Request {
            method: "POST",
            url: &url,
            headers: &[],
            body: b"",
        };
        assert_eq!(
            sign(&example(), SUITE, post, at()).signature,
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
        // get-vanilla-query-order-key-case: the query is sorted before signing.
        let url = Url::parse("https://example.amazonaws.com/?Param2=value2&Param1=value1").unwrap();
        let get = Request {
            method: "GET",
            url: &url,
            headers: &[],
            body: b"",
        };
        let s = sign(&example(), SUITE, get, at());
        assert!(s
            .canonical_request
            .contains("\nParam1=value1&Param2=value2\n"));
        assert_eq!(
            s.signature,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    /// The worked example of AWS's documentation (IAM `ListUsers`): its signing key and
    /// signature.
    #[test]
    fn iam_list_users_matches_the_documented_example() {
        assert_eq!(
            hex::encode(signing_key(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "20150830",
                "us-east-1",
                "iam"
            )),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        let url =
            Url::parse("https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08").unwrap();
        let request = Request {
            method: "GET",
            url: &url,
            headers: &[(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            body: b"",
        };
        let s = sign(
            &example(),
            Scope {
                region: "us-east-1",
                service: "iam",
            },
            request,
            at(),
        );
        assert_eq!(
            s.canonical_request,
            "GET\n/\nAction=ListUsers&Version=2010-05-08\n\
             content-type:application/x-www-form-urlencoded; charset=utf-8\n\
             host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             content-type;host;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            s.signature,
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    /// A PutLogEvents request with a session token and one on a non-default port, checked
    /// against botocore's `SigV4Auth` (an independent implementation) for the same inputs.
    #[test]
    fn logs_requests_match_botocore() {
        let headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "Logs_20140328.PutLogEvents"),
        ];
        let logs = Scope {
            region: "us-east-1",
            service: "logs",
        };
        let mut creds = example();
        creds.session_token = Some(Redacted::new("TOKEN123".into()));
        let url = Url::parse("https://logs.us-east-1.amazonaws.com/").unwrap();
        let body = br#"{"logGroupName":"g"}"#;
        let s = sign(
            &creds,
            logs,
            Request {
                method: "POST",
                url: &url,
                headers: &headers,
                body,
            },
            at(),
        );
        assert_eq!(
            authorization(&s),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/logs/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, \
             Signature=6ffae5750ce9387c1a6f0e43ddc801c5eb0face5a561a8d22819f7b02d4c932c"
        );
        assert!(s
            .headers
            .contains(&("x-amz-security-token".into(), "TOKEN123".into())));

        let url = Url::parse("http://127.0.0.1:5000/").unwrap();
        let s = sign(
            &example(),
            logs,
            Request {
                method: "POST",
                url: &url,
                headers: &headers,
                body,
            },
            at(),
        );
        assert!(s.canonical_request.contains("\nhost:127.0.0.1:5000\n"));
        assert_eq!(
            s.signature,
            "1ee07541147e1af25453eeddbf5e41b87153ab50d14f4b5e824bcb99714e43b4"
        );
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let shown = format!("{:?}", example());
        assert!(!shown.contains("EXAMPLEKEY"), "{shown}");
    }
}
