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
//! - [`model`]: conversations with a known outcome, and their oracle.
//! - [`shrink`]: fewer connections, fewer writes, shorter writes, while it still fails.
//! - [`finding`]: the reproduction as a scenario.

pub mod case;
pub mod exec;
pub mod finding;
pub mod grammar;
pub mod model;
pub mod report;
pub mod shrink;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use msrp_reference::Profile;

use crate::target::preflight::{preflight, Answer};
use crate::target::{TargetProcess, TargetSource};
pub use case::{generate, Action, Case};
pub use finding::Signature;

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

/// The server under test, restarted as needed.
pub(crate) struct Target {
    source: TargetSource,
    process: Option<TargetProcess>,
    listen_wait: Duration,
    /// Starts after the first.
    pub(crate) restarts: u64,
    started_once: bool,
}

impl Target {
    fn new(source: TargetSource, listen_wait: Duration) -> Target {
        Target {
            source,
            process: None,
            listen_wait,
            restarts: 0,
            started_once: false,
        }
    }

    /// The address to use, starting the command if it is not running.
    async fn ensure(&mut self) -> Result<SocketAddr, String> {
        match &self.source {
            TargetSource::Address(a) => Ok(*a),
            TargetSource::Command(cmd) => {
                if let Some(p) = &self.process {
                    if p.exit().is_none() {
                        return Ok(p.addr);
                    }
                }
                if let Some(p) = self.process.take() {
                    p.stop(Duration::from_millis(500)).await;
                }
                let p = TargetProcess::start(cmd, self.listen_wait)
                    .await
                    .map_err(|e| e.to_string())?;
                if self.started_once {
                    self.restarts += 1;
                }
                self.started_once = true;
                let a = p.addr;
                self.process = Some(p);
                Ok(a)
            }
        }
    }

    /// A fresh process (commands only).
    async fn restart(&mut self) -> Result<SocketAddr, String> {
        if let Some(p) = self.process.take() {
            p.stop(Duration::from_millis(500)).await;
        }
        self.ensure().await
    }

    fn supervised(&self) -> bool {
        matches!(self.source, TargetSource::Command(_))
    }

    async fn stop(&mut self) {
        if let Some(p) = self.process.take() {
            p.stop(Duration::from_millis(500)).await;
        }
    }
}

/// Resident memory of a process, bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_of(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs `case` and asks the oracles. `Err` when the target cannot be (re)started.
pub(crate) async fn run_case(
    target: &mut Target,
    case: &Case,
    cfg: &FuzzConfig,
    peak_rss: &mut u64,
) -> Result<Option<Observation>, String> {
    let addr = target.ensure().await?;
    let exec = exec::execute(case, addr, cfg.wait, cfg.profile).await;
    let died = |p: &TargetProcess, exit: crate::target::Exit| {
        let oracle = match (exit.signal_name(), exit.signal, exit.code) {
            (Some(n), _, _) => format!("killed-{}", n.to_ascii_lowercase()),
            (None, Some(s), _) => format!("killed-signal{s}"),
            (None, None, Some(c)) => format!("exited-{c}"),
            _ => "exited".to_string(),
        };
        Observation {
            sig: Signature {
                oracle,
                rule: "ERR-4".into(),
            },
            what: format!("the target process {}", exit.describe()),
            stderr: p.stderr_tail(8),
        }
    };
    if let Some(p) = target.process.as_mut() {
        if let Some(exit) = p.wait_exit(Duration::from_millis(20)).await {
            return Ok(Some(died(p, exit)));
        }
    }
    let probe = preflight(addr, cfg.wait).await;
    if let Some(p) = target.process.as_mut() {
        if let Some(exit) = p.wait_exit(Duration::from_millis(10)).await {
            return Ok(Some(died(p, exit)));
        }
    }
    if !probe.answers() {
        let oracle = match probe.answer {
            Answer::Unreachable(_) => "refused",
            _ => "mute",
        };
        return Ok(Some(Observation {
            sig: Signature {
                oracle: oracle.into(),
                rule: "ERR-4".into(),
            },
            what: format!(
                "the target stopped serving: {}",
                probe.diagnosis().unwrap_or_default()
            ),
            stderr: target
                .process
                .as_ref()
                .map(|p| p.stderr_tail(8))
                .unwrap_or_default(),
        }));
    }
    if let Some(p) = target.process.as_ref() {
        if let Some(rss) = rss_of(p.pid()) {
            *peak_rss = (*peak_rss).max(rss);
            if let Some(max) = cfg.max_rss.filter(|m| rss > *m) {
                return Ok(Some(Observation {
                    sig: Signature {
                        oracle: "rss".into(),
                        rule: "ROB-3".into(),
                    },
                    what: format!(
                        "the target process holds {:.1} MiB resident, over --max-rss {:.1} MiB",
                        rss as f64 / 1048576.0,
                        max as f64 / 1048576.0
                    ),
                    stderr: Vec::new(),
                }));
            }
        }
    }
    // Only a target that is alive and serving is held to the model: a death or a hang above
    // is the finding, and the deliveries it cut short are its consequences.
    if let Some(conv) = &case.model {
        if let Some((sig, what)) = model::judge(conv, &exec, cfg.profile) {
            return Ok(Some(Observation {
                sig,
                what,
                stderr: target
                    .process
                    .as_ref()
                    .map(|p| p.stderr_tail(8))
                    .unwrap_or_default(),
            }));
        }
    }
    Ok(None)
}

