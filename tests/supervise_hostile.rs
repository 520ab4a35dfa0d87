//! The supervised run (`run_target`: preflight, liveness checks) against targets that
//! misbehave at the socket level: every scenario still ends with an explained verdict, the
//! mute ones are stopped by the preflight unless `keep_going`, and a flood is not "mute".

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use msrp::runner::RunOptions;
use msrp::scenario::load_all;
use msrp::target::run::is_not_run;
use msrp::target::{run_target, Policy, TargetSource, TargetSpec};
use msrp::verdict::Verdict;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Misbehaviour {
    NeverAnswers,
    AnswersGarbage,
    FloodsFrames,
    ClosesAtOnce,
    StopsReading,
}

async fn serve(mut stream: TcpStream, how: Misbehaviour) {
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
            let frame = [&[0u8, 1][..], b"zzzz", &[b'x'; 1000], &[0]].concat();
            while stream.write_all(&frame).await.is_ok() {}
        }
        Misbehaviour::ClosesAtOnce => drop(stream),
        Misbehaviour::StopsReading => tokio::time::sleep(Duration::from_secs(3600)).await,
    }
}

async fn fake_target(how: Misbehaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve(s, how));
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_targets_get_explained_verdicts_and_mute_ones_stop_early() {
    let (all, errors) = load_all(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")]);
    assert!(errors.is_empty(), "{errors:?}");
    let scenarios: Vec<_> = all
        .into_iter()
        .filter(|s| s.file.id.starts_with("msg-"))
        .collect();
    let opts = RunOptions {
        timeout: Duration::from_millis(300),
        strict: false,
        ..RunOptions::default()
    };
    for how in [
        Misbehaviour::NeverAnswers,
        Misbehaviour::AnswersGarbage,
        Misbehaviour::FloodsFrames,
        Misbehaviour::ClosesAtOnce,
        Misbehaviour::StopsReading,
    ] {
        for keep_going in [false, true] {
            let spec = TargetSpec {
                label: format!("{how:?}"),
                source: TargetSource::Address(fake_target(how).await),
            };
            let policy = Policy {
                keep_going,
                ..Policy::default()
            };
            let report = run_target(&spec, &scenarios, &opts, &policy, |_| {}).await;
            assert_eq!(report.results.len(), scenarios.len(), "{how:?}");
            let not_run = report
                .results
                .iter()
                .filter(|r| is_not_run(r.outcome.reason.as_deref()))
                .count();
            let stopped_early = how != Misbehaviour::FloodsFrames && !keep_going;
            if stopped_early {
                assert_eq!(not_run, scenarios.len(), "{how:?}: {:?}", report.notes);
                assert!(
                    report
                        .notes
                        .iter()
                        .any(|n| n.starts_with("preflight: sent the login")),
                    "{how:?}: {:?}",
                    report.notes
                );
            } else {
                assert_eq!(
                    not_run, 0,
                    "{how:?} keep_going={keep_going}: {:?}",
                    report.notes
                );
            }
            for r in &report.results {
                let o = &r.outcome;
                assert!(
                    o.verdict == Verdict::Pass || o.failure.is_some() || o.reason.is_some(),
                    "{how:?}: {} has no explanation",
                    o.id
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_answering_in_the_legacy_dialect_is_not_mute_and_gets_the_note() {
    let (all, errors) = load_all(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")]);
    assert!(errors.is_empty(), "{errors:?}");
    let scenarios: Vec<_> = all
        .into_iter()
        .filter(|s| s.file.id == "list-exact")
        .collect();
    // A legacy server: a LIST reply is bare text, with no opcode and no terminator.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if buf[..n].ends_with(&[0, 3]) {
                        let _ = s.write_all(b"Lista de clientes:\nCliente 1: ~pfl\n").await;
                    }
                }
            });
        }
    });
    let spec = TargetSpec {
        label: "legacy".into(),
        source: TargetSource::Address(addr),
    };
    let opts = RunOptions {
        timeout: Duration::from_millis(300),
        strict: false,
        ..RunOptions::default()
    };
    let report = run_target(&spec, &scenarios, &opts, &Policy::default(), |_| {}).await;
    assert!(
        report.notes.iter().any(|n| n
            == "this target answers in the legacy dialect; run with --profile legacy to check the rest"),
        "{:?}",
        report.notes
    );
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert!(
        !is_not_run(report.results[0].outcome.reason.as_deref()),
        "the scenario ran"
    );
}
