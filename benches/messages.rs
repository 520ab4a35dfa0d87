//! Messages routed per second by the reference server with 64 clients: client i sends
//! 16-byte texts to client i+1 as fast as a window of 2 000 undelivered messages allows, in
//! writes of 64 frames. Receivers count whole frames (all forwarded frames have one size).
//!
//! Run: `cargo bench --bench messages` (env MSRP_BENCH_CLIENTS, default 64;
//! MSRP_BENCH_SECS, default 5).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use msrp_reference::frame::{Frame, Name};
use msrp_reference::server::{ServerConfig, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEXT: &[u8; 16] = b"0123456789abcdef";
const BATCH: usize = 64;
const WINDOW: u64 = 2_000;

fn name(i: usize) -> Name {
    Name::from_array(format!("m{i:03}").into_bytes().try_into().expect("4 bytes"))
}

fn main() {
    let clients: usize = std::env::var("MSRP_BENCH_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let secs: u64 = std::env::var("MSRP_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let server = ServerHandle::start("127.0.0.1:0", ServerConfig::default())
            .await
            .expect("server");
        let addr = server.local_addr();
        let received: Arc<Vec<AtomicU64>> =
            Arc::new((0..clients).map(|_| AtomicU64::new(0)).collect());
        let stop = Arc::new(AtomicBool::new(false));
        let mut streams = Vec::new();
        for i in 0..clients {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            s.set_nodelay(true).expect("nodelay");
            s.write_all(name(i).as_bytes()).await.expect("login");
            streams.push(s);
        }
        while server.clients() < clients {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let frame_len = Frame::Msg {
            name: name(0),
            text: bytes::Bytes::from_static(TEXT),
        }
        .encoded_len() as u64;
        let mut tasks = Vec::new();
        for (i, s) in streams.into_iter().enumerate() {
            let (mut rd, mut wr) = s.into_split();
            let counts = received.clone();
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 256 * 1024];
                let mut bytes = 0u64;
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            bytes += n as u64;
                            counts[i].store(bytes / frame_len, Ordering::Relaxed);
                        }
                    }
                }
            }));
            let counts = received.clone();
            let stop = stop.clone();
            let to = (i + 1) % clients;
            let mut batch = Vec::new();
            for _ in 0..BATCH {
                batch.extend_from_slice(
                    &Frame::Msg {
                        name: name(to),
                        text: bytes::Bytes::from_static(TEXT),
                    }
                    .to_bytes(),
                );
            }
            tasks.push(tokio::spawn(async move {
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if sent - counts[to].load(Ordering::Relaxed) > WINDOW {
                        tokio::task::yield_now().await;
                        continue;
                    }
                    if wr.write_all(&batch).await.is_err() {
                        break;
                    }
                    sent += BATCH as u64;
                }
                let _ = wr.shutdown().await;
            }));
        }
        let total = |r: &Vec<AtomicU64>| r.iter().map(|c| c.load(Ordering::Relaxed)).sum::<u64>();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (t0, n0) = (Instant::now(), total(&received));
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let (t1, n1) = (Instant::now(), total(&received));
        stop.store(true, Ordering::Relaxed);
        let rate = (n1 - n0) as f64 / (t1 - t0).as_secs_f64();
        println!(
            "{clients} clients, {}-byte texts: {rate:.0} messages routed/s (over {secs} s)",
            TEXT.len()
        );
        server.shutdown().await;
        for t in tasks {
            t.abort();
        }
    });
}
