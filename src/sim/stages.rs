//! The operation rate over time: one fixed rate, or ramp stages like k6's
//! `ramping-arrival-rate` (`100:10s,2000:30s,0:5s`).
//!
//! Each stage ramps linearly from the rate the previous one ended at (the first from 0) to
//! its own target over its duration; a stage of `0s` jumps. The schedule gives the intended
//! time of every operation, so latency still counts from when an operation *should* have
//! gone out, whatever the rate is doing.

use std::time::Duration;

/// Why a `--rate` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// A part that is neither a rate nor `RATE:DURATION`.
    #[error("\"{0}\": expected a rate (2000) or stages RATE:DURATION,… (100:10s,2000:30s,0:5s)")]
    Syntax(String),
    /// A rate that is negative, not finite, or (for a fixed rate) zero.
    #[error("\"{0}\": a rate is a number of operations per second, above 0 for a fixed rate")]
    Rate(String),
    /// A duration without a unit or with an unknown one.
    #[error("\"{0}\": a duration is a number with ms, s, m or h (10s, 1.5m)")]
    Duration(String),
    /// Stages that schedule nothing.
    #[error("the stages schedule no operation (every rate is 0)")]
    Empty,
}

/// One segment of the schedule: the rate ramps from `from` to `to` over `secs`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    from: f64,
    to: f64,
    secs: f64,
}

impl Segment {
    /// Operations scheduled in the first `t` seconds of this segment.
    fn ops_at(&self, t: f64) -> f64 {
        let t = t.clamp(0.0, self.secs);
        if self.secs <= 0.0 {
            return 0.0;
        }
        self.from * t + (self.to - self.from) * t * t / (2.0 * self.secs)
    }

    /// The time into this segment at which `n` operations have been scheduled
    /// (`n` at most `ops_at(secs)`).
    fn time_of(&self, n: f64) -> f64 {
        if n <= 0.0 {
            return 0.0;
        }
        let a = (self.to - self.from) / (2.0 * self.secs);
        let b = self.from;
        // The root of a·t² + b·t − n in the form that stays exact when a is tiny.
        let disc = (b * b + 4.0 * a * n).max(0.0);
        let den = b + disc.sqrt();
        if den <= 0.0 {
            return self.secs;
        }
        (2.0 * n / den).min(self.secs)
    }
}

/// The rate schedule of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum RateSpec {
    /// The same rate for the whole run (the length comes from `--duration`/`--messages`).
    Fixed(f64),
    /// Ramp stages; the run lasts as long as they do.
    Stages(Vec<(f64, Duration)>),
}

impl std::fmt::Display for RateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateSpec::Fixed(r) => write!(f, "{r}"),
            RateSpec::Stages(s) => {
                let parts: Vec<String> = s
                    .iter()
                    .map(|(r, d)| format!("{r}:{}s", d.as_secs_f64()))
                    .collect();
                write!(f, "{}", parts.join(","))
            }
        }
    }
}

fn duration(s: &str) -> Result<Duration, RateError> {
    let bad = || RateError::Duration(s.to_string());
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| s.split_at(i))
        .ok_or_else(bad)?;
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(bad()),
    };
    if !secs.is_finite() || !(0.0..=1e7).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

impl std::str::FromStr for RateSpec {
    type Err = RateError;

    /// `2000` or `100:10s,2000:30s,0:5s`.
    fn from_str(s: &str) -> Result<RateSpec, RateError> {
        let rate = |v: &str| -> Result<f64, RateError> {
            let r: f64 = v
                .trim()
                .parse()
                .map_err(|_| RateError::Syntax(v.to_string()))?;
            if r.is_finite() && r >= 0.0 {
                Ok(r)
            } else {
                Err(RateError::Rate(v.to_string()))
            }
        };
        if !s.contains(':') {
            let r = rate(s)?;
            return if r > 0.0 {
                Ok(RateSpec::Fixed(r))
            } else {
                Err(RateError::Rate(s.to_string()))
            };
        }
        let mut stages = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (r, d) = part
                .split_once(':')
                .ok_or_else(|| RateError::Syntax(part.to_string()))?;
            stages.push((rate(r)?, duration(d)?));
        }
        let spec = RateSpec::Stages(stages);
        if spec.schedule().total_ops() < 1.0 {
            return Err(RateError::Empty);
        }
        Ok(spec)
    }
}

impl RateSpec {
    /// The schedule this spec describes.
    pub fn schedule(&self) -> Schedule {
        match self {
            RateSpec::Fixed(r) => Schedule {
                segments: Vec::new(),
                fixed: *r,
            },
            RateSpec::Stages(stages) => {
                let mut from = 0.0;
                let segments = stages
                    .iter()
                    .map(|(to, d)| {
                        let s = Segment {
                            from,
                            to: *to,
                            secs: d.as_secs_f64(),
                        };
                        from = *to;
                        s
                    })
                    .collect();
                Schedule {
                    segments,
                    fixed: 0.0,
                }
            }
        }
    }

