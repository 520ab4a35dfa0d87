//! The reference server (strict profile). Embeddable: bind to `127.0.0.1:0`, read
//! [`ServerHandle::local_addr`], and call [`ServerHandle::shutdown`] when done.

mod budget;
mod core;
mod directory;
mod fault;
mod faulty;
mod legacy;
mod outbox;
mod roster;
mod session;

#[cfg(feature = "faults")]
pub use fault::Fault;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use roster::Roster;

use budget::MemoryBudget;

use crate::decode::Limits;

/// Settings of a server; [`ServerConfig::default`] gives the reference defaults of SPEC.md.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Most logged-in clients (CONN-2).
    pub max_clients: usize,
    /// Longest MSG text in bytes (LIM-1).
    pub max_text: usize,
    /// Time a new connection has to send its name (NAME-6).
    pub handshake_timeout: Duration,
    /// How long a closing connection keeps draining input after an ERROR (ERR-5), and how
    /// long queued frames may take to flush on close.
    pub linger: Duration,
    /// Bytes of frames that may wait for a client that does not read (DEC-8). Default 8 MiB.
    pub outbox_budget: usize,
    /// The dialect the server speaks: strict (`SPEC.md`) or legacy (`legacy-profile.md`).
    pub profile: crate::profile::Profile,
    /// Bytes that the buffers of all connections together may hold: read buffers (their
    /// allocated capacity), queued frames (LIST replies and ERRORs owed included) and relayed
    /// body chunks on their way. Past it, the connections holding the most are closed, without
    /// an ERROR, until the total is back under it (DEC-20). Default 128 MiB.
    pub memory_budget: usize,
    /// How long a connection that has begun a frame or a relayed body may send nothing more
    /// before it is closed, without an ERROR (DEC-21). Only time spent waiting to read from
    /// that connection counts; connections idle between frames are never closed by it.
    /// `None` disables it. Default 30 s.
    pub frame_timeout: Option<Duration>,
    /// A deliberate protocol violation, for testing the conformance suite.
    #[cfg(feature = "faults")]
    pub fault: Option<Fault>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_clients: 20_000,
            max_text: 65_535,
            handshake_timeout: Duration::from_secs(10),
            linger: Duration::from_secs(1),
            outbox_budget: 8 << 20,
            profile: crate::profile::Profile::Strict,
            memory_budget: 128 << 20,
            frame_timeout: Some(Duration::from_secs(30)),
            #[cfg(feature = "faults")]
            fault: None,
        }
    }
}

impl ServerConfig {
    fn limits(&self) -> Limits {
        let max_text = if self.faulty(fault::Fault::IgnoresTextLimit) {
            16 << 20
        } else {
            self.max_text
        };
        Limits {
            max_text,
            ..Limits::default()
        }
    }

    /// Whether this server is set to commit `fault` (never, without the `faults` feature).
    fn faulty(&self, fault: fault::Fault) -> bool {
        #[cfg(feature = "faults")]
        return self.fault == Some(fault);
        #[cfg(not(feature = "faults"))]
        {
            let _ = fault;
            false
        }
    }

    /// The configured fault, if any (never, without the `faults` feature).
    fn fault(&self) -> Option<fault::Fault> {
        #[cfg(feature = "faults")]
        return self.fault;
        #[cfg(not(feature = "faults"))]
        None
    }

    /// How long a new connection may take to log in (NAME-6), as the configured fault
    /// reads it.
    fn handshake_timeout(&self) -> Duration {
        if self.faulty(fault::Fault::NoHandshakeTimeout) {
            Duration::from_secs(3600)
        } else {
            self.handshake_timeout
        }
    }
}

/// State every session shares.
#[derive(Debug)]
struct Shared {
    config: ServerConfig,
    roster: Roster,
    /// The buffers of all connections together (DEC-20).
    memory: Arc<MemoryBudget<outbox::QueueState>>,
    shutdown: CancellationToken,
    /// Messages routed, counted only for fault injection.
    fault_counter: AtomicU64,
    /// Connections that have ended, for [`ServerHandle::connections_closed`].
    closed: AtomicU64,
}

/// A bound, not yet running server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds the listening socket.
    pub async fn bind(
        addr: impl tokio::net::ToSocketAddrs,
        config: ServerConfig,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                memory: Arc::new(MemoryBudget::new(config.memory_budget)),
                config,
                roster: Roster::default(),
                shutdown: CancellationToken::new(),
                fault_counter: AtomicU64::new(0),
                closed: AtomicU64::new(0),
            }),
        })
    }

    /// The address actually bound (useful after binding port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts serving in the background.
    pub fn spawn(self) -> ServerHandle {
        let addr = self.listener.local_addr().ok();
        let shutdown = self.shared.shutdown.clone();
        let shared = self.shared.clone();
        let task = tokio::spawn(self.run());
        ServerHandle {
            addr,
            shutdown,
            shared,
            task,
        }
    }

    /// Serves until the shutdown token of this server is cancelled, then closes every
    /// connection after flushing what was queued for it (DEC-14).
    pub async fn run(self) {
        let tracker = TaskTracker::new();
        let next_id = AtomicU64::new(1);
        let shutdown = self.shared.shutdown.clone();
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let shared = self.shared.clone();
                    match shared.config.profile {
                        crate::profile::Profile::Strict => {
                            tracker.spawn(session::run(stream, peer, id, shared))
                        }
                        crate::profile::Profile::Legacy => {
                            tracker.spawn(legacy::run(stream, peer, id, shared))
                        }
                    };
                }
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        drop(self.listener);
        tracker.close();
        let grace = self.shared.config.linger + Duration::from_millis(500);
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!("some connections did not close within {grace:?}");
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Binds and starts a server in one step.
    pub async fn start(
        addr: impl tokio::net::ToSocketAddrs,
        config: ServerConfig,
    ) -> std::io::Result<Self> {
        Ok(Server::bind(addr, config).await?.spawn())
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr.expect("a bound listener has an address")
    }

    /// Number of logged-in clients right now.
    pub fn clients(&self) -> usize {
        self.shared.roster.len()
    }

    /// Bytes the buffers of all connections hold right now, as counted against
    /// [`ServerConfig::memory_budget`] (DEC-20).
    pub fn buffered_bytes(&self) -> usize {
        self.shared.memory.used()
    }

    /// Connections that have ended since the server started (logged in or not), whatever
    /// ended them. With [`ServerHandle::buffered_bytes`], tells an embedder when much memory
    /// has just been freed (after a burst, `msrp-server` asks the allocator to return it).
    pub fn connections_closed(&self) -> u64 {
        self.shared.closed.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes every connection, and waits for the server to finish.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}
