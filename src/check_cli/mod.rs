//! `msrp-check`'s command line: what its options mean, which runs they make, what is printed
//! and written, and the exit status. The binary only parses [`Args`] and calls [`main`].
//!
//! - [`Args`]: the options, as clap reads them.
//! - `server`: a conformance run against embedded reference servers or the targets named.
//! - `supervised`: targets msrp-check reaches or starts itself, run at once.
//! - `reports`: the HTML, JUnit, CSV and JSON reports, the closing summary, the exit status.
//! - `fuzz`: `msrp-check fuzz`.

mod args;
mod fuzz;
mod reports;
mod server;
mod supervised;

use std::path::PathBuf;
use std::time::Duration;

pub use args::{Args, Command, Format, FuzzArgs};
pub use fuzz::DEFAULT_CASES;

use crate::check::Selection;
use crate::scenario::load_all;

/// Why a run stopped before, or instead of, a verdict on the target; each has its exit
/// status and is printed as `msrp-check: MESSAGE`.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// Options that make no sense together, or something the run needs that is missing (a
    /// folder, snapshots, the runtime): exit status 2.
    #[error("{0}")]
    Usage(String),
    /// A report that was asked for could not be written: exit status 1, as the run's
    /// evidence is incomplete.
    #[error("{0}")]
    Unwritten(String),
    /// Ctrl-C or SIGTERM: exit status 130, as shells report an interrupted command.
    #[error("interrupted; the servers it started are stopped")]
    Interrupted,
    /// Every target failed to start: exit status 2, as there is nothing to judge.
    #[error("no target could be started: nothing ran")]
    NothingStarted,
    /// Every scenario was skipped: exit status 2.
    #[error("no scenario ran")]
    NothingRan,
}

impl Stop {
    /// The exit status that says how the run stopped.
    pub fn exit_code(&self) -> u8 {
        match self {
            Stop::Unwritten(_) => 1,
            Stop::Usage(_) | Stop::NothingStarted | Stop::NothingRan => 2,
            Stop::Interrupted => 130,
        }
    }

    /// Says why on stderr and returns the exit status.
    pub fn report(&self) -> u8 {
        eprintln!("msrp-check: {self}");
        self.exit_code()
    }
}

/// Runs what `args` ask for and returns the exit status: 0 all passed (warnings allowed
/// unless `--strict`), 1 any failure or error, 2 usage error or nothing ran, 130 interrupted.
pub fn main(args: Args) -> u8 {
    match &args.command {
        Some(Command::Fuzz(f)) => return fuzz::main(f),
        Some(Command::Schema) => return print_schema(),
        None => {}
    }
    match check(&args) {
        Ok(code) => code,
        Err(stop) => stop.report(),
    }
}

/// `msrp-check schema`.
fn print_schema() -> u8 {
    use std::io::Write as _;
    // A reader that stops early (`| head`) is not an error.
    match writeln!(
        std::io::stdout().lock(),
        "{}",
        crate::scenario::json_schema()
    ) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => Stop::Usage(e.to_string()).report(),
    }
}

/// `value` as seconds of option `name`, which must lie in (0, `max`].
fn seconds(name: &str, value: f64, max: f64) -> Result<Duration, Stop> {
    if value.is_finite() && value > 0.0 && value <= max {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Stop::Usage(format!(
            "{name} {value}: give seconds in (0, {max}]"
        )))
    }
}

/// A conformance run, or its `--list` or `--coverage`. The options are checked in the order
/// a user meets them: each problem is reported before anything slow happens.
fn check(args: &Args) -> Result<u8, Stop> {
    seconds("--timeout", args.timeout, 3600.0)?;
    let selection = Selection::new(&args.only, &args.exclude, &args.tag).map_err(Stop::Usage)?;
    if let Some(command) = &args.client {
        return Ok(client_mode(args, command, selection));
    }
    let settings = crate::settings::parse_declared(&args.server_setting)
        .map_err(|e| Stop::Usage(e.to_string()))?;
    let (all, load_errors) = load_all(&args.paths);
    for e in &load_errors {
        eprintln!("error: {e}");
    }
    seconds("--legacy-gap", args.legacy_gap, 5.0)?;
    let scenarios: Vec<_> = all
        .into_iter()
        .filter(|s| s.applies_to(args.profile) && selection.selects(s))
        .collect();
    let suite = server::Suite {
        scenarios,
        load_errors,
        settings,
    };
    if args.coverage {
        return Ok(suite.print_coverage());
    }
    if args.list {
        return Ok(suite.print_list());
    }
    if suite.scenarios.is_empty() && suite.load_errors.is_empty() {
        return Err(Stop::Usage("no scenario selected: nothing to run".into()));
    }
    seconds("--start-timeout", args.start_timeout, 3600.0)?;
    let specs = args
        .target_flags()
        .specs()
        .map_err(|e| Stop::Usage(e.to_string()))?;
    server::run(args, &suite, &specs)
}

/// `--client`: the harness plays the server to a client program (crate::client_mode).
fn client_mode(args: &Args, command: &str, selection: Selection) -> u8 {
    crate::client_mode::cli::main(crate::client_mode::cli::ClientCli {
        command: command.to_string(),
        driver: args.driver.clone(),
        profile: args.profile.as_str().to_string(),
        paths: client_paths(&args.paths),
        selection,
        timeout: Duration::from_secs_f64(args.timeout),
        strict: args.strict,
        jobs: args.jobs(),
        json: args.format == Format::Json,
        list: args.list,
        coverage: args.coverage,
        junit: args.junit.clone(),
        pcap_dir: args.pcap_dir.clone(),
        transcript_dir: args.transcript_dir.clone(),
        snapshots: args.snapshots.clone(),
        strict_transcript: args.strict_transcript,
        html: args.html.clone(),
    })
}

/// The scenarios of a client run: the default folder holds the server scenarios, and
/// clients have their own beneath it.
fn client_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths == [PathBuf::from("scenarios")] {
        vec![PathBuf::from("scenarios/client")]
    } else {
        paths.to_vec()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_way_of_stopping_has_its_exit_status() {
        assert_eq!(Stop::Usage("x".into()).exit_code(), 2);
        assert_eq!(Stop::Unwritten("x".into()).exit_code(), 1);
        assert_eq!(Stop::Interrupted.exit_code(), 130);
        assert_eq!(Stop::NothingStarted.exit_code(), 2);
        assert_eq!(Stop::NothingRan.exit_code(), 2);
    }

    #[test]
    fn seconds_out_of_range_are_usage_errors_naming_the_range() {
        assert_eq!(
            seconds("--timeout", 2.5, 3600.0).ok(),
            Some(Duration::from_millis(2500))
        );
        assert!(seconds("--timeout", 3600.0, 3600.0).is_ok());
        for bad in [0.0, -1.0, 3600.5, f64::NAN, f64::INFINITY] {
            assert!(seconds("--timeout", bad, 3600.0).is_err(), "{bad}");
        }
        let msg = seconds("--legacy-gap", 6.0, 5.0)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            msg.as_deref(),
            Some("--legacy-gap 6: give seconds in (0, 5]")
        );
    }

    #[test]
    fn client_mode_defaults_to_the_client_scenarios() {
        use clap::Parser;
        let defaults = Args::try_parse_from(["msrp-check", "--client", "c"]).map(|a| a.paths);
        assert_eq!(
            defaults.map(|p| client_paths(&p)).ok(),
            Some(vec![PathBuf::from("scenarios/client")])
        );
        let given = [PathBuf::from("scenarios"), PathBuf::from("mine")];
        assert_eq!(client_paths(&given), given);
    }
}
