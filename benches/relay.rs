//! Relay throughput, side by side in one run: the same bytes through (1) a direct loopback
//! stream, (2) `socat` as a plain TCP relay, (3) the MSRP reference server as a relay-mode
//! FILE transfer (sender -> server -> receiver).
//!
//! Run: `cargo bench --bench relay` (optional env: MSRP_BENCH_BYTES, default 1 GiB;
//! MSRP_BENCH_ROUNDS, default 3). Prints MB/s per path, best and median of the rounds.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use msrp_reference::frame::{FileHeader, Frame, Name};
use msrp_reference::server::{ServerConfig, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes per write by the sender; the same for every path.
const WRITE: usize = 64 * 1024;

fn main() {
    let total: u64 = std::env::var("MSRP_BENCH_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 30);
    let rounds: usize = std::env::var("MSRP_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!(
            "relay of {} MiB, {rounds} rounds, {WRITE}-byte writes",
            total >> 20
        );
        println!("{:<28} {:>10} {:>10}", "path", "best MB/s", "median");
        let direct = measure(rounds, || direct(total)).await;
        report("direct loopback", &direct);
        match socat_available() {
            true => report("socat relay", &measure(rounds, || via_socat(total)).await),
            false => println!("{:<28} (socat not installed)", "socat relay"),
        }
        let server = ServerHandle::start("127.0.0.1:0", ServerConfig::default())
            .await
            .expect("server");
        let addr = server.local_addr();
        let msrp = measure(rounds, || via_msrp(addr, total)).await;
        report("msrp-server relay", &msrp);
        server.shutdown().await;
    });
}

async fn measure<F, Fut>(rounds: usize, mut f: F) -> Vec<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut v = Vec::new();
    for _ in 0..rounds {
        v.push(f().await.as_secs_f64());
    }
    v
}

fn report(name: &str, secs: &[f64]) {
    let total: u64 = std::env::var("MSRP_BENCH_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 30);
    let mut rates: Vec<f64> = secs.iter().map(|s| total as f64 / s / 1e6).collect();
    rates.sort_by(|a, b| b.partial_cmp(a).expect("finite"));
    println!(
        "{name:<28} {:>10.0} {:>10.0}",
        rates[0],
        rates[rates.len() / 2]
    );
}

async fn send(mut s: TcpStream, prefix: Vec<u8>, total: u64) {
    s.write_all(&prefix).await.expect("write");
    let buf = vec![0x5au8; WRITE];
    let mut left = total;
    while left > 0 {
        let n = left.min(WRITE as u64) as usize;
        s.write_all(&buf[..n]).await.expect("write");
        left -= n as u64;
    }
    s.flush().await.expect("flush");
}

async fn receive(mut s: TcpStream, total: u64) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0u64;
    while got < total {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "stream ended after {got} of {total} bytes");
        got += n as u64;
    }
}

async fn direct(total: u64) -> Duration {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let start = Instant::now();
    let rx = tokio::spawn(async move { receive(l.accept().await.expect("accept").0, total).await });
    send(
        TcpStream::connect(addr).await.expect("connect"),
        vec![],
        total,
    )
    .await;
    rx.await.expect("receiver");
    start.elapsed()
}

fn socat_available() -> bool {
    Command::new("socat")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

async fn via_socat(total: u64) -> Duration {
    let sink = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let sink_addr = sink.local_addr().expect("addr");
    let port = free_port();
    let mut socat: Child = Command::new("socat")
        .args([
            format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
            format!("TCP:{sink_addr}"),
        ])
        .spawn()
        .expect("socat");
    let front = connect_retry(format!("127.0.0.1:{port}").parse().expect("addr")).await;
    let start = Instant::now();
    let rx =
        tokio::spawn(async move { receive(sink.accept().await.expect("accept").0, total).await });
    send(front, vec![], total).await;
    rx.await.expect("receiver");
    let elapsed = start.elapsed();
    let _ = socat.kill();
    let _ = socat.wait();
    elapsed
}

async fn via_msrp(addr: SocketAddr, total: u64) -> Duration {
    let mut rx = TcpStream::connect(addr).await.expect("connect");
    rx.write_all(b"recv").await.expect("login");
    let tx = TcpStream::connect(addr).await.expect("connect");
    // Make sure the recipient is registered before the header names it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let header = Frame::File(FileHeader {
        name: Name::from_array(*b"recv"),
        filename: bytes::Bytes::from_static(b"bench.bin"),
        size: total,
        port: 0,
        ip: bytes::Bytes::new(),
    });
    let mut prefix = b"send".to_vec();
    prefix.extend_from_slice(&header.to_bytes());
    let header_len = header.encoded_len() as u64;
    let start = Instant::now();
    let recv = tokio::spawn(async move { receive(rx, header_len + total).await });
    send(tx, prefix, total).await;
    recv.await.expect("receiver");
    let elapsed = start.elapsed();
    // Let the server forget both names before the next round.
    tokio::time::sleep(Duration::from_millis(50)).await;
    elapsed
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

async fn connect_retry(addr: SocketAddr) -> TcpStream {
    for _ in 0..200 {
        if let Ok(s) = TcpStream::connect(addr).await {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("socat did not start listening on {addr}");
}
