//! Targets msrp-check reaches at an address or starts itself, all run at once, each reported
//! as a block of its own.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::{interrupted, Stop};
use crate::artifacts::{create_dirs, target_dir, Artifacts};
use crate::grade::{root_cause_lines, run_targets, TargetSummary};
use crate::report::{closing_line, print_outcome_colored};
use crate::runner::RunOptions;
use crate::scenario::Scenario;
use crate::snapshot::Snapshots;
use crate::target::run::{is_not_run, NOT_RUN};
use crate::target::{Event, Policy, TargetReport, TargetSpec};

/// Where one target's human report goes: straight out with one target, into a buffer
/// printed as a block when the target is done with several (they run at once).
#[derive(Clone, Debug)]
pub enum Printer {
    /// Printed as it comes.
    Direct,
    /// Kept until [`Printer::take`].
    Buffered(Arc<Mutex<Vec<u8>>>),
}

impl Printer {
    /// The printer for one of the targets of a run.
    pub fn for_run(several: bool) -> Printer {
        if several {
            Printer::Buffered(Default::default())
        } else {
            Printer::Direct
        }
    }

    /// Prints `text`, or keeps it.
    pub fn print(&self, text: &[u8]) {
        match self {
            Printer::Direct => {
                let mut out = anstream::stdout();
                let _ = out.write_all(text);
            }
            Printer::Buffered(buf) => {
                if let Ok(mut b) = buf.lock() {
                    b.extend_from_slice(text);
                }
            }
        }
    }

    /// What was kept so far (nothing for a direct printer).
    pub fn take(&self) -> Vec<u8> {
        match self {
            Printer::Direct => Vec::new(),
            Printer::Buffered(buf) => buf
                .lock()
                .map(|mut b| std::mem::take(&mut *b))
                .unwrap_or_default(),
        }
    }
}

/// The first line of a target's report: its label, and its address or command when that
/// says more.
pub fn heading(spec: &TargetSpec, scenarios: usize) -> String {
    let shown = spec.describe();
    let name = if shown.trim_matches('`') == spec.label || shown == spec.label {
        shown
    } else {
        format!("{} ({shown})", spec.label)
    };
    format!("msrp-check: {scenarios} scenarios against {name}\n")
}

/// What the human report says of one event of a target's run; a result's evidence is kept
/// first (a pcap that cannot be written turns it into an error). `None` for a scenario that
/// did not run because the target is gone: a `NotRun` event counts those.
pub fn event_text(event: Event<'_>, artifacts: &Artifacts, color: bool) -> Option<Vec<u8>> {
    let mut text = Vec::new();
    match event {
        Event::Note(n) if n == crate::dialect::LEGACY_NOTE => {
            let _ = writeln!(text, "note: {n}");
        }
        Event::Note(n) => {
            let _ = writeln!(text, "target: {n}");
        }
        Event::NotRun { reason, count } => {
            let _ = writeln!(
                text,
                "NOT RUN {count} scenarios: {}",
                reason.trim_start_matches(NOT_RUN)
            );
        }
        Event::Result(r) => {
            if is_not_run(r.outcome.reason.as_deref()) {
                return None;
            }
            artifacts.record(r);
            // The recordings are in the pcaps now; with thirty targets at once, keeping
            // them all would cost gigabytes.
            r.records = Vec::new();
            let _ = print_outcome_colored(&mut text, &r.outcome, color);
        }
    }
    Some(text)
}

/// The closing line of a target's report and its root causes.
pub fn closing_text(report: &TargetReport) -> String {
    let summary = TargetSummary::of(report);
    let mut line = closing_line(&summary.totals);
    if summary.not_run > 0 {
        line.push_str(&format!(", {} not run", summary.not_run));
    }
    format!("{line}\n{}", root_cause_lines(&summary))
}

/// Supervised targets (addresses and commands), run at once.
pub struct Supervised<'a> {
    /// The scenarios every target runs.
    pub scenarios: &'a [Scenario],
    /// How each scenario runs.
    pub opts: &'a RunOptions,
    /// Settings, restarts, waits.
    pub policy: &'a Policy,
    /// `--format human`: print each target's report.
    pub human: bool,
    /// More than one target.
    pub several: bool,
    /// `--pcap-dir`.
    pub pcap_dir: Option<&'a Path>,
    /// `--transcript-dir`.
    pub transcript_dir: Option<&'a Path>,
    /// `--snapshots`, loaded.
    pub snapshots: Option<Arc<Snapshots>>,
    /// `--strict-transcript`.
    pub strict_transcript: bool,
}

