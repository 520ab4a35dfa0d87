//! One client connection on the server: the socket loop around the session core.
//!
//! Everything the protocol decides is in [`super::core`]; this loop reads and decodes,
//! hands each item to the core (through the configured fault, [`super::faulty`]), and carries
//! out what the core asks: queue bytes, feed a relay, close. The legacy profile's loop
//! (`legacy.rs`) differs only in how it reads; both end through [`finish`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::budget::Account;
use super::core::{Action, End, Event, Readings, Session};
use super::directory::RosterDirectory;
use super::fault::Fault;
use super::faulty::{FaultyDirectory, FaultySession};
use super::outbox::{outbox, Outbox, OutboxWriter};
use super::roster::ConnId;
use super::Shared;
use crate::connection::{FrameReader, ReadError};
use crate::decode::{Decoded, Decoder};
use crate::profile::Profile;

/// How long a session abandoned by the BadOpcodeLeftOpen fault keeps reading.
const ABANDONED_FOR: Duration = Duration::from_secs(60);

/// What one connection's loop holds, whatever its profile reads with.
pub(super) struct Conn {
    pub session: FaultySession,
    pub dir: FaultyDirectory,
    pub peer: SocketAddr,
    pub kill: CancellationToken,
    pub writer: JoinHandle<()>,
}

impl Conn {
    /// The session of connection `id` from `peer` in `profile`, its queue registered in the
    /// memory budget; `writer` turns the queue into socket writes.
    pub fn new(
        profile: Profile,
        peer: SocketAddr,
        id: ConnId,
        shared: Arc<Shared>,
        writer: impl FnOnce(OutboxWriter) -> JoinHandle<()>,
    ) -> Self {
        let config = &shared.config;
        let fault = config.fault();
        let kill = shared.shutdown.child_token();
        let (own, queue) = outbox(
            config.outbox_budget,
            Account::new(id, kill.clone()),
            shared.memory.clone(),
            fault == Some(Fault::RecipientKeptOpen),
        );
        let max_clients = if fault == Some(Fault::NoClientLimit) {
            usize::MAX
        } else {
            config.max_clients
        };
        let readings = if fault == Some(Fault::OtherReadings) {
            Readings::Other
        } else {
            Readings::Spec
        };
        let ip = Bytes::from(observed_ip(peer.ip()).to_string());
        let core = Session::new(id, ip, profile, max_clients).with_readings(readings);
        Conn {
            session: FaultySession::new(core, fault),
            dir: FaultyDirectory::new(RosterDirectory { shared, own }, fault),
            peer,
            kill,
            writer: writer(queue),
        }
    }

    /// The client's own queue.
    pub fn own(&self) -> &Outbox {
        &self.dir.inner().own
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.dir.inner().shared
    }

    /// Hands `event` to the core and carries out its actions; `Some` when the session ends.
    /// [`End::Abandoned`] is returned as it is: the caller reads on before dropping.
    pub async fn step(&mut self, event: Event) -> Option<End> {
        let login = matches!(event, Event::Login(_));
        self.session.handle(&self.dir, event);
        if login {
            if let Some(name) = self.session.core().name() {
                tracing::info!(%name, peer = %self.peer, "logged in");
            }
        }
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Send(bytes) | Action::Complain { frame: bytes, .. } => {
                    self.own().push_frame(bytes)
                }
                Action::Forward(relay, data) => {
                    if relay.send(data).await.is_err() {
                        self.session.handle(&self.dir, Event::RelayBroken);
                    }
                }
                Action::Close(end) => return Some(end),
            }
        }
        None
    }
}

/// Runs one strict-profile connection to its end.
pub async fn run(stream: TcpStream, peer: SocketAddr, id: ConnId, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let limits = shared.config.limits();
    let frame_timeout = shared.config.frame_timeout;
    let mut conn = Conn::new(Profile::Strict, peer, id, shared, |queue| {
        tokio::spawn(queue.run(wr))
    });
    #[allow(unused_mut)]
    let mut reader = FrameReader::new(rd, Decoder::client_to_server(limits))
        .with_meter(conn.own().state().clone())
        .with_progress_timeout(frame_timeout);
    #[cfg(feature = "faults")]
    {
        reader.one_read_one_frame = conn.dir.inner().shared.config.faulty(Fault::NoReassembly);
    }
    let kill = conn.kill.clone();
    let end = unless_killed(kill, serve(&mut conn, &mut reader)).await;
    finish(conn, end, |linger| reader.discard_until_closed(linger)).await;
}

