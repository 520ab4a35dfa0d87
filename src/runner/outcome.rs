//! How a scenario run becomes its verdict: why it stopped, the bound on its duration, and
//! the grading of what it found (`wire-decisions.md`, "How departures are graded").

use std::time::Duration;

use super::{RunOptions, Step};
use crate::record::ConnRecord;
use crate::scenario::Scenario;
use crate::verdict::{Failure, Outcome, Verdict};

/// Why a scenario stopped before its last step.
pub(super) enum Stop {
    /// A departure graded as a failure.
    Failure(Failure),
    /// The step (index) could not be carried out.
    Broken(usize, String),
}

/// An upper bound on a scenario's run time, so a scenario never hangs the runner.
pub(super) fn scenario_deadline(sc: &Scenario, opts: &RunOptions) -> Duration {
    let mut total = Duration::from_secs(5);
    for step in &sc.steps {
        total += match step {
            Step::Sleep(s) => *s,
            Step::File(f) => {
                opts.timeout * 4
                    + Duration::from_secs_f64(f.size as f64 / 20e6)
                    + f.timeout.map(Duration::from_secs_f64).unwrap_or_default() * 4
            }
            _ => {
                opts.timeout
                    .max(Duration::from_secs_f64(sc.file.timeout.unwrap_or(0.0)))
                    * 2
            }
        };
    }
    total
}

/// The note of a recording that hit its cap, if it did.
pub(super) fn capped_note(r: &ConnRecord) -> Option<String> {
    (r.dropped > 0).then(|| {
        format!(
            "recording of {} capped ({} MiB per connection, {} MiB per scenario); {} later bytes not kept",
            r.label,
            crate::record::RECORD_CAP >> 20,
            crate::record::SCENARIO_RECORD_CAP >> 20,
            r.dropped
        )
    })
}

/// The verdict of a finished run: its failure, else the error that stopped it (unless a
/// warning came first), else its first warning.
pub(super) fn grade(
    outcome: &mut Outcome,
    sc: &Scenario,
    result: Result<(), Stop>,
    warnings: Vec<Failure>,
) {
    match result {
        Ok(()) => {}
        Err(Stop::Failure(f)) => {
            outcome.verdict = Verdict::Fail;
            outcome.failure = Some(f);
        }
        Err(Stop::Broken(index, reason)) => {
            let line = sc.step_lines.get(index).copied().unwrap_or(0);
            let reason = format!("{}:{line}: step {}: {reason}", sc.path.display(), index + 1);
            if warnings.is_empty() {
                outcome.verdict = Verdict::Error;
                outcome.reason = Some(reason);
            } else {
                // The departure left later steps nothing to mean: the warning is the verdict,
                // never an error blamed on the step it caused.
                outcome.notes.push(format!(
                    "stopped after the departure at step {}: {reason}",
                    warnings[0].step
                ));
            }
        }
    }
    if outcome.failure.is_none() {
        if let Some(first) = warnings.first() {
            outcome.verdict = Verdict::Warn;
            outcome.failure = Some(first.clone());
        }
    }
    outcome.warnings = warnings;
}