    /// How long the stages last (`None` for a fixed rate).
    pub fn duration(&self) -> Option<Duration> {
        match self {
            RateSpec::Fixed(_) => None,
            RateSpec::Stages(s) => Some(s.iter().map(|(_, d)| *d).sum()),
        }
    }
}

/// Operations over time: how many are due by a time, and when the k-th is.
#[derive(Debug, Clone)]
pub struct Schedule {
    segments: Vec<Segment>,
    /// The rate when there are no segments.
    fixed: f64,
}

impl Schedule {
    /// A fixed rate for as long as the run goes.
    pub fn fixed(rate: f64) -> Schedule {
        Schedule {
            segments: Vec::new(),
            fixed: rate,
        }
    }

    /// Operations scheduled in the first `t` seconds.
    pub fn ops_at(&self, t: f64) -> f64 {
        if self.segments.is_empty() {
            return self.fixed * t.max(0.0);
        }
        let mut done = 0.0;
        let mut start = 0.0;
        for s in &self.segments {
            if t <= start {
                break;
            }
            done += s.ops_at(t - start);
            start += s.secs;
        }
        done
    }

    /// Every operation the schedule holds (infinite for a fixed rate).
    pub fn total_ops(&self) -> f64 {
        if self.segments.is_empty() {
            return f64::INFINITY;
        }
        self.segments.iter().map(|s| s.ops_at(s.secs)).sum()
    }

    /// The intended time (seconds from the start) of operation `k` (0-based), or `None`
    /// once the stages are over.
    pub fn time_of(&self, k: u64) -> Option<f64> {
        let k = k as f64;
        if self.segments.is_empty() {
            return (self.fixed > 0.0).then(|| k / self.fixed);
        }
        let (mut done, mut start) = (0.0, 0.0);
        for s in &self.segments {
            let here = s.ops_at(s.secs);
            // Strictly below: the k-th operation falls inside this segment.
            if k < done + here {
                return Some(start + s.time_of(k - done));
            }
            done += here;
            start += s.secs;
        }
        None
    }

    /// The rate the schedule asks for at `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        if self.segments.is_empty() {
            return self.fixed;
        }
        let mut start = 0.0;
        for s in &self.segments {
            if t < start + s.secs {
                let f = ((t - start) / s.secs).clamp(0.0, 1.0);
                return s.from + (s.to - s.from) * f;
            }
            start += s.secs;
        }
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_and_ramp_linearly() {
        let spec: RateSpec = "100:10s,2000:30s,0:5s".parse().unwrap();
        assert_eq!(spec.duration(), Some(Duration::from_secs(45)));
        let s = spec.schedule();
        // 0→100 over 10 s is 500 operations, 100→2000 over 30 s 31 500, 2000→0 over 5 s 5 000.
        assert!((s.total_ops() - 37_000.0).abs() < 1e-6);
        assert!((s.rate_at(5.0) - 50.0).abs() < 1e-9);
        assert!((s.rate_at(25.0) - 1050.0).abs() < 1e-9);
        assert_eq!(s.rate_at(50.0), 0.0);
        // time_of inverts ops_at.
        for k in [0u64, 1, 499, 500, 10_000, 36_999] {
            let t = s.time_of(k).unwrap();
            assert!((s.ops_at(t) - k as f64).abs() < 1e-3, "k {k} t {t}");
        }
        assert_eq!(s.time_of(37_000), None);
    }

    #[test]
    fn a_zero_length_stage_jumps_and_a_plain_number_is_a_fixed_rate() {
        let s = "200:0s,200:2s".parse::<RateSpec>().unwrap().schedule();
        assert!((s.total_ops() - 400.0).abs() < 1e-9);
        assert!((s.time_of(100).unwrap() - 0.5).abs() < 1e-9);
        assert_eq!("2000".parse::<RateSpec>(), Ok(RateSpec::Fixed(2000.0)));
        assert_eq!(Schedule::fixed(10.0).time_of(5), Some(0.5));
    }

    #[test]
    fn bad_rates_are_refused_with_the_reason() {
        assert!(matches!("0".parse::<RateSpec>(), Err(RateError::Rate(_))));
        assert!(matches!(
            "100:10".parse::<RateSpec>(),
            Err(RateError::Duration(_))
        ));
        assert!(matches!(
            "x:10s".parse::<RateSpec>(),
            Err(RateError::Syntax(_))
        ));
        assert_eq!("0:10s".parse::<RateSpec>(), Err(RateError::Empty));
        assert!(matches!(
            "-5:1s".parse::<RateSpec>(),
            Err(RateError::Rate(_))
        ));
    }
}
