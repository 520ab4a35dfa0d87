//! The command line of `msrp-sim`, as clap reads it, and what a run's options mean.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use super::Failure;
use crate::sim::limits::DEFAULT_P2P_SLOTS;
use crate::sim::stages::RateSpec;
use crate::sim::threshold::Threshold;
use crate::sim::{Mix, Progress, SimConfig, SizeRange, Stop};

/// The exit statuses, shown by `--help`; the README repeats them.
pub const EXIT_STATUS: &str = "\
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
pub struct Cli {
    /// `merge`; none for a run.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The options of a run.
    #[command(flatten)]
    pub run: RunArgs,
    /// `--completions` and `--man`.
    #[command(flatten)]
    pub shell: msrp_reference::shell::ShellSupport,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
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

/// The options of a simulation run.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Server to load, HOST:PORT. Without it, an embedded reference server is started.
    #[arg(long)]
    pub target: Option<String>,
    /// Simulated clients (in this process).
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// New connections per second while connecting.
    #[arg(long, default_value_t = 1000.0)]
    pub connect_rate: f64,
    /// Seconds of scheduled traffic (default 10 unless --messages is given).
    #[arg(long, conflicts_with = "messages")]
    pub duration: Option<f64>,
    /// Stop after this many operations instead of after a duration.
    #[arg(long)]
    pub messages: Option<u64>,
    /// Operations per second, all clients together, on a fixed schedule; latency counts
    /// from each operation's intended time. Or ramp stages RATE:DURATION,… (e.g.
    /// 100:10s,2000:30s,0:5s): each ramps linearly from the previous rate (the first from
    /// 0) to its own over its duration (0s jumps); the stages then set the run's length.
    #[arg(long, default_value = "2000", value_name = "RATE|STAGES")]
    pub rate: RateSpec,
    /// Relative weights of operations.
    #[arg(long, default_value = "msg=90,list=5,file=5")]
    pub mix: Mix,
    /// Text sizes in bytes, `N` or `MIN..MAX` (at least 24).
    #[arg(long, default_value = "32..256")]
    pub text_size: SizeRange,
    /// File sizes, `N` or `MIN..MAX`, with k/m suffixes.
    #[arg(long, default_value = "1k..64k")]
    pub file_size: SizeRange,
    /// Fraction of files sent P2P rather than through the server.
    #[arg(long, default_value_t = 0.2)]
    pub p2p_share: f64,
    /// Traffic seed: the same seed gives the same traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// This process is shard I of N: its clients get disjoint names and its own seed.
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    pub shard: String,
    /// Seconds to wait for outstanding deliveries after the last operation.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
    /// Write the report (with serialized histograms) as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write an HTML report (charts inline, opens from disk).
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write the per-second timeline as CSV (a row a second, flushed as it goes).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Serve live OpenMetrics text (Prometheus) at http://ADDR/metrics while the run goes.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Fail the run (exit status 1) unless METRIC OP VALUE holds, e.g. 'msg.p99<20ms',
    /// 'lost==0', 'errors==0', 'ops_per_s>=1000'. Latency metrics: KIND.p50|p90|p95|p99|
    /// p99.9|max with KIND msg, list, file or connect, values in us, ms (default) or s;
    /// counts: lost, duplicated, reordered, corrupted, not_sent, delivered, sent (also
    /// msg.X, file.X), errors, unacked, connect_failures; rates: ops_per_s, mb_per_s.
    /// OP: < <= > >= == !=. A latency with no measurement fails. Repeatable.
    #[arg(long, value_name = "EXPR")]
    pub threshold: Vec<Threshold>,
    /// No live progress.
    #[arg(long, short)]
    pub quiet: bool,
    /// P2P transfers in flight at most; each holds 3 descriptors until it ends.
    #[arg(long, default_value_t = DEFAULT_P2P_SLOTS)]
    pub p2p_slots: usize,
    /// Start even if the open-file limit looks too low for --clients (running out is
    /// still reported as msrp-sim's own failure, exit status 3).
    #[arg(long)]
    pub no_fd_check: bool,
}

impl RunArgs {
    /// `--shard I/N`, with 0 <= I < N.
    pub fn shard(&self) -> Result<(u32, u32), Failure> {
        match self
            .shard
            .split_once('/')
            .and_then(|(i, n)| Some((i.parse::<u32>().ok()?, n.parse::<u32>().ok()?)))
        {
            Some((i, n)) if n > 0 && i < n => Ok((i, n)),
            _ => Err(Failure::Usage(format!(
                "--shard \"{}\": expected I/N with 0 <= I < N",
                self.shard
            ))),
        }
    }

    /// When scheduling stops: after the operations asked for, the rate's stages, the
    /// duration, or 10 seconds.
    pub fn stop(&self) -> Result<Stop, Failure> {
        Ok(match (self.duration, self.messages) {
            (Some(_), _) if self.rate.duration().is_some() => {
                return Err(Failure::Usage(
                    "--duration with --rate stages: the stages set the run's length".into(),
                ))
            }
            (_, Some(n)) => Stop::Operations(n),
            (None, None) if self.rate.duration().is_some() => {
                Stop::After(self.rate.duration().unwrap_or_default())
            }
            (Some(d), None) if d > 0.0 && d.is_finite() => Stop::After(Duration::from_secs_f64(d)),
            (Some(d), None) => {
                return Err(Failure::Usage(format!(
                    "--duration {d}: give positive seconds"
                )))
            }
            (None, None) => Stop::After(Duration::from_secs(10)),
        })
    }

