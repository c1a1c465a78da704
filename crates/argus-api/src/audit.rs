//! The audit layer: request ids, and one audit record per mutating request or download.
//!
//! Two pieces, both added in [`crate::router`]:
//! - [`route_marker`], a route layer (it runs after routing, next to the handler), copies the
//!   matched route template (`MatchedPath`) into the response, where the outer layer reads it.
//! - [`record`], the outermost layer, outside the auth layer. It takes the client's
//!   `X-Request-Id` when it is valid (1-128 characters of letters, digits and `-_.:@+=/`) or
//!   makes one up (a UUIDv7), puts it on the request (handlers and traces see it) and echoes it
//!   in the answer. After the answer, it records what is audited:
//!   - every request whose method is not `GET`, `HEAD` or `OPTIONS`, and
//!   - every download or export: [`EXPORT_ROUTES`] (artifacts — SARIF, reports, quarantined
//!     objects' lists —, a cleaned repository, a DeployGuard job's download),
//!
//!   allowed or refused, when the caller is known: the auth layer leaves an
//!   [`auth::Caller`](crate::auth::Caller) in the response, also on its own 403. A request
//!   without an identified caller (401) belongs to no org: it is logged with `tracing` at info,
//!   not stored. Requests that matched no route are not actions and are not recorded.
//!
//! What a record says ([`NewAuditRecord`]): who (org, user, role), the action ([`action`]:
//! `scan.create`, `scan.start`, `finding.triage`, `artifact.download`, …), the resource (the
//! request path, never its query string), the outcome (`success` below 400, `denied` for 401
//! and 403, `failed` otherwise) with the status, the client address, the time the request
//! arrived and the request id. Never a body, a header value or a query string, so no
//! credential reaches the log.
//!
//! Client address: the TCP peer. In trusted-headers mode the peer is the trusted proxy; the
//! address it reports for its client (`X-Forwarded-For`) is not used here (a claim, not a fact
//! this process saw).
//!
//! Failure: the record is written before the answer leaves (so a client that reads the log
//! after its request sees it), but the request has already been carried out by then: a failed
//! write cannot undo it, and refusing the answer would only hide from the client what happened.
//! So the answer goes out unchanged and the failure is logged at error level with the whole
//! record (fail open, loudly).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;

use argus_core::audit::{AuditOutcome, NewAuditRecord};

use crate::auth::Caller;
use crate::AppState;

/// The request id header, taken from the client when valid and always answered.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `GET` routes that hand out data in bulk (downloads, exports): audited like mutations.
pub const EXPORT_ROUTES: &[&str] = &[
    "/api/v1/scans/{id}/artifacts/{*name}",
    "/api/v1/scans/{id}/download",
    "/api/v2/jobs/{id}/download",
];

/// Actions whose name the rule in [`action`] would not find.
const ACTIONS: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/api/v1/scans/{id}/artifacts/{*name}",
        "artifact.download",
    ),
    ("PATCH", "/api/v1/findings/{id}", "finding.triage"),
    (
        "POST",
        "/api/v1/scans/{id}/findings/select",
        "finding.select",
    ),
    ("POST", "/api/v2/jobs/{id}/secrets/select", "job.select"),
    ("POST", "/api/v1/scan/binary", "scan.upload"),
    ("POST", "/api/v1/templates/{id}/scans", "template.scan"),
    ("DELETE", "/api/v1/apikeys/{id}", "apikey.revoke"),
];

/// The matched route template, carried from [`route_marker`] to [`record`].
#[derive(Clone, Debug)]
struct Route(MatchedPath);

/// Copies the matched route into the response for [`record`] (and the HTTP metrics).
pub(crate) async fn route_marker(path: MatchedPath, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.extensions_mut().insert(Route(path));
    res
}

/// The route template the request matched, as [`route_marker`] left it in the response;
/// `None` when no route matched.
pub(crate) fn matched_route(res: &Response) -> Option<&str> {
    res.extensions().get::<Route>().map(|Route(p)| p.as_str())
}

/// The dotted action name of `method` on the route template `route`.
///
/// The rule: the resource is the first literal segment after the API prefix, singular
/// (`scans` → `scan`, `apikeys` → `apikey`); the verb is the last literal segment when the route
/// has more than one (`/scans/{id}/start` → `scan.start`, `-` becoming `_`), else the method's
/// (`POST` → `create`, `PUT`/`PATCH` → `update`, `DELETE` → `delete`, `GET` → `download`).
/// A few routes are named by hand ([`ACTIONS`]) where the rule reads badly.
pub fn action(method: &Method, route: &str) -> String {
    if let Some((_, _, name)) = ACTIONS
        .iter()
        .find(|(m, r, _)| *m == method.as_str() && *r == route)
    {
        return (*name).to_owned();
    }
    let literals: Vec<&str> = route
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .skip_while(|s| *s == "api" || *s == "v1" || *s == "v2")
        .collect();
    let Some(first) = literals.first() else {
        return format!("{}.request", method.as_str().to_ascii_lowercase());
    };
    let noun = first.strip_suffix('s').unwrap_or(first).replace('-', "_");
    let verb = match literals.last() {
        Some(last) if literals.len() > 1 => last.replace('-', "_"),
        _ => match *method {
            Method::POST => "create".into(),
            Method::PUT | Method::PATCH => "update".into(),
            Method::DELETE => "delete".into(),
            Method::GET => "download".into(),
            _ => method.as_str().to_ascii_lowercase(),
        },
    };
    format!("{noun}.{verb}")
}

