//! JUnit XML: one testsuite per area (the scenario's folder), one testcase per scenario.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::verdict::{Outcome, Verdict};

fn area(o: &Outcome) -> String {
    std::path::Path::new(&o.file)
        .parent()
        .and_then(|p| p.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenarios".into())
}

/// The report as JUnit XML: a testsuite per area (and per target when there are several).
pub fn junit_xml(
    runs: &[(String, Vec<Outcome>)],
    strict: bool,
) -> Result<String, quick_junit::SerializeError> {
    let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
    let several = runs.len() > 1;
    for (target, o) in runs
        .iter()
        .flat_map(|(t, os)| os.iter().map(move |o| (t, o)))
    {
        let area = if several {
            format!("{target} {}", area(o))
        } else {
            area(o)
        };
        let case = test_case(o, &area, strict);
        suites
            .entry(area.clone())
            .or_insert_with(|| TestSuite::new(area))
            .add_test_case(case);
    }
    add_root_causes(&mut suites, runs, several);
    let mut report = Report::new("msrp-check");
    report.add_test_suites(suites.into_values());
    report.to_string()
}

/// The testcase of one outcome in suite `area`: its status, the departure's message and
/// detail, warnings on stdout (unless strict), a transcript difference on stderr.
fn test_case(o: &Outcome, area: &str, strict: bool) -> TestCase {
    let mut status = match o.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Warn if !strict => TestCaseStatus::success(),
        Verdict::Skip => TestCaseStatus::skipped(),
        Verdict::Warn | Verdict::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Verdict::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
    };
    if let Some(f) = &o.failure {
        let message = match f.level {
            crate::rules::Level::Decision => format!(
                "departs from {} (the profile is silent; a warning): {}",
                f.rule, f.statement
            ),
            _ => format!("{} broken: {}", f.rule, f.statement),
        };
        let detail = format!(
            "{}:{} (step {})\n{}: {}\nexpected: {}\nactual:   {}\n{}",
            o.file,
            f.line,
            f.step,
            f.blamed(),
            f.statement,
            f.expected,
            f.actual,
            f.actual_hex
                .as_deref()
                .map(|h| format!("bytes:    {h}\n"))
                .unwrap_or_default()
        );
        if matches!(status, TestCaseStatus::NonSuccess { .. }) {
            status.set_message(message);
            status.set_description(detail);
        }
    } else if let Some(reason) = &o.reason {
        status.set_message(reason.clone());
    }
    let mut case = TestCase::new(o.id.clone(), status);
    case.set_classname(format!("msrp-check.{area}"));
    case.set_time(Duration::from_secs_f64(o.seconds));
    if o.verdict == Verdict::Warn && !strict {
        let lines: Vec<String> = o
            .warnings
            .iter()
            .map(|w| {
                format!(
                    "warning at step {}: {}: {}\nexpected: {}\nactual:   {}",
                    w.step,
                    w.blamed(),
                    w.statement,
                    w.expected,
                    w.actual
                )
            })
            .collect();
        if !lines.is_empty() {
            case.set_system_out(lines.join("\n"));
        }
    }
    if let Some(d) = &o.transcript_diff {
        case.set_system_err(format!(
            "transcript differs from the reference snapshot:\n{d}"
        ));
    }
    case
}

/// Each suite carries its target's root causes as properties, largest group first.
fn add_root_causes(
    suites: &mut BTreeMap<String, TestSuite>,
    runs: &[(String, Vec<Outcome>)],
    several: bool,
) {
    for (target, outcomes) in runs {
        let causes = crate::rootcause::root_causes(outcomes);
        for (key, suite) in suites.iter_mut() {
            if several && !key.starts_with(&format!("{target} ")) {
                continue;
            }
            for (n, c) in causes.iter().enumerate() {
                suite.add_property(quick_junit::Property::new(
                    format!("root-cause-{}", n + 1),
                    format!(
                        "{} ({}): {}",
                        c.title(),
                        c.scenarios.len(),
                        c.scenarios.join(", ")
                    ),
                ));
            }
        }
    }
}
