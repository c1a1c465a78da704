//! The deployment files set only environment variables the binary knows.
//!
//! Collects every variable that `docker-compose.yml` (the services running the Argus image),
//! `deploy/helm/argus/values.yaml` and the literal `env:` entries of the chart's templates give
//! an Argus container, then checks:
//! - each `ARGUS_*` one is a config key: `argus config show` with the variable set must exit 0
//!   (unknown keys in a known section are rejected) **and** print that key (variables naming an
//!   unknown section are ignored by the binary, so exit 0 alone would not catch them);
//! - each other one is in [`ALLOWED_OTHER`], the standard variables docs/config.md documents.
//!
//! A typo in a deployment file thus fails here instead of being silently ignored in production.
//! The checker itself is shown to catch deliberately bogus names.
//!
//! Second check: no deployment runs auth mode `local` (no authentication) on a non-loopback
//! bind. Each Argus container's effective settings are the image's `ENV` (Dockerfile) overlaid
//! with what the file sets, falling back to the binary's defaults (`local`, `127.0.0.1:8080`).
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

/// The non-Argus variables a deployment may set (documented in docs/config.md / deploy/README.md).
const ALLOWED_OTHER: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "RUST_LOG",
];

/// A variable a file sets: name → (where, literal value if any).
type Vars = BTreeMap<String, Vec<(String, Option<String>)>>;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    let p = repo_root().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn load_yaml(text: &str, what: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(docs.len(), 1, "{what}: expected one YAML document");
    docs.remove(0)
}

/// `NAME_LIKE_THIS`: upper case, digits and underscores, with at least one underscore.
fn env_shaped(s: &str) -> bool {
    s.len() > 2
        && s.contains('_')
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A mapping's value for `key`, looking through YAML merge keys (`<<: *anchor`), which the
/// parser keeps as plain keys.
fn get<'a>(map: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    let h = map.as_hash()?;
    if let Some(v) = h.get(&Yaml::String(key.into())) {
        return Some(v);
    }
    h.get(&Yaml::String("<<".into()))
        .and_then(|merged| get(merged, key))
}

fn add(vars: &mut Vars, name: &str, at: &str, value: Option<String>) {
    vars.entry(name.to_owned())
        .or_default()
        .push((at.to_owned(), value));
}

/// Variables of an `environment:` block: a mapping (with merge keys) or a list of `K=V`.
fn environment(vars: &mut Vars, env: &Yaml, at: &str) {
    match env {
        Yaml::Hash(h) => {
            for (k, v) in h {
                match k.as_str() {
                    Some("<<") => environment(vars, v, at),
                    Some(name) => add(vars, name, at, scalar(v)),
                    None => panic!("{at}: non-string environment key {k:?}"),
                }
            }
        }
        Yaml::Array(items) => {
            for item in items {
                let s = item
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: bad item {item:?}"));
                match s.split_once('=') {
                    Some((k, v)) => add(vars, k, at, Some(v.to_owned())),
                    None => add(vars, s, at, None),
                }
            }
        }
        other => panic!("{at}: unexpected environment {other:?}"),
    }
}

/// Variables the compose file gives containers running the Argus image (a `build:` or an
/// `argus` image). Third-party images (postgres, rabbitmq, minio) take their own variables.
fn compose_vars(text: &str) -> Vars {
    let doc = load_yaml(text, "docker-compose.yml");
    let services = doc["services"]
        .as_hash()
        .expect("docker-compose.yml has services");
    let mut vars = Vars::new();
    let mut argus_services = 0;
    for (name, svc) in services {
        let name = name.as_str().unwrap_or("?");
        let image = get(svc, "image").and_then(Yaml::as_str).unwrap_or("");
        let is_argus = get(svc, "build").is_some()
            || image == "argus"
            || image.starts_with("argus:")
            || image.ends_with("/argus")
            || image.contains("/argus:");
        if !is_argus {
            continue;
        }
        argus_services += 1;
        if let Some(env) = get(svc, "environment") {
            environment(
                &mut vars,
                env,
                &format!("docker-compose.yml services.{name}"),
            );
        }
    }
    assert!(
        argus_services > 0,
        "no Argus service found in the compose file"
    );
    vars
}

/// Every env-shaped mapping key anywhere in the values, and `name:` of `env:`-style lists.
fn values_vars(text: &str) -> Vars {
    fn walk(y: &Yaml, path: &str, vars: &mut Vars) {
        match y {
            Yaml::Hash(h) => {
                for (k, v) in h {
                    let k = k.as_str().unwrap_or("?");
                    let here = format!("{path}.{k}");
                    if env_shaped(k) {
                        add(vars, k, &here, scalar(v));
                    }
                    if (k == "env" || k.ends_with("Env")) && v.as_vec().is_some() {
                        for item in v.as_vec().into_iter().flatten() {
                            if let Some(n) = item["name"].as_str() {
                                add(vars, n, &here, scalar(&item["value"]));
                            }
                        }
                    }
                    walk(v, &here, vars);
                }
            }
            Yaml::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), vars);
                }
            }
            _ => {}
        }
    }
    let doc = load_yaml(text, "values.yaml");
    let mut vars = Vars::new();
    walk(&doc, "values.yaml", &mut vars);
    vars
}

