//! `--metrics-listen ADDR`: the run's live state as OpenMetrics text, for Prometheus (or
//! anything that scrapes the format) while the run goes.
//!
//! The endpoint serves the latest one-second [`Snapshot`], so a scrape costs nothing to
//! the run and values are at most a second old. The responder is a few lines of HTTP/1.1
//! on tokio (one request per connection, `Connection: close`): a scrape endpoint needs no
//! more, and no web framework is pulled in for it.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::timeline::{Observer, Snapshot, KINDS};

/// The content type of OpenMetrics 1.0 text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A request head larger than this is refused: a scraper sends a few hundred bytes.
const MAX_REQUEST: usize = 8 * 1024;

/// How long a client may take to send its request.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// Escapes a label value (OpenMetrics: backslash, double quote, line feed).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "# HELP {name} {help}");
}

/// Formats a float the way OpenMetrics reads it (no exponent needed, never NaN here).
fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "NaN".into()
    }
}

/// The OpenMetrics text of `s` (ending with `# EOF`). `None`: the run has not published
/// its first second yet; the families are there, with what is known (nothing connected).
pub fn render(s: Option<&Snapshot>) -> String {
    let empty = Snapshot::default();
    let finished = s.is_some_and(|s| s.lost.is_some());
    let s = s.unwrap_or(&empty);
    let mut o = String::new();
    write_progress(&mut o, s, finished);
    write_deliveries(&mut o, s);
    write_errors(&mut o, s);
    write_latency(&mut o, s);
    o.push_str("# EOF\n");
    o
}

/// How far the run is: time, clients, the rate asked for and the rate achieved.
fn write_progress(o: &mut String, s: &Snapshot, finished: bool) {
    family(
        o,
        "msrp_sim_elapsed_seconds",
        "gauge",
        "Seconds since the run started.",
    );
    let _ = writeln!(o, "msrp_sim_elapsed_seconds {}", num(s.elapsed));
    family(
        o,
        "msrp_sim_run_finished",
        "gauge",
        "1 once the run has drained and been judged (then msrp_sim_lost is final).",
    );
    let _ = writeln!(o, "msrp_sim_run_finished {}", u8::from(finished));
    family(
        o,
        "msrp_sim_clients",
        "gauge",
        "Simulated clients in this process.",
    );
    let _ = writeln!(o, "msrp_sim_clients {}", s.clients);
    family(
        o,
        "msrp_sim_clients_connected",
        "gauge",
        "Clients connected and logged in.",
    );
    let _ = writeln!(o, "msrp_sim_clients_connected {}", s.connected);
    family(
        o,
        "msrp_sim_target_rate",
        "gauge",
        "Operations per second the schedule asks for now.",
    );
    // Three decimals: a rate computed mid-ramp has float noise past them.
    let _ = writeln!(
        o,
        "msrp_sim_target_rate {}",
        num((s.target_rate * 1000.0).round() / 1000.0)
    );
    family(
        o,
        "msrp_sim_ops_per_second",
        "gauge",
        "Operations completed in the last second.",
    );
    let _ = writeln!(o, "msrp_sim_ops_per_second {}", s.ops_last_second);
    family(
        o,
        "msrp_sim_operations_completed",
        "counter",
        "Operations completed: messages delivered, LIST replies, files acknowledged.",
    );
    let _ = writeln!(o, "msrp_sim_operations_completed_total {}", s.completed);
    family(
        o,
        "msrp_sim_delivered_bytes",
        "counter",
        "Bytes of text and files delivered.",
    );
    let _ = writeln!(o, "msrp_sim_delivered_bytes_total {}", s.bytes_delivered);
}

/// What became of messages and files, by kind, and the ACKs of files.
fn write_deliveries(o: &mut String, s: &Snapshot) {
    let kinds = [("msg", &s.messages), ("file", &s.files)];
    for (name, help, get) in [
        (
            "msrp_sim_sent",
            "Messages and files handed to the target.",
            (|d| d.sent) as fn(&super::timeline::LiveDelivery) -> u64,
        ),
        (
            "msrp_sim_delivered",
            "Messages and files that arrived (first copy).",
            |d| d.delivered,
        ),
        (
            "msrp_sim_not_sent",
            "Messages and files msrp-sim could not hand to the target (its own failure, never a loss).",
            |d| d.not_sent,
        ),
        (
            "msrp_sim_duplicated",
            "Extra copies delivered.",
            |d| d.duplicated,
        ),
        (
            "msrp_sim_reordered",
            "Messages delivered ahead of an earlier one of the same pair.",
            |d| d.reordered,
        ),
        (
            "msrp_sim_corrupted",
            "Messages or files delivered damaged.",
            |d| d.corrupted,
        ),
    ] {
        family(o, name, "counter", help);
        for (kind, d) in kinds {
            let _ = writeln!(o, "{name}_total{{kind=\"{kind}\"}} {}", get(d));
        }
    }
    family(
        o,
        "msrp_sim_in_flight",
        "gauge",
        "Sent and not delivered yet: in flight while the run goes, lost if it stays after the drain.",
    );
    for (kind, d) in kinds {
        let _ = writeln!(
            o,
            "msrp_sim_in_flight{{kind=\"{kind}\"}} {}",
            d.undelivered()
        );
    }
    family(
        o,
        "msrp_sim_lost",
        "gauge",
        "Messages and files lost; 0 until the run has drained and been judged (msrp_sim_run_finished).",
    );
    let (lm, lf) = s.lost.unwrap_or((0, 0));
    let _ = writeln!(o, "msrp_sim_lost{{kind=\"msg\"}} {lm}");
    let _ = writeln!(o, "msrp_sim_lost{{kind=\"file\"}} {lf}");
    family(
        o,
        "msrp_sim_files_acked",
        "counter",
        "Files whose ACK came back to the sender.",
    );
    let _ = writeln!(o, "msrp_sim_files_acked_total {}", s.files_acked);
}

