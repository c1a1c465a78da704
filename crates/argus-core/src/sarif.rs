//! SARIF 2.1.0 logs: the one builder for every source of findings (the secret engine's
//! `argus scan secrets`, and any scanner's findings in direct mode), so severities map to the
//! same levels everywhere and GitHub code scanning reads every report the same way.
//!
//! Pure: it builds a `serde_json::Value`; writing it is the caller's. Invariants: a result's
//! `ruleIndex` points at its rule in the run's `rules` (0 when the rule is not listed); a
//! result's level is [`level`] of its severity, a rule's `security-severity` is
//! [`security_severity`] of its default severity; optional fields are left out, never `null`.

use serde_json::{json, Map, Value};

use crate::finding::Severity;

/// The SARIF level of a severity: `error` (critical, high), `warning` (medium), `note`.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning reads `security-severity` (0-10) to rank security results.
pub fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// The tool a run reports for.
#[derive(Clone, Debug, PartialEq)]
pub struct Driver {
    pub name: String,
    pub version: Option<String>,
    pub information_uri: Option<String>,
}

/// What a rule (a kind of finding) is.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub description: String,
    pub help: String,
    /// The rule's default severity (its `defaultConfiguration.level` and `security-severity`).
    pub severity: Severity,
    pub tags: Vec<String>,
    /// `precision` property (`high`, `medium`, `low`), when the source knows it.
    pub precision: Option<String>,
    pub help_uri: Option<String>,
}

/// A place in a file (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub start_line: u64,
    pub start_column: Option<u64>,
    pub end_line: Option<u64>,
}

/// Where a result was seen: a URI (a path relative to the scanned root, or a URL) and maybe a
/// region in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    pub uri: String,
    pub region: Option<Region>,
}

/// Another place the same result was seen, with a short note.
#[derive(Clone, Debug, PartialEq)]
pub struct Related {
    pub location: Location,
    pub message: String,
}

/// One finding.
#[derive(Clone, Debug, PartialEq)]
pub struct SarifResult {
    pub rule_id: String,
    pub severity: Severity,
    pub message: String,
    pub locations: Vec<Location>,
    /// Numbered from 1 in order.
    pub related: Vec<Related>,
    /// `partialFingerprints`: name (e.g. `argusFingerprint/v1`) → value, so GitHub tracks
    /// results across runs.
    pub fingerprints: Vec<(String, String)>,
    pub properties: Map<String, Value>,
}

/// One run: one tool, its rules and its results.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub driver: Driver,
    pub rules: Vec<Rule>,
    pub results: Vec<SarifResult>,
}

fn location(l: &Location) -> Value {
    let mut physical = Map::new();
    physical.insert("artifactLocation".into(), json!({ "uri": l.uri }));
    if let Some(r) = l.region {
        let mut region = Map::new();
        region.insert("startLine".into(), json!(r.start_line));
        if let Some(c) = r.start_column {
            region.insert("startColumn".into(), json!(c));
        }
        if let Some(e) = r.end_line {
            region.insert("endLine".into(), json!(e));
        }
        physical.insert("region".into(), Value::Object(region));
    }
    json!({ "physicalLocation": Value::Object(physical) })
}

fn rule(r: &Rule) -> Value {
    let mut props = Map::new();
    props.insert("tags".into(), json!(r.tags));
    props.insert(
        "security-severity".into(),
        json!(security_severity(r.severity)),
    );
    if let Some(p) = &r.precision {
        props.insert("precision".into(), json!(p));
    }
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "shortDescription": { "text": r.name },
        "fullDescription": { "text": r.description },
        "help": { "text": r.help },
        "defaultConfiguration": { "level": level(r.severity) },
        "properties": Value::Object(props),
    });
    if let (Some(uri), Value::Object(m)) = (&r.help_uri, &mut v) {
        m.insert("helpUri".into(), Value::String(uri.clone()));
    }
    v
}

fn result(r: &SarifResult, rules: &[Rule]) -> Value {
    let related: Vec<Value> = r
        .related
        .iter()
        .enumerate()
        .map(|(i, rel)| {
            let mut v = location(&rel.location);
            if let Value::Object(m) = &mut v {
                m.insert("id".into(), json!(i + 1));
                m.insert("message".into(), json!({ "text": rel.message }));
            }
            v
        })
        .collect();
    let fingerprints: Map<String, Value> = r
        .fingerprints
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut v = json!({
        "ruleId": r.rule_id,
        "ruleIndex": rules.iter().position(|x| x.id == r.rule_id).unwrap_or(0),
        "level": level(r.severity),
        "message": { "text": r.message },
        "locations": r.locations.iter().map(location).collect::<Vec<_>>(),
        "partialFingerprints": Value::Object(fingerprints),
        "properties": Value::Object(r.properties.clone()),
    });
    if !related.is_empty() {
        if let Value::Object(m) = &mut v {
            m.insert("relatedLocations".into(), Value::Array(related));
        }
    }
    v
}

/// The SARIF 2.1.0 log of `runs`.
pub fn log(runs: &[Run]) -> Value {
    let runs: Vec<Value> = runs
        .iter()
        .map(|run| {
            let mut driver = Map::new();
            driver.insert("name".into(), json!(run.driver.name));
            if let Some(v) = &run.driver.version {
                driver.insert("semanticVersion".into(), json!(v));
            }
            if let Some(u) = &run.driver.information_uri {
                driver.insert("informationUri".into(), json!(u));
            }
            driver.insert(
                "rules".into(),
                Value::Array(run.rules.iter().map(rule).collect()),
            );
            json!({
                "tool": { "driver": Value::Object(driver) },
                "results": run.results.iter().map(|r| result(r, &run.rules)).collect::<Vec<_>>(),
            })
        })
        .collect();
    // Sorted keys: the same document whatever serde_json's features (see `crate::json`).
    crate::json::sorted(json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": runs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_indexes() {
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Info), "note");
        let rule = |id: &str| Rule {
            id: id.into(),
            name: id.into(),
            description: id.into(),
            help: id.into(),
            severity: Severity::Low,
            tags: vec![],
            precision: None,
            help_uri: None,
        };
        let doc = log(&[Run {
            driver: Driver {
                name: "t".into(),
                version: None,
                information_uri: None,
            },
            rules: vec![rule("a"), rule("b")],
            results: vec![SarifResult {
                rule_id: "b".into(),
                severity: Severity::Critical,
                message: "m".into(),
                locations: vec![Location {
                    uri: "x".into(),
                    region: None,
                }],
                related: vec![],
                fingerprints: vec![("k/v1".into(), "f".into())],
                properties: Map::new(),
            }],
        }]);
        let res = &doc["runs"][0]["results"][0];
        assert_eq!(res["ruleIndex"], 1);
        assert_eq!(res["level"], "error");
        assert!(res["locations"][0]["physicalLocation"]
            .get("region")
            .is_none());
        assert!(res.get("relatedLocations").is_none());
        let driver = &doc["runs"][0]["tool"]["driver"];
        assert!(driver.get("semanticVersion").is_none());
        assert!(driver["rules"][0]["properties"].get("precision").is_none());
        assert_eq!(driver["rules"][1]["properties"]["security-severity"], "3.0");
    }
}
