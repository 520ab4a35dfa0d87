//! The simulator's report: parameters, integrity, throughput, latency histograms. The JSON
//! form keeps each histogram serialized (HdrHistogram V2, base64), so reports of several
//! runs or shards merge exactly: percentiles are recomputed from the merged histograms,
//! never averaged. Each report says which run it is ([`RunId`]: target, seed, shard), so
//! [`SimReport::merge_checked`] can refuse sets that would count a run twice or mix runs
//! that were not one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::ledger::Integrity;

/// Latencies are recorded in microseconds, up to an hour.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Percentiles of one operation kind, in milliseconds, and the histogram itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    /// Operations measured.
    pub count: u64,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// 99.9th percentile, milliseconds.
    pub p999_ms: f64,
    /// Slowest operation, milliseconds.
    pub max_ms: f64,
    /// HdrHistogram V2 serialization, base64.
    pub histogram: String,
}

impl Latency {
    /// The percentiles of a histogram of microseconds, with the histogram serialised.
    pub fn of(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        let mut bytes = Vec::new();
        // Serializing into a Vec cannot fail for a valid histogram.
        let _ = V2Serializer::new().serialize(h, &mut bytes);
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            histogram: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// The histogram back from its serialisation (to merge reports); an error says why it cannot be
    /// read.
    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.histogram)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| format!("histogram does not deserialize: {e:?}"))
    }
}

/// The target name of runs against the server embedded in msrp-sim.
pub const EMBEDDED: &str = "embedded reference server";

/// Adds `p` unless it is already there (one overlap can be seen from several inputs).
fn push_once(problems: &mut Vec<String>, p: String) {
    if !problems.contains(&p) {
        problems.push(p);
    }
}

/// Which run a report, or one part of a merged report, comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunId {
    /// `--target` as given, or "embedded reference server".
    pub target: String,
    /// `--seed` (shards of one run share it; each derives its own traffic from it).
    pub seed: u64,
    /// `I` of `--shard I/N`.
    pub shard: u32,
    /// `N` of `--shard I/N`.
    pub shards: u32,
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shard {}/{} (seed {}) of {}",
            self.shard, self.shards, self.seed, self.target
        )
    }
}

/// What a report concludes, and the exit status `msrp-sim` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything sent was delivered exactly once, in order, intact (exit 0).
    Ok,
    /// The target lost, duplicated, reordered or corrupted something, left files
    /// unacknowledged, sent ERRORs, refused connections or closed them (exit 1).
    TargetFailed,
    /// The simulator hit its own limits (open files, ports, memory): its counts are not a
    /// verdict on the target (exit 3).
    HarnessFailed,
}

/// Why `msrp-sim merge` refuses a set of reports.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The reports are not the shards of one run; each line names the files concerned.
    #[error("these reports do not make one run (--force merges them anyway, with a warning in the merged report):\n  {}", .0.join("\n  "))]
    Inconsistent(Vec<String>),
    /// A report's histogram could not be read or merged.
    #[error("{0}")]
    Invalid(String),
}

/// One simulation's (or a merge's) results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimReport {
    /// `--target` as given, or "embedded reference server" ([`EMBEDDED`]).
    pub target: String,
    /// The options the run was started with (a merge lists each run's).
    pub parameters: Vec<BTreeMap<String, String>>,
    /// Duration of the run, seconds.
    pub seconds: f64,
    /// Simulated clients asked for (`--clients`).
    pub clients: u64,
    /// Clients that connected and logged in.
    pub connected: u64,
    /// Clients the target failed to connect or log in (failures of the simulator's own, such as
    /// running out of descriptors, are in `harness_errors` instead).
    pub connect_failures: u64,
    /// Operations by kind: `msg` and `file` sent, `list` requests answered.
    pub operations: BTreeMap<String, u64>,
    /// Files that went by P2P and were fetched whole (part of `operations["file"]`).
    #[serde(default)]
    pub p2p_files: u64,
    /// Message text and file body bytes that arrived at their recipients.
    pub bytes_delivered: u64,
    /// What was sent, what arrived, and how (loss, duplicates, order, corruption, ACKs).
    pub integrity: Integrity,
    /// The target's errors by kind: ERROR reason tokens, invalid frames, closed connections,
    /// unexpected frames.
    pub errors: BTreeMap<String, u64>,
    /// Latency by operation kind (`connect`, `msg`, `list`, `file`); kinds with no measurement are
    /// absent.
    pub latency: BTreeMap<String, Latency>,
    /// Operations completed per second of the run, for charts.
    #[serde(default)]
    pub timeline: Vec<u64>,
    /// The runs this report covers: one for a run, every input's for a merge. Older
    /// reports lack it; [`SimReport::run_ids`] then reads `parameters`.
    #[serde(default)]
    pub runs: Vec<RunId>,
    /// For a merged report: the files it was merged from, in order.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Failures of the simulator itself (what it was doing: which resource ran out), with
    /// counts. What they kept from being sent is in `integrity.*.not_sent`, never in `lost`.
    #[serde(default)]
    pub harness_errors: BTreeMap<String, u64>,
    /// Things the simulator did that a reader should know (it raised its open-file limit).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Doubts about the report itself (a forced merge of inconsistent reports, missing
    /// shards).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The `--threshold`s judged on this report; one missed fails the run (exit 1).
    #[serde(default)]
    pub thresholds: Vec<super::threshold::Outcome>,
}

