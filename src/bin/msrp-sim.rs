//! `msrp-sim`: emulates dozens to thousands of MSRP clients against a server, on a fixed
//! schedule, and proves that every message and file was delivered exactly once, in order,
//! intact. Exit status 1 when anything was lost, duplicated, reordered or corrupted, or any
//! unexpected ERROR arrived; 2 on usage errors.

use std::io::IsTerminal;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use msrp::sim::report::SimReport;
use msrp::sim::{run, Mix, Progress, SimConfig, SizeRange, Stop};
use msrp_reference::server::{ServerConfig, ServerHandle};

#[derive(Parser, Debug)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Combine JSON reports of runs made at the same time (shards): counts add up and
    /// latency histograms merge, so the percentiles are exact.
    Merge {
        /// Reports written with --json.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Write the merged report here too.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the merged report as HTML.
        #[arg(long)]
        html: Option<PathBuf>,
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
    /// from each operation's intended time.
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
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
    /// No live progress.
    #[arg(long, short)]
    quiet: bool,
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("msrp-sim: {msg}");
    ExitCode::from(2)
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
    if let Some(Command::Merge {
        reports,
        json,
        html,
    }) = cli.command
    {
        let mut loaded = Vec::new();
        for p in &reports {
            let parsed = std::fs::read_to_string(p)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<SimReport>(&t).map_err(|e| e.to_string()));
            match parsed {
                Ok(r) => loaded.push(r),
                Err(e) => return usage(format!("{}: {e}", p.display())),
            }
        }
        let merged = match SimReport::merge(&loaded) {
            Ok(m) => m,
            Err(e) => return usage(e),
        };
        println!("{}", merged.summary());
        if let Err(e) = write_reports(json.as_ref(), html.as_ref(), &merged) {
            eprintln!("msrp-sim: {e}");
            return ExitCode::from(1);
        }
        return if merged.failed() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        };
    }
    let a = cli.run;
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
    if !positive(a.rate) || !positive(a.connect_rate) {
        return usage("--rate and --connect-rate must be positive");
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
        (_, Some(n)) => Stop::Operations(n),
        (Some(d), None) if d > 0.0 && d.is_finite() => Stop::After(Duration::from_secs_f64(d)),
        (Some(d), None) => return usage(format!("--duration {d}: give positive seconds")),
        (None, None) => Stop::After(Duration::from_secs(10)),
    };
    let progress = if a.quiet {
        Progress::Quiet
    } else if std::io::stderr().is_terminal() {
        Progress::Bar
    } else {
        Progress::Lines
    };
    let cfg = SimConfig {
        clients: a.clients,
        connect_rate: a.connect_rate,
        stop,
        rate: a.rate,
        mix: a.mix,
        text_size: a.text_size,
        file_size: a.file_size,
        p2p_share: a.p2p_share,
        seed: a.seed,
        shard,
        drain: Duration::from_secs_f64(a.drain.max(0.0)),
        progress,
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return usage(format!("cannot start the runtime: {e}")),
    };
    let report = rt.block_on(async {
        match &a.target {
            Some(t) => {
                let addr = t
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| format!("--target \"{t}\": not a HOST:PORT that resolves"))?;
                Ok(run(addr, t, &cfg).await)
            }
            None => {
                let config = ServerConfig {
                    max_clients: cfg.clients + 16,
                    ..ServerConfig::default()
                };
                let server = ServerHandle::start("127.0.0.1:0", config)
                    .await
                    .map_err(|e| format!("cannot start the embedded server: {e}"))?;
                let report = run(server.local_addr(), "embedded reference server", &cfg).await;
                server.shutdown().await;
                Ok::<_, String>(report)
            }
        }
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    println!("{}", report.summary());
    if let Err(e) = write_reports(a.json.as_ref(), a.html.as_ref(), &report) {
        eprintln!("msrp-sim: {e}");
        return ExitCode::from(1);
    }
    if report.connected == 0 {
        eprintln!(
            "msrp-sim: no client could connect to {}",
            a.target.as_deref().unwrap_or("the embedded server")
        );
        return ExitCode::from(1);
    }
    if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
