//! The reference server in the legacy profile, over real sockets: the dialect's frames both
//! ways, relays in their 2048-byte block, and precise error texts for bad input that leave
//! the server (and, where one read is one frame, the connection) serving.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use msrp_reference::decode::{Decoded, Limits};
use msrp_reference::frame::{Frame, Name};
use msrp_reference::profile::legacy::{LegacyDecoder, READ_SIZE};
use msrp_reference::profile::Profile;
use msrp_reference::server::{ServerConfig, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);
/// The quiet gap that ends a unit, and the pause after each write (LEG-2, LEG-12).
const GAP: Duration = Duration::from_millis(40);

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

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Frame(Frame),
    File(Frame, Vec<u8>),
    Closed,
}

struct Peer {
    stream: TcpStream,
    buf: BytesMut,
    decoder: LegacyDecoder,
}

impl Peer {
    async fn login(addr: SocketAddr, name: &str) -> Peer {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut p = Peer {
            stream,
            buf: BytesMut::new(),
            decoder: LegacyDecoder::server_to_client(Limits::default()),
        };
        p.send(name.as_bytes()).await;
        p
    }

    /// One write, then the pause LEG-2 asks of a sender.
    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
        tokio::time::sleep(GAP).await;
    }

    /// Reads until a unit ends (quiet gap) and returns the next item, or Closed.
    async fn next(&mut self) -> Seen {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut unit_ended = false;
        loop {
            match self.decoder.decode(&mut self.buf, unit_ended) {
                Ok(Some(Decoded::Frame(Frame::File(h)))) if h.is_relay() => {
                    let mut body = Vec::new();
                    while (body.len() as u64) < h.size {
                        match self.decoder.decode(&mut self.buf, false).expect("body") {
                            Some(Decoded::Body { data, .. }) => body.extend_from_slice(&data),
                            Some(other) => panic!("{other:?} inside a body"),
                            None => {
                                self.buf.reserve(4096);
                                let n = tokio::time::timeout_at(
                                    deadline,
                                    self.stream.read_buf(&mut self.buf),
                                )
                                .await
                                .expect("body within the deadline")
                                .expect("read");
                                assert!(n > 0, "closed inside a body");
                            }
                        }
                    }
                    return Seen::File(Frame::File(h), body);
                }
                Ok(Some(Decoded::Frame(f))) => return Seen::Frame(f),
                Ok(Some(other)) => panic!("unexpected {other:?}"),
                Ok(None) => {}
                Err(e) => panic!("server sent bytes outside the dialect: {e}"),
            }
            if unit_ended && self.buf.is_empty() {
                unit_ended = false;
            }
            self.buf.reserve(4096);
            let wait = if self.buf.is_empty() {
                deadline
            } else {
                tokio::time::Instant::now() + GAP
            };
            match tokio::time::timeout_at(wait, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    if self.buf.is_empty() {
                        return Seen::Closed;
                    }
                    unit_ended = true;
                }
                Ok(Ok(_)) => {}
                Err(_) if !self.buf.is_empty() => unit_ended = true,
                Err(_) => panic!("nothing within {WAIT:?}"),
            }
        }
    }

    async fn error_text(&mut self) -> String {
        match self.next().await {
            Seen::Frame(Frame::Error { text }) => String::from_utf8_lossy(&text).into_owned(),
            other => panic!("expected an error text, got {other:?}"),
        }
    }

    async fn silent(&mut self, for_: Duration) {
        self.buf.reserve(64);
        if let Ok(r) = tokio::time::timeout(for_, self.stream.read_buf(&mut self.buf)).await {
            panic!("expected silence, read {r:?}: {:?}", self.buf);
        }
    }
}

fn n(s: &str) -> Name {
    Name::parse_legacy(s).expect("test name")
}

fn msg(from: &str, text: &str) -> Seen {
    Seen::Frame(Frame::Msg {
        name: n(from),
        text: Bytes::copy_from_slice(text.as_bytes()),
    })
}

#[tokio::test]
async fn messages_list_and_short_names() {
    let srv = legacy_server().await;
    let mut ali = Peer::login(srv.local_addr(), "ali").await;
    let mut b = Peer::login(srv.local_addr(), "b").await;
    ali.send(b"\x00\x01b hola que tal").await;
    assert_eq!(b.next().await, msg("ali", "hola que tal"));
    b.send(b"\x00\x01ali ok\n").await;
    assert_eq!(ali.next().await, msg("b", "ok"));
    ali.send(b"\x00\x03").await;
    assert_eq!(
        ali.next().await,
        Seen::Frame(Frame::ListReply {
            text: Bytes::from_static(b"Lista de clientes:\nCliente 1: ali\nCliente 2: b\n")
        })
    );
    // A message to oneself (MSG-5) and an empty text (MSG-3).
    ali.send(b"\x00\x01ali ").await;
    assert_eq!(ali.next().await, msg("ali", ""));
    srv.shutdown().await;
}