/// Progress on stderr: one rewritten line on a terminal, a plain line every few seconds
/// otherwise.
struct Progress {
    tty: bool,
    last: Instant,
    started: Instant,
}

impl Progress {
    fn tick(&mut self, s: &Summary, force: bool) {
        let every = if self.tty {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(5)
        };
        if !force && self.last.elapsed() < every {
            return;
        }
        self.last = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let line = format!(
            "fuzz: {} cases, {:.0} cases/s, {} findings ({} failing cases), {} restarts, target rss peak {:.1} MiB",
            s.cases,
            s.cases as f64 / secs,
            s.findings.len(),
            s.failing,
            s.restarts,
            s.peak_rss as f64 / 1048576.0
        );
        if self.tty {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
    }

    fn end(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// Runs the fuzzer; `on_finding` hears of every new finding as soon as it is written.
pub async fn run(cfg: &FuzzConfig, mut on_finding: impl FnMut(&Finding)) -> Summary {
    let started = Instant::now();
    let mut target = Target::new(cfg.target.clone(), cfg.listen_wait);
    let mut summary = Summary::default();
    let mut seen: BTreeMap<Signature, usize> = BTreeMap::new();
    let mut progress = Progress {
        tty: std::io::stderr().is_terminal(),
        last: Instant::now(),
        started,
    };
    let (first, last) = match cfg.only {
        Some(n) => (n, n),
        None => (0, cfg.cases.map_or(u64::MAX, |c| c.saturating_sub(1))),
    };
    if cfg.only.is_none() && cfg.cases == Some(0) {
        return summary;
    }
    // A bound the idle target already passes would make every case a "finding".
    if let (Some(max), Ok(_)) = (cfg.max_rss, target.ensure().await) {
        if let Some(rss) = target.process.as_ref().and_then(|p| rss_of(p.pid())) {
            summary.peak_rss = rss;
            if rss > max {
                summary.stopped = Some(format!(
                    "the target holds {:.1} MiB resident before any case, over --max-rss {:.1} MiB: give a bound above its baseline",
                    rss as f64 / 1048576.0,
                    max as f64 / 1048576.0
                ));
                target.stop().await;
                return summary;
            }
        }
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
                summary.restarts = target.restarts;
                if !target.supervised() {
                    summary.stopped = Some(
                        "the target (an address, not a command) stopped serving: nothing more can be run against it"
                            .into(),
                    );
                    break;
                }
                // The next case gets a fresh process.
                if let Err(e) = target.restart().await {
                    summary.stopped = Some(format!("the target could not be restarted: {e}"));
                    break;
                }
                summary.restarts = target.restarts;
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
