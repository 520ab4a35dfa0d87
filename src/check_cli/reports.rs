//! What a run produced, the reports written from it (HTML, JUnit, CSV), what is printed at
//! the end (the summary of several targets, or the JSON report), and the exit status.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::server::Suite;
use super::{Args, Format, Stop};
use crate::artifacts::target_dir;
use crate::dialect::{DialectNote, LEGACY_NOTE};
use crate::grade::{summary_csv, summary_table, TargetSummary};
use crate::report::html::{write_check_report, TargetResults};
use crate::report::{closing_line, junit_xml, JsonReport, TargetOutcome};
use crate::runner::RunResult;
use crate::target::TargetReport;
use crate::verdict::{Outcome, Totals};

/// One target's run.
pub(super) struct TargetRun {
    /// The name it is reported under.
    pub name: String,
    /// Its results, in the order of the run's scenarios.
    pub results: Vec<RunResult>,
    /// Where its pcaps went, for the HTML report's links.
    pub pcap_dir: Option<PathBuf>,
}

/// Everything a run produced.
#[derive(Default)]
pub(super) struct Results {
    /// Every target's run: the embedded server's, or the supervised targets' in order.
    pub runs: Vec<TargetRun>,
    /// The supervised targets' summaries (how each ended, deaths, not run); empty for the
    /// embedded server, whose rows are made from its outcomes.
    pub summaries: Vec<TargetSummary>,
    /// Targets that answered in the legacy dialect.
    pub dialect_notes: Vec<DialectNote>,
    /// Whether every supervised target failed to start.
    pub nothing_started: bool,
}

impl Results {
    /// Adds the supervised targets' reports; with several targets, target `i`'s pcaps are in
    /// `pcap_dir/tI`.
    pub fn add_reports(
        &mut self,
        reports: Vec<TargetReport>,
        pcap_dir: Option<&Path>,
        several: bool,
    ) {
        self.nothing_started = reports.iter().all(|r| r.start_failed);
        for (i, report) in reports.into_iter().enumerate() {
            // Said once at the top by the preflight (clarifications: a legacy target is not
            // mute); kept for the JSON and HTML reports.
            if report.notes.iter().any(|n| n == LEGACY_NOTE) {
                self.dialect_notes.push(DialectNote {
                    target: report.label.clone(),
                    dialect: "legacy",
                    note: LEGACY_NOTE,
                });
            }
            self.summaries.push(TargetSummary::of(&report));
            self.runs.push(TargetRun {
                name: report.label,
                results: report.results,
                pcap_dir: target_dir(pcap_dir, i, several),
            });
        }
    }
}

/// Every target's outcomes by name; files that did not load are errors of the first target
/// (they count once, however many targets ran).
pub fn outcomes_per_target(
    runs: &[(String, Vec<Outcome>)],
    load_errors: Vec<Outcome>,
) -> Vec<(String, Vec<Outcome>)> {
    let mut per_target = runs.to_vec();
    if let Some((_, first)) = per_target.first_mut() {
        first.extend(load_errors);
    }
    per_target
}

/// The summary rows of the CSV and JSON reports: the supervised targets' own, else one
/// made from each target's outcomes.
pub fn summary_rows(
    summaries: &[TargetSummary],
    per_target: &[(String, Vec<Outcome>)],
) -> Vec<TargetSummary> {
    if summaries.is_empty() {
        per_target
            .iter()
            .map(|(n, o)| TargetSummary::of_outcomes(n, n, o, 0.0))
            .collect()
    } else {
        summaries.to_vec()
    }
}

/// The closing line over several targets: scenarios that could not run against a gone
/// target are counted apart from the errors, as in each target's own closing line.
pub fn all_targets_line(totals: Totals, summaries: &[TargetSummary]) -> String {
    let not_run: usize = summaries.iter().map(|s| s.not_run).sum();
    let mut shown = totals;
    shown.errors -= not_run.min(shown.errors);
    let mut line = closing_line(&shown);
    if not_run > 0 {
        line.push_str(&format!(", {not_run} not run"));
    }
    format!("all targets: {line}")
}

