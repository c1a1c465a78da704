//! Technology fingerprints: the shipped `data/fingerprints.toml` (parsed once) and the matching
//! of one response against it. A technology matches when any one of its matchers does; see the
//! data file's header for the matcher language. Header names are compared in lower case,
//! header values, cookie names and titles case-insensitively, body substrings exactly.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// One technology of the data file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Technology {
    pub name: String,
    pub category: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub cookies: Vec<String>,
    #[serde(default)]
    pub body: Vec<String>,
    #[serde(default)]
    pub title: Vec<String>,
    #[serde(default)]
    pub version: Option<VersionRule>,
}

/// Where a technology's version is read.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRule {
    /// A header (lower case) …
    #[serde(default)]
    pub header: Option<String>,
    /// … or the body.
    #[serde(default)]
    pub body: bool,
    /// The text right before the version (case-insensitive in headers).
    pub prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    technology: Vec<Technology>,
}

/// The data file's technologies; a broken file is an error here, caught by a unit test.
pub fn load(text: &str) -> Result<Vec<Technology>, String> {
    let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
    for t in &f.technology {
        if t.headers.is_empty() && t.cookies.is_empty() && t.body.is_empty() && t.title.is_empty() {
            return Err(format!("{} has no matcher", t.name));
        }
        if t.headers
            .keys()
            .any(|k| k.chars().any(|c| c.is_ascii_uppercase()))
        {
            return Err(format!("{}: header names must be lower case", t.name));
        }
    }
    Ok(f.technology)
}

/// The shipped fingerprints (none if the file were broken, which its unit test rules out).
pub fn shipped() -> &'static [Technology] {
    static TECH: OnceLock<Vec<Technology>> = OnceLock::new();
    TECH.get_or_init(|| {
        load(include_str!("../../data/fingerprints.toml")).unwrap_or_else(|e| {
            tracing::error!("data/fingerprints.toml: {e}");
            Vec::new()
        })
    })
}

/// What a response shows.
#[derive(Debug, Default)]
pub struct Evidence<'a> {
    /// `(lower-case name, value)`.
    pub headers: Vec<(String, String)>,
    /// Cookie names set by the response.
    pub cookies: Vec<String>,
    pub body: &'a str,
    pub title: Option<&'a str>,
}

/// A detected technology.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Detected {
    pub name: String,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// The version right after `prefix` in `hay` (case-insensitive search).
fn version_after(hay: &str, prefix: &str) -> Option<String> {
    let lower = hay.to_ascii_lowercase();
    let at = lower.find(&prefix.to_ascii_lowercase())? + prefix.len();
    let v: String = hay[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(32)
        .collect();
    v.starts_with(|c: char| c.is_ascii_digit()).then_some(v)
}

impl<'a> Evidence<'a> {
    fn header<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn matches(&self, t: &Technology) -> bool {
        t.headers.iter().any(|(name, want)| {
            self.header(name)
                .any(|v| want.is_empty() || contains_ci(v, want))
        }) || t.cookies.iter().any(|c| {
            let c = c.to_ascii_lowercase();
            self.cookies
                .iter()
                .any(|have| have.to_ascii_lowercase().starts_with(&c))
        }) || t.body.iter().any(|b| self.body.contains(b.as_str()))
            || self
                .title
                .is_some_and(|title| t.title.iter().any(|w| contains_ci(title, w)))
    }

    fn version(&self, t: &Technology) -> Option<String> {
        let rule = t.version.as_ref()?;
        if let Some(h) = &rule.header {
            if let Some(v) = self.header(h).find_map(|v| version_after(v, &rule.prefix)) {
                return Some(v);
            }
        }
        if rule.body {
            return version_after(self.body, &rule.prefix);
        }
        None
    }

    /// Every technology of `techs` this response shows, in file order.
    pub fn detect(&self, techs: &[Technology]) -> Vec<Detected> {
        techs
            .iter()
            .filter(|t| self.matches(t))
            .map(|t| Detected {
                name: t.name.clone(),
                category: t.category.clone(),
                version: self.version(t),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_loads() {
        let techs = load(include_str!("../../data/fingerprints.toml")).unwrap();
        assert!(techs.len() >= 30, "{}", techs.len());
        for name in [
            "nginx",
            "WordPress",
            "Jenkins",
            "Grafana",
            "Cloudflare",
            "jQuery",
        ] {
            assert!(techs.iter().any(|t| t.name == name), "{name}");
        }
    }

    #[test]
    fn headers_cookies_body_and_title() {
        let body = r#"<html><head><meta name="generator" content="WordPress 6.4.2"><script src="/wp-includes/js/jquery/jquery.min.js"></script></head></html>"#;
        let ev = Evidence {
            headers: vec![
                ("server".into(), "nginx/1.25.3".into()),
                ("x-powered-by".into(), "PHP/8.2.1".into()),
            ],
            cookies: vec!["wordpress_test_cookie".into()],
            body,
            title: Some("Dashboard - Grafana"),
        };
        let found = ev.detect(shipped());
        let get = |n: &str| found.iter().find(|d| d.name == n).cloned();
        assert_eq!(get("nginx").unwrap().version.as_deref(), Some("1.25.3"));
        assert_eq!(get("PHP").unwrap().version.as_deref(), Some("8.2.1"));
        assert_eq!(get("WordPress").unwrap().version.as_deref(), Some("6.4.2"));
        assert!(get("jQuery").is_some());
        assert!(get("Grafana").is_some());
        assert!(get("Apache HTTP Server").is_none());
        assert!(get("Drupal").is_none());
    }
}
