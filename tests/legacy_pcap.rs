//! The pcaps msrp-check writes in the legacy profile, read back by tshark with the Lua
//! dissector under its legacy preference (`-o msrpft.profile:legacy`): for every server
//! connection of every legacy scenario, the frames the dissector lists are the frames the
//! project's legacy codec finds in the bytes the harness recorded, kind by kind with their
//! key fields, in both directions; P2P side streams show all their bytes as the file's body.
//!
//! The dissector reads one TCP segment as one write (the dialect frames by write, LEG-2,
//! LEG-12). In these pcaps each write the harness made and each read it took is its own
//! segment, so the codec here is fed the same units: each recorded write or read, ended.
//!
//! tshark is a system package (`.ci/run` installs it). Without it this test fails, unless the
//! person running it skips it knowingly with `MSRP_SKIP_TSHARK=1` (as `tests/pcap.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use msrp::check::embedded_config;
use msrp::record::{ConnRecord, Direction, RecordEvent};
use msrp::runner::{run_scenario, RunOptions, RunResult};
use msrp::scenario::load_for;
use msrp_reference::decode::{Decoded, Limits};
use msrp_reference::frame::Frame;
use msrp_reference::profile::legacy::LegacyDecoder;
use msrp_reference::server::{ServerConfig, ServerHandle};
use msrp_reference::Profile;

fn tshark_available() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return true;
    }
    if std::env::var_os("MSRP_SKIP_TSHARK").is_some() {
        eprintln!("tshark not installed: legacy pcap checks skipped (MSRP_SKIP_TSHARK is set)");
        return false;
    }
    panic!(
        "tshark cannot be run: install it (apt-get install tshark) or set MSRP_SKIP_TSHARK=1 \
         to skip the pcap checks knowingly"
    );
}

