//! `send`: one frame (typed or raw) or generated body bytes, optionally fragmented.

use std::time::Duration;

use bytes::Bytes;
use msrp_reference::frame::{FileHeader, Frame, Name};
use msrp_reference::profile::legacy;
use tokio::time::Instant;

use super::conn::WriteError;
use super::{ScenarioRun, StepError, StepResult};
use crate::scenario::content::{generate, parse_hex};
use crate::scenario::{SendStep, Text};

/// The bytes of a text field.
pub fn text_bytes(t: &Text) -> Vec<u8> {
    match t {
        Text::Literal(s) => s.as_bytes().to_vec(),
        Text::Repeat(r) => r.repeat.as_bytes().repeat(r.times),
    }
}

impl ScenarioRun<'_> {
    fn send_bytes(&self, s: &SendStep) -> Result<Vec<u8>, StepError> {
        let frame = if let Some(m) = &s.msg {
            Frame::Msg {
                name: self.send_name(&m.to)?,
                text: Bytes::from(text_bytes(&m.text)),
            }
        } else if let Some(f) = &s.file {
            let header = Frame::File(FileHeader {
                name: self.send_name(&f.to)?,
                filename: Bytes::copy_from_slice(f.name.as_bytes()),
                size: f.size,
                port: f.port,
                ip: Bytes::copy_from_slice(f.ip.as_bytes()),
            });
            let mut bytes = self.encode(&header)?;
            if let Some(seed) = f.body_seed {
                let len = usize::try_from(f.size)
                    .ok()
                    .filter(|n| *n <= 256 << 20)
                    .ok_or_else(|| {
                        StepError::Broken(
                            "body_seed: at most 256 MiB in one send; use a file step".into(),
                        )
                    })?;
                bytes.extend_from_slice(&generate(seed, 0, len));
            }
            return Ok(bytes);
        } else if s.list == Some(true) {
            Frame::ListRequest
        } else if let Some(a) = &s.ack {
            Frame::Ack {
                filename: Bytes::copy_from_slice(a.as_bytes()),
            }
        } else if let Some(e) = &s.error {
            Frame::Error {
                text: Bytes::copy_from_slice(e.as_bytes()),
            }
        } else if let Some(raw) = &s.raw {
            return parse_hex(raw).map_err(StepError::Broken);
        } else if let Some(d) = &s.data {
            let len = usize::try_from(d.len)
                .ok()
                .filter(|n| *n <= 256 << 20)
                .ok_or_else(|| StepError::Broken("data: at most 256 MiB in one send".into()))?;
            return Ok(generate(d.seed, d.offset, len));
        } else {
            return Err(StepError::Broken(
                "send: nothing to send (list: false?)".into(),
            ));
        };
        self.encode(&frame)
    }

    /// The name a frame addresses: 4 bytes (strict), 1 to 4 in the legacy profile.
    pub(super) fn send_name(&self, to: &str) -> Result<Name, StepError> {
        if self.is_legacy() {
            self.wire_name(to)
        } else {
            Ok(Name::from_array(self.wire(to)?))
        }
    }

    /// A frame's bytes in the run's profile.
    pub(super) fn encode(&self, frame: &Frame) -> Result<Vec<u8>, StepError> {
        if self.is_legacy() {
            legacy::encode_client(frame)
                .map(|b| b.to_vec())
                .map_err(|e| StepError::Broken(e.to_string()))
        } else {
            Ok(frame.to_bytes().to_vec())
        }
    }

    pub(super) async fn send(&mut self, s: &SendStep) -> StepResult {
        let mut bytes = self.send_bytes(s)?;
        // Legacy: a relay header and its body are separate writes (LEG-5: the body follows
        // in later writes), each frame followed by the pause LEG-2 asks.
        let mut body = Vec::new();
        if self.is_legacy() {
            if let Some(f) = s.file.as_ref().filter(|f| f.body_seed.is_some()) {
                let header_len = self
                    .encode(&Frame::File(FileHeader {
                        name: self.send_name(&f.to)?,
                        filename: Bytes::copy_from_slice(f.name.as_bytes()),
                        size: f.size,
                        port: f.port,
                        ip: Bytes::copy_from_slice(f.ip.as_bytes()),
                    }))?
                    .len();
                body = bytes.split_off(header_len);
            }
        }
        let split = s.split.clone().unwrap_or_default();
        let pause = Duration::from_secs_f64(s.pause.unwrap_or(0.0));
        let wait = self.wait(None);
        for logical in self.expand(&s.from)? {
            let deadline = Instant::now() + wait + pause * split.len() as u32;
            let conn = self.conn(&logical)?;
            let mut sent = conn.send(&bytes, &split, pause, deadline).await;
            if sent.is_ok() && s.data.is_none() {
                conn.pace().await;
            }
            if sent.is_ok() && !body.is_empty() {
                sent = conn.send(&body, &[], pause, deadline).await;
            }
            self.drain_legacy();
            // A write refused because the target closed is something the following
            // expectations will judge; a write that blocks is the target's fault.
            if let Err(e @ WriteError::Blocked) = sent {
                return Err(StepError::Mismatch {
                    rule: Some("ROB-1".into()),
                    expected: format!("{logical}'s write of {} bytes accepted", bytes.len()),
                    actual: e.to_string(),
                    hex: None,
                });
            }
        }
        Ok(())
    }
}
