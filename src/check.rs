//! Choosing scenarios and running them: against a foreign target one after another, or each
//! against its own fresh embedded reference server (which allows parallel jobs).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use msrp_reference::server::{ServerConfig, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::rules::{Decision, Level, DECISIONS};
use crate::runner::{run_scenario, RunOptions, RunResult};
use crate::scenario::{Scenario, ServerSettings};
use crate::verdict::Verdict;

/// Which scenarios to run: `--only`/`--exclude` globs over scenario ids and rule IDs, `--tag`.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    /// Globs (`--only`); a scenario is run if its id or one of its rule IDs matches one. Empty:
    /// every scenario.
    pub only: Vec<glob::Pattern>,
    /// Globs (`--exclude`); a scenario whose id or a rule ID matches one is left out.
    pub exclude: Vec<glob::Pattern>,
    /// Tags (`--tag`); a scenario is run if it has one of them. Empty: any tags.
    pub tags: Vec<String>,
}

impl Selection {
    /// Parses comma-separated glob lists.
    pub fn new(only: &[String], exclude: &[String], tags: &[String]) -> Result<Selection, String> {
        let parse = |list: &[String]| -> Result<Vec<glob::Pattern>, String> {
            list.iter()
                .flat_map(|s| s.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|p| glob::Pattern::new(p).map_err(|e| format!("bad pattern \"{p}\": {e}")))
                .collect()
        };
        Ok(Selection {
            only: parse(only)?,
            exclude: parse(exclude)?,
            tags: tags
                .iter()
                .flat_map(|t| t.split(','))
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        })
    }

    fn hit(patterns: &[glob::Pattern], sc: &Scenario) -> bool {
        patterns
            .iter()
            .any(|p| p.matches(&sc.file.id) || sc.file.rules.iter().any(|r| p.matches(r)))
    }

    /// Whether `sc` is run under this selection.
    pub fn selects(&self, sc: &Scenario) -> bool {
        (self.only.is_empty() || Selection::hit(&self.only, sc))
            && !Selection::hit(&self.exclude, sc)
            && (self.tags.is_empty() || self.tags.iter().any(|t| sc.file.tags.contains(t)))
    }
}

/// Where scenarios run.
#[derive(Debug, Clone)]
pub enum Target {
    /// A fresh reference server per scenario, configured as the scenario asks.
    Embedded {
        /// The configuration every scenario's `server:` settings are applied over.
        base: ServerConfig,
        /// How many scenarios run at once (`-j`).
        jobs: usize,
    },
    /// A server someone else runs, with the settings its operator declared.
    Remote {
        /// The target's address.
        addr: SocketAddr,
        /// Settings the operator declared with `--server-setting KEY=VALUE` (`max-clients`,
        /// `max-text`, `handshake-timeout`).
        settings: BTreeMap<String, String>,
    },
}

/// The embedded server's configuration for a scenario.
pub fn embedded_config(base: &ServerConfig, s: &ServerSettings) -> ServerConfig {
    let mut c = base.clone();
    if let Some(v) = s.max_clients {
        c.max_clients = v;
    }
    if let Some(v) = s.max_text {
        c.max_text = v;
    }
    if let Some(v) = s.handshake_timeout {
        c.handshake_timeout = Duration::from_secs_f64(v);
    }
    if let Some(v) = s.frame_timeout {
        // 0 disables it, as `msrp-server --frame-timeout 0` does.
        c.frame_timeout = (v > 0.0).then(|| Duration::from_secs_f64(v));
    }
    c
}

/// A scenario's result when it is not run, for `reason`.
pub fn skipped(sc: &Scenario, reason: String) -> RunResult {
    RunResult::not_run(sc.outcome().not_run_as(Verdict::Skip, reason))
}

/// A scenario's result when it could not run, for `reason`.
pub fn errored(sc: &Scenario, reason: String) -> RunResult {
    let mut r = skipped(sc, reason);
    r.outcome.verdict = Verdict::Error;
    r
}

