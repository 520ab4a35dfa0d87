//! Verdicts and what a report says about each scenario.

use serde::Serialize;

use crate::rules::Level;

/// The result of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every step behaved as the profile demands.
    Pass,
    /// A SHOULD rule was broken (a failure with `--strict`).
    Warn,
    /// Not run: the target lacks a setting the scenario needs.
    Skip,
    /// A MUST rule was broken.
    Fail,
    /// Could not run: target unreachable, scenario invalid, harness problem.
    Error,
}

impl Verdict {
    /// How reports and the JSON output name the verdict: `pass`, `warn`, `skip`, `fail`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Skip => "skip",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }
}

/// Where and how a scenario departed from the profile.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// 1-based step number and its line in the scenario file.
    pub step: usize,
    /// 1-based line of that step in the scenario file.
    pub line: usize,
    /// The rule broken, or the decision (`DEC-n`) departed from when `level` is
    /// [`Level::Decision`].
    pub rule: String,
    /// The rule's level: a `Must` departure fails, a `Should` or `Decision` one warns.
    pub level: Level,
    /// The rule's (or decision's) one-line statement.
    pub statement: String,
    /// What the profile (or the decision) demanded at this step, in words.
    pub expected: String,
    /// What arrived instead (a frame, a close, silence), in words.
    pub actual: String,
    /// The actual bytes, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_hex: Option<String>,
}

/// What a step demanded and what came instead, before it is graded: `expected` and
/// `actual` in words, `actual_hex` the bytes that arrived.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// What the step demanded.
    pub expected: String,
    /// What arrived instead.
    pub actual: String,
    /// The bytes that arrived, hex.
    pub actual_hex: Option<String>,
}

impl Failure {
    /// The departure of step `index` (0-based) of a scenario, written at `line`, blamed on
    /// `id` (a rule or a decision) and graded at that rule's level (`rules.rs`; an unknown
    /// id is a `Must`).
    pub fn graded(index: usize, line: usize, id: String, m: Mismatch) -> Failure {
        let (level, statement) = crate::rules::blame(&id).unwrap_or((Level::Must, String::new()));
        Failure {
            step: index + 1,
            line,
            rule: id,
            level,
            statement,
            expected: m.expected,
            actual: m.actual,
            actual_hex: m.actual_hex,
        }
    }

    /// `rule MSG-2 (Must)` or `decision DEC-4`: what a report calls the departure.
    pub fn blamed(&self) -> String {
        match self.level {
            Level::Decision => format!("decision {}", self.rule),
            level => format!("rule {} ({level:?})", self.rule),
        }
    }
}

/// One scenario's line in a report.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The scenario's id (`msg-basic`).
    pub id: String,
    /// The scenario's one-line title.
    pub title: String,
    /// Path of the scenario file, as it was found from the command line.
    pub file: String,
    /// The rule IDs the scenario lists; the first is blamed by default.
    pub rules: Vec<String>,
    /// The scenario's tags.
    pub tags: Vec<String>,
    /// How the scenario ended.
    pub verdict: Verdict,
    /// Wall-clock duration of the run, seconds.
    pub seconds: f64,
    /// The departure that decided the verdict: the failing step, or the first warning; `None` for a
    /// pass, a skip, or an error before any step departed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Why a scenario was skipped or could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Remarks such as a recording cap being reached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Every departure graded as a warning (a SHOULD rule, or a project decision), in step
    /// order; the scenario went on after each. The first is also `failure` when nothing
    /// failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Failure>,
    /// Unified diff of this run's transcript against the reference snapshot, if they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript_diff: Option<String>,
}

impl Outcome {
    /// The outcome of a scenario about to run: `Pass` until a step departs. `id`, `title`,
    /// `file`, `rules` and `tags` name the scenario.
    pub fn started(
        id: String,
        title: String,
        file: String,
        rules: Vec<String>,
        tags: Vec<String>,
    ) -> Outcome {
        Outcome {
            id,
            title,
            file,
            rules,
            tags,
            verdict: Verdict::Pass,
            seconds: 0.0,
            failure: None,
            reason: None,
            notes: Vec::new(),
            warnings: Vec::new(),
            transcript_diff: None,
        }
    }

    /// This outcome, its steps not run: `verdict` is `Skip` or `Error`, `reason` says why.
    pub fn not_run_as(self, verdict: Verdict, reason: String) -> Outcome {
        Outcome {
            verdict,
            reason: Some(reason),
            ..self
        }
    }

    /// The outcome of a scenario whose steps did not run: `verdict` is `Skip` or `Error`,
    /// `reason` says why. `id`, `title`, `file`, `rules` and `tags` name the scenario.
    pub fn not_run(
        id: String,
        title: String,
        file: String,
        rules: Vec<String>,
        tags: Vec<String>,
        verdict: Verdict,
        reason: String,
    ) -> Outcome {
        Outcome::started(id, title, file, rules, tags).not_run_as(verdict, reason)
    }

    /// A scenario file that could not be loaded: an `Error` named after the file's stem, with
    /// `title` saying which kind of scenario it was meant to be.
    pub fn load_error(path: &std::path::Path, title: &str, reason: String) -> Outcome {
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Outcome::not_run(
            id,
            title.into(),
            path.display().to_string(),
            Vec::new(),
            Vec::new(),
            Verdict::Error,
            reason,
        )
    }
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that broke a MUST rule.
    pub failed: usize,
    /// Scenarios that only warned (a SHOULD rule or a decision).
    pub warned: usize,
    /// Scenarios not run (a setting the target lacks, a profile they do not apply to).
    pub skipped: usize,
    /// Scenarios that could not run (load errors, unreachable target, harness problems).
    pub errors: usize,
}

impl Totals {
    /// Counts the verdicts of `outcomes`.
    pub fn of(outcomes: &[Outcome]) -> Totals {
        let mut t = Totals::default();
        for o in outcomes {
            match o.verdict {
                Verdict::Pass => t.passed += 1,
                Verdict::Fail => t.failed += 1,
                Verdict::Warn => t.warned += 1,
                Verdict::Skip => t.skipped += 1,
                Verdict::Error => t.errors += 1,
            }
        }
        t
    }

    /// msrp-check's exit status for these counts: 1 when anything failed or could not run
    /// (or, with `strict`, warned), 2 when nothing ran, else 0 — warnings alone, a departure
    /// from a decision included, never fail a run without `--strict`.
    pub fn exit_code(&self, strict: bool) -> u8 {
        if self.failed > 0 || self.errors > 0 || (strict && self.warned > 0) {
            1
        } else if self.ran() == 0 {
            2
        } else {
            0
        }
    }

    /// Scenarios that actually ran.
    pub fn ran(&self) -> usize {
        self.passed + self.failed + self.warned
    }
}
