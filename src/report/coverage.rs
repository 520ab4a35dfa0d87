//! `msrp-check --coverage`: which scenarios check each rule of the strict profile and each
//! project decision, as the table the command prints.

use std::fmt::Write as _;

use crate::check::{coverage, decision_coverage};
use crate::rules::Level;
use crate::scenario::Scenario;

/// The coverage table of `scenarios`, and the MUST rules no scenario checks (a non-empty list
/// makes `--coverage` exit 1).
pub fn coverage_table(scenarios: &[Scenario]) -> (String, Vec<&'static str>) {
    let mut out = String::new();
    let mut uncovered = Vec::new();
    for (id, level, ids) in coverage(scenarios) {
        let lvl = format!("{level:?}").to_uppercase();
        if ids.is_empty() {
            let _ = writeln!(out, "{id:<7} {lvl:<6} NOT COVERED");
            if level == Level::Must {
                uncovered.push(id);
            }
        } else {
            let _ = writeln!(out, "{id:<7} {lvl:<6} {}", ids.join(", "));
        }
    }
    let _ = writeln!(
        out,
        "decisions (a departure is a warning naming the decision):"
    );
    for (d, ids) in decision_coverage(scenarios) {
        let _ = match (d.restates, ids.is_empty()) {
            (Some(rule), _) => writeln!(
                out,
                "{:<7} {:<8} restates {rule}: cited as the rule",
                d.id, "DECISION"
            ),
            (None, true) => writeln!(
                out,
                "{:<7} {:<8} not checked by any scenario",
                d.id, "DECISION"
            ),
            (None, false) => writeln!(out, "{:<7} {:<8} {}", d.id, "DECISION", ids.join(", ")),
        };
    }
    if uncovered.is_empty() {
        let _ = writeln!(out, "every MUST rule is covered by at least one scenario");
    } else {
        let _ = writeln!(
            out,
            "MUST rules without a scenario: {}",
            uncovered.join(", ")
        );
    }
    (out, uncovered)
}
