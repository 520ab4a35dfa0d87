//! What the server has to send to one client, and the task that writes it.
//!
//! Frames for a client are queued without blocking whoever sends them (ROB-1), up to a byte
//! budget; a client whose queue outgrows it is disconnected (DEC-8), which keeps memory per
//! connection bounded (ROB-3). A relayed body is a single queue item that the writer streams
//! to the end before taking the next one, so nothing is ever written inside a body (ORD-2).
//!
//! Every byte queued here (frames, relay headers, relayed body chunks on their way) is also
//! charged to the connection's [`Account`] in the server-wide memory budget until it is
//! written (DEC-20).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::budget::{Account, Accounted, MemoryBudget};
use crate::connection::BufferMeter;

/// Largest batch of queued frames gathered into one write.
const WRITE_BATCH: usize = 64 * 1024;

/// One item of a client's outgoing queue.
#[derive(Debug)]
pub enum Outgoing {
    /// An encoded frame.
    Frame(Bytes),
    /// A relay: the FILE header, then exactly `size` bytes taken from `body` as the sender's
    /// session forwards them. A body that ends short means the sender vanished (FILE-9).
    Relay {
        header: Bytes,
        size: u64,
        body: mpsc::Receiver<Bytes>,
    },
    /// Half-close after everything queued before it has been written.
    Close,
}

/// What a client's queue, its writer, its reader and the memory budget share, in one
/// allocation (10 000 idle clients each hold one).
#[derive(Debug)]
pub struct QueueState {
    /// Bytes queued and not yet written.
    queued: AtomicUsize,
    /// Set when the client has closed its side: relays to it are aborted (FILE-8, DEC-17),
    /// while frames already queued are still written.
    peer_closed: AtomicBool,
    peer_closed_notify: Notify,
    /// This connection's share of the server-wide memory budget (DEC-20).
    account: Account,
    memory: Arc<MemoryBudget<QueueState>>,
}

impl QueueState {
    fn charge(&self, n: usize) {
        self.memory.charge(&self.account, n);
    }

    fn release(&self, n: usize) {
        self.memory.release(&self.account, n);
    }
}

impl Accounted for QueueState {
    fn account(&self) -> &Account {
        &self.account
    }
}

/// The connection's read buffer is charged to the same account as its queue.
impl BufferMeter for QueueState {
    fn resized(&self, old: usize, new: usize) {
        if new > old {
            self.charge(new - old);
        } else {
            self.release(old - new);
        }
    }
}

/// The sending end of a client's queue; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Outgoing>,
    state: Arc<QueueState>,
    budget: usize,
}

impl Outbox {
    /// Queues an encoded frame: one forwarded from another client, or one the server owes
    /// (LIST replies, ERRORs). Over budget, the client is disconnected instead (DEC-8): a
    /// client that floods requests and never reads the answers is a slow consumer too.
    pub fn push_frame(&self, frame: Bytes) {
        let len = frame.len();
        let now = self.state.queued.fetch_add(len, Ordering::Relaxed) + len;
        if now > self.budget {
            tracing::warn!(
                queued = now,
                "client does not read its frames; disconnecting it"
            );
            self.state.account.kill_token().cancel();
            return;
        }
        self.state.charge(len);
        if self.tx.send(Outgoing::Frame(frame)).is_err() {
            self.state.release(len);
        }
    }

    /// Queues a relay; returns the channel its body is to be fed through, bounded so that the
    /// sender is slowed to the recipient's pace. `None` if the client is already gone.
    pub fn push_relay(&self, header: Bytes, size: u64) -> Option<BodySender> {
        let (body_tx, body) = mpsc::channel(8);
        let len = header.len();
        self.state.queued.fetch_add(len, Ordering::Relaxed);
        self.state.charge(len);
        match self.tx.send(Outgoing::Relay { header, size, body }) {
            Ok(()) => Some(BodySender {
                tx: body_tx,
                state: self.state.clone(),
            }),
            Err(_) => {
                self.state.release(len);
                None
            }
        }
    }

    /// Asks the writer to half-close once the queue is written.
    pub fn close(&self) {
        let _ = self.tx.send(Outgoing::Close);
    }

