//! Checks both scenario formats (server and client scenarios) make at load time, in one
//! place: the id and rules header, rule IDs, seconds, matchers, exactly-one payloads.

use super::Matcher;

/// `id` is lowercase ASCII letters, digits and `-`; `rules` lists at least one rule of
/// `src/rules.rs`. The message names the field.
pub(crate) fn check_header(id: &str, rules: &[String]) -> Result<(), String> {
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "id \"{id}\" must be lowercase letters, digits and '-'"
        ));
    }
    if rules.is_empty() {
        return Err("rules: list at least one rule ID".into());
    }
    for r in rules {
        if crate::rules::rule(r).is_none() {
            return Err(format!("rules: \"{r}\" is not a rule of SPEC.md"));
        }
    }
    Ok(())
}

/// A step's `rule:` names a rule of `src/rules.rs`.
pub(crate) fn check_rule(rule: &Option<String>) -> Result<(), String> {
    match rule {
        Some(r) if crate::rules::rule(r).is_none() => {
            Err(format!("rule \"{r}\" is not a rule of SPEC.md"))
        }
        _ => Ok(()),
    }
}

/// Seconds are finite and in 0..=3600.
pub(crate) fn check_seconds(what: &str, v: Option<f64>) -> Result<(), String> {
    match v {
        Some(s) if !(s.is_finite() && (0.0..=3600.0).contains(&s)) => Err(format!(
            "{what}: {s} is not a number of seconds in 0..=3600"
        )),
        _ => Ok(()),
    }
}

/// A matcher means something: exactly one of regex, any, not, len, a regex that compiles,
/// and not `any: false` ([`super::matching::Match::load`]).
pub(crate) fn check_matcher(m: Option<&Matcher>) -> Result<(), String> {
    super::matching::Match::load(m).map(|_| ())
}

/// Exactly one of the named fields is present.
pub(crate) fn exactly_one(what: &str, set: &[(&str, bool)]) -> Result<(), String> {
    let present: Vec<&str> = set.iter().filter(|(_, p)| *p).map(|(n, _)| *n).collect();
    if present.len() == 1 {
        Ok(())
    } else {
        let names: Vec<&str> = set.iter().map(|(n, _)| *n).collect();
        Err(format!(
            "{what} needs exactly one of {}; found {}",
            names.join(", "),
            if present.is_empty() {
                "none".to_string()
            } else {
                present.join(", ")
            }
        ))
    }
}

/// A step blames a rule or rests on a decision, not both; a decision must leave a real choice
/// (one that restates a rule is cited as that rule).
pub(crate) fn check_blame(rule: &Option<String>, decision: &Option<String>) -> Result<(), String> {
    check_rule(rule)?;
    let Some(id) = decision else { return Ok(()) };
    if let Some(r) = rule {
        return Err(format!(
            "rule \"{r}\" and decision \"{id}\" together: a step's expectation rests on a rule or on a decision, not both"
        ));
    }
    match crate::rules::decision(id) {
        None => Err(format!("decision \"{id}\" is not a decision of SPEC.md §4")),
        Some(d) => match d.restates {
            Some(r) => Err(format!(
                "decision \"{id}\" restates what {r} already forces; cite the rule (rule: {r})"
            )),
            None => Ok(()),
        },
    }
}
