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

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;

use super::budget::Account;
use super::outbox::{outbox, BodySender, Outbox};
use super::roster::{AckRoute, ConnId, LoginRefused};
use super::Shared;
use crate::decode::{DecodeError, Decoded, Limits};
use crate::frame::{FileHeader, Frame, Name, Reason};
use crate::profile::legacy::{closes_connection, encode_server, LegacyDecoder};
use crate::text::escape_bytes;

/// Least time between two writes to one client: a receiver of the dialect frames by read,
/// so frames queued back to back (say, behind a relayed body) are written apart (LEG-12).
/// Longer than the harness's default quiet gap (40 ms) with room for scheduling delays.
const WRITE_GAP: Duration = Duration::from_millis(100);

/// Largest read; a frame of the dialect fits in 2048 bytes (LEG-2), bodies stream faster in
/// larger reads.
const READ_CHUNK: usize = 64 * 1024;

enum BodySink {
    Forward(BodySender),
    Discard,
}

enum End {
    Graceful,
    AfterError,
    Abrupt,
}

/// Runs one legacy-dialect connection to its end.
pub async fn run(stream: TcpStream, peer: SocketAddr, id: ConnId, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let kill = shared.shutdown.child_token();
    // Queued frames and relayed chunks count against the memory budget of all connections
    // (DEC-20), as in the strict session. (This session's own read buffer, at most one
    // 64 KiB read plus one partial unit, is not metered.)
    let (outbox, writer) = outbox(
        shared.config.outbox_budget,
        Account::new(id, kill.clone()),
        shared.memory.clone(),
        false,
    );
    let writer = tokio::spawn(writer.one_write_per_frame(WRITE_GAP).run(wr));
    let limits = Limits {
        max_text: shared.config.max_text,
        ..Limits::default()
    };
    let mut session = Session {
        rd,
        buf: BytesMut::new(),
        decoder: LegacyDecoder::client_to_server(limits),
        outbox,
        peer,
        id,
        name: None,
        body: None,
        shared,
    };
    let end = tokio::select! {
        biased;
        _ = kill.cancelled() => End::Abrupt,
        end = session.serve() => end,
    };
    if let Some(name) = session.name {
        session.shared.roster.leave(id, name, false);
        tracing::info!(%name, %peer, "logged out (legacy)");
    }
    session.body = None;
    let linger = session.shared.config.linger;
    match end {
        End::Abrupt => kill.cancel(),
        End::Graceful | End::AfterError => {
            session.outbox.close();
            let discard = session.discard_until_closed(linger);
            let flush = tokio::time::timeout(linger, writer);
            let _ = tokio::join!(discard, flush);
            kill.cancel();
        }
    }
}

struct Session {
    rd: OwnedReadHalf,
    buf: BytesMut,
    decoder: LegacyDecoder,
    outbox: Outbox,
    peer: SocketAddr,
    id: ConnId,
    name: Option<Name>,
    body: Option<BodySink>,
    shared: Arc<Shared>,
}

/// What one read brought.
enum Read {
    Items(Vec<Result<Decoded, DecodeError>>),
    Closed,
    Failed,
}

impl Session {
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

    async fn serve(&mut self) -> End {
        let timeout = self.shared.config.handshake_timeout;
        let first = match tokio::time::timeout(timeout, self.read_unit()).await {
            Ok(Read::Items(items)) => items,
            Ok(_) => return End::Abrupt,
            Err(_) => {
                tracing::info!(peer = %self.peer, "no name within the handshake timeout (NAME-6)");
                return End::Abrupt;
            }
        };
        let mut items = first.into_iter();
        match items.next() {
            Some(Ok(Decoded::Login(name))) => {
                if let Err(end) = self.login(name) {
                    return end;
                }
            }
            Some(Err(e)) => return self.refuse(&e.to_string()),
            _ => return End::Abrupt,
        }
        // Frames coalesced with the name in one read (LEG-3).
        let mut pending: Vec<_> = items.collect();
        loop {
            for item in pending.drain(..) {
                match item {
                    Ok(Decoded::Frame(frame)) => self.on_frame(frame),
                    Ok(Decoded::Body { data, remaining }) => self.on_body(data, remaining).await,
                    Ok(Decoded::Login(_)) => {}
                    Err(e) => {
                        tracing::info!(peer = %self.peer, error = %e, "legacy frame refused");
                        if closes_connection(&e) {
                            return self.refuse(&e.to_string());
                        }
                        self.complain(&e.to_string());
                    }
                }
            }
            tokio::task::consume_budget().await;
            match self.read_unit().await {
                Read::Items(items) => pending = items,
                Read::Closed => {
                    self.outbox.peer_closed();
                    return if self.decoder.at_boundary(&self.buf) {
                        End::Graceful
                    } else {
                        End::Abrupt
                    };
                }
                Read::Failed => return End::Abrupt,
            }
        }
    }

