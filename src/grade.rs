//! Grading several targets in one run — a class of student servers, say. Targets run
//! concurrently, each one scenario at a time on its own ports; commands hard-wired to a port
//! share it one after another. Each target gets a summary row: counts, how it ended, its root
//! causes; as a table for people and as CSV for spreadsheets.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use crate::rootcause::{root_causes, RootCause};
use crate::runner::RunOptions;
use crate::scenario::Scenario;
use crate::target::run::is_not_run;
use crate::target::{run_target, Event, Policy, TargetReport, TargetSpec};
use crate::verdict::{Outcome, Totals};

/// One target's line in a grading summary.
#[derive(Debug, Clone, Serialize)]
pub struct TargetSummary {
    /// The target's label.
    pub label: String,
    /// Its address or command.
    pub target: String,
    /// `ok`, `warned`, `failed`, `died Nx`, `gone`, `mute`, `unreachable`, `not started`.
    pub status: String,
    /// Counts of the scenarios that ran (or were skipped for a setting).
    pub totals: Totals,
    /// Scenarios that could not run because the target was gone, mute or not started.
    pub not_run: usize,
    /// Times the target died or stopped answering.
    pub deaths: usize,
    /// Wall time of the target's run.
    pub seconds: f64,
    /// Why the run stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Its failures grouped by first departure, largest group first.
    pub root_causes: Vec<RootCause>,
    /// What was said about the target: started, restarted, its dialect, a preflight diagnosis.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl TargetSummary {
    /// The summary of one target's run.
    pub fn of(report: &TargetReport) -> TargetSummary {
        let (gone, ran): (Vec<Outcome>, Vec<Outcome>) = report
            .results
            .iter()
            .map(|r| r.outcome.clone())
            .partition(|o| is_not_run(o.reason.as_deref()));
        let totals = Totals::of(&ran);
        let status = if report.start_failed {
            "not started".to_string()
        } else if report
            .stopped
            .as_deref()
            .is_some_and(|s| s.starts_with("preflight: cannot connect"))
        {
            "unreachable".to_string()
        } else if report
            .stopped
            .as_deref()
            .is_some_and(|s| s.starts_with("preflight"))
        {
            "mute".to_string()
        } else if report.stopped.is_some() {
            "gone".to_string()
        } else if !report.deaths.is_empty() {
            format!("died {}x", report.deaths.len())
        } else if totals.failed > 0 || totals.errors > 0 {
            "failed".to_string()
        } else if totals.warned > 0 {
            "warned".to_string()
        } else {
            "ok".to_string()
        };
        TargetSummary {
            label: report.label.clone(),
            target: report.shown_as.trim_matches('`').to_string(),
            status,
            totals,
            not_run: gone.len(),
            deaths: report.deaths.len(),
            seconds: report.seconds,
            stopped: report.stopped.clone(),
            root_causes: root_causes(&ran),
            notes: report.notes.clone(),
        }
    }

    /// The summary of outcomes that ran against a target without supervision (the embedded
    /// server): nothing not run, no deaths noticed.
    pub fn of_outcomes(
        label: &str,
        target: &str,
        outcomes: &[Outcome],
        seconds: f64,
    ) -> TargetSummary {
        let totals = Totals::of(outcomes);
        let status = if totals.failed > 0 || totals.errors > 0 {
            "failed"
        } else if totals.warned > 0 {
            "warned"
        } else {
            "ok"
        };
        TargetSummary {
            label: label.to_string(),
            target: target.to_string(),
            status: status.to_string(),
            totals,
            not_run: 0,
            deaths: 0,
            seconds,
            stopped: None,
            root_causes: root_causes(outcomes),
            notes: Vec::new(),
        }
    }

    /// Its largest root causes, `MSG-2: wrong name field (33)`, at most `n`.
    pub fn top_causes(&self, n: usize) -> Vec<String> {
        let mut v: Vec<String> = self
            .root_causes
            .iter()
            .take(n)
            .map(|c| format!("{} ({})", c.title(), c.scenarios.len()))
            .collect();
        if self.root_causes.len() > n {
            v.push(format!("+{} more", self.root_causes.len() - n));
        }
        v
    }
}

