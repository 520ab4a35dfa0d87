//! Reports of a run: a human one (colour on a terminal, `NO_COLOR` honoured), JSON, JUnit.

pub mod coverage;
pub mod html;
mod human;
mod junit;

pub use human::{closing_line, print_outcome, print_outcome_colored};
pub use junit::junit_xml;

use serde::Serialize;

use crate::verdict::{Outcome, Totals};

/// One scenario's outcome against one target.
#[derive(Debug, Serialize)]
pub struct TargetOutcome<'a> {
    /// The target's label.
    pub target: &'a str,
    /// The outcome, its fields flattened into this object.
    #[serde(flatten)]
    pub outcome: &'a Outcome,
}

/// The JSON report: totals over every target, and every outcome with its target.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// The labels of every target, in the order they were run.
    pub targets: Vec<&'a str>,
    /// Verdict counts over every target.
    pub totals: Totals,
    /// Targets that answered in another dialect than the one checked (legacy issue, item 4).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dialect_notes: Vec<crate::dialect::DialectNote>,
    /// Every scenario's outcome against every target.
    pub outcomes: Vec<TargetOutcome<'a>>,
    /// Per target: counts, how it ended, root causes (failures grouped by first departure).
    pub summary: Vec<crate::grade::TargetSummary>,
}
