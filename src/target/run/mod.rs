//! One target's suite, supervised: scenarios run one at a time (as against any foreign
//! target), and around them msrp-check watches whether the target is still there. A death is
//! blamed on the scenario during which it happened, as a failure of ERR-4 that says the step,
//! the signal and what the server printed; a command is restarted so that the next scenario
//! gets its own verdict; without a command, the scenarios that can no longer run are one
//! "not run" line instead of dozens of refused connections.
//!
//! - `blame`: a departure written as the ERR-4 failure of the scenario it happened in.
//! - `account`: the report being built, told to the sink as it grows.
//! - `supervision`: one scenario at a time, with the checks and restarts around it.

mod account;
mod blame;
mod supervision;

use std::collections::BTreeMap;
use std::time::Duration;

use super::TargetSpec;
use crate::runner::{RunOptions, RunResult};
use crate::scenario::Scenario;

use account::Account;
use supervision::Supervision;

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

/// Runs `scenarios` against one target, supervising it; `sink` sees everything as it happens.
pub async fn run_target(
    spec: &TargetSpec,
    scenarios: &[Scenario],
    opts: &RunOptions,
    policy: &Policy,
    sink: impl FnMut(Event<'_>) + Send,
) -> TargetReport {
    let started = std::time::Instant::now();
    let mut account = Account::new(spec, sink);
    if let Some(mut run) = Supervision::start(spec, scenarios, opts, policy, &mut account).await {
        run.run_all().await;
        run.finish().await;
    }
    let mut report = account.into_report();
    report.seconds = started.elapsed().as_secs_f64();
    report
}
