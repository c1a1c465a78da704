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
    // Passwords that documentation and tests use because everyone knows them.
    "hunter2",
    "hunter4",
    "opensesame",
    "letmein",
    "supersecret",
    "super_secret",
    "correct%20horse",
    "correcthorse",
    "pass%20word",
    "p%40ss",
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
    "demo",
    "foo",
    "bar",
    "baz",
    "secret1",
    "password1",
    "pass1",
    "admin123",
    "p@ssw0rd",
    "passw0rd",
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

/// Documentation values that are never real credentials whatever the rule: the words providers
/// use in their docs (`EXAMPLE`, `your-token`, `redacted`), masks (`xxxx`, `****`), template and
/// variable references (`<token>`, `${VAR}`, `{{ secret }}`), and values made of one or two
/// repeated characters or mostly one long run of a character (`sk_live_000000…`). Checked for
/// every rule, prefixed formats included; [`is_placeholder`] is the broader check that context
/// rules opt into. `multiline` values (PEM blocks, key files) only get the word checks: key
/// material legitimately holds runs of `A`.
pub(crate) fn is_doc_placeholder(secret: &[u8], multiline: bool) -> bool {
    const WORDS: &[&[u8]] = &[
        b"example",
        b"xxxx",
        b"****",
        b"your_",
        b"your-",
        b"yourtoken",
        b"yourkey",
        b"yoursecret",
        b"placeholder",
        b"redacted",
        b"changeme",
        b"${",
        b"{{",
        b"<your",
        b"insert_",
        b"insert-",
        b"replace_me",
        b"replace-me",
        b"replaceme",
    ];
    let lower = secret.to_ascii_lowercase();
    if WORDS
        .iter()
        .any(|w| memchr::memmem::find(&lower, w).is_some())
    {
        return true;
    }
    if multiline {
        return false;
    }
    // `<token>` / `<api-key>`: a value that is only a bracketed name.
    if lower.len() >= 3 && lower[0] == b'<' && lower[lower.len() - 1] == b'>' {
        return true;
    }
    let mut distinct = [false; 256];
    let mut n_distinct = 0;
    let mut run = 0usize;
    let mut longest = 0usize;
    let mut prev = None;
    for &b in &lower {
        if !distinct[b as usize] {
            distinct[b as usize] = true;
            n_distinct += 1;
        }
        run = if prev == Some(b) { run + 1 } else { 1 };
        longest = longest.max(run);
        prev = Some(b);
    }
    // Random 20+ character tokens practically never repeat a character 8 times in a row
    // (base62: ~1e-12 per position); fill values (`0000…`, `aaaa…`) do.
    // A long run alone is not enough: some real formats pad with one character (Twitter bearer
    // tokens start with 20 `A`s), so the run must be a third of the value.
    (lower.len() >= 8 && n_distinct <= 2) || (longest >= 8 && longest * 3 >= lower.len())
}

/// Values that look like test or demo values rather than production credentials: the words
/// `test`, `demo`, `dummy`, `fake`, `mock`, `sample`, `sandbox`, `foobar`, or an ascending run of
/// six characters (`123456`, `abcdef`, `ghijkl`). Such matches are still reported (a test key can
/// be live) but with low confidence.
pub(crate) fn looks_like_test_value(secret: &[u8]) -> bool {
    const WORDS: &[&[u8]] = &[
        b"test", b"demo", b"dummy", b"fake", b"mock", b"sample", b"sandbox", b"foobar",
    ];
    let lower = secret.to_ascii_lowercase();
    if WORDS
        .iter()
        .any(|w| memchr::memmem::find(&lower, w).is_some())
    {
        return true;
    }
    let mut run = 1usize;
    for w in lower.windows(2) {
        if w[0].is_ascii_alphanumeric() && w[1] == w[0].wrapping_add(1) {
            run += 1;
            if run >= 6 {
                return true;
            }
        } else {
            run = 1;
        }
    }
    false
}

