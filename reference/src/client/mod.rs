//! The reference client library: connect with a name, send text and files (relay or P2P),
//! ask for the list, acknowledge files, and read what the server sends as [`Event`]s.
//!
//! A [`Client`] splits into a [`ClientSender`] (cheap to clone, safe to use from several
//! tasks: a relayed body holds the connection for itself until it is complete, ORD-2) and
//! [`ClientEvents`] (the read side). Reading must go on while sending — a server relays to a
//! client that does not read only until its buffers fill.

pub mod console;
mod download;
mod events;
mod legacy;
mod login;
mod p2p;
mod sender;
pub mod terminal;

pub use download::{sanitize_filename, Download, DownloadDir, DownloadError, SavedFile};
pub use events::{ClientEvents, Event};
pub use legacy::{READ_GAP as LEGACY_READ_GAP, WRITE_GAP as LEGACY_WRITE_GAP};
pub use login::Client;
pub use p2p::{fetch_p2p, serve_p2p};
pub use sender::ClientSender;

use std::io;
use std::net::SocketAddr;

/// Size of the fragments a sender writes a body in (FILE-2).
pub const FRAGMENT: usize = 2048;

/// Errors of the client library.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection to the server could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The server address as given (`host:port`).
        addr: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// The TCP connection to the server (address given) was not established within the connect
    /// timeout.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(String),
    /// The connection to the server failed after it was established.
    #[error("connection to the server lost: {0}")]
    Io(#[from] io::Error),
    /// A request this client refuses to send, or a login name invalid in the profile; the text says
    /// why.
    #[error("{0}")]
    Invalid(String),
    /// A P2P transfer (FILE-4) failed: nobody connected, a timeout, a short body or a port above
    /// 65 535; the text says which.
    #[error("P2P transfer: {0}")]
    P2p(String),
    /// Connecting to the peer of a P2P offer failed; `source` says whether it was the peer
    /// or this host (out of descriptors or ports, say).
    #[error("P2P transfer: cannot connect to {addr}: {source}")]
    P2pConnect {
        /// The peer's address from the offer (`ip:port`).
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
}

impl ClientError {
    /// The operating-system error behind this one, if there is one: callers use it to tell
    /// their own resource limits (`EMFILE`, `EADDRNOTAVAIL`…) from the peer's failures.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            ClientError::Connect { source, .. } | ClientError::P2pConnect { source, .. } => {
                Some(source)
            }
            ClientError::Io(e) => Some(e),
            _ => None,
        }
    }
}
