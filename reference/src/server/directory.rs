//! The server's answer to a session's questions about the other clients: its roster, and
//! the session's own outbox to register under the client's name.

use std::sync::Arc;

use bytes::Bytes;

use super::core::{AckOutcome, Directory};
use super::outbox::{BodySender, Outbox};
use super::roster::{AckRoute, ConnId, LoginRefused};
use super::Shared;
use crate::frame::Name;

/// Where a relayed body's chunks go.
#[derive(Clone, Debug)]
pub(crate) enum Relay {
    /// To the recipient's writer, which streams them after the header at its own pace.
    Stream(BodySender),
    /// Into the recipient's queue as if they were frames (only the FramesInsideBody fault).
    Interleave(Outbox),
}

impl Relay {
    /// Hands a chunk over, waiting for room; `Err` when the recipient has gone (FILE-8).
    pub async fn send(&self, data: Bytes) -> Result<(), ()> {
        match self {
            Relay::Stream(body) => body.send(data).await,
            Relay::Interleave(outbox) => {
                outbox.push_frame(data);
                Ok(())
            }
        }
    }
}

/// The roster as one session sees it.
#[derive(Debug)]
pub(crate) struct RosterDirectory {
    pub shared: Arc<Shared>,
    /// The session's own queue, registered under its name at login.
    pub own: Outbox,
}

impl RosterDirectory {
    /// The roster, with the helpers only faults use.
    pub fn roster(&self) -> &super::Roster {
        &self.shared.roster
    }
}

impl Directory for RosterDirectory {
    type Relay = Relay;

    fn join(&self, id: ConnId, name: Name, max_clients: usize) -> Result<(), LoginRefused> {
        self.roster().join(id, name, self.own.clone(), max_clients)
    }

    fn is_connected(&self, name: &Name) -> bool {
        self.roster().is_connected(name)
    }

    fn len(&self) -> usize {
        self.roster().len()
    }

    fn deliver(&self, to: &Name, frame: Bytes) -> bool {
        self.roster().deliver(to, frame)
    }

    fn open_relay(&self, to: &Name, header: Bytes, size: u64) -> Option<Relay> {
        self.roster()
            .outbox(to)?
            .push_relay(header, size)
            .map(Relay::Stream)
    }

    fn expect_ack(&self, to: Name, filename: Bytes, from: Name, from_id: ConnId) {
        self.roster().expect_ack(to, filename, from, from_id);
    }

    fn route_ack(&self, me: &Name, filename: &[u8], ack: Bytes) -> AckOutcome {
        deliver_ack(self.roster().route_ack(me, filename, false), ack)
    }

    fn list_text(&self) -> Bytes {
        self.roster().list_text()
    }
}

/// Carries out an ACK's route: queues `ack` for the sender it was routed to.
pub(crate) fn deliver_ack(route: AckRoute, ack: Bytes) -> AckOutcome {
    match route {
        AckRoute::Sender(outbox) => {
            outbox.push_frame(ack);
            AckOutcome::Delivered
        }
        AckRoute::SenderGone => AckOutcome::SenderGone,
        AckRoute::Unmatched => AckOutcome::Unmatched,
    }
}
