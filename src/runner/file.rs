//! `file`: a whole transfer — header, body (relay) or side connection (P2P), then the ACK.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use msrp_reference::frame::{FileHeader, Frame};
use tokio::time::Instant;

use super::conn::{Conn, WriteError};
use super::expect::body_wait;
use super::seen::Seen;
use super::{ScenarioRun, StepError, StepResult};
use crate::scenario::content::{fill, sha256_of};
use crate::scenario::matching::Match;
use crate::scenario::plan::{BodyDigest, FileExpect};
use crate::scenario::{FileStep, Mode};

/// Writes `size` bytes of the content of `seed` in `fragment`-byte writes.
async fn write_body(
    conn: &mut Conn,
    seed: u64,
    size: u64,
    fragment: usize,
    deadline: Instant,
) -> Result<(), WriteError> {
    let mut buf = vec![0u8; fragment];
    let mut sent = 0u64;
    while sent < size {
        let n = (size - sent).min(fragment as u64) as usize;
        fill(seed, sent, &mut buf[..n]);
        conn.write(&buf[..n], deadline).await?;
        sent += n as u64;
    }
    Ok(())
}

impl ScenarioRun<'_> {
    pub(super) async fn file(&mut self, f: &FileStep) -> StepResult {
        let from = self.sc.clients.one(&f.from).map_err(StepError::Broken)?;
        let to = self.sc.clients.one(&f.to).map_err(StepError::Broken)?;
        if from == to {
            return Err(StepError::Broken("a file step needs two different clients (use send/expect for a transfer to oneself)".into()));
        }
        let wait = self.wait(f.timeout);
        let fragment = f.fragment.unwrap_or(msrp_reference::client::FRAGMENT);
        let mut sender = self
            .conns
            .remove(&from)
            .ok_or_else(|| StepError::Broken(format!("client \"{from}\" is not connected")))?;
        let mut recipient = match self.conns.remove(&to) {
            Some(c) => c,
            None => {
                self.conns.insert(from.clone(), sender);
                return Err(StepError::Broken(format!(
                    "client \"{to}\" is not connected"
                )));
            }
        };
        sender.log.phase = 0;
        recipient.log.phase = 1;
        let result = match f.mode {
            Mode::Relay => {
                self.relay(f, &mut sender, &mut recipient, wait, fragment)
                    .await
            }
            Mode::P2p => {
                self.p2p(f, &mut sender, &mut recipient, wait, fragment)
                    .await
            }
        };
        let result = match result {
            Ok(()) if f.ack.unwrap_or(true) => {
                let ack_bytes = self.encode(&Frame::Ack {
                    filename: Bytes::copy_from_slice(f.name.as_bytes()),
                })?;
                ack(f, &ack_bytes, &mut sender, &mut recipient, wait).await
            }
            other => other,
        };
        sender.log.phase = 0;
        recipient.log.phase = 0;
        self.conns.insert(from, sender);
        self.conns.insert(to, recipient);
        result
    }

    fn expected_header(&self, f: &FileStep, mode: Mode, port: Option<u32>) -> FileExpect {
        FileExpect {
            from: f.from.clone(),
            name: Match::Exact(f.name.as_bytes().to_vec()),
            size: Some(f.size),
            mode,
            port,
            ip: Match::Any,
            body: Some(BodyDigest::Seed(f.seed)),
        }
    }

    async fn relay(
        &mut self,
        f: &FileStep,
        sender: &mut Conn,
        recipient: &mut Conn,
        wait: Duration,
        fragment: usize,
    ) -> StepResult {
        let header = Frame::File(FileHeader {
            name: self.send_name(&f.to)?,
            filename: Bytes::copy_from_slice(f.name.as_bytes()),
            size: f.size,
            port: 0,
            ip: Bytes::new(),
        });
        let deadline = Instant::now() + body_wait(wait, f.size);
        let header = self.encode(&header)?;
        let send = async {
            sender.write(&header, deadline).await?;
            // Legacy: the body follows in later writes (LEG-5).
            sender.pace().await;
            write_body(sender, f.seed, f.size, fragment, deadline).await
        };
        let receive = recipient.next(
            Instant::now() + body_wait(wait, f.size),
            body_wait(wait, f.size),
        );
        let (sent, seen) = tokio::join!(send, receive);
        self.check_file(&self.expected_header(f, Mode::Relay, None), &f.to, &seen)?;
        sent.map_err(|e| StepError::Mismatch {
            rule: Some("FILE-2".into()),
            expected: format!("the server reads all {} body bytes", f.size),
            actual: e.to_string(),
            hex: None,
        })
    }

    async fn p2p(
        &mut self,
        f: &FileStep,
        sender: &mut Conn,
        recipient: &mut Conn,
        wait: Duration,
        fragment: usize,
    ) -> StepResult {
        let local_ip = sender
            .record
            .local
            .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(local_ip, 0))
            .await
            .map_err(|e| StepError::Broken(format!("cannot listen for P2P: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| StepError::Broken(e.to_string()))?
            .port();
        self.ctx.mask_port(u32::from(port));
        let header = Frame::File(FileHeader {
            name: self.send_name(&f.to)?,
            filename: Bytes::copy_from_slice(f.name.as_bytes()),
            size: f.size,
            port: u32::from(port),
            ip: Bytes::from(local_ip.to_string()),
        });
        sender
            .write(&self.encode(&header)?, Instant::now() + wait)
            .await
            .map_err(|e| StepError::Broken(e.to_string()))?;
        sender.pace().await;
        let seen = recipient.next(Instant::now() + wait, wait).await;
        self.check_file(
            &self.expected_header(f, Mode::P2p, Some(u32::from(port))),
            &f.to,
            &seen,
        )?;
        let Seen::Frame(Frame::File(offer)) = &seen else {
            unreachable!("check_file accepted it as a P2P offer")
        };
        let fail = |actual: String| StepError::Mismatch {
            rule: Some("FILE-4".into()),
            expected: format!("{} bytes from the sender over the offered address", f.size),
            actual,
            hex: None,
        };
        let ip: IpAddr = std::str::from_utf8(&offer.ip)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                fail(format!(
                    "offer ip \"{}\" is not an address",
                    String::from_utf8_lossy(&offer.ip)
                ))
            })?;
        let addr = SocketAddr::new(ip, port);
        self.p2p_transfer(f, listener, addr, wait, fragment).await
    }

    /// The body of a P2P transfer: the harness, as the sender, serves it on `listener`
    /// while, as the recipient, it fetches it from `addr`, the offered address (FILE-4).
    async fn p2p_transfer(
        &mut self,
        f: &FileStep,
        listener: tokio::net::TcpListener,
        addr: SocketAddr,
        wait: Duration,
        fragment: usize,
    ) -> StepResult {
        let fail = |actual: String| StepError::Mismatch {
            rule: Some("FILE-4".into()),
            expected: format!("{} bytes from the sender over the offered address", f.size),
            actual,
            hex: None,
        };
        let label = format!("p2p {}<-{}", f.to, f.from);
        let record = self.record(&label, false);
        let mut log = self.log(&label);
        log.phase = 2;
        let deadline = Instant::now() + body_wait(wait, f.size);
        // The accepting side is the same TCP connection as the recorded fetching side, so
        // its own recording and log are not kept.
        let (serve_record, serve_log) = (self.record(&label, true), self.log(&label));
        let serve = async {
            let (peer, _) = tokio::time::timeout_at(deadline, listener.accept())
                .await
                .map_err(|_| "nobody connected to the offered port".to_string())?
                .map_err(|e| e.to_string())?;
            let mut peer = Conn::from_stream(peer, serve_record, serve_log);
            write_body(&mut peer, f.seed, f.size, fragment, deadline)
                .await
                .map_err(|e| e.to_string())?;
            peer.close(false).await;
            Ok::<(), String>(())
        };
        let fetch = async {
            let mut side = Conn::connect(addr, wait, record, log)
                .await
                .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
            let (got, digest, cut) = side.read_raw(f.size, deadline).await;
            side.close(false).await;
            Ok::<_, String>((got, digest, cut, side))
        };
        let (served, fetched) = tokio::join!(serve, fetch);
        let (got, digest, cut, side) = fetched.map_err(fail)?;
        self.done.push(side);
        served.map_err(fail)?;
        if got != f.size || cut.is_some() {
            return Err(fail(format!("{got} bytes ({})", cut.unwrap_or_default())));
        }
        if digest != sha256_of(f.seed, f.size) {
            return Err(fail("bytes with another SHA-256".into()));
        }
        Ok(())
    }
}

/// The recipient acknowledges; the sender must get the ACK (ACK-1, ACK-2).
async fn ack(
    f: &FileStep,
    ack: &[u8],
    sender: &mut Conn,
    recipient: &mut Conn,
    wait: Duration,
) -> StepResult {
    recipient.log.phase = 3;
    recipient
        .write(ack, Instant::now() + wait)
        .await
        .map_err(|e| StepError::Broken(e.to_string()))?;
    recipient.pace().await;
    sender.log.phase = 4;
    let seen = sender.next(Instant::now() + wait, wait).await;
    match &seen {
        Seen::Frame(Frame::Ack { filename }) if filename[..] == *f.name.as_bytes() => Ok(()),
        _ => Err(StepError::mismatch(format!("ACK filename=\"{}\"", f.name), &seen).blame("ACK-2")),
    }
}
