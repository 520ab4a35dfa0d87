//! One harness connection to the target: exact writes, decoded reads with deadlines, and a
//! recording of every byte in both directions (capped, so a flooding target cannot exhaust
//! memory).

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use msrp_reference::decode::{Decoded, Decoder, Limits};
use msrp_reference::frame::Frame;
use msrp_reference::profile::legacy::LegacyDecoder;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::record::{ConnRecord, Direction};
use crate::transcript::ConnLog;

use super::seen::{CloseKind, Seen};

/// Why a write of the harness did not go out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The harness had already closed this connection.
    #[error("the connection is already closed")]
    Closed,
    /// The socket refused it (the target reset or closed the connection).
    #[error("write failed: {0}")]
    Failed(String),
    /// It did not complete before the step's deadline: the target stopped reading (ROB-1).
    #[error("write blocked until the deadline: the target stopped reading")]
    Blocked,
}

/// A harness connection.
pub struct Conn {
    stream: Option<TcpStream>,
    buf: BytesMut,
    decoder: Decoder,
    /// Set in the legacy profile: the dialect's decoder and the quiet gap that ends a unit
    /// (LEG-12), which is also the pause after each frame written (LEG-2).
    legacy: Option<(LegacyDecoder, Duration)>,
    /// Legacy profile: units already read apart by [`Conn::drain_ready`], in arrival order
    /// after what `buf` holds.
    units: std::collections::VecDeque<BytesMut>,
    closed: Option<CloseKind>,
    /// Every byte written and read on this connection, with times (pcaps).
    pub record: ConnRecord,
    /// This connection's transcript lines.
    pub log: ConnLog,
}

