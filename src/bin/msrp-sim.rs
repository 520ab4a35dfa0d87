//! `msrp-sim`: emulates dozens to thousands of MSRP clients against a server, on a fixed
//! schedule, and proves that every message and file was delivered exactly once, in order,
//! intact. Exit status: see [`EXIT_STATUS`].

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use msrp::sim::limits::{ensure_open_files, DEFAULT_P2P_SLOTS};
use msrp::sim::metrics::MetricsServer;
use msrp::sim::report::{SimReport, Verdict, EMBEDDED};
use msrp::sim::stages::RateSpec;
use msrp::sim::threshold::{self, Threshold};
use msrp::sim::timeline::Observer;
use msrp::sim::{run_observed, Mix, Progress, SimConfig, SizeRange, Stop};
use msrp_reference::server::{ServerConfig, ServerHandle};

/// The exit statuses, shown by `--help`; the README repeats them.
const EXIT_STATUS: &str = "\
Exit status:
  0  the target delivered everything sent exactly once, in order, intact
  1  the target failed: something lost, duplicated, reordered, corrupted or unacknowledged,
     an ERROR, a refused or closed connection; or a --threshold was missed (the target did
     not meet the bar set for it)
  2  usage: bad options; for merge, unreadable reports or reports that are not the shards
     of one run (see merge --help)
  3  msrp-sim could not do its job: its own open-file limit (checked before starting),
     ports or memory ran out, the embedded server could not start, a report (--json,
     --html, --csv) could not be written, --metrics-listen could not listen. Its counts are then no verdict on the target; what it could not send is
     reported as \"not sent\", never as lost.";

/// MSRP load simulator: many clients on a fixed schedule, and a delivery proof.
///
/// Emulates dozens to thousands of clients against a server on a fixed schedule and proves that every message and file was delivered exactly once, in order,
/// intact. Without --target it loads an embedded reference server.
#[derive(Parser, Debug)]
#[command(
    version,
    args_conflicts_with_subcommands = true,
    after_help = EXIT_STATUS
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    shell: msrp_reference::shell::ShellSupport,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Combine JSON reports of runs made at the same time (shards): counts add up and
    /// latency histograms merge, so the percentiles are exact. The reports must be the
    /// shards of one run: each shard once (a merged report is not merged again with its own
    /// inputs), one target, one --seed, one shard count; otherwise nothing is merged and
    /// the exit status is 2. Missing shards are a warning.
    #[command(after_help = EXIT_STATUS)]
    Merge {
        /// Reports written with --json.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Merge even reports that are not the shards of one run; each problem is recorded
        /// as a warning in the merged report and its summary.
        #[arg(long)]
        force: bool,
        /// Write the merged report here too.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the merged report as HTML.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Judge the merged report: METRIC OP VALUE (see the run's --threshold).
        #[arg(long, value_name = "EXPR")]
        threshold: Vec<Threshold>,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Server to load, HOST:PORT. Without it, an embedded reference server is started.
    #[arg(long)]
    target: Option<String>,
    /// Simulated clients (in this process).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// New connections per second while connecting.
    #[arg(long, default_value_t = 1000.0)]
    connect_rate: f64,
    /// Seconds of scheduled traffic (default 10 unless --messages is given).
    #[arg(long, conflicts_with = "messages")]
    duration: Option<f64>,
    /// Stop after this many operations instead of after a duration.
    #[arg(long)]
    messages: Option<u64>,
    /// Operations per second, all clients together, on a fixed schedule; latency counts
    /// from each operation's intended time. Or ramp stages RATE:DURATION,… (e.g.
    /// 100:10s,2000:30s,0:5s): each ramps linearly from the previous rate (the first from
    /// 0) to its own over its duration (0s jumps); the stages then set the run's length.
    #[arg(long, default_value = "2000", value_name = "RATE|STAGES")]
    rate: RateSpec,
    /// Relative weights of operations.
    #[arg(long, default_value = "msg=90,list=5,file=5")]
    mix: Mix,
    /// Text sizes in bytes, `N` or `MIN..MAX` (at least 24).
    #[arg(long, default_value = "32..256")]
    text_size: SizeRange,
    /// File sizes, `N` or `MIN..MAX`, with k/m suffixes.
    #[arg(long, default_value = "1k..64k")]
    file_size: SizeRange,
    /// Fraction of files sent P2P rather than through the server.
    #[arg(long, default_value_t = 0.2)]
    p2p_share: f64,
    /// Traffic seed: the same seed gives the same traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// This process is shard I of N: its clients get disjoint names and its own seed.
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    shard: String,
    /// Seconds to wait for outstanding deliveries after the last operation.
    #[arg(long, default_value_t = 10.0)]
    drain: f64,
    /// Write the report (with serialized histograms) as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write an HTML report (charts inline, opens from disk).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Write the per-second timeline as CSV (a row a second, flushed as it goes).
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Serve live OpenMetrics text (Prometheus) at http://ADDR/metrics while the run goes.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// Fail the run (exit status 1) unless METRIC OP VALUE holds, e.g. 'msg.p99<20ms',
    /// 'lost==0', 'errors==0', 'ops_per_s>=1000'. Latency metrics: KIND.p50|p90|p95|p99|
    /// p99.9|max with KIND msg, list, file or connect, values in us, ms (default) or s;
    /// counts: lost, duplicated, reordered, corrupted, not_sent, delivered, sent (also
    /// msg.X, file.X), errors, unacked, connect_failures; rates: ops_per_s, mb_per_s.
    /// OP: < <= > >= == !=. A latency with no measurement fails. Repeatable.
    #[arg(long, value_name = "EXPR")]
    threshold: Vec<Threshold>,
    /// No live progress.
    #[arg(long, short)]
    quiet: bool,
    /// P2P transfers in flight at most; each holds 3 descriptors until it ends.
    #[arg(long, default_value_t = DEFAULT_P2P_SLOTS)]
    p2p_slots: usize,
    /// Start even if the open-file limit looks too low for --clients (running out is
    /// still reported as msrp-sim's own failure, exit status 3).
    #[arg(long)]
    no_fd_check: bool,
}

