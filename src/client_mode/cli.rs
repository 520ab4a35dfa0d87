//! `msrp-check --client`: the command-line side of client mode (the binary parses the
//! arguments and hands them here), with the same reports as server mode.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::{check_command, check_profile, coverage, load_all, run_all, selects, Driver};
use super::{ClientRunOptions, ClientScenario};
use crate::check::Selection;
use crate::report::html::{write_check_report, TargetResults};
use crate::report::{closing_line, junit_xml, print_outcome, JsonReport, TargetOutcome};
use crate::rules::Level;
use crate::runner::RunResult;
use crate::scenario::LoadError;
use crate::snapshot::{diff, Snapshots};
use crate::verdict::{Outcome, Totals, Verdict};

/// What the binary parsed for a client run.
#[derive(Debug, Clone)]
pub struct ClientCli {
    /// The `--client` command template that starts one client (`{host}`, `{port}`, `{name}`,
    /// `{download_dir}`).
    pub command: String,
    /// The `--driver` file; `None` for the built-in `msrp-client` driver.
    pub driver: Option<PathBuf>,
    /// The `--profile` name (`strict`; client mode has no other yet).
    pub profile: String,
    /// Client scenario files and folders to load.
    pub paths: Vec<PathBuf>,
    /// `--only`, `--exclude` and `--tag`.
    pub selection: Selection,
    /// Default wait of a step (`--timeout`).
    pub timeout: Duration,
    /// `--strict`: warnings fail the run.
    pub strict: bool,
    /// Scenarios run at once (`-j`; default twice the number of CPUs).
    pub jobs: usize,
    /// `--format json`: print the JSON report instead of the human one.
    pub json: bool,
    /// `--list`: print what would run, run nothing.
    pub list: bool,
    /// `--coverage`: print the scenarios per rule; exit 1 if a MUST rule has none.
    pub coverage: bool,
    /// `--junit FILE`: also write a JUnit XML report there.
    pub junit: Option<PathBuf>,
    /// `--pcap-dir`: write a capture of every run there, `ID.pcap`.
    pub pcap_dir: Option<PathBuf>,
    /// `--transcript-dir`: write the transcript of every run there, `ID.txt`.
    pub transcript_dir: Option<PathBuf>,
    /// `--snapshots`: compare every transcript with the approved snapshot in this folder.
    pub snapshots: Option<PathBuf>,
    /// `--strict-transcript`: a transcript that differs from its snapshot fails the scenario.
    pub strict_transcript: bool,
    /// `--html`: write the static HTML report into this folder.
    pub html: Option<PathBuf>,
}

fn usage(msg: impl std::fmt::Display) -> u8 {
    eprintln!("msrp-check: {msg}");
    2
}

/// Runs client mode; returns the exit status (0 passed, 1 a client failed or errored, 2
/// usage errors or nothing ran).
pub fn main(cli: ClientCli) -> u8 {
    let driver = match checked_driver(&cli) {
        Ok(d) => d,
        Err(e) => return usage(e),
    };
    let (scenarios, load_errors) = load_selected(&cli);
    if cli.coverage {
        return print_coverage(&scenarios, !load_errors.is_empty());
    }
    if cli.list {
        return print_list(&scenarios, !load_errors.is_empty());
    }
    if scenarios.is_empty() {
        if load_errors.is_empty() {
            return usage("no client scenario selected: nothing to run");
        }
        return usage("no client scenario could be loaded: nothing ran");
    }
    let (rt, opts, snapshots) = match prepare(&cli, driver) {
        Ok(prepared) => prepared,
        Err(e) => return usage(e),
    };
    let target = format!("client `{}`", cli.command);
    let results = run_printing(&cli, &rt, &opts, snapshots.as_ref(), &scenarios, &target);
    let outcomes = outcomes_of(&results, &load_errors);
    let totals = Totals::of(&outcomes);
    let per_target = vec![(target.clone(), outcomes.clone())];
    let mut code = totals.exit_code(cli.strict);
    code = code.max(write_reports(
        &cli,
        &scenarios,
        &results,
        &per_target,
        &target,
        !cli.json,
    ));
    if let Err(e) = print_summary(&cli, &target, totals, &outcomes, &load_errors) {
        return usage(e);
    }
    if code == 2 {
        eprintln!("msrp-check: no client scenario ran");
    }
    code
}

