//! A conformance run of server scenarios: against embedded reference servers when no target
//! is named, else against the targets (see `supervised`).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use msrp_reference::server::ServerConfig;

use super::reports::{Results, TargetRun};
use super::supervised::Supervised;
use super::{Args, Format, Stop};
use crate::artifacts::{create_dirs, target_dir, Artifacts};
use crate::check::{run_all, Target};
use crate::grade::{root_cause_lines, TargetSummary};
use crate::report::{closing_line, print_outcome_colored};
use crate::runner::RunOptions;
use crate::scenario::{LoadError, Scenario};
use crate::snapshot::Snapshots;
use crate::target::{Policy, TargetSpec};
use crate::verdict::{Outcome, Totals};

/// The scenarios selected, the files that did not load, and the settings declared.
pub(super) struct Suite {
    /// Selected scenarios that apply to the profile.
    pub scenarios: Vec<Scenario>,
    /// Scenario files that could not be loaded: each is an error in the reports.
    pub load_errors: Vec<LoadError>,
    /// `--server-setting KEY=VALUE`.
    pub settings: BTreeMap<String, String>,
}

impl Suite {
    /// `--coverage`: exit status 1 when a MUST rule has no scenario or a file did not load.
    pub fn print_coverage(&self) -> u8 {
        let (table, uncovered) = crate::report::coverage::coverage_table(&self.scenarios);
        print!("{table}");
        u8::from(!(uncovered.is_empty() && self.load_errors.is_empty()))
    }

    /// `--list`: exit status 1 when a file did not load.
    pub fn print_list(&self) -> u8 {
        for s in &self.scenarios {
            println!(
                "{:<40} [{}] {}",
                s.file.id,
                s.file.rules.join(", "),
                s.path.display()
            );
        }
        println!("{} scenarios", self.scenarios.len());
        u8::from(!self.load_errors.is_empty())
    }
}

/// Runs `suite` against the embedded reference server (when `specs` is empty) or against
/// `specs`, then writes the reports; returns the exit status.
pub(super) fn run(args: &Args, suite: &Suite, specs: &[TargetSpec]) -> Result<u8, Stop> {
    let opts = RunOptions {
        timeout: Duration::from_secs_f64(args.timeout),
        strict: args.strict,
        profile: args.profile,
        legacy_gap: Duration::from_secs_f64(args.legacy_gap),
    };
    let embedded = if specs.is_empty() {
        vec![embedded_target(args)]
    } else {
        Vec::new()
    };
    create_dirs([&args.pcap_dir, &args.transcript_dir, &args.html])
        .map_err(|e| Stop::Usage(e.to_string()))?;
    let snapshots = match &args.snapshots {
        Some(dir) => Some(Arc::new(Snapshots::load(dir).map_err(Stop::Usage)?)),
        None => None,
    };
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| Stop::Usage(format!("cannot start the runtime: {e}")))?;
    let run = Run {
        args,
        scenarios: &suite.scenarios,
        opts,
        several: embedded.len() + specs.len() > 1,
        snapshots,
        rt,
    };
    let mut out = colored_stdout();
    let mut results = Results::default();
    for (i, (name, target)) in embedded.iter().enumerate() {
        let run = run.embedded(&mut out, i, name, target)?;
        results.runs.push(run);
    }
    if !specs.is_empty() {
        run.supervised(&suite.settings, specs, &mut results)?;
    }
    super::reports::finish(args, suite, results, run.several, &mut out)
}

/// The embedded reference server, in the profile checked.
fn embedded_target(args: &Args) -> (String, Target) {
    let target = Target::Embedded {
        base: ServerConfig {
            profile: args.profile,
            ..ServerConfig::default()
        },
        jobs: args.jobs(),
    };
    ("embedded reference server".to_string(), target)
}

