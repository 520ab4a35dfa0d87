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

mod log;

pub use log::ConnLog;

use crate::scenario::{ClientOr, Scenario, Step};
use crate::verdict::Outcome;

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
