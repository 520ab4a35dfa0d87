//! Runs one scenario against one target address: a [`ScenarioRun`] owns the scenario's
//! connections, executes its steps in order (one module per step kind), and turns the first
//! departure from the profile into a [`Failure`](crate::verdict::Failure).

pub mod conn;
mod connect;
mod expect;
mod file;
mod lifecycle;
mod matcher;
mod send;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::record::ConnRecord;
use crate::rules::{rule, Level};
use crate::scenario::{ClientOr, Scenario, Step};
use crate::verdict::{Failure, Outcome, Verdict};
use conn::Conn;

/// How scenarios are run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Default wait of each step.
    pub timeout: Duration,
    /// SHOULD failures count as failures.
    pub strict: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            timeout: Duration::from_secs(2),
            strict: false,
        }
    }
}

/// Why a step did not succeed.
#[derive(Debug, Clone)]
pub enum StepError {
    /// The target departed from the profile.
    Mismatch {
        /// Rule to blame instead of the step's or scenario's default.
        rule: Option<String>,
        expected: String,
        actual: String,
        hex: Option<String>,
    },
    /// The step could not be carried out (unreachable target, harness limits).
    Broken(String),
}

impl StepError {
    fn mismatch(expected: impl Into<String>, seen: &conn::Seen) -> StepError {
        StepError::Mismatch {
            rule: None,
            expected: expected.into(),
            actual: seen.describe(),
            hex: seen.hex(),
        }
    }

    fn blame(self, rule: &str) -> StepError {
        match self {
            StepError::Mismatch {
                expected,
                actual,
                hex,
                ..
            } => StepError::Mismatch {
                rule: Some(rule.to_string()),
                expected,
                actual,
                hex,
            },
            other => other,
        }
    }
}

type StepResult = Result<(), StepError>;

/// Everything a scenario run produced.
#[derive(Debug)]
pub struct RunResult {
    pub outcome: Outcome,
    /// Every connection's recording, in the order they were opened.
    pub records: Vec<ConnRecord>,
    /// When each step started, relative to the scenario's start.
    pub step_starts: Vec<Duration>,
    /// The deterministic transcript (see [`crate::transcript`]).
    pub transcript: String,
    /// Wall-clock time the run started (pcap timestamps).
    pub started: std::time::SystemTime,
}

/// The state of one scenario being run.
pub struct ScenarioRun<'a> {
    sc: &'a Scenario,
    target: SocketAddr,
    opts: &'a RunOptions,
    start: Instant,
    conns: BTreeMap<String, Conn>,
    /// Connections already closed, and P2P side streams.
    done: Vec<Conn>,
    ctx: crate::transcript::RunContext,
    step_starts: Vec<Duration>,
    budget: crate::record::RecordBudget,
}

impl<'a> ScenarioRun<'a> {
    /// The wait of a step: its own, the scenario's, or the run's default.
    fn wait(&self, step: Option<f64>) -> Duration {
        step.or(self.sc.file.timeout)
            .map(Duration::from_secs_f64)
            .unwrap_or(self.opts.timeout)
    }

    fn settle(&self, step: Option<f64>) -> Duration {
        Duration::from_secs_f64(step.or(self.sc.file.settle).unwrap_or(0.02))
    }

    fn conn(&mut self, logical: &str) -> Result<&mut Conn, StepError> {
        self.conns.get_mut(logical).ok_or_else(|| {
            StepError::Broken(format!(
                "client \"{logical}\" is not connected (add a connect step)"
            ))
        })
    }

    fn wire(&self, name: &str) -> Result<[u8; 4], StepError> {
        self.sc.clients.wire_of(name).map_err(StepError::Broken)
    }

    fn expand(&self, name: &str) -> Result<Vec<String>, StepError> {
        self.sc.clients.expand(name).map_err(StepError::Broken)
    }

    fn record(&self, label: &str, accepted: bool) -> ConnRecord {
        ConnRecord::new(label, self.start, accepted, self.budget.clone())
    }

    fn log(&self, label: &str) -> crate::transcript::ConnLog {
        crate::transcript::ConnLog::new(&self.ctx, label)
    }

