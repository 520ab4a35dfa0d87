//! `msrp-check fuzz`: what its options mean, the run, and its exit status (0 nothing found,
//! 1 findings or a target that could not be started, 2 usage).

use std::time::Duration;

use super::{interrupted, FuzzArgs, Stop};
use crate::fuzz::FuzzConfig;
use crate::target::{resolve, TargetCommand, TargetSource};

/// The cases a run without `--cases`, `--case` or `--duration` tries.
pub const DEFAULT_CASES: u64 = 1000;

impl FuzzArgs {
    /// The run these options ask for, or why they make no sense.
    pub fn config(&self) -> Result<FuzzConfig, Stop> {
        let seconds_ok = |v: f64| v.is_finite() && v > 0.0 && v <= 86_400.0;
        for (name, v) in [
            ("--timeout", Some(self.timeout)),
            ("--start-timeout", Some(self.start_timeout)),
            ("--duration", self.duration),
            ("--max-rss", self.max_rss),
        ] {
            if let Some(v) = v.filter(|v| !seconds_ok(*v)) {
                return Err(Stop::Usage(format!("{name} {v}: give a positive number")));
            }
        }
        Ok(FuzzConfig {
            target: self.target_source()?,
            profile: self.profile,
            seed: self.seed,
            cases: self.cases.or(if self.duration.is_none() {
                Some(DEFAULT_CASES)
            } else {
                None
            }),
            duration: self.duration.map(Duration::from_secs_f64),
            only: self.case,
            max_rss: self.max_rss.map(|m| (m * 1048576.0) as u64),
            findings: self.findings.clone(),
            wait: Duration::from_secs_f64(self.timeout),
            shrink_budget: self.shrink_budget,
            listen_wait: Duration::from_secs_f64(self.start_timeout),
        })
    }

    /// The server fuzzed; `--dump` runs nothing, so it needs none.
    fn target_source(&self) -> Result<TargetSource, Stop> {
        Ok(match (&self.target, &self.server_cmd) {
            (Some(t), None) => match resolve(t) {
                Some(addr) => TargetSource::Address(addr),
                None => {
                    return Err(Stop::Usage(format!(
                        "--target \"{t}\": not a HOST:PORT that resolves"
                    )))
                }
            },
            (None, Some(c)) if !c.trim().is_empty() => {
                TargetSource::Command(TargetCommand::new(c, None, None))
            }
            _ if self.dump => {
                TargetSource::Address(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            }
            _ => {
                return Err(Stop::Usage(
                    "fuzz: give --target HOST:PORT or --server-cmd COMMAND".into(),
                ))
            }
        })
    }
}

/// The first and last case `--dump` prints.
fn dump_range(case: Option<u64>, cases: Option<u64>) -> Result<(u64, u64), Stop> {
    match (case, cases) {
        (Some(n), _) => Ok((n, n)),
        (None, Some(c)) => Ok((0, c.saturating_sub(1))),
        (None, None) => Err(Stop::Usage("--dump: give --case N or --cases N".into())),
    }
}

/// `msrp-check fuzz`: checks the flags, runs, prints the findings and a summary; returns the
/// exit status.
pub fn main(a: &FuzzArgs) -> u8 {
    match fuzz(a) {
        Ok(code) => code,
        Err(stop) => stop.report(),
    }
}

fn fuzz(a: &FuzzArgs) -> Result<u8, Stop> {
    let cfg = a.config()?;
    if a.dump {
        let (from, to) = dump_range(a.case, cfg.cases)?;
        print!("{}", crate::fuzz::report::dump(a.seed, from, to, a.profile));
        return Ok(0);
    }
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| Stop::Usage(format!("cannot start the runtime: {e}")))?;
    println!("{}", cfg.banner());
    let run = crate::fuzz::run(&cfg, |f| {
        eprintln!();
        println!("{f}");
    });
    let summary = rt.block_on(async {
        tokio::select! {
            s = run => Some(s),
            _ = interrupted() => None,
        }
    });
    let Some(s) = summary else {
        eprintln!("msrp-check fuzz: interrupted");
        return Ok(1);
    };
    println!("{s}");
    Ok(if s.clean() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> FuzzArgs {
        let all = [&["msrp-check", "fuzz"], args].concat();
        match super::super::Args::try_parse_from(all) {
            Ok(super::super::Args {
                command: Some(super::super::Command::Fuzz(f)),
                ..
            }) => f,
            other => panic!("not a fuzz command line: {other:?}"),
        }
    }

    fn usage(a: &FuzzArgs) -> String {
        match a.config() {
            Err(Stop::Usage(m)) => m,
            other => panic!("not a usage error: {other:?}"),
        }
    }

    #[test]
    fn a_run_is_a_thousand_cases_unless_bounded_otherwise() {
        let cfg = parse(&["--target", "127.0.0.1:9"]).config();
        assert_eq!(cfg.ok().and_then(|c| c.cases), Some(DEFAULT_CASES));
        let cfg = parse(&["--target", "127.0.0.1:9", "--duration", "5"]).config();
        assert_eq!(cfg.as_ref().ok().and_then(|c| c.cases), None);
        assert_eq!(
            cfg.ok().and_then(|c| c.duration),
            Some(Duration::from_secs(5))
        );
        let cfg = parse(&["--server-cmd", "./s {port}", "--max-rss", "2"]).config();
        assert_eq!(cfg.ok().and_then(|c| c.max_rss), Some(2 * 1048576));
    }

    #[test]
    fn bad_numbers_and_missing_targets_are_usage_errors() {
        assert_eq!(
            usage(&parse(&["--target", "127.0.0.1:9", "--timeout", "0"])),
            "--timeout 0: give a positive number"
        );
        assert_eq!(
            usage(&parse(&["--server-cmd", "x", "--max-rss=-1"])),
            "--max-rss -1: give a positive number"
        );
        assert_eq!(
            usage(&parse(&[])),
            "fuzz: give --target HOST:PORT or --server-cmd COMMAND"
        );
        assert_eq!(
            usage(&parse(&["--server-cmd", " "])),
            "fuzz: give --target HOST:PORT or --server-cmd COMMAND"
        );
        assert!(parse(&["--dump", "--case", "3"]).config().is_ok());
    }

    #[test]
    fn a_dump_prints_one_case_or_the_first_n() {
        assert_eq!(dump_range(Some(7), Some(100)).ok(), Some((7, 7)));
        assert_eq!(dump_range(None, Some(3)).ok(), Some((0, 2)));
        assert!(dump_range(None, None).is_err());
    }
}
