//! `msrp-check`: replays conformance scenarios against an MSRP server and says, rule by rule,
//! where it departs from the strict profile (SPEC.md).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use msrp::check::{run_all, Selection, Target};
use msrp::grade::{run_targets, summary_csv, summary_table, TargetSummary};
use msrp::report::html::{write_check_report, TargetResults};
use msrp::report::{closing_line, junit_xml, print_outcome_colored, JsonReport, TargetOutcome};
use msrp::runner::RunOptions;
use msrp::runner::RunResult;
use msrp::scenario::load_all;
use msrp::snapshot::{diff, Snapshots};
use msrp::target::run::{is_not_run, NOT_RUN};
use msrp::target::{
    parse_targets_file, resolve, Event, Policy, TargetCommand, TargetReport, TargetSource,
    TargetSpec,
};
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
    /// Without it (and without --server-cmd or --targets), an embedded reference server is
    /// used.
    #[arg(long)]
    target: Vec<String>,
    /// Start the server under test with this command (run as `sh -c 'exec COMMAND'`, in its
    /// own process group), restart it when it dies, stop it at the end. `{port}` becomes a
    /// free port (a fresh one at every start) and `{host}` the host; without `{port}` the
    /// server is taken to listen on 8080. Repeat it for several servers; given as often as
    /// --target, the i-th command serves the i-th target's address.
    #[arg(long, value_name = "COMMAND")]
    server_cmd: Vec<String>,
    /// A file of targets, one per line: a label, then HOST:PORT or a command (as for
    /// --server-cmd); blank lines and # comments are ignored.
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
    /// Start a fresh server (--server-cmd) for every scenario: isolation, at the cost of time.
    #[arg(long)]
    restart_each: bool,
    /// Run the whole suite against a target that failed its preflight (accepts but does not
    /// answer) or stopped accepting connections, instead of stopping early.
    #[arg(long)]
    keep_going: bool,
    /// Seconds a started server may take to listen.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    start_timeout: f64,
    /// Write one CSV row per target (counts, status, root causes) here.
    #[arg(long, value_name = "FILE")]
    summary_csv: Option<PathBuf>,
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
    /// Fuzz a live server: generated cases (frame-aware and byte mutations), judged by
    /// whether the target dies, stops accepting, stops answering a LIST or grows past
    /// --max-rss; each finding is shrunk and written as a scenario plain msrp-check replays.
    /// Exit status: 0 nothing found, 1 findings (or the target could not be started), 2 usage.
    Fuzz(FuzzArgs),
}

/// `msrp-check fuzz`.
#[derive(clap::Args, Debug)]
struct FuzzArgs {
    /// Server under test, HOST:PORT (a finding ends the run: it cannot be restarted).
    #[arg(long, conflicts_with = "server_cmd")]
    target: Option<String>,
    /// Start the server with this command (`{port}` a free port), restart it after every
    /// finding, shrink findings on fresh processes.
    #[arg(long, value_name = "COMMAND")]
    server_cmd: Option<String>,
    /// The dialect the cases are written in.
    #[arg(long, value_enum, default_value_t = Profile::Strict)]
    profile: Profile,
    /// Every case derives from the seed and its index.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after this many cases (default: 1000 unless --duration is given).
    #[arg(long)]
    cases: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Run only case N of the seed (a replay of one case).
    #[arg(long, value_name = "N", conflicts_with_all = ["cases", "duration"])]
    case: Option<u64>,
    /// A target process (--server-cmd) resident over this many MiB is a finding (ROB-3).
    #[arg(long, value_name = "MIB")]
    max_rss: Option<f64>,
    /// Where reproductions (YAML, pcap, transcript) are written.
    #[arg(long, value_name = "DIR", default_value = "findings")]
    findings: PathBuf,
    /// Seconds every connect, write and the LIST probe's answer may take.
    #[arg(long, default_value_t = 2.0)]
    timeout: f64,
    /// Runs of a failing case the shrinker may spend (0: no shrinking).
    #[arg(long, default_value_t = 60)]
    shrink_budget: usize,
    /// Seconds a started server may take to listen.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    start_timeout: f64,
    /// Print each case's writes (connection, hex) instead of running anything.
    #[arg(long)]
    dump: bool,
}

