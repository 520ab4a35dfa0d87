//! The transcript side of one connection ([`ConnLog`]): what the harness wrote, decoded
//! frame by frame, and what it consumed, each attributed to the step that did it.

use std::sync::atomic::Ordering;

use bytes::BytesMut;
use msrp_reference::decode::{Decoded, Decoder, Limits};
use msrp_reference::frame::Frame;
use msrp_reference::profile::legacy::{self, LegacyDecoder};
use msrp_reference::text::{escape_bytes, short_hex};
use sha2::Digest;

use super::{Entry, RunContext};
use crate::runner::seen::Seen;

/// A body being tallied (relay bodies are summarised, never listed).
#[derive(Debug)]
struct BodyTally {
    size: u64,
    got: u64,
    at_step_start: u64,
    hasher: sha2::Sha256,
}

/// The transcript side of one connection.
#[derive(Debug)]
pub struct ConnLog {
    ctx: RunContext,
    conn: usize,
    label: String,
    /// Set by steps whose connections act concurrently, to order their entries.
    pub phase: u8,
    seq: usize,
    out: Decoder,
    /// Legacy profile: what the harness writes, decoded write by write (LEG-2).
    out_legacy: Option<LegacyDecoder>,
    out_buf: BytesMut,
    /// Bytes at the front of `out_buf` (a frame not yet complete) already shown at the end of
    /// an earlier step.
    out_shown: usize,
    out_broken: bool,
    out_body: Option<BodyTally>,
    /// The lines this connection contributed, in the order they were made.
    pub entries: Vec<Entry>,
}

impl ConnLog {
    /// A log for a new connection called `label` (a client's logical name), numbered after the
    /// connections opened before it in the run.
    pub fn new(ctx: &RunContext, label: &str) -> ConnLog {
        ConnLog {
            ctx: ctx.clone(),
            conn: ctx.next_conn.fetch_add(1, Ordering::Relaxed),
            label: label.to_string(),
            phase: 0,
            seq: 0,
            out: Decoder::client_to_server(Limits {
                max_text: 16 << 20,
                max_server_text: 16 << 20,
            }),
            out_legacy: ctx.legacy.then(|| {
                LegacyDecoder::client_to_server(Limits {
                    max_text: 16 << 20,
                    max_server_text: 16 << 20,
                })
            }),
            out_buf: BytesMut::new(),
            out_shown: 0,
            out_broken: false,
            out_body: None,
            entries: Vec::new(),
        }
    }

    fn push(&mut self, arrow: &'static str, line: String, hex: Option<String>) {
        self.entries.push(Entry {
            step: self.ctx.step.load(Ordering::Relaxed),
            phase: self.phase,
            conn: self.conn,
            seq: self.seq,
            label: self.label.clone(),
            arrow,
            line,
            hex,
        });
        self.seq += 1;
    }

    /// A frame line with P2P ports the harness chose masked; `outgoing` for frames the
    /// harness wrote (their legacy encoding differs from a server's).
    fn frame_line(&self, f: &Frame, outgoing: bool) -> (String, String) {
        if self.ctx.legacy {
            return self.legacy_frame_line(f, outgoing);
        }
        let bytes = f.to_bytes();
        if let Frame::File(h) = f {
            if h.port != 0 && self.ctx.masked(h.port) {
                let line = f
                    .to_string()
                    .replace(&format!("port={}", h.port), "port=<p2p>");
                let at = h.port_offset();
                let mut hex = short_hex(&bytes[..at]);
                hex.push_str(" pp pp pp pp ");
                hex.push_str(&short_hex(&bytes[at + 4..]));
                return (line, hex);
            }
        }
        (f.to_string(), short_hex(&bytes))
    }

    /// The legacy dialect's bytes of a frame, with a P2P port the harness chose masked (its
    /// decimal digits vary from run to run).
    fn legacy_frame_line(&self, f: &Frame, outgoing: bool) -> (String, String) {
        let encoded = if outgoing {
            legacy::encode_client(f)
        } else {
            legacy::encode_server(f)
        };
        let bytes = encoded
            .map(|b| b.to_vec())
            .unwrap_or_else(|_| f.to_bytes().to_vec());
        if let Frame::File(h) = f {
            if h.port != 0 && self.ctx.masked(h.port) {
                let line = f
                    .to_string()
                    .replace(&format!("port={}", h.port), "port=<p2p>");
                let at = legacy::file_port_offset(h);
                let digits = h.port.to_string().len();
                if bytes.len() >= at + digits {
                    let hex = format!(
                        "{} <port> {}",
                        short_hex(&bytes[..at]),
                        short_hex(&bytes[at + digits..])
                    );
                    return (line, hex);
                }
            }
        }
        (f.to_string(), short_hex(&bytes))
    }