/// Runs every scenario of the legacy profile against a fresh embedded legacy server (as
/// `tests/legacy_transcripts.rs` does) and writes each run's pcap into `dir`.
fn run_legacy_suite(dir: &Path) -> Vec<RunResult> {
    let (scenarios, errors) = load_for(
        &[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")],
        Profile::Legacy,
    );
    assert!(errors.is_empty(), "{errors:?}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut results = Vec::new();
    for sc in &scenarios {
        let r = rt.block_on(async {
            let base = ServerConfig {
                profile: Profile::Legacy,
                ..ServerConfig::default()
            };
            let server =
                ServerHandle::start("127.0.0.1:0", embedded_config(&base, &sc.file.server))
                    .await
                    .expect("embedded legacy server");
            let opts = RunOptions {
                profile: Profile::Legacy,
                ..RunOptions::default()
            };
            let r = run_scenario(sc, server.local_addr(), &opts).await;
            server.shutdown().await;
            r
        });
        msrp::pcap::write_pcap(
            &dir.join(format!("{}.pcap", r.outcome.id)),
            &r.records,
            r.started,
        )
        .expect("write pcap");
        results.push(r);
    }
    results
}

/// A name or filename as both sides can print it: tshark escapes bytes outside printable
/// ASCII (and backslashes) its own way, so such strings compare as one placeholder.
fn comparable(b: &[u8]) -> String {
    if !b.is_empty() && b.iter().all(|&c| (0x20..=0x7e).contains(&c) && c != b'\\') {
        String::from_utf8_lossy(b).into_owned()
    } else {
        "<binary>".into()
    }
}

/// What one direction of a stream shows: frame kinds, and the key fields of those frames in
/// order (login names; MSG and FILE names; FILE and ACK filenames; FILE sizes).
#[derive(Debug, Default, PartialEq, Eq, Clone)]
struct Shown {
    kinds: Vec<String>,
    logins: Vec<String>,
    names: Vec<String>,
    filenames: Vec<String>,
    sizes: Vec<String>,
}

/// The frames the legacy codec finds in one direction of a recorded connection, fed one
/// recorded write (or read) at a time, each a unit that has ended.
fn codec_frames(rec: &ConnRecord, dir: Direction) -> Shown {
    let limits = Limits {
        max_text: 16 << 20,
        max_server_text: 16 << 20,
    };
    let mut d = match dir {
        Direction::Out => LegacyDecoder::client_to_server(limits),
        Direction::In => LegacyDecoder::server_to_client(limits),
    };
    let mut shown = Shown::default();
    let mut buf = bytes::BytesMut::new();
    for e in &rec.events {
        let RecordEvent::Data { dir: d2, bytes, .. } = e else {
            continue;
        };
        if *d2 != dir {
            continue;
        }
        buf.extend_from_slice(bytes);
        loop {
            let before = buf.len();
            match d.decode(&mut buf, true) {
                Ok(Some(item)) => {
                    let kind = match item {
                        Decoded::Login(n) => {
                            shown.logins.push(comparable(n.as_bytes()));
                            "LOGIN"
                        }
                        Decoded::Frame(Frame::Msg { name, .. }) => {
                            shown.names.push(comparable(name.as_bytes()));
                            "MSG"
                        }
                        Decoded::Frame(Frame::File(h)) => {
                            shown.names.push(comparable(h.name.as_bytes()));
                            shown.filenames.push(comparable(&h.filename));
                            shown.sizes.push(h.size.to_string());
                            "FILE"
                        }
                        Decoded::Frame(Frame::ListRequest | Frame::ListReply { .. }) => "LIST",
                        Decoded::Frame(Frame::Ack { filename }) => {
                            shown.filenames.push(comparable(&filename));
                            "ACK"
                        }
                        Decoded::Frame(Frame::Error { .. }) => "ERROR",
                        Decoded::Body { .. } => continue,
                    };
                    shown.kinds.push(kind.to_string());
                }
                Ok(None) => break,
                // The codec consumed the invalid frame's bytes: the dissector marks them
                // malformed and lists no frame for them either.
                Err(_) if buf.len() < before => {}
                Err(_) => break,
            }
        }
    }
    shown
}

/// What the dissector shows of one pcap, under the legacy profile with the server's port:
/// `(stream, to_server) -> Shown`, and `stream -> bytes` shown as P2P file bodies.
fn dissector_frames(
    pcap: &Path,
    server_port: u16,
) -> (BTreeMap<(u64, bool), Shown>, BTreeMap<u64, u64>) {
    let lua = format!(
        "lua_script:{}/contrib/wireshark/msrp.lua",
        env!("CARGO_MANIFEST_DIR")
    );
    let port = format!("msrpft.port:{server_port}");
    let mut args = vec!["-X", &lua, "-o", "msrpft.profile:legacy", "-o", &port, "-r"];
    let path = pcap.to_str().expect("utf-8 path");
    args.push(path);
    for f in [
        "tcp.stream",
        "tcp.dstport",
        "msrp.frame",
        "msrp.login",
        "msrp.name",
        "msrp.filename",
        "msrp.size",
        "msrp.mode",
        "msrp.body_len",
    ] {
        args.extend(["-e", f]);
    }
    args.extend(["-T", "json"]);
    let out = Command::new("tshark")
        .args(&args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A Lua error would show in stderr while tshark still exits 0.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Lua"), "tshark stderr: {stderr}");
    let packets: serde_json::Value = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    let mut frames: BTreeMap<(u64, bool), Shown> = BTreeMap::new();
    let mut p2p_bytes = BTreeMap::new();
    for p in packets.as_array().expect("array of packets") {
        let layers = &p["_source"]["layers"];
        let strs = |k: &str| -> Vec<String> {
            layers[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let stream: u64 = strs("tcp.stream")[0].parse().expect("stream number");
        let kinds = strs("msrp.frame");
        if kinds.is_empty() {
            if strs("msrp.mode") == ["p2p"] {
                let n: u64 = strs("msrp.body_len")
                    .iter()
                    .map(|v| v.parse::<u64>().expect("body_len"))
                    .sum();
                *p2p_bytes.entry(stream).or_insert(0) += n;
            }
            continue;
        }
        let to_server = strs("tcp.dstport")[0] == server_port.to_string();
        let e = frames.entry((stream, to_server)).or_default();
        e.kinds.extend(kinds);
        let cmp = |v: Vec<String>| v.into_iter().map(|s| comparable(s.as_bytes()));
        e.logins.extend(cmp(strs("msrp.login")));
        e.names.extend(cmp(strs("msrp.name")));
        e.filenames.extend(cmp(strs("msrp.filename")));
        e.sizes.extend(strs("msrp.size"));
    }
    (frames, p2p_bytes)
}

#[test]
fn legacy_pcaps_decode_to_the_recorded_frames() {
    if !tshark_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("msrp-legacy-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let results = run_legacy_suite(&dir);
    let mut checked = 0;
    let mut kinds_seen = std::collections::BTreeSet::new();
    for r in &results {
        let Some(server_port) = r.records.first().and_then(|rec| rec.peer).map(|a| a.port()) else {
            continue;
        };
        let pcap = dir.join(format!("{}.pcap", r.outcome.id));
        let (dissected, p2p_bytes) = dissector_frames(&pcap, server_port);
        for (i, rec) in r
            .records
            .iter()
            .filter(|rec| rec.local.is_some())
            .enumerate()
        {
            if rec.peer.map(|a| a.port()) != Some(server_port) {
                // A P2P side stream: the capture holds the offer naming its port.
                let bytes =
                    (rec.stream(Direction::Out).len() + rec.stream(Direction::In).len()) as u64;
                assert_eq!(
                    p2p_bytes.get(&(i as u64)).copied().unwrap_or(0),
                    bytes,
                    "{} stream {i} ({}): P2P body bytes shown",
                    r.outcome.id,
                    rec.label
                );
                continue;
            }
            for (dir, to_server) in [(Direction::Out, true), (Direction::In, false)] {
                let want = codec_frames(rec, dir);
                let got = dissected
                    .get(&(i as u64, to_server))
                    .cloned()
                    .unwrap_or_default();
                assert_eq!(
                    got, want,
                    "{} stream {i} ({}) to_server={to_server}: dissector vs legacy codec",
                    r.outcome.id, rec.label
                );
                kinds_seen.extend(
                    want.kinds
                        .iter()
                        .map(|k| format!("{}{k}", if to_server { ">" } else { "<" })),
                );
                checked += 1;
            }
        }
    }
    // The suite exercises every frame of the dialect in both directions.
    for k in [
        ">LOGIN", ">MSG", ">FILE", ">LIST", ">ACK", "<MSG", "<FILE", "<LIST", "<ACK", "<ERROR",
    ] {
        assert!(
            kinds_seen.contains(k),
            "no {k} frame in the legacy suite: {kinds_seen:?}"
        );
    }
    assert!(checked > 100, "only {checked} directions checked");
    let _ = std::fs::remove_dir_all(&dir);
}
