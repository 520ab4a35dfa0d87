//! A raw test peer: writes exact bytes, reads decoded server frames with deadlines.
#![allow(dead_code)]

pub mod process;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use msrp_reference::decode::{Decoded, Decoder, Limits};
use msrp_reference::frame::{FileHeader, Frame, Name, Reason};
use msrp_reference::server::{ServerConfig, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const WAIT: Duration = Duration::from_secs(5);

pub async fn server(config: ServerConfig) -> ServerHandle {
    ServerHandle::start("127.0.0.1:0", config)
        .await
        .expect("bind 127.0.0.1:0")
}

pub fn name(s: &str) -> Name {
    s.parse().expect("valid test name")
}

/// What a peer saw next.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    Frame(Frame),
    /// A relay header and its whole body.
    File(FileHeader, Vec<u8>),
    Closed,
}

pub struct Peer {
    pub name: Name,
    pub stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl Peer {
    /// Connects and sends the 4 name bytes.
    pub async fn login(addr: SocketAddr, n: &str) -> Peer {
        let mut p = Peer::connect(addr).await;
        p.name = name(n);
        p.send(n.as_bytes()).await;
        p
    }

    /// Connects without logging in.
    pub async fn connect(addr: SocketAddr) -> Peer {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Peer {
            name: Name::from_array(*b"????"),
            stream,
            buf: BytesMut::new(),
            decoder: Decoder::server_to_client(Limits::default()),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    pub async fn send_frame(&mut self, frame: Frame) {
        self.send(&frame.to_bytes()).await;
    }

    pub async fn msg(&mut self, to: &str, text: &str) {
        self.send_frame(Frame::Msg {
            name: name(to),
            text: Bytes::copy_from_slice(text.as_bytes()),
        })
        .await;
    }

    /// Next frame (relay bodies collected whole), or Closed; panics after `WAIT`.
    pub async fn next(&mut self) -> Seen {
        self.next_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("{}: nothing within {WAIT:?}", self.name))
    }

    pub async fn next_within(&mut self, wait: Duration) -> Option<Seen> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut file: Option<(FileHeader, Vec<u8>)> = None;
        loop {
            loop {
                match self.decoder.decode(&mut self.buf) {
                    Ok(Some(Decoded::Frame(Frame::File(h)))) if h.is_relay() && h.size > 0 => {
                        file = Some((h, Vec::new()));
                    }
                    Ok(Some(Decoded::Frame(Frame::File(h)))) if h.is_relay() => {
                        return Some(Seen::File(h, Vec::new()))
                    }
                    Ok(Some(Decoded::Frame(f))) => return Some(Seen::Frame(f)),
                    Ok(Some(Decoded::Body { data, remaining })) => {
                        let (_, body) = file.as_mut().expect("body after header");
                        body.extend_from_slice(&data);
                        if remaining == 0 {
                            let (h, body) = file.take().unwrap();
                            return Some(Seen::File(h, body));
                        }
                    }
                    Ok(Some(Decoded::Login(_))) => unreachable!(),
                    Ok(None) => break,
                    Err(e) => panic!("{}: server sent undecodable bytes: {e}", self.name),
                }
            }
            let mut chunk = [0u8; 65536];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return Some(Seen::Closed),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    pub async fn expect_msg(&mut self, from: &str, text: &str) {
        assert_eq!(
            self.next().await,
            Seen::Frame(Frame::Msg {
                name: name(from),
                text: Bytes::copy_from_slice(text.as_bytes())
            }),
            "{} expected a MSG from {from}",
            self.name
        );
    }

    pub async fn expect_error(&mut self, reason: Reason) -> String {
        match self.next().await {
            Seen::Frame(Frame::Error { text }) => {
                let (got, _) = Reason::split_error_text(&text).expect("ERR-1 text");
                assert_eq!(
                    got,
                    reason,
                    "{}: {}",
                    self.name,
                    String::from_utf8_lossy(&text)
                );
                String::from_utf8_lossy(&text).into_owned()
            }
            other => panic!("{}: expected ERROR {reason}, got {other:?}", self.name),
        }
    }

    pub async fn expect_closed(&mut self) {
        assert_eq!(
            self.next().await,
            Seen::Closed,
            "{} expected the server to close",
            self.name
        );
    }

    /// Nothing arrives within `wait`: no whole frame, and no part of one either (a forwarded
    /// partial frame or a relay header whose body is still due is not silence).
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Some(seen) = self.next_within(wait).await {
            panic!("{}: expected silence, got {seen:?}", self.name);
        }
        assert!(
            self.buf.is_empty(),
            "{}: expected silence, got the partial frame {:02x?}",
            self.name,
            &self.buf[..]
        );
        assert_eq!(
            self.decoder.body_remaining(),
            None,
            "{}: expected silence, got a relay header whose body is still due",
            self.name
        );
    }

    pub async fn list(&mut self) -> String {
        self.send_frame(Frame::ListRequest).await;
        match self.next().await {
            Seen::Frame(Frame::ListReply { text }) => String::from_utf8(text.to_vec()).unwrap(),
            other => panic!("expected LIST, got {other:?}"),
        }
    }
}

/// Logs in `names` and waits until the server has registered all of them.
pub async fn login_all(addr: SocketAddr, names: &[&str]) -> Vec<Peer> {
    let mut peers = Vec::new();
    for n in names {
        peers.push(Peer::login(addr, n).await);
    }
    // LIST answers only after every earlier login was processed on that connection; poll
    // from the last peer until all names appear.
    let last = peers.last_mut().expect("at least one name");
    for _ in 0..100 {
        let list = last.list().await;
        if names.iter().all(|n| list.contains(&format!(": {n}\n"))) {
            return peers;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not all of {names:?} logged in");
}

pub fn relay_header(to: &str, filename: &str, size: u64) -> Frame {
    Frame::File(FileHeader {
        name: name(to),
        filename: Bytes::copy_from_slice(filename.as_bytes()),
        size,
        port: 0,
        ip: Bytes::new(),
    })
}

/// Deterministic pseudo-random bytes.
pub fn body(len: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut v = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}
