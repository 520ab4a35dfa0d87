//! Replays the saved fuzz corpora (`fuzz/corpus/<target>/`) through the same checks the fuzz
//! targets run, so CI guards every input the fuzzers found interesting, without fuzzing.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

#[test]
fn decode_corpus() {
    for (_, data) in corpus("decode") {
        msrp_reference::fuzzing::check_decoder(&data);
    }
}

#[test]
fn scenario_yaml_corpus() {
    for (_, data) in corpus("scenario_yaml") {
        msrp::scenario::fuzz_parse(&data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_session_corpus() {
    let config = msrp_reference::server::ServerConfig {
        handshake_timeout: std::time::Duration::from_millis(200),
        linger: std::time::Duration::from_millis(50),
        ..Default::default()
    };
    let server = msrp_reference::server::ServerHandle::start("127.0.0.1:0", config)
        .await
        .unwrap();
    for (_, data) in corpus("server_session") {
        msrp_reference::fuzzing::check_server_session(server.local_addr(), &data).await;
    }
    // Every session, the fuzzed ones and the witnesses, ends: none leaks its name.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while server.clients() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        server.clients(),
        0,
        "sessions still logged in after the corpus"
    );
    server.shutdown().await;
}
