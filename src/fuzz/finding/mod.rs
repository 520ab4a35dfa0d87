//! A finding written as a scenario that plain `msrp-check` replays: the case's connections,
//! writes (consecutive writes of one connection as one `send` with `split`), pauses and
//! closes, then `expect_alive`, blamed on the finding's rule.
//!
//! - `conversation`: the steps of a model case.
//! - `raw`: the steps of any other generated case.
//! - `record`: shrinking a new finding, writing it and replaying it.

mod conversation;
mod raw;
mod record;

use std::fmt::Write as _;

use msrp_reference::Profile;

use super::case::Case;
pub(crate) use record::record;

/// What a finding is deduplicated by: the oracle that fired (with the signal or status of a
/// death: two signals are two bugs) and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signature {
    /// `killed-sigabrt`, `exited-1`, `refused`, `mute`, `rss`.
    pub oracle: String,
    /// The rule of SPEC.md it breaks (ERR-4, or ROB-3 for memory).
    pub rule: String,
}

impl Signature {
    /// `killed-sigabrt-err-4`: the stem of the finding's files and scenario id.
    pub fn stem(&self) -> String {
        format!("{}-{}", self.oracle, self.rule).to_ascii_lowercase()
    }
}

/// The scenario text reproducing `case`, for `profile`, expecting what `sig` broke.
pub fn scenario_yaml(
    case: &Case,
    sig: &Signature,
    id: &str,
    profile: Profile,
    what: &str,
) -> String {
    let mut y = header(case, sig, id, profile, what);
    if let Some(conv) = &case.model {
        conversation::model_steps(&mut y, conv, sig, profile);
        return y;
    }
    raw::raw_steps(&mut y, case);
    y
}

/// A YAML double-quoted scalar (JSON's string syntax is a subset of it).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Everything before `clients:`.
fn header(case: &Case, sig: &Signature, id: &str, profile: Profile, what: &str) -> String {
    let mut y = String::new();
    let title = format!(
        "msrp-check fuzz --seed {} --case {} ({}): {what}",
        case.seed, case.index, case.kind
    );
    let _ = writeln!(
        y,
        "# Written by msrp-check fuzz; replay: msrp-check --profile {} --server-cmd '…' THIS_FILE",
        profile.as_str()
    );
    let _ = writeln!(y, "id: {id}");
    let _ = writeln!(
        y,
        "title: {}",
        serde_json::to_string(&title).unwrap_or_else(|_| "\"fuzz finding\"".into())
    );
    let _ = writeln!(y, "rules: [{}]", sig.rule);
    let _ = writeln!(y, "tags: [fuzz, robustness]");
    let _ = writeln!(y, "profiles: [{}]", profile.as_str());
    let _ = writeln!(y, "settle: 0");
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_generated_case_writes_a_scenario_that_loads() {
        for profile in [Profile::Strict, Profile::Legacy] {
            for i in 0..200 {
                let case = super::super::case::generate(3, i, profile);
                let sig = Signature {
                    oracle: "killed-sigabrt".into(),
                    rule: "ERR-4".into(),
                };
                let y = scenario_yaml(&case, &sig, "fuzz-x-1", profile, "it died: \"quoted\"");
                let sc = crate::scenario::parse(Path::new("f.yaml"), &y)
                    .unwrap_or_else(|e| panic!("{e}\n{y}"));
                assert!(sc.applies_to(profile));
                // A model case ends by requiring silence everywhere (no stray delivery);
                // any other by requiring the target to be serving.
                if case.model.is_some() {
                    assert!(matches!(
                        sc.file.steps.last(),
                        Some(crate::scenario::Step::ExpectSilence(_))
                    ));
                } else {
                    assert!(matches!(
                        sc.file.steps.last(),
                        Some(crate::scenario::Step::ExpectAlive(_))
                    ));
                }
            }
        }
    }
}
