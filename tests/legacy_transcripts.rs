//! Golden transcripts of the legacy profile: every scenario that applies to it runs against
//! a fresh embedded reference server speaking the dialect (`msrp-server --profile legacy`)
//! and its transcript — the dialect's bytes — is compared with the approved snapshot in
//! `snapshots/legacy/`. Scenarios the dialect cannot express at all are snapshotted as
//! skipped, with the reason. A second run must give the same text.

use msrp::check::embedded_config;
use msrp::runner::{run_scenario, RunOptions};
use msrp::scenario::load;
use msrp::verdict::Verdict;
use msrp_reference::server::{ServerConfig, ServerHandle};
use msrp_reference::Profile;

fn run(path: &std::path::Path, rt: &tokio::runtime::Runtime) -> (Verdict, String) {
    let sc = load(path).unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let base = ServerConfig {
            profile: Profile::Legacy,
            ..ServerConfig::default()
        };
        let config = embedded_config(&base, &sc.file.server);
        let server = ServerHandle::start("127.0.0.1:0", config)
            .await
            .expect("embedded server");
        let opts = RunOptions {
            profile: Profile::Legacy,
            ..RunOptions::default()
        };
        let result = run_scenario(&sc, server.local_addr(), &opts).await;
        server.shutdown().await;
        let mut text = result.transcript;
        if result.outcome.verdict == Verdict::Skip {
            // A scenario skipped before its first step has no entries: say why.
            text = format!(
                "scenario {}: skipped ({})\n",
                sc.file.id,
                result.outcome.reason.unwrap_or_default()
            );
        }
        (result.outcome.verdict, text)
    })
}

#[test]
fn legacy_transcripts_match_the_reference_snapshots() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots/legacy");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::glob!("../scenarios", "**/*.yaml", |path| {
            // Client scenarios (`mode: client`) run against client programs, not here.
            if std::fs::read_to_string(path).is_ok_and(|t| msrp::scenario::is_client_source(&t)) {
                return;
            }
            let applies = load(path).map(|sc| sc.applies_to(Profile::Legacy));
            if applies.is_ok_and(|a| !a) {
                return;
            }
            let (verdict, first) = run(path, &rt);
            assert!(
                matches!(verdict, Verdict::Pass | Verdict::Skip),
                "{}: the reference legacy server must pass every applicable scenario, got {verdict:?}:\n{first}",
                path.display()
            );
            let (_, second) = run(path, &rt);
            assert_eq!(
                first,
                second,
                "{}: two runs gave different transcripts",
                path.display()
            );
            insta::assert_snapshot!("legacy", first);
        });
    });
}
