//! The account of one target's run: the report as it grows, each entry told to the sink as it
//! is made, so that a terminal shows a run as it happens and the report says the same.

use super::{Event, TargetReport};
use crate::check::errored;
use crate::runner::RunResult;
use crate::scenario::Scenario;
use crate::target::TargetSpec;

/// The report being built and the sink that sees every entry first.
pub(super) struct Account<S> {
    /// What is known so far (flags such as `ran` are set on it directly).
    pub(super) report: TargetReport,
    sink: S,
}

impl<S: FnMut(Event<'_>) + Send> Account<S> {
    /// An empty account of `spec`'s run.
    pub(super) fn new(spec: &TargetSpec, sink: S) -> Self {
        let report = TargetReport {
            label: spec.label.clone(),
            shown_as: spec.describe(),
            results: Vec::new(),
            notes: Vec::new(),
            deaths: Vec::new(),
            stopped: None,
            ran: false,
            start_failed: false,
            seconds: 0.0,
        };
        Account { report, sink }
    }

    /// Something said about the target itself.
    pub(super) fn note(&mut self, text: String) {
        (self.sink)(Event::Note(&text));
        self.report.notes.push(text);
    }

    /// A scenario's result (the sink may add to it before it is kept).
    pub(super) fn result(&mut self, mut r: RunResult) {
        (self.sink)(Event::Result(&mut r));
        self.report.results.push(r);
    }

    /// The run of this target stops (`stopped` says why): the scenarios from `from` on are
    /// recorded as not run, for `reason`.
    pub(super) fn give_up(
        &mut self,
        stopped: String,
        scenarios: &[Scenario],
        from: usize,
        reason: &str,
    ) {
        self.report.stopped = Some(stopped);
        let rest = scenarios.get(from..).unwrap_or_default();
        if rest.is_empty() {
            return;
        }
        (self.sink)(Event::NotRun {
            reason,
            count: rest.len(),
        });
        for sc in rest {
            self.result(errored(sc, reason.to_string()));
        }
    }

    /// The finished report.
    pub(super) fn into_report(self) -> TargetReport {
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::TargetSource;

    #[test]
    fn notes_reach_the_sink_and_the_report() {
        let spec = TargetSpec {
            label: "t".into(),
            source: TargetSource::Address(([127, 0, 0, 1], 9).into()),
        };
        let mut seen = Vec::new();
        let mut account = Account::new(&spec, |e: Event<'_>| {
            if let Event::Note(n) = e {
                seen.push(n.to_string());
            }
        });
        account.note("started".into());
        // Nothing left to run: only the reason to stop is kept.
        account.give_up("gone".into(), &[], 0, "not run: gone");
        let report = account.into_report();
        assert_eq!(report.notes, ["started"]);
        assert_eq!(report.stopped.as_deref(), Some("gone"));
        assert!(report.results.is_empty());
        assert_eq!(report.shown_as, "127.0.0.1:9");
        assert_eq!(seen, ["started"]);
    }
}
