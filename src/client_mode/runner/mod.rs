//! Runs one client scenario: per client a sandbox and a process, one listener playing the
//! server, the steps in order, then the process stopped and the sandbox compared. Departures
//! become the same [`Failure`]s and [`Outcome`]s as in server mode.

mod from_client;
mod lifecycle;
mod observe;
mod p2p;
mod step;
mod to_client;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use msrp_reference::decode::Decoded;
use msrp_reference::frame::{FileHeader, Frame, Name};
use msrp_reference::text::escape_bytes;
use sha2::Digest;
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::driver::{fill, shell_quote, Driver, SendPath};
use super::link::{Link, Missing};
use super::load::{bytes_of, ClientScenario};
use super::model::*;
use super::process::{ClientProcess, Exit};
use super::sandbox::{Sandbox, Tree};
use crate::record::ConnRecord;
use crate::rules::{blame, Level};
use crate::runner::matcher;
use crate::runner::RunResult;
use crate::scenario::content::{generate, sha256_of};
use crate::verdict::{Failure, Outcome, Verdict};
use msrp_reference::text::short_hex;

/// How client scenarios are run.
#[derive(Debug, Clone)]
pub struct ClientRunOptions {
    /// The command template (`{host}`, `{port}`, `{name}`, `{download_dir}`).
    pub command: String,
    /// How to make the client act and how it shows what it received.
    pub driver: Driver,
    /// Default wait of each step.
    pub timeout: Duration,
    /// How long a started client has to connect.
    pub connect_wait: Duration,
    /// Warnings count as failures.
    pub strict: bool,
    /// Keep every sandbox (paths in the report's notes).
    pub keep_sandboxes: bool,
}

/// The placeholders a command template may use.
pub const COMMAND_PLACEHOLDERS: [&str; 4] = ["host", "port", "name", "download_dir"];

/// Why a step did not succeed.
enum StepErr {
    /// The client departed from a rule.
    Mismatch {
        rule: Option<String>,
        expected: String,
        actual: String,
        hex: Option<String>,
    },
    /// The step could not be carried out.
    Broken(String),
    /// The driver cannot express the step: the scenario is skipped.
    Skip(String),
}

fn mismatch(expected: impl Into<String>, actual: impl Into<String>) -> StepErr {
    StepErr::Mismatch {
        rule: None,
        expected: expected.into(),
        actual: actual.into(),
        hex: None,
    }
}

fn mismatch_rule(rule: &str, expected: impl Into<String>, actual: impl Into<String>) -> StepErr {
    StepErr::Mismatch {
        rule: Some(rule.to_string()),
        expected: expected.into(),
        actual: actual.into(),
        hex: None,
    }
}

type StepResult = Result<(), StepErr>;

/// One client under test.
struct Under {
    label: String,
    wire: [u8; 4],
    sandbox: Sandbox,
    before: Tree,
    proc: Option<ClientProcess>,
    link: Option<Link>,
    /// Stdout lines already matched by an `expect_output`.
    cursor: usize,
    /// The client's last P2P offer (for `p2p_fetch`).
    offer: Option<FileHeader>,
    /// A crash already reported.
    crash_seen: bool,
    /// How the process ended, for a failing report.
    exit_shown: Option<String>,
}

struct Run<'a> {
    sc: &'a ClientScenario,
    opts: &'a ClientRunOptions,
    listener: TcpListener,
    start: Instant,
    clients: BTreeMap<String, Under>,
    done_records: Vec<ConnRecord>,
    budget: crate::record::RecordBudget,
    transcript: Vec<String>,
    warnings: Vec<Failure>,
    notes: Vec<String>,
    /// The departure that stopped the run, once graded as a failure.
    failure_taken: Option<Failure>,
}

