//! One target's suite, supervised: scenarios run one at a time (as against any foreign
//! target), and around them msrp-check watches whether the target is still there. A death is
//! blamed on the scenario during which it happened, as a failure of ERR-4 that says the step,
//! the signal and what the server printed; a command is restarted so that the next scenario
//! gets its own verdict; without a command, the scenarios that can no longer run are one
//! "not run" line instead of dozens of refused connections.

use msrp_reference::Profile;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use super::preflight::{preflight, Answer};
use super::process::{format_tail, Exit, TargetProcess};
use super::{TargetSource, TargetSpec};
use crate::check::{errored, skipped, wait_names_freed};
use crate::rules::{rule, Level};
use crate::runner::{run_scenario, RunOptions, RunResult};
use crate::scenario::Scenario;
use crate::settings::unmet as unmet_settings;
use crate::verdict::{Failure, Verdict};

/// The prefix of the reason of a scenario that could not run because the target was gone.
pub const NOT_RUN: &str = "not run: ";

/// Whether an outcome's reason says the scenario never ran because the target was gone.
pub fn is_not_run(reason: Option<&str>) -> bool {
    reason.is_some_and(|r| r.starts_with(NOT_RUN))
}

/// How a target is supervised.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Settings the target was declared to have (`--server-setting`).
    pub settings: BTreeMap<String, String>,
    /// Run the whole suite even when the target is mute or gone (today's behaviour).
    pub keep_going: bool,
    /// A fresh process for every scenario.
    pub restart_each: bool,
    /// How long a started command may take to listen.
    pub listen_wait: Duration,
    /// Between SIGTERM and SIGKILL when stopping a command.
    pub grace: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            settings: BTreeMap::new(),
            keep_going: false,
            restart_each: false,
            listen_wait: Duration::from_secs(10),
            grace: Duration::from_secs(2),
        }
    }
}

