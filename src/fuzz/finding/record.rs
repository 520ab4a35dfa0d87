//! Recording a new finding: shrunk (commands only: each try needs a fresh process), written
//! as a scenario, and replayed with the ordinary runner on a fresh target, keeping the pcap
//! and transcript beside it.

use std::path::{Path, PathBuf};

use super::scenario_yaml;
use crate::fuzz::case::Case;
use crate::fuzz::{shrink, Finding, FuzzConfig, Observation, Target};
use crate::runner::RunResult;

/// Shrinks a new finding, writes its scenario, and replays it on a fresh target.
pub(crate) async fn record(
    target: &mut Target,
    cfg: &FuzzConfig,
    original: Case,
    obs: Observation,
    at: f64,
) -> Finding {
    let (shrunk, shrink_runs) = if target.supervised() && cfg.shrink_budget > 0 {
        shrink::shrink(target, cfg, &original, &obs.sig).await
    } else {
        (original.clone(), 0)
    };
    let mut f = Finding {
        sig: obs.sig.clone(),
        what: obs.what.clone(),
        original,
        shrunk,
        shrink_runs,
        path: None,
        replay: None,
        at,
        count: 1,
    };
    let path = match write_scenario(cfg, &f, &obs) {
        Ok(path) => path,
        Err(why) => {
            f.replay = Some(why);
            return f;
        }
    };
    f.path = Some(path.clone());
    if !target.supervised() {
        f.replay = Some("not replayed: the target is an address and stopped serving".into());
        return f;
    }
    f.replay = replay(target, cfg, &path, &f).await;
    f
}

/// Writes the shrunk case of `f` as `<stem>-<n>.yaml` in the findings folder (the first `n`
/// free), with the target's last stderr lines as comments. `Err` says what failed.
fn write_scenario(cfg: &FuzzConfig, f: &Finding, obs: &Observation) -> Result<PathBuf, String> {
    if let Err(e) = std::fs::create_dir_all(&cfg.findings) {
        return Err(format!("cannot create {}: {e}", cfg.findings.display()));
    }
    let stem = obs.sig.stem();
    let n = (1..)
        .find(|n| !cfg.findings.join(format!("{stem}-{n}.yaml")).exists())
        .unwrap_or(1);
    let id = format!("fuzz-{stem}-{n}");
    let path = cfg.findings.join(format!("{stem}-{n}.yaml"));
    let mut text = scenario_yaml(&f.shrunk, &f.sig, &id, cfg.profile, &obs.what);
    if !obs.stderr.is_empty() {
        text.push_str("# the target's stderr ended with:\n");
        for l in &obs.stderr {
            text.push_str(&format!("#   {}\n", l.replace(['\r', '\n'], " ")));
        }
    }
    if let Err(e) = std::fs::write(&path, text) {
        return Err(format!("cannot write {}: {e}", path.display()));
    }
    Ok(path)
}

/// The replay: plain msrp-check's supervised run of the one scenario at `path` (the fuzzing
/// process stopped first), its pcap and transcript written beside it. The line says how it
/// was judged; `None` when the run gave no result.
async fn replay(target: &mut Target, cfg: &FuzzConfig, path: &Path, f: &Finding) -> Option<String> {
    target.stop().await;
    let sc = match crate::scenario::load(path) {
        Ok(sc) => sc,
        Err(e) => return Some(format!("the written scenario does not load: {e}")),
    };
    let spec = crate::target::TargetSpec {
        label: "fuzz".into(),
        source: cfg.target.clone(),
    };
    let opts = crate::runner::RunOptions {
        timeout: cfg.wait,
        profile: cfg.profile,
        ..Default::default()
    };
    let policy = crate::target::Policy {
        listen_wait: cfg.listen_wait,
        ..Default::default()
    };
    let report =
        crate::target::run_target(&spec, std::slice::from_ref(&sc), &opts, &policy, |_| {}).await;
    target.restarts += 1;
    let r = report.results.first()?;
    let _ = crate::pcap::write_pcap(&path.with_extension("pcap"), &r.records, r.started);
    let _ = std::fs::write(path.with_extension("txt"), &r.transcript);
    Some(replay_line(f, r))
}

/// How plain msrp-check judged the replay `r` of finding `f`, in one line.
fn replay_line(f: &Finding, r: &RunResult) -> String {
    let o = &r.outcome;
    // Plain msrp-check bounds no memory: the scenario replays the traffic, and only the fuzz
    // command (with --max-rss) judges what it does to the target's size.
    let unbounded = if f.sig.oracle == "rss" {
        format!(
            " (plain msrp-check sets no memory bound; `msrp-check fuzz --seed {} --case {} --max-rss …` judges it again)",
            f.original.seed, f.original.index
        )
    } else {
        String::new()
    };
    match &o.failure {
        Some(fl) => format!(
            "{:?} at step {}: {} — {}",
            o.verdict, fl.step, fl.rule, fl.actual
        ),
        None => format!(
            "{:?}{}{unbounded}",
            o.verdict,
            o.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
    }
}