/// The exit status of a run that got to its end: [`Totals::exit_code`], unless no target
/// could be started or no scenario ran.
pub fn verdict(totals: &Totals, strict: bool, nothing_started: bool) -> Result<u8, Stop> {
    if nothing_started {
        return Err(Stop::NothingStarted);
    }
    match totals.exit_code(strict) {
        2 => Err(Stop::NothingRan),
        code => Ok(code),
    }
}

/// Writes the reports asked for, prints the end of the report (with `several` targets, a
/// summary table), and says the exit status.
pub(super) fn finish(
    args: &Args,
    suite: &Suite,
    results: Results,
    several: bool,
    out: &mut impl Write,
) -> Result<u8, Stop> {
    let load_outcomes: Vec<Outcome> = suite
        .load_errors
        .iter()
        .map(|e| Outcome::load_error(&e.path, "scenario file could not be loaded", e.to_string()))
        .collect();
    let runs: Vec<(String, Vec<Outcome>)> = results
        .runs
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.results.iter().map(|r| r.outcome.clone()).collect(),
            )
        })
        .collect();
    let per_target = outcomes_per_target(&runs, load_outcomes);
    let all: Vec<Outcome> = per_target
        .iter()
        .flat_map(|(_, o)| o.iter().cloned())
        .collect();
    let totals = Totals::of(&all);
    let human = args.format == Format::Human;
    if let Some(dir) = &args.html {
        write_html(dir, suite, &results)?;
        if human {
            let _ = writeln!(out, "HTML report: {}", dir.join("index.html").display());
        }
    }
    if let Some(path) = &args.junit {
        let written = junit_xml(&per_target, args.strict)
            .map_err(|e| e.to_string())
            .and_then(|xml| std::fs::write(path, xml).map_err(|e| e.to_string()));
        written.map_err(|e| {
            Stop::Unwritten(format!("cannot write JUnit report {}: {e}", path.display()))
        })?;
    }
    if let Some(path) = &args.summary_csv {
        let rows = summary_rows(&results.summaries, &per_target);
        std::fs::write(path, summary_csv(&rows))
            .map_err(|e| Stop::Unwritten(format!("cannot write {}: {e}", path.display())))?;
    }
    match args.format {
        Format::Human => {
            if several {
                let _ = writeln!(out, "\n{}", summary_table(&results.summaries));
                let _ = writeln!(out, "{}", all_targets_line(totals, &results.summaries));
            }
            for e in &suite.load_errors {
                let _ = writeln!(out, "ERROR {e}");
            }
        }
        Format::Json => print_json(&per_target, totals, &results)?,
    }
    verdict(&totals, args.strict, results.nothing_started)
}

/// `--html DIR`: an index with a column per target and a page per scenario.
fn write_html(dir: &Path, suite: &Suite, results: &Results) -> Result<(), Stop> {
    let targets: Vec<TargetResults> = results
        .runs
        .iter()
        .map(|t| TargetResults {
            name: t.name.clone(),
            results: &t.results,
            pcap_dir: t.pcap_dir.clone(),
            dialect_note: results
                .dialect_notes
                .iter()
                .find(|n| n.target == t.name)
                .map(|n| n.note.to_string()),
        })
        .collect();
    write_check_report(dir, &suite.scenarios, &targets).map_err(|e| {
        Stop::Unwritten(format!(
            "cannot write the HTML report in {}: {e}",
            dir.display()
        ))
    })
}

