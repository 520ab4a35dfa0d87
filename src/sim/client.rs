//! One emulated client: its writer executes the operations it is handed, its reader checks
//! every message and file that arrives (sequence, integrity) and acknowledges files.

use super::*;
use msrp_reference::frame::FileHeader;

/// What a client's reader needs to know about what its writer did.
#[derive(Default)]
pub(super) struct Pending {
    pub(super) lists: Mutex<VecDeque<u64>>,
    pub(super) files: Mutex<HashMap<String, u64>>,
}

/// Executes one client's operations in order.
pub(super) async fn execute_ops(
    me: u32,
    sender: ClientSender,
    mut ops: mpsc::UnboundedReceiver<(Op, u64)>,
    pending: Arc<Pending>,
    shared: Arc<Shared>,
) {
    let mut file_seq = 0u64;
    let mut backlog: VecDeque<(Op, u64)> = VecDeque::new();
    loop {
        let (op, intended) = match backlog.pop_front() {
            Some(next) => next,
            None => match ops.recv().await {
                Some(next) => next,
                None => break,
            },
        };
        match op {
            Op::Msg { to, size } => {
                let first = message_frame(&shared, me, to, size, intended);
                send_messages(me, (first, to), &mut ops, &mut backlog, &sender, &shared).await;
            }
            Op::List => ask_list(intended, &sender, &pending, &shared).await,
            Op::File { to, size, p2p } => {
                file_seq += 1;
                let file = OutgoingFile {
                    to,
                    size,
                    p2p,
                    seq: file_seq,
                    intended,
                };
                send_file(me, file, &sender, &pending, &shared).await;
            }
        }
    }
}

/// Sends `first` (a frame for its recipient) with the messages already due after it, in one
/// write; an operation of another kind met on the way waits in `backlog`.
async fn send_messages(
    me: u32,
    first: (msrp_reference::Frame, u32),
    ops: &mut mpsc::UnboundedReceiver<(Op, u64)>,
    backlog: &mut VecDeque<(Op, u64)>,
    sender: &ClientSender,
    shared: &Shared,
) {
    let (frame, to) = first;
    let mut frames = vec![frame];
    let mut recipients = vec![to];
    while frames.len() < 256 {
        match ops.try_recv() {
            Ok((Op::Msg { to, size }, t)) => {
                frames.push(message_frame(shared, me, to, size, t));
                recipients.push(to);
            }
            Ok(other) => {
                backlog.push_back(other);
                break;
            }
            Err(_) => break,
        }
    }
    if let Err(e) = sender.send_frames(&frames).await {
        for to in recipients {
            shared.ledger.message_not_sent(me, to);
        }
        shared.send_failed("writing messages", &e);
    }
}

/// Asks for the list; the reader measures the reply against `intended`.
async fn ask_list(intended: u64, sender: &ClientSender, pending: &Pending, shared: &Shared) {
    if let Ok(mut l) = pending.lists.lock() {
        l.push_back(intended);
    }
    if let Err(e) = sender.list().await {
        if let Ok(mut l) = pending.lists.lock() {
            l.pop_back();
        }
        shared.send_failed("asking for the list", &e);
    }
}

/// A file operation as the writer sees it.
struct OutgoingFile {
    to: u32,
    size: u64,
    p2p: bool,
    /// This client's count of files, which names the file and seeds its content.
    seq: u64,
    intended: u64,
}

/// Registers a file in the ledger and sends it, relayed or by P2P; a file that could not be
/// sent is taken back from the ledger as not sent.
async fn send_file(
    me: u32,
    file: OutgoingFile,
    sender: &ClientSender,
    pending: &Pending,
    shared: &Arc<Shared>,
) {
    let OutgoingFile {
        to,
        size,
        p2p,
        seq,
        intended,
    } = file;
    let name = format!("f{seq:x}.bin");
    let content = payload::file_content(shared.seed ^ (u64::from(me) << 32) ^ seq, size as usize);
    let sha: [u8; 32] = sha2::Sha256::digest(&content).into();
    shared.ledger.file_sent(me, to, &name, sha, size);
    if let Ok(mut f) = pending.files.lock() {
        f.insert(name.clone(), intended);
    }
    let to_name = shared.names[&to];
    let result = if p2p {
        send_p2p(me, to, &name, content, sender, shared).await
    } else {
        sender
            .send_file_relay(to_name, name.as_bytes(), size, &content[..], |_| {})
            .await
    };
    if let Err(e) = result {
        shared.ledger.file_not_sent(me, to, &name);
        if let Ok(mut f) = pending.files.lock() {
            f.remove(&name);
        }
        shared.send_failed("sending a file", &e);
    }
}

/// Offers a file by P2P and serves it in the background, holding one P2P slot (and so a
/// bounded number of descriptors) until the transfer ends.
pub(super) async fn send_p2p(
    me: u32,
    to: u32,
    name: &str,
    content: Vec<u8>,
    sender: &ClientSender,
    shared: &Arc<Shared>,
) -> Result<(), ClientError> {
    let Ok(slot) = shared.p2p_slots.clone().acquire_owned().await else {
        // The semaphore is never closed; should it be, the file is simply not sent.
        return Err(ClientError::P2p("no P2P slot".into()));
    };
    let size = content.len() as u64;
    let listener = sender
        .offer_p2p(shared.names[&to], name.as_bytes(), size)
        .await?;
    let (shared, name) = (shared.clone(), name.to_string());
    tokio::spawn(async move {
        let _slot = slot;
        let served = serve_p2p(
            listener,
            size,
            &content[..],
            Duration::from_secs(30),
            |_| {},
        )
        .await;
        if let Err(e) = served {
            if shared.ours("serving a P2P file", &e) {
                shared.ledger.file_not_sent(me, to, &name);
            } else {
                shared.p2p_failed(me, to, &name, "p2p-serve-failed");
            }
        }
    });
    Ok(())
}

