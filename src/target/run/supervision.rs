//! One target's scenarios, one at a time, and the supervision around each: a new process for
//! `--restart-each`, the preflight before the first, and after each a look at whether the
//! target died or went mute, then a restart or the rest of the suite "not run".

use std::net::SocketAddr;
use std::time::Duration;

use msrp_reference::Profile;

use super::account::Account;
use super::blame::{blame, Departure};
use super::{Event, Policy, NOT_RUN};
use crate::check::{skipped, wait_names_freed};
use crate::runner::{run_scenario, RunOptions, RunResult};
use crate::scenario::Scenario;
use crate::settings::unmet as unmet_settings;
use crate::target::preflight::{preflight, Answer};
use crate::target::{TargetCommand, TargetProcess, TargetSource, TargetSpec};
use crate::verdict::Verdict;

/// Whether the suite goes on after a scenario.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Next,
    Stop,
}

/// How long a preflight or a liveness check waits for an answer.
fn answer_wait(opts: &RunOptions) -> Duration {
    opts.timeout.max(Duration::from_secs(2)) + Duration::from_secs(1)
}

/// A target being supervised through its suite.
pub(super) struct Supervision<'a, S> {
    spec: &'a TargetSpec,
    scenarios: &'a [Scenario],
    opts: &'a RunOptions,
    policy: &'a Policy,
    account: &'a mut Account<S>,
    /// The process msrp-check started, if the target is a command.
    process: Option<TargetProcess>,
    /// Where the target listens now (a restarted command may have a new port).
    addr: SocketAddr,
    /// A mute target is blamed once, not again on every failure after it.
    silence_reported: bool,
    /// The process has not served a scenario since it started (no need to restart it for
    /// --restart-each).
    fresh: bool,
    /// Whether the target answered the preflight; `None` until the first scenario that runs.
    answers: Option<bool>,
}