/// Login, then one decoded item at a time until the session ends.
async fn serve(conn: &mut Conn, reader: &mut FrameReader) -> End {
    let timeout = conn.shared().config.handshake_timeout();
    let first = match tokio::time::timeout(timeout, reader.next()).await {
        Ok(Ok(Some(Decoded::Login(name)))) => Event::Login(name),
        Ok(_) => return End::Abrupt,
        Err(_) => {
            tracing::info!(peer = %conn.peer, "no name within the handshake timeout (NAME-6)");
            Event::HandshakeTimeout
        }
    };
    let mut event = first;
    loop {
        #[cfg(feature = "faults")]
        let relay_body = matches!(&event, Event::Frame(crate::frame::Frame::File(h)) if h.is_relay() && h.size > 0);
        match conn.step(event).await {
            Some(End::Abandoned) => {
                reader.discard_until_closed(ABANDONED_FOR).await;
                return End::Abrupt;
            }
            Some(end) => return end,
            None => {}
        }
        #[cfg(feature = "faults")]
        if relay_body && conn.shared().config.faulty(Fault::BodyNotDiscarded) {
            // FILE-7 broken: the body of a file refused (its recipient unknown) is read as
            // frames.
            if !conn.session.core().relaying() {
                reader.decoder_mut().abandon_body();
            }
        }
        // A client that keeps its socket full never makes this loop wait for I/O; without
        // yielding, its own writer (and every task queued behind it on this worker) would
        // starve, and a kill (DEC-8) would never be noticed.
        tokio::task::consume_budget().await;
        if conn.kill.is_cancelled() {
            return End::Abrupt;
        }
        event = match reader.next().await {
            Ok(Some(Decoded::Frame(frame))) => Event::Frame(frame),
            Ok(Some(Decoded::Body { data, remaining })) => Event::Body { data, remaining },
            // The decoders yield a login only first; the core ignores another.
            Ok(Some(Decoded::Login(name))) => Event::Login(name),
            Ok(None) => {
                conn.own().peer_closed();
                return End::Graceful;
            }
            Err(ReadError::Decode(e)) => Event::Undecodable(e),
            Err(e @ ReadError::Stalled(..)) => {
                // No reason token exists for it (ERR-1), so no ERROR (DEC-21).
                tracing::info!(peer = %conn.peer, error = %e, "closing: frame-progress timeout (DEC-21)");
                return End::Abrupt;
            }
            Err(e) => {
                tracing::debug!(peer = %conn.peer, error = %e, "connection lost");
                return End::Abrupt;
            }
        };
    }
}

/// `serve`'s end, or [`End::Abrupt`] as soon as the connection is killed (slow consumer,
/// memory budget, shutdown).
pub(super) async fn unless_killed(
    kill: CancellationToken,
    serve: impl std::future::Future<Output = End>,
) -> End {
    tokio::select! {
        biased;
        _ = kill.cancelled() => End::Abrupt,
        end = serve => end,
    }
}

/// Ends a session: frees its name (NAME-5), stops the relay it was feeding (its recipient
/// sees the body end short and is closed, FILE-9), and closes as `end` says — after flushing
/// the queue and draining input for the linger time (`discard`, ERR-5) unless abrupt.
pub(super) async fn finish<F: std::future::Future<Output = ()>>(
    mut conn: Conn,
    end: End,
    discard: impl FnOnce(Duration) -> F,
) {
    let shared = conn.shared().clone();
    let own = conn.own().clone();
    let core = conn.session.core_mut();
    if own.evicted() {
        tracing::info!(conn = core.id(), name = ?core.name(), peer = %conn.peer, "closed by the memory budget (DEC-20)");
    }
    if let Some(name) = core.name() {
        if !shared.config.faulty(Fault::NamesNeverFreed) {
            // DEC-7 read otherwise keeps what was pending for the name.
            let keep_pending = core.readings() == Readings::Other;
            shared.roster.leave(core.id(), name, keep_pending);
        }
        tracing::info!(%name, peer = %conn.peer, "logged out");
    }
    core.drop_body();
    match end {
        End::Abrupt | End::Abandoned => conn.kill.cancel(),
        End::Graceful | End::AfterError => {
            own.close();
            let linger = shared.config.linger;
            let flush = tokio::time::timeout(linger, conn.writer);
            let _ = tokio::join!(discard(linger), flush);
            conn.kill.cancel();
        }
    }
    // Whatever is still queued or buffered goes with the connection.
    own.close_account();
    shared
        .closed
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// The sender's address as the server sees it, IPv4-mapped IPv6 written as IPv4 (DEC-6).
fn observed_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
