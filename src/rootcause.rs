//! Root causes: failed scenarios grouped by their first departure — the rule and the kind of
//! difference ("MSG-2: wrong name field") — largest group first, so that one bug in a server
//! reads as one line instead of dozens of failures.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::verdict::{Failure, Outcome, Verdict};

/// Scenarios whose first departure was the same rule, broken the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootCause {
    /// The rule blamed (`MSG-2`).
    pub rule: String,
    /// The kind of difference (`wrong name field`, `nothing instead of ERROR`).
    pub kind: String,
    /// The scenarios, in report order.
    pub scenarios: Vec<String>,
}

impl RootCause {
    /// `MSG-2: wrong name field`.
    pub fn title(&self) -> String {
        format!("{}: {}", self.rule, self.kind)
    }
}

/// The first word of a description: the frame kind (`MSG`, `ERROR`) or `connection`.
fn head(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

/// `key=value` fields of a frame description, values with their quotes.
fn fields(s: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].rsplit(' ').next().unwrap_or("");
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&after[..end + 2], &after[end + 2..]),
                None => (after, ""),
            }
        } else {
            match after.find(' ') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.push((key, value));
        rest = next;
    }
    out
}

/// The closing of a connection, without the details of who and how long.
fn connection_kind(actual: &str) -> &'static str {
    if actual.contains("reset") {
        "a reset"
    } else {
        "a close"
    }
}

/// How the actual differed from the expected, in a few words that group well.
pub fn difference_kind(f: &Failure) -> String {
    let (e, a) = (f.expected.as_str(), f.actual.as_str());
    if let Some(rest) = a.strip_prefix("the target process ") {
        let how = rest
            .split(" (signal")
            .next()
            .unwrap_or(rest)
            .trim_start_matches("was ");
        let how = how.split(" during step").next().unwrap_or(how);
        let how = how.split(" after step").next().unwrap_or(how);
        return format!("the target died ({how})");
    }
    if a.starts_with("the target stopped accepting") {
        return "the target stopped accepting connections".into();
    }
    if a.starts_with("the target stopped answering") {
        return "the target stopped answering".into();
    }
    let want = if e.starts_with("connection closed") {
        "a close"
    } else {
        head(e)
    };
    let got = if a == "nothing" {
        "nothing".to_string()
    } else if a.starts_with("connection ") {
        connection_kind(a).to_string()
    } else if a.starts_with("an incomplete frame") {
        "an incomplete frame".to_string()
    } else if a.starts_with("bytes that are not a valid frame") {
        "bytes that are not a frame".to_string()
    } else {
        head(a).to_string()
    };
    if got != want {
        return format!("{got} instead of {want}");
    }
    if want == "ERROR" {
        let reason = |s: &str| {
            s.split("text=\"")
                .nth(1)
                .and_then(|t| t.split(':').next())
                .map(str::to_string)
        };
        if reason(e) != reason(a) {
            return "wrong error reason".into();
        }
    }
    let (fe, fa) = (fields(e), fields(a));
    // "MSG from one of crowd (…) text=…": a sender from a group; the same text from a name
    // outside it is a wrong name.
    if e.contains(" from ") && !fe.iter().any(|(k, _)| *k == "name") {
        let text = |f: &[(&str, &str)]| {
            f.iter()
                .find(|(k, _)| *k == "text")
                .map(|(_, v)| v.to_string())
        };
        if text(&fe).is_none() || text(&fe) == text(&fa) {
            return "wrong name field".into();
        }
    }
    for (k, v) in &fe {
        if v.contains('…') {
            continue;
        }
        match fa.iter().find(|(ka, _)| ka == k) {
            Some((_, va)) if va == v => {}
            _ => return format!("wrong {k} field"),
        }
    }
    if want == "body" {
        return "different body".into();
    }
    if a.contains("+ body") || e.contains("+ body") {
        return format!("different {want} body");
    }
    format!("different {want}")
}