impl<'a, S: FnMut(Event<'_>) + Send> Supervision<'a, S> {
    /// Starts the target's command, if it is one; `None` when it could not be started (every
    /// scenario is then in `account` as not run).
    pub(super) async fn start(
        spec: &'a TargetSpec,
        scenarios: &'a [Scenario],
        opts: &'a RunOptions,
        policy: &'a Policy,
        account: &'a mut Account<S>,
    ) -> Option<Self> {
        let mut process = None;
        let addr = match &spec.source {
            TargetSource::Address(a) => *a,
            TargetSource::Command(cmd) => match TargetProcess::start(cmd, policy.listen_wait).await
            {
                Ok(p) => {
                    let text = format!("started `{}` (pid {}) on {}", p.command, p.pid(), p.addr);
                    account.note(text);
                    let a = p.addr;
                    process = Some(p);
                    a
                }
                Err(e) => {
                    let reason = format!("{NOT_RUN}the target could not be started: {e}");
                    account.report.start_failed = true;
                    account.give_up(e.to_string(), scenarios, 0, &reason);
                    return None;
                }
            },
        };
        Some(Supervision {
            spec,
            scenarios,
            opts,
            policy,
            account,
            process,
            addr,
            silence_reported: false,
            fresh: true,
            answers: None,
        })
    }

    /// Runs the scenarios in order until the end or until the target cannot be served any more.
    pub(super) async fn run_all(&mut self) {
        for index in 0..self.scenarios.len() {
            if self.run_one(index).await == Flow::Stop {
                break;
            }
        }
    }

    /// Stops the process, if one is running.
    pub(super) async fn finish(mut self) {
        if let Some(p) = self.process.take() {
            p.stop(self.policy.grace).await;
        }
    }

    /// Scenario `index`, with the checks before and after it.
    async fn run_one(&mut self, index: usize) -> Flow {
        let scenarios = self.scenarios;
        let sc = &scenarios[index];
        if let Some(reason) = unmet_settings(&sc.file.server, &self.policy.settings) {
            self.account.result(skipped(sc, reason));
            return Flow::Next;
        }
        if self.restart_each(index).await == Flow::Stop
            || self.preflight_once(index).await == Flow::Stop
        {
            return Flow::Stop;
        }
        self.account.report.ran = true;
        self.fresh = false;
        let mut result = Box::pin(run_scenario(sc, self.addr, self.opts)).await;
        let passed = matches!(result.outcome.verdict, Verdict::Pass | Verdict::Skip);
        if let Some(died) = self.death(sc, passed).await {
            blame(sc, &mut result, died);
            self.account.report.deaths.push(sc.file.id.clone());
            self.account.result(result);
            return self.after_death(index).await;
        }
        let stop_reason = self.check_alive(sc, passed, &mut result).await;
        self.account.result(result);
        match stop_reason {
            Some(reason) => self.after_silence(index, reason).await,
            None => Flow::Next,
        }
    }

    /// Under `--restart-each`, a new process for scenario `index` unless the one running has
    /// served nothing yet.
    async fn restart_each(&mut self, index: usize) -> Flow {
        if !self.policy.restart_each || !self.account.report.ran || self.fresh {
            return Flow::Next;
        }
        let spec = self.spec;
        let (Some(p), TargetSource::Command(cmd)) = (self.process.take(), &spec.source) else {
            return Flow::Next;
        };
        p.stop(self.policy.grace).await;
        match TargetProcess::start(cmd, self.policy.listen_wait).await {
            Ok(p) => {
                self.adopt(p);
                Flow::Next
            }
            Err(e) => {
                let reason = format!("{NOT_RUN}the target could not be restarted: {e}");
                self.give_up(e.to_string(), index, &reason)
            }
        }
    }

    /// Before the first scenario that runs: is the target there, and does it speak the
    /// dialect expected? A mute target stops the suite here unless `--keep-going`.
    async fn preflight_once(&mut self, index: usize) -> Flow {
        if self.answers.is_some() {
            return Flow::Next;
        }
        let first = preflight(self.addr, answer_wait(self.opts)).await;
        // Under --profile legacy the legacy shape is what is expected, not news.
        if let Some(n) = first
            .dialect_note()
            .filter(|_| self.opts.profile == Profile::Strict)
        {
            self.account.note(n.to_string());
        }
        self.answers = Some(first.answers());
        let Some(d) = first.diagnosis() else {
            return Flow::Next;
        };
        let keep_going = self.policy.keep_going;
        let mut text = format!("preflight: {d}");
        if !keep_going {
            text.push_str("; the suite is not run against it (--keep-going runs it anyway)");
        }
        self.account.note(text);
        if keep_going {
            return Flow::Next;
        }
        let reason = match &first.answer {
            Answer::Unreachable(e) => format!("{NOT_RUN}cannot connect to {e}"),
            _ => format!("{NOT_RUN}the target did not answer the preflight"),
        };
        self.give_up(format!("preflight: {d}"), index, &reason)
    }

    /// Whether the process died during `sc`, and how, with its last words. Either way the
    /// scenario's names are freed on the server before the next one.
    async fn death(&mut self, sc: &Scenario, passed: bool) -> Option<Departure> {
        let Some(p) = self.process.as_mut() else {
            wait_names_freed(self.addr, sc, self.opts.timeout).await;
            return None;
        };
        // A death shows in the scenario first (a reset); give its notice a moment (the
        // LIST of wait_names_freed below gives a late one more).
        let grace = if passed {
            Duration::ZERO
        } else {
            Duration::from_millis(50)
        };
        let mut exit = p.wait_exit(grace).await;
        if exit.is_none() {
            wait_names_freed(self.addr, sc, self.opts.timeout).await;
            exit = p.exit();
        }
        let exit = exit?;
        // Let the output readers catch its last words.
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Many servers report their errors on stdout; show it when stderr is silent.
        let stderr = p.stderr_tail(8);
        let output = if stderr.is_empty() {
            ("stdout", p.stdout_tail(8))
        } else {
            ("stderr", stderr)
        };
        Some(Departure::Died { exit, output })
    }

    /// After a death during scenario `index`: the dead process is cleaned up and, if scenarios
    /// remain, a command is started again.
    async fn after_death(&mut self, index: usize) -> Flow {
        if let Some(p) = self.process.take() {
            p.stop(self.policy.grace).await;
        }
        let (spec, scenarios) = (self.spec, self.scenarios);
        let TargetSource::Command(cmd) = &spec.source else {
            return Flow::Next;
        };
        if index + 1 >= scenarios.len() {
            return Flow::Next;
        }
        let id = &scenarios[index].file.id;
        match self.restart(cmd, "died", id).await {
            Ok(()) => Flow::Next,
            Err(e) => {
                let reason =
                    format!("{NOT_RUN}the target died during {id} and could not be restarted: {e}");
                self.give_up(e, index + 1, &reason)
            }
        }
    }

    /// A scenario that did not pass may have left the target mute or gone: if so, it is blamed
    /// for that, and the reason the rest may not run is returned.
    async fn check_alive(
        &mut self,
        sc: &Scenario,
        passed: bool,
        result: &mut RunResult,
    ) -> Option<String> {
        if passed || self.answers != Some(true) {
            return None;
        }
        let live = preflight(self.addr, answer_wait(self.opts)).await;
        let id = &sc.file.id;
        let (departure, reason) = match &live.answer {
            Answer::Unreachable(e) if self.process.is_none() => (
                Some(Departure::StoppedAccepting(e.clone())),
                format!("{NOT_RUN}the target stopped accepting connections during {id}"),
            ),
            Answer::Frame | Answer::Legacy => return None,
            _ if self.silence_reported => return None,
            _ => {
                self.silence_reported = true;
                (
                    live.diagnosis().map(Departure::StoppedAnswering),
                    format!("{NOT_RUN}the target stopped answering during {id}"),
                )
            }
        };
        blame(sc, result, departure?);
        self.account.report.deaths.push(id.clone());
        Some(reason)
    }

    /// After scenario `index` left the target mute or gone (`reason`): a command is replaced, as
    /// a dead one is; without one, the rest is not run unless `--keep-going`.
    async fn after_silence(&mut self, index: usize, reason: String) -> Flow {
        let spec = self.spec;
        if let (Some(p), TargetSource::Command(cmd)) = (self.process.take(), &spec.source) {
            p.stop(self.policy.grace).await;
            self.silence_reported = false;
            let id = &self.scenarios[index].file.id;
            return match self.restart(cmd, "stopped answering", id).await {
                Ok(()) => Flow::Next,
                Err(e) => {
                    let reason = format!("{reason}, and could not be restarted: {e}");
                    self.give_up(e, index + 1, &reason)
                }
            };
        }
        if self.policy.keep_going {
            return Flow::Next;
        }
        let stopped = reason.trim_start_matches(NOT_RUN).to_string();
        self.give_up(stopped, index + 1, &reason)
    }

    /// Starts the command again after it `what` ("died", "stopped answering") during scenario
    /// `id`, and notes where the new process listens; `Err` says why it did not start.
    async fn restart(&mut self, cmd: &TargetCommand, what: &str, id: &str) -> Result<(), String> {
        let p = TargetProcess::start(cmd, self.policy.listen_wait)
            .await
            .map_err(|e| e.to_string())?;
        let text = format!(
            "restarted `{}` (pid {}) on {} after it {what} during {id}",
            p.command,
            p.pid(),
            p.addr
        );
        self.account.note(text);
        self.adopt(p);
        self.fresh = true;
        Ok(())
    }

    /// `p` is the target from now on.
    fn adopt(&mut self, p: TargetProcess) {
        self.addr = p.addr;
        self.process = Some(p);
    }

    /// The suite stops at scenario `from` (`stopped` says why in the report, `reason` in each
    /// scenario's outcome).
    fn give_up(&mut self, stopped: String, from: usize, reason: &str) -> Flow {
        self.account.give_up(stopped, self.scenarios, from, reason);
        Flow::Stop
    }
}