/// Stdout with one colour policy for every binary (NO_COLOR, CLICOLOR_FORCE, TERM=dumb, not
/// a tty).
pub(super) fn colored_stdout() -> anstream::AutoStream<std::io::Stdout> {
    let color = msrp_reference::color::enabled(msrp_reference::color::Stream::Stdout);
    anstream::AutoStream::new(
        std::io::stdout(),
        if color {
            anstream::ColorChoice::Always
        } else {
            anstream::ColorChoice::Never
        },
    )
}

/// What every target of one run shares.
struct Run<'a> {
    args: &'a Args,
    scenarios: &'a [Scenario],
    opts: RunOptions,
    /// Several targets: each keeps its artifacts in its own subfolder, and a summary table
    /// ends the report.
    several: bool,
    snapshots: Option<Arc<Snapshots>>,
    rt: tokio::runtime::Runtime,
}

impl Run<'_> {
    fn human(&self) -> bool {
        self.args.format == Format::Human
    }

    /// Where target `index` keeps its evidence; its folders are created.
    fn artifacts(&self, index: usize) -> Result<Artifacts, Stop> {
        let args = self.args;
        let artifacts = Artifacts {
            pcap_dir: target_dir(args.pcap_dir.as_deref(), index, self.several),
            transcript_dir: target_dir(args.transcript_dir.as_deref(), index, self.several),
            snapshots: self.snapshots.clone(),
            strict_transcript: args.strict_transcript,
        };
        create_dirs([&artifacts.pcap_dir, &artifacts.transcript_dir])
            .map_err(|e| Stop::Usage(e.to_string()))?;
        Ok(artifacts)
    }

    /// The suite against embedded reference servers, each outcome printed as it comes.
    fn embedded(
        &self,
        out: &mut impl Write,
        index: usize,
        name: &str,
        target: &Target,
    ) -> Result<TargetRun, Stop> {
        let artifacts = self.artifacts(index)?;
        let human = self.human();
        if human {
            let _ = writeln!(
                out,
                "msrp-check: {} scenarios against {name}",
                self.scenarios.len()
            );
        }
        let color = msrp_reference::color::enabled(msrp_reference::color::Stream::Stdout);
        let scenarios = self.scenarios.to_vec();
        let results = self
            .rt
            .block_on(run_all(scenarios, target, &self.opts, |r| {
                artifacts.record(r);
                if human {
                    let _ = print_outcome_colored(&mut *out, &r.outcome, color);
                }
            }));
        if human {
            let outcomes: Vec<Outcome> = results.iter().map(|r| r.outcome.clone()).collect();
            let _ = writeln!(out, "{}", closing_line(&Totals::of(&outcomes)));
            let summary = TargetSummary::of_outcomes(name, name, &outcomes, 0.0);
            let _ = write!(out, "{}", root_cause_lines(&summary));
        }
        Ok(TargetRun {
            name: name.to_string(),
            results,
            pcap_dir: artifacts.pcap_dir,
        })
    }

    /// The suite against the targets named, all at once; their reports join `results`.
    fn supervised(
        &self,
        settings: &BTreeMap<String, String>,
        specs: &[TargetSpec],
        results: &mut Results,
    ) -> Result<(), Stop> {
        let args = self.args;
        let policy = Policy {
            settings: settings.clone(),
            keep_going: args.keep_going,
            restart_each: args.restart_each,
            listen_wait: Duration::from_secs_f64(args.start_timeout),
            grace: Duration::from_secs(2),
        };
        let supervised = Supervised {
            scenarios: self.scenarios,
            opts: &self.opts,
            policy: &policy,
            human: self.human(),
            several: self.several,
            pcap_dir: args.pcap_dir.as_deref(),
            transcript_dir: args.transcript_dir.as_deref(),
            snapshots: self.snapshots.clone(),
            strict_transcript: args.strict_transcript,
        };
        let reports = supervised.run(&self.rt, specs)?.ok_or(Stop::Interrupted)?;
        results.add_reports(reports, args.pcap_dir.as_deref(), self.several);
        Ok(())
    }
}