impl Supervised<'_> {
    /// Runs every target; `None` when interrupted (the servers started are stopped as the
    /// run is dropped).
    pub fn run(
        &self,
        rt: &tokio::runtime::Runtime,
        specs: &[TargetSpec],
    ) -> Result<Option<Vec<TargetReport>>, Stop> {
        let mut printers = Vec::new();
        let mut artifacts = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let kept = Artifacts {
                pcap_dir: target_dir(self.pcap_dir, i, self.several),
                transcript_dir: target_dir(self.transcript_dir, i, self.several),
                snapshots: self.snapshots.clone(),
                strict_transcript: self.strict_transcript,
            };
            create_dirs([&kept.pcap_dir, &kept.transcript_dir])
                .map_err(|e| Stop::Usage(e.to_string()))?;
            artifacts.push(Arc::new(kept));
            let printer = Printer::for_run(self.several);
            if self.human {
                printer.print(heading(spec, self.scenarios.len()).as_bytes());
            }
            printers.push(printer);
        }
        let human = self.human;
        let make_sink = |i: usize| {
            let printer = printers[i].clone();
            let artifacts = artifacts[i].clone();
            move |event: Event<'_>| {
                let color = msrp_reference::color::enabled(msrp_reference::color::Stream::Stdout);
                match event_text(event, &artifacts, color) {
                    Some(text) if human => printer.print(&text),
                    _ => {}
                }
            }
        };
        let scenarios = Arc::new(self.scenarios.to_vec());
        let run = run_targets(
            specs,
            scenarios,
            self.opts,
            self.policy,
            make_sink,
            |i, report| {
                if !human {
                    return;
                }
                let mut text = printers[i].take();
                text.extend_from_slice(closing_text(report).as_bytes());
                if self.several {
                    text.push(b'\n');
                }
                let mut out = anstream::stdout();
                let _ = out.write_all(&text);
            },
        );
        // Started servers live in their own process groups, out of reach of the terminal's
        // Ctrl-C: on an interrupt, dropping the run (and then the runtime) kills them.
        Ok(rt.block_on(async {
            tokio::select! {
                reports = run => Some(reports),
                _ = interrupted() => None,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::RunResult;
    use crate::target::{TargetCommand, TargetSource};
    use crate::verdict::{Outcome, Verdict};

    fn result(verdict: Verdict, reason: Option<&str>) -> RunResult {
        let mut outcome = Outcome::load_error(Path::new("s.yaml"), "title", String::new());
        outcome.verdict = verdict;
        outcome.reason = reason.map(str::to_string);
        RunResult::not_run(outcome)
    }

    fn text(event: Event<'_>) -> Option<String> {
        event_text(event, &Artifacts::default(), false).map(|t| String::from_utf8_lossy(&t).into())
    }

    #[test]
    fn a_heading_names_the_command_or_address_only_when_the_label_does_not() {
        let address = TargetSpec {
            label: "127.0.0.1:9000".into(),
            source: TargetSource::Address(([127, 0, 0, 1], 9000).into()),
        };
        assert_eq!(
            heading(&address, 3),
            "msrp-check: 3 scenarios against 127.0.0.1:9000\n"
        );
        let command = TargetSpec {
            label: "./s {port}".into(),
            source: TargetSource::Command(TargetCommand::new("./s {port}", None, None)),
        };
        assert_eq!(
            heading(&command, 1),
            "msrp-check: 1 scenarios against `./s {port}`\n"
        );
        let labelled = TargetSpec {
            label: "alice".into(),
            ..command
        };
        assert_eq!(
            heading(&labelled, 2),
            "msrp-check: 2 scenarios against alice (`./s {port}`)\n"
        );
    }

    #[test]
    fn notes_are_about_the_target_unless_they_name_its_dialect() {
        assert_eq!(
            text(Event::Note("restarted")).as_deref(),
            Some("target: restarted\n")
        );
        assert_eq!(
            text(Event::Note(crate::dialect::LEGACY_NOTE)),
            Some(format!("note: {}\n", crate::dialect::LEGACY_NOTE))
        );
    }

    #[test]
    fn scenarios_a_gone_target_could_not_run_are_one_line() {
        let reason = format!("{NOT_RUN}cannot connect to x");
        assert_eq!(
            text(Event::NotRun {
                reason: &reason,
                count: 4
            })
            .as_deref(),
            Some("NOT RUN 4 scenarios: cannot connect to x\n")
        );
        let mut r = result(Verdict::Error, Some(&reason));
        assert_eq!(text(Event::Result(&mut r)), None);
    }

    #[test]
    fn a_result_is_printed_and_its_recordings_let_go() {
        let mut r = result(Verdict::Pass, None);
        let start = tokio::time::Instant::now();
        let budget = crate::record::record_budget();
        r.records.push(crate::record::ConnRecord::new(
            "alice", start, false, budget,
        ));
        let shown = text(Event::Result(&mut r)).unwrap_or_default();
        assert!(shown.contains("PASS"), "{shown}");
        assert!(r.records.is_empty());
    }

    #[test]
    fn a_buffered_printer_keeps_text_until_taken() {
        let p = Printer::for_run(true);
        p.print(b"a");
        p.print(b"b");
        assert_eq!(p.take(), b"ab");
        assert_eq!(p.take(), b"");
        assert!(matches!(Printer::for_run(false), Printer::Direct));
    }

    #[test]
    fn the_closing_text_counts_scenarios_not_run_apart() {
        let gone = format!("{NOT_RUN}the target could not be restarted: x");
        let report = TargetReport {
            label: "t".into(),
            shown_as: "t".into(),
            results: vec![
                result(Verdict::Pass, None),
                result(Verdict::Error, Some(&gone)),
            ],
            notes: Vec::new(),
            deaths: Vec::new(),
            stopped: None,
            ran: true,
            start_failed: false,
            seconds: 0.0,
        };
        assert_eq!(
            closing_text(&report),
            "1 passed, 0 failed, 0 warned, 0 skipped, 1 not run\n"
        );
    }
}
