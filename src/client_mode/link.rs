//! The harness's end of a client's connection (the harness plays the server): exact writes
//! with deadlines, decoded reads of what the client sends, and a recording for pcaps.
//!
//! The recording is kept from the client's side (its address is `local`, what it sends is
//! `Out`), so that a pcap shows the client opening the connection and sending its login
//! first, as Wireshark's dissector expects.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use msrp_reference::decode::{DecodeError, Decoded, Decoder, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::record::{ConnRecord, Direction};

/// What arrived from the client instead of an item.
#[derive(Debug, Clone)]
pub enum Missing {
    /// The client closed (FIN), reset, or the socket failed: how.
    Closed(String),
    /// Nothing complete before the deadline; the bytes of an unfinished item.
    Timeout(Vec<u8>),
    /// Bytes that are not a valid frame.
    Garbage(DecodeError, Vec<u8>),
}

impl Missing {
    /// One line for reports.
    pub fn describe(&self) -> String {
        match self {
            Missing::Closed(how) => format!("the connection {how}"),
            Missing::Timeout(p) if p.is_empty() => "nothing".into(),
            Missing::Timeout(p) => format!(
                "an incomplete frame ({} bytes: {})",
                p.len(),
                msrp_reference::text::short_hex(p)
            ),
            Missing::Garbage(e, b) => format!(
                "bytes that are not a valid frame ({e}): {}",
                msrp_reference::text::short_hex(b)
            ),
        }
    }
}

/// One accepted client connection.
pub struct Link {
    stream: Option<TcpStream>,
    buf: BytesMut,
    decoder: Decoder,
    closed: Option<String>,
    write_shut: bool,
    /// Items handed back by a step that departed only from a SHOULD rule (an ACK sent too
    /// early is still the ACK a later step checks the layout of).
    unread: std::collections::VecDeque<Decoded>,
    pub record: ConnRecord,
}

impl Link {
    /// Wraps an accepted stream.
    pub fn new(stream: TcpStream, mut record: ConnRecord) -> Link {
        let _ = stream.set_nodelay(true);
        if let (Ok(l), Ok(p)) = (stream.local_addr(), stream.peer_addr()) {
            record.set_addrs(p, l);
        }
        Link {
            stream: Some(stream),
            buf: BytesMut::new(),
            decoder: Decoder::client_to_server(Limits {
                max_text: 16 << 20,
                max_server_text: 16 << 20,
            }),
            closed: None,
            write_shut: false,
            unread: std::collections::VecDeque::new(),
            record,
        }
    }

    /// Writes `bytes` in the given pieces, pausing between them; a client that stops reading
    /// makes this fail at `deadline` instead of hanging.
    pub async fn send(
        &mut self,
        pieces: &[&[u8]],
        pause: Duration,
        deadline: Instant,
    ) -> Result<(), String> {
        for (i, piece) in pieces.iter().enumerate() {
            if self.write_shut {
                return Err("the harness already closed this connection".into());
            }
            let Some(stream) = self.stream.as_mut() else {
                return Err("the harness already closed this connection".into());
            };
            match tokio::time::timeout_at(deadline, stream.write_all(piece)).await {
                Ok(Ok(())) => self.record.push(Direction::In, piece),
                Ok(Err(e)) => return Err(format!("write failed: {e}")),
                Err(_) => {
                    return Err(format!(
                        "the client stopped reading: a write was still blocked at the deadline after {} of {} pieces",
                        i,
                        pieces.len()
                    ))
                }
            }
            if i + 1 < pieces.len() && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
        Ok(())
    }

    async fn fill(&mut self, deadline: Instant) -> Result<(), Missing> {
        if let Some(how) = &self.closed {
            return Err(Missing::Closed(how.clone()));
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(Missing::Closed("was closed by the harness".into()));
        };
        self.buf.reserve(64 * 1024);
        let before = self.buf.len();
        let how = match tokio::time::timeout_at(deadline, stream.read_buf(&mut self.buf)).await {
            Err(_) => return Err(Missing::Timeout(self.buf.to_vec())),
            Ok(Ok(0)) => "was closed by the client (FIN)".to_string(),
            Ok(Ok(_)) => {
                self.record.push(Direction::Out, &self.buf[before..]);
                return Ok(());
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                "was reset by the client (RST)".to_string()
            }
            Ok(Err(e)) => format!("failed: {e}"),
        };
        self.record.close_by_us(how.contains("RST"));
        self.closed = Some(how.clone());
        Err(Missing::Closed(how))
    }

    /// The next decoded item the client sent.
    pub async fn next(&mut self, deadline: Instant) -> Result<Decoded, Missing> {
        if let Some(item) = self.unread.pop_front() {
            return Ok(item);
        }
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(item)) => return Ok(item),
                Ok(None) => {}
                Err(e) => {
                    let bytes = self.buf.split().to_vec();
                    return Err(Missing::Garbage(e, bytes));
                }
            }
            self.fill(deadline).await?;
        }
    }

    /// Hands an item back: the next [`Link::next`] returns it again.
    pub fn unread(&mut self, item: Decoded) {
        self.unread.push_front(item);
    }

    /// Closes: half (FIN, keep reading), graceful, or with a reset.
    pub async fn close(&mut self, half: bool, abrupt: bool) {
        if half {
            if let Some(stream) = self.stream.as_mut() {
                if !self.write_shut {
                    let _ =
                        tokio::time::timeout(Duration::from_millis(200), stream.shutdown()).await;
                    self.write_shut = true;
                }
            }
            return;
        }
        if let Some(stream) = self.stream.take() {
            if abrupt {
                let _ = stream.set_zero_linger();
            } else {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_millis(200), stream.shutdown()).await;
            }
            self.record.close_by_peer(abrupt);
        }
    }
}
