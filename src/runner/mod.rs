//! Runs one scenario against one target address: a [`ScenarioRun`] owns the scenario's
//! connections, executes its steps in order (one module per step kind), and turns the first
//! departure from the profile into a [`crate::verdict::Failure`].

pub mod conn;
mod connect;
mod expect;
mod file;
mod legacy;
mod lifecycle;
pub(crate) mod matcher;
mod outcome;
pub mod seen;
mod send;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::record::ConnRecord;
use crate::scenario::plan::Step;
use crate::scenario::{ClientOr, Scenario};
use crate::verdict::{Failure, Mismatch, Outcome};
use conn::Conn;
use outcome::{capped_note, grade, scenario_deadline, Stop};

/// How scenarios are run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Default wait of each step.
    pub timeout: Duration,
    /// SHOULD failures count as failures.
    pub strict: bool,
    /// The dialect the target is judged through (`legacy-profile.md` for the legacy one).
    pub profile: msrp_reference::Profile,
    /// Legacy profile: the quiet gap that ends a unit the target wrote (LEG-12), and the
    /// pause after each frame the harness writes (LEG-2).
    pub legacy_gap: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            timeout: Duration::from_secs(2),
            strict: false,
            profile: msrp_reference::Profile::Strict,
            legacy_gap: legacy::DEFAULT_GAP,
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
        /// What the step demanded, in words.
        expected: String,
        /// What arrived instead, in words.
        actual: String,
        /// The bytes that arrived instead, hex, when there were some.
        hex: Option<String>,
    },
    /// The step could not be carried out (unreachable target, harness limits).
    Broken(String),
}

impl StepError {
    fn mismatch(expected: impl Into<String>, seen: &seen::Seen) -> StepError {
        // In the legacy profile, two frames the target let arrive as one read are its LEG-12
        // fault, whatever the step checked: the receiver cannot take them apart.
        if seen::legacy_run() && legacy::merged_unit(seen) {
            return StepError::Mismatch {
                rule: Some(legacy::MERGED_RULE.into()),
                expected: expected.into(),
                actual: format!(
                    "{} (frames merged in one read: the target did not write them apart)",
                    seen.describe()
                ),
                hex: seen.hex(),
            };
        }
        StepError::Mismatch {
            rule: None,
            expected: expected.into(),
            actual: seen.describe(),
            hex: seen.hex(),
        }
    }

