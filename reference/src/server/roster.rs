//! The server's shared state: who is connected, in which order, and which transfers await
//! an ACK. One mutex guards it; every critical section is short and never awaits.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

use super::outbox::Outbox;
use crate::frame::Name;

/// Most transfers remembered per recipient while waiting for their ACK (DEC-7).
const MAX_PENDING_PER_RECIPIENT: usize = 1024;

/// Identifies one connection for its whole life, unlike its name, which may be reused.
pub type ConnId = u64;

/// Connected clients and pending transfers.
#[derive(Debug, Default)]
pub struct Roster {
    inner: Mutex<RosterInner>,
}

#[derive(Debug, Default)]
struct RosterInner {
    by_name: HashMap<Name, Member>,
    /// Connection order for LIST-2: ids grow with each login.
    order: BTreeMap<ConnId, Name>,
    /// Per recipient: transfers forwarded to it and not yet acknowledged, oldest first.
    pending: HashMap<Name, VecDeque<PendingTransfer>>,
}

#[derive(Debug)]
struct Member {
    id: ConnId,
    outbox: Outbox,
}

#[derive(Debug)]
struct PendingTransfer {
    filename: Bytes,
    sender: Name,
    sender_id: ConnId,
}

/// Why a login was refused (checked in DEC-2 order after the name's own validity).
#[derive(Debug, PartialEq, Eq)]
pub enum LoginRefused {
    ServerFull,
    NameTaken,
}

/// Where an ACK goes (ACK-2).
#[derive(Debug)]
pub enum AckRoute {
    /// To the sender of the matching transfer.
    Sender(Outbox),
    /// It matched a transfer whose sender has gone: consumed silently (DEC-7).
    SenderGone,
    /// It matches nothing (ACK-3).
    Unmatched,
}

impl Roster {
    /// Registers a logged-in client, atomically with the limit and uniqueness checks.
    pub fn join(
        &self,
        id: ConnId,
        name: Name,
        outbox: Outbox,
        max_clients: usize,
    ) -> Result<(), LoginRefused> {
        let mut inner = self.lock();
        if inner.by_name.len() >= max_clients {
            return Err(LoginRefused::ServerFull);
        }
        if inner.by_name.contains_key(&name) {
            return Err(LoginRefused::NameTaken);
        }
        inner.by_name.insert(name, Member { id, outbox });
        inner.order.insert(id, name);
        Ok(())
    }

    /// Removes a client and (DEC-7) what was pending for it, unless `keep_pending` (only the
    /// reading variant `Fault::OtherReadings` keeps it, per name); its name is
    /// free at once (NAME-5).
    pub fn leave(&self, id: ConnId, name: Name, keep_pending: bool) {
        let mut inner = self.lock();
        if inner.by_name.get(&name).is_some_and(|m| m.id == id) {
            inner.by_name.remove(&name);
            inner.order.remove(&id);
            if !keep_pending {
                inner.pending.remove(&name);
            }
            super::budget::shrink_when_sparse(&mut inner.by_name);
            super::budget::shrink_when_sparse(&mut inner.pending);
        }
    }

    /// Whether a client whose name equals this one ignoring ASCII case is logged in (only the
    /// CaseInsensitiveNames fault asks).
    pub fn is_connected_ignoring_case(&self, name: &Name) -> bool {
        self.lock()
            .by_name
            .keys()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name.as_bytes()))
    }

    /// Whether a client of this name is logged in.
    pub fn is_connected(&self, name: &Name) -> bool {
        self.lock().by_name.contains_key(name)
    }

    /// Number of logged-in clients.
    pub fn len(&self) -> usize {
        self.lock().by_name.len()
    }

    /// True when nobody is logged in.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The recipient's outbox, if it is connected.
    pub fn outbox(&self, name: &Name) -> Option<Outbox> {
        self.lock().by_name.get(name).map(|m| m.outbox.clone())
    }

    /// Queues an encoded frame for `name`; false when nobody of that name is connected.
    pub fn deliver(&self, name: &Name, frame: Bytes) -> bool {
        match self.lock().by_name.get(name) {
            Some(m) => {
                m.outbox.push_frame(frame);
                true
            }
            None => false,
        }
    }

    /// Remembers a transfer forwarded to `recipient` until it is acknowledged (ACK-2).
    pub fn expect_ack(&self, recipient: Name, filename: Bytes, sender: Name, sender_id: ConnId) {
        let mut inner = self.lock();
        if !inner.by_name.contains_key(&recipient) {
            return;
        }
        let queue = inner.pending.entry(recipient).or_default();
        if queue.len() >= MAX_PENDING_PER_RECIPIENT {
            queue.pop_front();
        }
        queue.push_back(PendingTransfer {
            filename,
            sender,
            sender_id,
        });
    }

    /// Routes an ACK from `recipient` for `filename` to the oldest matching transfer.
    pub fn route_ack(&self, recipient: &Name, filename: &[u8], newest_first: bool) -> AckRoute {
        let mut inner = self.lock();
        let Some(queue) = inner.pending.get_mut(recipient) else {
            return AckRoute::Unmatched;
        };
        // `newest_first` is only the AckNewestFirst fault's (LIFO instead of ACK-2's oldest).
        let found = if newest_first {
            queue.iter().rposition(|t| t.filename == filename)
        } else {
            queue.iter().position(|t| t.filename == filename)
        };
        let Some(pos) = found else {
            return AckRoute::Unmatched;
        };
        let transfer = queue.remove(pos).expect("position is in range");
        if queue.is_empty() {
            inner.pending.remove(recipient);
        }
        match inner.by_name.get(&transfer.sender) {
            Some(m) if m.id == transfer.sender_id => AckRoute::Sender(m.outbox.clone()),
            _ => AckRoute::SenderGone,
        }
    }

    /// The LIST-2 text: every client in connection order.
    pub fn list_text(&self) -> Bytes {
        let inner = self.lock();
        Bytes::from(crate::list::build(
            inner.order.values().map(|n| n.as_bytes()),
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RosterInner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than stopping the whole server would, so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
