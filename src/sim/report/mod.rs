//! The simulator's report: parameters, integrity, throughput, latency histograms. The JSON
//! form keeps each histogram serialized (HdrHistogram V2, base64), so reports of several
//! runs or shards merge exactly: percentiles are recomputed from the merged histograms,
//! never averaged. Each report says which run it is ([`RunId`]: target, seed, shard), so
//! [`SimReport::merge_checked`] can refuse sets that would count a run twice or mix runs
//! that were not one.

mod merge;
mod summary;

use std::collections::BTreeMap;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::ledger::Integrity;

pub use merge::MergeError;

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
}
