//! One client connection on the server in the legacy profile (`legacy-profile.md`).
//!
//! The dialect has no framing: each read is one unit, decoded by
//! [`LegacyDecoder`](crate::profile::legacy::LegacyDecoder), which still splits frames that
//! arrive coalesced where their bytes show it (LEG-3). Everything else is the strict
//! server's behaviour, through the dialect: the same roster, outbox and routing, with bare
//! texts out (LEG-7, LEG-9, LEG-10), relayed FILE headers in their 2048-byte block (LEG-8), and
//! an error that leaves the connection usable wherever one read is one frame (LEG-13). Write
//! errors to a departed client are errors, never a signal (Rust ignores SIGPIPE), so no client
//! can stop the server (ERR-4).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;

use super::core::{End, Event};
use super::roster::ConnId;
use super::session::{finish, unless_killed, Conn};
use super::Shared;
use crate::decode::{DecodeError, Decoded, Limits};
use crate::profile::legacy::{closes_connection, LegacyDecoder};
use crate::profile::Profile;

/// Least time between two writes to one client: a receiver of the dialect frames by read,
/// so frames queued back to back (say, behind a relayed body) are written apart (LEG-12).
/// Longer than the harness's default quiet gap (40 ms) with room for scheduling delays.
const WRITE_GAP: Duration = Duration::from_millis(100);

/// Largest read; a frame of the dialect fits in 2048 bytes (LEG-2), bodies stream faster in
/// larger reads.
const READ_CHUNK: usize = 64 * 1024;

/// Runs one legacy-dialect connection to its end.
pub async fn run(stream: TcpStream, peer: SocketAddr, id: ConnId, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let limits = Limits {
        max_text: shared.config.max_text,
        ..Limits::default()
    };
    // Queued frames and relayed chunks count against the memory budget of all connections
    // (DEC-20), as in the strict session. (This session's own read buffer, at most one
    // 64 KiB read plus one partial unit, is not metered.)
    let mut conn = Conn::new(Profile::Legacy, peer, id, shared, |queue| {
        tokio::spawn(queue.one_write_per_frame(WRITE_GAP).run(wr))
    });
    let mut reader = UnitReader {
        rd,
        buf: BytesMut::new(),
        decoder: LegacyDecoder::client_to_server(limits),
    };
    let kill = conn.kill.clone();
    let end = unless_killed(kill, serve(&mut conn, &mut reader)).await;
    finish(conn, end, |linger| reader.discard_until_closed(linger)).await;
}

/// Reads the dialect one unit (one read) at a time.
struct UnitReader {
    rd: OwnedReadHalf,
    buf: BytesMut,
    decoder: LegacyDecoder,
}

/// What one read brought.
enum Read {
    Items(Vec<Result<Decoded, DecodeError>>),
    Closed,
    Failed,
}

/// The core's event for one decoded item of the dialect.
fn event_of(item: Result<Decoded, DecodeError>) -> Event {
    match item {
        Ok(Decoded::Login(name)) => Event::Login(name),
        Ok(Decoded::Frame(frame)) => Event::Frame(frame),
        Ok(Decoded::Body { data, remaining }) => Event::Body { data, remaining },
        Err(e) => Event::Undecodable(e),
    }
}

/// Login from the first read, then every item of every read until the session ends.
async fn serve(conn: &mut Conn, reader: &mut UnitReader) -> End {
    let timeout = conn.dir.inner().shared.config.handshake_timeout;
    let mut items = match tokio::time::timeout(timeout, reader.read_unit()).await {
        Ok(Read::Items(items)) => items,
        Ok(_) => return End::Abrupt,
        Err(_) => {
            tracing::info!(peer = %conn.peer, "no name within the handshake timeout (NAME-6)");
            return End::Abrupt;
        }
    };
    if items.is_empty() {
        return End::Abrupt;
    }
    loop {
        // Frames coalesced with the name or with each other in one read (LEG-3).
        for item in items.drain(..) {
            if let Err(e) = &item {
                tracing::info!(peer = %conn.peer, error = %e, "legacy frame refused");
            }
            if let Some(end) = conn.step(event_of(item)).await {
                return end;
            }
        }
        tokio::task::consume_budget().await;
        match reader.read_unit().await {
            Read::Items(read) => items = read,
            Read::Closed => {
                conn.own().peer_closed();
                return if reader.decoder.at_boundary(&reader.buf) {
                    End::Graceful
                } else {
                    End::Abrupt
                };
            }
            Read::Failed => return End::Abrupt,
        }
    }
}

impl UnitReader {
    /// Reads once and decodes everything that read holds (one unit, LEG-2).
    async fn read_unit(&mut self) -> Read {
        self.buf.reserve(READ_CHUNK.min(4096));
        match self.rd.read_buf(&mut self.buf).await {
            Ok(0) => return Read::Closed,
            Ok(_) => {}
            Err(_) => return Read::Failed,
        }
        let mut items = Vec::new();
        loop {
            match self.decoder.decode(&mut self.buf, true) {
                Ok(Some(item)) => items.push(Ok(item)),
                Ok(None) => break,
                Err(e) => {
                    let fatal = closes_connection(&e);
                    items.push(Err(e));
                    if fatal {
                        break;
                    }
                }
            }
        }
        if self.buf.is_empty() {
            // An idle connection holds no read buffer.
            self.buf = BytesMut::new();
        }
        Read::Items(items)
    }

    /// Reads and drops input until the peer closes or `limit` passes (ERR-5).
    async fn discard_until_closed(&mut self, limit: Duration) {
        let rd = &mut self.rd;
        let drain = async {
            let mut sink = vec![0u8; 4096];
            loop {
                match rd.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        let _ = tokio::time::timeout(limit, drain).await;
    }
}
