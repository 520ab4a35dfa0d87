//! Matchers of client scenarios, which keep the file's form ([`Matcher`]) until they run:
//! each call means what [`Match`] means (the loader has already refused what cannot load).

use crate::scenario::matching::Match;
use crate::scenario::Matcher;

/// Whether `value` satisfies the matcher (a missing matcher matches anything).
pub fn matches(m: Option<&Matcher>, value: &[u8]) -> bool {
    Match::load(m).is_ok_and(|m| m.matches(value))
}

/// How the matcher reads in an "expected" line.
pub fn describe(m: Option<&Matcher>) -> String {
    Match::load(m).map_or_else(|e| format!("<{e}>"), |m| m.to_string())
}