/// Exit statuses (see [`EXIT_STATUS`]).
#[derive(Debug, Clone, Copy)]
enum Exit {
    Ok = 0,
    TargetFailed = 1,
    Usage = 2,
    Harness = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

impl From<Verdict> for Exit {
    fn from(v: Verdict) -> Exit {
        match v {
            Verdict::Ok => Exit::Ok,
            Verdict::TargetFailed => Exit::TargetFailed,
            Verdict::HarnessFailed => Exit::Harness,
        }
    }
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("msrp-sim: {msg}");
    Exit::Usage.into()
}

fn harness(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("msrp-sim: {msg}");
    Exit::Harness.into()
}

/// Prints the summary; a closed stdout (`| head`) is no reason to panic.
fn print_summary(report: &SimReport) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{}", report.summary());
}

/// Writes the JSON and HTML reports that were asked for.
fn write_reports(
    json: Option<&PathBuf>,
    html: Option<&PathBuf>,
    report: &SimReport,
) -> Result<(), String> {
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = html {
        std::fs::write(path, msrp::sim::html::render(report))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(code) = cli.shell.run(Cli::command(), env!("CARGO_BIN_NAME")) {
        return code;
    }
    match cli.command {
        Some(Command::Merge {
            reports,
            force,
            json,
            html,
            threshold,
        }) => merge(&reports, force, json.as_ref(), html.as_ref(), &threshold),
        None => simulate(cli.run),
    }
}

/// `msrp-sim merge`.
fn merge(
    reports: &[PathBuf],
    force: bool,
    json: Option<&PathBuf>,
    html: Option<&PathBuf>,
    thresholds: &[Threshold],
) -> ExitCode {
    let mut loaded = Vec::new();
    for p in reports {
        let parsed = std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<SimReport>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(r) => loaded.push((p.display().to_string(), r)),
            Err(e) => return usage(format!("{}: {e}", p.display())),
        }
    }
    let mut merged = match SimReport::merge_checked(&loaded, force) {
        Ok(m) => m,
        // Inconsistent inputs are the caller's mistake, as is an unreadable histogram.
        Err(e) => return usage(e),
    };
    for w in &merged.warnings {
        eprintln!("msrp-sim: warning: {w}");
    }
    threshold::apply(thresholds, &mut merged);
    print_summary(&merged);
    if let Err(e) = write_reports(json, html, &merged) {
        return harness(e);
    }
    Exit::from(merged.verdict()).into()
}

