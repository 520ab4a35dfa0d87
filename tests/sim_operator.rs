//! msrp-sim for operators: the OpenMetrics endpoint scraped while a run goes and read by a
//! strict parser of the format, the CSV timeline, ramp stages, and thresholds that set the
//! exit status.
//!
//! The scrape is parsed by Python's `prometheus_client` OpenMetrics parser (`pip install
//! prometheus_client`; `.ci/run` installs it). Without it the test fails, unless
//! `MSRP_SKIP_PROMETHEUS_CLIENT=1` says to skip that parse knowingly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sim(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_msrp-sim"))
        .args(args)
        .output()
        .expect("run msrp-sim");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("msrp-sim-op-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `GET /metrics` with a deadline; returns the status line, headers and body.
fn scrape(addr: &str) -> (String, String) {
    let mut conn = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: application/openmetrics-text; version=1.0.0\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).expect("read the response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    (head.to_string(), body.to_string())
}

/// Parses OpenMetrics text with prometheus_client's strict parser; returns one line per
/// sample, `name{labels} value` with labels sorted, or `None` if the parser is not here
/// and skipping was asked for.
fn parse_openmetrics(text: &str) -> Option<Vec<String>> {
    const SCRIPT: &str = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{fam.type} {s.name}{{{labels}}} {s.value}")
"#;
    let have = Command::new("python3")
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        if std::env::var_os("MSRP_SKIP_PROMETHEUS_CLIENT").is_some() {
            eprintln!("prometheus_client missing: OpenMetrics parse skipped (MSRP_SKIP_PROMETHEUS_CLIENT is set)");
            return None;
        }
        panic!(
            "python3 with prometheus_client is needed to parse the scrape: pip install \
             prometheus_client, or set MSRP_SKIP_PROMETHEUS_CLIENT=1 to skip it knowingly"
        );
    }
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused the scrape: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

fn value(samples: &[String], prefix: &str) -> f64 {
    let line = samples
        .iter()
        .find(|l| {
            l.split_once(' ')
                .is_some_and(|(_, rest)| rest.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no sample {prefix} in {samples:#?}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn the_metrics_endpoint_is_scraped_and_parsed_while_the_run_goes() {
    let dir = temp("metrics");
    let csv = dir.join("timeline.csv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_msrp-sim"))
        .args([
            "--clients",
            "6",
            "--rate",
            "300:0s,300:6s",
            "--metrics-listen",
            "127.0.0.1:0",
            "--csv",
            csv.to_str().unwrap(),
            "--drain",
            "2",
            "--quiet",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start msrp-sim");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    while addr.is_none() && Instant::now() < deadline {
        line.clear();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        addr = line
            .trim()
            .strip_prefix("msrp-sim: OpenMetrics at http://")
            .and_then(|l| l.strip_suffix("/metrics"))
            .map(str::to_string);
    }
    let addr = addr.expect("msrp-sim announces its metrics address");
    // Traffic runs for 6 s after connecting: wait until the endpoint shows some, scraping
    // at most for 20 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (head, body) = loop {
        let (head, body) = scrape(&addr);
        if body.contains("msrp_sim_latency_seconds{kind=\"msg\"") || Instant::now() > deadline {
            break (head, body);
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    if let Some(samples) = parse_openmetrics(&body) {
        // Scraped during the run: not finished, clients connected, traffic flowing.
        assert_eq!(value(&samples, "msrp_sim_run_finished{}"), 0.0, "{body}");
        assert_eq!(value(&samples, "msrp_sim_clients_connected{}"), 6.0);
        assert!(value(&samples, "msrp_sim_sent_total{kind=\"msg\"}") > 0.0);
        assert!(value(&samples, "msrp_sim_delivered_total{kind=\"msg\"}") > 0.0);
        assert!(value(&samples, "msrp_sim_target_rate{}") > 0.0, "{body}");
        assert!(
            value(
                &samples,
                "msrp_sim_latency_seconds{kind=\"msg\",quantile=\"0.99\"}"
            ) > 0.0
        );
        assert!(value(&samples, "msrp_sim_latency_seconds_count{kind=\"msg\"}") > 0.0);
        assert!(samples
            .iter()
            .any(|l| l.starts_with("counter msrp_sim_operations_completed_total")));
        assert!(samples.iter().any(|l| l.starts_with("summary ")));
    }
    let out = child.wait_with_output().expect("msrp-sim ends");
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{rest}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The CSV: a header and a row per second of the run, every row complete.
    let text = std::fs::read_to_string(&csv).expect("the CSV timeline");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    assert_eq!(header[0], "second");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() >= 6, "{text}");
    assert!(rows.iter().all(|r| r.len() == header.len()), "{text}");
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let last = rows.last().unwrap();
    assert_eq!(last[col("msg_sent")], last[col("msg_delivered")], "{text}");
    let ops: u64 = rows
        .iter()
        .map(|r| r[col("ops")].parse::<u64>().unwrap())
        .sum();
    assert!(ops > 1000, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ramp_stages_schedule_exactly_their_operations() {
    let dir = temp("stages");
    let json = dir.join("run.json");
    // 0→200 over 2 s (200), 200 for 1 s (200), 200→0 over 1 s (100).
    let (code, out, err) = sim(&[
        "--clients",
        "4",
        "--rate",
        "200:2s,200:1s,0:1s",
        "--mix",
        "msg=1",
        "--drain",
        "2",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["integrity"]["messages"]["sent"], 500, "{out}");
    assert_eq!(report["parameters"][0]["rate"], "200:2s,200:1s,0:1s");
    let (code, _, err) = sim(&["--rate", "200:2s", "--duration", "3"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = sim(&["--rate", "fast"]);
    assert_eq!(code, Some(2), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missed_threshold_fails_the_run_and_every_threshold_is_reported() {
    let dir = temp("thresholds");
    let json = dir.join("run.json");
    let html = dir.join("run.html");
    // No latency is under a microsecond: this threshold cannot be met.
    let (code, out, err) = sim(&[
        "--clients",
        "4",
        "--messages",
        "300",
        "--rate",
        "1000",
        "--quiet",
        "--threshold",
        "lost==0",
        "--threshold",
        "msg.p50<1us",
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("thresholds: 1 of 2 met — FAILED"), "{out}");
    assert!(out.contains("  ok    lost==0"), "{out}");
    assert!(out.contains("  FAIL  msg.p50<1us"), "{out}");
    // Deliveries were fine; the threshold alone failed the run.
    assert!(out.contains("integrity: ok"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["thresholds"][1]["passed"], false);
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("<td>msg.p50&lt;1us</td>"));
    // Thresholds that hold leave the exit status 0.
    let (code, out, err) = sim(&[
        "--clients",
        "4",
        "--messages",
        "300",
        "--rate",
        "1000",
        "--quiet",
        "--threshold",
        "lost==0",
        "--threshold",
        "msg.p99<60s",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("thresholds: 2 of 2 met\n"), "{out}");
    // merge judges the merged report with its own thresholds.
    let (code, out, err) = sim(&["merge", json.to_str().unwrap(), "--threshold", "lost==0"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("thresholds: 1 of 1 met\n"), "{out}");
    let (code, out, _) = sim(&["merge", json.to_str().unwrap(), "--threshold", "msg.sent<1"]);
    assert_eq!(code, Some(1), "{out}");
    // A threshold that does not parse is a usage error.
    let (code, _, err) = sim(&["--threshold", "msg.p99 20ms"]);
    assert_eq!(code, Some(2), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