    fn blame(self, rule: &str) -> StepError {
        match self {
            // A merged read stays LEG-12's: it is why the frame looks wrong (see `mismatch`).
            StepError::Mismatch {
                rule: Some(ref r), ..
            } if r == legacy::MERGED_RULE => self,
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
    /// The scenario's verdict and, when it departed, where and how.
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

impl RunResult {
    /// The result of a scenario whose steps did not run: its outcome alone, nothing recorded.
    pub fn not_run(outcome: Outcome) -> RunResult {
        RunResult {
            outcome,
            records: Vec::new(),
            step_starts: Vec::new(),
            transcript: String::new(),
            started: std::time::SystemTime::now(),
        }
    }
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
    /// Departures graded as warnings so far, in step order.
    warnings: Vec<Failure>,
    /// Legacy profile: the first step the dialect cannot express (index) and why; the run
    /// stops there (`legacy-profile.md`, "Not applicable").
    not_applicable: Option<(usize, String)>,
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

    /// A wire name as a [`Name`](msrp_reference::Name): 4 bytes, or 1 to 4 in a scenario
    /// written for the legacy profile only (LEG-1).
    fn wire_name(&self, name: &str) -> Result<msrp_reference::Name, StepError> {
        self.sc.clients.wire_name(name).map_err(StepError::Broken)
    }

    /// Legacy profile: every connection reads what has arrived by now as a unit of its own
    /// (LEG-12), so frames written apart are framed apart.
    fn drain_legacy(&mut self) {
        if self.is_legacy() {
            for c in self.conns.values_mut() {
                c.drain_ready();
            }
        }
    }

    fn is_legacy(&self) -> bool {
        self.opts.profile == msrp_reference::Profile::Legacy
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

    /// Runs every step. A departure graded as a warning (a SHOULD rule, or a decision, without
    /// `--strict`) is recorded in `warnings` and the run goes on with what arrived consumed as
    /// that step's input (`wire-decisions.md`, "How departures are graded"), so that later
    /// MUST checks still run. Returns why the run stopped early, if it did.
    async fn steps(&mut self) -> Result<(), Stop> {
        for (i, step) in self.sc.steps.iter().enumerate() {
            if let Some(reason) = self.not_applicable_step(step) {
                self.not_applicable = Some((i, reason));
                return Ok(());
            }
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
                    tokio::time::sleep(*s).await;
                    Ok(())
                }
                Step::ExpectAlive(a) => self.expect_alive(a).await,
            };
            for c in self.conns.values_mut() {
                c.log.end_step();
            }
            match result {
                Ok(()) => {}
                Err(StepError::Broken(reason)) => return Err(Stop::Broken(i, reason)),
                Err(StepError::Mismatch {
                    rule,
                    expected,
                    actual,
                    hex,
                }) => {
                    let departure = self.departure(i, rule, expected, actual, hex);
                    if departure.level.is_warning() && !self.opts.strict {
                        self.warnings.push(departure);
                    } else {
                        return Err(Stop::Failure(departure));
                    }
                }
            }
        }
        Ok(())
    }

    /// Grades a step's departure: a rule the code blamed (the most specific), else the
    /// decision the step rests on, else the step's rule, else the scenario's first rule.
    fn departure(
        &self,
        index: usize,
        blamed: Option<String>,
        expected: String,
        actual: String,
        actual_hex: Option<String>,
    ) -> Failure {
        let step = &self.sc.steps[index];
        let id = blamed
            .or_else(|| step_decision(step).map(str::to_string))
            .or_else(|| ScenarioRun::step_rule(step).map(str::to_string))
            .unwrap_or_else(|| self.sc.file.rules[0].clone());
        let line = self.sc.step_lines.get(index).copied().unwrap_or(0);
        let mismatch = Mismatch {
            expected,
            actual,
            actual_hex,
        };
        Failure::graded(index, line, id, mismatch)
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

/// The decision a step's expectation rests on, if it cites one.
fn step_decision(step: &Step) -> Option<&str> {
    match step {
        Step::Expect(e) => e.decision.as_deref(),
        Step::ExpectSilence(s) => s.decision.as_deref(),
        Step::ExpectClosed(ClientOr::Full(c)) => c.decision.as_deref(),
        Step::File(f) => f.decision.as_deref(),
        _ => None,
    }
}

/// Runs one scenario against `target`.
pub async fn run_scenario(sc: &Scenario, target: SocketAddr, opts: &RunOptions) -> RunResult {
    let legacy = opts.profile == msrp_reference::Profile::Legacy;
    seen::LEGACY_RUN
        .scope(legacy, run_scenario_inner(sc, target, opts))
        .await
}

async fn run_scenario_inner(sc: &Scenario, target: SocketAddr, opts: &RunOptions) -> RunResult {
    let legacy_run = opts.profile == msrp_reference::Profile::Legacy;
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
        ctx: crate::transcript::RunContext::for_profile(opts.profile),
        warnings: Vec::new(),
        not_applicable: None,
    };
    let limit = scenario_deadline(sc, opts);
    let result = match tokio::time::timeout(limit, run.steps()).await {
        Ok(r) => r,
        Err(_) => Err(Stop::Broken(
            run.step_starts.len().saturating_sub(1),
            format!("the scenario did not finish within its overall limit of {limit:?}"),
        )),
    };
    let (records, entries) = run.finish().await;
    let mut outcome = sc.outcome();
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome.notes.extend(records.iter().filter_map(capped_note));
    let warnings = std::mem::take(&mut run.warnings);
    if let Some((index, reason)) = run.not_applicable.take() {
        legacy::grade_not_applicable(sc, index, reason, &mut outcome);
    }
    grade(&mut outcome, sc, result, warnings);
    let transcript = crate::transcript::render_in(sc, &outcome, entries, legacy_run);
    RunResult {
        outcome,
        records,
        step_starts: run.step_starts,
        transcript,
        started: started_wall,
    }
}