    /// The run these options ask for, or why they make no sense.
    pub fn config(&self) -> Result<SimConfig, Failure> {
        let usage = |m: &str| Err(Failure::Usage(m.to_string()));
        let shard = self.shard()?;
        if self.clients == 0 || self.clients > 1_000_000 {
            return usage("--clients: between 1 and 1 000 000");
        }
        // Client names are 4 bytes of [0-9A-Za-z], distinct across every shard.
        if (u64::from(shard.1)) * (self.clients as u64) > 62u64.pow(4) {
            return usage("too many clients across shards for distinct 4-byte names");
        }
        if !(self.connect_rate > 0.0 && self.connect_rate.is_finite()) {
            return usage("--connect-rate must be positive");
        }
        let min_text = crate::sim::payload::MIN_TEXT;
        if self.text_size.0 < min_text as u64 || self.text_size.1 > 65_535 {
            return usage(&format!("--text-size: between {min_text} and 65535 bytes"));
        }
        if self.file_size.1 > 256 << 20 {
            return usage("--file-size: at most 256m");
        }
        if !(0.0..=1.0).contains(&self.p2p_share) {
            return usage("--p2p-share: a fraction between 0 and 1");
        }
        Ok(SimConfig {
            clients: self.clients,
            connect_rate: self.connect_rate,
            stop: self.stop()?,
            rate: self.rate.clone(),
            mix: self.mix,
            text_size: self.text_size,
            file_size: self.file_size,
            p2p_share: self.p2p_share,
            seed: self.seed,
            shard,
            drain: Duration::from_secs_f64(self.drain.max(0.0)),
            progress: self.progress(),
            embedded: self.target.is_none(),
            p2p_slots: self.p2p_slots.max(1),
        })
    }

    /// Live progress: none with `--quiet`, a bar on a terminal that can redraw one, else a
    /// line now and then.
    fn progress(&self) -> Progress {
        if self.quiet {
            Progress::Quiet
        } else if msrp_reference::color::capable_terminal(msrp_reference::color::Stream::Stderr) {
            Progress::Bar
        } else {
            Progress::Lines
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> RunArgs {
        let all = [&["msrp-sim", "--quiet"], args].concat();
        match Cli::try_parse_from(all) {
            Ok(cli) => cli.run,
            Err(e) => panic!("{e}"),
        }
    }

    fn usage(args: &[&str]) -> String {
        match run(args).config() {
            Err(Failure::Usage(m)) => m,
            other => panic!("not a usage error: {:?}", other.map(|c| c.clients)),
        }
    }

    #[test]
    fn a_run_stops_after_ten_seconds_unless_told_otherwise() {
        let stop = |a: &[&str]| run(a).stop().ok();
        assert_eq!(stop(&[]), Some(Stop::After(Duration::from_secs(10))));
        assert_eq!(stop(&["--messages", "5"]), Some(Stop::Operations(5)));
        assert_eq!(
            stop(&["--duration", "2.5"]),
            Some(Stop::After(Duration::from_millis(2500)))
        );
        assert_eq!(
            stop(&["--rate", "100:3s,0:2s"]),
            Some(Stop::After(Duration::from_secs(5)))
        );
        assert_eq!(
            usage(&["--rate", "100:3s", "--duration", "4"]),
            "--duration with --rate stages: the stages set the run's length"
        );
        assert_eq!(
            usage(&["--duration", "0"]),
            "--duration 0: give positive seconds"
        );
    }

    #[test]
    fn a_shard_is_i_of_n() {
        assert_eq!(run(&["--shard", "2/3"]).shard().ok(), Some((2, 3)));
        for bad in ["3/3", "1/0", "x/2", "1"] {
            let msg = usage(&["--shard", bad]);
            assert_eq!(
                msg,
                format!("--shard \"{bad}\": expected I/N with 0 <= I < N")
            );
        }
    }

    #[test]
    fn out_of_range_options_are_usage_errors() {
        assert_eq!(
            usage(&["--clients", "0"]),
            "--clients: between 1 and 1 000 000"
        );
        assert_eq!(
            usage(&["--clients", "1000000", "--shard", "0/20"]),
            "too many clients across shards for distinct 4-byte names"
        );
        assert_eq!(
            usage(&["--connect-rate", "0"]),
            "--connect-rate must be positive"
        );
        assert_eq!(usage(&["--file-size", "300m"]), "--file-size: at most 256m");
        assert_eq!(
            usage(&["--p2p-share", "1.5"]),
            "--p2p-share: a fraction between 0 and 1"
        );
        assert!(usage(&["--text-size", "8"]).starts_with("--text-size: between "));
    }

    #[test]
    fn a_run_without_target_loads_the_embedded_server() {
        let cfg = run(&["--p2p-slots", "0", "--drain=-1"]).config();
        let cfg = cfg.map_err(|e| e.to_string());
        assert_eq!(cfg.as_ref().map(|c| c.embedded), Ok(true));
        assert_eq!(cfg.as_ref().map(|c| c.p2p_slots), Ok(1));
        assert_eq!(cfg.as_ref().map(|c| c.drain), Ok(Duration::ZERO));
        let cfg = run(&["--target", "127.0.0.1:9"]).config();
        assert_eq!(cfg.map(|c| c.embedded).ok(), Some(false));
    }
}