/// Between the starts of two targets.
const STAGGER: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs every target concurrently (started 100 ms apart); `make_sink(i)` gives target `i` its event sink, and
/// `on_done` sees each report as soon as its target is finished.
pub async fn run_targets<S>(
    specs: &[TargetSpec],
    scenarios: Arc<Vec<Scenario>>,
    opts: &RunOptions,
    policy: &Policy,
    make_sink: impl Fn(usize) -> S,
    mut on_done: impl FnMut(usize, &TargetReport),
) -> Vec<TargetReport>
where
    S: FnMut(Event<'_>) + Send + 'static,
{
    let ports = port_turns(specs);
    let mut set = tokio::task::JoinSet::new();
    let mut index_of = HashMap::new();
    for (i, spec) in specs.iter().enumerate() {
        let turn = spec
            .fixed_port()
            .and_then(|p| ports.get(&p))
            .filter(|(_, n)| *n > 1)
            .map(|(lock, n)| (lock.clone(), *n));
        let (spec, scenarios, opts, policy) = (
            spec.clone(),
            scenarios.clone(),
            opts.clone(),
            policy.clone(),
        );
        let mut sink = make_sink(i);
        let task = set.spawn(async move {
            let shared = match (&turn, spec.fixed_port()) {
                (Some((_, n)), Some(port)) => Some(format!(
                    "its command has no {{port}}: it listens on the fixed port {port}, so it runs alone there, taking turns with {} other target(s) on that port",
                    n - 1
                )),
                _ => None,
            };
            if let Some(text) = &shared {
                sink(Event::Note(text));
            }
            // Thirty servers and their preflights at the same instant make a burst of load
            // that the first scenarios' short settle times feel; a small stagger spreads it.
            tokio::time::sleep(STAGGER * i as u32).await;
            let _turn = match &turn {
                Some((lock, _)) => Some(lock.lock().await),
                None => None,
            };
            let mut report = run_target(&spec, &scenarios, &opts, &policy, sink).await;
            report.notes.extend(shared);
            (i, report)
        });
        index_of.insert(task.id(), i);
    }
    let mut done: Vec<Option<TargetReport>> = specs.iter().map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, report)) => {
                on_done(i, &report);
                done[i] = Some(report);
            }
            Err(e) => {
                // A panic in one target's run must not lose the others.
                if let Some(&i) = index_of.get(&e.id()) {
                    let report = failed_report(&specs[i], &e);
                    on_done(i, &report);
                    done[i] = Some(report);
                }
            }
        }
    }
    done.into_iter().flatten().collect()
}

/// Commands hard-wired to one port cannot run side by side: per such port, the lock its
/// targets take turns with, and how many share it.
fn port_turns(specs: &[TargetSpec]) -> HashMap<u16, (Arc<tokio::sync::Mutex<()>>, usize)> {
    let mut ports: HashMap<u16, (Arc<tokio::sync::Mutex<()>>, usize)> = HashMap::new();
    for spec in specs {
        if let Some(p) = spec.fixed_port() {
            ports.entry(p).or_default().1 += 1;
        }
    }
    ports
}

/// The report of a target whose run panicked: nothing ran, and the note says why.
fn failed_report(spec: &TargetSpec, e: &tokio::task::JoinError) -> TargetReport {
    TargetReport {
        label: spec.label.clone(),
        shown_as: spec.describe(),
        results: Vec::new(),
        notes: vec![format!("harness task failed: {e}")],
        deaths: Vec::new(),
        stopped: Some(format!("harness task failed: {e}")),
        ran: false,
        start_failed: false,
        seconds: 0.0,
    }
}

/// The summary as a fixed-width table.
pub fn summary_table(rows: &[TargetSummary]) -> String {
    let w = rows.iter().map(|r| r.label.len()).max().unwrap_or(5).max(6);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<w$}  {:>6} {:>6} {:>6} {:>7} {:>6} {:>7}  {:>7}  {:<11}  root causes",
        "target", "passed", "failed", "warned", "skipped", "errors", "not run", "time", "status"
    );
    for r in rows {
        let t = &r.totals;
        let _ = writeln!(
            s,
            "{:<w$}  {:>6} {:>6} {:>6} {:>7} {:>6} {:>7}  {:>6.1}s  {:<11}  {}",
            r.label,
            t.passed,
            t.failed,
            t.warned,
            t.skipped,
            t.errors,
            r.not_run,
            r.seconds,
            r.status,
            r.top_causes(3).join("; ")
        );
    }
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The summary as CSV (RFC 4180), one row per target, root causes in one field.
pub fn summary_csv(rows: &[TargetSummary]) -> String {
    let mut s = String::from(
        "label,target,status,passed,failed,warned,skipped,errors,not_run,deaths,seconds,root_causes\r\n",
    );
    for r in rows {
        let t = &r.totals;
        let causes: Vec<String> = r
            .root_causes
            .iter()
            .map(|c| format!("{} ({})", c.title(), c.scenarios.len()))
            .collect();
        let _ = write!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{:.1},{}\r\n",
            csv_field(&r.label),
            csv_field(&r.target),
            csv_field(&r.status),
            t.passed,
            t.failed,
            t.warned,
            t.skipped,
            t.errors,
            r.not_run,
            r.deaths,
            r.seconds,
            csv_field(&causes.join("; "))
        );
    }
    s
}