/// Runs one client scenario.
pub async fn run_client_scenario(sc: &ClientScenario, opts: &ClientRunOptions) -> RunResult {
    let started = std::time::Instant::now();
    let started_wall = std::time::SystemTime::now();
    let mut outcome = sc.outcome();
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            outcome.verdict = Verdict::Error;
            outcome.reason = Some(format!("cannot listen as the server: {e}"));
            return result(outcome, Vec::new(), String::new(), started_wall);
        }
    };
    let mut run = Run {
        sc,
        opts,
        listener,
        start: Instant::now(),
        clients: BTreeMap::new(),
        done_records: Vec::new(),
        budget: crate::record::record_budget(),
        transcript: vec![format!("scenario {}: {}", sc.file.id, sc.file.title)],
        warnings: Vec::new(),
        notes: Vec::new(),
        failure_taken: None,
    };
    if let Err(e) = run.add_clients() {
        outcome.verdict = Verdict::Error;
        outcome.reason = Some(format!("cannot create a sandbox: {e}"));
        return result(outcome, Vec::new(), String::new(), started_wall);
    }
    let limit = scenario_limit(sc, opts);
    let stop = match tokio::time::timeout(limit, run.steps()).await {
        Ok(r) => r,
        Err(_) => Err((
            sc.file.steps.len().saturating_sub(1),
            StepErr::Broken(format!(
                "the scenario did not finish within its overall limit of {limit:?}"
            )),
        )),
    };
    let end_failure = run.teardown().await;
    grade(&mut outcome, sc, stop, end_failure, &mut run);
    outcome.warnings = std::mem::take(&mut run.warnings);
    outcome.notes.append(&mut run.notes);
    if !matches!(outcome.verdict, Verdict::Pass | Verdict::Skip) {
        outcome.notes.extend(run.tails());
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    let mut records = std::mem::take(&mut run.done_records);
    records.sort_by_key(|r| r.opened_at);
    let mut transcript = std::mem::take(&mut run.transcript);
    transcript.push(format!("verdict: {}", outcome.verdict.as_str()));
    if let Some(f) = &outcome.failure {
        transcript.push(format!(
            "  {} at step {}: expected {}; actual {}",
            f.blamed(),
            f.step,
            f.expected,
            f.actual
        ));
    }
    let mut text = transcript.join("\n");
    text.push('\n');
    result(outcome, records, text, started_wall)
}

