//! Chaining rules: which scanners run on what a scan discovers.
//!
//! A scan's own targets run through every scan scanner that accepts them. What its tasks
//! discover — targets ([`crate::scanner::Emission::Target`]) and findings — is followed by
//! **rules**, data read from a TOML file (`scan.chain_rules`; the shipped default is
//! `rules/chains.toml`):
//!
//! ```toml
//! [[rules]]
//! on = "ip"                       # a discovered target kind …
//! run = ["ports", "tool:naabu"]   # … starts these scanners (those the scan lists)
//!
//! [[rules]]
//! on = "finding:http-service"     # … or a finding kind,
//! where = { status = 200 }        # whose data has these values,
//! target = "url:{url}"            # on a target made from its data,
//! run = ["tool:nuclei"]
//! params = { severity = "high" }  # with params replacing the scan's for that scanner
//! ```
//!
//! Invariants:
//! - only scanners the scan lists ever run; a rule only chooses among them;
//! - a scanner no rule names keeps the open default: it runs on every discovered target kind
//!   it accepts, except what it emitted itself;
//! - a scanner that some rule names runs on a discovered target only through a matching rule;
//! - no scanner runs on a target it emitted itself unless a rule says `self = true`
//!   (subfinder does not re-run on every subdomain it found);
//! - `from` limits a rule to what the named scanners emitted;
//! - depth, scope and the network guard apply after the rules, as to every chained task.

use serde::{Deserialize, Serialize};

use crate::finding::NewFinding;
use crate::target::{Target, TargetKind};

/// A set of chaining rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainRules {
    #[serde(default)]
    pub rules: Vec<ChainRule>,
}

/// One rule: on a discovered target kind (or finding kind), run these scanners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainRule {
    /// A target kind (`domain`, `ip`, `service`, …) or `finding:<kind>`.
    pub on: String,
    /// Scanners to start (those not in the scan are ignored).
    pub run: Vec<String>,
    /// Only for what these scanners emitted (default: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<String>,
    /// Finding rules: values the finding's data must hold (top-level keys, compared as JSON).
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub when: Option<serde_json::Map<String, serde_json::Value>>,
    /// Finding rules: the target to run on, `kind:value` with `{field}` taken from the
    /// finding's data (`{target}` is the finding's own target value, `{host}` its host).
    /// Default: the finding's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Params for the started scanners, replacing the scan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    /// A scanner may run on targets it emitted itself.
    #[serde(default, rename = "self", skip_serializing_if = "std::ops::Not::not")]
    pub rerun_self: bool,
}

/// What a rule set decided for one discovery: run `scanner` on `target` with `params`.
#[derive(Clone, Debug, PartialEq)]
pub struct Follow {
    pub scanner: String,
    pub target: Target,
    /// `Some` when the rule sets params (they replace the scan's).
    pub params: Option<serde_json::Value>,
}

/// Why a rule file is refused.
#[derive(Debug, thiserror::Error)]
#[error("chain rule {index}: {message}")]
pub struct RuleError {
    pub index: usize,
    pub message: String,
}

/// The shipped rules (`rules/chains.toml`).
const SHIPPED: &str = include_str!("../../../rules/chains.toml");

impl ChainRules {
    /// The shipped default rules.
    pub fn shipped() -> Self {
        // Pinned by a test: the shipped file parses and validates.
        Self::from_toml(SHIPPED).unwrap_or_default()
    }

    /// Parses and checks a rule file's text.
    pub fn from_toml(text: &str) -> Result<Self, RuleError> {
        let rules: ChainRules = toml::from_str(text).map_err(|e| RuleError {
            index: 0,
            message: format!("not a valid rule file: {e}"),
        })?;
        rules.validate()?;
        Ok(rules)
    }

