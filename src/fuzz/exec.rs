//! Runs one case against an address over real sockets: connections opened in order, each
//! write its own `write()` call, pauses slept, closes graceful or abrupt. Every connection's
//! incoming bytes are read all along (so the target is never blocked on us) and kept, read by
//! read with its arrival time, up to a cap; every wait has a deadline.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use msrp_reference::Profile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::case::{Action, Case, MAX_CASE_BYTES};

/// Bytes kept of what one connection received: room for everything a case can make the
/// target send one client (a model case's deliveries are judged byte for byte, so a cap below
/// them would read as a lost body), and a bound on the harness's memory all the same.
pub(crate) const KEEP: usize = 2 * MAX_CASE_BYTES;
/// How long an [`Action::Await`] waits once an earlier one of the case has missed.
const AFTER_A_MISS: Duration = Duration::from_millis(250);
/// How often an [`Action::Await`] looks at what has arrived.
const AWAIT_POLL: Duration = Duration::from_millis(5);

/// What one connection received: its reads in order, each with when it arrived (the legacy
/// dialect frames server output by the read it arrives in, LEG-12).
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// The reads, at most `KEEP` bytes (twice the case budget) in all.
    pub reads: Vec<(Instant, Vec<u8>)>,
    /// The peer closed (or reset) the connection.
    pub closed: bool,
}

impl Received {
    /// Every byte, reads joined.
    pub fn bytes(&self) -> Vec<u8> {
        self.reads
            .iter()
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }
}

/// What running a case saw.
#[derive(Debug, Default)]
pub struct Execution {
    /// Connections that could not be opened (refused, or not within the wait).
    pub refused: usize,
    /// Writes that did not complete within the wait (the target stopped reading).
    pub blocked_writes: usize,
    /// [`Action::Await`]s whose frames did not all arrive within the wait.
    pub awaits_missed: usize,
    /// What each connection received.
    pub received: BTreeMap<u8, Received>,
}

struct Open {
    write: OwnedWriteHalf,
    reader: JoinHandle<()>,
    seen: Arc<Mutex<Received>>,
}

async fn read_all(mut r: tokio::net::tcp::OwnedReadHalf, seen: Arc<Mutex<Received>>) {
    let mut chunk = [0u8; 8192];
    loop {
        let n = match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let Ok(mut s) = seen.lock() else { break };
        let kept: usize = s.reads.iter().map(|(_, b)| b.len()).sum();
        let room = KEEP.saturating_sub(kept).min(n);
        if room > 0 {
            s.reads.push((Instant::now(), chunk[..room].to_vec()));
        }
    }
    if let Ok(mut s) = seen.lock() {
        s.closed = true;
    }
}

/// Runs `case` against `addr`; `wait` bounds every connect, every write and every await.
/// `profile` is how [`Action::Await`] counts the frames that arrived.
pub async fn execute(case: &Case, addr: SocketAddr, wait: Duration, profile: Profile) -> Execution {
    let mut out = Execution::default();
    let mut open: BTreeMap<u8, Open> = BTreeMap::new();
    for action in &case.actions {
        match action {
            Action::Connect { conn } => {
                match tokio::time::timeout(wait, TcpStream::connect(addr)).await {
                    Ok(Ok(s)) => {
                        let _ = s.set_nodelay(true);
                        let (r, w) = s.into_split();
                        let seen = Arc::new(Mutex::new(Received::default()));
                        let reader = tokio::spawn(read_all(r, seen.clone()));
                        open.insert(
                            *conn,
                            Open {
                                write: w,
                                reader,
                                seen,
                            },
                        );
                    }
                    _ => out.refused += 1,
                }
            }
            Action::Write { conn, bytes } => {
                let Some(o) = open.get_mut(conn) else {
                    continue;
                };
                match tokio::time::timeout(wait, o.write.write_all(bytes)).await {
                    Ok(Ok(())) => {}
                    // The target closed: what follows on this connection is lost, as it would
                    // be for a real client.
                    Ok(Err(_)) => {}
                    Err(_) => out.blocked_writes += 1,
                }
            }
            Action::Pause { ms } => tokio::time::sleep(Duration::from_millis(u64::from(*ms))).await,
            Action::Await { conn, frames } => {
                let Some(o) = open.get(conn) else {
                    continue;
                };
                // Once one delivery has failed to come, the case has failed: later awaits only
                // gather what else arrives, briefly, so a target that loses everything does
                // not cost a full wait per delivery.
                let patience = if out.awaits_missed > 0 {
                    wait.min(AFTER_A_MISS)
                } else {
                    wait
                };
                let deadline = Instant::now() + patience;
                loop {
                    let (count, closed) = match o.seen.lock() {
                        Ok(s) => (super::model::frames_in(&s, profile), s.closed),
                        Err(_) => (0, true),
                    };
                    if count >= usize::from(*frames) {
                        break;
                    }
                    if closed || Instant::now() >= deadline {
                        out.awaits_missed += 1;
                        break;
                    }
                    tokio::time::sleep(AWAIT_POLL).await;
                }
            }
            Action::Close { conn, abrupt } => {
                if let Some(o) = open.remove(conn) {
                    close(*conn, o, *abrupt, &mut out).await;
                }
            }
        }
    }
    for (conn, o) in std::mem::take(&mut open) {
        close(conn, o, false, &mut out).await;
    }
    out
}

/// Closes one connection: a reset (SO_LINGER 0, then the socket dropped without a FIN) or a
/// graceful FIN after which what the target still sends is read briefly.
async fn close(conn: u8, o: Open, abrupt: bool, out: &mut Execution) {
    let Open {
        mut write,
        reader,
        seen,
    } = o;
    if abrupt {
        let _ = write.as_ref().set_zero_linger();
        // No FIN from the write half; the socket closes when the read half goes with the
        // aborted reader (an abrupt close reads nothing more).
        write.forget();
        reader.abort();
        let _ = reader.await;
    } else {
        let _ = tokio::time::timeout(Duration::from_millis(200), write.shutdown()).await;
        drop(write);
        let mut reader = reader;
        if tokio::time::timeout(Duration::from_millis(50), &mut reader)
            .await
            .is_err()
        {
            // A target that keeps the connection open after our FIN: stop reading it.
            reader.abort();
        }
    }
    let got = seen.lock().map(|s| s.clone()).unwrap_or_default();
    out.received.insert(conn, got);
}
