//! Pass/fail thresholds on a run's results, like k6's: `--threshold 'msg.p99<20ms'`,
//! `--threshold 'lost==0'`. A run that misses one fails (exit status 1: the target did not
//! meet the operator's bar), and every threshold is shown in the report with what was
//! observed.
//!
//! A threshold on a latency that has no measurement (`file.p99` in a run that sent no
//! file) fails: a bar that nothing showed was met is not met.

use serde::{Deserialize, Serialize};

use super::report::SimReport;

/// Why a `--threshold` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// No comparison operator.
    #[error(
        "\"{0}\": expected METRIC OP VALUE, e.g. msg.p99<20ms or lost==0 (OP: < <= > >= == !=)"
    )]
    Syntax(String),
    /// A metric this module does not know.
    #[error("\"{0}\": unknown metric (KIND.p50|p90|p99|p99.9|max with KIND msg|list|file|connect; lost, duplicated, reordered, corrupted, not_sent, delivered, sent, each also as msg.X or file.X; errors, unacked, connect_failures, ops_per_s, mb_per_s)")]
    Metric(String),
    /// A value that is not a number, or a unit that does not fit the metric.
    #[error("\"{0}\": not a value for this metric (latencies take us, ms or s, default ms; counts take a number)")]
    Value(String),
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    /// A latency quantile of one operation kind, in milliseconds (`max` is quantile 1).
    Latency {
        /// `msg`, `list`, `file` or `connect`.
        kind: String,
        /// `p50`, `p90`, `p95`, `p99`, `p99.9` (or `p999`) or `max`, as written.
        quantile: String,
    },
    /// A delivery count: `msg`, `file` or both (`None`).
    Count {
        /// `msg`, `file`, or `None` for both added together.
        kind: Option<String>,
        /// Which count: `lost`, `duplicated`, `reordered`, `corrupted`, `not_sent`, `delivered` or
        /// `sent`.
        what: String,
    },
    /// Errors of the target (every reason).
    Errors,
    /// Files delivered but never acknowledged.
    Unacked,
    /// Connections that failed.
    ConnectFailures,
    /// Operations per second over the run.
    OpsPerSecond,
    /// Megabytes delivered per second.
    MbPerSecond,
}

/// One parsed `--threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// As the operator wrote it.
    pub expr: String,
    /// What is compared.
    pub metric: Metric,
    /// How the observed value must compare with `value`.
    pub op: Op,
    /// In milliseconds for latencies.
    pub value: f64,
}

const COUNTS: [&str; 7] = [
    "lost",
    "duplicated",
    "reordered",
    "corrupted",
    "not_sent",
    "delivered",
    "sent",
];

fn quantile_of(q: &str) -> Option<f64> {
    match q {
        "p50" => Some(0.5),
        "p90" => Some(0.9),
        "p95" => Some(0.95),
        "p99" => Some(0.99),
        "p99.9" | "p999" => Some(0.999),
        "max" => Some(1.0),
        _ => None,
    }
}

impl std::str::FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Threshold, ThresholdError> {
        let expr = s.trim();
        // Two-character operators first, so `<=` is not read as `<`.
        let (at, op, len) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .iter()
        .find_map(|(t, op)| expr.find(t).map(|i| (i, *op, t.len())))
        .ok_or_else(|| ThresholdError::Syntax(expr.to_string()))?;
        let name = expr[..at].trim().to_ascii_lowercase();
        let raw = expr[at + len..].trim();
        let metric = match name.split_once('.') {
            Some((kind @ ("msg" | "list" | "file" | "connect"), q)) if quantile_of(q).is_some() => {
                Metric::Latency {
                    kind: kind.to_string(),
                    quantile: q.to_string(),
                }
            }
            Some((kind @ ("msg" | "file"), what)) if COUNTS.contains(&what) => Metric::Count {
                kind: Some(kind.to_string()),
                what: what.to_string(),
            },
            Some(_) => return Err(ThresholdError::Metric(name)),
            None if COUNTS.contains(&name.as_str()) => Metric::Count {
                kind: None,
                what: name.clone(),
            },
            None => match name.as_str() {
                "errors" => Metric::Errors,
                "unacked" => Metric::Unacked,
                "connect_failures" => Metric::ConnectFailures,
                "ops_per_s" | "throughput" => Metric::OpsPerSecond,
                "mb_per_s" => Metric::MbPerSecond,
                _ => return Err(ThresholdError::Metric(name)),
            },
        };
        let bad = || ThresholdError::Value(expr.to_string());
        let value = if matches!(metric, Metric::Latency { .. }) {
            let (num, scale) = if let Some(n) = raw.strip_suffix("ms") {
                (n, 1.0)
            } else if let Some(n) = raw.strip_suffix("us").or(raw.strip_suffix("µs")) {
                (n, 1e-3)
            } else if let Some(n) = raw.strip_suffix('s') {
                (n, 1000.0)
            } else {
                (raw, 1.0)
            };
            num.trim().parse::<f64>().map_err(|_| bad())? * scale
        } else {
            raw.parse::<f64>().map_err(|_| bad())?
        };
        if !value.is_finite() {
            return Err(bad());
        }
        Ok(Threshold {
            expr: expr.to_string(),
            metric,
            op,
            value,
        })
    }
}

