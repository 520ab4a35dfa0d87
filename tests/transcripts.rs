//! Golden transcripts: every scenario of the suite runs against a fresh embedded reference
//! server and its transcript is compared with the approved snapshot in `snapshots/`
//! (`cargo insta review` to approve changes). A second run must give the same text.

use msrp::check::embedded_config;
use msrp::runner::{run_scenario, RunOptions};
use msrp::scenario::load;
use msrp_reference::server::{ServerConfig, ServerHandle};

fn transcript_of(path: &std::path::Path, rt: &tokio::runtime::Runtime) -> String {
    let sc = load(path).unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let config = embedded_config(&ServerConfig::default(), &sc.file.server);
        let server = ServerHandle::start("127.0.0.1:0", config)
            .await
            .expect("embedded server");
        let result = run_scenario(&sc, server.local_addr(), &RunOptions::default()).await;
        server.shutdown().await;
        result.transcript
    })
}

#[test]
fn transcripts_match_the_reference_snapshots() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::glob!("../scenarios", "**/*.yaml", |path| {
            // Client scenarios (`mode: client`) run against client programs, not here.
            if std::fs::read_to_string(path).is_ok_and(|t| msrp::scenario::is_client_source(&t)) {
                return;
            }
            // Scenarios for the legacy profile alone have their snapshots in
            // `snapshots/legacy/` (tests/legacy_transcripts.rs).
            let applies = load(path).map(|sc| sc.applies_to(msrp_reference::Profile::Strict));
            if applies.is_ok_and(|a| !a) {
                return;
            }
            let first = transcript_of(path, &rt);
            // Nothing in a transcript may depend on timing, ports or scheduling: a second run
            // against a fresh server must give the same text.
            let second = transcript_of(path, &rt);
            assert_eq!(
                first,
                second,
                "{}: two runs gave different transcripts",
                path.display()
            );
            insta::assert_snapshot!("transcript", first);
        });
    });
}