impl SimReport {
    /// Operations of every kind per second of the run.
    pub fn ops_per_second(&self) -> f64 {
        self.operations.values().sum::<u64>() as f64 / self.seconds.max(1e-9)
    }

    /// Megabytes (10^6 bytes) delivered per second of the run.
    pub fn mb_per_second(&self) -> f64 {
        self.bytes_delivered as f64 / 1e6 / self.seconds.max(1e-9)
    }

    /// True when the target lost, duplicated, reordered, corrupted or left unacknowledged
    /// anything that was sent, answered with an ERROR, or refused connections. The
    /// simulator's own failures (`harness_errors`) are not counted here.
    pub fn failed(&self) -> bool {
        self.integrity.faulty()
            || self.errors.values().sum::<u64>() > 0
            || self.connect_failures > 0
    }

    /// True when a `--threshold` was missed.
    pub fn thresholds_failed(&self) -> bool {
        self.thresholds.iter().any(|t| !t.passed)
    }

    /// The conclusion: the simulator's own failures come first, since they make the
    /// target's counts unreliable (an embedded server out of descriptors loses clients).
    /// A missed threshold fails the target like a loss does: it did not meet the bar the
    /// operator set.
    pub fn verdict(&self) -> Verdict {
        if !self.harness_errors.is_empty() {
            Verdict::HarnessFailed
        } else if self.failed() || self.thresholds_failed() {
            Verdict::TargetFailed
        } else {
            Verdict::Ok
        }
    }