/// `msrp-check fuzz`: checks the flags, runs, prints the findings and a summary.
fn fuzz_main(a: &FuzzArgs) -> ExitCode {
    let seconds_ok = |v: f64| v.is_finite() && v > 0.0 && v <= 86_400.0;
    for (name, v) in [
        ("--timeout", Some(a.timeout)),
        ("--start-timeout", Some(a.start_timeout)),
        ("--duration", a.duration),
        ("--max-rss", a.max_rss),
    ] {
        if let Some(v) = v.filter(|v| !seconds_ok(*v)) {
            return usage_error(format!("{name} {v}: give a positive number"));
        }
    }
    let target = match (&a.target, &a.server_cmd) {
        (Some(t), None) => match resolve(t) {
            Some(addr) => TargetSource::Address(addr),
            None => return usage_error(format!("--target \"{t}\": not a HOST:PORT that resolves")),
        },
        (None, Some(c)) if !c.trim().is_empty() => {
            TargetSource::Command(TargetCommand::new(c, None, None))
        }
        _ if a.dump => TargetSource::Address(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        _ => return usage_error("fuzz: give --target HOST:PORT or --server-cmd COMMAND"),
    };
    let cfg = msrp::fuzz::FuzzConfig {
        target,
        profile: a.profile,
        seed: a.seed,
        cases: a.cases.or(if a.duration.is_none() {
            Some(1000)
        } else {
            None
        }),
        duration: a.duration.map(Duration::from_secs_f64),
        only: a.case,
        max_rss: a.max_rss.map(|m| (m * 1048576.0) as u64),
        findings: a.findings.clone(),
        wait: Duration::from_secs_f64(a.timeout),
        shrink_budget: a.shrink_budget,
        listen_wait: Duration::from_secs_f64(a.start_timeout),
    };
    if a.dump {
        let (from, to) = match (a.case, cfg.cases) {
            (Some(n), _) => (n, n),
            (None, Some(c)) => (0, c.saturating_sub(1)),
            (None, None) => return usage_error("--dump: give --case N or --cases N"),
        };
        print!("{}", msrp::fuzz::report::dump(a.seed, from, to, a.profile));
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return usage_error(format!("cannot start the runtime: {e}")),
    };
    println!("{}", cfg.banner());
    let run = msrp::fuzz::run(&cfg, |f| {
        eprintln!();
        println!("{f}");
    });
    let summary = rt.block_on(async {
        tokio::select! {
            s = run => Some(s),
            _ = interrupted() => None,
        }
    });
    let Some(s) = summary else {
        eprintln!("msrp-check fuzz: interrupted");
        return ExitCode::from(1);
    };
    println!("{s}");
    if s.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
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
    if let Some(Command::Fuzz(f)) = &args.command {
        return fuzz_main(f);
    }
    if let Some(Command::Schema) = args.command {
        use std::io::Write as _;
        // A reader that stops early (`| head`) is not an error.
        return match writeln!(
            std::io::stdout().lock(),
            "{}",
            msrp::scenario::json_schema()
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
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
    let settings = match msrp::settings::parse_declared(&args.server_setting) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };

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
        let (table, uncovered) = msrp::report::coverage::coverage_table(&scenarios);
        print!("{table}");
        return if uncovered.is_empty() && load_errors.is_empty() {
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

    if !(args.start_timeout.is_finite() && args.start_timeout > 0.0 && args.start_timeout <= 3600.0)
    {
        return usage_error(format!(
            "--start-timeout {}: give seconds in (0, 3600]",
            args.start_timeout
        ));
    }
    let specs = match target_specs(&args) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let mut targets = Vec::new();
    if specs.is_empty() {
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
            Ok(s) => Some(std::sync::Arc::new(s)),
            Err(e) => return usage_error(e),
        },
        None => None,
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return usage_error(format!("cannot start the runtime: {e}")),
    };
    let human = args.format == Format::Human;
    let several = targets.len() + specs.len() > 1;
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
        let artifacts = Artifacts {
            pcap_dir: pcap_dir.clone(),
            transcript_dir,
            snapshots: snapshots.clone(),
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
            let _ = write!(
                out,
                "{}",
                root_cause_lines(&TargetSummary::of_outcomes(name, name, &outcomes, 0.0))
            );
        }
        runs.push(TargetRun {
            name: name.clone(),
            results,
            pcap_dir,
        });
    }
    let mut summaries = Vec::new();
    let mut nothing_started = false;
    if !specs.is_empty() {
        let policy = Policy {
            settings: settings.clone(),
            keep_going: args.keep_going,
            restart_each: args.restart_each,
            listen_wait: Duration::from_secs_f64(args.start_timeout),
            grace: Duration::from_secs(2),
        };
        let supervised = Supervised {
            scenarios: &scenarios,
            opts: &opts,
            policy: &policy,
            human,
            several,
            pcap_dir: &args.pcap_dir,
            transcript_dir: &args.transcript_dir,
            snapshots: &snapshots,
            strict_transcript: args.strict_transcript,
        };
        let reports = match supervised.run(&rt, &specs) {
            Ok(Some(r)) => r,
            Ok(None) => {
                eprintln!("msrp-check: interrupted; the servers it started are stopped");
                return ExitCode::from(130);
            }
            Err(e) => return usage_error(e),
        };
        nothing_started = reports.iter().all(|r| r.start_failed);
        for (i, report) in reports.into_iter().enumerate() {
            // Said once at the top by the preflight (clarifications: a legacy target is not
            // mute); kept for the JSON and HTML reports.
            if report.notes.iter().any(|n| n == msrp::dialect::LEGACY_NOTE) {
                dialect_notes.push(msrp::dialect::DialectNote {
                    target: report.label.clone(),
                    dialect: "legacy",
                    note: msrp::dialect::LEGACY_NOTE,
                });
            }
            summaries.push(TargetSummary::of(&report));
            runs.push(TargetRun {
                name: report.label,
                results: report.results,
                pcap_dir: supervised.subdir(&args.pcap_dir, i),
            });
        }
    }

    let load_outcomes: Vec<Outcome> = load_errors
        .iter()
        .map(|e| Outcome::load_error(&e.path, "scenario file could not be loaded", e.to_string()))
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
    if let Some(path) = &args.summary_csv {
        let rows = if summaries.is_empty() {
            per_target
                .iter()
                .map(|(n, o)| TargetSummary::of_outcomes(n, n, o, 0.0))
                .collect()
        } else {
            summaries.clone()
        };
        if let Err(e) = std::fs::write(path, summary_csv(&rows)) {
            eprintln!("msrp-check: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    match args.format {
        Format::Human => {
            if several {
                let _ = writeln!(out, "\n{}", summary_table(&summaries));
                // Scenarios that could not run against a gone target are counted apart, as
                // in each target's own closing line.
                let not_run: usize = summaries.iter().map(|s| s.not_run).sum();
                let mut shown = totals;
                shown.errors -= not_run.min(shown.errors);
                let mut line = closing_line(&shown);
                if not_run > 0 {
                    line.push_str(&format!(", {not_run} not run"));
                }
                let _ = writeln!(out, "all targets: {line}");
            }
            for e in &load_errors {
                let _ = writeln!(out, "ERROR {e}");
            }
        }
        Format::Json => {
            let summary = if summaries.is_empty() {
                per_target
                    .iter()
                    .map(|(n, o)| TargetSummary::of_outcomes(n, n, o, 0.0))
                    .collect()
            } else {
                summaries.clone()
            };
            let report = JsonReport {
                summary,
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
    if nothing_started {
        eprintln!("msrp-check: no target could be started: nothing ran");
        return ExitCode::from(2);
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
struct Artifacts {
    pcap_dir: Option<PathBuf>,
    transcript_dir: Option<PathBuf>,
    snapshots: Option<std::sync::Arc<Snapshots>>,
    strict_transcript: bool,
}

impl Artifacts {
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
        if let Some(snaps) = &self.snapshots {
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

/// The targets named by --targets, --target and --server-cmd, in that order.
fn target_specs(args: &Args) -> Result<Vec<TargetSpec>, String> {
    let mut specs = match &args.targets {
        Some(path) => parse_targets_file(path).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let paired = !args.target.is_empty() && !args.server_cmd.is_empty();
    if paired && args.target.len() != args.server_cmd.len() {
        return Err(format!(
            "{} --target and {} --server-cmd: give one command per target, or commands alone (each on a free port)",
            args.target.len(),
            args.server_cmd.len()
        ));
    }
    for (i, t) in args.target.iter().enumerate() {
        let addr =
            resolve(t).ok_or_else(|| format!("--target \"{t}\": not a HOST:PORT that resolves"))?;
        let source = if paired {
            let host = t.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            TargetSource::Command(TargetCommand::new(
                &args.server_cmd[i],
                Some(host),
                Some(addr.port()),
            ))
        } else {
            TargetSource::Address(addr)
        };
        specs.push(TargetSpec {
            label: t.clone(),
            source,
        });
    }
    if !paired {
        for c in &args.server_cmd {
            if c.trim().is_empty() {
                return Err("--server-cmd: the command is empty".into());
            }
            specs.push(TargetSpec {
                label: c.clone(),
                source: TargetSource::Command(TargetCommand::new(c, None, None)),
            });
        }
    }
    if args.restart_each
        && !specs
            .iter()
            .any(|s| matches!(s.source, TargetSource::Command(_)))
    {
        return Err("--restart-each needs a --server-cmd (or a command in --targets)".into());
    }
    Ok(specs)
}

/// The failures of a target grouped by first departure, largest first, for the human report.
fn root_cause_lines(summary: &TargetSummary) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if summary.root_causes.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "root causes (first departure of each scenario that did not pass, largest group first):"
    );
    // Groups of one scenario go on one line at the end: the list stays short.
    let (groups, single): (Vec<_>, Vec<_>) = summary
        .root_causes
        .iter()
        .partition(|c| c.scenarios.len() > 1);
    for c in groups {
        let shown: Vec<&str> = c.scenarios.iter().take(4).map(String::as_str).collect();
        let more = c.scenarios.len().saturating_sub(shown.len());
        let _ = writeln!(
            s,
            "  {:>3}  {}  — {}{}",
            c.scenarios.len(),
            c.title(),
            shown.join(", "),
            if more > 0 {
                format!(", +{more} more")
            } else {
                String::new()
            }
        );
    }
    if !single.is_empty() {
        // Named by rule only (the JSON, CSV and HTML reports have each one in full).
        let mut rules: Vec<(&str, usize)> = Vec::new();
        for c in &single {
            match rules.iter_mut().find(|(r, _)| *r == c.rule) {
                Some((_, n)) => *n += 1,
                None => rules.push((&c.rule, 1)),
            }
        }
        rules.sort();
        let list: Vec<String> = rules
            .iter()
            .map(|(r, n)| {
                if *n > 1 {
                    format!("{r} ×{n}")
                } else {
                    r.to_string()
                }
            })
            .collect();
        let _ = writeln!(
            s,
            "  {:>3}  causes of one scenario each: {}",
            single.len(),
            list.join(", ")
        );
    }
    s
}

/// Where one target's human report goes: straight out with one target, into a buffer
/// printed as a block when the target is done with several (they run at once).
#[derive(Clone)]
enum Printer {
    Direct,
    Buffered(std::sync::Arc<std::sync::Mutex<Vec<u8>>>),
}

impl Printer {
    fn print(&self, text: &[u8]) {
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

    fn take(&self) -> Vec<u8> {
        match self {
            Printer::Direct => Vec::new(),
            Printer::Buffered(buf) => buf
                .lock()
                .map(|mut b| std::mem::take(&mut *b))
                .unwrap_or_default(),
        }
    }
}

/// Supervised targets (addresses and commands), run at once.
struct Supervised<'a> {
    scenarios: &'a [msrp::scenario::Scenario],
    opts: &'a RunOptions,
    policy: &'a Policy,
    human: bool,
    several: bool,
    pcap_dir: &'a Option<PathBuf>,
    transcript_dir: &'a Option<PathBuf>,
    snapshots: &'a Option<std::sync::Arc<Snapshots>>,
    strict_transcript: bool,
}

impl Supervised<'_> {
    /// With several targets, each keeps its artifacts in its own subfolder.
    fn subdir(&self, d: &Option<PathBuf>, i: usize) -> Option<PathBuf> {
        d.as_ref().map(|d| {
            if self.several {
                d.join(format!("t{i}"))
            } else {
                d.clone()
            }
        })
    }

    fn run(
        &self,
        rt: &tokio::runtime::Runtime,
        specs: &[TargetSpec],
    ) -> Result<Option<Vec<TargetReport>>, String> {
        let mut printers = Vec::new();
        let mut artifacts = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let (pcap_dir, transcript_dir) = (
                self.subdir(self.pcap_dir, i),
                self.subdir(self.transcript_dir, i),
            );
            for dir in [&pcap_dir, &transcript_dir].into_iter().flatten() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            artifacts.push(std::sync::Arc::new(Artifacts {
                pcap_dir,
                transcript_dir,
                snapshots: self.snapshots.clone(),
                strict_transcript: self.strict_transcript,
            }));
            let printer = if self.several {
                Printer::Buffered(Default::default())
            } else {
                Printer::Direct
            };
            if self.human {
                let shown = spec.describe();
                let name = if shown.trim_matches('`') == spec.label || shown == spec.label {
                    shown
                } else {
                    format!("{} ({shown})", spec.label)
                };
                printer.print(
                    format!(
                        "msrp-check: {} scenarios against {name}\n",
                        self.scenarios.len()
                    )
                    .as_bytes(),
                );
            }
            printers.push(printer);
        }
        let human = self.human;
        let make_sink = |i: usize| {
            let printer = printers[i].clone();
            let artifacts = artifacts[i].clone();
            move |event: Event<'_>| {
                let mut text = Vec::new();
                match event {
                    Event::Note(n) if n == msrp::dialect::LEGACY_NOTE => {
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
                            return;
                        }
                        if r.outcome.verdict != Verdict::Skip {
                            artifacts.keep(r);
                        }
                        // The recordings are in the pcaps now; with thirty targets at once,
                        // keeping them all would cost gigabytes.
                        r.records = Vec::new();
                        let color =
                            msrp_reference::color::enabled(msrp_reference::color::Stream::Stdout);
                        let _ = print_outcome_colored(&mut text, &r.outcome, color);
                    }
                }
                if human {
                    printer.print(&text);
                }
            }
        };
        let scenarios = std::sync::Arc::new(self.scenarios.to_vec());
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
                let summary = TargetSummary::of(report);
                let mut line = closing_line(&summary.totals);
                if summary.not_run > 0 {
                    line.push_str(&format!(", {} not run", summary.not_run));
                }
                let mut text = printers[i].take();
                let _ = writeln!(text, "{line}");
                let _ = write!(text, "{}", root_cause_lines(&summary));
                if self.several {
                    text.push(b'\n');
                }
                let mut out = anstream::stdout();
                let _ = out.write_all(&text);
            },
        );
        // Started servers live in their own process groups, out of reach of the terminal's
        // Ctrl-C: on an interrupt, dropping the run (and then the runtime) kills them.
        rt.block_on(async {
            tokio::select! {
                reports = run => Ok(Some(reports)),
                _ = interrupted() => Ok(None),
            }
        })
    }
}

/// Resolves on Ctrl-C or SIGTERM (never, if neither can be watched).
async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => {
            if r.is_err() {
                std::future::pending::<()>().await;
            }
        }
        _ = term => {}
    }
}
