//! Running one case and asking the oracles, in the order that makes the first answer the
//! cause: the process died, it stopped serving, it grew past `--max-rss`, and only then (for
//! a target alive and serving) the model's verdict on what was delivered.

use std::time::Duration;

use super::exec::{self, Execution};
use super::{model, Case, FuzzConfig, Observation, Signature, Target};
use crate::target::preflight::{preflight, Answer, Preflight};
use crate::target::{Exit, TargetProcess};

/// Runs `case` and asks the oracles. `Err` when the target cannot be (re)started.
pub(crate) async fn run_case(
    target: &mut Target,
    case: &Case,
    cfg: &FuzzConfig,
    peak_rss: &mut u64,
) -> Result<Option<Observation>, String> {
    let addr = target.ensure().await?;
    let exec = exec::execute(case, addr, cfg.wait, cfg.profile).await;
    if let Some(obs) = death(target, Duration::from_millis(20)).await {
        return Ok(Some(obs));
    }
    let probe = preflight(addr, cfg.wait).await;
    if let Some(obs) = death(target, Duration::from_millis(10)).await {
        return Ok(Some(obs));
    }
    if let Some(obs) = not_serving(target, &probe) {
        return Ok(Some(obs));
    }
    if let Some(obs) = over_max_rss(target, cfg, peak_rss) {
        return Ok(Some(obs));
    }
    // Only a target that is alive and serving is held to the model: a death or a hang above
    // is the finding, and the deliveries it cut short are its consequences.
    Ok(model_departure(target, case, &exec, cfg))
}

/// The target process's death, if it exits within `wait` (never for an address).
async fn death(target: &mut Target, wait: Duration) -> Option<Observation> {
    let p = target.process.as_mut()?;
    let exit = p.wait_exit(wait).await?;
    Some(died(p, exit))
}

/// A death as an observation: its signal or exit status names the oracle.
fn died(p: &TargetProcess, exit: Exit) -> Observation {
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
}

/// A LIST probe on a fresh connection that was refused or not answered.
fn not_serving(target: &Target, probe: &Preflight) -> Option<Observation> {
    if probe.answers() {
        return None;
    }
    let oracle = match probe.answer {
        Answer::Unreachable(_) => "refused",
        _ => "mute",
    };
    Some(Observation {
        sig: Signature {
            oracle: oracle.into(),
            rule: "ERR-4".into(),
        },
        what: format!(
            "the target stopped serving: {}",
            probe.diagnosis().unwrap_or_default()
        ),
        stderr: target.stderr_tail(),
    })
}

/// The process's resident memory, kept in `peak_rss`, when it passes `--max-rss`.
fn over_max_rss(target: &Target, cfg: &FuzzConfig, peak_rss: &mut u64) -> Option<Observation> {
    let rss = super::rss_of(target.process.as_ref()?.pid())?;
    *peak_rss = (*peak_rss).max(rss);
    let max = cfg.max_rss.filter(|m| rss > *m)?;
    Some(Observation {
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
    })
}

/// The model oracle's most telling departure, for a model case.
fn model_departure(
    target: &Target,
    case: &Case,
    exec: &Execution,
    cfg: &FuzzConfig,
) -> Option<Observation> {
    let conv = case.model.as_ref()?;
    let (sig, what) = model::judge(conv, exec, cfg.profile)?;
    Some(Observation {
        sig,
        what,
        stderr: target.stderr_tail(),
    })
}
