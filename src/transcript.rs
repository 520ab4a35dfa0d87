//! Deterministic transcripts of scenario runs: every frame each connection sent or consumed,
//! decoded on one line with its bytes in hex beneath, grouped by step. Nothing in it depends
//! on timing, ports or scheduling: frames are attributed to the step that *wrote* or
//! *consumed* them (not to the read that happened to bring them in), entries within a step
//! are ordered by a phase the step sets, then by connection, then by sequence, and ports the
//! harness chose for P2P offers are masked.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use msrp_reference::decode::{Decoded, Decoder, Limits};
use msrp_reference::frame::Frame;
use msrp_reference::profile::legacy::{self, LegacyDecoder};
use msrp_reference::text::escape_bytes;
use sha2::Digest;

use crate::runner::seen::Seen;
use crate::scenario::{ClientOr, Scenario, Step};
use crate::verdict::Outcome;
use msrp_reference::text::short_hex;

/// Shared by a run's connections: the step being executed and the P2P ports to mask.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    /// Legacy profile: bytes are decoded and shown in the dialect (`legacy-profile.md`).
    legacy: bool,
    step: Arc<AtomicUsize>,
    masked_ports: Arc<Mutex<BTreeSet<u32>>>,
    next_conn: Arc<AtomicUsize>,
}

impl RunContext {
    /// A context for a run in `profile`.
    pub fn for_profile(profile: msrp_reference::Profile) -> RunContext {
        RunContext {
            legacy: profile == msrp_reference::Profile::Legacy,
            ..RunContext::default()
        }
    }

    /// Sets the 1-based step that later entries belong to (one past the last step for what happens
    /// at the end of the run).
    pub fn set_step(&self, step: usize) {
        self.step.store(step, Ordering::Relaxed);
    }

    /// Adds a port the harness chose for a P2P offer, which transcripts show masked so that they do
    /// not depend on the run.
    pub fn mask_port(&self, port: u32) {
        if let Ok(mut m) = self.masked_ports.lock() {
            m.insert(port);
        }
    }

    fn masked(&self, port: u32) -> bool {
        self.masked_ports
            .lock()
            .map(|m| m.contains(&port))
            .unwrap_or(false)
    }
}

/// One transcript line (and its hex).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The 1-based step that wrote or consumed the frame; one past the last step for the end of the
    /// run.
    pub step: usize,
    /// Order within a step, set by steps whose connections act concurrently (sorted before `conn`).
    pub phase: u8,
    /// The connection's number in the run, in the order connections were opened.
    pub conn: usize,
    /// Order of the entry on its connection.
    pub seq: usize,
    /// The connection's label: the client's logical name, or the P2P side connection.
    pub label: String,
    /// `>` for bytes the harness wrote, `<` for what it consumed, `x` for a close.
    pub arrow: &'static str,
    /// The frame decoded on one line, or a note (a body summary, a close, a deadline).
    pub line: String,
    /// The frame's bytes in hex (clipped), shown beneath the line.
    pub hex: Option<String>,
}

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

fn step_summary(step: &Step) -> String {
    match step {
        Step::Connect(ClientOr::Client(c)) => format!("connect {c}"),
        Step::Connect(ClientOr::Full(s)) => format!("connect {}", s.client),
        Step::Send(s) => format!("send from {}", s.from),
        Step::File(f) => format!(
            "file {} -> {} \"{}\" {} bytes {}",
            f.from,
            f.to,
            f.name,
            f.size,
            if f.mode == crate::scenario::Mode::P2p {
                "p2p"
            } else {
                "relay"
            }
        ),
        Step::Expect(e) => format!("expect on {}", e.client),
        Step::ExpectSilence(s) => format!("expect_silence on {}", s.client),
        Step::ExpectClosed(ClientOr::Client(c)) => format!("expect_closed {c}"),
        Step::ExpectClosed(ClientOr::Full(s)) => format!("expect_closed {}", s.client),
        Step::Disconnect(ClientOr::Client(c)) => format!("disconnect {c}"),
        Step::Disconnect(ClientOr::Full(d)) => format!(
            "disconnect {}{}",
            d.client,
            if d.abrupt { " (abrupt)" } else { "" }
        ),
        Step::Sleep(s) => format!("sleep {s}"),
        Step::ExpectAlive(_) => "expect_alive (a fresh connection's LIST is answered)".into(),
    }
}

/// Renders a run's transcript. `entries` come from every connection's [`ConnLog`]; steps
/// are 1-based, step `steps+1` is the end of the run.
pub fn render(sc: &Scenario, outcome: &Outcome, mut entries: Vec<Entry>) -> String {
    render_in(sc, outcome, std::mem::take(&mut entries), false)
}

/// [`render`] for a run in the legacy profile when `entries_legacy` (the header says so).
pub fn render_in(
    sc: &Scenario,
    outcome: &Outcome,
    mut entries: Vec<Entry>,
    entries_legacy: bool,
) -> String {
    entries.sort_by_key(|e| (e.step, e.phase, e.conn, e.seq));
    let width = entries
        .iter()
        .map(|e| e.label.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = String::new();
    let _ = writeln!(out, "scenario {}: {}", sc.file.id, sc.file.title);
    let _ = writeln!(out, "rules: {}", sc.file.rules.join(", "));
    if entries_legacy {
        let _ = writeln!(out, "profile: legacy");
    }
    let mut current = 0;
    let steps = sc.file.steps.len();
    for e in &entries {
        if e.step != current {
            current = e.step;
            if current >= 1 && current <= steps {
                let line = sc.step_lines.get(current - 1).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "step {current} (line {line}): {}",
                    step_summary(&sc.file.steps[current - 1])
                );
            } else {
                let _ = writeln!(out, "end");
            }
        }
        let _ = writeln!(out, "  {:<width$} {} {}", e.label, e.arrow, e.line);
        if let Some(h) = &e.hex {
            let _ = writeln!(out, "  {:<width$}   {h}", "");
        }
    }
    let _ = write!(out, "verdict: {}", outcome.verdict.as_str());
    if let Some(f) = &outcome.failure {
        let _ = write!(
            out,
            " ({} at step {}: expected {}; actual {})",
            f.rule, f.step, f.expected, f.actual
        );
    }
    if let Some(r) = &outcome.reason {
        let _ = write!(out, " ({r})");
    }
    out.push('\n');
    out
}
