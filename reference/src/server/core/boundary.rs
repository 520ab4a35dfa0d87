//! The session core's boundary: what goes in ([`Event`]), what comes out ([`Action`],
//! [`End`]), and what it may ask of the other clients ([`Directory`]).

use bytes::Bytes;

use crate::decode::DecodeError;
use crate::frame::{Frame, Name, Reason};
use crate::server::roster::{ConnId, LoginRefused};

/// What a session needs from the rest of the server: the other clients. Every method is a
/// short, non-blocking step (the server's roster takes one mutex); frames arrive here already
/// encoded in the session's profile.
pub(crate) trait Directory {
    /// Where a relayed body's chunks go: a handle the socket loop awaits room in.
    type Relay: Clone;
    /// Registers the client `name` of connection `id`, atomically with the limit (CONN-2) and
    /// uniqueness (NAME-4) checks, in that order (DEC-2).
    fn join(&self, id: ConnId, name: Name, max_clients: usize) -> Result<(), LoginRefused>;
    /// Whether a client of this name is logged in.
    fn is_connected(&self, name: &Name) -> bool;
    /// Number of logged-in clients.
    fn len(&self) -> usize;
    /// Queues an encoded frame for `to`; false when nobody of that name is connected.
    fn deliver(&self, to: &Name, frame: Bytes) -> bool;
    /// Queues a relay-mode FILE header for `to`, followed by a body of `size` bytes fed through
    /// the returned handle; `None` when `to` is gone.
    fn open_relay(&self, to: &Name, header: Bytes, size: u64) -> Option<Self::Relay>;
    /// Remembers that `to` was offered `filename` by `from` (connection `from_id`) until it
    /// sends the ACK (ACK-2).
    fn expect_ack(&self, to: Name, filename: Bytes, from: Name, from_id: ConnId);
    /// Routes an ACK that `me` sent for `filename` (its encoded form: `ack`) to the sender of
    /// the oldest matching transfer (ACK-2).
    fn route_ack(&self, me: &Name, filename: &[u8], ack: Bytes) -> AckOutcome;
    /// The LIST-2 text: every logged-in client in connection order.
    fn list_text(&self) -> Bytes;
    /// The frame the server writes in place of `frame`, which `from` caused by sending
    /// `cause`; `None` writes nothing. The one seam for faults that change outgoing frames;
    /// a correct directory returns `frame`.
    fn outgoing(&self, frame: Frame, from: Name, cause: &Frame) -> Option<Frame> {
        let _ = (from, cause);
        Some(frame)
    }
}

/// What became of an ACK (ACK-2, ACK-3, DEC-7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AckOutcome {
    /// Queued for the sender of the matching transfer.
    Delivered,
    /// It matched a transfer whose sender has gone.
    SenderGone,
    /// It matches no pending transfer.
    Unmatched,
}

/// What the client did, decoded by the socket loop.
#[derive(Debug)]
pub(crate) enum Event {
    /// The login bytes (NAME-1), not yet validated.
    Login(Name),
    /// A complete frame.
    Frame(Frame),
    /// A run of a relayed body; `remaining` bytes of it are still to come.
    Body {
        /// The bytes, as they arrived.
        data: Bytes,
        /// Body bytes after these.
        remaining: u64,
    },
    /// The client's bytes broke a rule of the profile.
    Undecodable(DecodeError),
    /// No login arrived within the handshake timeout (NAME-6).
    HandshakeTimeout,
    /// The relay this session was feeding refused a chunk: its recipient has gone (FILE-8).
    RelayBroken,
}

/// What the socket loop is to do, in order.
#[derive(Debug)]
pub(crate) enum Action<R> {
    /// Queue these encoded bytes for this client.
    Send(Bytes),
    /// Queue this ERROR (encoded) for this client; `reason` says which (ERR-1).
    Complain {
        /// The reason token the ERROR carries.
        reason: Reason,
        /// The ERROR frame in the session's profile.
        frame: Bytes,
    },
    /// Hand a chunk of relayed body to the relay; on failure, send [`Event::RelayBroken`].
    Forward(R, Bytes),
    /// End the session.
    Close(End),
}

/// How a session ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The client closed, or the server is shutting down: flush and half-close.
    Graceful,
    /// The server refused something and closes after the ERROR, lingering (ERR-5).
    AfterError,
    /// The connection is dropped at once.
    Abrupt,
    /// Nothing more is answered, but input is read and dropped for up to a minute before
    /// the connection is dropped (only the BadOpcodeLeftOpen fault ends so).
    Abandoned,
}

/// How this server reads the decisions the source leaves open (SPEC.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Readings {
    /// SPEC.md's decisions.
    #[default]
    Spec,
    /// The other plausible reading of each (a test server that must make the suite *warn*):
    /// DEC-2 checks a taken name before the limit and the limit before the name's validity;
    /// DEC-3 answers a handshake timeout with `bad-name`; DEC-4 refuses a long ACK filename
    /// with `too-large` and DEC-5 a long client ERROR with `malformed`; DEC-7 answers an ACK
    /// whose sender has left with `unexpected-ack`.
    Other,
}
