//! What a run looks like second by second while it goes: one [`Snapshot`] a second, kept
//! for the metrics endpoint ([`super::metrics`]) and written as a CSV row (`--csv`).
//!
//! The CSV is written and flushed row by row, so `tail -f` follows a run and a run that is
//! cut short still leaves its timeline.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, RwLock};

/// Cumulative delivery counts of one kind, as the ledger sees them during the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveDelivery {
    /// Handed to the connection.
    pub sent: u64,
    /// Registered, then not handed to the connection (the simulator's failure).
    pub not_sent: u64,
    /// Arrived (the first copy).
    pub delivered: u64,
    /// Extra copies that arrived after the first.
    pub duplicated: u64,
    /// Messages that arrived ahead of an earlier one of the same pair (ORD-1).
    pub reordered: u64,
    /// Arrived damaged, or a file nobody sent.
    pub corrupted: u64,
}

impl LiveDelivery {
    /// Sent and not (yet) delivered: in flight while the run goes, lost if it stays.
    pub fn undelivered(&self) -> u64 {
        self.sent.saturating_sub(self.delivered)
    }
}

/// Latency of one operation kind since the start: quantiles in seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveLatency {
    /// Operations measured since the start.
    pub count: u64,
    /// Sum of every latency, seconds (from the histogram: its mean times its count).
    pub sum_seconds: f64,
    /// `(quantile, seconds)` for [`QUANTILES`].
    pub quantiles: Vec<(f64, f64)>,
    /// The 99th percentile of the last second alone, milliseconds (`None`: nothing then).
    pub p99_last_second_ms: Option<f64>,
}

/// Quantiles published per kind.
pub const QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

/// The operation kinds whose latency is published, in order.
pub const KINDS: [&str; 3] = ["msg", "list", "file"];

/// The state of a run at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Seconds since the run started.
    pub elapsed: f64,
    /// The rate the schedule asks for now (operations per second).
    pub target_rate: f64,
    /// Simulated clients of the run.
    pub clients: u64,
    /// Clients that have connected and logged in so far.
    pub connected: u64,
    /// Operations completed (deliveries, LIST replies, ACKs) in the last second.
    pub ops_last_second: u64,
    /// Operations completed since the start.
    pub completed: u64,
    /// Message text and file body bytes delivered since the start.
    pub bytes_delivered: u64,
    /// Message counts since the start.
    pub messages: LiveDelivery,
    /// File counts since the start.
    pub files: LiveDelivery,
    /// Files whose ACK came back to their sender, since the start.
    pub files_acked: u64,
    /// The target's errors by reason.
    pub errors: BTreeMap<String, u64>,
    /// The simulator's own failures.
    pub harness_errors: BTreeMap<String, u64>,
    /// By kind ([`KINDS`]).
    pub latency: BTreeMap<&'static str, LiveLatency>,
    /// `Some((messages, files))` lost, once the run has drained and been judged.
    pub lost: Option<(u64, u64)>,
}

/// The CSV header; [`Snapshot::csv_row`] follows it.
pub const CSV_HEADER: &str = "second,target_rate,connected,ops,bytes,msg_sent,msg_delivered,msg_undelivered,file_sent,file_delivered,file_undelivered,files_acked,duplicated,reordered,corrupted,errors,harness_errors,msg_p99_ms,list_p99_ms,file_p99_ms";

impl Snapshot {
    /// One CSV line (no newline) for the second that just ended; latencies of that second
    /// alone, empty when nothing of that kind completed in it.
    pub fn csv_row(&self) -> String {
        let p99 = |k: &str| {
            self.latency
                .get(k)
                .and_then(|l| l.p99_last_second_ms)
                .map(|v| format!("{v:.3}"))
                .unwrap_or_default()
        };
        let (m, f) = (&self.messages, &self.files);
        format!(
            "{:.0},{:.1},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.elapsed,
            self.target_rate,
            self.connected,
            self.ops_last_second,
            self.bytes_delivered,
            m.sent,
            m.delivered,
            m.undelivered(),
            f.sent,
            f.delivered,
            f.undelivered(),
            self.files_acked,
            m.duplicated + f.duplicated,
            m.reordered + f.reordered,
            m.corrupted + f.corrupted,
            self.errors.values().sum::<u64>(),
            self.harness_errors.values().sum::<u64>(),
            p99("msg"),
            p99("list"),
            p99("file"),
        )
    }
}

/// Where a run publishes its snapshots: the latest for the metrics endpoint, every one to
/// the CSV file if there is one. Shared between the run and whoever watches it.
#[derive(Default)]
pub struct Observer {
    latest: RwLock<Option<Arc<Snapshot>>>,
    csv: Mutex<Option<Box<dyn Write + Send>>>,
    /// The first CSV write that failed; the run goes on, the binary reports it at the end.
    csv_error: Mutex<Option<std::io::Error>>,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer").finish_non_exhaustive()
    }
}

impl Observer {
    /// An observer that writes the CSV timeline to `out` (the header at once).
    pub fn with_csv(mut out: Box<dyn Write + Send>) -> std::io::Result<Observer> {
        writeln!(out, "{CSV_HEADER}")?;
        out.flush()?;
        Ok(Observer {
            csv: Mutex::new(Some(out)),
            ..Observer::default()
        })
    }

    /// Publishes a second's snapshot (`row`: also as a CSV line; the final snapshot after
    /// the run is not a second of its own).
    pub fn publish(&self, s: Snapshot, row: bool) {
        if row {
            if let Ok(mut csv) = self.csv.lock() {
                if let Some(out) = csv.as_mut() {
                    let written = writeln!(out, "{}", s.csv_row()).and_then(|_| out.flush());
                    if let Err(e) = written {
                        // One failure is enough to know: stop writing, keep the error.
                        *csv = None;
                        if let Ok(mut slot) = self.csv_error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                }
            }
        }
        if let Ok(mut l) = self.latest.write() {
            *l = Some(Arc::new(s));
        }
    }

    /// The latest snapshot, if the run has published one.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest.read().ok().and_then(|l| l.clone())
    }

    /// The CSV write error, if one happened.
    pub fn take_csv_error(&self) -> Option<std::io::Error> {
        self.csv_error.lock().ok().and_then(|mut e| e.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_has_as_many_fields_as_the_header() {
        let mut s = Snapshot::default();
        s.latency.insert(
            "msg",
            LiveLatency {
                p99_last_second_ms: Some(1.5),
                ..LiveLatency::default()
            },
        );
        let row = s.csv_row();
        assert_eq!(
            row.split(',').count(),
            CSV_HEADER.split(',').count(),
            "{row}"
        );
        assert!(row.ends_with("1.500,,"), "{row}");
    }
}