/// A message to `to`, registered in the ledger.
pub(super) fn message_frame(
    shared: &Shared,
    me: u32,
    to: u32,
    size: usize,
    intended: u64,
) -> msrp_reference::Frame {
    let seq = shared.ledger.next_message(me, to);
    msrp_reference::Frame::Msg {
        name: shared.names[&to],
        text: Bytes::from(payload::message_text(seq, intended, size)),
    }
}

/// A sink that only hashes and counts (P2P downloads).
#[derive(Default)]
pub(super) struct HashSink {
    pub(super) hasher: sha2::Sha256,
    pub(super) len: u64,
}

impl tokio::io::AsyncWrite for HashSink {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A relayed file being received.
pub(super) struct Incoming {
    pub(super) from: u32,
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) hasher: sha2::Sha256,
}

/// Reads one client's events, checks every delivery, measures latencies.
pub(super) async fn read_events(
    me: u32,
    mut events: ClientEvents,
    sender: ClientSender,
    pending: Arc<Pending>,
    shared: Arc<Shared>,
) {
    let mut incoming: Option<Incoming> = None;
    while let Some(event) = events.next().await {
        match event {
            Event::Message { from, text } => message_arrived(me, &from, &text, &shared),
            Event::List { .. } => {
                let intended = pending.lists.lock().ok().and_then(|mut l| l.pop_front());
                match intended {
                    Some(t) => shared.latency(me, Kind::List, t),
                    None => shared.error("unrequested-list"),
                }
            }
            Event::FileStart(header) => {
                let file = Incoming {
                    from: shared
                        .index_of
                        .get(&header.name)
                        .copied()
                        .unwrap_or(u32::MAX),
                    name: String::from_utf8_lossy(&header.filename).into_owned(),
                    size: header.size,
                    hasher: sha2::Sha256::new(),
                };
                if header.size == 0 {
                    finish_file(me, file, &sender, &shared).await;
                } else {
                    incoming = Some(file);
                }
            }
            Event::FileData { data, remaining } => {
                if let Some(f) = incoming.as_mut() {
                    f.hasher.update(&data);
                }
                if remaining == 0 {
                    if let Some(f) = incoming.take() {
                        finish_file(me, f, &sender, &shared).await;
                    }
                }
            }
            Event::FileOffer(offer) => {
                tokio::spawn(fetch_offer(me, offer, sender.clone(), shared.clone()));
            }
            Event::Ack { filename } => ack_arrived(me, &filename, &pending, &shared),
            Event::Error { reason, .. } => {
                shared.error(reason.map_or("invalid-error-text", Reason::as_str))
            }
            // The simulator speaks the strict profile, whose reader never yields it.
            Event::Invalid { .. } => shared.error("invalid-frame"),
            Event::Closed { .. } => {
                if !shared.stopping.load(Ordering::Relaxed) {
                    shared.error("connection-closed-by-server");
                }
                break;
            }
        }
    }
}

/// A relayed message: its sequence and latency checked, its bytes counted.
fn message_arrived(me: u32, from: &Name, text: &[u8], shared: &Shared) {
    let Some(from) = shared.index_of.get(from).copied() else {
        shared.error("message-from-unknown-sender");
        return;
    };
    let checked = payload::check_message(text);
    shared
        .ledger
        .message_arrived(from, me, checked.map(|(seq, _)| seq));
    shared.bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
    if let Some((_, intended)) = checked {
        shared.latency(me, Kind::Msg, intended);
    }
}

/// Fetches a file offered by P2P and checks it as a relayed one is checked; a failed fetch is
/// msrp-sim's own failure (not sent) or the target's (a P2P failure).
async fn fetch_offer(me: u32, offer: FileHeader, sender: ClientSender, shared: Arc<Shared>) {
    let mut sink = HashSink::default();
    let from = shared
        .index_of
        .get(&offer.name)
        .copied()
        .unwrap_or(u32::MAX);
    let name = String::from_utf8_lossy(&offer.filename).into_owned();
    match fetch_p2p(&offer, &mut sink, Duration::from_secs(30), |_| {}).await {
        Ok(_) => {
            shared.p2p_fetched.fetch_add(1, Ordering::Relaxed);
            let file = Incoming {
                from,
                name,
                size: sink.len,
                hasher: sink.hasher,
            };
            finish_file(me, file, &sender, &shared).await;
        }
        Err(e) => {
            if shared.ours("fetching a P2P file", &e) {
                shared.ledger.file_not_sent(from, me, &name);
            } else {
                shared.p2p_failed(from, me, &name, "p2p-fetch-failed");
            }
        }
    }
}

/// The ACK of a file this client sent: in the ledger, and its latency measured.
fn ack_arrived(me: u32, filename: &[u8], pending: &Pending, shared: &Shared) {
    let name = String::from_utf8_lossy(filename).into_owned();
    shared.ledger.ack_arrived(me, &name);
    let intended = pending.files.lock().ok().and_then(|mut f| f.remove(&name));
    if let Some(t) = intended {
        shared.latency(me, Kind::File, t);
    }
}

/// A file is complete: check it in the ledger and acknowledge it (ACK-4: only now).
pub(super) async fn finish_file(me: u32, f: Incoming, sender: &ClientSender, shared: &Shared) {
    let digest: [u8; 32] = f.hasher.finalize().into();
    shared
        .ledger
        .file_arrived(f.from, me, &f.name, digest, f.size);
    shared.bytes.fetch_add(f.size, Ordering::Relaxed);
    if let Err(e) = sender.ack(Bytes::from(f.name.into_bytes())).await {
        shared.send_failed("sending an ACK", &e);
    }
}