    /// Checks every rule's shape (kinds, templates).
    pub fn validate(&self) -> Result<(), RuleError> {
        for (index, r) in self.rules.iter().enumerate() {
            let err = |message: String| RuleError { index, message };
            match r.on.strip_prefix("finding:") {
                Some("") => return Err(err("`on = \"finding:\"` needs a finding kind".into())),
                Some(_) => {}
                None => {
                    if TargetKind::parse(&r.on).is_none() {
                        return Err(err(format!(
                            "`on = \"{}\"` is neither a target kind nor finding:<kind>",
                            r.on
                        )));
                    }
                    if r.when.is_some() || r.target.is_some() {
                        return Err(err(
                            "`where` and `target` apply to finding rules only".into()
                        ));
                    }
                }
            }
            if r.run.is_empty() {
                return Err(err("`run` names no scanner".into()));
            }
            if let Some(t) = &r.target {
                let kind = t.split_once(':').map(|(k, _)| k).unwrap_or_default();
                if TargetKind::parse(kind).is_none() {
                    return Err(err(format!(
                        "`target = \"{t}\"` must start with a target kind, e.g. url:{{url}}"
                    )));
                }
            }
            if r.params.as_ref().is_some_and(|p| !p.is_object()) {
                return Err(err("`params` must be a table".into()));
            }
        }
        Ok(())
    }

    /// Whether some rule names `scanner` in its `run` (then only rules start it on discoveries).
    pub fn governs(&self, scanner: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.run.iter().any(|s| s == scanner))
    }

    /// Scanners of `scan_scanners` to run on `target`, discovered by `emitter`. `accepts`
    /// says whether a scanner takes the target's kind.
    pub fn follow_target(
        &self,
        scan_scanners: &[&str],
        emitter: &str,
        target: &Target,
        accepts: impl Fn(&str, TargetKind) -> bool,
    ) -> Vec<Follow> {
        let mut out: Vec<Follow> = Vec::new();
        let mut push = |f: Follow| {
            if !out.iter().any(|o| o.scanner == f.scanner) {
                out.push(f);
            }
        };
        for r in &self.rules {
            if r.on != target.kind().as_str() || !from_matches(r, emitter) {
                continue;
            }
            for s in &r.run {
                if scan_scanners.contains(&s.as_str())
                    && accepts(s, target.kind())
                    && (s != emitter || r.rerun_self)
                {
                    push(Follow {
                        scanner: s.clone(),
                        target: target.clone(),
                        params: r.params.clone(),
                    });
                }
            }
        }
        for s in scan_scanners {
            if !self.governs(s) && accepts(s, target.kind()) && *s != emitter {
                push(Follow {
                    scanner: (*s).to_owned(),
                    target: target.clone(),
                    params: None,
                });
            }
        }
        out
    }

    /// Tasks a finding starts through finding rules (targets whose template does not parse
    /// are left out).
    pub fn follow_finding(
        &self,
        scan_scanners: &[&str],
        emitter: &str,
        finding: &NewFinding,
        accepts: impl Fn(&str, TargetKind) -> bool,
    ) -> Vec<Follow> {
        let mut out: Vec<Follow> = Vec::new();
        for r in &self.rules {
            let Some(kind) = r.on.strip_prefix("finding:") else {
                continue;
            };
            if kind != finding.kind || !from_matches(r, emitter) || !data_matches(r, finding) {
                continue;
            }
            let target = match &r.target {
                None => Some(finding.target.clone()),
                Some(t) => render_target(t, finding),
            };
            let Some(target) = target else { continue };
            for s in &r.run {
                if scan_scanners.contains(&s.as_str())
                    && accepts(s, target.kind())
                    && (s != emitter || r.rerun_self)
                    && !out.iter().any(|o| &o.scanner == s && o.target == target)
                {
                    out.push(Follow {
                        scanner: s.clone(),
                        target: target.clone(),
                        params: r.params.clone(),
                    });
                }
            }
        }
        out
    }

    /// Edges of the chaining graph among `scan_scanners`: `(from, kind, to)` — what `from`
    /// may emit (`emits`) and which scanner a rule (or the open default) starts on it. Finding
    /// rules are edges from every scanner their `from` admits: scanners do not declare the
    /// finding kinds they report.
    pub fn graph(
        &self,
        scan_scanners: &[&str],
        emits: impl Fn(&str) -> Vec<TargetKind>,
        accepts: impl Fn(&str, TargetKind) -> bool,
    ) -> Vec<(String, String, String)> {
        let mut edges = Vec::new();
        for from in scan_scanners {
            for kind in emits(from) {
                let probe = sample_of(kind);
                let Some(probe) = probe else { continue };
                for f in self.follow_target(scan_scanners, from, &probe, &accepts) {
                    edges.push(((*from).to_owned(), kind.as_str().to_owned(), f.scanner));
                }
            }
            for r in &self.rules {
                if let Some(kind) = r.on.strip_prefix("finding:") {
                    if !from_matches(r, from) {
                        continue;
                    }
                    for s in &r.run {
                        if scan_scanners.contains(&s.as_str())
                            && (s != from || r.rerun_self)
                            && !edges.iter().any(|(a, k, b)| {
                                a == from && k == &format!("finding:{kind}") && b == s
                            })
                        {
                            edges.push((
                                ((*from).to_owned()),
                                format!("finding:{kind}"),
                                s.clone(),
                            ));
                        }
                    }
                }
            }
        }
        edges
    }
}

