//! Runs one case against an address over real sockets: connections opened in order, each
//! write its own `write()` call, pauses slept, closes graceful or abrupt. Every connection's
//! incoming bytes are read all along (so the target is never blocked on us) and kept up to a
//! cap; every wait has a deadline.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::case::{Action, Case};

/// Bytes kept of what one connection received.
const KEEP: usize = 64 * 1024;

/// What running a case saw.
#[derive(Debug, Default)]
pub struct Execution {
    /// Connections that could not be opened (refused, or not within the wait).
    pub refused: usize,
    /// Writes that did not complete within the wait (the target stopped reading).
    pub blocked_writes: usize,
    /// What each connection received (at most 64 KiB each).
    pub received: BTreeMap<u8, Vec<u8>>,
}

struct Open {
    write: OwnedWriteHalf,
    reader: JoinHandle<Vec<u8>>,
}

async fn read_all(mut r: tokio::net::tcp::OwnedReadHalf) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = r.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        let room = KEEP.saturating_sub(kept.len()).min(n);
        kept.extend_from_slice(&chunk[..room]);
    }
    kept
}

/// Runs `case` against `addr`; `wait` bounds every connect and every write.
pub async fn execute(case: &Case, addr: SocketAddr, wait: Duration) -> Execution {
    let mut out = Execution::default();
    let mut open: BTreeMap<u8, Open> = BTreeMap::new();
    for action in &case.actions {
        match action {
            Action::Connect { conn } => {
                match tokio::time::timeout(wait, TcpStream::connect(addr)).await {
                    Ok(Ok(s)) => {
                        let _ = s.set_nodelay(true);
                        let (r, w) = s.into_split();
                        let reader = tokio::spawn(read_all(r));
                        open.insert(*conn, Open { write: w, reader });
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
    let Open { mut write, reader } = o;
    if abrupt {
        let _ = write.as_ref().set_zero_linger();
        // No FIN from the write half; the socket closes when the read half goes with the
        // aborted reader (an abrupt close reads nothing more).
        write.forget();
        reader.abort();
        if let Ok(got) = reader.await {
            out.received.entry(conn).or_default().extend(got);
        }
        return;
    }
    let _ = tokio::time::timeout(Duration::from_millis(200), write.shutdown()).await;
    drop(write);
    let mut reader = reader;
    let got = match tokio::time::timeout(Duration::from_millis(50), &mut reader).await {
        Ok(Ok(v)) => v,
        _ => {
            // A target that keeps the connection open after our FIN: stop reading it.
            reader.abort();
            Vec::new()
        }
    };
    out.received.entry(conn).or_default().extend(got);
}
