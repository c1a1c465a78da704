//! Small pure helpers: entropy, placeholder detection, offline token validators, date formatting.

use base64::Engine as _;

/// Shannon entropy in bits per byte of `data` (0 for empty input).
pub(crate) fn shannon_entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let len = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// Words that mark a value as a documentation placeholder rather than a real secret. Matched
/// case-insensitively as substrings of the candidate secret.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    // A value containing the word itself is almost always a name (`caching_sha2_password`,
    // `user:password@host` in docs), not a password.
    "password",
    "passwd",
    "placeholder",
    "changeme",
    "change_me",
    "change-me",
    "your_",
    "your-",
    "yourpass",
    "yoursecret",
    "yourtoken",
    "xxxx",
    "****",
    "....",
    "dummy",
    "redacted",
    "sample",
    "replace",
    "insert",
    "fixme",
    "todo",
    "notreal",
    "not_real",
    "fake",
    "<",
    ">",
    "${",
    "{{",
    "%s",
    "%(",
    "$(",
    "process.env",
    "os.environ",
    "getenv",
    "password123",
    "secret123",
    "123456",
    "abcdef",
    "qwerty",
];

/// Exact values (lower-case) that are never secrets.
const PLACEHOLDER_VALUES: &[&str] = &[
    "password",
    "secret",
    "token",
    "null",
    "none",
    "nil",
    "undefined",
    "true",
    "false",
    "string",
    "test",
    "testing",
    "admin",
    "root",
    "pass",
    "passwd",
    "default",
    "empty",
    "required",
    "optional",
];

/// True when `secret` looks like a placeholder: a known word, a single repeated character, or a
/// reference to a variable rather than a value.
pub(crate) fn is_placeholder(secret: &[u8]) -> bool {
    let lower = secret.to_ascii_lowercase();
    let Ok(s) = std::str::from_utf8(&lower) else {
        return false;
    };
    // Shell/Windows variable references (`$SSHPASS`, `%DB_PASS%`) name a value kept elsewhere.
    if s.starts_with('$') || (s.starts_with('%') && s.ends_with('%')) {
        return true;
    }
    if PLACEHOLDER_VALUES.contains(&s) {
        return true;
    }
    if PLACEHOLDER_WORDS.iter().any(|w| s.contains(w)) {
        return true;
    }
    // "aaaaaaaa", "00000000"
    if let Some(&first) = lower.first() {
        if lower.iter().all(|&b| b == first) {
            return true;
        }
    }
    // Identifiers like `config.password` or `settings.DB_PASSWORD`: dotted/underscored words only,
    // no digits, are usually references to variables, not literal secrets.
    let all_ident = lower
        .iter()
        .all(|b| b.is_ascii_lowercase() || *b == b'.' || *b == b'_' || *b == b'-');
    all_ident && lower.iter().any(|&b| b == b'.' || b == b'_')
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 encoding left-padded with `0` to `width`, as GitHub encodes its token checksums.
pub(crate) fn base62(mut n: u64, width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(width);
    while n > 0 {
        out.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    out
}

/// GitHub/npm token checksum: the token ends with 36 characters, 30 random + 6 base62 CRC32 of
/// those 30. Works for `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and `npm_` tokens.
pub(crate) fn github_crc32_ok(token: &[u8]) -> bool {
    if token.len() < 36 {
        return false;
    }
    let tail = &token[token.len() - 36..];
    let (random, check) = tail.split_at(30);
    let crc = crc32fast::hash(random);
    base62(u64::from(crc), 6) == check
}

/// JWT shape check: base64url header that decodes to a JSON object with an `alg` member.
pub(crate) fn jwt_ok(token: &[u8]) -> bool {
    let Some(header) = token.split(|&b| b == b'.').next() else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.strip_suffix(b"=").unwrap_or(header))
    else {
        return false;
    };
    match serde_json::from_slice::<serde_json::Value>(&decoded) {
        Ok(serde_json::Value::Object(m)) => m.contains_key("alg"),
        _ => false,
    }
}

/// Format seconds since the epoch as RFC 3339 UTC (`2024-01-02T03:04:05Z`), without a date crate.
pub(crate) fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn github_checksum() {
        let random = b"abcdefghijklmnopqrstuvwxyz0123";
        let mut tok = b"ghp_".to_vec();
        tok.extend_from_slice(random);
        tok.extend(base62(u64::from(crc32fast::hash(random)), 6));
        assert!(github_crc32_ok(&tok));
        let last = tok.len() - 1;
        tok[last] = if tok[last] == b'A' { b'B' } else { b'A' };
        assert!(!github_crc32_ok(&tok));
    }

    #[test]
    fn entropy_and_placeholders() {
        assert!(shannon_entropy(b"aaaa") < 0.01);
        assert!(shannon_entropy(b"a8F3kq9Zx2") > 3.0);
        assert!(is_placeholder(b"changeme"));
        assert!(is_placeholder(b"<your-password>"));
        assert!(is_placeholder(b"config.db_password"));
        assert!(!is_placeholder(b"Tr0ub4dor&3x"));
        assert!(is_placeholder(b"caching_sha2_password"));
    }

    #[test]
    fn jwt_shape() {
        let t = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.sig";
        assert!(jwt_ok(t));
        assert!(!jwt_ok(b"eyJub3QiOiJqd3QifQ.eyJzdWIiOiIxIn0.sig"));
    }
}
