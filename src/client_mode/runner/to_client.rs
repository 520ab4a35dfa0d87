//! Steps that write to the client under test as its server: typed frames (masked in the
//! transcript where ports vary) or raw bytes, in any split.

use super::*;

impl Run<'_> {
    pub(super) fn frame_bytes(
        &self,
        fr: &FrameOut,
        client: &str,
    ) -> Result<(Vec<u8>, String), StepErr> {
        let sandbox = self
            .clients
            .get(client)
            .map(|u| u.sandbox.root.display().to_string())
            .unwrap_or_default();
        // `{sandbox}` in a name points at the client's sandbox root (absolute-path attacks).
        let bytes = |b: &ByteSpec| -> Result<Bytes, StepErr> {
            let raw = bytes_of(b).map_err(StepErr::Broken)?;
            let text = String::from_utf8_lossy(&raw);
            if text.contains("{sandbox}") {
                Ok(Bytes::from(text.replace("{sandbox}", &sandbox)))
            } else {
                Ok(Bytes::from(raw))
            }
        };
        let frame = if let Some(m) = &fr.msg {
            Frame::Msg {
                name: Name::from_array(self.wire(&m.from)?),
                text: bytes(&m.text)?,
            }
        } else if let Some(f) = &fr.file {
            let header = FileHeader {
                name: Name::from_array(self.wire(&f.from)?),
                filename: bytes(&f.name)?,
                size: f.size,
                port: f.port,
                ip: Bytes::from(f.ip.clone().unwrap_or_else(|| {
                    if f.port == 0 {
                        String::new()
                    } else {
                        "127.0.0.1".into()
                    }
                })),
            };
            let mut out = Frame::File(header.clone()).to_bytes().to_vec();
            let mut line = masked(&Frame::File(header));
            if let Some(seed) = f.body_seed {
                out.extend(generate(seed, 0, f.size as usize));
                line.push_str(&format!(" + body {} bytes (seed {seed})", f.size));
            }
            return Ok((out, line));
        } else if let Some(names) = &fr.list {
            // Names are written escaped: a hostile wire name cannot break the lines.
            let shown = names
                .iter()
                .map(|n| self.wire(n).map(|w| escape_bytes(&w)))
                .collect::<Result<Vec<_>, _>>()?;
            Frame::ListReply {
                text: Bytes::from(msrp_reference::list::build(
                    shown.iter().map(|s| s.as_bytes()),
                )),
            }
        } else if let Some(a) = &fr.ack {
            Frame::Ack {
                filename: bytes(a)?,
            }
        } else if let Some(e) = &fr.error {
            Frame::Error { text: bytes(e)? }
        } else if let Some(r) = &fr.raw {
            let b = crate::scenario::content::parse_hex(r).map_err(StepErr::Broken)?;
            let line = format!("raw {}", short_hex(&b));
            return Ok((b, line));
        } else if let Some(d) = &fr.data {
            let b = generate(d.seed, d.offset, d.len as usize);
            let line = format!(
                "data {} bytes (seed {}, offset {})",
                d.len, d.seed, d.offset
            );
            return Ok((b, line));
        } else {
            return Err(StepErr::Broken("a frame with nothing in it".into()));
        };
        Ok((frame.to_bytes().to_vec(), masked(&frame)))
    }

    pub(super) async fn write_to_client(&mut self, t: &ToClientStep) -> StepResult {
        let mut one = Vec::new();
        let mut lines = Vec::new();
        for fr in &t.frames {
            let (b, line) = self.frame_bytes(fr, &t.client)?;
            one.extend(b);
            lines.push(line);
        }
        let times = t.repeat.unwrap_or(1);
        let mut all = Vec::with_capacity(one.len() * times);
        for _ in 0..times {
            all.extend_from_slice(&one);
        }
        let pieces: Vec<&[u8]> = if t.every_byte {
            all.chunks(1).collect()
        } else if let Some(split) = &t.split {
            let mut v = Vec::new();
            let mut at = 0;
            for &n in split {
                if at >= all.len() {
                    break;
                }
                let end = (at + n).min(all.len());
                v.push(&all[at..end]);
                at = end;
            }
            if at < all.len() {
                v.push(&all[at..]);
            }
            v
        } else {
            vec![&all[..]]
        };
        let how = if t.every_byte {
            " (one byte per write)".to_string()
        } else if t.split.is_some() {
            format!(" (in {} writes)", pieces.len())
        } else if t.frames.len() > 1 || times > 1 {
            " (in one write)".to_string()
        } else {
            String::new()
        };
        for l in &lines {
            if times > 1 {
                self.note(format!("{} > {l} ×{times}{how}", t.client));
            } else {
                self.note(format!("{} > {l}{how}", t.client));
            }
        }
        let pause =
            Duration::from_secs_f64(t.pause.unwrap_or(if t.every_byte { 0.001 } else { 0.0 }));
        let wait = self.wait(None);
        let deadline = Instant::now()
            + wait
            + pause * pieces.len() as u32
            + Duration::from_secs_f64(all.len() as f64 / 20e6);
        let link = self.link(&t.client)?;
        link.send(&pieces, pause, deadline)
            .await
            .map_err(|e| mismatch_rule("CLI-4", "the client reads what the server sends", e))
    }
}
