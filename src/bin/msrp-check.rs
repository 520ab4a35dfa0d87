//! `msrp-check`: replays conformance scenarios against an MSRP server and says, rule by rule,
//! where it departs from the strict profile (SPEC.md).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use msrp::check::{coverage, decision_coverage, run_all, Selection, Target};
use msrp::report::html::{write_check_report, TargetResults};
use msrp::report::{closing_line, junit_xml, print_outcome_colored, JsonReport, TargetOutcome};
use msrp::rules::Level;
use msrp::runner::RunOptions;
use msrp::runner::RunResult;
use msrp::scenario::{load_all, ScenarioFile};
use msrp::snapshot::{diff, Snapshots};
use msrp::verdict::{Outcome, Totals, Verdict};
use msrp_reference::server::ServerConfig;
use msrp_reference::Profile;

/// Conformance harness for MSRP servers (strict profile). With no --target, each scenario
/// runs against its own embedded reference server.
///
/// Exit status: 0 all passed (warnings allowed unless --strict), 1 any failure or error,
/// 2 usage error or nothing ran.
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Scenario files or folders.
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Server under test, HOST:PORT; repeat it to check several servers in one report.
    /// Without it, an embedded reference server is used.
    #[arg(long)]
    target: Vec<String>,
    /// Scenarios run at once against embedded servers (default: twice the CPUs, as
    /// scenarios mostly wait); a foreign target runs them one at a time.
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Seconds every wait may last (a step's own `timeout` overrides it).
    #[arg(long, default_value_t = 2.0)]
    timeout: f64,
    /// Treat warnings (SHOULD rules broken) as failures.
    #[arg(long)]
    strict: bool,
    /// Run only scenarios whose id or a rule ID matches one of these globs (`FILE-*`).
    #[arg(long, value_name = "GLOB")]
    only: Vec<String>,
    /// Skip scenarios whose id or a rule ID matches one of these globs.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Run only scenarios with one of these tags.
    #[arg(long)]
    tag: Vec<String>,
    /// List what would run, and the rules each checks, without running.
    #[arg(long)]
    list: bool,
    /// Show which scenarios cover each rule; exit 1 if a MUST rule has none.
    #[arg(long)]
    coverage: bool,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write one pcap per scenario into this folder (opens decoded in Wireshark with
    /// contrib/wireshark/msrp.lua).
    #[arg(long, value_name = "DIR")]
    pcap_dir: Option<PathBuf>,
    /// Write one transcript per scenario into this folder (`ID.txt`).
    #[arg(long, value_name = "DIR")]
    transcript_dir: Option<PathBuf>,
    /// Compare each transcript with the reference's approved snapshot in this folder and
    /// show a diff where they differ (informative unless --strict-transcript).
    #[arg(long, value_name = "DIR")]
    snapshots: Option<PathBuf>,
    /// Write an HTML report into this folder: an index (one column per target) and a page
    /// per scenario.
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
    /// A transcript that differs from its snapshot fails the scenario.
    #[arg(long, requires = "snapshots")]
    strict_transcript: bool,
    /// The dialect the target (or, with --client, the client) is judged through: strict
    /// (SPEC.md) or legacy (the circulating dialect, SPEC.md "Legacy profile"; server targets
    /// only so far). Scenarios for the other profile alone are left out.
    #[arg(long, value_enum, default_value_t = Profile::Strict)]
    profile: Profile,
    /// Legacy profile: seconds of quiet that end a frame the target wrote, and the pause
    /// after each frame written (LEG-2, LEG-12).
    #[arg(long, default_value_t = 0.04, value_name = "SECONDS")]
    legacy_gap: f64,
    /// A setting of the foreign target some scenarios depend on, e.g. max-clients=3,
    /// handshake-timeout=10, max-text=65535 (the reference default is assumed for max-text).
    #[arg(long, value_name = "KEY=VALUE")]
    server_setting: Vec<String>,
    /// Check a client program instead of a server: the harness plays the server. COMMAND is
    /// run by `sh -c 'exec COMMAND'` per client, with {host}, {port}, {name} and
    /// {download_dir} filled in (default scenarios: scenarios/client).
    #[arg(long, value_name = "COMMAND", conflicts_with = "target")]
    client: Option<String>,
    /// With --client: the driver file saying how to make the client act and how it shows
    /// what it receives (default: the built-in one for msrp-client, drivers/msrp-client.yaml).
    #[arg(long, value_name = "FILE", requires = "client")]
    driver: Option<PathBuf>,
    #[command(flatten)]
    shell: msrp_reference::shell::ShellSupport,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the JSON Schema of scenario files (for editor completion).
    Schema,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Human,
    Json,
}

fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("msrp-check: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(code) = args.shell.run(Args::command(), env!("CARGO_BIN_NAME")) {
        return code;
    }
    if let Some(Command::Schema) = args.command {
        let schema = schemars::schema_for!(ScenarioFile);
        return match serde_json::to_string_pretty(&schema) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(e),
        };
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 3600.0) {
        return usage_error(format!(
            "--timeout {}: give seconds in (0, 3600]",
            args.timeout
        ));
    }
    let selection = match Selection::new(&args.only, &args.exclude, &args.tag) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    if let Some(command) = &args.client {
        return client_mode(&args, command, selection);
    }
    let mut settings = BTreeMap::new();
    for s in &args.server_setting {
        let Some((k, v)) = s.split_once('=') else {
            return usage_error(format!("--server-setting \"{s}\": expected KEY=VALUE"));
        };
        if !["max-clients", "max-text", "handshake-timeout"].contains(&k) {
            return usage_error(format!(
                "--server-setting: unknown key \"{k}\" (max-clients, max-text, handshake-timeout)"
            ));
        }
        settings.insert(k.to_string(), v.to_string());
    }

    let (all, load_errors) = load_all(&args.paths);
    for e in &load_errors {
        eprintln!("error: {e}");
    }
    if !(args.legacy_gap.is_finite() && args.legacy_gap > 0.0 && args.legacy_gap <= 5.0) {
        return usage_error(format!(
            "--legacy-gap {}: give seconds in (0, 5]",
            args.legacy_gap
        ));
    }
    let scenarios: Vec<_> = all
        .into_iter()
        .filter(|s| s.applies_to(args.profile) && selection.selects(s))
        .collect();

    if args.coverage {
        let mut uncovered = Vec::new();
        for (id, level, ids) in coverage(&scenarios) {
            let lvl = format!("{level:?}").to_uppercase();
            if ids.is_empty() {
                println!("{id:<7} {lvl:<6} NOT COVERED");
                if level == Level::Must {
                    uncovered.push(id);
                }
            } else {
                println!("{id:<7} {lvl:<6} {}", ids.join(", "));
            }
        }
        println!("decisions (a departure is a warning naming the decision):");
        for (d, ids) in decision_coverage(&scenarios) {
            match (d.restates, ids.is_empty()) {
                (Some(rule), _) => println!(
                    "{:<7} {:<8} restates {rule}: cited as the rule",
                    d.id, "DECISION"
                ),
                (None, true) => {
                    println!("{:<7} {:<8} not checked by any scenario", d.id, "DECISION")
                }
                (None, false) => println!("{:<7} {:<8} {}", d.id, "DECISION", ids.join(", ")),
            }
        }
        if !uncovered.is_empty() {
            println!("MUST rules without a scenario: {}", uncovered.join(", "));
            return ExitCode::from(1);
        }
        println!("every MUST rule is covered by at least one scenario");
        return if load_errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    if args.list {
        for s in &scenarios {
            println!(
                "{:<40} [{}] {}",
                s.file.id,
                s.file.rules.join(", "),
                s.path.display()
            );
        }
        println!("{} scenarios", scenarios.len());
        return if load_errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    if scenarios.is_empty() && load_errors.is_empty() {
        return usage_error("no scenario selected: nothing to run");
    }

    let mut targets = Vec::new();
    for t in &args.target {
        match t.to_socket_addrs().map(|mut a| a.next()) {
            Ok(Some(addr)) => targets.push((
                t.clone(),
                Target::Remote {
                    addr,
                    settings: settings.clone(),
                },
            )),
            Ok(None) | Err(_) => {
                return usage_error(format!("--target \"{t}\": not a HOST:PORT that resolves"))
            }
        }
    }
    if targets.is_empty() {
        let jobs = args
            .jobs
            .unwrap_or_else(|| 2 * std::thread::available_parallelism().map_or(2, |n| n.get()));
        let target = Target::Embedded {
            base: ServerConfig {
                profile: args.profile,
                ..ServerConfig::default()
            },
            jobs,
        };
        targets.push(("embedded reference server".to_string(), target));
    }
    let opts = RunOptions {
        timeout: Duration::from_secs_f64(args.timeout),
        strict: args.strict,
        profile: args.profile,
        legacy_gap: Duration::from_secs_f64(args.legacy_gap),
    };
    for dir in [&args.pcap_dir, &args.transcript_dir, &args.html]
        .into_iter()
        .flatten()
    {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return usage_error(format!("cannot create {}: {e}", dir.display()));
        }
    }
    let snapshots = match &args.snapshots {
        Some(dir) => match Snapshots::load(dir) {
            Ok(s) => Some(s),
            Err(e) => return usage_error(e),
        },
        None => None,
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return usage_error(format!("cannot start the runtime: {e}")),
    };
    let human = args.format == Format::Human;
    let several = targets.len() > 1;
    // One colour policy for every binary (NO_COLOR, CLICOLOR_FORCE, TERM=dumb, not a tty).
    let color = msrp_reference::color::enabled(msrp_reference::color::Stream::Stdout);
    let mut out = anstream::AutoStream::new(
        std::io::stdout(),
        if color {
            anstream::ColorChoice::Always
        } else {
            anstream::ColorChoice::Never
        },
    );
    let mut runs: Vec<TargetRun> = Vec::new();
    let mut dialect_notes = Vec::new();
    for (i, (name, target)) in targets.iter().enumerate() {
        // With several targets, each keeps its artifacts in its own subfolder.
        let sub = |d: &Option<PathBuf>| {
            d.as_ref().map(|d| {
                if several {
                    d.join(format!("t{i}"))
                } else {
                    d.clone()
                }
            })
        };
        let (pcap_dir, transcript_dir) = (sub(&args.pcap_dir), sub(&args.transcript_dir));
        for dir in [&pcap_dir, &transcript_dir].into_iter().flatten() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return usage_error(format!("cannot create {}: {e}", dir.display()));
            }
        }
        if human {
            let _ = writeln!(
                out,
                "msrp-check: {} scenarios against {name}",
                scenarios.len()
            );
        }
        if let (Profile::Strict, Target::Remote { addr, .. }) = (args.profile, target) {
            if rt.block_on(msrp::dialect::probe_legacy(*addr, b"~dlc", opts.timeout)) {
                // Said once, at the top, and the run goes on (clarifications: not mute).
                if human {
                    let _ = writeln!(out, "note: {}", msrp::dialect::LEGACY_NOTE);
                }
                dialect_notes.push(msrp::dialect::DialectNote {
                    target: name.clone(),
                    dialect: "legacy",
                    note: msrp::dialect::LEGACY_NOTE,
                });
            }
        }
        let artifacts = Artifacts {
            pcap_dir: pcap_dir.clone(),
            transcript_dir,
            snapshots: snapshots.as_ref(),
            strict_transcript: args.strict_transcript,
        };
        let results = rt.block_on(run_all(scenarios.clone(), target, &opts, |r| {
            if r.outcome.verdict != Verdict::Skip {
                artifacts.keep(r);
            }
            if human {
                let _ = print_outcome_colored(&mut out, &r.outcome, color);
            }
        }));
        if human {
            let outcomes: Vec<Outcome> = results.iter().map(|r| r.outcome.clone()).collect();
            let _ = writeln!(out, "{}", closing_line(&Totals::of(&outcomes)));
        }
        runs.push(TargetRun {
            name: name.clone(),
            results,
            pcap_dir,
        });
    }

    let load_outcomes: Vec<Outcome> = load_errors
        .iter()
        .map(|e| Outcome {
            id: e
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            title: "scenario file could not be loaded".into(),
            file: e.path.display().to_string(),
            rules: Vec::new(),
            tags: Vec::new(),
            verdict: Verdict::Error,
            seconds: 0.0,
            failure: None,
            reason: Some(e.to_string()),
            notes: Vec::new(),
            warnings: Vec::new(),
            transcript_diff: None,
        })
        .collect();
    let mut per_target: Vec<(String, Vec<Outcome>)> = runs
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.results.iter().map(|r| r.outcome.clone()).collect(),
            )
        })
        .collect();
    if let Some((_, first)) = per_target.first_mut() {
        first.extend(load_outcomes);
    }
    let all: Vec<Outcome> = per_target
        .iter()
        .flat_map(|(_, o)| o.iter().cloned())
        .collect();
    let totals = Totals::of(&all);

    if let Some(dir) = &args.html {
        let targets: Vec<TargetResults> = runs
            .iter()
            .map(|t| TargetResults {
                name: t.name.clone(),
                results: &t.results,
                pcap_dir: t.pcap_dir.clone(),
                dialect_note: dialect_notes
                    .iter()
                    .find(|n| n.target == t.name)
                    .map(|n| n.note.to_string()),
            })
            .collect();
        if let Err(e) = write_check_report(dir, &scenarios, &targets) {
            eprintln!(
                "msrp-check: cannot write the HTML report in {}: {e}",
                dir.display()
            );
            return ExitCode::from(1);
        }
        if human {
            let _ = writeln!(out, "HTML report: {}", dir.join("index.html").display());
        }
    }
    if let Some(path) = &args.junit {
        let written = junit_xml(&per_target, args.strict)
            .map_err(|e| e.to_string())
            .and_then(|xml| std::fs::write(path, xml).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!(
                "msrp-check: cannot write JUnit report {}: {e}",
                path.display()
            );
            return ExitCode::from(1);
        }
    }
    match args.format {
        Format::Human => {
            if several {
                let _ = writeln!(out, "all targets: {}", closing_line(&totals));
            }
            for e in &load_errors {
                let _ = writeln!(out, "ERROR {e}");
            }
        }
        Format::Json => {
            let report = JsonReport {
                targets: per_target.iter().map(|(n, _)| n.as_str()).collect(),
                totals,
                dialect_notes: dialect_notes.clone(),
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
            match serde_json::to_string_pretty(&report) {
                Ok(s) => println!("{s}"),
                Err(e) => return usage_error(e),
            }
        }
    }
    let code = totals.exit_code(args.strict);
    if code == 2 {
        eprintln!("msrp-check: no scenario ran");
    }
    ExitCode::from(code)
}