    /// Runs every step; returns the index of the failing step with its error.
    async fn steps(&mut self) -> Result<(), (usize, StepError)> {
        for (i, step) in self.sc.file.steps.iter().enumerate() {
            self.step_starts.push(self.start.elapsed());
            self.ctx.set_step(i + 1);
            let result = match step {
                Step::Connect(c) => self.connect(c).await,
                Step::Send(s) => self.send(s).await,
                Step::File(f) => self.file(f).await,
                Step::Expect(e) => self.expect(e).await,
                Step::ExpectSilence(s) => self.expect_silence(s).await,
                Step::ExpectClosed(c) => self.expect_closed(c).await,
                Step::Disconnect(d) => self.disconnect(d).await,
                Step::Sleep(s) => {
                    tokio::time::sleep(Duration::from_secs_f64(*s)).await;
                    Ok(())
                }
            };
            for c in self.conns.values_mut() {
                c.log.end_step();
            }
            result.map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// The rule a step names, if any.
    fn step_rule(step: &Step) -> Option<&str> {
        match step {
            Step::Expect(e) => e.rule.as_deref(),
            Step::ExpectSilence(s) => s.rule.as_deref(),
            Step::ExpectClosed(ClientOr::Full(c)) => c.rule.as_deref(),
            Step::File(f) => f.rule.as_deref(),
            _ => None,
        }
    }

    /// Closes every connection and hands over all recordings and transcript entries.
    async fn finish(&mut self) -> (Vec<ConnRecord>, Vec<crate::transcript::Entry>) {
        self.ctx.set_step(self.sc.file.steps.len() + 1);
        let conns = std::mem::take(&mut self.conns);
        for (_, mut c) in conns {
            c.log.phase = 0;
            c.close(false).await;
            self.done.push(c);
        }
        let mut records = Vec::new();
        let mut entries = Vec::new();
        for c in std::mem::take(&mut self.done) {
            records.push(c.record);
            entries.extend(c.log.entries);
        }
        records.sort_by_key(|r| r.opened_at);
        (records, entries)
    }
}

/// An upper bound on a scenario's run time, so a scenario never hangs the runner.
fn scenario_deadline(sc: &Scenario, opts: &RunOptions) -> Duration {
    let mut total = Duration::from_secs(5);
    for step in &sc.file.steps {
        total += match step {
            Step::Sleep(s) => Duration::from_secs_f64(*s),
            Step::File(f) => {
                opts.timeout * 4
                    + Duration::from_secs_f64(f.size as f64 / 20e6)
                    + f.timeout.map(Duration::from_secs_f64).unwrap_or_default() * 4
            }
            _ => {
                opts.timeout
                    .max(Duration::from_secs_f64(sc.file.timeout.unwrap_or(0.0)))
                    * 2
            }
        };
    }
    total
}

/// Runs one scenario against `target`.
pub async fn run_scenario(sc: &Scenario, target: SocketAddr, opts: &RunOptions) -> RunResult {
    let started = std::time::Instant::now();
    let started_wall = std::time::SystemTime::now();
    let mut run = ScenarioRun {
        sc,
        target,
        opts,
        start: Instant::now(),
        conns: BTreeMap::new(),
        done: Vec::new(),
        step_starts: Vec::new(),
        budget: crate::record::record_budget(),
        ctx: crate::transcript::RunContext::default(),
    };
    let limit = scenario_deadline(sc, opts);
    let result = match tokio::time::timeout(limit, run.steps()).await {
        Ok(r) => r,
        Err(_) => Err((
            run.step_starts.len().saturating_sub(1),
            StepError::Broken(format!(
                "the scenario did not finish within its overall limit of {limit:?}"
            )),
        )),
    };
    let (records, entries) = run.finish().await;
    let mut outcome = Outcome {
        id: sc.file.id.clone(),
        title: sc.file.title.clone(),
        file: sc.path.display().to_string(),
        rules: sc.file.rules.clone(),
        tags: sc.file.tags.clone(),
        verdict: Verdict::Pass,
        seconds: started.elapsed().as_secs_f64(),
        failure: None,
        reason: None,
        notes: Vec::new(),
        transcript_diff: None,
    };
    for r in &records {
        if r.dropped > 0 {
            outcome.notes.push(format!(
                "recording of {} capped ({} MiB per connection, {} MiB per scenario); {} later bytes not kept",
                r.label,
                crate::record::RECORD_CAP >> 20,
                crate::record::SCENARIO_RECORD_CAP >> 20,
                r.dropped
            ));
        }
    }
    if let Err((index, error)) = result {
        let line = sc.step_lines.get(index).copied().unwrap_or(0);
        match error {
            StepError::Broken(reason) => {
                outcome.verdict = Verdict::Error;
                outcome.reason = Some(format!(
                    "{}:{line}: step {}: {reason}",
                    sc.path.display(),
                    index + 1
                ));
            }
            StepError::Mismatch {
                rule: blamed,
                expected,
                actual,
                hex,
            } => {
                let id = blamed
                    .or_else(|| ScenarioRun::step_rule(&sc.file.steps[index]).map(str::to_string))
                    .unwrap_or_else(|| sc.file.rules[0].clone());
                let (level, statement) = match rule(&id) {
                    Some(r) => (r.level, r.statement.to_string()),
                    None => (Level::Must, String::new()),
                };
                outcome.verdict = match (level, opts.strict) {
                    (Level::Should, false) => Verdict::Warn,
                    _ => Verdict::Fail,
                };
                outcome.failure = Some(Failure {
                    step: index + 1,
                    line,
                    rule: id,
                    level,
                    statement,
                    expected,
                    actual,
                    actual_hex: hex,
                });
            }
        }
    }
    let transcript = crate::transcript::render(sc, &outcome, entries);
    RunResult {
        outcome,
        records,
        step_starts: run.step_starts,
        transcript,
        started: started_wall,
    }
}
