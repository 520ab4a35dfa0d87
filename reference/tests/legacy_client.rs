//! The reference client in the legacy profile, over real sockets: against the reference
//! server in the dialect (messages both ways, LIST, relay and P2P files with their ACKs), and
//! against a hand-written dialect peer that checks the client's writes byte for byte and sends
//! it what circulating servers send (bare texts, an invalid frame, an error text).

use std::time::Duration;

use bytes::Bytes;
use msrp_reference::client::{fetch_p2p, serve_p2p, Client, ClientError, Event};
use msrp_reference::frame::{Frame, Name};
use msrp_reference::profile::legacy::READ_SIZE;
use msrp_reference::profile::Profile;
use msrp_reference::server::{ServerConfig, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(5);

fn name(s: &str) -> Name {
    Name::parse_legacy(s).expect("valid legacy name")
}

async fn legacy_server() -> ServerHandle {
    ServerHandle::start(
        "127.0.0.1:0",
        ServerConfig {
            profile: Profile::Legacy,
            ..ServerConfig::default()
        },
    )
    .await
    .expect("bind 127.0.0.1:0")
}

async fn connect(addr: &str, n: &str) -> Client {
    Client::connect_with(addr, name(n), WAIT, Profile::Legacy)
        .await
        .expect("connect")
}

/// The next event that is not a body run (those are collected by [`relay_body`]).
async fn next(client: &mut Client) -> Event {
    tokio::time::timeout(WAIT, client.next_event())
        .await
        .expect("an event within the deadline")
        .expect("events until Closed")
}

/// Reads a relayed body to its end.
async fn relay_body(client: &mut Client, size: u64) -> Vec<u8> {
    let mut body = Vec::new();
    while (body.len() as u64) < size {
        match next(client).await {
            Event::FileData { data, .. } => body.extend_from_slice(&data),
            other => panic!("{other:?} inside a relayed body"),
        }
    }
    body
}

#[tokio::test]
async fn messages_list_and_files_through_the_legacy_server() {
    let server = legacy_server().await;
    let addr = server.local_addr().to_string();
    // Names of 2 and 4 bytes: both valid in the dialect (LEG-1).
    let mut al = connect(&addr, "al").await;
    let mut bobo = connect(&addr, "bobo").await;

    al.sender()
        .send_text(name("bobo"), "hola, qué tal")
        .await
        .expect("send");
    assert_eq!(
        next(&mut bobo).await,
        Event::Message {
            from: name("al"),
            text: Bytes::from("hola, qué tal")
        }
    );
    bobo.sender()
        .send_text(name("al"), "bien")
        .await
        .expect("send");
    assert_eq!(
        next(&mut al).await,
        Event::Message {
            from: name("bobo"),
            text: Bytes::from("bien")
        }
    );

    al.sender().list().await.expect("list");
    assert_eq!(
        next(&mut al).await,
        Event::List {
            text: Bytes::from("Lista de clientes:\nCliente 1: al\nCliente 2: bobo\n")
        }
    );

    // A relayed body that begins with digits and is longer than the 2048-byte block: the
    // receiver must take the header from the block, not from the body (LEG-8).
    let body: Vec<u8> = (0..5000u32)
        .map(|i| b"0123456789 \0"[i as usize % 12])
        .collect();
    al.sender()
        .send_file_relay(
            name("bobo"),
            b"notas.txt",
            body.len() as u64,
            &body[..],
            |_| {},
        )
        .await
        .expect("relay");
    match next(&mut bobo).await {
        Event::FileStart(h) => {
            assert_eq!(&h.filename[..], b"notas.txt");
            assert_eq!(h.size, body.len() as u64);
            // LEG-8: the header as the sender wrote it, so the recipient's own name.
            assert_eq!(h.name, name("bobo"));
        }
        other => panic!("expected a relayed FILE, got {other:?}"),
    }
    assert_eq!(relay_body(&mut bobo, body.len() as u64).await, body);
    bobo.sender().ack("notas.txt").await.expect("ack");
    assert_eq!(
        next(&mut al).await,
        Event::Ack {
            filename: Bytes::from("notas.txt")
        }
    );

    // P2P: the offer travels in the dialect, the body directly.
    let listener = bobo
        .sender()
        .offer_p2p(name("al"), b"foto.jpg", 3000)
        .await
        .expect("offer");
    let p2p_body: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
    let serving = tokio::spawn({
        let p2p_body = p2p_body.clone();
        async move { serve_p2p(listener, 3000, &p2p_body[..], WAIT, |_| {}).await }
    });
    let offer = match next(&mut al).await {
        Event::FileOffer(h) => h,
        other => panic!("expected a P2P offer, got {other:?}"),
    };
    assert_eq!(&offer.filename[..], b"foto.jpg");
    let mut got = Vec::new();
    fetch_p2p(&offer, &mut got, WAIT, |_| {})
        .await
        .expect("fetch");
    assert_eq!(got, p2p_body);
    serving.await.expect("join").expect("served");
    al.sender().ack("foto.jpg").await.expect("ack");
    assert_eq!(
        next(&mut bobo).await,
        Event::Ack {
            filename: Bytes::from("foto.jpg")
        }
    );

    // An error text (LEG-10), and the connection stays usable (MSG-4).
    al.sender()
        .send_text(name("zz"), "¿hay alguien?")
        .await
        .expect("send");
    match next(&mut al).await {
        Event::Error { text, .. } => assert!(
            String::from_utf8_lossy(&text).contains("zz"),
            "error text names the recipient: {text:?}"
        ),
        other => panic!("expected an error text, got {other:?}"),
    }
    al.sender().list().await.expect("list");
    assert!(matches!(next(&mut al).await, Event::List { .. }));
}

#[tokio::test]
async fn frames_the_dialect_cannot_express_are_refused_locally() {
    let server = legacy_server().await;
    let addr = server.local_addr().to_string();
    let al = connect(&addr, "al").await;
    let to = name("bo");
    for (text, rule) in [(&b"a\0b"[..], "LEG-2"), (&b"\nhola"[..], "LEG-2")] {
        match al
            .sender()
            .send_text(to, Bytes::copy_from_slice(text))
            .await
        {
            Err(ClientError::Invalid(m)) => assert!(m.contains(rule), "{m}"),
            other => panic!("{text:?}: expected a local refusal, got {other:?}"),
        }
    }
    match al.sender().offer_p2p(to, b"mi archivo.txt", 3).await {
        Err(ClientError::Invalid(m)) => assert!(m.contains("LEG-5"), "{m}"),
        other => panic!("a filename with a space: expected a local refusal, got {other:?}"),
    }
    match al
        .sender()
        .send_frame(&Frame::Error {
            text: Bytes::from("x"),
        })
        .await
    {
        Err(ClientError::Invalid(m)) => assert!(m.contains("ERR-3"), "{m}"),
        other => panic!("a client ERROR: expected a local refusal, got {other:?}"),
    }
    // A name with a space would break the separator (LEG-1): refused before any byte is sent.
    assert!(Name::parse_legacy("abcde").is_err());
    let spaced = Name::from_slice(b"a b").expect("3 bytes");
    match Client::connect_with(&addr, spaced, WAIT, Profile::Legacy).await {
        Err(ClientError::Invalid(m)) => assert!(m.contains("LEG-1"), "{m}"),
        other => panic!("a name with a space: expected a local refusal, got {other:?}"),
    }
}

/// Reads one read's worth from `s` (the dialect's unit on a server), within the deadline.
async fn one_read(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; READ_SIZE];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .expect("a read within the deadline")
        .expect("read");
    buf.truncate(n);
    buf
}