/// Runs `scenarios` against `target`; `report` sees each result in scenario order as soon as
/// it and all before it are done.
pub async fn run_all(
    scenarios: Vec<Scenario>,
    target: &Target,
    opts: &RunOptions,
    mut report: impl FnMut(&mut RunResult),
) -> Vec<RunResult> {
    let mut results: Vec<RunResult> = Vec::new();
    match target {
        Target::Remote { addr, settings } => {
            for sc in &scenarios {
                let result = match crate::settings::unmet(&sc.file.server, settings) {
                    Some(reason) => skipped(sc, reason),
                    None => {
                        let r = Box::pin(run_scenario(sc, *addr, opts)).await;
                        wait_names_freed(*addr, sc, opts.timeout).await;
                        r
                    }
                };
                let mut result = result;
                report(&mut result);
                results.push(result);
            }
        }
        Target::Embedded { base, jobs } => {
            let opts = Arc::new(opts.clone());
            let scenarios = Arc::new(scenarios);
            let run = |i: usize| {
                let (opts, scenarios) = (opts.clone(), scenarios.clone());
                let config = embedded_config(base, &scenarios[i].file.server);
                async move {
                    let sc = &scenarios[i];
                    match ServerHandle::start("127.0.0.1:0", config).await {
                        Ok(server) => {
                            let r = Box::pin(run_scenario(sc, server.local_addr(), &opts)).await;
                            server.shutdown().await;
                            r
                        }
                        Err(e) => errored(sc, format!("cannot start the embedded server: {e}")),
                    }
                }
            };
            let failed = |i: usize, e| errored(&scenarios[i], format!("harness task failed: {e}"));
            results =
                crate::ordered::run_in_order(scenarios.len(), *jobs, run, failed, report).await;
        }
    }
    results
}

/// After a scenario on a shared target, waits (up to 2 s) until none of its names is still
/// listed, so the next scenario finds the server as this one did.
pub async fn wait_names_freed(addr: SocketAddr, sc: &Scenario, wait: Duration) {
    static CHECKS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let names: Vec<&Vec<u8>> = sc.clients.wire.values().collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < deadline {
        let n = CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let checker = format!("~{:03}", n % 1000);
        let list = tokio::time::timeout(wait.min(Duration::from_millis(500)), async {
            let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
            s.write_all(checker.as_bytes()).await.ok()?;
            s.write_all(&[0, 3]).await.ok()?;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            while !buf.ends_with(b"\n\0") && buf.len() < 1 << 20 {
                let n = s.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Some(buf)
        })
        .await;
        match list {
            Ok(Some(text)) => {
                let listed = msrp_reference::list::names(&text);
                if !names.iter().any(|n| listed.contains(&&n[..])) {
                    return;
                }
            }
            // A target that cannot answer a LIST is judged by the scenarios, not here.
            _ => return,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Decision → scenarios with a step resting on it, in SPEC.md order (decisions that restate
/// a rule are listed with no scenarios: scenarios cite the rule).
pub fn decision_coverage(scenarios: &[Scenario]) -> Vec<(&'static Decision, Vec<String>)> {
    DECISIONS
        .iter()
        .map(|d| {
            let ids = scenarios
                .iter()
                .filter(|s| s.cited_decisions().contains(&d.id))
                .map(|s| s.file.id.clone())
                .collect();
            (d, ids)
        })
        .collect()
}

/// Rule → scenarios that check it, in SPEC.md order.
pub fn coverage(scenarios: &[Scenario]) -> Vec<(&'static str, Level, Vec<String>)> {
    // Client duties are covered by the client suite (`--client --coverage`).
    let scenarios = scenarios
        .iter()
        .map(|s| (&s.file.id[..], &s.file.rules[..]));
    crate::rules::coverage(|id| !crate::rules::is_client_duty(id), scenarios)
}