    /// The runs this report covers: `runs`, or for older reports what `parameters` say
    /// (`None` when they do not say target, seed and shard).
    pub fn run_ids(&self) -> Option<Vec<RunId>> {
        if !self.runs.is_empty() {
            return Some(self.runs.clone());
        }
        self.parameters
            .iter()
            .map(|p| {
                let (i, n) = p.get("shard")?.split_once('/')?;
                Some(RunId {
                    target: p
                        .get("target")
                        .cloned()
                        .unwrap_or_else(|| self.target.clone()),
                    seed: p.get("seed")?.parse().ok()?,
                    shard: i.parse().ok()?,
                    shards: n.parse().ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .filter(|ids| !ids.is_empty())
    }

    /// True for a report made by `merge` (it covers several runs or names its sources).
    pub fn is_merged(&self) -> bool {
        !self.sources.is_empty() || self.parameters.len() > 1 || self.runs.len() > 1
    }

    /// Merges `inputs` (each with the file it came from, for messages) after checking that
    /// they are the shards of one run: no run twice (the same shard given twice, or a
    /// merged report together with one of its own inputs), one target, one seed, one shard
    /// count. Inconsistent sets are refused unless `force`, which merges them and records
    /// each problem in `warnings`. Missing shards are always a warning, never a refusal.
    pub fn merge_checked(
        inputs: &[(String, SimReport)],
        force: bool,
    ) -> Result<SimReport, MergeError> {
        let mut problems = Vec::new();
        let mut ids: Vec<(&str, bool, RunId)> = Vec::new();
        let mut labels = std::collections::BTreeSet::new();
        for (label, r) in inputs {
            if !labels.insert(label.as_str()) {
                problems.push(format!("{label} is given twice"));
                continue;
            }
            match r.run_ids() {
                Some(run) => ids.extend(
                    run.into_iter()
                        .map(|id| (label.as_str(), r.is_merged(), id)),
                ),
                None => problems.push(format!(
                    "{label} does not say which run it is (target, seed, shard)"
                )),
            }
        }
        let mut first_seen: BTreeMap<&RunId, (&str, bool)> = BTreeMap::new();
        for (label, merged, id) in &ids {
            match first_seen.get(id) {
                None => {
                    first_seen.insert(id, (label, *merged));
                }
                Some((other, other_merged)) => push_once(
                    &mut problems,
                    if *merged || *other_merged {
                        let (m, o) = if *merged {
                            (label, other)
                        } else {
                            (other, label)
                        };
                        if m == o {
                            format!("{m} is a merged report that covers {id} twice")
                        } else {
                            format!(
                                "{m} is a merged report that already includes {id}, which {o} \
                             also covers: it would be counted twice (merge the shard \
                             reports themselves)"
                            )
                        }
                    } else {
                        format!("{other} and {label} are both {id}: the same shard twice")
                    },
                ),
            }
        }
        let distinct = |key: &dyn Fn(&RunId) -> String, what: &str| -> Option<String> {
            let mut by: BTreeMap<String, Vec<&str>> = BTreeMap::new();
            for (label, _, id) in &ids {
                let files = by.entry(key(id)).or_default();
                if !files.contains(label) {
                    files.push(label);
                }
            }
            (by.len() > 1).then(|| {
                let parts: Vec<String> = by
                    .iter()
                    .map(|(v, files)| format!("{v} ({})", files.join(", ")))
                    .collect();
                format!("different {what}: {}", parts.join(" vs "))
            })
        };
        problems.extend(distinct(&|id| id.target.clone(), "targets"));
        problems.extend(distinct(
            &|id| id.seed.to_string(),
            "seeds (shards of one run share --seed)",
        ));
        problems.extend(distinct(
            &|id| id.shards.to_string(),
            "shard counts (the N of --shard I/N)",
        ));
        if !problems.is_empty() && !force {
            return Err(MergeError::Inconsistent(problems));
        }
        let reports: Vec<SimReport> = inputs.iter().map(|(_, r)| r.clone()).collect();
        let mut out = SimReport::merge(&reports).map_err(MergeError::Invalid)?;
        out.runs = ids.iter().map(|(_, _, id)| id.clone()).collect();
        out.sources = inputs.iter().map(|(label, _)| label.clone()).collect();
        out.warnings.extend(
            problems
                .into_iter()
                .map(|p| format!("merged with --force although {p}")),
        );
        if out.runs.len() > 1 && out.runs.iter().any(|id| id.target == EMBEDDED) {
            out.warnings.push(format!(
                "each run against the {EMBEDDED} had a server of its own: the merged counts \
                 are not the load of one server"
            ));
        }
        let counts: std::collections::BTreeSet<u32> = out.runs.iter().map(|id| id.shards).collect();
        if let [n] = counts.iter().copied().collect::<Vec<_>>()[..] {
            let present: std::collections::BTreeSet<u32> =
                out.runs.iter().map(|id| id.shard).collect();
            let missing: Vec<String> = (0..n)
                .filter(|i| !present.contains(i))
                .map(|i| format!("{i}/{n}"))
                .collect();
            if !missing.is_empty() {
                out.warnings.push(format!(
                    "shards missing: {} (this report covers {} of {n})",
                    missing.join(", "),
                    present.len()
                ));
            }
        }
        Ok(out)
    }

    /// Combines reports of runs that happened at the same time (shards): counts add up,
    /// histograms merge, the duration is the longest. It checks nothing about the set;
    /// [`SimReport::merge_checked`] does.
    pub fn merge(reports: &[SimReport]) -> Result<SimReport, String> {
        let first = reports.first().ok_or("nothing to merge")?;
        let mut out = first.clone();
        // Thresholds judged one shard do not hold for the sum; merge judges its own.
        out.thresholds.clear();
        let mut hists: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
        for (k, l) in &first.latency {
            hists.insert(k.clone(), l.histogram()?);
        }
        for r in &reports[1..] {
            out.parameters.extend(r.parameters.iter().cloned());
            out.seconds = out.seconds.max(r.seconds);
            out.clients += r.clients;
            out.connected += r.connected;
            out.connect_failures += r.connect_failures;
            out.p2p_files += r.p2p_files;
            for (k, v) in &r.operations {
                *out.operations.entry(k.clone()).or_default() += v;
            }
            out.bytes_delivered += r.bytes_delivered;
            out.integrity.add(&r.integrity);
            for (k, v) in &r.errors {
                *out.errors.entry(k.clone()).or_default() += v;
            }
            for (k, v) in &r.harness_errors {
                *out.harness_errors.entry(k.clone()).or_default() += v;
            }
            out.runs.extend(r.runs.iter().cloned());
            out.notes.extend(r.notes.iter().cloned());
            out.warnings.extend(r.warnings.iter().cloned());
            for (k, l) in &r.latency {
                let h = l.histogram()?;
                match hists.get_mut(k) {
                    Some(acc) => acc
                        .add(&h)
                        .map_err(|e| format!("histograms of {k} do not merge: {e:?}"))?,
                    None => {
                        hists.insert(k.clone(), h);
                    }
                }
            }
            if out.timeline.len() < r.timeline.len() {
                out.timeline.resize(r.timeline.len(), 0);
            }
            for (i, v) in r.timeline.iter().enumerate() {
                out.timeline[i] += v;
            }
        }
        if out.target != "merged" && reports.iter().any(|r| r.target != first.target) {
            out.target = "merged".into();
        }
        out.latency = hists
            .iter()
            .map(|(k, h)| (k.clone(), Latency::of(h)))
            .collect();
        Ok(out)
    }

    /// The closing summary table.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let i = &self.integrity;
        for w in &self.warnings {
            let _ = writeln!(s, "WARNING: {w}");
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let _ = writeln!(
            s,
            "target {}  clients {} (connected {}, failed {})  {:.1} s",
            self.target, self.clients, self.connected, self.connect_failures, self.seconds
        );
        let _ = writeln!(
            s,
            "throughput {:.0} ops/s, {:.2} MB/s",
            self.ops_per_second(),
            self.mb_per_second()
        );
        let _ = writeln!(
            s,
            "{:<10} {:>9} {:>9} {:>6} {:>6} {:>6} {:>7} {:>8}",
            "", "sent", "delivered", "lost", "dup", "reord", "corrupt", "not sent"
        );
        for (name, d) in [("messages", &i.messages), ("files", &i.files)] {
            let _ = writeln!(
                s,
                "{name:<10} {:>9} {:>9} {:>6} {:>6} {:>6} {:>7} {:>8}",
                d.sent, d.delivered, d.lost, d.duplicated, d.reordered, d.corrupted, d.not_sent
            );
        }
        let _ = writeln!(
            s,
            "files acked {}, unacked {}, unmatched ACKs {}",
            i.files_acked, i.files_unacked, i.acks_unmatched
        );
        let _ = writeln!(
            s,
            "{:<10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "latency", "count", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
        );
        for (k, l) in &self.latency {
            let _ = writeln!(
                s,
                "{k:<10} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
            );
        }
        if self.errors.is_empty() {
            let _ = writeln!(s, "errors: none");
        } else {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(s, "errors: {}", list.join(", "));
        }
        if !self.harness_errors.is_empty() {
            let list: Vec<String> = self
                .harness_errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(s, "harness errors (msrp-sim's own): {}", list.join(", "));
        }
        if !self.thresholds.is_empty() {
            let missed = self.thresholds.iter().filter(|t| !t.passed).count();
            let _ = writeln!(
                s,
                "thresholds: {} of {} met{}",
                self.thresholds.len() - missed,
                self.thresholds.len(),
                if missed > 0 { " — FAILED" } else { "" }
            );
            for t in &self.thresholds {
                let _ = writeln!(
                    s,
                    "  {:<4}  {:<24} observed {}",
                    if t.passed { "ok" } else { "FAIL" },
                    t.threshold.expr,
                    t.observed_text()
                );
            }
        }
        let verdict = match self.verdict() {
            // The integrity line is about deliveries alone; thresholds have their own.
            Verdict::TargetFailed if !self.failed() => Verdict::Ok,
            v => v,
        };
        let _ = write!(
            s,
            "integrity: {}",
            match verdict {
                Verdict::Ok =>
                    "ok — every message and file delivered exactly once, in order, intact",
                Verdict::TargetFailed => "FAILED",
                Verdict::HarnessFailed =>
                    "NOT JUDGED — msrp-sim could not do its job (harness errors above); \
                     what it could not send is counted as \"not sent\", not as lost",
            }
        );
        s
    }
}