impl Run<'_> {
    /// Creates each declared client's sandbox (its files, its download folder) and its
    /// state; the message says why a sandbox could not be made.
    fn add_clients(&mut self) -> Result<(), String> {
        for (label, wire) in &self.sc.file.clients {
            let mut w = [0u8; 4];
            w.copy_from_slice(&wire.as_bytes()[..4]);
            match Sandbox::create(
                label,
                &self.opts.driver,
                &self.sc.file.files,
                &self.sc.file.existing,
            ) {
                Ok(mut sandbox) => {
                    sandbox.keep = self.opts.keep_sandboxes;
                    if self.opts.keep_sandboxes {
                        self.notes
                            .push(format!("sandbox of {label}: {}", sandbox.root.display()));
                    }
                    let before = sandbox.tree();
                    self.clients.insert(
                        label.clone(),
                        Under {
                            label: label.clone(),
                            wire: w,
                            sandbox,
                            before,
                            proc: None,
                            link: None,
                            cursor: 0,
                            offer: None,
                            crash_seen: false,
                            exit_shown: None,
                        },
                    );
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }
}

/// Grades a finished run: the first failure (a step's, else one the teardown found), else
/// an error or skip that stopped it, else the first warning.
fn grade(
    outcome: &mut Outcome,
    sc: &ClientScenario,
    stop: Result<(), (usize, StepErr)>,
    end_failure: Option<Failure>,
    run: &mut Run<'_>,
) {
    let mut failure = None;
    match stop {
        Ok(()) => {}
        Err((i, StepErr::Mismatch { .. })) => {
            // Already graded in `steps`; the failure is its last warning-or-failure entry.
            let _ = i;
        }
        Err((i, StepErr::Broken(reason))) => {
            let line = sc.step_lines.get(i).copied().unwrap_or(0);
            let reason = format!("{}:{line}: step {}: {reason}", sc.path.display(), i + 1);
            outcome.verdict = Verdict::Error;
            outcome.reason = Some(reason);
        }
        Err((_, StepErr::Skip(reason))) => {
            outcome.verdict = Verdict::Skip;
            outcome.reason = Some(reason);
        }
    }
    if let Some(f) = run.failure_taken.take() {
        failure = Some(f);
    }
    if failure.is_none() && outcome.verdict == Verdict::Pass {
        failure = end_failure;
    }
    if let Some(f) = failure {
        outcome.verdict = Verdict::Fail;
        outcome.failure = Some(f);
        outcome.reason = None;
    } else if outcome.verdict == Verdict::Pass {
        if let Some(first) = run.warnings.first() {
            outcome.verdict = Verdict::Warn;
            outcome.failure = Some(first.clone());
        }
    }
}

fn result(
    outcome: Outcome,
    records: Vec<ConnRecord>,
    transcript: String,
    started: std::time::SystemTime,
) -> RunResult {
    RunResult {
        outcome,
        records,
        step_starts: Vec::new(),
        transcript,
        started,
    }
}

/// An upper bound of a scenario's run time, so that no client can hang the harness.
fn scenario_limit(sc: &ClientScenario, opts: &ClientRunOptions) -> Duration {
    let mut total = Duration::from_secs(5) + opts.connect_wait;
    let step = sc
        .file
        .timeout
        .map(Duration::from_secs_f64)
        .unwrap_or(opts.timeout)
        .max(opts.timeout);
    for s in &sc.file.steps {
        total += match s {
            ClientStep::Sleep(x) => Duration::from_secs_f64(*x),
            ClientStep::Start(_) => opts.connect_wait + step,
            _ => step * 3,
        };
    }
    total
}

impl Run<'_> {
    fn wait(&self, step: Option<f64>) -> Duration {
        step.or(self.sc.file.timeout)
            .map(Duration::from_secs_f64)
            .unwrap_or(self.opts.timeout)
    }

    fn under(&mut self, label: &str) -> Result<&mut Under, StepErr> {
        self.clients
            .get_mut(label)
            .ok_or_else(|| StepErr::Broken(format!("\"{label}\" is not a declared client")))
    }

    fn link(&mut self, label: &str) -> Result<&mut Link, StepErr> {
        self.under(label)?.link.as_mut().ok_or_else(|| {
            StepErr::Broken(format!(
                "client \"{label}\" is not started (add a start step)"
            ))
        })
    }

    fn proc(&mut self, label: &str) -> Result<&mut ClientProcess, StepErr> {
        self.under(label)?.proc.as_mut().ok_or_else(|| {
            StepErr::Broken(format!(
                "client \"{label}\" is not started (add a start step)"
            ))
        })
    }

    fn note(&mut self, line: String) {
        self.transcript.push(format!("  {line}"));
    }

    fn wire(&self, name: &str) -> Result<[u8; 4], StepErr> {
        self.sc.wire_of(name).map_err(StepErr::Broken)
    }
}

/// A frame for the transcript, with ports the harness chose masked.
fn masked(f: &Frame) -> String {
    match f {
        Frame::File(h) if h.port != 0 => {
            let mut h = h.clone();
            h.port = 0;
            Frame::File(h).to_string().replace("port=0", "port=*")
        }
        f => f.to_string(),
    }
}

fn expected_text(e: &FromClientStep) -> String {
    if let Some(m) = &e.msg {
        format!(
            "MSG to \"{}\" text {}",
            m.to,
            matcher::describe(Some(&m.text))
        )
    } else if let Some(f) = &e.file {
        format!(
            "FILE to \"{}\" filename \"{}\" ({:?} mode) with its exact size",
            f.to, f.file, f.mode
        )
    } else if e.list.is_some() {
        "LIST (00 03)".into()
    } else if let Some(a) = &e.ack {
        format!("ACK filename {}", matcher::describe(Some(a)))
    } else {
        "the login".into()
    }
}

fn step_rule(step: &ClientStep) -> Option<&str> {
    match step {
        ClientStep::ExpectFromClient(e) => e.rule.as_deref(),
        ClientStep::ExpectOutput(o) => o.rule.as_deref(),
        ClientStep::ExpectFile(e) => e.rule.as_deref(),
        ClientStep::ExpectNoFile(n) => n.rule.as_deref(),
        ClientStep::ExpectNoFileOutside(r) => r.rule.as_deref(),
        ClientStep::ExpectSilence(s) => s.rule.as_deref(),
        ClientStep::P2pOffer(p) => p.rule.as_deref(),
        ClientStep::P2pFetch(p) => p.rule.as_deref(),
        ClientStep::ExpectAlive(a) => a.rule.as_deref(),
        ClientStep::ExpectExit(e) => e.rule.as_deref(),
        ClientStep::ToClient(t) => t.rule.as_deref(),
        _ => None,
    }
}

fn step_title(step: &ClientStep) -> String {
    match step {
        ClientStep::Start(c) => format!("start {c}"),
        ClientStep::Type(t) => format!("type {} on {}", t.action, t.client),
        ClientStep::ExpectFromClient(e) => format!("expect from {}", e.client),
        ClientStep::ToClient(t) => format!("to {}", t.client),
        ClientStep::ExpectOutput(o) => format!("expect output of {}", o.client),
        ClientStep::ExpectFile(e) => format!("expect a file of {}", e.client),
        ClientStep::ExpectNoFile(n) => format!("expect no file of {}", n.client),
        ClientStep::ExpectNoFileOutside(r) => {
            format!("expect nothing written outside by {}", r.client)
        }
        ClientStep::ExpectSilence(s) => format!("expect silence from {}", s.client),
        ClientStep::P2pOffer(p) => format!("P2P offer to {}", p.client),
        ClientStep::P2pFetch(p) => format!("P2P fetch from {}", p.client),
        ClientStep::ExpectAlive(a) => format!("expect {} alive", a.client),
        ClientStep::ExpectExit(e) => format!("expect {} to exit", e.client),
        ClientStep::Close(c) => format!("close {}", c.client),
        ClientStep::EndInput(c) => format!("end input of {c}"),
        ClientStep::Sleep(s) => format!("sleep {s}"),
    }
}
