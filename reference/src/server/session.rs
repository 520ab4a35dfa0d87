//! One client connection on the server: login, then one frame at a time.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;

use super::budget::Account;
use super::fault::{reverse_list, Fault};
use super::outbox::{outbox, BodySender, Outbox};
use super::roster::{AckRoute, ConnId, LoginRefused};
use super::Shared;
use crate::connection::{FrameReader, ReadError};
use crate::decode::{Decoded, Decoder};
use crate::frame::{FileHeader, Frame, Name, Reason};

/// Where the body bytes after a relay-mode FILE header go.
enum BodySink {
    /// To the recipient's writer.
    Forward(BodySender),
    /// Nowhere: unknown recipient (FILE-7) or recipient gone (FILE-8).
    Discard,
    /// Fault injection (ORD-2 broken): chunks queued as ordinary frames.
    Interleave(Outbox),
}

/// How a session ends.
enum End {
    /// The client closed, or the server is shutting down: flush and half-close.
    Graceful,
    /// The server refused something and closes after an ERROR, lingering (ERR-5).
    AfterError,
    /// The connection is dropped at once (killed, socket error).
    Abrupt,
}

/// Runs one connection to its end.
pub async fn run(stream: TcpStream, peer: SocketAddr, id: ConnId, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let kill = shared.shutdown.child_token();
    let (outbox, writer) = outbox(
        shared.config.outbox_budget,
        Account::new(id, kill.clone()),
        shared.memory.clone(),
        shared.config.faulty(Fault::RecipientKeptOpen),
    );
    let writer = tokio::spawn(writer.run(wr));
    let decoder = Decoder::client_to_server(shared.config.limits());
    #[allow(unused_mut)]
    let mut reader = FrameReader::new(rd, decoder)
        .with_meter(outbox.state().clone())
        .with_progress_timeout(shared.config.frame_timeout);
    #[cfg(feature = "faults")]
    {
        reader.one_read_one_frame = shared.config.faulty(Fault::NoReassembly);
    }
    let mut session = Session {
        reader,
        outbox,
        peer,
        id,
        name: None,
        body: None,
        body_start: false,
        held: None,
        close_requested: false,
        shared,
    };

    let end = tokio::select! {
        biased;
        _ = kill.cancelled() => End::Abrupt,
        end = session.serve() => end,
    };
    if session.outbox.evicted() {
        tracing::info!(conn = id, name = ?session.name, %peer, "closed by the memory budget (DEC-20)");
    }
    if let Some(name) = session.name {
        if !session.faulty(Fault::NamesNeverFreed) {
            let keep_pending = session.faulty(Fault::OtherReadings);
            session.shared.roster.leave(id, name, keep_pending);
        }
        tracing::info!(%name, %peer, "logged out");
    }
    // Whatever was feeding a relay from this client stops here; its recipient sees a short
    // body and is closed (FILE-9).
    session.body = None;
    let linger = session.shared.config.linger;
    match end {
        End::Abrupt => kill.cancel(),
        End::Graceful | End::AfterError => {
            session.outbox.close();
            let discard = session.reader.discard_until_closed(linger);
            let flush = tokio::time::timeout(linger, writer);
            let _ = tokio::join!(discard, flush);
            kill.cancel();
        }
    }
    // Whatever is still queued or buffered goes with the connection.
    session.outbox.close_account();
    session
        .shared
        .closed
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

struct Session {
    reader: FrameReader,
    outbox: Outbox,
    peer: SocketAddr,
    id: ConnId,
    name: Option<Name>,
    body: Option<BodySink>,
    /// The next body run is the first of its body (fault injection only).
    body_start: bool,
    /// A message held back to be delivered after the next one (fault injection only).
    held: Option<(Name, Bytes)>,
    /// Close after the current frame, as after an ERROR (fault injection only).
    close_requested: bool,
    shared: Arc<Shared>,
}

impl Session {
    fn faulty(&self, fault: Fault) -> bool {
        self.shared.config.faulty(fault)
    }

    async fn serve(&mut self) -> End {
        if let Err(end) = self.login().await {
            return end;
        }
        loop {
            // A client that keeps its socket full never makes this loop wait for I/O; without
            // yielding, its own writer (and every task queued behind it on this worker) would
            // starve, and a kill (DEC-8) would never be noticed.
            tokio::task::consume_budget().await;
            if self.outbox.kill_token().is_cancelled() {
                return End::Abrupt;
            }
            let item = match self.reader.next().await {
                Ok(Some(item)) => item,
                Ok(None) => {
                    self.outbox.peer_closed();
                    return End::Graceful;
                }
                Err(ReadError::Decode(e)) => {
                    tracing::info!(peer = %self.peer, error = %e, "closing after a protocol error");
                    if e.reason == Reason::BadOpcode && self.faulty(Fault::BadOpcodeLeftOpen) {
                        self.complain(e.reason, &e.detail);
                        self.reader
                            .discard_until_closed(Duration::from_secs(60))
                            .await;
                        return End::Abrupt;
                    }
                    return self.refuse(self.reading_of(&e), &e.detail);
                }
                Err(e @ ReadError::Stalled(..)) => {
                    // No reason token exists for it (ERR-1), so no ERROR (DEC-21).
                    tracing::info!(peer = %self.peer, error = %e, "closing: frame-progress timeout (DEC-21)");
                    return End::Abrupt;
                }
                Err(e) => {
                    tracing::debug!(peer = %self.peer, error = %e, "connection lost");
                    return End::Abrupt;
                }
            };
            match item {
                Decoded::Frame(frame) => {
                    self.on_frame(frame);
                    if self.close_requested {
                        return End::AfterError;
                    }
                }
                Decoded::Body { data, remaining } => self.on_body(data, remaining).await,
                Decoded::Login(_) => unreachable!("the decoder yields Login only first"),
            }
        }
    }

    async fn login(&mut self) -> Result<(), End> {
        let timeout = if self.faulty(Fault::NoHandshakeTimeout) {
            Duration::from_secs(3600)
        } else {
            self.shared.config.handshake_timeout
        };
        let name = match tokio::time::timeout(timeout, self.reader.next()).await {
            Ok(Ok(Some(Decoded::Login(name)))) => name,
            Ok(Ok(_)) | Ok(Err(_)) => return Err(End::Abrupt),
            Err(_) => {
                tracing::info!(peer = %self.peer, "no name within the handshake timeout (NAME-6)");
                if self.faulty(Fault::OtherReadings) {
                    return Err(
                        self.refuse(Reason::BadName, "no name within the handshake timeout")
                    );
                }
                return Err(End::Abrupt);
            }
        };
        if self.faulty(Fault::OtherReadings) {
            if let Some(refused) = self.other_login_order(name) {
                return Err(refused);
            }
        }
        if self.faulty(Fault::CaseInsensitiveNames)
            && self.shared.roster.is_connected_ignoring_case(&name)
        {
            return Err(self.refuse(Reason::NameTaken, &format!("{name} is already connected")));
        }
        if !name.is_valid() && !self.faulty(Fault::AcceptsBadNames) {
            let detail = format!("\"{name}\" is not 4 printable ASCII bytes without spaces");
            return Err(self.refuse(Reason::BadName, &detail));
        }
        let max = if self.faulty(Fault::NoClientLimit) {
            usize::MAX
        } else {
            self.shared.config.max_clients
        };
        match self
            .shared
            .roster
            .join(self.id, name, self.outbox.clone(), max)
        {
            Ok(()) => {
                tracing::info!(%name, peer = %self.peer, "logged in");
                self.name = Some(name);
                if self.faulty(Fault::GreetsOnLogin) {
                    let hello = Frame::Msg {
                        name,
                        text: Bytes::from_static(b"welcome"),
                    };
                    self.outbox.push_frame(hello.to_bytes());
                }
                Ok(())
            }
            Err(LoginRefused::NameTaken) if self.faulty(Fault::DuplicateNamesAccepted) => {
                self.name = Some(name);
                Ok(())
            }
            Err(LoginRefused::ServerFull) => {
                let detail = format!("the server already has its maximum of {max} clients");
                Err(self.refuse(Reason::ServerFull, &detail))
            }
            Err(LoginRefused::NameTaken) => {
                let detail = format!("{name} is already connected");
                Err(self.refuse(Reason::NameTaken, &detail))
            }
        }
    }

    /// The reason this server answers a decode error with: the decoder's, except where the
    /// reading variant reads a decision differently (DEC-4, DEC-5).
    fn reading_of(&self, e: &crate::decode::DecodeError) -> Reason {
        match e.rule {
            "DEC-4" if self.faulty(Fault::OtherReadings) => Reason::TooLarge,
            "DEC-5" if self.faulty(Fault::OtherReadings) => Reason::Malformed,
            _ => e.reason,
        }
    }

    /// DEC-2 read otherwise (reading variant only): a full server refuses before looking at
    /// the name, and a taken name is refused before the limit.
    fn other_login_order(&self, name: Name) -> Option<End> {
        let roster = &self.shared.roster;
        if name.is_valid() && roster.is_connected(&name) {
            return Some(self.refuse(Reason::NameTaken, &format!("{name} is already connected")));
        }
        if roster.len() >= self.shared.config.max_clients {
            return Some(self.refuse(Reason::ServerFull, "the server is full"));
        }
        None
    }

    /// Sends an ERROR and ends the session with a lingering close.
    fn refuse(&self, reason: Reason, detail: &str) -> End {
        self.outbox
            .push_frame(Frame::error(reason, detail).to_bytes());
        End::AfterError
    }

    /// Sends an ERROR and keeps the connection open.
    fn complain(&self, reason: Reason, detail: impl std::fmt::Display) {
        self.outbox
            .push_frame(Frame::error(reason, detail).to_bytes());
    }

    fn me(&self) -> Name {
        self.name.expect("frames are read only after login")
    }

    fn on_frame(&mut self, frame: Frame) {
        let me = self.me();
        let roster = &self.shared.roster;
        match frame {
            Frame::Msg { name: to, text } => {
                let from = if self.faulty(Fault::WrongSenderName) {
                    to
                } else {
                    me
                };
                if self.faulty(Fault::DropsEveryThousandthMessage)
                    && self
                        .shared
                        .fault_counter
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                        % 1000
                        == 999
                {
                    return;
                }
                if to == me && self.faulty(Fault::SelfMessageRefused) {
                    self.complain(Reason::UnknownRecipient, format!("{to} is not connected"));
                    return;
                }
                let Some(fwd) = self
                    .shared
                    .config
                    .outgoing(Frame::Msg { name: from, text }, me.as_bytes())
                else {
                    return;
                };
                if self.faulty(Fault::SwapsMessagePairs) {
                    // Every first message of a pair waits for the second, and goes after it.
                    match self.held.take() {
                        None => {
                            self.held = Some((to, fwd.to_bytes()));
                            return;
                        }
                        Some((held_to, held)) => {
                            roster.deliver(&to, fwd.to_bytes());
                            roster.deliver(&held_to, held);
                            return;
                        }
                    }
                }
                if !roster.deliver(&to, fwd.to_bytes())
                    && !self.faulty(Fault::SilentUnknownRecipient)
                {
                    self.complain(Reason::UnknownRecipient, format!("{to} is not connected"));
                    if self.faulty(Fault::UnknownRecipientCloses) {
                        self.close_requested = true;
                    }
                }
            }
            Frame::File(header) => self.on_file(header),
            Frame::ListRequest => {
                let mut text = roster.list_text();
                if self.faulty(Fault::ListReversed) {
                    text = Bytes::from(reverse_list(&text));
                }
                if let Some(reply) = self
                    .shared
                    .config
                    .outgoing(Frame::ListReply { text }, me.as_bytes())
                {
                    self.outbox.push_frame(reply.to_bytes());
                }
            }
            Frame::Ack { filename } => {
                match roster.route_ack(&me, &filename, self.faulty(Fault::AckNewestFirst)) {
                    AckRoute::Sender(_) if self.faulty(Fault::AckLost) => {}
                    AckRoute::Sender(outbox) => {
                        outbox.push_frame(Frame::Ack { filename }.to_bytes())
                    }
                    AckRoute::Unmatched if self.faulty(Fault::SilentUnexpectedAck) => {}
                    AckRoute::SenderGone if self.faulty(Fault::OtherReadings) => self.complain(
                        Reason::UnexpectedAck,
                        "the sender of that transfer has left",
                    ),
                    AckRoute::SenderGone => {
                        tracing::debug!(%me, "ACK for a transfer whose sender has left")
                    }
                    AckRoute::Unmatched => self.complain(
                        Reason::UnexpectedAck,
                        format!(
                            "no transfer of \"{}\" to {me} awaits an ACK",
                            crate::text::escape_bytes(&filename)
                        ),
                    ),
                }
            }
            Frame::Error { text } => {
                tracing::debug!(%me, text = %crate::text::escape_bytes(&text), "client sent ERROR (ignored, ERR-3)");
            }
            Frame::ListReply { .. } => unreachable!("client decoders yield ListRequest"),
        }
    }

    fn on_file(&mut self, header: FileHeader) {
        let me = self.me();
        let roster = &self.shared.roster;
        let to = header.name;
        let Some(recipient) = roster.outbox(&to) else {
            self.complain(Reason::UnknownRecipient, format!("{to} is not connected"));
            if header.is_relay() && header.size > 0 {
                self.body = Some(BodySink::Discard);
                #[cfg(feature = "faults")]
                if self.faulty(Fault::BodyNotDiscarded) {
                    self.reader.decoder_mut().abandon_body();
                    self.body = None;
                }
            }
            return;
        };
        let relay = header.is_relay();
        let ip = if relay && self.faulty(Fault::RelayIpKept) {
            header.ip.clone()
        } else if relay {
            Bytes::new()
        } else if self.faulty(Fault::ClaimedIpForwarded) {
            header.ip.clone()
        } else {
            Bytes::from(observed_ip(self.peer.ip()).to_string())
        };
        let fwd = Frame::File(FileHeader {
            name: me,
            ip,
            ..header.clone()
        });
        let fwd = self
            .shared
            .config
            .outgoing(fwd.clone(), me.as_bytes())
            .unwrap_or(fwd)
            .to_bytes();
        if relay && self.faulty(Fault::FramesInsideBody) {
            recipient.push_frame(fwd);
            if header.size > 0 {
                self.body = Some(BodySink::Interleave(recipient));
            }
        } else if relay {
            match recipient.push_relay(fwd, header.size) {
                Some(body) if header.size > 0 => {
                    self.body = Some(BodySink::Forward(body));
                    self.body_start = true;
                }
                Some(_) => {}
                None => {
                    self.complain(Reason::UnknownRecipient, format!("{to} is not connected"));
                    if header.size > 0 {
                        self.body = Some(BodySink::Discard);
                    }
                    return;
                }
            }
        } else {
            recipient.push_frame(fwd);
        }
        roster.expect_ack(to, header.filename, me, self.id);
    }

    async fn on_body(&mut self, data: Bytes, remaining: u64) {
        if let Some(BodySink::Interleave(outbox)) = &self.body {
            outbox.push_frame(data.clone());
        }
        let data = if self.faulty(Fault::CorruptsBodies) && self.body_start {
            let mut bad = data.to_vec();
            bad[0] ^= 0x01;
            Bytes::from(bad)
        } else {
            data
        };
        self.body_start = false;
        if let Some(BodySink::Forward(tx)) = &self.body {
            if tx.send(data).await.is_err() && !self.faulty(Fault::AbortNotReported) {
                self.complain(
                    Reason::TransferAborted,
                    "the recipient disconnected during the transfer; the rest of the body is discarded",
                );
                self.body = Some(BodySink::Discard);
            }
        }
        if remaining == 0 {
            self.body = None;
        }
    }
}

/// The sender's address as the server sees it, IPv4-mapped IPv6 written as IPv4 (DEC-6).
fn observed_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
