//! The conformance suite against the embedded reference server: every scenario passes, and
//! every MUST rule has a scenario.

use std::path::PathBuf;

use msrp::check::{coverage, run_all, Target};
use msrp::rules::Level;
use msrp::runner::RunOptions;
use msrp::scenario::load_for;
use msrp::verdict::Verdict;
use msrp_reference::server::ServerConfig;

fn suite() -> Vec<msrp::scenario::Scenario> {
    let (scenarios, errors) = load_for(
        &[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")],
        msrp_reference::Profile::Strict,
    );
    assert!(
        errors.is_empty(),
        "scenario files that do not load: {errors:#?}"
    );
    scenarios
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_passes_against_the_reference_server() {
    let target = Target::Embedded {
        base: ServerConfig::default(),
        jobs: 4,
    };
    let results = run_all(suite(), &target, &RunOptions::default(), |_| {}).await;
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r.outcome.verdict != Verdict::Pass)
        .map(|r| format!("{:#?}", r.outcome))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_must_rule_has_a_scenario() {
    let scenarios = suite();
    let uncovered: Vec<&str> = coverage(&scenarios)
        .into_iter()
        .filter(|(_, level, ids)| *level == Level::Must && ids.is_empty())
        .map(|(id, _, _)| id)
        .collect();
    assert!(
        uncovered.is_empty(),
        "MUST rules without a scenario: {uncovered:?}"
    );
}