/// A threshold with what the run showed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// The threshold judged.
    pub threshold: Threshold,
    /// `None` when the run measured nothing for it (then it fails).
    pub observed: Option<f64>,
    /// Whether the observed value met it; false when nothing was observed.
    pub passed: bool,
}

impl Outcome {
    /// The observed value with its unit, for the summary.
    pub fn observed_text(&self) -> String {
        match (self.observed, &self.threshold.metric) {
            (None, _) => "no data".into(),
            (Some(v), Metric::Latency { .. }) => format!("{v:.3} ms"),
            (Some(v), Metric::OpsPerSecond | Metric::MbPerSecond) => format!("{v:.1}"),
            (Some(v), _) => format!("{v}"),
        }
    }
}

impl Threshold {
    /// This threshold's metric in `r`.
    pub fn observe(&self, r: &SimReport) -> Option<f64> {
        let i = &r.integrity;
        match &self.metric {
            Metric::Latency { kind, quantile } => {
                let l = r.latency.get(kind).filter(|l| l.count > 0)?;
                let q = quantile_of(quantile)?;
                // The exact quantile from the histogram when it reads; the stored
                // percentiles otherwise (p95 is not stored).
                match l.histogram() {
                    Ok(h) => Some(h.value_at_quantile(q) as f64 / 1000.0),
                    Err(_) => match quantile.as_str() {
                        "p50" => Some(l.p50_ms),
                        "p90" => Some(l.p90_ms),
                        "p99" => Some(l.p99_ms),
                        "p99.9" | "p999" => Some(l.p999_ms),
                        "max" => Some(l.max_ms),
                        _ => None,
                    },
                }
            }
            Metric::Count { kind, what } => {
                let pick = |d: &super::ledger::Delivery| match what.as_str() {
                    "lost" => d.lost,
                    "duplicated" => d.duplicated,
                    "reordered" => d.reordered,
                    "corrupted" => d.corrupted,
                    "not_sent" => d.not_sent,
                    "delivered" => d.delivered,
                    _ => d.sent,
                };
                Some(match kind.as_deref() {
                    Some("msg") => pick(&i.messages),
                    Some(_) => pick(&i.files),
                    None => pick(&i.messages) + pick(&i.files),
                } as f64)
            }
            Metric::Errors => Some(r.errors.values().sum::<u64>() as f64),
            Metric::Unacked => Some(i.files_unacked as f64),
            Metric::ConnectFailures => Some(r.connect_failures as f64),
            Metric::OpsPerSecond => Some(r.ops_per_second()),
            Metric::MbPerSecond => Some(r.mb_per_second()),
        }
    }

    /// Judges this threshold on `r`.
    pub fn judge(&self, r: &SimReport) -> Outcome {
        let observed = self.observe(r);
        Outcome {
            threshold: self.clone(),
            observed,
            passed: observed.is_some_and(|v| self.op.holds(v, self.value)),
        }
    }
}

/// Judges every threshold on `r` and records the outcomes in it.
pub fn apply(thresholds: &[Threshold], r: &mut SimReport) {
    r.thresholds = thresholds.iter().map(|t| t.judge(r)).collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_with_units() {
        let t: Threshold = "msg.p99<20ms".parse().unwrap();
        assert_eq!(t.op, Op::Lt);
        assert_eq!(t.value, 20.0);
        assert_eq!(
            t.metric,
            Metric::Latency {
                kind: "msg".into(),
                quantile: "p99".into()
            }
        );
        assert_eq!(
            "file.max <= 1.5s".parse::<Threshold>().unwrap().value,
            1500.0
        );
        assert_eq!("list.p50<500us".parse::<Threshold>().unwrap().value, 0.5);
        let lost: Threshold = "lost==0".parse().unwrap();
        assert_eq!((lost.op, lost.value), (Op::Eq, 0.0));
        assert!(matches!(
            "msg.lost>=1".parse::<Threshold>().unwrap().metric,
            Metric::Count { kind: Some(_), .. }
        ));
        assert!(matches!(
            "nonsense<3".parse::<Threshold>(),
            Err(ThresholdError::Metric(_))
        ));
        assert!(matches!(
            "lost 0".parse::<Threshold>(),
            Err(ThresholdError::Syntax(_))
        ));
        assert!(matches!(
            "lost==zero".parse::<Threshold>(),
            Err(ThresholdError::Value(_))
        ));
    }
}