/// Literal variable names in a Helm template (Go templates are not YAML, so line by line):
/// `- name: ARGUS_X` entries and `ARGUS_X: value` keys.
fn template_vars(file: &str, text: &str) -> Vars {
    let mut vars = Vars::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim().trim_start_matches("- ").trim();
        let at = format!("{file}:{}", i + 1);
        if let Some(rest) = t.strip_prefix("name:") {
            let n = rest.trim().trim_matches('"');
            if env_shaped(n) {
                add(&mut vars, n, &at, None);
            }
        } else if let Some((k, v)) = t.split_once(':') {
            if env_shaped(k.trim()) {
                let v = v.trim().trim_matches('"');
                let literal = (!v.is_empty() && !v.contains("{{")).then(|| v.to_owned());
                add(&mut vars, k.trim(), &at, literal);
            }
        }
    }
    vars
}

fn chart_template_vars() -> Vars {
    let dir = repo_root().join("deploy/helm/argus/templates");
    let mut vars = Vars::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let file = format!(
            "templates/{}",
            p.file_name().unwrap_or_default().to_string_lossy()
        );
        let text = std::fs::read_to_string(&p).unwrap();
        for (k, v) in template_vars(&file, &text) {
            vars.entry(k).or_default().extend(v);
        }
    }
    vars
}

/// A value `config show` accepts for a key, when the file gives no literal one (templated or
/// empty values).
fn plausible(section: &str, key: &str) -> &'static str {
    match (section, key) {
        ("server", "bind") => "0.0.0.0:8080",
        ("server", "data_dir") => "/var/lib/argus",
        ("store", "url") => "postgres://argus:pw@db:5432/argus",
        ("queue", "url") => "amqp://argus:pw@mq:5672/%2f",
        ("queue", "name") => "argus.tasks",
        ("artifacts", "url") => "s3://bucket/prefix",
        ("artifacts", "endpoint") => "http://minio:9000",
        ("artifacts", "region") => "us-east-1",
        ("artifacts", "allow_http") => "true",
        ("auth", "mode") => "local",
        ("log", "level") => "info",
        ("log", "format") => "json",
        _ => "1",
    }
}

/// Runs `argus config show` with only `name=value` set (inherited `ARGUS_*` removed).
fn config_show(name: &str, value: &str) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_argus"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ARGUS_") {
            c.env_remove(k);
        }
    }
    c.args(["config", "show"])
        .env(name, value)
        .output()
        .expect("run argus config show")
}