/// The target's errors, then msrp-sim's own (which are no verdict on the target).
fn write_errors(o: &mut String, s: &Snapshot) {
    family(
        o,
        "msrp_sim_errors",
        "counter",
        "Errors of the target (ERROR frames by reason, refused or closed connections).",
    );
    for (reason, n) in &s.errors {
        let _ = writeln!(
            o,
            "msrp_sim_errors_total{{reason=\"{}\"}} {n}",
            label(reason)
        );
    }
    family(
        o,
        "msrp_sim_harness_errors",
        "counter",
        "Failures of msrp-sim itself (its descriptors, ports or memory): no verdict on the target.",
    );
    for (what, n) in &s.harness_errors {
        let _ = writeln!(
            o,
            "msrp_sim_harness_errors_total{{what=\"{}\"}} {n}",
            label(what)
        );
    }
}

/// Latency quantiles by kind of operation (kinds with no sample are left out).
fn write_latency(o: &mut String, s: &Snapshot) {
    let _ = writeln!(o, "# TYPE msrp_sim_latency_seconds summary");
    let _ = writeln!(o, "# UNIT msrp_sim_latency_seconds seconds");
    let _ = writeln!(
        o,
        "# HELP msrp_sim_latency_seconds Latency from each operation's intended time, since the start, by kind."
    );
    for kind in KINDS {
        let Some(l) = s.latency.get(kind) else {
            continue;
        };
        if l.count == 0 {
            continue;
        }
        for (q, v) in &l.quantiles {
            let _ = writeln!(
                o,
                "msrp_sim_latency_seconds{{kind=\"{kind}\",quantile=\"{q}\"}} {}",
                num(*v)
            );
        }
        let _ = writeln!(
            o,
            "msrp_sim_latency_seconds_sum{{kind=\"{kind}\"}} {}",
            num(l.sum_seconds)
        );
        let _ = writeln!(
            o,
            "msrp_sim_latency_seconds_count{{kind=\"{kind}\"}} {}",
            l.count
        );
    }
}

/// The endpoint, listening.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` and serves `observer`'s latest snapshot at every path (`/metrics` is
    /// what scrapers ask for) until dropped.
    pub async fn start(addr: &str, observer: Arc<Observer>) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    // Out of descriptors, say: a scrape is lost, the run is not.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let observer = observer.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(REQUEST_DEADLINE, answer(conn, &observer)).await;
                });
            }
        });
        Ok(MetricsServer { addr, task })
    }

    /// Where it listens (the port chosen when `:0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request head and answers it.
async fn answer(mut conn: TcpStream, observer: &Observer) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST {
            return respond(
                &mut conn,
                "431 Request Header Fields Too Large",
                "text/plain",
                "request too large\n",
            )
            .await;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    match (first.next(), first.next()) {
        (Some("GET"), Some(_)) => {
            let body = render(observer.latest().as_deref());
            respond(&mut conn, "200 OK", CONTENT_TYPE, &body).await
        }
        (Some("HEAD"), Some(_)) => respond(&mut conn, "200 OK", CONTENT_TYPE, "").await,
        _ => {
            respond(
                &mut conn,
                "405 Method Not Allowed",
                "text/plain",
                "GET /metrics\n",
            )
            .await
        }
    }
}

async fn respond(
    conn: &mut TcpStream,
    status: &str,
    ctype: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body.as_bytes()).await?;
    conn.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_ends_with_eof_and_escapes_labels() {
        let mut s = Snapshot::default();
        s.errors.insert("a \"quoted\"\\reason".into(), 2);
        let t = render(Some(&s));
        assert!(t.ends_with("# EOF\n"));
        assert!(
            t.contains(r#"msrp_sim_errors_total{reason="a \"quoted\"\\reason"} 2"#),
            "{t}"
        );
        assert!(render(None).contains("msrp_sim_clients_connected 0"));
    }
}
