//! Mail policy judgement for an `email` target's domain: what its MX, SPF and DMARC records
//! say, as pure functions of the records (the lookups live in [`super`]).
//!
//! Severities: a domain anyone may send as (no SPF, SPF `+all`) or whose receivers are told to
//! accept forgeries (no DMARC) is a spoofing risk; a policy that only watches (`?all`, DMARC
//! `p=none`) is a weaker one; no MX only means the domain receives no mail.

use argus_core::finding::Severity;

/// One thing wrong with a domain's mail policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// Finding kind: `spf-missing`, `spf-permissive`, `spf-multiple`, `dmarc-missing`,
    /// `dmarc-permissive`, `dmarc-multiple`, `mx-missing`.
    pub kind: &'static str,
    pub severity: Severity,
    pub title: String,
    /// The record at fault, if there is one.
    pub record: Option<String>,
}

fn issue(kind: &'static str, severity: Severity, title: String, record: Option<&str>) -> Issue {
    Issue {
        kind,
        severity,
        title,
        record: record.map(str::to_owned),
    }
}

/// The SPF records among a domain's TXT strings (`v=spf1` followed by a space or nothing).
pub fn spf_records(txts: &[String]) -> Vec<&str> {
    txts.iter()
        .map(|t| t.trim())
        .filter(|t| {
            let l = t.to_ascii_lowercase();
            l == "v=spf1" || l.starts_with("v=spf1 ")
        })
        .collect()
}

/// The DMARC records among `_dmarc.<domain>`'s TXT strings.
pub fn dmarc_records(txts: &[String]) -> Vec<&str> {
    txts.iter()
        .map(|t| t.trim())
        .filter(|t| {
            t.to_ascii_lowercase()
                .split(';')
                .next()
                .is_some_and(|v| v.trim() == "v=dmarc1")
        })
        .collect()
}

/// What is wrong with the SPF policy of `domain` (none when it ends in `-all` or `~all`, or
/// redirects).
pub fn spf_issue(domain: &str, txts: &[String]) -> Option<Issue> {
    let spf = spf_records(txts);
    match spf.as_slice() {
        [] => Some(issue(
            "spf-missing",
            Severity::Medium,
            format!("{domain} publishes no SPF record: anyone may send mail as it"),
            None,
        )),
        [one] => {
            let terms: Vec<String> = one
                .split_whitespace()
                .skip(1)
                .map(str::to_ascii_lowercase)
                .collect();
            let all = terms
                .iter()
                .find(|t| t.trim_start_matches(['+', '-', '~', '?']) == "all");
            match all.map(String::as_str) {
                Some("+all" | "all") => Some(issue(
                    "spf-permissive",
                    Severity::High,
                    format!("{domain}'s SPF record ends in +all: every server may send as it"),
                    Some(one),
                )),
                Some("?all") => Some(issue(
                    "spf-permissive",
                    Severity::Medium,
                    format!(
                        "{domain}'s SPF record ends in ?all (neutral): forgeries are not refused"
                    ),
                    Some(one),
                )),
                Some(_) => None,
                None if terms.iter().any(|t| t.starts_with("redirect=")) => None,
                None => Some(issue(
                    "spf-permissive",
                    Severity::Medium,
                    format!(
                        "{domain}'s SPF record has no 'all' mechanism: other senders are neutral"
                    ),
                    Some(one),
                )),
            }
        }
        many => Some(issue(
            "spf-multiple",
            Severity::Medium,
            format!(
                "{domain} publishes {} SPF records: receivers treat that as an error (permerror)",
                many.len()
            ),
            Some(&many.join(" | ")),
        )),
    }
}

/// The `p=` tag of a DMARC record, lower case.
pub fn dmarc_policy(record: &str) -> Option<String> {
    record.split(';').find_map(|tag| {
        let (k, v) = tag.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("p")).then(|| v.trim().to_ascii_lowercase())
    })
}

