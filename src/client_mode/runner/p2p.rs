//! P2P steps: the harness offers a file on a side port it listens on, or fetches one the
//! client offers (FILE-4).

use super::*;

use tokio::net::TcpStream;

/// Bytes a second the transfer deadlines allow for, on top of the step's wait.
const BYTES_PER_SECOND: f64 = 20e6;

impl Run<'_> {
    /// `p2p_offer`: offers the client a file on a port the harness listens on, then serves
    /// it to the client when it connects (FILE-4).
    pub(super) async fn p2p_offer(&mut self, p: &P2pOfferStep) -> StepResult {
        let wait = self.wait(p.timeout);
        let (peer, port) = listen_as_peer().await?;
        // A closed port is dropped before the offer goes out, so the client's connect fails.
        let peer = if p.closed_port { None } else { Some(peer) };
        self.send_offer(p, port, wait).await?;
        let Some(peer) = peer else {
            return Ok(());
        };
        let stream = accept_fetcher(&peer, p, port, wait).await?;
        self.serve_offered(stream, p, wait).await
    }

    /// Sends the client the FILE header that offers `p`'s file on `port` of 127.0.0.1.
    async fn send_offer(&mut self, p: &P2pOfferStep, port: u16, wait: Duration) -> StepResult {
        let (bytes, shown) = self.frame_bytes(&offer_frame(p, port), &p.client)?;
        self.note(format!(
            "{} > {}{}",
            p.client,
            shown,
            if p.closed_port {
                " (nobody listens)"
            } else {
                ""
            }
        ));
        let deadline = Instant::now() + wait;
        self.link(&p.client)?
            .send(&[&bytes], Duration::ZERO, deadline)
            .await
            .map_err(|e| mismatch_rule("CLI-4", "the client reads what the server sends", e))?;
        Ok(())
    }

    /// Writes the first `serve` bytes of the offered content to the fetching client, then
    /// closes; a client that stops reading fails CLI-4.
    async fn serve_offered(
        &mut self,
        mut stream: TcpStream,
        p: &P2pOfferStep,
        wait: Duration,
    ) -> StepResult {
        let serve = p.serve.unwrap_or(p.size);
        let sent = write_then_close(&mut stream, p.seed, serve, wait).await;
        self.note(format!(
            "{} <> peer {} served {serve} of {} bytes, then closed",
            p.client, p.from, p.size
        ));
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(mismatch_rule(
                "FILE-4",
                format!("the client reads the {serve} bytes"),
                format!("write failed: {e}"),
            )),
            Err(_) => Err(mismatch_rule(
                "CLI-4",
                format!("the client reads the {serve} bytes"),
                "it stopped reading",
            )),
        }
    }

    /// `p2p_fetch`: connects to the client's last P2P offer and checks that exactly the
    /// offered bytes come, then a close (FILE-4).
    pub(super) async fn p2p_fetch(&mut self, p: &P2pFetchStep) -> StepResult {
        let wait = self.wait(p.timeout);
        let content =
            self.sc.file.files.get(&p.file).copied().ok_or_else(|| {
                StepErr::Broken(format!("\"{}\" is not a file of files:", p.file))
            })?;
        let Some(offer) = self.under(&p.client)?.offer.clone() else {
            return Err(StepErr::Broken(
                "no P2P offer from this client yet (expect_from_client file mode: p2p)".into(),
            ));
        };
        let rule = p.rule.clone().unwrap_or_else(|| "FILE-4".into());
        let (ip, port) = offered_address(&offer, &rule)?;
        let stream = connect_to_offer(ip, port, &rule, wait).await?;
        let fetched = read_fetched(stream, content.size, wait).await;
        self.note(format!(
            "{} <> fetched {} bytes by P2P, sha256={}",
            p.client,
            fetched.got,
            hex::encode(fetched.digest)
        ));
        judge_fetched(&fetched, content, &p.file, &rule, wait)
    }
}

/// A listener on a free port of 127.0.0.1, where the harness plays the offering peer.
async fn listen_as_peer() -> Result<(TcpListener, u16), StepErr> {
    let peer = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| StepErr::Broken(format!("cannot listen as the P2P peer: {e}")))?;
    let port = peer
        .local_addr()
        .map_err(|e| StepErr::Broken(e.to_string()))?
        .port();
    Ok((peer, port))
}

/// The FILE header of a P2P offer from `p.from` on `port`.
fn offer_frame(p: &P2pOfferStep, port: u16) -> FrameOut {
    FrameOut {
        msg: None,
        file: Some(FileToClient {
            from: p.from.clone(),
            name: p.name.clone(),
            size: p.size,
            port: u32::from(port),
            ip: Some("127.0.0.1".into()),
            body_seed: None,
        }),
        list: None,
        ack: None,
        error: None,
        raw: None,
        data: None,
    }
}