    /// The token that drops this connection when cancelled (slow consumer, truncated relay,
    /// memory budget, shutdown).
    pub fn kill_token(&self) -> &CancellationToken {
        self.state.account.kill_token()
    }

    /// The connection's queue state, which also meters its read buffer (DEC-20).
    pub fn state(&self) -> &Arc<QueueState> {
        &self.state
    }

    /// Whether the memory budget closed this connection (DEC-20).
    pub fn evicted(&self) -> bool {
        self.state.account.evicted()
    }

    /// Ends this connection's account in the memory budget: whatever its buffers still
    /// hold is freed with the connection.
    pub fn close_account(&self) {
        self.state.memory.close(&self.state.account);
    }

    /// Tells the writer the client closed its side: relays to it end now (FILE-8).
    pub fn peer_closed(&self) {
        self.state.peer_closed.store(true, Ordering::Release);
        self.state.peer_closed_notify.notify_waiters();
    }
}

/// Feeds a relayed body to the recipient's writer, charging each chunk to the recipient's
/// account until it is written.
#[derive(Clone, Debug)]
pub struct BodySender {
    tx: mpsc::Sender<Bytes>,
    state: Arc<QueueState>,
}

impl BodySender {
    /// Waits for room (the recipient's pace, ROB-1: only this sender waits) and hands the
    /// chunk over; `Err` if the recipient is gone.
    pub async fn send(&self, data: Bytes) -> Result<(), ()> {
        let len = data.len();
        self.state.charge(len);
        self.tx.send(data).await.map_err(|_| {
            self.state.release(len);
        })
    }
}

/// Creates a client's queue and the writer task's receiving end. `budget` bounds the queue
/// of this client (DEC-8); `account` is its share of `memory`, the budget of all
/// connections (DEC-20), in which it is registered here.
pub fn outbox(
    budget: usize,
    account: Account,
    memory: Arc<MemoryBudget<QueueState>>,
    keep_open_on_short_body: bool,
) -> (Outbox, OutboxWriter) {
    let (tx, rx) = mpsc::unbounded_channel();
    let kill = account.kill_token().clone();
    let state = Arc::new(QueueState {
        queued: AtomicUsize::new(0),
        peer_closed: AtomicBool::new(false),
        peer_closed_notify: Notify::new(),
        account,
        memory: memory.clone(),
    });
    memory.register(state.clone());
    let outbox = Outbox {
        tx,
        state: state.clone(),
        budget,
    };
    (
        outbox,
        OutboxWriter {
            rx,
            state,
            kill,
            keep_open_on_short_body,
            one_write_per_frame: None,
        },
    )
}

/// The writer task's state: drains the queue into the socket.
#[derive(Debug)]
pub struct OutboxWriter {
    rx: mpsc::UnboundedReceiver<Outgoing>,
    state: Arc<QueueState>,
    kill: CancellationToken,
    /// Fault injection (FILE-9 broken): carry on after a relay whose sender vanished.
    keep_open_on_short_body: bool,
    /// Legacy dialect: never gather queued frames into one write, and leave at least this
    /// gap between two writes, since a receiver takes one read for one frame (LEG-12).
    one_write_per_frame: Option<Duration>,
}

impl OutboxWriter {
    /// Writes each queued frame with its own write, at least `gap` after the previous one
    /// (LEG-12), instead of gathering them.
    pub fn one_write_per_frame(mut self, gap: Duration) -> Self {
        self.one_write_per_frame = Some(gap);
        self
    }