    /// Bytes the harness wrote: decoded as the server would decode them.
    pub fn sent(&mut self, bytes: &[u8]) {
        if self.out_broken {
            self.push(
                ">",
                format!("{} more bytes", bytes.len()),
                Some(short_hex(bytes)),
            );
            return;
        }
        self.out_buf.extend_from_slice(bytes);
        loop {
            // Legacy: each write is one unit (LEG-2).
            let decoded = match self.out_legacy.as_mut() {
                Some(d) => d.decode(&mut self.out_buf, true),
                None => self.out.decode(&mut self.out_buf),
            };
            match decoded {
                Ok(Some(Decoded::Login(name))) => {
                    self.out_shown = 0;
                    self.push(
                        ">",
                        format!("LOGIN \"{}\"", escape_bytes(name.as_bytes())),
                        Some(short_hex(name.as_bytes())),
                    )
                }
                Ok(Some(Decoded::Frame(f))) => {
                    self.out_shown = 0;
                    let (line, hex) = self.frame_line(&f, true);
                    self.push(">", line, Some(hex));
                    if let Frame::File(h) = &f {
                        if h.is_relay() && h.size > 0 {
                            self.out_body = Some(BodyTally {
                                size: h.size,
                                got: 0,
                                at_step_start: 0,
                                hasher: sha2::Sha256::new(),
                            });
                        }
                    }
                }
                Ok(Some(Decoded::Body { data, remaining })) => {
                    if let Some(b) = self.out_body.as_mut() {
                        b.got += data.len() as u64;
                        b.hasher.update(&data);
                    }
                    if remaining == 0 {
                        if let Some(b) = self.out_body.take() {
                            let line = format!(
                                "body {} bytes sha256={}",
                                b.size,
                                hex::encode(b.hasher.finalize())
                            );
                            self.push(">", line, None);
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let rest = self.out_buf.split();
                    self.push(
                        ">",
                        format!("bytes that are not a valid frame ({e})"),
                        Some(short_hex(&rest)),
                    );
                    self.out_broken = true;
                    break;
                }
            }
        }
    }

    /// A step ends: a body still in progress is summarised for this step, and so are the
    /// bytes of a frame the harness has begun and not finished (a partial frame left for the
    /// target to time out on, or finished by a later step), which would otherwise not show.
    pub fn end_step(&mut self) {
        if !self.out_broken && self.out_buf.len() > self.out_shown {
            let n = self.out_buf.len() - self.out_shown;
            let line = format!(
                "{n} byte{} of a frame not complete yet",
                if n == 1 { "" } else { "s" }
            );
            let hex = short_hex(&self.out_buf[self.out_shown..]);
            self.out_shown = self.out_buf.len();
            self.push(">", line, Some(hex));
        }
        if let Some(b) = self.out_body.as_mut() {
            if b.got > b.at_step_start {
                let line = format!("body bytes {}..{} of {}", b.at_step_start, b.got, b.size);
                b.at_step_start = b.got;
                self.push(">", line, None);
            }
        }
    }

    /// What the harness consumed from the target.
    pub fn received(&mut self, seen: &Seen) {
        match seen {
            Seen::Frame(f) => {
                let (line, hex) = self.frame_line(f, false);
                self.push("<", line, Some(hex));
            }
            Seen::Relay {
                header,
                received,
                sha256,
                cut,
            } => {
                let (line, hex) = self.frame_line(&Frame::File(header.clone()), false);
                self.push("<", line, Some(hex));
                let mut body = format!("body {received} bytes sha256={}", hex::encode(sha256));
                if let Some(c) = cut {
                    body.push_str(&format!(" (cut: {c})"));
                }
                self.push("<", body, None);
            }
            Seen::Closed(k) => self.push("x", format!("connection {k}"), None),
            Seen::Timeout { .. } => self.push("<", "nothing (deadline passed)".into(), None),
            Seen::Garbage { error, bytes } => self.push(
                "<",
                format!("bytes that are not a valid frame ({error})"),
                Some(short_hex(bytes)),
            ),
        }
    }

    /// Where the log stands, for [`ConnLog::canonical_order_since`].
    pub fn mark(&self) -> usize {
        self.entries.len()
    }

    /// Frames accepted in any order (one from each member of a group) are listed in a
    /// canonical order, so the transcript does not depend on their arrival order.
    pub fn canonical_order_since(&mut self, mark: usize) {
        let tail = &mut self.entries[mark..];
        let mut seqs: Vec<usize> = tail.iter().map(|e| e.seq).collect();
        seqs.sort_unstable();
        tail.sort_by(|a, b| (&a.line, &a.hex).cmp(&(&b.line, &b.hex)));
        for (e, s) in tail.iter_mut().zip(seqs) {
            e.seq = s;
        }
    }

    /// A free-form event (closes, raw side streams).
    pub fn note(&mut self, arrow: &'static str, line: String) {
        self.push(arrow, line, None);
    }
}
