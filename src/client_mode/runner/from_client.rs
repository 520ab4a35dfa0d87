//! Steps that read what the client under test sends: `from_client` expectations, frame by
//! frame, with the client's frames decoded by the profile's codec.

use super::*;

impl Run<'_> {
    /// The next item from the client, skipping the login when a frame is expected.
    pub(super) async fn next_item(
        &mut self,
        client: &str,
        wait: Duration,
    ) -> Result<Decoded, Missing> {
        let deadline = Instant::now() + wait;
        let Ok(link) = self.link(client) else {
            return Err(Missing::Closed("was never opened".into()));
        };
        link.next(deadline).await
    }

    /// `expect_from_client`: the client's login, or its next frame against the one
    /// expectation the step names.
    pub(super) async fn expect_from_client(&mut self, e: &FromClientStep) -> StepResult {
        let wait = self.wait(e.timeout);
        if e.login == Some(true) {
            return self.expect_login(e, wait).await;
        }
        let frame = self.next_frame(e, wait).await?;
        self.note(format!("{} < {}", e.client, masked(&frame)));
        let matched = if let Some(m) = &e.msg {
            let to = self.wire(&m.to)?;
            matches!(&frame, Frame::Msg { name, text }
                if name.as_bytes() == to && matcher::matches(Some(&m.text), text))
        } else if e.list == Some(true) {
            matches!(frame, Frame::ListRequest)
        } else if let Some(a) = &e.ack {
            matches!(&frame, Frame::Ack { filename } if matcher::matches(Some(a), filename))
        } else if let Some(f) = &e.file {
            return self.expect_file_header(e, f, &frame, wait).await;
        } else {
            return Err(StepErr::Broken(
                "expect_from_client: nothing to expect".into(),
            ));
        };
        if matched {
            Ok(())
        } else {
            Err(unexpected_frame(e, &frame, None))
        }
    }

    /// The next frame from the step's client; a login still unread is consumed first, and
    /// anything else than a frame is the step's departure.
    async fn next_frame(&mut self, e: &FromClientStep, wait: Duration) -> Result<Frame, StepErr> {
        let c = e.client.as_str();
        let mut item = self.next_item(c, wait).await;
        if let Ok(Decoded::Login(n)) = &item {
            self.note(format!("{c} < login \"{n}\""));
            item = self.next_item(c, wait).await;
        }
        match item {
            Ok(Decoded::Frame(f)) => Ok(f),
            Ok(other) => Err(mismatch("a frame", format!("{other:?}"))),
            Err(m) => {
                let hex = match &m {
                    Missing::Garbage(_, b) | Missing::Timeout(b) if !b.is_empty() => {
                        Some(short_hex(b))
                    }
                    _ => None,
                };
                Err(StepErr::Mismatch {
                    rule: None,
                    expected: expected_text(e),
                    actual: m.describe(),
                    hex,
                })
            }
        }
    }

    /// A FILE header the client sent, against the `file` expectation: recipient, filename,
    /// exact size and mode; a P2P offer is kept for `p2p_fetch`, a relayed body is read.
    async fn expect_file_header(
        &mut self,
        e: &FromClientStep,
        f: &FileFromClient,
        frame: &Frame,
        wait: Duration,
    ) -> StepResult {
        let c = e.client.as_str();
        let to = self.wire(&f.to)?;
        let content =
            self.sc.file.files.get(&f.file).copied().ok_or_else(|| {
                StepErr::Broken(format!("\"{}\" is not a file of files:", f.file))
            })?;
        let Frame::File(h) = frame else {
            return Err(unexpected_frame(e, frame, None));
        };
        let relay = f.mode == Mode::Relay;
        if h.name.as_bytes() != to
            || h.filename.as_ref() != f.file.as_bytes()
            || h.size != content.size
            || h.is_relay() != relay
        {
            return Err(unexpected_frame(e, frame, None));
        }
        if !relay {
            if h.ip.is_empty() || h.port > 65_535 {
                return Err(unexpected_frame(e, frame, Some("FILE-4")));
            }
            self.under(c)?.offer = Some(h.clone());
            return Ok(());
        }
        self.expect_relay_body(c, h.size, &f.file, content, wait)
            .await
    }

    /// `expect_from_client` with `login: true`: the client's 4 login bytes (NAME-1).
    async fn expect_login(&mut self, e: &FromClientStep, wait: Duration) -> StepResult {
        let c = e.client.as_str();
        let want = self.under(c)?.wire;
        let item = self.next_item(c, wait).await;
        match item {
            Ok(Decoded::Login(n)) if n.as_bytes() == want => {
                self.note(format!("{c} < login \"{n}\""));
                Ok(())
            }
            Ok(Decoded::Login(n)) => Err(StepErr::Mismatch {
                rule: Some(e.rule.clone().unwrap_or_else(|| "NAME-1".into())),
                expected: format!("login \"{}\"", escape_bytes(&want)),
                actual: format!("login \"{n}\""),
                hex: Some(short_hex(n.as_bytes())),
            }),
            Ok(other) => Err(mismatch_rule(
                "NAME-1",
                "the 4 login bytes",
                format!("{other:?}"),
            )),
            Err(m) => Err(mismatch_rule(
                e.rule.as_deref().unwrap_or("NAME-1"),
                format!("login \"{}\"", escape_bytes(&want)),
                m.describe(),
            )),
        }
    }

    /// A relayed body after the FILE header the client sent: exactly `size` bytes, the
    /// content of `file` (FILE-2).
    async fn expect_relay_body(
        &mut self,
        c: &str,
        size: u64,
        file: &str,
        content: Content,
        wait: Duration,
    ) -> StepResult {
        let mut hasher = sha2::Sha256::new();
        let mut got = 0u64;
        let deadline = Instant::now() + wait + Duration::from_secs_f64(size as f64 / 20e6);
        while got < size {
            let link = self.link(c)?;
            match link.next(deadline).await {
                Ok(Decoded::Body { data, .. }) => {
                    hasher.update(&data);
                    got += data.len() as u64;
                }
                Ok(other) => {
                    return Err(mismatch_rule(
                        "FILE-2",
                        format!("{} body bytes", size),
                        format!("{other:?} after {got} bytes"),
                    ))
                }
                Err(m) => {
                    return Err(mismatch_rule(
                        "FILE-2",
                        format!("{} body bytes", size),
                        format!("{got} bytes, then {}", m.describe()),
                    ))
                }
            }
        }
        let digest: [u8; 32] = hasher.finalize().into();
        self.note(format!(
            "{c} < body {got} bytes sha256={}",
            hex::encode(digest)
        ));
        if digest != sha256_of(content.seed, content.size) {
            return Err(mismatch_rule(
                "FILE-2",
                format!("the {} bytes of {}", content.size, file),
                format!(
                    "{got} bytes with another content (sha256 {})",
                    hex::encode(digest)
                ),
            ));
        }
        Ok(())
    }
}

/// The departure of an `expect_from_client` step that read `frame`, blaming `rule` when
/// the frame itself breaks one.
fn unexpected_frame(e: &FromClientStep, frame: &Frame, rule: Option<&str>) -> StepErr {
    StepErr::Mismatch {
        rule: rule.map(str::to_string),
        expected: expected_text(e),
        actual: frame.to_string(),
        hex: Some(short_hex(&frame.to_bytes())),
    }
}