#[tokio::test]
async fn writes_one_frame_per_read_and_survives_what_circulating_servers_send() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let connecting = tokio::spawn(async move { connect(&addr, "ana").await });
    let (mut srv, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("accept in time")
        .expect("accept");
    // LEG-1: the name alone, then each frame in a read of its own (LEG-2), even when the
    // client is handed several at once.
    assert_eq!(one_read(&mut srv).await, b"ana");
    let mut client = connecting.await.expect("join");
    let frames = [
        Frame::Msg {
            name: name("bo"),
            text: Bytes::from("uno"),
        },
        Frame::ListRequest,
        Frame::Ack {
            filename: Bytes::from("a.txt"),
        },
    ];
    let sending = tokio::spawn({
        let sender = client.sender().clone();
        async move { sender.send_frames(&frames).await }
    });
    assert_eq!(one_read(&mut srv).await, b"\x00\x01bo uno");
    assert_eq!(one_read(&mut srv).await, b"\x00\x03");
    assert_eq!(one_read(&mut srv).await, b"\x00\x04a.txt");
    sending.await.expect("join").expect("sent");

    // What a circulating server writes, one write each, read as they come (LEG-12: the
    // client frames by read, so it is read while the server writes, as the client
    // program does).
    srv.write_all(b"[bo]: hola\n").await.expect("write");
    assert_eq!(
        next(&mut client).await,
        Event::Message {
            from: name("bo"),
            text: Bytes::from("hola")
        }
    );
    srv.write_all(b"\x00\x01bo opcode-framed message")
        .await
        .expect("write");
    match next(&mut client).await {
        Event::Invalid { detail } => assert!(detail.contains("LEG-7"), "{detail}"),
        other => panic!("an opcode-framed message: expected Invalid, got {other:?}"),
    }
    srv.write_all(b"Lista de clientes:\nCliente 1: ana\n")
        .await
        .expect("write");
    match next(&mut client).await {
        Event::List { .. } => {}
        other => panic!("a bare LIST text: expected List, got {other:?}"),
    }
    srv.write_all(b"El destinatario no existe")
        .await
        .expect("write");
    match next(&mut client).await {
        Event::Error { reason, text } => {
            assert_eq!(reason, None);
            assert_eq!(&text[..], b"El destinatario no existe");
        }
        other => panic!("an error text: expected Error, got {other:?}"),
    }
    srv.write_all(b"\x00\x04a.txt\x00").await.expect("write");
    assert_eq!(
        next(&mut client).await,
        Event::Ack {
            filename: Bytes::from("a.txt")
        }
    );
    srv.write_all(b"\x00\x02ana x.bin 10 4000 10.0.0.9")
        .await
        .expect("write");
    match next(&mut client).await {
        Event::FileOffer(h) => {
            assert_eq!((h.size, h.port, &h.ip[..]), (10, 4000, &b"10.0.0.9"[..]));
        }
        other => panic!("a P2P header: expected an offer, got {other:?}"),
    }
    // A relay header with no end inside its block is refused, and the connection ends
    // cleanly afterwards.
    let mut block = b"\x00\x02ana y.bin 5".to_vec();
    block.resize(READ_SIZE, b'z');
    srv.write_all(&block).await.expect("write");
    match next(&mut client).await {
        Event::Invalid { detail } => assert!(detail.contains("LEG-8"), "{detail}"),
        other => panic!("a header with no end: expected Invalid, got {other:?}"),
    }
    drop(srv);
    assert_eq!(next(&mut client).await, Event::Closed { error: None });
}
