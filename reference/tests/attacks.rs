//! The reference server under attack: slow lorises, many idle clients, absurd declared sizes,
//! floods, disconnects at every byte of every frame kind. Every attack must leave the other
//! clients served promptly.

mod support;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use msrp_reference::decode::{Decoded, Decoder, Limits};
use msrp_reference::frame::{FileHeader, Frame};
use msrp_reference::server::ServerConfig;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Two witnesses exchange a message; returns how long the round took.
async fn witnesses_chat(a: &mut Peer, b: &mut Peer, text: &str) -> Duration {
    let t = Instant::now();
    a.msg(&b.name.to_string(), text).await;
    b.expect_msg(&a.name.to_string(), text).await;
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_lorises_are_timed_out_and_block_nobody() {
    let srv = server(ServerConfig {
        handshake_timeout: Duration::from_millis(800),
        ..ServerConfig::default()
    })
    .await;
    let addr = srv.local_addr();
    let mut w = login_all(addr, &["wit1", "wit2"]).await;
    let mut lorises = Vec::new();
    for _ in 0..1000 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"s").await.expect("first byte");
        lorises.push(s);
    }
    // One more byte a second, as a slowloris does; the server must not wait for the rest.
    tokio::time::sleep(Duration::from_millis(400)).await;
    for s in &mut lorises {
        let _ = s.write_all(b"l").await;
    }
    let (a, b) = w.split_at_mut(1);
    let took = witnesses_chat(&mut a[0], &mut b[0], "still here").await;
    assert!(took < Duration::from_millis(200), "witnesses took {took:?}");
    // After the handshake timeout every loris is closed.
    let deadline = Instant::now() + Duration::from_secs(5);
    for s in &mut lorises {
        let mut buf = [0u8; 16];
        let left = deadline.saturating_duration_since(Instant::now());
        let read = tokio::time::timeout(left, tokio::io::AsyncReadExt::read(s, &mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "a slowloris is still open: {read:?}"
        );
    }
    assert_eq!(srv.clients(), 2);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_clients_cost_no_service() {
    let srv = server(ServerConfig::default()).await;
    let addr = srv.local_addr();
    let mut idle = Vec::new();
    for i in 0..2000u32 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(format!("i{i:03x}").as_bytes())
            .await
            .expect("login");
        idle.push(s);
    }
    let mut w = login_all(addr, &["wit1", "wit2"]).await;
    assert_eq!(srv.clients(), 2002);
    let (a, b) = w.split_at_mut(1);
    let took = witnesses_chat(&mut a[0], &mut b[0], "among many").await;
    assert!(took < Duration::from_millis(200), "witnesses took {took:?}");
    let list = w[0].list().await;
    assert_eq!(list.lines().count(), 2003, "header + 2002 clients");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_size_of_u64_max_is_streamed_and_ends_cleanly() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["huge", "rcpt", "wit1", "wit2"]).await;
    p[0].send_frame(relay_header("rcpt", "inf.bin", u64::MAX))
        .await;
    let chunk = vec![0x42u8; 64 * 1024];
    for _ in 0..32 {
        p[0].send(&chunk).await;
    }
    let (_, rest) = p.split_at_mut(2);
    let (a, b) = rest.split_at_mut(1);
    witnesses_chat(&mut a[0], &mut b[0], "meanwhile").await;
    // The recipient is streaming the body; the sender leaves, the recipient is closed (FILE-9)
    // after exactly the bytes that were sent: the server forwarded them as they came.
    drop(p.remove(0));
    let mut rcpt = p.remove(0);
    let mut decoder = Decoder::server_to_client(Limits::default());
    let mut pending = BytesMut::new();
    let (mut header, mut body, mut all_0x42) = (None, 0usize, true);
    let mut buf = vec![0u8; 1 << 16];
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(
            left,
            tokio::io::AsyncReadExt::read(&mut rcpt.stream, &mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => pending.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the recipient of a vanished sender was not closed"),
        }
        while let Some(item) = decoder.decode(&mut pending).expect("a valid stream") {
            match item {
                Decoded::Frame(Frame::File(h)) => header = Some(h),
                Decoded::Body { data, .. } => {
                    body += data.len();
                    all_0x42 &= data.iter().all(|b| *b == 0x42);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(header.map(|h| h.size), Some(u64::MAX));
    assert_eq!(body, 32 * chunk.len(), "every byte sent, and no more");
    assert!(all_0x42, "the body is the bytes sent");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_flood_that_is_never_read_disconnects_only_the_flooder() {
    let srv = server(ServerConfig {
        outbox_budget: 1 << 20,
        ..ServerConfig::default()
    })
    .await;
    let mut p = login_all(srv.local_addr(), &["lstf", "wit1", "wit2"]).await;
    // 200 000 LIST requests, replies never read.
    let requests: Vec<u8> = [0u8, 3].repeat(200_000);
    let mut flooder = p.remove(0);
    let _ = tokio::time::timeout(WAIT, flooder.stream.write_all(&requests)).await;
    let (a, b) = p.split_at_mut(1);
    let took = witnesses_chat(&mut a[0], &mut b[0], "flooded?").await;
    assert!(took < Duration::from_millis(500), "witnesses took {took:?}");
    let mut gone = false;
    for _ in 0..200 {
        if !p[0].list().await.contains("lstf") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        gone,
        "DEC-8: the flooder is disconnected once its replies exceed the budget"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_flood_is_delivered_in_order_without_hurting_others() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["txtf", "sink", "wit1", "wit2"]).await;
    let mut wire = Vec::new();
    for i in 0..20_000 {
        wire.extend_from_slice(
            &Frame::Msg {
                name: name("sink"),
                text: Bytes::from(format!("{i}")),
            }
            .to_bytes(),
        );
    }
    let mut flooder = p.remove(0);
    let write = tokio::spawn(async move {
        flooder.stream.write_all(&wire).await.unwrap();
        flooder
    });
    let (a, b) = p.split_at_mut(2);
    witnesses_chat(&mut a[1], &mut b[0], "during the flood").await;
    for i in 0..20_000 {
        p[0].expect_msg("txtf", &i.to_string()).await;
    }
    let _flooder = write.await.unwrap();
    srv.shutdown().await;
}

/// Every frame kind a client sends, each cut at every byte offset: the server must free the
/// name, forward nothing partial, and keep serving the witnesses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_at_every_byte_of_every_frame_kind() {
    let srv = server(ServerConfig::default()).await;
    let addr = srv.local_addr();
    let mut w = login_all(addr, &["wtch", "wit2"]).await;
    let p2p = Frame::File(FileHeader {
        name: name("wtch"),
        filename: Bytes::from_static(b"p.bin"),
        size: 3,
        port: 9000,
        ip: Bytes::from_static(b"10.0.0.1"),
    });
    // A relay is addressed to a throwaway recipient ("r" + the cut offset), which the server
    // closes when the sender vanishes inside the body (FILE-9).
    let relay = |to: &str| {
        let mut r = relay_header(to, "r.bin", 6).to_bytes().to_vec();
        r.extend_from_slice(b"abcdef");
        r
    };
    let frames: Vec<(&str, Vec<u8>)> = vec![
        ("login", b"cutr".to_vec()),
        (
            "msg",
            Frame::Msg {
                name: name("wtch"),
                text: Bytes::from_static(b"cut"),
            }
            .to_bytes()
            .to_vec(),
        ),
        ("relay header and body", relay("r000")),
        ("p2p header", p2p.to_bytes().to_vec()),
        ("list", Frame::ListRequest.to_bytes().to_vec()),
        (
            "ack",
            Frame::Ack {
                filename: Bytes::from_static(b"f"),
            }
            .to_bytes()
            .to_vec(),
        ),
        (
            "error",
            Frame::Error {
                text: Bytes::from_static(b"x"),
            }
            .to_bytes()
            .to_vec(),
        ),
    ];
    for (kind, frame) in frames {
        for cut in 1..frame.len() {
            let mut frame = frame.clone();
            let mut recipient = None;
            if kind.starts_with("relay") {
                let to = format!("r{cut:03}");
                frame = relay(&to);
                recipient = Some(login_all(addr, &[to.as_str()]).await);
            }
            let mut c = Peer::connect(addr).await;
            if kind != "login" {
                c.send(b"cutr").await;
                // The login must have registered, or "freed" below would prove nothing.
                let mut joined = false;
                for _ in 0..400 {
                    if w[1].list().await.contains("cutr") {
                        joined = true;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                assert!(
                    joined,
                    "{kind}: the login before the cut at byte {cut} never registered"
                );
            }
            c.send(&frame[..cut]).await;
            drop(c);
            let mut freed = false;
            for _ in 0..400 {
                if !w[1].list().await.contains("cutr") {
                    freed = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            assert!(freed, "{kind}: name not freed after a cut at byte {cut}");
            drop(recipient);
        }
    }
    // Nothing partial reached the witness named in the frames; a complete message still does.
    w[0].expect_silence(Duration::from_millis(100)).await;
    let (a, b) = w.split_at_mut(1);
    witnesses_chat(&mut b[0], &mut a[0], "whole").await;
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuous_list_flood_at_the_default_budget() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["lstf", "wit1", "wit2"]).await;
    let mut flooder = p.remove(0);
    let block: Vec<u8> = [0u8, 3].repeat(10_000);
    let flood = tokio::spawn(async move {
        let start = Instant::now();
        let mut sent = 0usize;
        while start.elapsed() < Duration::from_secs(3) {
            match tokio::time::timeout(Duration::from_millis(500), flooder.stream.write_all(&block))
                .await
            {
                Ok(Ok(())) => sent += 10_000,
                _ => break,
            }
        }
        // Handed back, not dropped: the server must be the one that closes it.
        (sent, flooder)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (a, b) = p.split_at_mut(1);
    let took = witnesses_chat(&mut a[0], &mut b[0], "flooded?").await;
    let (sent, _flooder) = flood.await.unwrap();
    eprintln!("witness round trip {took:?}; flooder sent {sent} LIST requests");
    assert!(took < Duration::from_millis(500), "witnesses took {took:?}");
    let mut gone = false;
    for _ in 0..100 {
        if !p[0].list().await.contains("lstf") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        gone,
        "the flooder, still connected on its side, is disconnected (DEC-8)"
    );
    srv.shutdown().await;
}