/// One target's run.
struct TargetRun {
    name: String,
    results: Vec<RunResult>,
    pcap_dir: Option<PathBuf>,
}

/// Where a run's evidence goes, and how transcripts are judged.
struct Artifacts<'a> {
    pcap_dir: Option<PathBuf>,
    transcript_dir: Option<PathBuf>,
    snapshots: Option<&'a Snapshots>,
    strict_transcript: bool,
}

impl Artifacts<'_> {
    /// Writes a run's pcap and transcript, and compares the transcript with its snapshot.
    /// A file that cannot be written makes the scenario an error: its evidence would be lost.
    fn keep(&self, r: &mut RunResult) {
        let id = r.outcome.id.clone();
        let mut problems = Vec::new();
        if let Some(dir) = &self.pcap_dir {
            let path = dir.join(format!("{id}.pcap"));
            if let Err(e) = msrp::pcap::write_pcap(&path, &r.records, r.started) {
                problems.push(format!("cannot write pcap: {e}"));
            }
        }
        if let Some(dir) = &self.transcript_dir {
            let path = dir.join(format!("{id}.txt"));
            if let Err(e) = std::fs::write(&path, &r.transcript) {
                problems.push(format!("cannot write transcript {}: {e}", path.display()));
            }
        }
        if let Some(snaps) = self.snapshots {
            match snaps.get(&id) {
                Some(reference) => {
                    if let Some(d) = diff(reference, &r.transcript) {
                        r.outcome.transcript_diff = Some(d);
                        if self.strict_transcript
                            && matches!(r.outcome.verdict, Verdict::Pass | Verdict::Warn)
                        {
                            r.outcome.verdict = Verdict::Fail;
                            r.outcome.reason = Some("the transcript differs from the reference snapshot (--strict-transcript)".into());
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
}

/// `--client`: the harness plays the server to a client program (msrp::client_mode).
fn client_mode(args: &Args, command: &str, selection: Selection) -> ExitCode {
    let paths = if args.paths == [PathBuf::from("scenarios")] {
        vec![PathBuf::from("scenarios/client")]
    } else {
        args.paths.clone()
    };
    let cli = msrp::client_mode::cli::ClientCli {
        command: command.to_string(),
        driver: args.driver.clone(),
        profile: args.profile.as_str().to_string(),
        paths,
        selection,
        timeout: Duration::from_secs_f64(args.timeout),
        strict: args.strict,
        jobs: args
            .jobs
            .unwrap_or_else(|| 2 * std::thread::available_parallelism().map_or(2, |n| n.get())),
        json: args.format == Format::Json,
        list: args.list,
        coverage: args.coverage,
        junit: args.junit.clone(),
        pcap_dir: args.pcap_dir.clone(),
        transcript_dir: args.transcript_dir.clone(),
        snapshots: args.snapshots.clone(),
        strict_transcript: args.strict_transcript,
        html: args.html.clone(),
    };
    ExitCode::from(msrp::client_mode::cli::main(cli))
}