/// The `--driver` file (or the built-in one), checked against `--profile` and the
/// `--client` command; the error is the usage message.
fn checked_driver(cli: &ClientCli) -> Result<Driver, String> {
    let driver = match &cli.driver {
        Some(p) => Driver::load(p),
        None => Driver::builtin(),
    };
    let driver = driver.map_err(|e| format!("driver: {e}"))?;
    check_profile(&cli.profile, &driver).map_err(|e| e.to_string())?;
    check_command(&cli.command).map_err(|e| e.to_string())?;
    Ok(driver)
}

/// The client scenarios `--only`, `--exclude` and `--tag` select, and the files that could
/// not be loaded (printed at once, so they show before a long run).
fn load_selected(cli: &ClientCli) -> (Vec<ClientScenario>, Vec<LoadError>) {
    let (all, load_errors) = load_all(&cli.paths);
    for e in &load_errors {
        eprintln!("error: {e}");
    }
    let scenarios = all
        .into_iter()
        .filter(|s| selects(&cli.selection, s))
        .collect();
    (scenarios, load_errors)
}

/// Runs the scenarios; each run's evidence is kept and, for humans, its outcome printed as
/// it ends.
fn run_printing(
    cli: &ClientCli,
    rt: &tokio::runtime::Runtime,
    opts: &ClientRunOptions,
    snapshots: Option<&Snapshots>,
    scenarios: &[ClientScenario],
    target: &str,
) -> Vec<RunResult> {
    let human = !cli.json;
    let mut out = anstream::stdout();
    if human {
        let _ = writeln!(
            out,
            "msrp-check: {} client scenarios against {target} (driver {})",
            scenarios.len(),
            opts.driver.file.name
        );
    }
    rt.block_on(run_all(scenarios.to_vec(), opts, cli.jobs, |r| {
        if r.outcome.verdict != Verdict::Skip {
            keep(cli, snapshots, r);
        }
        if human {
            let _ = print_outcome(&mut out, &r.outcome);
        }
    }))
}

/// The outcomes of the runs, then one load error outcome per file that could not be loaded.
fn outcomes_of(results: &[RunResult], load_errors: &[LoadError]) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = results.iter().map(|r| r.outcome.clone()).collect();
    outcomes.extend(load_errors.iter().map(|e| {
        Outcome::load_error(
            &e.path,
            "client scenario file could not be loaded",
            e.to_string(),
        )
    }));
    outcomes
}

/// The closing line and the load errors for humans, else the JSON report; the error is a
/// JSON report that could not be written.
fn print_summary(
    cli: &ClientCli,
    target: &str,
    totals: Totals,
    outcomes: &[Outcome],
    load_errors: &[LoadError],
) -> Result<(), String> {
    if !cli.json {
        let mut out = anstream::stdout();
        let _ = writeln!(out, "{}", closing_line(&totals));
        for e in load_errors {
            let _ = writeln!(out, "ERROR {e}");
        }
        return Ok(());
    }
    let report = JsonReport {
        dialect_notes: Vec::new(),
        summary: Vec::new(),
        targets: vec![target],
        totals,
        outcomes: outcomes
            .iter()
            .map(|o| TargetOutcome { target, outcome: o })
            .collect(),
    };
    let s = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    println!("{s}");
    Ok(())
}

/// The output folders created, the snapshots loaded, the runtime started and the run's
/// options, or the usage error that stops the run.
fn prepare(
    cli: &ClientCli,
    driver: Driver,
) -> Result<(tokio::runtime::Runtime, ClientRunOptions, Option<Snapshots>), String> {
    for dir in [&cli.pcap_dir, &cli.transcript_dir, &cli.html]
        .into_iter()
        .flatten()
    {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return Err(format!("cannot create {}: {e}", dir.display()));
        }
    }
    let snapshots = match &cli.snapshots {
        Some(dir) => match Snapshots::load(dir) {
            Ok(s) => Some(s),
            Err(e) => return Err(e.to_string()),
        },
        None => None,
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return Err(format!("cannot start the runtime: {e}")),
    };
    let opts = ClientRunOptions {
        command: cli.command.clone(),
        driver,
        timeout: cli.timeout,
        // Starting a program takes longer than a step on a loaded machine.
        connect_wait: cli.timeout.max(Duration::from_millis(500)) * 2,
        strict: cli.strict,
        keep_sandboxes: std::env::var_os("MSRP_KEEP_SANDBOX").is_some(),
    };
    Ok((rt, opts, snapshots))
}

