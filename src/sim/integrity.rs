//! The integrity counts a report carries: for messages and for files, what was sent and what
//! became of it (delivered, lost, duplicated, reordered, corrupted, not sent). The ledger
//! fills them in during a run; merged reports add them up.

use serde::{Deserialize, Serialize};

/// Counts of one kind of delivery. `sent` counts only what the simulator handed to the
/// connection; what it could not send (its own failure, or a connection already gone) is
/// `not_sent` and never `lost`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Delivery {
    /// Handed to the connection (messages: one per MSG written; files: one per FILE header).
    pub sent: u64,
    /// Registered but never handed to the connection (absent in older reports: 0).
    #[serde(default)]
    pub not_sent: u64,
    /// Arrived at their recipient, each counted once (whatever the order).
    pub delivered: u64,
    /// Sent and never arrived (files: never arrived at all).
    pub lost: u64,
    /// Extra copies that arrived after the first.
    pub duplicated: u64,
    /// Messages that arrived ahead of an earlier one of the same sender and recipient (ORD-1); they
    /// count as delivered too.
    pub reordered: u64,
    /// Arrived damaged: a message whose text is not intact, a file whose SHA-256 or size differs,
    /// or a file nobody sent.
    pub corrupted: u64,
}

impl Delivery {
    /// Adds another count to this one (merging shards or kinds).
    pub fn add(&mut self, o: &Delivery) {
        self.sent += o.sent;
        self.not_sent += o.not_sent;
        self.delivered += o.delivered;
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.reordered += o.reordered;
        self.corrupted += o.corrupted;
    }

    /// True when something went wrong.
    pub fn faulty(&self) -> bool {
        self.lost + self.duplicated + self.reordered + self.corrupted > 0
    }
}

/// What the ledger says at the end.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Integrity {
    /// Counts for text messages.
    pub messages: Delivery,
    /// Counts for files, relay and P2P.
    pub files: Delivery,
    /// Files sent whose ACK came back to the sender (ACK-2).
    pub files_acked: u64,
    /// Files sent whose ACK never came back.
    pub files_unacked: u64,
    /// ACKs that matched no file this simulation sent.
    pub acks_unmatched: u64,
}

impl Integrity {
    /// Adds another run's (or shard's) counts to these.
    pub fn add(&mut self, o: &Integrity) {
        self.messages.add(&o.messages);
        self.files.add(&o.files);
        self.files_acked += o.files_acked;
        self.files_unacked += o.files_unacked;
        self.acks_unmatched += o.acks_unmatched;
    }

    /// True when the target lost, duplicated, reordered or corrupted something, left a file
    /// unacknowledged, or sent an ACK that matches nothing.
    pub fn faulty(&self) -> bool {
        self.messages.faulty()
            || self.files.faulty()
            || self.files_unacked > 0
            || self.acks_unmatched > 0
    }
}