/// Problems with one variable (empty when it is fine).
fn check(name: &str, literal: Option<&str>) -> Vec<String> {
    let Some(rest) = name.strip_prefix("ARGUS_") else {
        return if ALLOWED_OTHER.contains(&name) {
            vec![]
        } else {
            vec![format!(
                "{name} is neither an Argus key nor an allowed standard variable {ALLOWED_OTHER:?}"
            )]
        };
    };
    let Some((section, key)) = rest.split_once("__") else {
        return vec![format!(
            "{name} is not ARGUS_<SECTION>__<KEY> (sections and keys are separated by `__`)"
        )];
    };
    let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
    if key.contains("__") {
        return vec![format!("{name}: no config key is nested that deep")];
    }
    let value = literal
        .filter(|v| !v.is_empty() && !v.contains("${") && !v.contains("{{"))
        .unwrap_or_else(|| plausible(&section, &key));
    let out = config_show(name, value);
    if !out.status.success() {
        return vec![format!(
            "argus config show rejects {name}={value}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )];
    }
    let shown: toml::Table = match String::from_utf8_lossy(&out.stdout).parse() {
        Ok(t) => t,
        Err(e) => return vec![format!("config show output is not TOML: {e}")],
    };
    if shown
        .get(&section)
        .and_then(|s| s.as_table())
        .and_then(|s| s.get(&key))
        .is_none()
    {
        return vec![format!(
            "{name} is ignored by the binary: config show has no `{section}.{key}`"
        )];
    }
    vec![]
}

fn problems(vars: &Vars) -> Vec<String> {
    let mut out = Vec::new();
    for (name, places) in vars {
        // The same name may be set in several places; check each distinct literal value.
        let mut values: Vec<Option<&str>> = places.iter().map(|(_, v)| v.as_deref()).collect();
        values.sort();
        values.dedup();
        for v in values {
            for p in check(name, v) {
                let at: Vec<&str> = places.iter().map(|(a, _)| a.as_str()).collect();
                out.push(format!("{p} (set in {})", at.join(", ")));
            }
        }
    }
    out
}

#[test]
fn deployment_files_set_only_known_variables() {
    let compose = compose_vars(&read("docker-compose.yml"));
    let values = values_vars(&read("deploy/helm/argus/values.yaml"));
    let templates = chart_template_vars();

    // The extraction found what the files are known to set, so an empty result cannot pass.
    for (what, vars, must) in [
        (
            "compose",
            &compose,
            ["ARGUS_STORE__URL", "ARGUS_QUEUE__URL"],
        ),
        (
            "values",
            &values,
            ["ARGUS_STORE__URL", "ARGUS_ARTIFACTS__URL"],
        ),
        (
            "templates",
            &templates,
            ["ARGUS_WORKER__WORKERS", "ARGUS_WORKER__WORKERS"],
        ),
    ] {
        for m in must {
            assert!(vars.contains_key(m), "{what}: {m} not found in {vars:?}");
        }
    }

    let mut all = compose;
    for (k, v) in values.into_iter().chain(templates) {
        all.entry(k).or_default().extend(v);
    }
    let found = problems(&all);
    assert!(
        found.is_empty(),
        "deployment files set unknown variables:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_catches_bogus_variables() {
    // Known keys pass.
    assert_eq!(check("ARGUS_STORE__URL", None), Vec::<String>::new());
    assert_eq!(check("AWS_REGION", Some("eu-west-1")), Vec::<String>::new());
    // Unknown key in a known section: the binary rejects it.
    assert!(!check("ARGUS_SERVER__BINDD", Some("0.0.0.0:1")).is_empty());
    // Unknown section: the binary ignores it, the check must not.
    assert!(!check("ARGUS_STOER__URL", Some("postgres://x@y/z")).is_empty());
    // Single underscore: not a key at all.
    assert!(!check("ARGUS_STORE_URL", Some("postgres://x@y/z")).is_empty());
    // A non-Argus variable outside the allow-list.
    assert!(!check("AWS_SECRET_KEY", Some("x")).is_empty());

    // End to end through the compose extractor, merge keys included.
    let compose = r#"
x-env: &env
  ARGUS_LOG__LEVEL: info
  ARGUS_LOG__LEVLE: debug
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: not-checked-third-party-image
  api:
    image: argus:dev
    environment:
      <<: *env
      ARGUS_SERVER__BIND: 0.0.0.0:8080
  worker:
    build: .
    environment:
      - ARGUS_WORKER__WORKERS=4
      - AZURE_STORAGE_SAS_TOKEN=nope
"#;
    let vars = compose_vars(compose);
    assert!(!vars.contains_key("POSTGRES_PASSWORD"));
    let found = problems(&vars);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found.iter().any(|p| p.contains("ARGUS_LOG__LEVLE")));
    assert!(found.iter().any(|p| p.contains("AZURE_STORAGE_SAS_TOKEN")));

    // And through the values and template extractors.
    let values = values_vars("config:\n  ARGUS_WORKER__WORKRES: \"4\"\nimage: {tag: x}\n");
    assert_eq!(problems(&values).len(), 1);
    let tpl = template_vars(
        "t.yaml",
        "env:\n  - name: ARGUS_QUEUE__NAMES\n    value: {{ .Values.x }}\n  - name: http\n",
    );
    assert_eq!(problems(&tpl).len(), 1);
}

/// The Dockerfile's `ENV` settings (continuation lines joined; `K=V` pairs only).
fn dockerfile_env(text: &str) -> BTreeMap<String, String> {
    let joined = text.replace("\\\n", " ");
    let mut out = BTreeMap::new();
    for line in joined.lines() {
        let Some(rest) = line.trim().strip_prefix("ENV ") else {
            continue;
        };
        for pair in rest.split_whitespace() {
            if let Some((k, v)) = pair.split_once('=') {
                out.insert(k.to_owned(), v.trim_matches('"').to_owned());
            }
        }
    }
    out
}

/// Each Argus service of a compose file with the variables it sets (the last setting wins).
fn compose_service_envs(text: &str) -> Vec<(String, BTreeMap<String, Option<String>>)> {
    let doc = load_yaml(text, "docker-compose.yml");
    let mut out = Vec::new();
    for (name, svc) in doc["services"].as_hash().expect("services") {
        let name = name.as_str().unwrap_or("?").to_owned();
        let image = get(svc, "image").and_then(Yaml::as_str).unwrap_or("");
        let is_argus = get(svc, "build").is_some()
            || image == "argus"
            || image.starts_with("argus:")
            || image.ends_with("/argus")
            || image.contains("/argus:");
        if !is_argus {
            continue;
        }
        let mut vars = Vars::new();
        if let Some(env) = get(svc, "environment") {
            environment(&mut vars, env, &name);
        }
        let env = vars
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().last().and_then(|(_, v)| v)))
            .collect();
        out.push((name, env));
    }
    out
}