/// "Looks machine-generated" check for generic rules (validator `random`): at least 12
/// characters; among its letters and digits, digits present (two or more from 32 characters on:
/// a random base62 token of 32 characters has fewer than two with a probability under 3 %,
/// identifiers usually have none or a version number) and not only digits; and frequent changes
/// between the classes upper, lower and digit — at least one per five characters (random hex,
/// base32, base62 and base64 change class on 30–60 % of characters; words, `snake_case` and
/// `SCREAMING_CASE` names far less often); and, unless the letters are all hex digits, fewer
/// than half vowels among the letters (words are about 40 % vowels, random letters 19 %); and,
/// when it mixes cases, not mostly made of words (camelCase runs).
pub(crate) fn looks_random(secret: &[u8]) -> bool {
    if secret.len() < 12 {
        return false;
    }
    // Punctuation (`_`, `-`, `.`) separates words in identifiers and groups in UUIDs; only the
    // letters and digits are compared.
    let alnum: Vec<u8> = secret
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .collect();
    let digits = alnum.iter().filter(|b| b.is_ascii_digit()).count();
    if digits == alnum.len() || digits < if alnum.len() >= 32 { 2 } else { 1 } {
        return false;
    }
    let class = |b: u8| match b {
        b'a'..=b'z' => 0u8,
        b'A'..=b'Z' => 1,
        _ => 2,
    };
    let changes = alnum
        .windows(2)
        .filter(|w| class(w[0]) != class(w[1]))
        .count();
    if changes * 5 < alnum.len() {
        return false;
    }
    // camelCase and CamelCase names (`X509CertificateTemplateFlags`, `uddiv3BusinessKey`) are
    // made of words: lower-case runs of two or more letters, with or without a capital in
    // front, hold 90 % of their letters. In random mixed-case base62 that happens about once in
    // 130 tokens of 16 characters and once in 3,000 of 32. All-lower-case tokens (hex, base36)
    // are made of such runs by nature and skip this test.
    let has_upper = alnum.iter().any(u8::is_ascii_uppercase);
    let has_lower = alnum.iter().any(u8::is_ascii_lowercase);
    if has_upper && has_lower {
        let mut word_chars = 0usize;
        let mut i = 0usize;
        while i < alnum.len() {
            let start = i;
            if alnum[i].is_ascii_uppercase() {
                i += 1;
            }
            let lower_start = i;
            while i < alnum.len() && alnum[i].is_ascii_lowercase() {
                i += 1;
            }
            if i - lower_start >= 2 {
                word_chars += i - start;
            }
            if i == start {
                i += 1;
            }
        }
        let n_letters = alnum.iter().filter(|b| b.is_ascii_alphabetic()).count();
        if n_letters >= 8 && word_chars * 10 >= n_letters * 9 {
            return false;
        }
    }
    // Words change class often too when written in camel case with digits, and their letters
    // are about 40 % vowels; random letters are 19 % vowels (10 of 52), and a random base62
    // token of 32 characters is half vowels in about one case in a thousand. Hex has only the
    // vowels a and e among six letters, so hex values skip this test.
    let letters: Vec<u8> = alnum
        .iter()
        .copied()
        .filter(u8::is_ascii_alphabetic)
        .collect();
    let hex_only = letters.iter().all(u8::is_ascii_hexdigit);
    if letters.len() >= 8 && !hex_only {
        let vowels = letters
            .iter()
            .filter(|b| matches!(b.to_ascii_lowercase(), b'a' | b'e' | b'i' | b'o' | b'u'))
            .count();
        if vowels * 2 >= letters.len() {
            return false;
        }
    }
    true
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
    fn documentation_values_and_test_values() {
        for v in [
            &b"AKIAIOSFODNN7EXAMPLE"[..],
            b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            b"ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            b"<your-token>",
            b"<token>",
            b"${API_TOKEN}",
            b"{{ secrets.token }}",
            b"sk_live_000000000000000000000000",
            b"abababababababab",
            b"REDACTED",
            b"********",
        ] {
            assert!(
                is_doc_placeholder(v, false),
                "{}",
                String::from_utf8_lossy(v)
            );
        }
        for v in [
            &b"ghp_N3Jq8sLkW2pXv9RtYb6MhE4cZa1GdUf0KiOe"[..],
            b"AKIAPYCDYBK377OXTZQ6",
            b"xoxb-2410912374-4431128923-Jw8Vt2bKqLmZpR6sYd3nH1cX",
        ] {
            assert!(
                !is_doc_placeholder(v, false),
                "{}",
                String::from_utf8_lossy(v)
            );
        }
        // Key material may hold runs of `A`; only the words count for multi-line values.
        assert!(!is_doc_placeholder(
            b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAA",
            true
        ));
        assert!(is_doc_placeholder(b"AKIA0000000000000000", false));
        assert!(!is_doc_placeholder(
            b"AAAAAAAAAAAAAAAAAAAAAV40sx1db7zx1BOpNCPrUPDyDru7PliB4fVw55ZsqkFHrcWfSeHspii4K",
            false
        ));
        assert!(looks_like_test_value(b"sk_test_4eC39HqLyjWDarjtT1zdp7dc"));
        assert!(looks_like_test_value(b"key-1234567890qwerty"));
        assert!(!looks_like_test_value(
            b"key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
        ));
    }

    #[test]
    fn random_looking_values() {
        for v in [
            &b"rWE8I0axy6Fvw40RE8tsNS3L7zBU5vAhEnW4hq9G"[..],
            b"3f9a0c2e7b4d41e8a6c5b0d9e2f17a3c",
            b"aio_VxEqGaqgMgZej3DceezbBy03eWyW",
            b"9d2c5e1a-7b3f-4e8a-b6c0-2f1d9e8a7c4b",
            b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        ] {
            assert!(looks_random(v), "{}", String::from_utf8_lossy(v));
        }
        for v in [
            &b"SecretKeyProvider"[..],
            b"session_token_v2",
            b"MAX_RETRIES_COUNT",
            b"tokenizer.next_token",
            b"abcdefghijklmnop",
            b"short1",
        ] {
            assert!(!looks_random(v), "{}", String::from_utf8_lossy(v));
        }
    }

    #[test]
    fn jwt_shape() {
        let t = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.sig";
        assert!(jwt_ok(t));
        assert!(!jwt_ok(b"eyJub3QiOiJqd3QifQ.eyJzdWIiOiIxIn0.sig"));
    }
}