/// What a scan would run, without running anything (`POST /api/v1/scans/plan`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanPlan {
    /// The first wave: one task per (scanner, target) the scanner accepts.
    pub tasks: Vec<PlannedTask>,
    /// The chaining graph that may follow, among the scan's scanners (empty with
    /// `recursion_depth = 0`).
    pub chain: Vec<PlanEdge>,
    /// How many hops of discoveries would be followed.
    pub recursion_depth: u32,
    /// The scope chained targets must pass: the explicit lists, or the seeds' default.
    pub scope: PlannedScope,
    /// Most tasks the scan may create.
    pub max_tasks: u64,
}

/// One task of the first wave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlannedTask {
    pub scanner: String,
    pub target: Target,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

/// An edge of the chaining graph: what `from` may discover (`on`: a target kind or
/// `finding:<kind>`) starts `to`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanEdge {
    pub from: String,
    pub on: String,
    pub to: String,
}

/// The scope as the plan will apply it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlannedScope {
    /// `explicit` (the scan's allow list) or `seeds` (the seeds' registrable domains and
    /// addresses, plus what in-scope names resolve to).
    pub mode: String,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

fn from_matches(r: &ChainRule, emitter: &str) -> bool {
    r.from.is_empty() || r.from.iter().any(|f| f == emitter || f == "*")
}

fn data_matches(r: &ChainRule, f: &NewFinding) -> bool {
    let Some(when) = &r.when else { return true };
    when.iter().all(|(k, v)| f.data.get(k) == Some(v))
}

/// `kind:template` with `{field}` from the finding's data.
fn render_target(template: &str, f: &NewFinding) -> Option<Target> {
    let (kind, value) = template.split_once(':')?;
    let kind = TargetKind::parse(kind)?;
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let field = &rest[start + 1..end];
        let v = match field {
            "target" => f.target.value().to_owned(),
            "host" => f.target.host()?,
            _ => match f.data.get(field)? {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            },
        };
        out.push_str(&v);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Target::parse(kind, &out).ok()
}