/// The failures of a target grouped by first departure, largest first, for the human report
/// (empty when nothing departed).
pub fn root_cause_lines(summary: &TargetSummary) -> String {
    let mut s = String::new();
    if summary.root_causes.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "root causes (first departure of each scenario that did not pass, largest group first):"
    );
    // Groups of one scenario go on one line at the end: the list stays short.
    let (groups, single): (Vec<_>, Vec<_>) = summary
        .root_causes
        .iter()
        .partition(|c| c.scenarios.len() > 1);
    for c in groups {
        let shown: Vec<&str> = c.scenarios.iter().take(4).map(String::as_str).collect();
        let more = c.scenarios.len().saturating_sub(shown.len());
        let _ = writeln!(
            s,
            "  {:>3}  {}  — {}{}",
            c.scenarios.len(),
            c.title(),
            shown.join(", "),
            if more > 0 {
                format!(", +{more} more")
            } else {
                String::new()
            }
        );
    }
    if !single.is_empty() {
        // Named by rule only (the JSON, CSV and HTML reports have each one in full).
        let _ = writeln!(
            s,
            "  {:>3}  causes of one scenario each: {}",
            single.len(),
            rules_counted(&single).join(", ")
        );
    }
    s
}

/// `RULE` or `RULE ×N` for each rule of `causes`, sorted by rule.
fn rules_counted(causes: &[&RootCause]) -> Vec<String> {
    let mut rules: Vec<(&str, usize)> = Vec::new();
    for c in causes {
        match rules.iter_mut().find(|(r, _)| *r == c.rule) {
            Some((_, n)) => *n += 1,
            None => rules.push((&c.rule, 1)),
        }
    }
    rules.sort();
    rules
        .iter()
        .map(|(r, n)| {
            if *n > 1 {
                format!("{r} ×{n}")
            } else {
                r.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(rule: &str, kind: &str, scenarios: &[&str]) -> RootCause {
        RootCause {
            rule: rule.into(),
            kind: kind.into(),
            scenarios: scenarios.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn summary(root_causes: Vec<RootCause>) -> TargetSummary {
        let mut s = TargetSummary::of_outcomes("t", "t", &[], 0.0);
        s.root_causes = root_causes;
        s
    }

    #[test]
    fn no_root_cause_prints_nothing() {
        assert_eq!(root_cause_lines(&summary(Vec::new())), "");
    }

    #[test]
    fn groups_get_a_line_each_and_name_at_most_four_scenarios() {
        let text = root_cause_lines(&summary(vec![
            cause("MSG-2", "wrong name field", &["a", "b", "c", "d", "e", "f"]),
            cause("ERR-1", "nothing instead of ERROR", &["g", "h"]),
        ]));
        assert_eq!(
            text,
            "root causes (first departure of each scenario that did not pass, largest group first):\n\
             \x20   6  MSG-2: wrong name field  — a, b, c, d, +2 more\n\
             \x20   2  ERR-1: nothing instead of ERROR  — g, h\n"
        );
    }

    #[test]
    fn causes_of_one_scenario_share_a_line_counted_by_rule() {
        let text = root_cause_lines(&summary(vec![
            cause("MSG-2", "x", &["a", "b"]),
            cause("SRV-9", "y", &["c"]),
            cause("ERR-1", "z", &["d"]),
            cause("SRV-9", "w", &["e"]),
        ]));
        let last = text.lines().last().unwrap_or_default();
        assert_eq!(last, "    3  causes of one scenario each: ERR-1, SRV-9 ×2");
        assert_eq!(text.lines().count(), 3);
    }
}
