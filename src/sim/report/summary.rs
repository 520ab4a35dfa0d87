//! The closing summary table msrp-sim prints: what ran, what was delivered, how fast, what
//! went wrong, and the verdict on integrity.

use std::fmt::Write as _;

use super::{SimReport, Verdict};

impl SimReport {
    /// The closing summary table.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        self.write_heading(&mut s);
        self.write_integrity(&mut s);
        self.write_latency(&mut s);
        self.write_errors(&mut s);
        self.write_thresholds(&mut s);
        self.write_verdict(&mut s);
        s
    }

    /// Warnings and notes first, then the run's size and throughput.
    fn write_heading(&self, s: &mut String) {
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
    }

    /// Sent against delivered, for messages and files, and the acknowledgements of files.
    fn write_integrity(&self, s: &mut String) {
        let i = &self.integrity;
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
    }

    /// One row of percentiles per kind of operation.
    fn write_latency(&self, s: &mut String) {
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
    }

    /// The target's ERRORs (or "none"), then msrp-sim's own, if any.
    fn write_errors(&self, s: &mut String) {
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
    }

    /// How many `--threshold`s were met, and each one with what was observed.
    fn write_thresholds(&self, s: &mut String) {
        if self.thresholds.is_empty() {
            return;
        }
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

    /// The last line, without a newline.
    fn write_verdict(&self, s: &mut String) {
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
    }
}
