//! `msrp-check fuzz`: generated cases against a live server, judged by oracles that need no
//! model (the process died, stopped accepting, stopped answering a LIST on a fresh
//! connection, grew past `--max-rss`) and, for valid conversations whose outcome is known,
//! by the model oracle (a delivery to the wrong client, with the wrong sender, corrupted,
//! reordered, duplicated or lost); each failure shrunk and written as a scenario that plain
//! `msrp-check` replays.
//!
//! - [`case`]: a case as data, derived from `(seed, index)` alone.
//! - [`grammar`]: frame-aware templates and mutations.
//! - [`exec`]: running a case over real sockets.
//! - `target`: the server under test, restarted as needed; `oracle`: a case run and judged.
//! - [`model`]: conversations with a known outcome, and their oracle.
//! - [`shrink`]: fewer connections, fewer writes, shorter writes, while it still fails.
//! - [`finding`]: the reproduction as a scenario.

pub mod case;
pub mod exec;
pub mod finding;
pub mod grammar;
pub mod model;
mod oracle;
mod progress;
pub mod report;
pub mod shrink;
mod target;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use msrp_reference::Profile;

use crate::target::TargetSource;
pub use case::{generate, Action, Case};
pub use finding::Signature;
pub(crate) use oracle::run_case;
use progress::Progress;
pub use target::rss_of;
pub(crate) use target::Target;

/// How a fuzz run goes.
#[derive(Debug, Clone)]
pub struct FuzzConfig {
    /// The server: an address, or a command msrp-check starts and restarts.
    pub target: TargetSource,
    /// The dialect cases are written in.
    pub profile: Profile,
    /// Every case derives from it and its index.
    pub seed: u64,
    /// Stop after this many cases.
    pub cases: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Run only this case (`--case N`).
    pub only: Option<u64>,
    /// A target process whose resident memory passes this many bytes is a finding.
    pub max_rss: Option<u64>,
    /// Where reproductions go.
    pub findings: PathBuf,
    /// Every connect and write, and the LIST probe's answer, waits at most this long.
    pub wait: Duration,
    /// Runs of a failing case the shrinker may spend.
    pub shrink_budget: usize,
    /// How long a started command may take to listen.
    pub listen_wait: Duration,
}

/// What one failing case showed.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Oracle and rule.
    pub sig: Signature,
    /// One line: "the target process was killed by SIGABRT (signal 6)".
    pub what: String,
    /// The last lines the target wrote to stderr, when it is a child.
    pub stderr: Vec<String>,
}

/// One deduplicated finding.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Oracle and rule.
    pub sig: Signature,
    /// What happened.
    pub what: String,
    /// The case as generated.
    pub original: Case,
    /// The case after shrinking.
    pub shrunk: Case,
    /// Runs the shrinker spent.
    pub shrink_runs: usize,
    /// The scenario written.
    pub path: Option<PathBuf>,
    /// How plain `msrp-check` judged the scenario on a fresh target, when replayed.
    pub replay: Option<String>,
    /// Seconds into the run when it was first seen.
    pub at: f64,
    /// Failing cases with this signature (the first included).
    pub count: u64,
}

/// The end of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// Cases run.
    pub cases: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Cases that failed an oracle (found again or not).
    pub failing: u64,
    /// Target restarts (after deaths, and for shrinking and replays).
    pub restarts: u64,
    /// Highest resident memory of the target process seen, bytes.
    pub peak_rss: u64,
    /// Deduplicated findings, in the order found.
    pub findings: Vec<Finding>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
}

/// Runs the fuzzer; `on_finding` hears of every new finding as soon as it is written.
pub async fn run(cfg: &FuzzConfig, mut on_finding: impl FnMut(&Finding)) -> Summary {
    let started = Instant::now();
    let mut target = Target::new(cfg.target.clone(), cfg.listen_wait);
    let mut summary = Summary::default();
    let mut seen: BTreeMap<Signature, usize> = BTreeMap::new();
    let mut progress = Progress::new(started);
    let (first, last) = match cfg.only {
        Some(n) => (n, n),
        None => (0, cfg.cases.map_or(u64::MAX, |c| c.saturating_sub(1))),
    };
    if cfg.only.is_none() && cfg.cases == Some(0) {
        return summary;
    }
    if let Some(why) = baseline_over_max_rss(&mut target, cfg, &mut summary.peak_rss).await {
        summary.stopped = Some(why);
        target.stop().await;
        return summary;
    }
    let mut index = first;
    loop {
        if cfg.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let case = generate(cfg.seed, index, cfg.profile);
        let outcome = run_case(&mut target, &case, cfg, &mut summary.peak_rss).await;
        summary.cases += 1;
        summary.restarts = target.restarts;
        match outcome {
            Err(e) => {
                summary.stopped = Some(format!("the target could not be started: {e}"));
                break;
            }
            Ok(None) => {}
            Ok(Some(obs)) => {
                summary.failing += 1;
                if let Some(&i) = seen.get(&obs.sig) {
                    summary.findings[i].count += 1;
                } else {
                    let at = started.elapsed().as_secs_f64();
                    let f = finding::record(&mut target, cfg, case.clone(), obs, at).await;
                    on_finding(&f);
                    seen.insert(f.sig.clone(), summary.findings.len());
                    summary.findings.push(f);
                }
                if let Err(why) = fresh_target_after_failure(&mut target, &mut summary).await {
                    summary.stopped = Some(why);
                    break;
                }
            }
        }
        progress.tick(&summary, false);
        if index >= last {
            break;
        }
        index += 1;
    }
    target.stop().await;
    summary.restarts = target.restarts;
    summary.seconds = started.elapsed().as_secs_f64();
    progress.tick(&summary, true);
    progress.end();
    summary
}

/// Starts the target (with or without a bound: the first case finds it running) and, under
/// `--max-rss`, measures its idle size into `peak_rss`: a bound it already passes would make
/// every case a "finding", so that is why the run stops before any case.
async fn baseline_over_max_rss(
    target: &mut Target,
    cfg: &FuzzConfig,
    peak_rss: &mut u64,
) -> Option<String> {
    let started = target.ensure().await;
    let (Some(max), Ok(_)) = (cfg.max_rss, started) else {
        return None;
    };
    let rss = target.process.as_ref().and_then(|p| rss_of(p.pid()))?;
    *peak_rss = rss;
    (rss > max).then(|| {
        format!(
            "the target holds {:.1} MiB resident before any case, over --max-rss {:.1} MiB: give a bound above its baseline",
            rss as f64 / 1048576.0,
            max as f64 / 1048576.0
        )
    })
}

/// After a failing case, the next case gets a fresh process; `Err` says why the run cannot go
/// on (an address cannot be restarted, or the command did not start again).
async fn fresh_target_after_failure(
    target: &mut Target,
    summary: &mut Summary,
) -> Result<(), String> {
    summary.restarts = target.restarts;
    if !target.supervised() {
        return Err(
            "the target (an address, not a command) stopped serving: nothing more can be run against it"
                .into(),
        );
    }
    if let Err(e) = target.restart().await {
        return Err(format!("the target could not be restarted: {e}"));
    }
    summary.restarts = target.restarts;
    Ok(())
}