/// Whether a bind address only accepts local connections (`127.0.0.0/8`, `::1`, `localhost`).
fn loopback_bind(bind: &str) -> bool {
    let host = match bind.rsplit_once(':') {
        Some((h, _port)) => h,
        None => bind,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A problem when `settings` (file over image over binary defaults) run `local` auth on a
/// non-loopback bind.
fn local_auth_exposed(
    what: &str,
    image: &BTreeMap<String, String>,
    settings: &BTreeMap<String, Option<String>>,
) -> Option<String> {
    let effective = |key: &str, default: &str| -> String {
        match settings.get(key) {
            Some(Some(v)) => v.clone(),
            // Set without a literal value (templated, `${…}`): whatever it is, it is not the
            // default; treat it as unknown and judge the other setting.
            Some(None) => "?".to_owned(),
            None => image
                .get(key)
                .cloned()
                .unwrap_or_else(|| default.to_owned()),
        }
    };
    let mode = effective("ARGUS_AUTH__MODE", "local");
    let bind = effective("ARGUS_SERVER__BIND", "127.0.0.1:8080");
    let bind = if bind.contains("${") || bind.contains("{{") || bind == "?" {
        // Unknown: assume the worst.
        "0.0.0.0:8080".to_owned()
    } else {
        bind
    };
    (mode.trim() == "local" && !loopback_bind(bind.trim())).then(|| {
        format!("{what}: auth mode `local` (no authentication) on the non-loopback bind {bind}")
    })
}

#[test]
fn no_deployment_runs_local_auth_on_a_public_bind() {
    let image = dockerfile_env(&read("Dockerfile"));
    assert_eq!(
        image.get("ARGUS_SERVER__BIND").map(String::as_str),
        Some("0.0.0.0:8080"),
        "the image's ENV was not found: {image:?}"
    );
    let mut found = Vec::new();
    let services = compose_service_envs(&read("docker-compose.yml"));
    assert!(services.iter().any(|(n, _)| n == "api"), "{services:?}");
    for (name, env) in &services {
        found.extend(local_auth_exposed(
            &format!("docker-compose.yml services.{name}"),
            &image,
            env,
        ));
    }
    // Helm: the ConfigMap (values `config`) reaches every container; literal template `env:`
    // entries come on top.
    let values = load_yaml(&read("deploy/helm/argus/values.yaml"), "values.yaml");
    let mut chart: BTreeMap<String, Option<String>> = values["config"]
        .as_hash()
        .expect("values.yaml has config")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap_or("?").to_owned(), scalar(v)))
        .collect();
    for (k, places) in chart_template_vars() {
        if let Some((_, v)) = places.into_iter().last() {
            chart.insert(k, v);
        }
    }
    assert!(chart.contains_key("ARGUS_AUTH__MODE"), "{chart:?}");
    found.extend(local_auth_exposed("deploy/helm/argus", &image, &chart));
    assert!(found.is_empty(), "{}", found.join("\n"));

    // The detector itself: flags `local` (explicit or by default) on 0.0.0.0, not otherwise.
    let set = |pairs: &[(&str, &str)]| -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
            .collect()
    };
    let none = BTreeMap::new();
    assert!(local_auth_exposed("t", &image, &set(&[])).is_some());
    assert!(local_auth_exposed("t", &image, &set(&[("ARGUS_AUTH__MODE", "local")])).is_some());
    assert!(local_auth_exposed("t", &none, &set(&[])).is_none());
    assert!(local_auth_exposed(
        "t",
        &image,
        &set(&[
            ("ARGUS_AUTH__MODE", "local"),
            ("ARGUS_SERVER__BIND", "127.0.0.1:8080")
        ])
    )
    .is_none());
    assert!(local_auth_exposed("t", &none, &set(&[("ARGUS_SERVER__BIND", "[::]:8080")])).is_some());
    assert!(local_auth_exposed("t", &image, &set(&[("ARGUS_AUTH__MODE", "apikey")])).is_none());
    let compose = "services:\n  api:\n    build: .\n    environment:\n      ARGUS_AUTH__MODE: local\n      ARGUS_SERVER__BIND: 0.0.0.0:8080\n";
    let svc = compose_service_envs(compose);
    assert!(local_auth_exposed("t", &none, &svc[0].1).is_some());
    for bind in ["127.0.0.1:80", "[::1]:80", "localhost:80", "127.1.2.3:9"] {
        assert!(loopback_bind(bind), "{bind}");
    }
    for bind in ["0.0.0.0:80", "[::]:80", "10.0.0.1:80", "example.org:80"] {
        assert!(!loopback_bind(bind), "{bind}");
    }
}
