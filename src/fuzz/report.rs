//! What `msrp-check fuzz` prints: the banner, each finding as it is written, the summary, and
//! the exit rule (0: nothing found and the run finished; 1: findings, or it stopped early).

use std::fmt;

use msrp_reference::Profile;

use super::{generate, Finding, FuzzConfig, Summary};

impl FuzzConfig {
    /// The first line: `msrp-check fuzz: seed 1, profile strict, 60 s`.
    pub fn banner(&self) -> String {
        let budget = match (self.only, self.cases, self.duration) {
            (Some(n), _, _) => format!("case {n} only"),
            (None, Some(c), Some(d)) => format!("{c} cases or {:.0} s", d.as_secs_f64()),
            (None, Some(c), None) => format!("{c} cases"),
            (None, None, Some(d)) => format!("{:.0} s", d.as_secs_f64()),
            (None, None, None) => String::new(),
        };
        format!(
            "msrp-check fuzz: seed {}, profile {}, {budget}",
            self.seed,
            self.profile.as_str()
        )
    }
}

/// A finding as printed the moment it is written: its signature and what happened, the case
/// before and after shrinking, where the reproduction is, and how plain msrp-check judged it.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "FINDING {} ({}): {}",
            self.sig.stem(),
            self.sig.rule,
            self.what
        )?;
        write!(
            f,
            "  case --seed {} --case {} ({}), found at {:.1} s: {} connections, {} writes, {} bytes; shrunk in {} runs to {} connections, {} writes, {} bytes",
            self.original.seed,
            self.original.index,
            self.original.kind,
            self.at,
            self.original.connections(),
            self.original.writes(),
            self.original.bytes(),
            self.shrink_runs,
            self.shrunk.connections(),
            self.shrunk.writes(),
            self.shrunk.bytes()
        )?;
        if let Some(p) = &self.path {
            write!(
                f,
                "\n  reproduction: {} (pcap and transcript beside it)",
                p.display()
            )?;
        }
        if let Some(r) = &self.replay {
            write!(f, "\n  replayed by plain msrp-check: {r}")?;
        }
        Ok(())
    }
}

/// The closing lines: totals, one line per finding, and why the run stopped early if it did.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fuzz summary: {} cases in {:.1} s ({:.1} cases/s), {} findings ({} failing cases), {} target restarts, target peak rss {:.1} MiB",
            self.cases,
            self.seconds,
            self.cases as f64 / self.seconds.max(1e-3),
            self.findings.len(),
            self.failing,
            self.restarts,
            self.peak_rss as f64 / 1048576.0
        )?;
        for x in &self.findings {
            write!(
                f,
                "\n  {} ×{}: {} ({} writes after shrinking){}",
                x.sig.stem(),
                x.count,
                x.what,
                x.shrunk.writes(),
                x.path
                    .as_ref()
                    .map(|p| format!(" → {}", p.display()))
                    .unwrap_or_default()
            )?;
        }
        if let Some(why) = &self.stopped {
            write!(f, "\nstopped early: {why}")?;
        }
        Ok(())
    }
}

impl Summary {
    /// Whether the run is a success: it finished and found nothing (exit status 0).
    pub fn clean(&self) -> bool {
        self.findings.is_empty() && self.stopped.is_none()
    }
}

/// `--dump`: cases `from..=to` of `seed`, each with its actions, one per line.
pub fn dump(seed: u64, from: u64, to: u64, profile: Profile) -> String {
    let mut out = String::new();
    for i in from..=to {
        let case = generate(seed, i, profile);
        out.push_str(&format!("case {i} ({}):\n", case.kind));
        for action in &case.actions {
            out.push_str(&format!("  {action}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_clean_only_when_it_finished_and_found_nothing() {
        let mut s = Summary {
            cases: 10,
            seconds: 2.0,
            ..Summary::default()
        };
        assert!(s.clean());
        assert!(s
            .to_string()
            .starts_with("fuzz summary: 10 cases in 2.0 s (5.0 cases/s), 0 findings"));
        s.stopped = Some("the target could not be started".into());
        assert!(!s.clean());
        assert!(s
            .to_string()
            .ends_with("\nstopped early: the target could not be started"));
    }

    #[test]
    fn dump_lists_every_action_of_each_case() {
        let text = dump(1, 0, 1, Profile::Strict);
        assert!(text.starts_with("case 0 ("), "{text}");
        assert!(text.contains("\ncase 1 ("), "{text}");
        assert!(
            text.lines().any(|l| l.starts_with("  connect c0")),
            "{text}"
        );
    }
}
