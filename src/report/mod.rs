//! Reports of a run: a human one (colour on a terminal, `NO_COLOR` honoured), JSON, JUnit.

mod human;
mod junit;

pub use human::{closing_line, print_outcome};
pub use junit::junit_xml;

use serde::Serialize;

use crate::verdict::{Outcome, Totals};

/// The JSON report.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    pub target: &'a str,
    pub totals: Totals,
    pub outcomes: &'a [Outcome],
}
