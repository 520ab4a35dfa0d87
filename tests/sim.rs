//! msrp-sim against the in-process reference server: zero loss with every kind of traffic,
//! loss and corruption detected against faulty servers, and exact merges.

use std::time::Duration;

use msrp::sim::report::SimReport;
use msrp::sim::{run, Mix, SimConfig, SizeRange, Stop};
use msrp_reference::server::{Fault, ServerConfig, ServerHandle};

fn config(ops: u64, seed: u64) -> SimConfig {
    SimConfig {
        clients: 12,
        stop: Stop::Operations(ops),
        rate: msrp::sim::stages::RateSpec::Fixed(3000.0),
        mix: Mix {
            msg: 80,
            list: 10,
            file: 10,
        },
        text_size: SizeRange(24, 400),
        file_size: SizeRange(0, 20_000),
        p2p_share: 0.3,
        seed,
        drain: Duration::from_secs(5),
        ..SimConfig::default()
    }
}

async fn simulate(server: ServerConfig, cfg: &SimConfig) -> SimReport {
    let s = ServerHandle::start("127.0.0.1:0", server).await.unwrap();
    let r = run(s.local_addr(), "test", cfg).await;
    s.shutdown().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_traffic_against_the_reference_server_loses_nothing() {
    let r = simulate(ServerConfig::default(), &config(3000, 7)).await;
    println!("{}", r.summary());
    let i = &r.integrity;
    assert_eq!(r.connected, 12);
    assert!(i.messages.sent > 2000 && i.files.sent > 200, "{i:?}");
    assert_eq!(i.messages.sent, i.messages.delivered);
    assert_eq!(i.files.sent, i.files.delivered);
    assert_eq!(i.files_acked, i.files.sent);
    assert!(!r.failed(), "{}", r.summary());
    for kind in ["msg", "list", "file", "connect"] {
        assert!(
            r.latency.get(kind).is_some_and(|l| l.count > 0),
            "no {kind} latencies"
        );
    }
    // Both modes were exercised: some files went P2P, the others through the relay.
    let p2p = r.p2p_files;
    assert!(
        0 < p2p && p2p < i.files.sent,
        "{p2p} P2P of {} files",
        i.files.sent
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_drops_messages_is_caught() {
    let server = ServerConfig {
        fault: Some(Fault::DropsEveryThousandthMessage),
        ..ServerConfig::default()
    };
    let mut cfg = config(3000, 3);
    cfg.mix = Mix {
        msg: 1,
        list: 0,
        file: 0,
    };
    cfg.drain = Duration::from_secs(1);
    let r = simulate(server, &cfg).await;
    assert_eq!(r.integrity.messages.lost, 3, "{}", r.summary());
    assert!(r.failed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_corrupts_bodies_is_caught() {
    let server = ServerConfig {
        fault: Some(Fault::CorruptsBodies),
        ..ServerConfig::default()
    };
    let mut cfg = config(300, 4);
    cfg.mix = Mix {
        msg: 1,
        list: 0,
        file: 1,
    };
    cfg.p2p_share = 0.0;
    cfg.file_size = SizeRange(1, 5000);
    let r = simulate(server, &cfg).await;
    assert!(r.integrity.files.corrupted > 0, "{}", r.summary());
    assert_eq!(
        r.integrity.files.corrupted, r.integrity.files.sent,
        "every relayed body was corrupted"
    );
    assert!(r.failed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merging_two_reports_adds_counts_and_keeps_exact_percentiles() {
    let a = simulate(ServerConfig::default(), &config(800, 1)).await;
    let b = simulate(ServerConfig::default(), &config(800, 2)).await;
    // Through JSON, as `msrp-sim merge` reads them.
    let a: SimReport = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    let b: SimReport = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
    let m = SimReport::merge(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(
        m.integrity.messages.sent,
        a.integrity.messages.sent + b.integrity.messages.sent
    );
    assert_eq!(
        m.integrity.files.delivered,
        a.integrity.files.delivered + b.integrity.files.delivered
    );
    assert_eq!(m.clients, 24);
    let mut both = a.latency["msg"].histogram().unwrap();
    both.add(b.latency["msg"].histogram().unwrap()).unwrap();
    let merged = &m.latency["msg"];
    assert_eq!(merged.count, both.len());
    assert_eq!(merged.p99_ms, both.value_at_quantile(0.99) as f64 / 1000.0);
    assert_eq!(merged.max_ms, both.max() as f64 / 1000.0);
    assert!(!m.failed());
}

#[test]
fn the_binary_exits_1_when_the_target_loses_messages() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(ServerHandle::start(
            "127.0.0.1:0",
            ServerConfig {
                fault: Some(Fault::DropsEveryThousandthMessage),
                ..ServerConfig::default()
            },
        ))
        .unwrap();
    let addr = server.local_addr().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_msrp-sim"))
        .args([
            "--target",
            &addr,
            "--clients",
            "8",
            "--messages",
            "2500",
            "--rate",
            "5000",
            "--mix",
            "msg=1",
            "--drain",
            "1",
            "--quiet",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("integrity: FAILED"), "{text}");
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_msrp-sim"))
        .args([
            "--clients",
            "8",
            "--messages",
            "500",
            "--rate",
            "5000",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_msrp-sim"))
        .args(["--mix", "msg=0"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    rt.block_on(server.shutdown());
}

/// Runs msrp-sim under `sh -c 'ulimit …; exec msrp-sim …'`, so the open-file limit is the
/// child's own; returns its exit code, stdout and stderr.
fn sim_with_ulimit(ulimit: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let script = format!("ulimit {ulimit} && exec \"$0\" \"$@\"");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_msrp-sim"))
        .args(args)
        .output()
        .expect("run sh");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_open_file_limit_too_low_for_the_clients_is_reported_before_starting() {
    // 300 clients and the embedded server's 300 sockets cannot fit in 64 descriptors.
    let (code, out, err) =
        sim_with_ulimit("-n 64", &["--clients", "300", "--duration", "1", "--quiet"]);
    assert_eq!(code, Some(3), "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("open files"), "{err}");
    assert!(err.contains("limit is 64"), "{err}");
    assert!(err.contains("embedded server"), "{err}");
    assert!(!out.contains("integrity: FAILED"), "{out}");
    assert!(!out.contains("lost"), "{out}");
}

#[test]
fn a_low_soft_limit_is_raised_to_the_hard_limit_and_the_run_says_so() {
    let hard = std::process::Command::new("sh")
        .args(["-c", "ulimit -H -n"])
        .output()
        .expect("run sh");
    let hard = String::from_utf8_lossy(&hard.stdout).trim().to_string();
    if hard != "unlimited" && hard.parse::<u64>().unwrap_or(0) < 1024 {
        eprintln!("skipped: the hard open-file limit here is {hard}, below what the test needs");
        return;
    }
    let (code, out, err) = sim_with_ulimit(
        "-S -n 64",
        &[
            "--clients",
            "40",
            "--messages",
            "400",
            "--rate",
            "4000",
            "--quiet",
        ],
    );
    assert!(
        err.contains("raised the soft open-file limit from 64"),
        "{err}"
    );
    assert!(
        out.contains("note: raised the soft open-file limit"),
        "{out}"
    );
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
}

#[test]
fn running_out_of_descriptors_midway_is_the_simulators_failure_not_the_targets() {
    // The target runs in this process, with this process's limit: only the simulator is
    // short of descriptors. --no-fd-check lets it start anyway, as an estimate that was
    // too low would.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(ServerHandle::start("127.0.0.1:0", ServerConfig::default()))
        .unwrap();
    let addr = server.local_addr().to_string();
    let dir = std::env::temp_dir().join(format!("msrp-sim-fds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let (code, out, err) = sim_with_ulimit(
        "-n 64",
        &[
            "--target",
            &addr,
            "--clients",
            "100",
            "--messages",
            "1500",
            "--rate",
            "3000",
            "--mix",
            "msg=80,list=5,file=15",
            "--p2p-share",
            "0.5",
            "--drain",
            "3",
            "--no-fd-check",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(3), "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("too many open files"), "{err}");
    assert!(err.contains("limit is 64"), "{err}");
    assert!(out.contains("integrity: NOT JUDGED"), "{out}");
    assert!(!out.contains("integrity: FAILED"), "{out}");
    let r: SimReport = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(r.connected > 0 && r.connected < 100, "{}", r.summary());
    assert_eq!(r.connect_failures, 0, "EMFILE is not the target refusing");
    assert_eq!(r.integrity.messages.lost, 0, "{}", r.summary());
    assert_eq!(r.integrity.files.lost, 0, "{}", r.summary());
    assert!(r.errors.is_empty(), "{}", r.summary());
    assert!(
        r.harness_errors.keys().any(|k| k.contains("open files")),
        "{:?}",
        r.harness_errors
    );
    let _ = std::fs::remove_dir_all(&dir);
    rt.block_on(server.shutdown());
}

/// Runs msrp-sim; returns its exit code, stdout and stderr.
fn sim(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_msrp-sim"))
        .args(args)
        .output()
        .expect("run msrp-sim");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn merge_refuses_reports_that_are_not_the_shards_of_one_run_unless_forced() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let one = rt
        .block_on(ServerHandle::start("127.0.0.1:0", ServerConfig::default()))
        .unwrap();
    let other = rt
        .block_on(ServerHandle::start("127.0.0.1:0", ServerConfig::default()))
        .unwrap();
    let (t1, t2) = (one.local_addr().to_string(), other.local_addr().to_string());
    let dir = std::env::temp_dir().join(format!("msrp-sim-merge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let shard = |target: &str, spec: &str, seed: &str, file: &str| {
        let (code, out, err) = sim(&[
            "--target",
            target,
            "--clients",
            "4",
            "--messages",
            "200",
            "--rate",
            "4000",
            "--drain",
            "3",
            "--quiet",
            "--shard",
            spec,
            "--seed",
            seed,
            "--json",
            &path(file),
        ]);
        assert_eq!(code, Some(0), "{out}\n{err}");
    };
    shard(&t1, "0/2", "9", "a0.json");
    shard(&t1, "1/2", "9", "a1.json");
    shard(&t1, "1/2", "10", "b1.json");
    shard(&t1, "1/3", "9", "c1.json");
    shard(&t2, "1/2", "9", "e1.json");
    std::fs::copy(path("a0.json"), path("a0-copy.json")).unwrap();
    // A report from before `runs` existed: its identity comes from its parameters.
    let mut old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("a0.json")).unwrap()).unwrap();
    old.as_object_mut().unwrap().remove("runs");
    std::fs::write(path("a0-old.json"), old.to_string()).unwrap();

    let (code, out, err) = sim(&[
        "merge",
        &path("a0.json"),
        &path("a1.json"),
        "--json",
        &path("m.json"),
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(!out.contains("WARNING"), "{out}");

    let refused = |files: &[&str], needles: &[&str]| {
        let mut args = vec!["merge".to_string()];
        args.extend(files.iter().map(|f| path(f)));
        args.extend(["--json".to_string(), path("refused.json")]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = sim(&args);
        assert_eq!(code, Some(2), "{files:?} were merged:\n{out}\n{err}");
        for n in needles {
            assert!(err.contains(n), "{files:?}: no {n:?} in:\n{err}");
        }
        assert!(
            !out.contains("integrity"),
            "{files:?}: a summary was printed:\n{out}"
        );
        assert!(
            !dir.join("refused.json").exists(),
            "{files:?}: a merged report was written"
        );
    };
    refused(
        &["a0.json", "a0-copy.json"],
        &["a0.json and", "a0-copy.json", "same shard twice", "0/2"],
    );
    refused(&["a0.json", "a0.json"], &["a0.json is given twice"]);
    refused(
        &["a0-old.json", "a0.json"],
        &["a0-old.json", "same shard twice"],
    );
    refused(
        &["m.json", "a0.json"],
        &["m.json is a merged report", "a0.json", "counted twice"],
    );
    refused(
        &["a0.json", "b1.json"],
        &["different seeds", "a0.json", "b1.json"],
    );
    refused(&["a0.json", "e1.json"], &["different targets", &t1, &t2]);
    refused(
        &["a0.json", "c1.json"],
        &["different shard counts", "c1.json"],
    );

    // A missing shard is merged, with a warning.
    let (code, out, err) = sim(&["merge", &path("a0.json")]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("WARNING: shards missing: 1/2"), "{out}");
    assert!(err.contains("shards missing: 1/2"), "{err}");

    // --force merges and says so in the summary, the JSON and the HTML.
    let (code, out, err) = sim(&[
        "merge",
        "--force",
        &path("a0.json"),
        &path("a0-copy.json"),
        "--json",
        &path("f.json"),
        "--html",
        &path("f.html"),
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("WARNING: merged with --force although"),
        "{out}"
    );
    let forced: SimReport =
        serde_json::from_str(&std::fs::read_to_string(path("f.json")).unwrap()).unwrap();
    assert!(
        forced
            .warnings
            .iter()
            .any(|w| w.contains("same shard twice")),
        "{:?}",
        forced.warnings
    );
    assert_eq!(forced.sources.len(), 2);
    let html = std::fs::read_to_string(path("f.html")).unwrap();
    assert!(
        html.contains("id=\"warnings\"") && html.contains("merged with --force"),
        "{html}"
    );

    let _ = std::fs::remove_dir_all(&dir);
    rt.block_on(one.shutdown());
    rt.block_on(other.shutdown());
}
