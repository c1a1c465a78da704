//! The web UI as served: every file of `ui/` is embedded and served with its type, an ETag
//! and the security headers; page paths answer the page; the routes are public in API-key
//! mode while the API is not; the JavaScript imports only files that exist; and every API
//! call the UI makes is an operation of the OpenAPI document (the UI cannot drift from the
//! API without this test failing).
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{start_with, Options};

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")
}

/// Every file under `ui/` but its README, as paths relative to it.
fn files_on_disk() -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                if rel != "README.md" {
                    out.insert(rel);
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&ui_dir(), &ui_dir(), &mut out);
    out
}

#[test]
fn every_ui_file_is_embedded_and_only_those() {
    let embedded: BTreeSet<String> = argus_api::ui::asset_paths().map(str::to_owned).collect();
    assert_eq!(
        files_on_disk(),
        embedded,
        "list each file of crates/argus-api/ui in ASSETS (src/ui.rs)"
    );
}

/// `import … from "./x.js"` and `import("./pages/x.js")` of every module resolve to an
/// embedded file, and index.html names only embedded files.
#[test]
fn every_import_resolves_to_an_embedded_file() {
    let embedded: BTreeSet<String> = argus_api::ui::asset_paths().map(str::to_owned).collect();
    let import = regex::Regex::new(r#"(?:from\s+|import\(\s*)"(\.{1,2}/[^"]+)""#).unwrap();
    let mut checked = 0;
    for file in embedded.iter().filter(|f| f.ends_with(".js")) {
        let text = std::fs::read_to_string(ui_dir().join(file)).unwrap();
        let base = Path::new(file).parent().unwrap();
        for cap in import.captures_iter(&text) {
            let mut parts: Vec<&str> = base
                .to_str()
                .unwrap()
                .split('/')
                .filter(|s| !s.is_empty())
                .collect();
            for seg in cap[1].split('/') {
                match seg {
                    "." => {}
                    ".." => {
                        parts.pop();
                    }
                    s => parts.push(s),
                }
            }
            let target = parts.join("/");
            assert!(
                embedded.contains(&target),
                "{file} imports {} ({target}), which is not an embedded UI file",
                &cap[1]
            );
            checked += 1;
        }
    }
    assert!(
        checked > 10,
        "only {checked} imports found: the pattern is broken"
    );
    let index = std::fs::read_to_string(ui_dir().join("index.html")).unwrap();
    let refs = regex::Regex::new(r#"(?:src|href)="/ui/assets/([^"]+)""#).unwrap();
    let named: Vec<String> = refs
        .captures_iter(&index)
        .map(|c| c[1].to_owned())
        .collect();
    assert!(named.len() >= 4, "{named:?}");
    for n in named {
        assert!(embedded.contains(&n), "index.html names {n}, not embedded");
    }
}

/// Every `api.get("/…")`-style call and every stream of the UI names an operation of the
/// served OpenAPI document with that method: the UI uses only the public API.
#[test]
fn the_ui_calls_only_documented_operations() {
    let spec = serde_json::to_value(argus_api::openapi()).unwrap();
    let mut documented = BTreeSet::new();
    let param = regex::Regex::new(r"\{[^}]+\}").unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), param.replace_all(path, "{}").into_owned()));
        }
    }
    let call = regex::Regex::new(
        r#"(?:api\.(get|post|put|patch|del|download)|(stream))\(\s*[`"](/[^`"?]*)"#,
    )
    .unwrap();
    let interp = regex::Regex::new(r"\$\{[^}]+\}").unwrap();
    let mut calls = 0;
    for file in argus_api::ui::asset_paths().filter(|f| f.ends_with(".js")) {
        let text = std::fs::read_to_string(ui_dir().join(file)).unwrap();
        for cap in call.captures_iter(&text) {
            let method = match cap.get(1).map(|m| m.as_str()).unwrap_or("get") {
                "del" => "delete",
                "download" => "get",
                m => m,
            };
            let raw = &cap[3];
            let path = interp.replace_all(raw, "{}").into_owned();
            let full = if path.starts_with("/api/") || path.starts_with("/runs") {
                path
            } else {
                format!("/api/v1{path}")
            };
            assert!(
                documented.contains(&(method.to_owned(), full.clone())),
                "{file} calls {method} {raw} ({full}), which is not an operation of the API"
            );
            calls += 1;
        }
    }
    assert!(
        calls >= 15,
        "only {calls} API calls found: the pattern is broken"
    );
}

