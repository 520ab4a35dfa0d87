//! How a target's departure is written against the scenario it happened in: an ERR-4 failure
//! at the step that was running, with the signal's hint and the target's last words, while what
//! the scenario had reported before stays as a note.

use std::time::SystemTime;

use crate::rules::{rule, Level};
use crate::runner::RunResult;
use crate::scenario::Scenario;
use crate::target::process::{format_tail, Exit};
use crate::verdict::{Failure, Verdict};

/// How a target stopped serving.
pub(super) enum Departure {
    /// The supervised process ended.
    Died {
        exit: Exit,
        /// Which stream the lines come from, and its last lines.
        output: (&'static str, Vec<String>),
    },
    /// Connections are refused (no command to watch).
    StoppedAccepting(String),
    /// It accepts but does not answer a LIST any more.
    StoppedAnswering(String),
}

/// The ERR-4 failure of a target that stopped serving at `step`.
fn departure_failure(step: usize, line: usize, actual: String) -> Failure {
    let statement = rule("ERR-4").map_or_else(String::new, |r| r.statement.to_string());
    Failure {
        step,
        line,
        rule: "ERR-4".into(),
        level: Level::Must,
        statement,
        expected: "the target keeps serving (its process alive, accepting and answering)".into(),
        actual,
        actual_hex: None,
    }
}

/// The 1-based step that was running at `at`, for a scenario that started at `started`.
fn step_at(r: &RunResult, at: SystemTime) -> usize {
    let Ok(elapsed) = at.duration_since(r.started) else {
        return 1;
    };
    r.step_starts
        .iter()
        .filter(|s| **s <= elapsed)
        .count()
        .max(1)
}

/// Turns a scenario's result into the ERR-4 failure of the target's departure; what the
/// scenario reported before stays as a note.
pub(super) fn blame(sc: &Scenario, r: &mut RunResult, departure: Departure) {
    let failing_step = r.outcome.failure.as_ref().map(|f| f.step);
    let last_step = r.step_starts.len().max(1);
    let (step, actual, reason, extra) = match departure {
        Departure::Died { exit, output } => {
            let step = step_at(r, exit.at).min(sc.file.steps.len().max(1));
            let after = r.step_starts.len() == sc.file.steps.len()
                && exit
                    .at
                    .duration_since(r.started)
                    .is_ok_and(|d| d.as_secs_f64() > r.outcome.seconds);
            let when = if after {
                format!("after step {step}, the last")
            } else {
                format!("during step {step}")
            };
            let actual = format!("the target process {} {when}", exit.describe());
            let reason = exit
                .hint()
                .map(|h| format!("{}: {h}", exit.signal_name().unwrap_or("the signal")));
            (step, actual, reason, output)
        }
        Departure::StoppedAccepting(e) => (
            failing_step.unwrap_or(last_step),
            format!("the target stopped accepting connections ({e})"),
            None,
            ("stderr", Vec::new()),
        ),
        Departure::StoppedAnswering(d) => (
            failing_step.unwrap_or(last_step),
            format!("the target stopped answering: {d}"),
            None,
            ("stderr", Vec::new()),
        ),
    };
    let o = &mut r.outcome;
    if let Some(f) = o.failure.take() {
        o.notes.push(format!(
            "before that, step {}: {} expected {}, got {}",
            f.step, f.rule, f.expected, f.actual
        ));
    }
    if let Some(reason) = o.reason.take() {
        o.notes.push(format!("before that: {reason}"));
    }
    let line = sc.step_lines.get(step - 1).copied().unwrap_or(0);
    o.verdict = Verdict::Fail;
    o.failure = Some(departure_failure(step, line, actual));
    o.reason = reason;
    let (stream, lines) = extra;
    if !lines.is_empty() {
        o.notes.push(format!(
            "the last lines of the target's {stream}:{}",
            format_tail(&lines)
                .trim_start_matches("; the last lines of its stderr:")
                .replace("\n  | ", "\n        | ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Outcome;
    use std::time::Duration;

    fn result_with_steps(starts_ms: &[u64]) -> RunResult {
        let outcome = Outcome::not_run(
            "t".into(),
            "t".into(),
            "t.yaml".into(),
            Vec::new(),
            Vec::new(),
            Verdict::Pass,
            String::new(),
        );
        let mut r = RunResult::not_run(outcome);
        r.started = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        r.step_starts = starts_ms
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect();
        r
    }

    #[test]
    fn the_step_running_at_a_time() {
        let r = result_with_steps(&[0, 100, 200]);
        let at = |ms| r.started + Duration::from_millis(ms);
        assert_eq!(step_at(&r, at(50)), 1);
        assert_eq!(step_at(&r, at(150)), 2);
        assert_eq!(step_at(&r, at(250)), 3);
        // Before the scenario started (a clock step): the first step.
        assert_eq!(step_at(&r, SystemTime::UNIX_EPOCH), 1);
    }

    #[test]
    fn a_departure_fails_err_4() {
        let f = departure_failure(2, 17, "gone".into());
        assert_eq!((f.step, f.line, f.rule.as_str()), (2, 17, "ERR-4"));
        assert!(matches!(f.level, Level::Must));
        assert!(!f.statement.is_empty());
        assert_eq!(f.actual, "gone");
    }
}
