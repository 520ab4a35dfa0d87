//! What the harness recorded of a scenario: per connection, every byte in both directions
//! with its time and write/read boundaries, and how the connection closed. Capped per
//! connection so a target that floods cannot exhaust the harness's memory.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

/// Bytes kept per connection; beyond it, bytes are counted but not kept.
pub const RECORD_CAP: usize = 16 << 20;
/// Bytes kept per scenario, all connections together.
pub const SCENARIO_RECORD_CAP: usize = 64 << 20;

/// What a scenario's recordings may still keep, shared by its connections.
pub type RecordBudget = std::sync::Arc<std::sync::atomic::AtomicUsize>;

/// A fresh budget of [`SCENARIO_RECORD_CAP`] bytes.
pub fn record_budget() -> RecordBudget {
    std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(SCENARIO_RECORD_CAP))
}

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Harness → target.
    Out,
    /// Target → harness.
    In,
}

/// One recorded event.
#[derive(Debug, Clone)]
pub enum RecordEvent {
    /// One write (Out) or one read (In).
    Data {
        /// When it happened, since the scenario started.
        at: Duration,
        /// `Out` for a write of the harness, `In` for a read.
        dir: Direction,
        /// The bytes written or read, exactly.
        bytes: Bytes,
    },
    /// The connection closed; `by_peer` says who closed, `reset` whether it was an RST.
    Close {
        /// When it happened, since the scenario started.
        at: Duration,
        /// True when the target closed, false when the harness did.
        by_peer: bool,
        /// True for a reset (RST), false for a FIN.
        reset: bool,
    },
}

/// The recording of one connection.
#[derive(Debug, Clone)]
pub struct ConnRecord {
    /// What the connection was: a client's logical name, or `alice->bob p2p`.
    pub label: String,
    /// The harness's end of the connection, once connected.
    pub local: Option<SocketAddr>,
    /// The target's (or P2P peer's) end of the connection, once connected.
    pub peer: Option<SocketAddr>,
    /// Whether the harness accepted it (P2P side connections) rather than connected.
    pub accepted: bool,
    start: Instant,
    budget: RecordBudget,
    /// When the connection was opened, since the scenario started.
    pub opened_at: Duration,
    /// Writes, reads and the close, in the order they happened (up to the caps).
    pub events: Vec<RecordEvent>,
    /// Bytes kept in `events`, at most [`RECORD_CAP`].
    pub kept: usize,
    /// Bytes seen beyond [`RECORD_CAP`].
    pub dropped: u64,
}

impl ConnRecord {
    /// A new record; `start` is the scenario's start, times are relative to it.
    pub fn new(
        label: impl Into<String>,
        start: Instant,
        accepted: bool,
        budget: RecordBudget,
    ) -> Self {
        ConnRecord {
            label: label.into(),
            local: None,
            peer: None,
            accepted,
            start,
            budget,
            opened_at: start.elapsed(),
            events: Vec::new(),
            kept: 0,
            dropped: 0,
        }
    }

    /// Records both ends of the connection once it is established.
    pub fn set_addrs(&mut self, local: SocketAddr, peer: SocketAddr) {
        self.local = Some(local);
        self.peer = Some(peer);
    }

    /// Records one write (`Out`) or one read (`In`); beyond [`RECORD_CAP`] for this connection or
    /// [`SCENARIO_RECORD_CAP`] for the scenario, the bytes are only counted in `dropped`.
    pub fn push(&mut self, dir: Direction, bytes: &[u8]) {
        use std::sync::atomic::Ordering;
        let n = bytes.len();
        let scenario_room = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            })
            .is_ok();
        if self.kept + n > RECORD_CAP || !scenario_room {
            if scenario_room {
                self.budget.fetch_add(n, Ordering::Relaxed);
            }
            self.dropped += n as u64;
            return;
        }
        self.kept += bytes.len();
        self.events.push(RecordEvent::Data {
            at: self.start.elapsed(),
            dir,
            bytes: Bytes::copy_from_slice(bytes),
        });
    }

    /// Records that the target closed the connection (`reset`: with an RST); only the first close
    /// counts.
    pub fn close_by_peer(&mut self, reset: bool) {
        self.close(true, reset);
    }

    /// Records that the harness closed the connection (`reset`: with an RST); only the first close
    /// counts.
    pub fn close_by_us(&mut self, reset: bool) {
        self.close(false, reset);
    }

    fn close(&mut self, by_peer: bool, reset: bool) {
        if !self
            .events
            .iter()
            .any(|e| matches!(e, RecordEvent::Close { .. }))
        {
            self.events.push(RecordEvent::Close {
                at: self.start.elapsed(),
                by_peer,
                reset,
            });
        }
    }

    /// All bytes of one direction, concatenated.
    pub fn stream(&self, dir: Direction) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let RecordEvent::Data { dir: d, bytes, .. } = e {
                if *d == dir {
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }
}