/// `--coverage`: rule → client scenarios; 1 when a MUST rule has none.
fn print_coverage(scenarios: &[ClientScenario], had_load_errors: bool) -> u8 {
    let mut uncovered = Vec::new();
    for (id, level, ids) in coverage(scenarios) {
        let lvl = level.as_str();
        if ids.is_empty() {
            println!("{id:<7} {lvl:<6} NOT COVERED");
            if level == Level::Must {
                uncovered.push(id);
            }
        } else {
            println!("{id:<7} {lvl:<6} {}", ids.join(", "));
        }
    }
    if !uncovered.is_empty() {
        println!(
            "MUST rules without a client scenario: {}",
            uncovered.join(", ")
        );
        return 1;
    }
    println!("every MUST rule a client is held to is covered by a client scenario");
    u8::from(had_load_errors)
}

/// `--list`: one line per selected client scenario.
fn print_list(scenarios: &[ClientScenario], had_load_errors: bool) -> u8 {
    for s in scenarios {
        println!(
            "{:<40} [{}] {}",
            s.file.id,
            s.file.rules.join(", "),
            s.path.display()
        );
    }
    println!("{} client scenarios", scenarios.len());
    u8::from(had_load_errors)
}

/// Writes the HTML and JUnit reports asked for; 1 when one could not be written.
fn write_reports(
    cli: &ClientCli,
    scenarios: &[ClientScenario],
    results: &[RunResult],
    per_target: &[(String, Vec<Outcome>)],
    target: &str,
    human: bool,
) -> u8 {
    let mut code = 0;
    let mut out = anstream::stdout();
    if let Some(dir) = &cli.html {
        let shadows: Vec<_> = scenarios.iter().map(|s| s.as_report_scenario()).collect();
        let targets = [TargetResults {
            name: target.to_string(),
            results,
            pcap_dir: cli.pcap_dir.clone(),
            // Client mode does not probe a client's dialect.
            dialect_note: None,
        }];
        if let Err(e) = write_check_report(dir, &shadows, &targets) {
            eprintln!(
                "msrp-check: cannot write the HTML report in {}: {e}",
                dir.display()
            );
            code = code.max(1);
        } else if human {
            let _ = writeln!(out, "HTML report: {}", dir.join("index.html").display());
        }
    }
    if let Some(path) = &cli.junit {
        let written = junit_xml(per_target, cli.strict)
            .map_err(|e| e.to_string())
            .and_then(|xml| std::fs::write(path, xml).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!(
                "msrp-check: cannot write JUnit report {}: {e}",
                path.display()
            );
            code = code.max(1);
        }
    }
    code
}

/// Writes a run's pcap and transcript and compares the transcript with its snapshot; a
/// file that cannot be written makes the scenario an error (its evidence would be lost).
fn keep(cli: &ClientCli, snapshots: Option<&Snapshots>, r: &mut RunResult) {
    let id = r.outcome.id.clone();
    let mut problems = Vec::new();
    if let Some(dir) = &cli.pcap_dir {
        let path = dir.join(format!("{id}.pcap"));
        if let Err(e) = crate::pcap::write_pcap(&path, &r.records, r.started) {
            problems.push(format!("cannot write pcap: {e}"));
        }
    }
    if let Some(dir) = &cli.transcript_dir {
        let path = dir.join(format!("{id}.txt"));
        if let Err(e) = std::fs::write(&path, &r.transcript) {
            problems.push(format!("cannot write transcript {}: {e}", path.display()));
        }
    }
    if let Some(snaps) = snapshots {
        match snaps.get(&id) {
            Some(reference) => {
                if let Some(d) = diff(reference, r.transcript.trim_end()) {
                    r.outcome.transcript_diff = Some(d);
                    if cli.strict_transcript
                        && matches!(r.outcome.verdict, Verdict::Pass | Verdict::Warn)
                    {
                        r.outcome.verdict = Verdict::Fail;
                        r.outcome.reason = Some(
                            "the transcript differs from the reference snapshot (--strict-transcript)"
                                .into(),
                        );
                    }
                }
            }
            None => r
                .outcome
                .notes
                .push(format!("no reference snapshot for {id}")),
        }
    }
    if !problems.is_empty() {
        r.outcome.verdict = Verdict::Error;
        r.outcome.reason = Some(problems.join("; "));
    }
}