impl Conn {
    /// Connects within `wait`.
    pub async fn connect(
        target: std::net::SocketAddr,
        wait: Duration,
        record: ConnRecord,
        log: ConnLog,
    ) -> io::Result<Conn> {
        let stream = tokio::time::timeout(wait, TcpStream::connect(target))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {wait:?}"),
                )
            })??;
        Ok(Conn::from_stream(stream, record, log))
    }

    /// Wraps an accepted or connected stream.
    pub fn from_stream(stream: TcpStream, mut record: ConnRecord, log: ConnLog) -> Conn {
        let _ = stream.set_nodelay(true);
        if let (Ok(l), Ok(p)) = (stream.local_addr(), stream.peer_addr()) {
            record.set_addrs(l, p);
        }
        Conn {
            stream: Some(stream),
            buf: BytesMut::new(),
            decoder: Decoder::server_to_client(Limits::default()),
            legacy: None,
            units: std::collections::VecDeque::new(),
            closed: None,
            record,
            log,
        }
    }

    /// Speaks the legacy dialect from now on: frames read by quiet `gap` (LEG-12), and
    /// [`Conn::pace`] waits `gap` after each frame written (LEG-2).
    pub fn set_legacy(&mut self, gap: Duration) {
        self.legacy = Some((LegacyDecoder::server_to_client(Limits::default()), gap));
    }

    /// In the legacy profile, the pause after a frame's write so that the target reads it
    /// alone (LEG-2); nothing in the strict profile.
    pub async fn pace(&self) {
        if let Some((_, gap)) = &self.legacy {
            tokio::time::sleep(*gap).await;
        }
    }

    /// Legacy profile: reads what has arrived by now, without waiting, as one unit of its own.
    /// Called on every connection after each paced write, so that frames the target wrote
    /// apart stay apart even when the harness reads them later (LEG-12).
    pub fn drain_ready(&mut self) {
        if self.legacy.is_none() || self.closed.is_some() {
            return;
        }
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let mut unit = BytesMut::new();
        loop {
            unit.reserve(16 * 1024);
            match stream.try_read_buf(&mut unit) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if !unit.is_empty() {
            self.record.push(Direction::In, &unit);
            self.units.push_back(unit);
        }
    }

    /// Writes `bytes`, cut into `split` sizes (the rest in one last write) with `pause`
    /// between writes.
    pub async fn send(
        &mut self,
        bytes: &[u8],
        split: &[usize],
        pause: Duration,
        deadline: Instant,
    ) -> Result<(), WriteError> {
        let mut writes = Vec::new();
        let mut at = 0;
        for &n in split {
            if at >= bytes.len() {
                break;
            }
            let end = (at + n).min(bytes.len());
            writes.push(&bytes[at..end]);
            at = end;
        }
        if at < bytes.len() || bytes.is_empty() {
            writes.push(&bytes[at..]);
        }
        let count = writes.len();
        for (i, w) in writes.into_iter().enumerate() {
            self.write(w, deadline).await?;
            if i + 1 < count && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
        Ok(())
    }

    /// One write, bounded by `deadline` (a target that stops reading cannot hang it).
    pub async fn write(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), WriteError> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(WriteError::Closed);
        };
        match tokio::time::timeout_at(deadline, stream.write_all(bytes)).await {
            Ok(Ok(())) => {
                self.record.push(Direction::Out, bytes);
                self.log.sent(bytes);
                Ok(())
            }
            Ok(Err(e)) => Err(WriteError::Failed(e.to_string())),
            Err(_) => Err(WriteError::Blocked),
        }
    }

    /// Reads more bytes into the buffer; `Err` tells how the stream ended or that the
    /// deadline passed (`None`).
    async fn fill(&mut self, deadline: Instant) -> Result<(), Option<CloseKind>> {
        if let Some(k) = &self.closed {
            return Err(Some(k.clone()));
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(Some(CloseKind::Error("closed by the harness".into())));
        };
        // Read into the heap buffer: a 64 KiB array would live in every future that awaits
        // this one.
        self.buf.reserve(64 * 1024);
        let before = self.buf.len();
        let kind = match tokio::time::timeout_at(deadline, stream.read_buf(&mut self.buf)).await {
            Err(_) => return Err(None),
            Ok(Ok(0)) => CloseKind::Fin,
            Ok(Ok(_)) => {
                self.record.push(Direction::In, &self.buf[before..]);
                return Ok(());
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => CloseKind::Reset,
            Ok(Err(e)) => CloseKind::Error(e.to_string()),
        };
        self.record.close_by_peer(kind == CloseKind::Reset);
        self.closed = Some(kind.clone());
        Err(Some(kind))
    }

    /// Next decoded item, or what happened instead.
    async fn next_item(&mut self, deadline: Instant) -> Result<Decoded, Seen> {
        if self.legacy.is_some() {
            return self.next_legacy_item(deadline).await;
        }
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(item)) => return Ok(item),
                Ok(None) => {}
                Err(error) => {
                    let bytes = self.buf.split().to_vec();
                    return Err(Seen::Garbage { error, bytes });
                }
            }
            match self.fill(deadline).await {
                Ok(()) => {}
                Err(Some(kind)) => return Err(Seen::Closed(kind)),
                Err(None) => {
                    return Err(Seen::Timeout {
                        partial: self.buf.to_vec(),
                    })
                }
            }
        }
    }

    /// The legacy dialect's next item: bytes that arrived together, ended by a quiet gap,
    /// are one unit (LEG-12); the decoder splits a unit where a new opcode starts (LEG-3).
    async fn next_legacy_item(&mut self, deadline: Instant) -> Result<Decoded, Seen> {
        let mut unit_ended = false;
        loop {
            let Some((decoder, gap)) = self.legacy.as_mut() else {
                return Err(Seen::Timeout {
                    partial: Vec::new(),
                });
            };
            let gap = *gap;
            match decoder.decode(&mut self.buf, unit_ended) {
                Ok(Some(item)) => return Ok(item),
                Ok(None) => {}
                Err(error) => {
                    let bytes = self.buf.split().to_vec();
                    return Err(Seen::Garbage { error, bytes });
                }
            }
            if unit_ended && self.buf.is_empty() {
                unit_ended = false;
            }
            if !self.units.is_empty() {
                if self.buf.is_empty() {
                    self.buf = self.units.pop_front().unwrap_or_default();
                    unit_ended = true;
                } else if !unit_ended {
                    // Later bytes were read apart: what `buf` holds is a whole unit.
                    unit_ended = true;
                } else if let Some(next) = self.units.pop_front() {
                    // A body or a relay block goes on in the next unit.
                    self.buf.extend_from_slice(&next);
                }
                continue;
            }
            // With bytes waiting, a quiet gap ends their unit; with none, wait to the deadline.
            let wait = if self.buf.is_empty() || unit_ended {
                deadline
            } else {
                deadline.min(Instant::now() + gap)
            };
            match self.fill(wait).await {
                Ok(()) => {}
                Err(None) if !self.buf.is_empty() && !unit_ended => unit_ended = true,
                Err(None) => {
                    return Err(Seen::Timeout {
                        partial: self.buf.to_vec(),
                    })
                }
                Err(Some(_)) if !self.buf.is_empty() && !unit_ended => unit_ended = true,
                Err(Some(kind)) => return Err(Seen::Closed(kind)),
            }
        }
    }

    /// Next frame; a relay header comes with its whole body, hashed (never stored).
    /// `body_deadline` bounds reading the body.
    pub async fn next(&mut self, deadline: Instant, body_wait: Duration) -> Seen {
        let seen = self.next_unlogged(deadline, body_wait).await;
        self.log.received(&seen);
        seen
    }

    async fn next_unlogged(&mut self, deadline: Instant, body_wait: Duration) -> Seen {
        let header = match self.next_item(deadline).await {
            Ok(Decoded::Frame(Frame::File(h))) if h.is_relay() => h,
            Ok(Decoded::Frame(f)) => return Seen::Frame(f),
            Ok(Decoded::Body { data, .. }) => {
                // A body run with no header in front of it cannot happen with a fresh
                // decoder; report it as garbage rather than trusting it.
                return Seen::Timeout {
                    partial: data.to_vec(),
                };
            }
            Ok(Decoded::Login(_)) => unreachable!("server streams have no login"),
            Err(seen) => return seen,
        };
        let mut hasher = sha2::Sha256::new();
        let mut received = 0u64;
        let mut cut = None;
        let body_deadline = Instant::now() + body_wait;
        while received < header.size {
            match self.next_item(body_deadline).await {
                Ok(Decoded::Body { data, .. }) => {
                    hasher.update(&data);
                    received += data.len() as u64;
                }
                Ok(other) => {
                    cut = Some(format!("decoder yielded {other:?} inside a body"));
                    break;
                }
                Err(Seen::Closed(k)) => {
                    cut = Some(format!("connection {k}"));
                    break;
                }
                Err(Seen::Timeout { .. }) => {
                    cut = Some(format!("no more body bytes within {body_wait:?}"));
                    break;
                }
                Err(other) => {
                    cut = Some(other.describe());
                    break;
                }
            }
        }
        Seen::Relay {
            header,
            received,
            sha256: hasher.finalize().into(),
            cut,
        }
    }

    /// True when no byte at all waits in the buffer.
    pub fn buffer_is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Reads and decodes exactly `size` raw bytes (a P2P side stream), hashing them.
    pub async fn read_raw(
        &mut self,
        size: u64,
        deadline: Instant,
    ) -> (u64, [u8; 32], Option<String>) {
        let mut hasher = sha2::Sha256::new();
        let mut got = 0u64;
        let mut cut = None;
        while got < size {
            if self.buf.is_empty() {
                match self.fill(deadline).await {
                    Ok(()) => {}
                    Err(Some(k)) => {
                        cut = Some(format!("connection {k}"));
                        break;
                    }
                    Err(None) => {
                        cut = Some("deadline passed".into());
                        break;
                    }
                }
            }
            let n = (size - got).min(self.buf.len() as u64) as usize;
            let data: Bytes = self.buf.split_to(n).freeze();
            hasher.update(&data);
            got += n as u64;
        }
        let digest: [u8; 32] = hasher.finalize().into();
        let mut line = format!("raw {got} bytes sha256={}", hex::encode(digest));
        if let Some(c) = &cut {
            line.push_str(&format!(" (cut: {c})"));
        }
        self.log.note("<", line);
        (got, digest, cut)
    }

    /// Closes: gracefully (FIN) or with a reset (RST, via SO_LINGER 0).
    pub async fn close(&mut self, abrupt: bool) {
        if let Some(stream) = self.stream.take() {
            let how = if abrupt { "RST" } else { "FIN" };
            self.log.note("x", format!("harness closes ({how})"));
            if abrupt {
                let _ = stream.set_zero_linger();
            } else {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_millis(200), stream.shutdown()).await;
                self.record.close_by_us(false);
                return;
            }
            drop(stream);
            self.record.close_by_us(abrupt);
        }
    }

    /// Whether the peer has closed.
    pub fn peer_closed(&self) -> Option<&CloseKind> {
        self.closed.as_ref()
    }
}
