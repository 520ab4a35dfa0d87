//! The simulator's report: parameters, integrity, throughput, latency histograms. The JSON
//! form keeps each histogram serialized (HdrHistogram V2, base64), so reports of several
//! runs or shards merge exactly: percentiles are recomputed from the merged histograms,
//! never averaged.

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
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// HdrHistogram V2 serialization, base64.
    pub histogram: String,
}

impl Latency {
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

    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.histogram)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| format!("histogram does not deserialize: {e:?}"))
    }
}

/// One simulation's (or a merge's) results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimReport {
    pub target: String,
    /// The options the run was started with (a merge lists each run's).
    pub parameters: Vec<BTreeMap<String, String>>,
    pub seconds: f64,
    pub clients: u64,
    pub connected: u64,
    pub connect_failures: u64,
    pub operations: BTreeMap<String, u64>,
    pub bytes_delivered: u64,
    pub integrity: Integrity,
    pub errors: BTreeMap<String, u64>,
    pub latency: BTreeMap<String, Latency>,
    /// Operations completed per second of the run, for charts.
    #[serde(default)]
    pub timeline: Vec<u64>,
}

impl SimReport {
    pub fn ops_per_second(&self) -> f64 {
        self.operations.values().sum::<u64>() as f64 / self.seconds.max(1e-9)
    }

    pub fn mb_per_second(&self) -> f64 {
        self.bytes_delivered as f64 / 1e6 / self.seconds.max(1e-9)
    }

    /// Exit status 1 when anything was lost, duplicated, reordered, corrupted, left
    /// unacknowledged, refused with an ERROR, or could not connect.
    pub fn failed(&self) -> bool {
        self.integrity.faulty()
            || self.errors.values().sum::<u64>() > 0
            || self.connect_failures > 0
    }

    /// Combines reports of runs that happened at the same time (shards): counts add up,
    /// histograms merge, the duration is the longest.
    pub fn merge(reports: &[SimReport]) -> Result<SimReport, String> {
        let first = reports.first().ok_or("nothing to merge")?;
        let mut out = first.clone();
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
            for (k, v) in &r.operations {
                *out.operations.entry(k.clone()).or_default() += v;
            }
            out.bytes_delivered += r.bytes_delivered;
            out.integrity.add(&r.integrity);
            for (k, v) in &r.errors {
                *out.errors.entry(k.clone()).or_default() += v;
            }
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
            "{:<10} {:>9} {:>9} {:>6} {:>6} {:>6} {:>6}",
            "", "sent", "delivered", "lost", "dup", "reord", "corrupt"
        );
        for (name, d) in [("messages", &i.messages), ("files", &i.files)] {
            let _ = writeln!(
                s,
                "{name:<10} {:>9} {:>9} {:>6} {:>6} {:>6} {:>6}",
                d.sent, d.delivered, d.lost, d.duplicated, d.reordered, d.corrupted
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
        let _ = write!(
            s,
            "integrity: {}",
            if self.failed() {
                "FAILED"
            } else {
                "ok — every message and file delivered exactly once, in order, intact"
            }
        );
        s
    }
}
