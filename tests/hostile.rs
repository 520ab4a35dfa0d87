//! msrp-check against targets that misbehave at the socket level: every scenario must end
//! within its deadline with a clear verdict, and the harness's memory must stay bounded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use msrp::check::{run_all, Target};
use msrp::runner::RunOptions;
use msrp::scenario::load_for;
use msrp::verdict::Verdict;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    NeverAnswers,
    AnswersGarbage,
    FloodsFrames,
    ClosesAtOnce,
    ResetsMidFrame,
    StopsReading,
}

async fn serve(stream: TcpStream, how: Misbehaviour) {
    let mut stream = stream;
    let mut buf = vec![0u8; 65536];
    match how {
        Misbehaviour::NeverAnswers => {
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
        }
        Misbehaviour::AnswersGarbage => {
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
        }
        Misbehaviour::FloodsFrames => {
            // Valid MSG frames, forever.
            let frame = [&[0u8, 1][..], b"zzzz", &[b'x'; 1000], &[0]].concat();
            let block: Vec<u8> = frame
                .iter()
                .copied()
                .cycle()
                .take(frame.len() * 64)
                .collect();
            while stream.write_all(&block).await.is_ok() {}
        }
        Misbehaviour::ClosesAtOnce => drop(stream),
        Misbehaviour::ResetsMidFrame => {
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(&[0, 1, b'a', b'b']).await;
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        Misbehaviour::StopsReading => tokio::time::sleep(Duration::from_secs(3600)).await,
    }
}

async fn fake_target(how: Misbehaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve(s, how));
        }
    });
    addr
}

/// A `/proc/self/status` field in MiB: `VmRSS` now, `VmHWM` the peak so far (large buffers
/// are handed back to the system when freed, so only the peak shows what was held).
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map(|k| k / 1024.0)
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_ends_with_a_verdict_whatever_the_target_does() {
    let (scenarios, errors) = load_for(
        &[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")],
        msrp_reference::Profile::Strict,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!scenarios.is_empty());
    let opts = RunOptions {
        timeout: Duration::from_millis(300),
        strict: false,
        ..RunOptions::default()
    };
    let before = status_mib("VmRSS:");
    let mut runs = Vec::new();
    for how in [
        Misbehaviour::NeverAnswers,
        Misbehaviour::AnswersGarbage,
        Misbehaviour::FloodsFrames,
        Misbehaviour::ClosesAtOnce,
        Misbehaviour::ResetsMidFrame,
        Misbehaviour::StopsReading,
    ] {
        let scenarios = scenarios.clone();
        let opts = opts.clone();
        // The six targets are attacked at once: each run is sequential, as against any
        // foreign target, and they share the harness process whose memory is measured.
        runs.push(tokio::spawn(async move {
            let addr = fake_target(how).await;
            let target = Target::Remote {
                addr,
                settings: [("max-clients", "2"), ("handshake-timeout", "0.3")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            };
            let started = Instant::now();
            let results = run_all(scenarios, &target, &opts, |_| {}).await;
            (how, results, started.elapsed())
        }));
    }
    for run in runs {
        let (how, results, took) = run.await.expect("run task");
        assert_eq!(results.len(), scenarios.len());
        let passed: Vec<_> = results
            .iter()
            .filter(|r| r.outcome.verdict == Verdict::Pass)
            .map(|r| r.outcome.id.clone())
            .collect();
        // A misbehaving target can satisfy a scenario only by accident; none of these can
        // satisfy more than a few.
        assert!(
            passed.len() * 4 < results.len(),
            "{how:?}: {} of {} scenarios passed: {passed:?}",
            passed.len(),
            results.len()
        );
        for r in &results {
            let o = &r.outcome;
            assert!(
                o.verdict == Verdict::Pass || o.failure.is_some() || o.reason.is_some(),
                "{how:?}: {} has no explanation",
                o.id
            );
        }
        // Each scenario ends at its first failing wait; 2 s per scenario is generous.
        assert!(
            took < Duration::from_secs(2) * scenarios.len() as u32,
            "{how:?} took {took:?}"
        );
        eprintln!("{how:?}: {} scenarios in {took:.1?}", results.len());
    }
    let grown = status_mib("VmHWM:") - before;
    eprintln!("harness peak RSS grew by {grown:.0} MiB");
    assert!(grown < 400.0, "the harness peak grew by {grown:.0} MiB");
}
