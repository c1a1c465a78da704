//! Port lists: `1-1024,8080`, `top-100`, and mixes of them (`top-100,8443,9000-9010`).
//!
//! `top-N` reads the shipped ranking `data/top-ports.txt` (most common open TCP ports first);
//! past the end of the ranking it continues with the lowest port numbers not yet taken, so any
//! N up to 65535 names N distinct ports. The parsed list keeps the order given, without
//! duplicates, so `top-100` probes the likeliest ports first.

use std::sync::OnceLock;

/// Why a port list is malformed (the message of the 422 at `/ports`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct SpecError(String);

/// The shipped ranking, parsed once.
pub fn ranking() -> &'static [u16] {
    static RANKING: OnceLock<Vec<u16>> = OnceLock::new();
    RANKING.get_or_init(|| {
        include_str!("../../data/top-ports.txt")
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(str::split_whitespace)
            // The file is checked by a unit test; a bad line cannot get this far.
            .filter_map(|w| w.parse::<u16>().ok())
            .filter(|p| *p > 0)
            .collect()
    })
}

/// The `n` most common ports.
pub fn top(n: usize) -> Vec<u16> {
    let mut seen = vec![false; 65536];
    let mut out = Vec::with_capacity(n);
    for &p in ranking() {
        if out.len() == n {
            return out;
        }
        if !std::mem::replace(&mut seen[usize::from(p)], true) {
            out.push(p);
        }
    }
    for p in 1..=u16::MAX {
        if out.len() == n {
            break;
        }
        if !seen[usize::from(p)] {
            out.push(p);
        }
    }
    out
}

fn port(s: &str) -> Result<u16, SpecError> {
    let s = s.trim();
    match s.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        Ok(p) => Err(SpecError(format!(
            "port {p} is out of range (ports are 1 to 65535)"
        ))),
        Err(_) => Err(SpecError(format!("'{s}' is not a port number"))),
    }
}

/// Parses a port list; the result is in the order given, without duplicates, never empty.
pub fn parse(spec: &str) -> Result<Vec<u16>, SpecError> {
    let mut seen = vec![false; 65536];
    let mut out = Vec::new();
    let mut push = |p: u16, out: &mut Vec<u16>| {
        if !std::mem::replace(&mut seen[usize::from(p)], true) {
            out.push(p);
        }
    };
    for item in spec.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(SpecError(format!(
                "empty entry in '{spec}' (expected e.g. 1-1024,8080 or top-100)"
            )));
        }
        if let Some(n) = item.strip_prefix("top-") {
            let n: usize = n
                .parse()
                .ok()
                .filter(|n| (1..=65535).contains(n))
                .ok_or_else(|| {
                    SpecError(format!(
                        "'{item}': N in top-N must be a number from 1 to 65535"
                    ))
                })?;
            for p in top(n) {
                push(p, &mut out);
            }
        } else if let Some((a, b)) = item.split_once('-') {
            let (a, b) = (port(a)?, port(b)?);
            if a > b {
                return Err(SpecError(format!("range '{item}' runs backwards")));
            }
            for p in a..=b {
                push(p, &mut out);
            }
        } else {
            push(port(item)?, &mut out);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_file_is_clean() {
        let words: Vec<&str> = include_str!("../../data/top-ports.txt")
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(str::split_whitespace)
            .collect();
        assert_eq!(words.len(), ranking().len(), "a word is not a port");
        let mut sorted = ranking().to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ranking().len(), "a port is listed twice");
        assert!(ranking().len() >= 300);
        assert_eq!(&ranking()[..3], &[80, 23, 443]);
    }

    #[test]
    fn lists_ranges_and_tops() {
        assert_eq!(parse("22").unwrap(), vec![22]);
        assert_eq!(parse("1-3, 8080,2").unwrap(), vec![1, 2, 3, 8080]);
        assert_eq!(parse("1-65535").unwrap().len(), 65535);
        let t100 = parse("top-100").unwrap();
        assert_eq!(t100.len(), 100);
        assert_eq!(t100[0], 80);
        let t1000 = parse("top-1000").unwrap();
        assert_eq!(t1000.len(), 1000);
        assert_eq!(&t1000[..100], &t100[..]);
        assert_eq!(parse("top-65535").unwrap().len(), 65535);
        assert_eq!(parse("top-2,80,9").unwrap(), vec![80, 23, 9]);
    }

    #[test]
    fn refuses_malformed_lists() {
        for bad in [
            "", "0", "65536", "1-70000", "10-1", "http", "1,,2", "top-0", "top-x", "-5", "1-",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("70000").unwrap_err().0.contains("out of range"));
    }
}
