//! One memory budget for all connections (DEC-20) and the frame-progress timeout (DEC-21),
//! over real sockets. Budgets and timeouts are small so the tests run fast; deadlines are
//! generous and nothing is timed.

mod support;

use std::time::Duration;

use bytes::Bytes;
use msrp_reference::frame::Frame;
use msrp_reference::server::{ServerConfig, ServerHandle};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The start of a MSG to `to` whose text never ends: `len` bytes of text, no terminator.
fn unterminated_msg(to: &str, len: usize) -> Vec<u8> {
    let mut wire = vec![0, 1];
    wire.extend_from_slice(to.as_bytes());
    wire.resize(wire.len() + len, b'x');
    wire
}

/// Waits until the server's buffers hold at least `bytes`.
async fn until_buffered(srv: &ServerHandle, bytes: usize) {
    for _ in 0..500 {
        if srv.buffered_bytes() >= bytes {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the server never held {bytes} bytes (holds {})",
        srv.buffered_bytes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_holder_is_evicted_first_and_everyone_else_is_still_served() {
    let srv = server(ServerConfig {
        memory_budget: 1 << 20,
        max_text: 4 << 20,
        frame_timeout: None,
        ..ServerConfig::default()
    })
    .await;
    let addr = srv.local_addr();
    let mut p = login_all(addr, &["bigg", "smal", "idle", "trig", "wit1", "wit2"]).await;
    // 600 KB and 60 KB of text that does not end: both are held in read buffers.
    p[0].send(&unterminated_msg("wit1", 600_000)).await;
    p[1].send(&unterminated_msg("wit1", 60_000)).await;
    until_buffered(&srv, 660_000).await;
    // 300 KB more takes the total past 1 MiB; the 600 KB holder is the one closed, and
    // without an ERROR (DEC-20).
    // (Its recipient is not connected: the test peers decode texts of up to 64 KiB only.)
    p[3].send(&unterminated_msg("nobd", 300_000)).await;
    p[0].expect_closed().await;

    let mut rest = p.split_off(1);
    // The smaller holders keep their connections: their texts, once ended, are delivered.
    rest[0].send(b"\0").await;
    rest[2].send(b"\0").await;
    let wit1 = 3;
    match rest[wit1].next().await {
        Seen::Frame(Frame::Msg { name: from, text }) => {
            assert_eq!(from, name("smal"));
            assert_eq!(text.len(), 60_000);
        }
        other => panic!("wit1 expected the 60 KB text, got {other:?}"),
    }
    rest[2]
        .expect_error(msrp_reference::frame::Reason::UnknownRecipient)
        .await;
    // The idle client holds nothing and is untouched.
    let list = rest[1].list().await;
    assert!(!list.contains("bigg"), "{list}");
    for n in ["smal", "idle", "trig", "wit1", "wit2"] {
        assert!(list.contains(n), "{n} missing from {list}");
    }
    rest[wit1].msg("idle", "still there?").await;
    rest[1].expect_msg("wit1", "still there?").await;

    // Every byte charged is given back once the connections are gone.
    drop(rest);
    for _ in 0..500 {
        if srv.buffered_bytes() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        srv.buffered_bytes(),
        0,
        "bytes still counted after every close"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_flood_never_read_counts_against_the_budget() {
    // The per-connection queue budget (DEC-8) is out of reach here: only the shared budget
    // can stop this client.
    let srv = server(ServerConfig {
        memory_budget: 2 << 20,
        outbox_budget: 1 << 30,
        ..ServerConfig::default()
    })
    .await;
    let addr = srv.local_addr();
    let mut p = login_all(addr, &["lstf", "wit1", "wit2"]).await;
    let mut flooder = p.remove(0);
    let requests: Vec<u8> = [0u8, 3].repeat(200_000);
    let _ = tokio::time::timeout(WAIT, flooder.stream.write_all(&requests)).await;
    let mut gone = false;
    for _ in 0..500 {
        if !p[0].list().await.contains("lstf") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        gone,
        "DEC-20: the LIST replies it owes count against the budget"
    );
    p[0].msg("wit2", "served").await;
    p[1].expect_msg("wit1", "served").await;
    srv.shutdown().await;
}

fn timeout_config() -> ServerConfig {
    ServerConfig {
        frame_timeout: Some(Duration::from_millis(300)),
        ..ServerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_frame_is_closed_by_the_frame_timeout() {
    let srv = server(timeout_config()).await;
    let addr = srv.local_addr();
    let mut w = login_all(addr, &["wit1", "wit2"]).await;
    let halves: [&[u8]; 4] = [
        &[0],                                        // half an opcode
        &[0, 1, b'w', b'i'],                         // inside a MSG's name
        b"\x00\x01wit1a text that never ends",       // inside a MSG's text
        b"\x00\x02wit1file.txt\x00\x00\x00\x00\x00", // inside a FILE header
    ];
    for (i, half) in halves.iter().enumerate() {
        let n = format!("hlf{i}");
        let mut p = login_all(addr, &[n.as_str()]).await.remove(0);
        p.send(half).await;
        // Closed without an ERROR (DEC-21).
        p.expect_closed().await;
    }
    // Nothing partial reached anyone; the witnesses are served.
    w[0].expect_silence(Duration::from_millis(100)).await;
    w[1].msg("wit1", "fine").await;
    w[0].expect_msg("wit2", "fine").await;
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_body_stalled_halfway_is_closed_and_its_recipient_too() {
    let srv = server(timeout_config()).await;
    let mut p = login_all(srv.local_addr(), &["send", "rcpt", "wit1", "wit2"]).await;
    p[0].send_frame(relay_header("rcpt", "half.bin", 1000))
        .await;
    p[0].send(&[7u8; 500]).await;
    p[0].expect_closed().await;
    // The recipient got the header and 500 bytes, then is closed (FILE-9).
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(WAIT, p[1].stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the recipient of a stalled body was not closed"),
        }
    }
    let header = relay_header("send", "half.bin", 1000).to_bytes();
    assert_eq!(got.len(), header.len() + 500);
    assert_eq!(&got[..header.len()], &header[..]);
    let (_, w) = p.split_at_mut(2);
    w[0].msg("wit2", "fine").await;
    w[1].expect_msg("wit1", "fine").await;
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_logged_in_clients_are_never_closed_by_the_frame_timeout() {
    let srv = server(ServerConfig {
        frame_timeout: Some(Duration::from_millis(200)),
        ..ServerConfig::default()
    })
    .await;
    let mut p = login_all(srv.local_addr(), &["idle", "talk"]).await;
    // One never sent a frame; the other ended its last frame and went quiet.
    p[1].msg("idle", "bye for now").await;
    p[0].expect_msg("talk", "bye for now").await;
    // Many times the timeout between frames.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    p[0].msg("talk", "back").await;
    p[1].expect_msg("idle", "back").await;
    p[1].msg("idle", "welcome back").await;
    p[0].expect_msg("talk", "welcome back").await;
    assert_eq!(srv.clients(), 2);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_sender_held_back_by_a_slow_recipient_is_not_timed_out() {
    let srv = server(timeout_config()).await;
    let mut p = login_all(srv.local_addr(), &["send", "slow"]).await;
    // Larger than every socket buffer on the way, so the sender is held back while the
    // recipient does not read (ROB-1: only this sender waits).
    let size = 32usize << 20;
    let mut sender = p.remove(0);
    let mut slow = p.remove(0);
    sender
        .send_frame(relay_header("slow", "big.bin", size as u64))
        .await;
    let write = tokio::spawn(async move {
        let chunk = vec![0x5au8; 64 * 1024];
        for _ in 0..size / chunk.len() {
            sender.send(&chunk).await;
        }
        sender
    });
    // Many times the timeout with the sender blocked on the recipient.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!write.is_finished(), "the sender was never held back");
    match slow.next().await {
        Seen::File(h, body) => {
            assert_eq!(h.name, name("send"));
            assert_eq!(body.len(), size);
        }
        other => panic!("expected the whole relay, got {other:?}"),
    }
    let mut sender = tokio::time::timeout(WAIT, write)
        .await
        .expect("the body was all written")
        .expect("the writer did not panic");
    slow.send_frame(Frame::Ack {
        filename: Bytes::from_static(b"big.bin"),
    })
    .await;
    assert_eq!(
        sender.next().await,
        Seen::Frame(Frame::Ack {
            filename: Bytes::from_static(b"big.bin")
        }),
        "the sender's connection is still open"
    );
    srv.shutdown().await;
}