/// What a run reports as it goes.
pub enum Event<'a> {
    /// Something about the target itself: started, restarted, its dialect, a diagnosis.
    Note(&'a str),
    /// A scenario's result (the sink may add to it, e.g. a transcript diff).
    Result(&'a mut RunResult),
    /// `count` scenarios will not run, for this reason (their results follow as events, with
    /// the reason; a report shows them as this one line).
    NotRun {
        /// Why they do not run (the target could not be started again, say).
        reason: &'a str,
        /// How many scenarios are concerned.
        count: usize,
    },
}

/// One target's run.
#[derive(Debug)]
pub struct TargetReport {
    /// The target's label.
    pub label: String,
    /// Its address or command.
    pub shown_as: String,
    /// Every scenario's result, in scenario order (including those not run).
    pub results: Vec<RunResult>,
    /// What was said about the target (as [`Event::Note`]).
    pub notes: Vec<String>,
    /// Scenarios during which the target died or stopped answering.
    pub deaths: Vec<String>,
    /// Why the run of this target stopped early, if it did (could not start, mute, gone).
    pub stopped: Option<String>,
    /// Whether any scenario ran against it.
    pub ran: bool,
    /// Its command could not be started at all (nothing ran against it).
    pub start_failed: bool,
    /// Wall time of this target's run.
    pub seconds: f64,
}

/// How a target stopped serving.
enum Departure {
    /// The supervised process ended.
    Died {
        exit: Exit,
        /// Which stream the lines come from, and its last lines.
        output: (&'static str, Vec<String>),
    },
    /// Connections are refused (no command to watch).
    StoppedAccepting(String),
    /// It accepts but does not answer a LIST any more.
    StoppedAnswering(String),
}

/// The ERR-4 failure of a target that stopped serving at `step`.
fn departure_failure(step: usize, line: usize, actual: String) -> Failure {
    let statement = rule("ERR-4").map_or_else(String::new, |r| r.statement.to_string());
    Failure {
        step,
        line,
        rule: "ERR-4".into(),
        level: Level::Must,
        statement,
        expected: "the target keeps serving (its process alive, accepting and answering)".into(),
        actual,
        actual_hex: None,
    }
}

/// The 1-based step that was running at `at`, for a scenario that started at `started`.
fn step_at(r: &RunResult, at: SystemTime) -> usize {
    let Ok(elapsed) = at.duration_since(r.started) else {
        return 1;
    };
    r.step_starts
        .iter()
        .filter(|s| **s <= elapsed)
        .count()
        .max(1)
}

/// Turns a scenario's result into the ERR-4 failure of the target's departure; what the
/// scenario reported before stays as a note.
fn blame(sc: &Scenario, r: &mut RunResult, departure: Departure) {
    let failing_step = r.outcome.failure.as_ref().map(|f| f.step);
    let last_step = r.step_starts.len().max(1);
    let (step, actual, reason, extra) = match departure {
        Departure::Died { exit, output } => {
            let step = step_at(r, exit.at).min(sc.file.steps.len().max(1));
            let after = r.step_starts.len() == sc.file.steps.len()
                && exit
                    .at
                    .duration_since(r.started)
                    .is_ok_and(|d| d.as_secs_f64() > r.outcome.seconds);
            let when = if after {
                format!("after step {step}, the last")
            } else {
                format!("during step {step}")
            };
            let actual = format!("the target process {} {when}", exit.describe());
            let reason = exit
                .hint()
                .map(|h| format!("{}: {h}", exit.signal_name().unwrap_or("the signal")));
            (step, actual, reason, output)
        }
        Departure::StoppedAccepting(e) => (
            failing_step.unwrap_or(last_step),
            format!("the target stopped accepting connections ({e})"),
            None,
            ("stderr", Vec::new()),
        ),
        Departure::StoppedAnswering(d) => (
            failing_step.unwrap_or(last_step),
            format!("the target stopped answering: {d}"),
            None,
            ("stderr", Vec::new()),
        ),
    };
    let o = &mut r.outcome;
    if let Some(f) = o.failure.take() {
        o.notes.push(format!(
            "before that, step {}: {} expected {}, got {}",
            f.step, f.rule, f.expected, f.actual
        ));
    }
    if let Some(reason) = o.reason.take() {
        o.notes.push(format!("before that: {reason}"));
    }
    let line = sc.step_lines.get(step - 1).copied().unwrap_or(0);
    o.verdict = Verdict::Fail;
    o.failure = Some(departure_failure(step, line, actual));
    o.reason = reason;
    let (stream, lines) = extra;
    if !lines.is_empty() {
        o.notes.push(format!(
            "the last lines of the target's {stream}:{}",
            format_tail(&lines)
                .trim_start_matches("; the last lines of its stderr:")
                .replace("\n  | ", "\n        | ")
        ));
    }
}

/// How long a preflight or a liveness check waits for an answer.
fn answer_wait(opts: &RunOptions) -> Duration {
    opts.timeout.max(Duration::from_secs(2)) + Duration::from_secs(1)
}

/// Runs `scenarios` against one target, supervising it; `sink` sees everything as it happens.
pub async fn run_target(
    spec: &TargetSpec,
    scenarios: &[Scenario],
    opts: &RunOptions,
    policy: &Policy,
    mut sink: impl FnMut(Event<'_>) + Send,
) -> TargetReport {
    let started = std::time::Instant::now();
    let mut report = TargetReport {
        label: spec.label.clone(),
        shown_as: spec.describe(),
        results: Vec::new(),
        notes: Vec::new(),
        deaths: Vec::new(),
        stopped: None,
        ran: false,
        start_failed: false,
        seconds: 0.0,
    };
    let note = |report: &mut TargetReport, sink: &mut dyn FnMut(Event<'_>), text: String| {
        sink(Event::Note(&text));
        report.notes.push(text);
    };
    let mut process: Option<TargetProcess> = None;
    let mut addr: SocketAddr = match &spec.source {
        TargetSource::Address(a) => *a,
        TargetSource::Command(cmd) => match TargetProcess::start(cmd, policy.listen_wait).await {
            Ok(p) => {
                let text = format!("started `{}` (pid {}) on {}", p.command, p.pid(), p.addr);
                note(&mut report, &mut sink, text);
                let a = p.addr;
                process = Some(p);
                a
            }
            Err(e) => {
                let reason = format!("{NOT_RUN}the target could not be started: {e}");
                report.stopped = Some(e.to_string());
                report.start_failed = true;
                not_run(&mut report, scenarios, 0, &reason, &mut sink);
                report.seconds = started.elapsed().as_secs_f64();
                return report;
            }
        },
    };

    let mut silence_reported = false;
    // The process has not served a scenario since it started (no need to restart it for
    // --restart-each).
    let mut fresh = true;
    // Whether the target answered the preflight; `None` until the first scenario that runs.
    let mut answers: Option<bool> = None;
    let mut index = 0;
    while index < scenarios.len() {
        let sc = &scenarios[index];
        index += 1;
        if let Some(reason) = unmet_settings(&sc.file.server, &policy.settings) {
            let mut r = skipped(sc, reason);
            sink(Event::Result(&mut r));
            report.results.push(r);
            continue;
        }
        if policy.restart_each && report.ran && !fresh {
            if let (Some(p), TargetSource::Command(cmd)) = (process.take(), &spec.source) {
                p.stop(policy.grace).await;
                match TargetProcess::start(cmd, policy.listen_wait).await {
                    Ok(p) => {
                        addr = p.addr;
                        process = Some(p);
                    }
                    Err(e) => {
                        let reason = format!("{NOT_RUN}the target could not be restarted: {e}");
                        report.stopped = Some(e.to_string());
                        not_run(&mut report, scenarios, index - 1, &reason, &mut sink);
                        break;
                    }
                }
            }
        }
        if answers.is_none() {
            let first = preflight(addr, answer_wait(opts)).await;
            // Under --profile legacy the legacy shape is what is expected, not news.
            if let Some(n) = first
                .dialect_note()
                .filter(|_| opts.profile == Profile::Strict)
            {
                note(&mut report, &mut sink, n.to_string());
            }
            answers = Some(first.answers());
            if let Some(d) = first.diagnosis() {
                let mut text = format!("preflight: {d}");
                if !policy.keep_going {
                    text.push_str(
                        "; the suite is not run against it (--keep-going runs it anyway)",
                    );
                }
                note(&mut report, &mut sink, text);
                if !policy.keep_going {
                    report.stopped = Some(format!("preflight: {d}"));
                    let reason = match &first.answer {
                        Answer::Unreachable(e) => format!("{NOT_RUN}cannot connect to {e}"),
                        _ => format!("{NOT_RUN}the target did not answer the preflight"),
                    };
                    not_run(&mut report, scenarios, index - 1, &reason, &mut sink);
                    break;
                }
            }
        }
        report.ran = true;
        fresh = false;
        let mut result = Box::pin(run_scenario(sc, addr, opts)).await;
        let passed = matches!(result.outcome.verdict, Verdict::Pass | Verdict::Skip);

        if let Some(p) = process.as_mut() {
            // A death shows in the scenario first (a reset); give its notice a moment (the
            // LIST of wait_names_freed below gives a late one more).
            let grace = if passed {
                Duration::ZERO
            } else {
                Duration::from_millis(50)
            };
            let mut exit = p.wait_exit(grace).await;
            if exit.is_none() {
                wait_names_freed(addr, sc, opts.timeout).await;
                exit = p.exit();
            }
            if let Some(exit) = exit {
                // Let the output readers catch its last words.
                tokio::time::sleep(Duration::from_millis(50)).await;
                // Many servers report their errors on stdout; show it when stderr is silent.
                let stderr = p.stderr_tail(8);
                let output = if stderr.is_empty() {
                    ("stdout", p.stdout_tail(8))
                } else {
                    ("stderr", stderr)
                };
                blame(sc, &mut result, Departure::Died { exit, output });
                report.deaths.push(sc.file.id.clone());
                sink(Event::Result(&mut result));
                report.results.push(result);
                let dead = process.take();
                if let Some(p) = dead {
                    p.stop(policy.grace).await;
                }
                if index < scenarios.len() {
                    if let TargetSource::Command(cmd) = &spec.source {
                        match restart(cmd, policy, "died", &sc.file.id, &mut report, &mut sink)
                            .await
                        {
                            Ok(p) => {
                                addr = p.addr;
                                process = Some(p);
                                fresh = true;
                            }
                            Err(e) => {
                                let reason = format!(
                                    "{NOT_RUN}the target died during {} and could not be restarted: {e}",
                                    sc.file.id
                                );
                                report.stopped = Some(e.to_string());
                                not_run(&mut report, scenarios, index, &reason, &mut sink);
                                break;
                            }
                        }
                    }
                }
                continue;
            }
        } else {
            wait_names_freed(addr, sc, opts.timeout).await;
        }

        // A scenario that did not pass may have left the target mute or gone.
        let mut stop_reason = None;
        if !passed && answers == Some(true) {
            let live = preflight(addr, answer_wait(opts)).await;
            let departure = match &live.answer {
                Answer::Unreachable(e) if process.is_none() => {
                    stop_reason = Some(format!(
                        "{NOT_RUN}the target stopped accepting connections during {}",
                        sc.file.id
                    ));
                    Some(Departure::StoppedAccepting(e.clone()))
                }
                Answer::Frame | Answer::Legacy => None,
                _ if silence_reported => None,
                _ => {
                    silence_reported = true;
                    stop_reason = Some(format!(
                        "{NOT_RUN}the target stopped answering during {}",
                        sc.file.id
                    ));
                    live.diagnosis().map(Departure::StoppedAnswering)
                }
            };
            if let Some(d) = departure {
                blame(sc, &mut result, d);
                report.deaths.push(sc.file.id.clone());
            } else {
                stop_reason = None;
            }
        }
        sink(Event::Result(&mut result));
        report.results.push(result);
        let Some(reason) = stop_reason else { continue };
        if let (Some(p), TargetSource::Command(cmd)) = (process.take(), &spec.source) {
            // A hung process is replaced, as a dead one is.
            p.stop(policy.grace).await;
            silence_reported = false;
            let what = "stopped answering";
            match restart(cmd, policy, what, &sc.file.id, &mut report, &mut sink).await {
                Ok(p) => {
                    addr = p.addr;
                    process = Some(p);
                    fresh = true;
                }
                Err(e) => {
                    report.stopped = Some(e.to_string());
                    let reason = format!("{reason}, and could not be restarted: {e}");
                    not_run(&mut report, scenarios, index, &reason, &mut sink);
                    break;
                }
            }
        } else if !policy.keep_going {
            report.stopped = Some(reason.trim_start_matches(NOT_RUN).to_string());
            not_run(&mut report, scenarios, index, &reason, &mut sink);
            break;
        }
    }
    if let Some(p) = process.take() {
        p.stop(policy.grace).await;
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Records the scenarios from `from` on as not run, for `reason`.
/// Starts the target's command again after it `what` ("died", "stopped answering") during
/// scenario `id`, and notes where the new process listens; `Err` says why it did not start.
async fn restart(
    cmd: &super::TargetCommand,
    policy: &Policy,
    what: &str,
    id: &str,
    report: &mut TargetReport,
    sink: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<TargetProcess, String> {
    let p = TargetProcess::start(cmd, policy.listen_wait)
        .await
        .map_err(|e| e.to_string())?;
    let text = format!(
        "restarted `{}` (pid {}) on {} after it {what} during {id}",
        p.command,
        p.pid(),
        p.addr
    );
    sink(Event::Note(&text));
    report.notes.push(text);
    Ok(p)
}

fn not_run(
    report: &mut TargetReport,
    scenarios: &[Scenario],
    from: usize,
    reason: &str,
    sink: &mut dyn FnMut(Event<'_>),
) {
    let rest = scenarios.get(from..).unwrap_or_default();
    if rest.is_empty() {
        return;
    }
    sink(Event::NotRun {
        reason,
        count: rest.len(),
    });
    for sc in rest {
        let mut r = errored(sc, reason.to_string());
        sink(Event::Result(&mut r));
        report.results.push(r);
    }
}