/// The client's connection to the offered port; none within `wait` fails the step's rule.
async fn accept_fetcher(
    peer: &TcpListener,
    p: &P2pOfferStep,
    port: u16,
    wait: Duration,
) -> Result<TcpStream, StepErr> {
    match tokio::time::timeout(wait, peer.accept()).await {
        Ok(Ok((stream, _))) => Ok(stream),
        Ok(Err(e)) => Err(StepErr::Broken(format!("accept failed: {e}"))),
        Err(_) => Err(mismatch_rule(
            p.rule.as_deref().unwrap_or("FILE-4"),
            format!("the client connects to 127.0.0.1:{port} to fetch the file"),
            format!("no connection within {wait:?}"),
        )),
    }
}

/// Writes `len` bytes of the content of `seed` and shuts the stream down, within `wait`
/// plus the time the size takes; the outer error is that deadline passing.
async fn write_then_close(
    stream: &mut TcpStream,
    seed: u64,
    len: u64,
    wait: Duration,
) -> Result<std::io::Result<()>, tokio::time::error::Elapsed> {
    use tokio::io::AsyncWriteExt;
    let body = generate(seed, 0, len as usize);
    let limit = wait + Duration::from_secs_f64(len as f64 / BYTES_PER_SECOND);
    tokio::time::timeout(limit, async {
        for chunk in body.chunks(2048) {
            stream.write_all(chunk).await?;
        }
        stream.shutdown().await
    })
    .await
}

/// The address of a client's P2P offer; one that is not an IP and a port breaks `rule`.
fn offered_address(offer: &FileHeader, rule: &str) -> Result<(std::net::IpAddr, u16), StepErr> {
    let ip: std::net::IpAddr = std::str::from_utf8(&offer.ip)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            mismatch_rule(
                rule,
                "an IP address in the offer",
                format!("ip \"{}\"", escape_bytes(&offer.ip)),
            )
        })?;
    let port = u16::try_from(offer.port)
        .map_err(|_| mismatch_rule(rule, "a port ≤ 65535", format!("port {}", offer.port)))?;
    Ok((ip, port))
}

/// Connects to the port a client offered; no listener there, or no answer, breaks `rule`.
async fn connect_to_offer(
    ip: std::net::IpAddr,
    port: u16,
    rule: &str,
    wait: Duration,
) -> Result<TcpStream, StepErr> {
    match tokio::time::timeout(wait, TcpStream::connect((ip, port))).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(mismatch_rule(
            rule,
            "the client listens on the port it offered",
            format!("connect failed: {e}"),
        )),
        Err(_) => Err(mismatch_rule(
            rule,
            "the client accepts the connection",
            format!("no answer within {wait:?}"),
        )),
    }
}

/// How a P2P fetch stopped reading.
enum FetchEnd {
    /// The client closed the connection.
    Closed,
    /// The client sent more than the offered size.
    More,
    /// Reading failed.
    Error,
    /// The deadline passed with the connection still open.
    Open,
}

/// What a P2P fetch read: how many bytes, their sha256 and how it stopped.
struct Fetched {
    got: u64,
    digest: [u8; 32],
    end: FetchEnd,
}

/// Reads what the client serves until it closes, sends more than `size` bytes, fails, or
/// `wait` plus the time the size takes has passed.
async fn read_fetched(mut stream: TcpStream, size: u64, wait: Duration) -> Fetched {
    use tokio::io::AsyncReadExt;
    let mut hasher = sha2::Sha256::new();
    let mut got = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + wait + Duration::from_secs_f64(size as f64 / BYTES_PER_SECOND);
    let end = loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) => break FetchEnd::Closed,
            Ok(Ok(n)) => {
                hasher.update(&buf[..n]);
                got += n as u64;
                if got > size {
                    break FetchEnd::More;
                }
            }
            Ok(Err(_)) => break FetchEnd::Error,
            Err(_) => break FetchEnd::Open,
        }
    };
    Fetched {
        got,
        digest: hasher.finalize().into(),
        end,
    }
}

/// Passes a fetch of exactly the bytes of `file` followed by a close; anything else breaks
/// `rule`.
fn judge_fetched(
    fetched: &Fetched,
    content: Content,
    file: &str,
    rule: &str,
    wait: Duration,
) -> StepResult {
    let got = fetched.got;
    let expected = format!(
        "exactly the {} bytes of {}, then a close",
        content.size, file
    );
    let actual = match fetched.end {
        FetchEnd::Closed
            if got == content.size && fetched.digest == sha256_of(content.seed, content.size) =>
        {
            return Ok(())
        }
        FetchEnd::Closed if got == content.size => {
            "the same number of bytes with another content".to_string()
        }
        FetchEnd::Open => format!("{got} bytes, and the connection still open after {wait:?}"),
        FetchEnd::More => format!("more than {} bytes", content.size),
        FetchEnd::Closed => format!("{got} bytes, then the connection closed"),
        FetchEnd::Error => format!("{got} bytes, then the connection error"),
    };
    Err(mismatch_rule(rule, expected, actual))
}