    fn login(&mut self, name: Name) -> Result<(), End> {
        if !name.is_valid_legacy() {
            return Err(self.refuse(&format!(
                "bad-name: \"{name}\" is not 1 to 4 printable ASCII bytes without spaces (LEG-1, NAME-3)"
            )));
        }
        let max = self.shared.config.max_clients;
        match self
            .shared
            .roster
            .join(self.id, name, self.outbox.clone(), max)
        {
            Ok(()) => {
                tracing::info!(%name, peer = %self.peer, "logged in (legacy)");
                self.name = Some(name);
                Ok(())
            }
            Err(LoginRefused::ServerFull) => Err(self.refuse(&format!(
                "server-full: the server already has its maximum of {max} clients (CONN-2)"
            ))),
            Err(LoginRefused::NameTaken) => {
                Err(self.refuse(&format!("name-taken: {name} is already connected (NAME-4)")))
            }
        }
    }

    /// Sends an error text (LEG-10) and ends the session with a lingering close (ERR-5).
    fn refuse(&self, text: &str) -> End {
        self.complain(text);
        End::AfterError
    }

    /// Sends an error text and keeps the connection (LEG-13).
    fn complain(&self, text: &str) {
        self.send(&Frame::Error {
            text: Bytes::from(text.replace('\0', "\\0")),
        });
    }

    fn send(&self, frame: &Frame) {
        push(&self.outbox, frame);
    }

    fn on_frame(&mut self, frame: Frame) {
        let Some(me) = self.name else { return };
        let roster = &self.shared.roster;
        match frame {
            Frame::Msg { name: to, text } => {
                let fwd = Frame::Msg { name: me, text };
                match roster.outbox(&to) {
                    Some(outbox) => push(&outbox, &fwd),
                    None => self.complain(&format!(
                        "{}: {to} is not connected (MSG-4)",
                        Reason::UnknownRecipient
                    )),
                }
            }
            Frame::File(header) => self.on_file(me, header),
            Frame::ListRequest => self.send(&Frame::ListReply {
                text: roster.list_text(),
            }),
            Frame::Ack { filename } => match roster.route_ack(&me, &filename, false) {
                AckRoute::Sender(outbox) => push(&outbox, &Frame::Ack { filename }),
                AckRoute::SenderGone => {
                    tracing::debug!(%me, "ACK for a transfer whose sender has left")
                }
                AckRoute::Unmatched => self.complain(&format!(
                    "{}: no transfer of \"{}\" to {me} awaits an ACK (ACK-3)",
                    Reason::UnexpectedAck,
                    escape_bytes(&filename)
                )),
            },
            Frame::Error { .. } | Frame::ListReply { .. } => {}
        }
    }

    fn on_file(&mut self, me: Name, header: FileHeader) {
        let to = header.name;
        let relay = header.is_relay();
        let Some(recipient) = self.shared.roster.outbox(&to) else {
            self.complain(&format!(
                "{}: {to} is not connected (FILE-7)",
                Reason::UnknownRecipient
            ));
            if relay && header.size > 0 {
                self.body = Some(BodySink::Discard);
            }
            return;
        };
        // LEG-8: the header as the sender wrote it (its name field is the recipient's own);
        // in P2P mode the address is the sender's as the server sees it (FILE-5).
        let ip = if relay {
            Bytes::new()
        } else {
            Bytes::from(observed_ip(self.peer.ip()).to_string())
        };
        let fwd = Frame::File(FileHeader {
            ip,
            ..header.clone()
        });
        let Ok(bytes) = encode_server(&fwd) else {
            self.complain(&format!(
                "{}: the FILE header cannot be forwarded in the legacy dialect",
                Reason::Malformed
            ));
            return;
        };
        if relay {
            match recipient.push_relay(bytes, header.size) {
                Some(body) if header.size > 0 => self.body = Some(BodySink::Forward(body)),
                Some(_) => {}
                None => {
                    self.complain(&format!(
                        "{}: {to} is not connected (FILE-7)",
                        Reason::UnknownRecipient
                    ));
                    if header.size > 0 {
                        self.body = Some(BodySink::Discard);
                    }
                    return;
                }
            }
        } else {
            recipient.push_frame(bytes);
        }
        self.shared
            .roster
            .expect_ack(to, header.filename, me, self.id);
    }

    async fn on_body(&mut self, data: Bytes, remaining: u64) {
        if let Some(BodySink::Forward(tx)) = &self.body {
            if tx.send(data).await.is_err() {
                self.complain(&format!(
                    "{}: the recipient disconnected during the transfer; the rest of the body is discarded (FILE-8)",
                    Reason::TransferAborted
                ));
                self.body = Some(BodySink::Discard);
            }
        }
        if remaining == 0 {
            self.body = None;
        }
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

/// Queues `frame` in the dialect's encoding: one write for one frame (LEG-12).
fn push(outbox: &Outbox, frame: &Frame) {
    match encode_server(frame) {
        Ok(bytes) => outbox.push_frame(bytes),
        Err(e) => tracing::warn!(error = %e, "frame not sent"),
    }
}

/// The sender's address as the server sees it, IPv4-mapped IPv6 written as IPv4 (DEC-6).
fn observed_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