/// A simulation run.
fn simulate(a: RunArgs) -> ExitCode {
    let shard = match a
        .shard
        .split_once('/')
        .and_then(|(i, n)| Some((i.parse::<u32>().ok()?, n.parse::<u32>().ok()?)))
    {
        Some((i, n)) if n > 0 && i < n => (i, n),
        _ => {
            return usage(format!(
                "--shard \"{}\": expected I/N with 0 <= I < N",
                a.shard
            ))
        }
    };
    if a.clients == 0 || a.clients > 1_000_000 {
        return usage("--clients: between 1 and 1 000 000");
    }
    if (u64::from(shard.1)) * (a.clients as u64) > 62u64.pow(4) {
        return usage("too many clients across shards for distinct 4-byte names");
    }
    let positive = |v: f64| v > 0.0 && v.is_finite();
    if !positive(a.connect_rate) {
        return usage("--connect-rate must be positive");
    }
    if a.text_size.0 < msrp::sim::payload::MIN_TEXT as u64 || a.text_size.1 > 65_535 {
        return usage(format!(
            "--text-size: between {} and 65535 bytes",
            msrp::sim::payload::MIN_TEXT
        ));
    }
    if a.file_size.1 > 256 << 20 {
        return usage("--file-size: at most 256m");
    }
    if !(0.0..=1.0).contains(&a.p2p_share) {
        return usage("--p2p-share: a fraction between 0 and 1");
    }
    let stop = match (a.duration, a.messages) {
        (Some(_), _) if a.rate.duration().is_some() => {
            return usage("--duration with --rate stages: the stages set the run's length")
        }
        (_, Some(n)) => Stop::Operations(n),
        (None, None) if a.rate.duration().is_some() => {
            Stop::After(a.rate.duration().unwrap_or_default())
        }
        (Some(d), None) if d > 0.0 && d.is_finite() => Stop::After(Duration::from_secs_f64(d)),
        (Some(d), None) => return usage(format!("--duration {d}: give positive seconds")),
        (None, None) => Stop::After(Duration::from_secs(10)),
    };
    let progress = if a.quiet {
        Progress::Quiet
    } else if msrp_reference::color::capable_terminal(msrp_reference::color::Stream::Stderr) {
        Progress::Bar
    } else {
        Progress::Lines
    };
    let cfg = SimConfig {
        clients: a.clients,
        connect_rate: a.connect_rate,
        stop,
        rate: a.rate.clone(),
        mix: a.mix,
        text_size: a.text_size,
        file_size: a.file_size,
        p2p_share: a.p2p_share,
        seed: a.seed,
        shard,
        drain: Duration::from_secs_f64(a.drain.max(0.0)),
        progress,
        embedded: a.target.is_none(),
        p2p_slots: a.p2p_slots.max(1),
    };
    // Before anything is opened: running out of descriptors halfway would waste the run
    // and, unchecked, look like the target losing traffic.
    let mut notes = Vec::new();
    if !a.no_fd_check {
        match ensure_open_files(&cfg.descriptors_needed(), cfg.embedded) {
            Ok(Some(note)) => {
                eprintln!("msrp-sim: {note}");
                notes.push(note);
            }
            Ok(None) => {}
            Err(e) => return harness(e),
        }
    }
    // The CSV is opened before the run: a file that cannot be written should not cost one.
    let observer = match &a.csv {
        Some(path) => match std::fs::File::create(path)
            .and_then(|f| Observer::with_csv(Box::new(std::io::BufWriter::new(f))))
        {
            Ok(o) => o,
            Err(e) => return harness(format!("cannot write {}: {e}", path.display())),
        },
        None => Observer::default(),
    };
    let observer = std::sync::Arc::new(observer);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return harness(format!("cannot start the runtime: {e}")),
    };
    let report = rt.block_on(async {
        // Kept alive for the whole run; dropping it stops the endpoint.
        let _metrics = match &a.metrics_listen {
            Some(addr) => {
                let server = MetricsServer::start(addr, observer.clone())
                    .await
                    .map_err(|e| {
                        Failure::Harness(format!("--metrics-listen {addr}: cannot listen: {e}"))
                    })?;
                eprintln!(
                    "msrp-sim: OpenMetrics at http://{}/metrics",
                    server.local_addr()
                );
                Some(server)
            }
            None => None,
        };
        match &a.target {
            Some(t) => {
                let addr = t
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| {
                        Failure::Usage(format!("--target \"{t}\": not a HOST:PORT that resolves"))
                    })?;
                Ok(run_observed(addr, t, &cfg, observer.clone()).await)
            }
            None => {
                let config = ServerConfig {
                    max_clients: cfg.clients + 16,
                    ..ServerConfig::default()
                };
                let server = ServerHandle::start("127.0.0.1:0", config)
                    .await
                    .map_err(|e| {
                        Failure::Harness(format!("cannot start the embedded server: {e}"))
                    })?;
                let report =
                    run_observed(server.local_addr(), EMBEDDED, &cfg, observer.clone()).await;
                server.shutdown().await;
                Ok(report)
            }
        }
    });
    let mut report = match report {
        Ok(r) => r,
        Err(Failure::Usage(e)) => return usage(e),
        Err(Failure::Harness(e)) => return harness(e),
    };
    report.notes.extend(notes);
    threshold::apply(&a.threshold, &mut report);
    print_summary(&report);
    if let Some(e) = observer.take_csv_error() {
        return harness(format!("writing the CSV timeline failed: {e}"));
    }
    if let Err(e) = write_reports(a.json.as_ref(), a.html.as_ref(), &report) {
        return harness(e);
    }
    let verdict = report.verdict();
    if report.connected == 0 {
        eprintln!(
            "msrp-sim: no client could connect to {}",
            a.target.as_deref().unwrap_or("the embedded server")
        );
    }
    if verdict == Verdict::HarnessFailed {
        eprintln!(
            "msrp-sim: the run is no verdict on the target: msrp-sim itself failed (harness \
             errors above); fix that and run again"
        );
    }
    Exit::from(verdict).into()
}

/// Why a run could not start.
enum Failure {
    Usage(String),
    Harness(String),
}
