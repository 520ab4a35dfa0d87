//! Field matchers of `expect` steps, compiled when the scenario is loaded: a [`Match`] is
//! what a [`Matcher`] of the file means, with its regex built once and every impossible
//! combination (two keys, none, `any: false`, a regex that does not compile) a load error.

use std::fmt;

use msrp_reference::text::escape_bytes;

use super::{MatchRule, Matcher};

/// How a field's bytes are judged.
#[derive(Debug, Clone)]
pub enum Match {
    /// Anything (a matcher left out, or `any: true`).
    Any,
    /// Exactly these bytes.
    Exact(Vec<u8>),
    /// A regex searched (not anchored) in the bytes read as UTF-8, invalid sequences replaced
    /// by U+FFFD.
    Regex(regex::Regex),
    /// Anything but these bytes.
    Not(Vec<u8>),
    /// Any bytes of exactly this length.
    Len(usize),
}

impl Match {
    /// What `m` means; a matcher left out matches anything. Errors name what is wrong with
    /// the matcher, for the file's author.
    pub fn load(m: Option<&Matcher>) -> Result<Match, String> {
        match m {
            None => Ok(Match::Any),
            Some(Matcher::Exact(s)) => Ok(Match::Exact(s.as_bytes().to_vec())),
            Some(Matcher::Rule(r)) => Match::rule(r),
        }
    }

    fn rule(r: &MatchRule) -> Result<Match, String> {
        let keys = [
            r.regex.is_some(),
            r.any.is_some(),
            r.not.is_some(),
            r.len.is_some(),
        ];
        if keys.iter().filter(|k| **k).count() != 1 {
            return Err("a matcher takes exactly one of regex, any, not, len".into());
        }
        Ok(match (&r.regex, r.any, &r.not, r.len) {
            (Some(re), ..) => {
                Match::Regex(regex::Regex::new(re).map_err(|e| format!("bad regex: {e}"))?)
            }
            (_, Some(true), ..) => Match::Any,
            (_, Some(false), ..) => {
                return Err(
                    "any: false would match nothing; leave the matcher out, or use not:".into(),
                )
            }
            (_, _, Some(not), _) => Match::Not(not.as_bytes().to_vec()),
            (.., Some(len)) => Match::Len(len),
            (None, None, None, None) => unreachable!("exactly one key was checked above"),
        })
    }

    /// Whether `value` satisfies this matcher.
    pub fn matches(&self, value: &[u8]) -> bool {
        match self {
            Match::Any => true,
            Match::Exact(b) => value == &b[..],
            Match::Regex(re) => re.is_match(&String::from_utf8_lossy(value)),
            Match::Not(b) => value != &b[..],
            Match::Len(n) => value.len() == *n,
        }
    }
}

/// How the matcher reads in an "expected" line: `*`, `"text"`, `~/regex/`, `not "text"`,
/// `<n bytes>`.
impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Match::Any => f.write_str("*"),
            Match::Exact(b) => write!(f, "\"{}\"", escape_bytes(b)),
            Match::Regex(re) => write!(f, "~/{}/", re.as_str()),
            Match::Not(b) => write!(f, "not \"{}\"", escape_bytes(b)),
            Match::Len(n) => write!(f, "<{n} bytes>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml: &str) -> Result<Match, String> {
        let m: Matcher = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        Match::load(Some(&m))
    }

    #[test]
    fn each_kind_matches_what_it_says() {
        let cases = [
            ("hello", &b"hello"[..], &b"hello!"[..]),
            ("{regex: '^a.c$'}", b"abc", b"abcd"),
            ("{not: x}", b"y", b"x"),
            ("{len: 3}", b"abc", b"ab"),
        ];
        for (yaml, yes, no) in cases {
            let m = rule(yaml).expect(yaml);
            assert!(m.matches(yes) && !m.matches(no), "{yaml}");
        }
        assert!(rule("{any: true}").expect("any").matches(b"whatever"));
        assert!(Match::load(None).expect("absent").matches(b""));
    }

    #[test]
    fn impossible_matchers_are_load_errors() {
        for (yaml, says) in [
            ("{any: false}", "would match nothing"),
            ("{regex: x, len: 1}", "exactly one"),
            ("{regex: '('}", "bad regex"),
        ] {
            let err = rule(yaml).expect_err(yaml);
            assert!(err.contains(says), "{yaml}: {err}");
        }
    }

    #[test]
    fn reads_as_in_expected_lines() {
        let shown: Vec<String> = [
            "a\"b",
            "{regex: '^x'}",
            "{not: y}",
            "{len: 2}",
            "{any: true}",
        ]
        .iter()
        .map(|y| rule(y).expect(y).to_string())
        .collect();
        assert_eq!(
            shown,
            ["\"a\\\"b\"", "~/^x/", "not \"y\"", "<2 bytes>", "*"]
        );
    }
}