#[tokio::test]
async fn relay_block_body_and_ack() {
    let srv = legacy_server().await;
    let mut ali = Peer::login(srv.local_addr(), "ali").await;
    let mut bob = Peer::login(srv.local_addr(), "bob").await;
    ali.send(b"\x00\x02bob f.txt 10").await;
    ali.send(b"0123456789").await;
    // Read the raw block first: LEG-8's exact layout.
    let mut block = vec![0u8; READ_SIZE + 10];
    tokio::time::timeout(WAIT, bob.stream.read_exact(&mut block))
        .await
        .expect("block within the deadline")
        .expect("read");
    assert_eq!(&block[..15], b"\x00\x02bob f.txt 10\x00");
    assert!(block[15..READ_SIZE].iter().all(|&b| b == 0));
    assert_eq!(&block[READ_SIZE..], b"0123456789");
    bob.send(b"\x00\x04f.txt\x00").await;
    assert_eq!(
        ali.next().await,
        Seen::Frame(Frame::Ack {
            filename: Bytes::from_static(b"f.txt")
        })
    );
    // A P2P offer: forwarded with the recipient's name (LEG-8) and the sender's address as
    // the server sees it (FILE-5).
    ali.send(b"\x00\x02bob g.bin 3 4000 6.6.6.6").await;
    match bob.next().await {
        Seen::Frame(Frame::File(h)) => {
            assert_eq!(h.name, n("bob"));
            assert_eq!((h.size, h.port, &h.ip[..]), (3, 4000, &b"127.0.0.1"[..]));
        }
        other => panic!("expected the P2P offer, got {other:?}"),
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn coalesced_frames_are_both_honoured() {
    let srv = legacy_server().await;
    let mut ali = Peer::login(srv.local_addr(), "ali").await;
    let mut bob = Peer::login(srv.local_addr(), "bob").await;
    ali.send(b"\x00\x01bob one\x00\x00\x03").await;
    assert_eq!(bob.next().await, msg("ali", "one"));
    assert!(matches!(
        ali.next().await,
        Seen::Frame(Frame::ListReply { .. })
    ));
    srv.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_precise_error_texts() {
    let srv = legacy_server().await;
    let addr = srv.local_addr();
    let mut ali = Peer::login(addr, "ali").await;
    let _bob = Peer::login(addr, "bob").await;

    // Shape errors of MSG and unknown opcodes: an error text, the connection stays (LEG-13).
    ali.send(b"\x00\x01bob").await;
    let e = ali.error_text().await;
    assert!(e.contains("too few fields") && e.contains("LEG-4"), "{e}");
    ali.send(b"\x00\x01alice hi").await;
    let e = ali.error_text().await;
    assert!(e.contains("1 to 4") && e.contains("LEG-4"), "{e}");
    ali.send(b"\x00\x09").await;
    let e = ali.error_text().await;
    assert!(e.contains("LEG-13"), "{e}");
    ali.send(b"\x00\x01zzz hi").await;
    let e = ali.error_text().await;
    assert!(e.contains("MSG-4"), "{e}");
    ali.send(b"\x00\x03").await;
    assert!(matches!(
        ali.next().await,
        Seen::Frame(Frame::ListReply { .. })
    ));

    // FILE header faults close the connection (a body may follow).
    ali.send(b"\x00\x02bob f.txt abc").await;
    let e = ali.error_text().await;
    assert!(
        e.contains("not a decimal number") && e.contains("LEG-5"),
        "{e}"
    );
    assert_eq!(ali.next().await, Seen::Closed);

    let mut c = Peer::login(addr, "c").await;
    c.send(b"\x00\x02bob my file.txt 5").await;
    let e = c.error_text().await;
    assert!(e.contains("space") && e.contains("LEG-5"), "{e}");
    assert_eq!(c.next().await, Seen::Closed);

    // A name of 5 bytes, and a taken name.
    let mut long = Peer::login(addr, "alice").await;
    let e = long.error_text().await;
    assert!(e.contains("LEG-1"), "{e}");
    assert_eq!(long.next().await, Seen::Closed);
    let mut dup = Peer::login(addr, "bob").await;
    let e = dup.error_text().await;
    assert!(e.contains("name-taken"), "{e}");
    assert_eq!(dup.next().await, Seen::Closed);

    // Still serving everyone else (ERR-4).
    let mut d = Peer::login(addr, "d").await;
    d.send(b"\x00\x03").await;
    assert!(matches!(
        d.next().await,
        Seen::Frame(Frame::ListReply { .. })
    ));
    srv.shutdown().await;
}

#[tokio::test]
async fn a_departed_recipient_never_stops_the_server() {
    let srv = legacy_server().await;
    let addr = srv.local_addr();
    let mut ali = Peer::login(addr, "ali").await;
    let gone = Peer::login(addr, "gone").await;
    // The recipient resets its connection; messages keep being sent to its name while the
    // server notices. A server that dies of SIGPIPE here fails ERR-4.
    let _ = gone.stream.set_zero_linger();
    drop(gone);
    for _ in 0..5 {
        ali.send(b"\x00\x01gone are you there").await;
    }
    let mut bob = Peer::login(addr, "bob").await;
    ali.send(b"\x00\x01bob still here").await;
    assert_eq!(bob.next().await, msg("ali", "still here"));
    bob.silent(Duration::from_millis(100)).await;
    srv.shutdown().await;
}
