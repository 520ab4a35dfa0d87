//! Steps that observe the client from outside: what it prints (CLI-5), the files it saves
//! and does not save (CLI-1…3, CLI-6), and its silence on the wire.

use super::*;

impl Run<'_> {
    pub(super) async fn expect_output(&mut self, o: &OutputStep) -> StepResult {
        let driver = &self.opts.driver;
        let mut patterns: Vec<(String, regex::Regex)> = Vec::new();
        let bad = |what: &str| {
            StepErr::Broken(format!(
                "the driver's show pattern for {what} does not compile with these values"
            ))
        };
        if let Some(m) = &o.msg {
            let from = String::from_utf8_lossy(&self.wire(&m.from)?).into_owned();
            let text = bytes_of(&m.text).map_err(StepErr::Broken)?;
            let text = String::from_utf8_lossy(&text).into_owned();
            let re = driver
                .show_regex("msg", &[("from", &from), ("text", &text)])
                .ok_or_else(|| bad("msg"))?;
            let shown = msrp_reference::text::clip(text.as_bytes());
            patterns.push((format!("message from {from}: \"{shown}\""), re));
        }
        if let Some(names) = &o.list {
            for n in names {
                let name = String::from_utf8_lossy(&self.wire(n)?).into_owned();
                let re = driver
                    .show_regex("list", &[("name", &name)])
                    .ok_or_else(|| bad("list"))?;
                patterns.push((format!("{name} in a client list"), re));
            }
        }
        if let Some(text) = &o.error {
            let re = driver
                .show_regex("error", &[("text", text)])
                .ok_or_else(|| bad("error"))?;
            patterns.push((format!("the error \"{text}\""), re));
        }
        if let Some(line) = &o.line {
            let re = regex::Regex::new(line).map_err(|e| StepErr::Broken(e.to_string()))?;
            patterns.push((format!("a line matching /{line}/"), re));
        }
        let wait = self.wait(o.timeout);
        let deadline = Instant::now() + wait;
        let client = o.client.clone();
        loop {
            let u = self.under(&client)?;
            let cursor = u.cursor;
            let Some(p) = u.proc.as_ref() else {
                return Err(StepErr::Broken(format!(
                    "client \"{client}\" is not started"
                )));
            };
            let lines = p.lines_from(cursor);
            let mut last = None;
            let mut missing = Vec::new();
            for (what, re) in &patterns {
                match lines.iter().find(|(_, l)| re.is_match(l)) {
                    Some((i, _)) => last = Some(last.map_or(*i, |l: usize| l.max(*i))),
                    None => missing.push(what.clone()),
                }
            }
            if missing.is_empty() {
                if let Some(l) = last {
                    u.cursor = l + 1;
                }
                let shown: Vec<&str> = patterns.iter().map(|(w, _)| w.as_str()).collect();
                self.note(format!("{client} shows {}", shown.join(", ")));
                return Ok(());
            }
            if Instant::now() >= deadline {
                let tail: Vec<String> = lines
                    .iter()
                    .rev()
                    .take(5)
                    .rev()
                    .map(|(_, l)| format!("\"{}\"", escape_bytes(l.as_bytes())))
                    .collect();
                return Err(StepErr::Mismatch {
                    rule: o.rule.clone().or_else(|| Some("CLI-5".into())),
                    expected: format!("standard output showing {}", missing.join(", ")),
                    actual: if tail.is_empty() {
                        format!("no new line within {wait:?}")
                    } else {
                        format!("last lines: {}", tail.join(" | "))
                    },
                    hex: None,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(super) async fn expect_file(&mut self, e: &ExpectFileStep) -> StepResult {
        let wait = self.wait(e.timeout);
        let deadline = Instant::now() + wait;
        let want = sha256_of(e.seed, e.size);
        let rule = e.rule.clone();
        loop {
            let u = self.under(&e.client)?;
            let files = u.sandbox.new_downloads(&u.before);
            let root = u.sandbox.downloads.clone();
            let candidates: Vec<_> = files
                .iter()
                .filter(|(p, _)| {
                    matcher::matches(e.name.as_ref(), p.as_os_str().as_encoded_bytes())
                })
                .collect();
            for (p, stamp) in &candidates {
                if stamp.len != e.size {
                    continue;
                }
                let Ok(data) = std::fs::read(root.join(p)) else {
                    continue;
                };
                let digest: [u8; 32] = sha2::Sha256::digest(&data).into();
                if digest != want {
                    continue;
                }
                let name = p.display().to_string();
                self.note(format!(
                    "{} saved \"{}\" ({} bytes, sha256 ok)",
                    e.client,
                    escape_bytes(name.as_bytes()),
                    e.size
                ));
                if e.safe_name {
                    let bad = p.components().count() != 1
                        || name.starts_with('.')
                        || name.chars().any(|c| c.is_control());
                    if bad {
                        return Err(mismatch_rule(
                            "CLI-1",
                            "a safe name: one component, no control character, no leading dot",
                            format!("saved as \"{}\"", escape_bytes(name.as_bytes())),
                        ));
                    }
                }
                if e.not_device {
                    let stem = name.split('.').next().unwrap_or("").trim_end();
                    let devices = [
                        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6",
                        "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6",
                        "LPT7", "LPT8", "LPT9",
                    ];
                    if devices.iter().any(|d| d.eq_ignore_ascii_case(stem)) {
                        return Err(mismatch_rule(
                            "CLI-6",
                            "a name that is not a reserved device name",
                            format!("saved as \"{name}\""),
                        ));
                    }
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = files
                    .iter()
                    .map(|(p, s)| {
                        format!(
                            "\"{}\" ({} bytes)",
                            escape_bytes(p.as_os_str().as_encoded_bytes()),
                            s.len
                        )
                    })
                    .collect();
                let u = self.under(&e.client)?;
                let outside = u.sandbox.written_outside(&u.before);
                return Err(StepErr::Mismatch {
                    rule,
                    expected: format!(
                        "a new file {} of {} bytes (sha256 {}) in the download folder",
                        matcher::describe(e.name.as_ref()),
                        e.size,
                        &hex::encode(want)[..16]
                    ),
                    actual: match (seen.is_empty(), outside.first()) {
                        (true, Some(p)) => format!("none there; the client wrote {}", p.display()),
                        (true, None) => format!("no new file within {wait:?}"),
                        (false, _) => format!("new files: {}", seen.join(", ")),
                    },
                    hex: None,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(super) async fn expect_no_file(&mut self, n: &NoFileStep) -> StepResult {
        tokio::time::sleep(Duration::from_secs_f64(n.window.unwrap_or(0.2))).await;
        let u = self.under(&n.client)?;
        let files = u.sandbox.new_downloads(&u.before);
        let hit = files
            .iter()
            .find(|(p, _)| matcher::matches(n.name.as_ref(), p.as_os_str().as_encoded_bytes()));
        match hit {
            None => Ok(()),
            Some((p, s)) => Err(mismatch(
                format!("no new file {}", matcher::describe(n.name.as_ref())),
                format!(
                    "\"{}\" ({} bytes) in the download folder",
                    escape_bytes(p.as_os_str().as_encoded_bytes()),
                    s.len
                ),
            )),
        }
    }

    pub(super) async fn expect_silence(&mut self, s: &SilenceStep) -> StepResult {
        let window = Duration::from_secs_f64(s.window.unwrap_or(0.3));
        let c = s.client.clone();
        let deadline = Instant::now() + window;
        loop {
            let link = self.link(&c)?;
            match link.next(deadline).await {
                Ok(Decoded::Frame(f)) => {
                    self.note(format!("{c} < {}", masked(&f)));
                    let hex = Some(short_hex(&f.to_bytes()));
                    // A SHOULD departure (an ACK before the last byte, ACK-4) is graded
                    // here; the frame stays for the step that checks its layout.
                    let rule = s.rule.as_deref().unwrap_or(&self.sc.file.rules[0]);
                    if blame(rule).is_some_and(|(l, _)| l.is_warning()) && !self.opts.strict {
                        self.link(&c)?.unread(Decoded::Frame(f.clone()));
                    }
                    return Err(StepErr::Mismatch {
                        rule: None,
                        expected: format!("nothing from the client for {window:?}"),
                        actual: f.to_string(),
                        hex,
                    });
                }
                Ok(Decoded::Login(n)) => self.note(format!("{c} < login \"{n}\"")),
                Ok(other) => {
                    return Err(mismatch(
                        format!("nothing from the client for {window:?}"),
                        format!("{other:?}"),
                    ))
                }
                Err(Missing::Timeout(p)) if p.is_empty() => return Ok(()),
                // A close is not a frame: nothing was sent.
                Err(Missing::Closed(_)) => return Ok(()),
                Err(m) => {
                    return Err(mismatch(
                        format!("nothing from the client for {window:?}"),
                        m.describe(),
                    ))
                }
            }
        }
    }
}
