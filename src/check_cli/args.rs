//! The command line of `msrp-check`, as clap reads it. The binary only parses it; what
//! each option means is decided in [`super`].

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use msrp_reference::Profile;

use crate::target::TargetFlags;

/// Conformance harness for MSRP servers (strict profile). With no --target, each scenario
/// runs against its own embedded reference server.
///
/// Exit status: 0 all passed (warnings allowed unless --strict), 1 any failure or error,
/// 2 usage error or nothing ran.
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
pub struct Args {
    /// `schema` or `fuzz`; none for a conformance run.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Scenario files or folders.
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// Server under test, HOST:PORT; repeat it to check several servers in one report.
    /// Without it (and without --server-cmd or --targets), an embedded reference server is
    /// used.
    #[arg(long)]
    pub target: Vec<String>,
    /// Start the server under test with this command (run as `sh -c 'exec COMMAND'`, in its
    /// own process group), restart it when it dies, stop it at the end. `{port}` becomes a
    /// free port (a fresh one at every start) and `{host}` the host; without `{port}` the
    /// server is taken to listen on 8080. Repeat it for several servers; given as often as
    /// --target, the i-th command serves the i-th target's address.
    #[arg(long, value_name = "COMMAND")]
    pub server_cmd: Vec<String>,
    /// A file of targets, one per line: a label, then HOST:PORT or a command (as for
    /// --server-cmd); blank lines and # comments are ignored.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// Start a fresh server (--server-cmd) for every scenario: isolation, at the cost of time.
    #[arg(long)]
    pub restart_each: bool,
    /// Run the whole suite against a target that failed its preflight (accepts but does not
    /// answer) or stopped accepting connections, instead of stopping early.
    #[arg(long)]
    pub keep_going: bool,
    /// Seconds a started server may take to listen.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub start_timeout: f64,
    /// Write one CSV row per target (counts, status, root causes) here.
    #[arg(long, value_name = "FILE")]
    pub summary_csv: Option<PathBuf>,
    /// Scenarios run at once against embedded servers (default: twice the CPUs, as
    /// scenarios mostly wait); a foreign target runs them one at a time.
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Seconds every wait may last (a step's own `timeout` overrides it).
    #[arg(long, default_value_t = 2.0)]
    pub timeout: f64,
    /// Treat warnings (SHOULD rules broken) as failures.
    #[arg(long)]
    pub strict: bool,
    /// Run only scenarios whose id or a rule ID matches one of these globs (`FILE-*`).
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<String>,
    /// Skip scenarios whose id or a rule ID matches one of these globs.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Run only scenarios with one of these tags.
    #[arg(long)]
    pub tag: Vec<String>,
    /// List what would run, and the rules each checks, without running.
    #[arg(long)]
    pub list: bool,
    /// Show which scenarios cover each rule; exit 1 if a MUST rule has none.
    #[arg(long)]
    pub coverage: bool,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write one pcap per scenario into this folder (opens decoded in Wireshark with
    /// contrib/wireshark/msrp.lua).
    #[arg(long, value_name = "DIR")]
    pub pcap_dir: Option<PathBuf>,
    /// Write one transcript per scenario into this folder (`ID.txt`).
    #[arg(long, value_name = "DIR")]
    pub transcript_dir: Option<PathBuf>,
    /// Compare each transcript with the reference's approved snapshot in this folder and
    /// show a diff where they differ (informative unless --strict-transcript).
    #[arg(long, value_name = "DIR")]
    pub snapshots: Option<PathBuf>,
    /// Write an HTML report into this folder: an index (one column per target) and a page
    /// per scenario.
    #[arg(long, value_name = "DIR")]
    pub html: Option<PathBuf>,
    /// A transcript that differs from its snapshot fails the scenario.
    #[arg(long, requires = "snapshots")]
    pub strict_transcript: bool,
    /// The dialect the target (or, with --client, the client) is judged through: strict
    /// (SPEC.md) or legacy (the circulating dialect, SPEC.md "Legacy profile"; server targets
    /// only so far). Scenarios for the other profile alone are left out.
    #[arg(long, value_enum, default_value_t = Profile::Strict)]
    pub profile: Profile,
    /// Legacy profile: seconds of quiet that end a frame the target wrote, and the pause
    /// after each frame written (LEG-2, LEG-12).
    #[arg(long, default_value_t = 0.04, value_name = "SECONDS")]
    pub legacy_gap: f64,
    /// A setting of the foreign target some scenarios depend on, e.g. max-clients=3,
    /// handshake-timeout=10, max-text=65535 (the reference default is assumed for max-text).
    #[arg(long, value_name = "KEY=VALUE")]
    pub server_setting: Vec<String>,
    /// Check a client program instead of a server: the harness plays the server. COMMAND is
    /// run by `sh -c 'exec COMMAND'` per client, with {host}, {port}, {name} and
    /// {download_dir} filled in (default scenarios: scenarios/client).
    #[arg(long, value_name = "COMMAND", conflicts_with = "target")]
    pub client: Option<String>,
    /// With --client: the driver file saying how to make the client act and how it shows
    /// what it receives (default: the built-in one for msrp-client, drivers/msrp-client.yaml).
    #[arg(long, value_name = "FILE", requires = "client")]
    pub driver: Option<PathBuf>,
    /// `--completions` and `--man`.
    #[command(flatten)]
    pub shell: msrp_reference::shell::ShellSupport,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
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
pub struct FuzzArgs {
    /// Server under test, HOST:PORT (a finding ends the run: it cannot be restarted).
    #[arg(long, conflicts_with = "server_cmd")]
    pub target: Option<String>,
    /// Start the server with this command (`{port}` a free port), restart it after every
    /// finding, shrink findings on fresh processes.
    #[arg(long, value_name = "COMMAND")]
    pub server_cmd: Option<String>,
    /// The dialect the cases are written in.
    #[arg(long, value_enum, default_value_t = Profile::Strict)]
    pub profile: Profile,
    /// Every case derives from the seed and its index.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many cases (default: 1000 unless --duration is given).
    #[arg(long)]
    pub cases: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Run only case N of the seed (a replay of one case).
    #[arg(long, value_name = "N", conflicts_with_all = ["cases", "duration"])]
    pub case: Option<u64>,
    /// A target process (--server-cmd) resident over this many MiB is a finding (ROB-3).
    #[arg(long, value_name = "MIB")]
    pub max_rss: Option<f64>,
    /// Where reproductions (YAML, pcap, transcript) are written.
    #[arg(long, value_name = "DIR", default_value = "findings")]
    pub findings: PathBuf,
    /// Seconds every connect, write and the LIST probe's answer may take.
    #[arg(long, default_value_t = 2.0)]
    pub timeout: f64,
    /// Runs of a failing case the shrinker may spend (0: no shrinking).
    #[arg(long, default_value_t = 60)]
    pub shrink_budget: usize,
    /// Seconds a started server may take to listen.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub start_timeout: f64,
    /// Print each case's writes (connection, hex) instead of running anything.
    #[arg(long)]
    pub dump: bool,
}

/// What `--format` prints on stdout.
// Doc comments on the variants would become clap's help for each value and change `--help`.
#[allow(missing_docs)]
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

impl Args {
    /// The options that name the servers under test.
    pub fn target_flags(&self) -> TargetFlags {
        TargetFlags {
            targets_file: self.targets.clone(),
            target: self.target.clone(),
            server_cmd: self.server_cmd.clone(),
            restart_each: self.restart_each,
        }
    }

    /// Scenarios run at once against embedded servers or clients: `-j`, else twice the CPUs
    /// (scenarios mostly wait).
    pub fn jobs(&self) -> usize {
        self.jobs
            .unwrap_or_else(|| 2 * std::thread::available_parallelism().map_or(2, |n| n.get()))
    }
}
