//! Field matchers of `expect` steps.

use msrp_reference::text::escape_bytes;

use crate::scenario::{MatchRule, Matcher};

/// Whether `value` satisfies the matcher (a missing matcher matches anything).
pub fn matches(m: Option<&Matcher>, value: &[u8]) -> bool {
    match m {
        None => true,
        Some(Matcher::Exact(s)) => value == s.as_bytes(),
        Some(Matcher::Rule(r)) => rule_matches(r, value),
    }
}

fn rule_matches(r: &MatchRule, value: &[u8]) -> bool {
    if let Some(re) = &r.regex {
        // Checked when the scenario was loaded.
        return regex::Regex::new(re).is_ok_and(|re| re.is_match(&String::from_utf8_lossy(value)));
    }
    if let Some(not) = &r.not {
        return value != not.as_bytes();
    }
    if let Some(len) = r.len {
        return value.len() == len;
    }
    r.any.unwrap_or(false)
}

/// How the matcher reads in an "expected" line.
pub fn describe(m: Option<&Matcher>) -> String {
    match m {
        None => "*".into(),
        Some(Matcher::Exact(s)) => format!("\"{}\"", escape_bytes(s.as_bytes())),
        Some(Matcher::Rule(r)) => {
            if let Some(re) = &r.regex {
                format!("~/{re}/")
            } else if let Some(not) = &r.not {
                format!("not \"{}\"", escape_bytes(not.as_bytes()))
            } else if let Some(len) = r.len {
                format!("<{len} bytes>")
            } else {
                "*".into()
            }
        }
    }
}