/// Whether a request of `method` on `route` is audited.
pub fn audited(method: &Method, route: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || (*method == Method::GET && EXPORT_ROUTES.contains(&route))
}

/// A client's request id when it is one we keep: 1-128 characters of letters, digits and
/// `-_.:@+=/` (so it is safe in a log line and a header).
fn valid_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@+=/".contains(&b));
    ok.then(|| s.to_owned())
}

/// The outermost layer: request id in and out, and the audit record of the request.
pub(crate) async fn record(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let at = Utc::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(valid_request_id)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let id_header =
        HeaderValue::from_str(&request_id).unwrap_or(HeaderValue::from_static("invalid"));
    req.headers_mut().insert(REQUEST_ID, id_header.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_canonical().to_string());

    let mut res = next.run(req).await;
    res.headers_mut().insert(REQUEST_ID, id_header);

    let Some(Route(route)) = res.extensions().get::<Route>().cloned() else {
        return res;
    };
    let route = route.as_str();
    if !audited(&method, route) {
        return res;
    }
    let status = res.status().as_u16();
    let caller = res.extensions().get::<Caller>().cloned();
    let Some(caller) = caller else {
        tracing::info!(
            %method, route, resource = %path, status, client = client.as_deref().unwrap_or("-"),
            request_id = %request_id, "audited request without an identified caller"
        );
        return res;
    };
    let record = NewAuditRecord {
        at,
        org_id: caller.org.clone(),
        user_id: caller.user.clone(),
        role: caller.role,
        action: action(&method, route),
        method: method.as_str().to_owned(),
        route: route.to_owned(),
        resource: path,
        outcome: AuditOutcome::of_status(status),
        status,
        client,
        request_id,
    };
    if let Err(e) = state.engine.audit().record(record.clone()).await {
        tracing::error!(error = %e, record = ?record, "writing an audit record failed");
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_the_rule_and_the_table() {
        let cases = [
            (Method::POST, "/api/v1/scans", "scan.create"),
            (Method::PUT, "/api/v1/scans/{id}", "scan.update"),
            (Method::DELETE, "/api/v1/scans/{id}", "scan.delete"),
            (Method::POST, "/api/v1/scans/{id}/start", "scan.start"),
            (Method::POST, "/api/v1/scans/plan", "scan.plan"),
            (Method::GET, "/api/v1/scans/{id}/download", "scan.download"),
            (
                Method::GET,
                "/api/v1/scans/{id}/artifacts/{*name}",
                "artifact.download",
            ),
            (Method::PATCH, "/api/v1/findings/{id}", "finding.triage"),
            (
                Method::POST,
                "/api/v1/connectors/{id}/full-scan",
                "connector.full_scan",
            ),
            (Method::POST, "/api/v1/apikeys", "apikey.create"),
            (Method::DELETE, "/api/v1/apikeys/{id}", "apikey.revoke"),
            (Method::POST, "/api/v2/jobs", "job.create"),
            (Method::GET, "/api/v2/jobs/{id}/download", "job.download"),
            (Method::POST, "/runs", "run.create"),
            (Method::POST, "/runs/filters", "run.filters"),
        ];
        for (m, route, name) in cases {
            assert_eq!(action(&m, route), name, "{m} {route}");
        }
    }

    #[test]
    fn mutations_and_exports_are_audited_reads_are_not() {
        assert!(audited(&Method::POST, "/api/v1/scans"));
        assert!(audited(&Method::DELETE, "/api/v1/scans/{id}"));
        assert!(audited(
            &Method::GET,
            "/api/v1/scans/{id}/artifacts/{*name}"
        ));
        assert!(!audited(&Method::GET, "/api/v1/scans/{id}"));
        assert!(!audited(&Method::HEAD, "/api/v1/scans/{id}/download"));
    }

    #[test]
    fn request_ids_are_kept_only_when_tame() {
        let ok = |s: &str| valid_request_id(&HeaderValue::from_str(s).unwrap());
        assert_eq!(ok("abc-123_x.y:z").as_deref(), Some("abc-123_x.y:z"));
        assert_eq!(ok(""), None);
        assert_eq!(ok("has space"), None);
        assert_eq!(ok(&"a".repeat(129)), None);
        assert_eq!(ok("quote\""), None);
    }
}