    /// Writes queued items until Close, a write error, a truncated relay, or the kill token.
    pub async fn run(mut self, mut socket: OwnedWriteHalf) {
        let kill = self.kill.clone();
        tokio::select! {
            biased;
            _ = kill.cancelled() => {}
            end = self.write_all(&mut socket) => {
                match end {
                    WriterEnd::Close => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), socket.shutdown()).await;
                    }
                    // The connection cannot continue; make the session drop it too.
                    WriterEnd::Broken => kill.cancel(),
                }
            }
        }
    }

    async fn write_all(&mut self, socket: &mut OwnedWriteHalf) -> WriterEnd {
        let mut batch = BytesMut::new();
        let mut next: Option<Outgoing> = None;
        let mut last_write: Option<tokio::time::Instant> = None;
        loop {
            let item = match next.take() {
                Some(item) => item,
                None => match self.rx.recv().await {
                    Some(item) => item,
                    None => return WriterEnd::Close,
                },
            };
            if let (Some(gap), Some(last)) = (self.one_write_per_frame, last_write) {
                tokio::time::sleep_until(last + gap).await;
            }
            if self.one_write_per_frame.is_some() {
                last_write = Some(tokio::time::Instant::now());
            }
            match item {
                Outgoing::Frame(frame) => {
                    if let Err(end) = self
                        .write_frames(socket, &mut batch, frame, &mut next)
                        .await
                    {
                        return end;
                    }
                }
                Outgoing::Relay { header, size, body } => {
                    if let Err(end) = self.write_relay(socket, header, size, body).await {
                        return end;
                    }
                }
                Outgoing::Close => return WriterEnd::Close,
            }
        }
    }

    /// Writes `frame` and, unless each frame gets its own write (LEG-12), whatever else is
    /// queued already, in one write of up to [`WRITE_BATCH`] bytes; an item that is not a
    /// frame is left in `next`.
    async fn write_frames(
        &mut self,
        socket: &mut OwnedWriteHalf,
        batch: &mut BytesMut,
        frame: Bytes,
        next: &mut Option<Outgoing>,
    ) -> Result<(), WriterEnd> {
        batch.extend_from_slice(&frame);
        while self.one_write_per_frame.is_none() && batch.len() < WRITE_BATCH {
            match self.rx.try_recv() {
                Ok(Outgoing::Frame(f)) => batch.extend_from_slice(&f),
                Ok(other) => {
                    *next = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let len = batch.len();
        if socket.write_all(batch).await.is_err() {
            return Err(WriterEnd::Broken);
        }
        self.state.queued.fetch_sub(len, Ordering::Relaxed);
        self.state.release(len);
        // Keep a batch buffer only while frames keep coming: an idle connection
        // (10 000 of them) must not hold the buffer of its last big LIST reply.
        if self.rx.is_empty() || batch.capacity() > 2 * WRITE_BATCH {
            *batch = BytesMut::new();
        } else {
            batch.clear();
        }
        Ok(())
    }

    /// Writes a relay: its header, then `size` body bytes as the sender feeds them. The
    /// recipient is closed when the sender vanishes inside the body (FILE-9), and the relay
    /// ends when the recipient closes (FILE-8).
    async fn write_relay(
        &mut self,
        socket: &mut OwnedWriteHalf,
        header: Bytes,
        size: u64,
        mut body: mpsc::Receiver<Bytes>,
    ) -> Result<(), WriterEnd> {
        if self.state.peer_closed.load(Ordering::Acquire) {
            // Dropping `body` tells the sender (FILE-8).
            return Ok(());
        }
        if socket.write_all(&header).await.is_err() {
            return Err(WriterEnd::Broken);
        }
        self.state.queued.fetch_sub(header.len(), Ordering::Relaxed);
        self.state.release(header.len());
        let mut remaining = size;
        while remaining > 0 {
            let chunk = tokio::select! {
                biased;
                _ = peer_closed(&self.state) => {
                    tracing::info!(remaining, "recipient closed inside a relayed body");
                    return Err(WriterEnd::Broken);
                }
                chunk = body.recv() => chunk,
            };
            let Some(chunk) = chunk else {
                if self.keep_open_on_short_body {
                    break;
                }
                tracing::info!(
                    remaining,
                    "relay sender vanished inside the body; closing recipient"
                );
                return Err(WriterEnd::Broken);
            };
            remaining = remaining.saturating_sub(chunk.len() as u64);
            if socket.write_all(&chunk).await.is_err() {
                return Err(WriterEnd::Broken);
            }
            self.state.release(chunk.len());
        }
        Ok(())
    }
}

/// Resolves once the client has closed its side.
async fn peer_closed(state: &QueueState) {
    loop {
        let notified = state.peer_closed_notify.notified();
        if state.peer_closed.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }
}

enum WriterEnd {
    Close,
    Broken,
}