/// What is wrong with the DMARC policy of `domain` (none for `p=quarantine` or `p=reject`).
pub fn dmarc_issue(domain: &str, txts: &[String]) -> Option<Issue> {
    let dmarc = dmarc_records(txts);
    match dmarc.as_slice() {
        [] => Some(issue(
            "dmarc-missing",
            Severity::Medium,
            format!(
                "{domain} publishes no DMARC policy (_dmarc.{domain}): receivers accept forgeries"
            ),
            None,
        )),
        [one] => match dmarc_policy(one).as_deref() {
            Some("reject" | "quarantine") => None,
            Some("none") => Some(issue(
                "dmarc-permissive",
                Severity::Low,
                format!("{domain}'s DMARC policy is p=none: forgeries are reported, not refused"),
                Some(one),
            )),
            _ => Some(issue(
                "dmarc-permissive",
                Severity::Medium,
                format!("{domain}'s DMARC record has no valid p= policy"),
                Some(one),
            )),
        },
        many => Some(issue(
            "dmarc-multiple",
            Severity::Medium,
            format!(
                "{domain} publishes {} DMARC records: receivers ignore them all",
                many.len()
            ),
            Some(&many.join(" | ")),
        )),
    }
}

/// The finding for a domain without MX records.
pub fn mx_issue(domain: &str, mx: &[String]) -> Option<Issue> {
    mx.is_empty().then(|| {
        issue(
            "mx-missing",
            Severity::Low,
            format!(
                "{domain} has no MX record: mail to it is delivered nowhere (or to its A record)"
            ),
            None,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn spf() {
        assert_eq!(spf_issue("d", &v(&[])).unwrap().kind, "spf-missing");
        assert_eq!(
            spf_issue("d", &v(&["google-site-verification=x"]))
                .unwrap()
                .kind,
            "spf-missing"
        );
        assert!(spf_issue("d", &v(&["v=spf1 mx -all"])).is_none());
        assert!(spf_issue("d", &v(&["v=spf1 include:x ~all"])).is_none());
        assert!(spf_issue("d", &v(&["v=spf1 redirect=_spf.d"])).is_none());
        let plus = spf_issue("d", &v(&["v=spf1 +all"])).unwrap();
        assert_eq!(
            (plus.kind, plus.severity),
            ("spf-permissive", Severity::High)
        );
        assert_eq!(
            spf_issue("d", &v(&["v=spf1 a all"])).unwrap().severity,
            Severity::High
        );
        let neutral = spf_issue("d", &v(&["v=spf1 a ?all"])).unwrap();
        assert_eq!(
            (neutral.kind, neutral.severity),
            ("spf-permissive", Severity::Medium)
        );
        assert_eq!(
            spf_issue("d", &v(&["v=spf1 a"])).unwrap().kind,
            "spf-permissive"
        );
        assert_eq!(
            spf_issue("d", &v(&["v=spf1 -all", "v=spf1 mx -all"]))
                .unwrap()
                .kind,
            "spf-multiple"
        );
        // Not an SPF record: a prefix of another word.
        assert_eq!(
            spf_issue("d", &v(&["v=spf10 -all"])).unwrap().kind,
            "spf-missing"
        );
    }

    #[test]
    fn dmarc() {
        assert_eq!(dmarc_issue("d", &v(&[])).unwrap().kind, "dmarc-missing");
        assert!(dmarc_issue("d", &v(&["v=DMARC1; p=reject; rua=mailto:a@d"])).is_none());
        assert!(dmarc_issue("d", &v(&["v=DMARC1;p=quarantine"])).is_none());
        let none = dmarc_issue("d", &v(&["v=DMARC1; p=none"])).unwrap();
        assert_eq!(
            (none.kind, none.severity),
            ("dmarc-permissive", Severity::Low)
        );
        assert_eq!(
            dmarc_issue("d", &v(&["v=DMARC1; rua=x"])).unwrap().kind,
            "dmarc-permissive"
        );
        assert_eq!(
            dmarc_issue("d", &v(&["v=DMARC1; p=none", "v=DMARC1; p=reject"]))
                .unwrap()
                .kind,
            "dmarc-multiple"
        );
    }

    #[test]
    fn mx() {
        assert_eq!(mx_issue("d", &[]).unwrap().kind, "mx-missing");
        assert!(mx_issue("d", &v(&["10 mx.d"])).is_none());
    }
}