#[tokio::test]
async fn pages_and_assets_are_served_with_their_headers() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    for path in [
        "/",
        "/ui",
        "/ui/",
        "/ui/scans/new",
        "/ui/scans/0000/whatever",
    ] {
        let res = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers().clone();
        assert_eq!(h["content-type"], "text/html; charset=utf-8", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        let body = res.text().await.unwrap();
        assert!(
            body.contains(r#"<script type="module" src="/ui/assets/js/app.js">"#),
            "{path}"
        );
    }
    for asset in argus_api::ui::ASSETS {
        let url = s.url(&format!("/ui/assets/{}", asset.path));
        let fetch = |if_none_match: Option<&str>| {
            let mut req = s.http.get(&url);
            if let Some(tag) = if_none_match {
                req = req.header("If-None-Match", tag);
            }
            req.send()
        };
        let res = fetch(None).await.unwrap();
        assert_eq!(res.status(), 200, "{}", asset.path);
        assert_eq!(
            res.headers()["content-type"],
            asset.content_type,
            "{}",
            asset.path
        );
        let tag = res.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(res.headers()["cache-control"], "no-cache");
        assert_eq!(
            res.bytes().await.unwrap().as_ref(),
            asset.bytes,
            "{}",
            asset.path
        );
        // Revalidation: the same tag is 304 without a body; another is 200.
        let again = fetch(Some(&tag)).await.unwrap();
        assert_eq!(again.status(), 304, "{}", asset.path);
        assert!(again.bytes().await.unwrap().is_empty());
        let other = fetch(Some("\"other\"")).await.unwrap();
        assert_eq!(other.status(), 200, "{}", asset.path);
    }
    // No file outside the list: a missing name is a 404 problem.
    for path in [
        "/ui/assets/README.md",
        "/ui/assets/nope.js",
        "/ui/assets/",
        "/ui/assets/js",
    ] {
        let (status, body) = common::read(s.http.get(s.url(path)).send().await.unwrap()).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["code"], "not_found", "{path}");
    }
    // However a path is spelled, it reaches no other file: either a 404 or the page itself.
    for path in [
        "/ui/assets/../../Cargo.toml",
        "/ui/assets/%2e%2e/%2e%2e/Cargo.toml",
        "/ui/assets/js/..%2f..%2f..%2fsrc/ui.rs",
        "/ui/assets/%2e%2e%2fREADME.md",
        "/ui/..%2f..%2fCargo.toml",
    ] {
        let res = s.http.get(s.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert!(status == 404 || status == 200, "{path}: {status}");
        assert!(
            !body.contains("[package]")
                && !body.contains("pub const ASSETS")
                && !body.contains("# The Argus web UI"),
            "{path} served another file: {body}"
        );
        if status == 200 {
            assert!(body.contains("<main id=\"main\""), "{path}: {body}");
        }
    }
}

#[tokio::test]
async fn the_ui_is_public_in_api_key_mode_and_the_api_is_not() {
    let s = start_with(Options {
        auth: argus_api::AuthConfig::ApiKey { oidc: None },
        workers: false,
        ..Options::default()
    })
    .await;
    for path in ["/", "/ui/connectors", "/ui/assets/js/app.js"] {
        let res = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    for path in ["/api/v1/whoami", "/api/v1/meta", "/api/v1/scans"] {
        let res = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
}

#[tokio::test]
async fn whoami_names_the_caller_and_meta_the_process() {
    let s = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let (status, me) = s.get("/api/v1/whoami").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["org"], "acme");
    assert_eq!(me["user"], "alice");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["auth_mode"], "local");
    let (_, meta) = s.get("/api/v1/meta").await;
    let instance = meta["instance"].as_str().unwrap().to_owned();
    assert_eq!(instance.len(), 36, "{meta}");
    // Another process (router) has another instance id: the UI tells a restart by it.
    let t = start_with(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let (_, other) = t.get("/api/v1/meta").await;
    assert_ne!(other["instance"], meta["instance"]);
    let (_, same) = s.get("/api/v1/meta").await;
    assert_eq!(same["instance"], meta["instance"]);
}
