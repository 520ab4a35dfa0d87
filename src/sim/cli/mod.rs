//! `msrp-sim`'s command line: what its options mean, the run or the merge they ask for,
//! what is printed and written, and the exit status ([`EXIT_STATUS`]). The binary only
//! parses [`Cli`] and calls [`main`].

mod args;

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::sync::Arc;

pub use args::{Cli, Command, RunArgs, EXIT_STATUS};

use crate::sim::limits::ensure_open_files;
use crate::sim::metrics::MetricsServer;
use crate::sim::report::{SimReport, Verdict, EMBEDDED};
use crate::sim::threshold::{self, Threshold};
use crate::sim::timeline::Observer;
use crate::sim::{run_observed, SimConfig};
use msrp_reference::server::{ServerConfig, ServerHandle};

/// Exit statuses (see [`EXIT_STATUS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything was delivered.
    Ok = 0,
    /// The target failed, or missed a `--threshold`.
    TargetFailed = 1,
    /// Bad options, or reports that cannot be merged.
    Usage = 2,
    /// msrp-sim could not do its job.
    Harness = 3,
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

/// Why a run or a merge could not give a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The caller's mistake: options, or reports that are not one run's shards.
    #[error("{0}")]
    Usage(String),
    /// msrp-sim's own: its limits, a report it could not write, a port it could not bind.
    #[error("{0}")]
    Harness(String),
}

impl Failure {
    /// The exit status that says whose failure it is.
    pub fn exit(&self) -> Exit {
        match self {
            Failure::Usage(_) => Exit::Usage,
            Failure::Harness(_) => Exit::Harness,
        }
    }

    /// Says why on stderr and returns the exit status.
    fn report(&self) -> u8 {
        eprintln!("msrp-sim: {self}");
        self.exit() as u8
    }
}

/// Runs what `cli` asks for and returns the exit status.
pub fn main(cli: Cli) -> u8 {
    let done = match cli.command {
        Some(Command::Merge {
            reports,
            force,
            json,
            html,
            threshold,
        }) => merge(&reports, force, json.as_ref(), html.as_ref(), &threshold),
        None => simulate(&cli.run),
    };
    match done {
        Ok(exit) => exit as u8,
        Err(failure) => failure.report(),
    }
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
) -> Result<(), Failure> {
    let unwritten = |path: &PathBuf, e: &dyn std::fmt::Display| {
        Failure::Harness(format!("cannot write {}: {e}", path.display()))
    };
    if let Some(path) = json {
        let text =
            serde_json::to_string_pretty(report).map_err(|e| Failure::Harness(e.to_string()))?;
        std::fs::write(path, text).map_err(|e| unwritten(path, &e))?;
    }
    if let Some(path) = html {
        std::fs::write(path, crate::sim::html::render(report)).map_err(|e| unwritten(path, &e))?;
    }
    Ok(())
}

/// `msrp-sim merge`.
fn merge(
    reports: &[PathBuf],
    force: bool,
    json: Option<&PathBuf>,
    html: Option<&PathBuf>,
    thresholds: &[Threshold],
) -> Result<Exit, Failure> {
    let mut loaded = Vec::new();
    for p in reports {
        let parsed = std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<SimReport>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(r) => loaded.push((p.display().to_string(), r)),
            Err(e) => return Err(Failure::Usage(format!("{}: {e}", p.display()))),
        }
    }
    // Inconsistent inputs are the caller's mistake, as is an unreadable histogram.
    let mut merged =
        SimReport::merge_checked(&loaded, force).map_err(|e| Failure::Usage(e.to_string()))?;
    for w in &merged.warnings {
        eprintln!("msrp-sim: warning: {w}");
    }
    threshold::apply(thresholds, &mut merged);
    print_summary(&merged);
    write_reports(json, html, &merged)?;
    Ok(merged.verdict().into())
}

/// A simulation run.
fn simulate(a: &RunArgs) -> Result<Exit, Failure> {
    let cfg = a.config()?;
    // Before anything is opened: running out of descriptors halfway would waste the run
    // and, unchecked, look like the target losing traffic.
    let mut notes = Vec::new();
    if !a.no_fd_check {
        if let Some(note) = ensure_open_files(&cfg.descriptors_needed(), cfg.embedded)
            .map_err(|e| Failure::Harness(e.to_string()))?
        {
            eprintln!("msrp-sim: {note}");
            notes.push(note);
        }
    }
    let observer = Arc::new(observer(a)?);
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| Failure::Harness(format!("cannot start the runtime: {e}")))?;
    let mut report = rt.block_on(run(a, &cfg, observer.clone()))?;
    report.notes.extend(notes);
    threshold::apply(&a.threshold, &mut report);
    print_summary(&report);
    if let Some(e) = observer.take_csv_error() {
        return Err(Failure::Harness(format!(
            "writing the CSV timeline failed: {e}"
        )));
    }
    write_reports(a.json.as_ref(), a.html.as_ref(), &report)?;
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
    Ok(verdict.into())
}

/// The run's observer, writing the `--csv` timeline. The file is opened before the run: a
/// file that cannot be written should not cost one.
fn observer(a: &RunArgs) -> Result<Observer, Failure> {
    match &a.csv {
        Some(path) => std::fs::File::create(path)
            .and_then(|f| Observer::with_csv(Box::new(std::io::BufWriter::new(f))))
            .map_err(|e| Failure::Harness(format!("cannot write {}: {e}", path.display()))),
        None => Ok(Observer::default()),
    }
}

/// The run itself, against `--target` or an embedded reference server, with the metrics
/// endpoint up for its whole length.
async fn run(a: &RunArgs, cfg: &SimConfig, observer: Arc<Observer>) -> Result<SimReport, Failure> {
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
            Ok(run_observed(addr, t, cfg, observer).await)
        }
        None => {
            let config = ServerConfig {
                max_clients: cfg.clients + 16,
                ..ServerConfig::default()
            };
            let server = ServerHandle::start("127.0.0.1:0", config)
                .await
                .map_err(|e| Failure::Harness(format!("cannot start the embedded server: {e}")))?;
            let report = run_observed(server.local_addr(), EMBEDDED, cfg, observer).await;
            server.shutdown().await;
            Ok(report)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_verdict_and_failure_has_its_exit_status() {
        assert_eq!(Exit::from(Verdict::Ok) as u8, 0);
        assert_eq!(Exit::from(Verdict::TargetFailed) as u8, 1);
        assert_eq!(Exit::from(Verdict::HarnessFailed) as u8, 3);
        assert_eq!(Failure::Usage("x".into()).exit() as u8, 2);
        assert_eq!(Failure::Harness("x".into()).exit() as u8, 3);
    }
}
