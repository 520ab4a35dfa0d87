//! P2P steps: the harness offers a file on a side port it listens on, or fetches one the
//! client offers (FILE-4).

use super::*;

impl Run<'_> {
    pub(super) async fn p2p_offer(&mut self, p: &P2pOfferStep) -> StepResult {
        let wait = self.wait(p.timeout);
        let peer = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| StepErr::Broken(format!("cannot listen as the P2P peer: {e}")))?;
        let port = peer
            .local_addr()
            .map_err(|e| StepErr::Broken(e.to_string()))?
            .port();
        let peer = if p.closed_port { None } else { Some(peer) };
        let name = self.frame_bytes(
            &FrameOut {
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
            },
            &p.client,
        )?;
        self.note(format!(
            "{} > {}{}",
            p.client,
            name.1,
            if p.closed_port {
                " (nobody listens)"
            } else {
                ""
            }
        ));
        let deadline = Instant::now() + wait;
        self.link(&p.client)?
            .send(&[&name.0], Duration::ZERO, deadline)
            .await
            .map_err(|e| mismatch_rule("CLI-4", "the client reads what the server sends", e))?;
        let Some(peer) = peer else {
            return Ok(());
        };
        let (mut stream, _) = match tokio::time::timeout(wait, peer.accept()).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(StepErr::Broken(format!("accept failed: {e}"))),
            Err(_) => {
                return Err(mismatch_rule(
                    p.rule.as_deref().unwrap_or("FILE-4"),
                    format!("the client connects to 127.0.0.1:{port} to fetch the file"),
                    format!("no connection within {wait:?}"),
                ))
            }
        };
        let serve = p.serve.unwrap_or(p.size);
        let body = generate(p.seed, 0, serve as usize);
        use tokio::io::AsyncWriteExt;
        let sent =
            tokio::time::timeout(wait + Duration::from_secs_f64(serve as f64 / 20e6), async {
                for chunk in body.chunks(2048) {
                    stream.write_all(chunk).await?;
                }
                stream.shutdown().await
            })
            .await;
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
        let ip: std::net::IpAddr = std::str::from_utf8(&offer.ip)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                mismatch_rule(
                    &rule,
                    "an IP address in the offer",
                    format!("ip \"{}\"", escape_bytes(&offer.ip)),
                )
            })?;
        let port = u16::try_from(offer.port)
            .map_err(|_| mismatch_rule(&rule, "a port ≤ 65535", format!("port {}", offer.port)))?;
        let mut stream =
            match tokio::time::timeout(wait, tokio::net::TcpStream::connect((ip, port))).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    return Err(mismatch_rule(
                        &rule,
                        "the client listens on the port it offered",
                        format!("connect failed: {e}"),
                    ))
                }
                Err(_) => {
                    return Err(mismatch_rule(
                        &rule,
                        "the client accepts the connection",
                        format!("no answer within {wait:?}"),
                    ))
                }
            };
        use tokio::io::AsyncReadExt;
        let mut hasher = sha2::Sha256::new();
        let mut got = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        let deadline = Instant::now() + wait + Duration::from_secs_f64(content.size as f64 / 20e6);
        let end = loop {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Ok(Ok(0)) => break "closed",
                Ok(Ok(n)) => {
                    hasher.update(&buf[..n]);
                    got += n as u64;
                    if got > content.size {
                        break "more";
                    }
                }
                Ok(Err(_)) => break "error",
                Err(_) => break "open",
            }
        };
        let digest: [u8; 32] = hasher.finalize().into();
        self.note(format!(
            "{} <> fetched {got} bytes by P2P, sha256={}",
            p.client,
            hex::encode(digest)
        ));
        let expected = format!(
            "exactly the {} bytes of {}, then a close",
            content.size, p.file
        );
        match end {
            "closed" if got == content.size && digest == sha256_of(content.seed, content.size) => {
                Ok(())
            }
            "closed" if got == content.size => Err(mismatch_rule(
                &rule,
                expected,
                "the same number of bytes with another content",
            )),
            "open" => Err(mismatch_rule(
                &rule,
                expected,
                format!("{got} bytes, and the connection still open after {wait:?}"),
            )),
            "more" => Err(mismatch_rule(
                &rule,
                expected,
                format!("more than {} bytes", content.size),
            )),
            how => Err(mismatch_rule(
                &rule,
                expected,
                format!("{got} bytes, then the connection {how}"),
            )),
        }
    }
}