/// A stand-in target of `kind` for walking the rules in the plan graph.
fn sample_of(kind: TargetKind) -> Option<Target> {
    let v = match kind {
        TargetKind::Domain => "example.com",
        TargetKind::Ip => "192.0.2.1",
        TargetKind::Cidr => "192.0.2.0/24",
        TargetKind::Url => "https://example.com/",
        TargetKind::Email => "a@example.com",
        TargetKind::Service => "example.com:443",
        TargetKind::Repo => "https://example.com/r.git",
        TargetKind::Location => "file:///x/",
        TargetKind::Object => "file:///x/y",
        TargetKind::Upload => "u1",
    };
    Target::parse(kind, v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;

    fn rules(toml_like: Vec<ChainRule>) -> ChainRules {
        let r = ChainRules { rules: toml_like };
        r.validate().unwrap();
        r
    }

    fn rule(on: &str, run: &[&str]) -> ChainRule {
        ChainRule {
            on: on.into(),
            run: run.iter().map(|s| s.to_string()).collect(),
            from: vec![],
            when: None,
            target: None,
            params: None,
            rerun_self: false,
        }
    }

    fn all(_: &str, _: TargetKind) -> bool {
        true
    }

    fn names(f: &[Follow]) -> Vec<&str> {
        f.iter().map(|f| f.scanner.as_str()).collect()
    }

    #[test]
    fn rules_choose_among_the_scan_scanners_and_skip_self() {
        let r = rules(vec![rule("domain", &["dns", "tool:subfinder", "absent"])]);
        let d = Target::parse(TargetKind::Domain, "a.example.com").unwrap();
        let scan = ["dns", "tool:subfinder", "noop"];
        // subfinder found it: dns runs, subfinder itself does not, noop (ungoverned) does.
        assert_eq!(
            names(&r.follow_target(&scan, "tool:subfinder", &d, all)),
            ["dns", "noop"]
        );
        // An ip: no rule starts dns or subfinder on it; noop still follows it.
        let ip = Target::parse(TargetKind::Ip, "192.0.2.1").unwrap();
        assert_eq!(names(&r.follow_target(&scan, "dns", &ip, all)), ["noop"]);

        let mut again = rule("domain", &["tool:subfinder"]);
        again.rerun_self = true;
        again.from = vec!["tool:subfinder".into()];
        let r = rules(vec![again]);
        assert_eq!(
            names(&r.follow_target(&scan, "tool:subfinder", &d, all)),
            ["tool:subfinder", "dns", "noop"]
        );
        // The open default never runs a scanner on its own discoveries either.
        assert_eq!(names(&r.follow_target(&scan, "dns", &d, all)), ["noop"]);
    }

    #[test]
    fn finding_rules_match_data_and_build_targets() {
        let mut r = rule("finding:open-port", &["http"]);
        r.when = Some(
            serde_json::json!({"service": "http"})
                .as_object()
                .unwrap()
                .clone(),
        );
        r.target = Some("service:{host}:{port}".into());
        let rules = rules(vec![r]);
        let ip = Target::parse(TargetKind::Ip, "192.0.2.7").unwrap();
        let mut f = NewFinding::new("open-port", Severity::Info, "open", ip, &["x"]);
        f.data = serde_json::json!({"port": 8080, "service": "http"});
        let got = rules.follow_finding(&["http", "ports"], "ports", &f, all);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].target.value(), "192.0.2.7:8080");
        f.data = serde_json::json!({"port": 22, "service": "ssh"});
        assert!(rules
            .follow_finding(&["http", "ports"], "ports", &f, all)
            .is_empty());
    }

    #[test]
    fn the_shipped_rules_parse() {
        let shipped = ChainRules::from_toml(SHIPPED).unwrap();
        assert!(shipped.governs("ports") && shipped.governs("dns"));
        assert_eq!(ChainRules::shipped(), shipped);
        assert!(ChainRules::from_toml("[[rules]]\non = 1").is_err());
    }

    #[test]
    fn bad_rules_are_refused_with_their_index() {
        let e = ChainRules {
            rules: vec![rule("ip", &["ports"]), rule("planet", &["x"])],
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.index, 1);
        let mut r = rule("finding:x", &["y"]);
        r.target = Some("nowhere".into());
        assert!(ChainRules { rules: vec![r] }.validate().is_err());
        assert!(ChainRules {
            rules: vec![rule("ip", &[])]
        }
        .validate()
        .is_err());
    }

    #[test]
    fn the_graph_lists_rule_edges() {
        let r = rules(vec![rule("ip", &["ports"]), rule("service", &["http"])]);
        let emits = |s: &str| match s {
            "dns" => vec![TargetKind::Ip],
            "ports" => vec![TargetKind::Service],
            _ => vec![],
        };
        let accepts = |s: &str, k: TargetKind| match s {
            "dns" => k == TargetKind::Domain,
            _ => true,
        };
        let g = r.graph(&["dns", "ports", "http"], emits, accepts);
        assert!(g.contains(&("dns".into(), "ip".into(), "ports".into())));
        assert!(g.contains(&("ports".into(), "service".into(), "http".into())));
        assert_eq!(g.len(), 2, "{g:?}");
    }
}