/// The rule a departure breaks, whichever rule its scenario blamed: a forwarded frame with
/// the wrong sender name is the same bug (MSG-2 for a MSG, FILE-3 for a FILE) whether the
/// scenario was about ordering, fragmentation or robustness.
fn cause_rule(f: &Failure, kind: &str) -> String {
    match (kind, head(&f.actual)) {
        ("wrong name field", "MSG") => "MSG-2".into(),
        ("wrong name field", "FILE") => "FILE-3".into(),
        _ => f.rule.clone(),
    }
}

/// The root causes of `outcomes` (failures and warnings), largest group first.
pub fn root_causes(outcomes: &[Outcome]) -> Vec<RootCause> {
    let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for o in outcomes {
        let Some(f) = &o.failure else { continue };
        if !matches!(o.verdict, Verdict::Fail | Verdict::Warn) {
            continue;
        }
        let kind = difference_kind(f);
        groups
            .entry((cause_rule(f, &kind), kind))
            .or_default()
            .push(o.id.clone());
    }
    let mut causes: Vec<RootCause> = groups
        .into_iter()
        .map(|((rule, kind), scenarios)| RootCause {
            rule,
            kind,
            scenarios,
        })
        .collect();
    // Largest first; equal sizes in rule order (the map's), which the sort keeps.
    causes.sort_by_key(|c| std::cmp::Reverse(c.scenarios.len()));
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Level;

    fn failure(rule: &str, expected: &str, actual: &str) -> Failure {
        Failure {
            step: 1,
            line: 1,
            rule: rule.into(),
            level: Level::Must,
            statement: String::new(),
            expected: expected.into(),
            actual: actual.into(),
            actual_hex: None,
        }
    }

    #[test]
    fn a_wrong_sender_name_is_one_cause_whichever_rule_the_scenario_blamed() {
        let outcome = |id: &str, rule: &str| Outcome {
            id: id.into(),
            title: String::new(),
            file: String::new(),
            rules: vec![rule.into()],
            tags: Vec::new(),
            verdict: Verdict::Fail,
            seconds: 0.0,
            failure: Some(failure(
                rule,
                "MSG name=\"aaaa\" text=\"hi\"",
                "MSG name=\"bbbb\" text=\"hi\"",
            )),
            reason: None,
            notes: Vec::new(),
            warnings: Vec::new(),
            transcript_diff: None,
        };
        let mut outcomes = vec![
            outcome("a", "ORD-1"),
            outcome("b", "MSG-2"),
            outcome("c", "ENC-3"),
        ];
        outcomes[2].failure.as_mut().unwrap().actual = "nothing".into();
        let causes = root_causes(&outcomes);
        assert_eq!(causes.len(), 2);
        assert_eq!(causes[0].title(), "MSG-2: wrong name field");
        assert_eq!(causes[0].scenarios, ["a", "b"]);
        assert_eq!(causes[1].title(), "ENC-3: nothing instead of MSG");
    }

    #[test]
    fn differences_are_named_by_their_kind() {
        let k = |e, a| difference_kind(&failure("MSG-2", e, a));
        assert_eq!(
            k(
                "MSG name=\"clt1\" text=\"hola\"",
                "MSG name=\"clt2\" text=\"hola\""
            ),
            "wrong name field"
        );
        assert_eq!(
            k(
                "MSG from one of crowd (still 20 of 20) text=\"hi\"",
                "MSG name=\"hubb\" text=\"hi\""
            ),
            "wrong name field"
        );
        assert_eq!(
            k("ERROR text=\"unknown-recipient: …\"", "nothing"),
            "nothing instead of ERROR"
        );
        assert_eq!(
            k(
                "ERROR text=\"malformed: …\"",
                "ERROR text=\"bad-opcode: no\""
            ),
            "wrong error reason"
        );
        assert_eq!(
            k("connection closed", "connection reset by the server (RST)"),
            "a reset instead of a close"
        );
        assert_eq!(
            k(
                "the target keeps serving",
                "the target process was killed by SIGPIPE (signal 13) during step 9"
            ),
            "the target died (killed by SIGPIPE)"
        );
    }
}
