//! The reference server over real sockets, one test per behaviour of the strict profile.

mod support;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use msrp_reference::client::{fetch_p2p, serve_p2p, Client, Event};
use msrp_reference::decode::{Decoded, Decoder, Limits};
use msrp_reference::frame::{FileHeader, Frame, Reason};
use msrp_reference::server::ServerConfig;
use sha2::{Digest, Sha256};
use support::*;

#[tokio::test]
async fn five_clients_chat_and_see_sender_names() {
    let srv = server(ServerConfig::default()).await;
    let names = ["ana1", "bob2", "cid3", "dan4", "eve5"];
    let mut peers = login_all(srv.local_addr(), &names).await;
    for i in 0..names.len() {
        for j in 0..names.len() {
            let text = format!("{} to {}", names[i], names[j]);
            peers[i].msg(names[j], &text).await;
        }
    }
    for (j, peer) in peers.iter_mut().enumerate() {
        let mut got = Vec::new();
        for _ in 0..names.len() {
            match peer.next().await {
                Seen::Frame(Frame::Msg { name, text }) => {
                    got.push((name.to_string(), String::from_utf8(text.to_vec()).unwrap()))
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        got.sort();
        let want: Vec<_> = names
            .iter()
            .map(|s| (s.to_string(), format!("{s} to {}", names[j])))
            .collect();
        assert_eq!(got, want);
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn list_is_in_connection_order_and_names_are_freed() {
    let srv = server(ServerConfig::default()).await;
    let addr = srv.local_addr();
    let mut peers = login_all(addr, &["zed1", "amy2", "mid3"]).await;
    assert_eq!(
        peers[0].list().await,
        "Lista de clientes:\nCliente 1: zed1\nCliente 2: amy2\nCliente 3: mid3\n"
    );
    drop(peers.remove(1));
    let mut again = None;
    for _ in 0..100 {
        let list = peers[0].list().await;
        if list == "Lista de clientes:\nCliente 1: zed1\nCliente 2: mid3\n" {
            again = Some(Peer::login(addr, "amy2").await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut amy = again.expect("amy2 left the list (NAME-5)");
    amy.expect_silence(Duration::from_millis(100)).await;
    assert_eq!(
        amy.list().await,
        "Lista de clientes:\nCliente 1: zed1\nCliente 2: mid3\nCliente 3: amy2\n"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn relay_of_ten_mib_keeps_every_byte() {
    let srv = server(ServerConfig::default()).await;
    let addr = srv.local_addr().to_string();
    let a = Client::connect(&addr, name("send"), WAIT).await.unwrap();
    let mut b = Client::connect(&addr, name("recv"), WAIT).await.unwrap();
    let _ = login_all(srv.local_addr(), &["send", "recv", "list"][2..]).await;
    let data = body(10 << 20, 7);
    let want = Sha256::digest(&data);
    let sender = a.sender().clone();
    let payload = data.clone();
    let send = tokio::spawn(async move {
        sender
            .send_file_relay(
                name("recv"),
                b"ten.bin",
                payload.len() as u64,
                &payload[..],
                |_| {},
            )
            .await
    });
    let Some(Event::FileStart(h)) = b.next_event().await else {
        panic!("FILE header expected")
    };
    assert_eq!(
        (h.name, &h.filename[..], h.size, h.port, &h.ip[..]),
        (name("send"), &b"ten.bin"[..], 10 << 20, 0, &b""[..])
    );
    let mut hasher = Sha256::new();
    let mut got = 0u64;
    loop {
        match b.next_event().await {
            Some(Event::FileData { data, remaining }) => {
                hasher.update(&data);
                got += data.len() as u64;
                if remaining == 0 {
                    break;
                }
            }
            other => panic!("body expected, got {other:?}"),
        }
    }
    send.await.unwrap().unwrap();
    assert_eq!(got, 10 << 20);
    assert_eq!(hasher.finalize(), want);
    b.sender()
        .ack(Bytes::from_static(b"ten.bin"))
        .await
        .unwrap();
    let mut a = a;
    assert_eq!(
        a.next_event().await,
        Some(Event::Ack {
            filename: Bytes::from_static(b"ten.bin")
        })
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn p2p_offer_carries_the_observed_address_and_the_bytes_flow_directly() {
    let srv = server(ServerConfig::default()).await;
    let addr = srv.local_addr().to_string();
    let mut a = Client::connect(&addr, name("p2pa"), WAIT).await.unwrap();
    let mut b = Client::connect(&addr, name("p2pb"), WAIT).await.unwrap();
    let _ = login_all(srv.local_addr(), &["p2pa", "p2pb", "p2pc"][2..]).await;
    let data = body(300_000, 9);
    let listener = a
        .sender()
        .offer_p2p(name("p2pb"), b"p.bin", data.len() as u64)
        .await
        .unwrap();
    let payload = data.clone();
    let serve = tokio::spawn(async move {
        serve_p2p(listener, payload.len() as u64, &payload[..], WAIT, |_| {}).await
    });
    let Some(Event::FileOffer(offer)) = b.next_event().await else {
        panic!("offer expected")
    };
    // (The client offers from 127.0.0.1 itself, so this cannot tell FILE-5's rewrite from a
    // forwarded claim; p2p_offer_pointing_at_a_third_host_is_rewritten does.)
    assert_eq!(&offer.ip[..], b"127.0.0.1");
    let mut got = Vec::new();
    fetch_p2p(&offer, &mut got, WAIT, |_| {}).await.unwrap();
    serve.await.unwrap().unwrap();
    assert_eq!(got, data);
    b.sender().ack(Bytes::from_static(b"p.bin")).await.unwrap();
    assert_eq!(
        a.next_event().await,
        Some(Event::Ack {
            filename: Bytes::from_static(b"p.bin")
        })
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn p2p_offer_pointing_at_a_third_host_is_rewritten() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["evil", "vict"]).await;
    p[0].send_frame(Frame::File(FileHeader {
        name: name("vict"),
        filename: Bytes::from_static(b"x"),
        size: 1,
        port: 22,
        ip: Bytes::from_static(b"203.0.113.9"),
    }))
    .await;
    match p[1].next().await {
        Seen::Frame(Frame::File(h)) => {
            assert_eq!(
                (&h.ip[..], h.port, h.name),
                (&b"127.0.0.1"[..], 22, name("evil"))
            )
        }
        other => panic!("{other:?}"),
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn acks_go_to_the_oldest_pending_sender_of_that_filename() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["snd1", "snd2", "rcpt"]).await;
    let (s1, rest) = p.split_at_mut(1);
    let (s2, r) = rest.split_at_mut(1);
    let (s1, s2, r) = (&mut s1[0], &mut s2[0], &mut r[0]);
    s1.send_frame(relay_header("rcpt", "same.txt", 3)).await;
    s1.send(b"one").await;
    assert!(matches!(r.next().await, Seen::File(h, b) if h.name == name("snd1") && b == b"one"));
    s2.send_frame(relay_header("rcpt", "same.txt", 3)).await;
    s2.send(b"two").await;
    assert!(matches!(r.next().await, Seen::File(h, b) if h.name == name("snd2") && b == b"two"));
    let ack = Frame::Ack {
        filename: Bytes::from_static(b"same.txt"),
    };
    r.send_frame(ack.clone()).await;
    assert_eq!(s1.next().await, Seen::Frame(ack.clone()));
    s2.expect_silence(Duration::from_millis(100)).await;
    r.send_frame(ack.clone()).await;
    assert_eq!(s2.next().await, Seen::Frame(ack.clone()));
    // A third ACK matches nothing (ACK-3) and the connection stays open.
    r.send_frame(ack).await;
    r.expect_error(Reason::UnexpectedAck).await;
    assert!(r.list().await.starts_with("Lista de clientes:\n"));
    srv.shutdown().await;
}

#[tokio::test]
async fn bad_name_is_refused_and_closed() {
    let srv = server(ServerConfig::default()).await;
    for bad in [
        &b"a b\x01"[..],
        b"ab\x00c",
        b"\x7f\x7f\x7f\x7f",
        b"\xc3\xa9ab",
    ] {
        let mut p = Peer::connect(srv.local_addr()).await;
        p.send(bad).await;
        p.expect_error(Reason::BadName).await;
        p.expect_closed().await;
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn duplicate_name_is_refused_and_the_original_untouched() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["orig", "othr"]).await;
    let mut dup = Peer::login(srv.local_addr(), "orig").await;
    dup.expect_error(Reason::NameTaken).await;
    dup.expect_closed().await;
    p[1].msg("orig", "still you").await;
    p[0].expect_msg("othr", "still you").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn a_full_server_refuses_the_next_client() {
    let srv = server(ServerConfig {
        max_clients: 2,
        ..ServerConfig::default()
    })
    .await;
    let mut p = login_all(srv.local_addr(), &["one1", "two2"]).await;
    let mut third = Peer::login(srv.local_addr(), "thr3").await;
    third.expect_error(Reason::ServerFull).await;
    third.expect_closed().await;
    drop(p.pop());
    // Once a slot is free, a login succeeds again.
    for _ in 0..100 {
        let mut again = Peer::login(srv.local_addr(), "thr3").await;
        if again.next_within(Duration::from_millis(50)).await.is_none() {
            assert!(p[0].list().await.contains("thr3"));
            srv.shutdown().await;
            return;
        }
    }
    panic!("the slot was never freed");
}

#[tokio::test]
async fn unknown_recipient_keeps_the_connection_and_discards_a_relay_body() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["from", "real"]).await;
    p[0].msg("nope", "hello?").await;
    let text = p[0].expect_error(Reason::UnknownRecipient).await;
    assert!(text.contains("nope"), "{text}");
    // A body full of bytes that look like frames must be discarded, not parsed (FILE-7).
    let ghost = Frame::Msg {
        name: name("real"),
        text: Bytes::from_static(b"GHOST"),
    }
    .to_bytes();
    let junk: Vec<u8> = ghost.iter().copied().cycle().take(5000).collect();
    p[0].send_frame(relay_header("nope", "x.bin", junk.len() as u64))
        .await;
    p[0].send(&junk).await;
    p[0].expect_error(Reason::UnknownRecipient).await;
    p[0].msg("real", "after").await;
    p[1].expect_msg("from", "after").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn bad_opcode_and_malformed_frames_close_only_that_connection() {
    let srv = server(ServerConfig::default()).await;
    let addr = srv.local_addr();
    let mut p = login_all(addr, &["wit1", "wit2"]).await;
    let cases: Vec<(Vec<u8>, Reason)> = vec![
        (vec![0, 9, 1, 2, 3], Reason::BadOpcode),
        (vec![0, 0], Reason::BadOpcode),
        ([&[0u8, 2][..], b"wit1../x\0"].concat(), Reason::Malformed),
        (
            [&[0u8, 2][..], b"wit1x\0", &[0; 8], &[0, 1, 0, 0]].concat(),
            Reason::Malformed,
        ),
        (
            [
                &[0u8, 2][..],
                b"wit1x\0",
                &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 80],
                &[b'9'; 50],
            ]
            .concat(),
            Reason::Malformed,
        ),
        ([&[0u8, 4][..], &[b'a'; 300]].concat(), Reason::Malformed),
        (
            [&[0u8, 1][..], b"wit1", &vec![b'x'; 70_000]].concat(),
            Reason::TooLarge,
        ),
    ];
    for (i, (bytes, reason)) in cases.into_iter().enumerate() {
        let mut bad = Peer::login(addr, &format!("bad{i}")).await;
        bad.send(&bytes).await;
        bad.expect_error(reason).await;
        bad.expect_closed().await;
        p[0].msg("wit2", "alive").await;
        p[1].expect_msg("wit1", "alive").await;
    }
    p[0].expect_silence(Duration::from_millis(50)).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn client_error_frames_are_ignored() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["errc", "errd"]).await;
    p[0].send_frame(Frame::Error {
        text: Bytes::from_static(b"client-side oops"),
    })
    .await;
    p[0].expect_silence(Duration::from_millis(100)).await;
    p[0].msg("errd", "fine").await;
    p[1].expect_msg("errc", "fine").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn recipient_leaving_mid_body_aborts_the_sender_who_stays_usable() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["abrt", "gone"]).await;
    let gone = p.pop().unwrap();
    p[0].send_frame(relay_header("gone", "big.bin", 100_000))
        .await;
    p[0].send(&[1u8; 4096]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(gone);
    tokio::time::sleep(Duration::from_millis(50)).await;
    p[0].send(&[1u8; 100_000 - 4096]).await;
    p[0].expect_error(Reason::TransferAborted).await;
    assert!(p[0].list().await.ends_with("Cliente 1: abrt\n"));
    srv.shutdown().await;
}

#[tokio::test]
async fn sender_leaving_mid_body_closes_the_recipient_only() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["quit", "rcvr", "thrd"]).await;
    p[0].send_frame(relay_header("rcvr", "cut.bin", 50_000))
        .await;
    p[0].send(&[2u8; 1000]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(p.remove(0));
    // The recipient gets the header and exactly the 1000 bytes sent, then the connection
    // closes (FILE-9): a short body and a close, never a silently completed file.
    let mut decoder = Decoder::server_to_client(Limits::default());
    let mut buf = BytesMut::new();
    let mut header = None;
    let mut body = Vec::new();
    let mut chunk = [0u8; 4096];
    use tokio::io::AsyncReadExt;
    loop {
        match tokio::time::timeout(WAIT, p[0].stream.read(&mut chunk))
            .await
            .expect("closed in time")
        {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        while let Some(item) = decoder.decode(&mut buf).expect("a valid stream") {
            match item {
                Decoded::Frame(Frame::File(h)) => header = Some(h),
                Decoded::Body { data, .. } => body.extend_from_slice(&data),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let header = header.expect("the FILE header arrived");
    assert_eq!((header.name, header.size), (name("quit"), 50_000));
    assert_eq!(
        body,
        vec![2u8; 1000],
        "exactly the bytes sent, then the close"
    );
    assert!(p[1].list().await.contains("Cliente 1: thrd\n"));
    srv.shutdown().await;
}

#[tokio::test]
async fn disconnecting_inside_a_header_forwards_nothing_and_frees_the_name() {
    let srv = server(ServerConfig::default()).await;
    let addr = srv.local_addr();
    let mut w = login_all(addr, &["wtch"]).await.pop().unwrap();
    let frames = [
        Frame::Msg {
            name: name("wtch"),
            text: Bytes::from_static(b"cut here"),
        }
        .to_bytes(),
        relay_header("wtch", "f.bin", 4).to_bytes(),
        Frame::Ack {
            filename: Bytes::from_static(b"f.bin"),
        }
        .to_bytes(),
    ];
    for frame in frames {
        for cut in 1..frame.len() {
            let mut c = Peer::login(addr, "cutr").await;
            // The login must have registered, or "freed" below would prove nothing.
            let mut joined = false;
            for _ in 0..200 {
                if w.list().await.contains("cutr") {
                    joined = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert!(
                joined,
                "the login before the cut at byte {cut} never registered"
            );
            c.send(&frame[..cut]).await;
            drop(c);
            // The name comes back (ROB-2), and nothing partial reached the witness.
            let mut back = false;
            for _ in 0..200 {
                if !w.list().await.contains("cutr") {
                    back = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert!(back, "cutr not freed after a cut at byte {cut}");
        }
    }
    w.expect_silence(Duration::from_millis(50)).await;
    // …and a whole message still arrives whole.
    let mut c = Peer::login(addr, "last").await;
    c.msg("wtch", "whole").await;
    w.expect_msg("last", "whole").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn a_stalled_recipient_blocks_nobody_else() {
    let srv = server(ServerConfig::default()).await;
    let addr = srv.local_addr();
    let mut p = login_all(addr, &["stal", "chat", "talk"]).await;
    // A relay to the client that never reads, written until the server stops taking bytes:
    // only then is the stall real (its socket buffers and the relay path are full).
    let (stalled_tx, stalled_rx) = tokio::sync::oneshot::channel();
    let filler = tokio::spawn({
        let mut s = Peer::login(addr, "fill").await;
        async move {
            s.send_frame(relay_header("stal", "f2.bin", 1 << 30)).await;
            let chunk = vec![0u8; 65536];
            for _ in 0..(1 << 14) {
                if tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio::io::AsyncWriteExt::write_all(&mut s.stream, &chunk),
                )
                .await
                .is_err()
                {
                    let _ = stalled_tx.send(());
                    break;
                }
            }
            s
        }
    });
    tokio::time::timeout(Duration::from_secs(20), stalled_rx)
        .await
        .expect("the relay to the stalled reader backs up within 20 s")
        .expect("the filler saw its writes block");
    assert!(
        p[1].list().await.contains("stal"),
        "the stalled reader is still connected"
    );
    for i in 0..100 {
        p[2].msg("chat", &format!("m{i}")).await;
    }
    for i in 0..100 {
        p[1].expect_msg("talk", &format!("m{i}")).await;
    }
    filler.abort();
    srv.shutdown().await;
}

#[tokio::test]
async fn a_reader_that_never_reads_is_disconnected_at_its_budget() {
    let srv = server(ServerConfig {
        outbox_budget: 256 << 10,
        ..ServerConfig::default()
    })
    .await;
    let mut p = login_all(srv.local_addr(), &["slow", "fast", "witn"]).await;
    let text = "x".repeat(60_000);
    for _ in 0..200 {
        p[1].msg("slow", &text).await;
    }
    // The slow client was dropped; the others are still served.
    let mut dropped = false;
    for _ in 0..200 {
        if !p[2].list().await.contains("slow") {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(dropped, "DEC-8: a client over its budget is disconnected");
    srv.shutdown().await;
}

#[tokio::test]
async fn the_handshake_timeout_closes_silent_connections() {
    let srv = server(ServerConfig {
        handshake_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    })
    .await;
    let mut silent = Peer::connect(srv.local_addr()).await;
    silent.send(b"ab").await;
    let start = std::time::Instant::now();
    silent.expect_closed().await;
    assert!(start.elapsed() >= Duration::from_millis(150));
    srv.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_connection() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["sd01", "sd02"]).await;
    srv.shutdown().await;
    for peer in &mut p {
        peer.expect_closed().await;
    }
}

#[tokio::test]
async fn ordering_from_one_sender_is_preserved_across_frames_and_bodies() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["ordA", "ordB", "ordC"]).await;
    let data = body(50_000, 3);
    let mut wire = Vec::new();
    for i in 0..10 {
        wire.extend_from_slice(
            &Frame::Msg {
                name: name("ordB"),
                text: Bytes::from(format!("before {i}")),
            }
            .to_bytes(),
        );
    }
    wire.extend_from_slice(&relay_header("ordB", "mid.bin", data.len() as u64).to_bytes());
    p[0].send(&wire).await;
    p[0].send(&data[..20_000]).await;
    // Another sender's message must wait until the body is complete (ORD-2).
    p[2].msg("ordB", "from C").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    p[0].send(&data[20_000..]).await;
    p[0].msg("ordB", "after").await;
    for i in 0..10 {
        p[1].expect_msg("ordA", &format!("before {i}")).await;
    }
    match p[1].next().await {
        Seen::File(h, b) => assert!(h.name == name("ordA") && b == data),
        other => panic!("{other:?}"),
    }
    let mut rest = vec![];
    for _ in 0..2 {
        match p[1].next().await {
            Seen::Frame(Frame::Msg { name, text }) => rest.push((name.to_string(), text)),
            other => panic!("{other:?}"),
        }
    }
    assert!(rest.contains(&("ordC".into(), Bytes::from_static(b"from C"))));
    assert!(rest.contains(&("ordA".into(), Bytes::from_static(b"after"))));
    srv.shutdown().await;
}

#[tokio::test]
async fn empty_text_self_message_and_empty_file() {
    let srv = server(ServerConfig::default()).await;
    let mut p = login_all(srv.local_addr(), &["self"]).await;
    p[0].msg("self", "").await;
    p[0].expect_msg("self", "").await;
    p[0].send_frame(relay_header("self", "empty", 0)).await;
    assert!(matches!(p[0].next().await, Seen::File(h, b) if h.size == 0 && b.is_empty()));
    let data = body(100_000, 1);
    p[0].send_frame(relay_header("self", "loop.bin", data.len() as u64))
        .await;
    p[0].send(&data).await;
    assert!(matches!(p[0].next().await, Seen::File(_, b) if b == data));
    srv.shutdown().await;
}