/// `--format json`: the whole report on stdout.
fn print_json(
    per_target: &[(String, Vec<Outcome>)],
    totals: Totals,
    results: &Results,
) -> Result<(), Stop> {
    let report = JsonReport {
        summary: summary_rows(&results.summaries, per_target),
        targets: per_target.iter().map(|(n, _)| n.as_str()).collect(),
        totals,
        dialect_notes: results.dialect_notes.clone(),
        outcomes: per_target
            .iter()
            .flat_map(|(n, os)| {
                os.iter().map(move |o| TargetOutcome {
                    target: n,
                    outcome: o,
                })
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&report).map_err(|e| Stop::Usage(e.to_string()))?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;

    fn outcome(id: &str, verdict: Verdict) -> Outcome {
        let mut o = Outcome::load_error(Path::new("x.yaml"), "t", String::new());
        o.id = id.into();
        o.verdict = verdict;
        o
    }

    fn totals(
        passed: usize,
        failed: usize,
        warned: usize,
        skipped: usize,
        errors: usize,
    ) -> Totals {
        Totals {
            passed,
            failed,
            warned,
            skipped,
            errors,
        }
    }

    #[test]
    fn the_exit_status_of_each_ending() {
        let cases = [
            // (totals, strict, nothing started, exit status)
            (totals(3, 0, 0, 1, 0), false, false, 0),
            (totals(3, 0, 1, 0, 0), false, false, 0),
            (totals(3, 0, 1, 0, 0), true, false, 1),
            (totals(3, 1, 0, 0, 0), false, false, 1),
            (totals(3, 0, 0, 0, 1), false, false, 1),
            (totals(0, 0, 0, 2, 0), false, false, 2),
            (totals(0, 0, 0, 0, 0), false, false, 2),
            (totals(0, 0, 0, 0, 3), false, true, 2),
            (totals(3, 0, 0, 0, 0), false, true, 2),
        ];
        for (t, strict, nothing_started, code) in cases {
            let got = match verdict(&t, strict, nothing_started) {
                Ok(c) => c,
                Err(stop) => stop.exit_code(),
            };
            assert_eq!(
                got, code,
                "{t:?} strict {strict} nothing started {nothing_started}"
            );
        }
        assert!(matches!(
            verdict(&totals(0, 0, 0, 0, 3), false, true),
            Err(Stop::NothingStarted)
        ));
        assert!(matches!(
            verdict(&totals(0, 0, 0, 1, 0), false, false),
            Err(Stop::NothingRan)
        ));
    }

    #[test]
    fn files_that_did_not_load_count_once_against_the_first_target() {
        let runs = vec![
            ("a".to_string(), vec![outcome("s", Verdict::Pass)]),
            ("b".to_string(), vec![outcome("s", Verdict::Pass)]),
        ];
        let per_target = outcomes_per_target(&runs, vec![outcome("bad", Verdict::Error)]);
        assert_eq!(per_target[0].1.len(), 2);
        assert_eq!(per_target[1].1.len(), 1);
        assert!(outcomes_per_target(&[], vec![outcome("bad", Verdict::Error)]).is_empty());
    }

    #[test]
    fn summary_rows_come_from_outcomes_when_no_target_was_supervised() {
        let per_target = vec![(
            "embedded".to_string(),
            vec![outcome("s", Verdict::Pass), outcome("f", Verdict::Fail)],
        )];
        let rows = summary_rows(&[], &per_target);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].label, "embedded");
        assert_eq!(rows[0].status, "failed");
        let mut own = TargetSummary::of_outcomes("x", "x", &[], 0.0);
        own.status = "died 2x".into();
        let rows = summary_rows(std::slice::from_ref(&own), &per_target);
        assert_eq!(rows[0].status, "died 2x");
    }

    #[test]
    fn the_line_over_all_targets_counts_scenarios_not_run_apart_from_errors() {
        let mut gone = TargetSummary::of_outcomes("x", "x", &[], 0.0);
        gone.not_run = 2;
        assert_eq!(
            all_targets_line(totals(5, 1, 0, 0, 3), &[gone]),
            "all targets: 5 passed, 1 failed, 0 warned, 0 skipped, 1 errors, 2 not run"
        );
        assert_eq!(
            all_targets_line(totals(5, 0, 0, 0, 0), &[]),
            "all targets: 5 passed, 0 failed, 0 warned, 0 skipped"
        );
    }
}
