//! The legacy profile in the runner: which steps the dialect cannot express
//! (`legacy-profile.md`, "Not applicable in this profile"), and how a scenario stopped by one
//! is graded. A step the dialect cannot express is never passed: the run stops before it,
//! the report counts the steps left out and says why, and a scenario that had checked
//! nothing by then is skipped as a whole.

use std::time::Duration;

use bytes::Bytes;
use msrp_reference::decode::{Decoded, Limits};
use msrp_reference::frame::{FileHeader, Frame};
use msrp_reference::list::HEADER as LIST_HEADER;
use msrp_reference::profile::legacy::{encode_client, LegacyDecoder};

use super::seen::{server_bytes, Seen};
use super::ScenarioRun;
use crate::scenario::plan::{Payload, Step};
use crate::scenario::{ClientOr, Scenario};
use crate::verdict::{Outcome, Verdict};

/// The default quiet gap that ends a unit, and pause after each frame written (LEG-2,
/// LEG-12): long against loopback scheduling, short against the steps' waits.
pub const DEFAULT_GAP: Duration = Duration::from_millis(40);

fn not_applicable(rule: &str, detail: impl std::fmt::Display) -> Option<String> {
    Some(format!(
        "not applicable in the legacy profile: {rule} ({detail})"
    ))
}

impl ScenarioRun<'_> {
    /// Why the dialect cannot express `step`, if it cannot (legacy profile only). Scenarios
    /// written for the legacy profile alone give their raw bytes in the dialect.
    pub(super) fn not_applicable_step(&self, step: &Step) -> Option<String> {
        if !self.is_legacy() {
            return None;
        }
        let legacy_only = !self.sc.applies_to(msrp_reference::Profile::Strict);
        match step {
            Step::Connect(ClientOr::Full(c)) if c.raw.is_some() && !legacy_only => {
                not_applicable("DEC-1", "raw handshake bytes are strict-profile bytes")
            }
            Step::Connect(c) => {
                let client = match c {
                    ClientOr::Client(c) => c,
                    ClientOr::Full(c) => &c.client,
                };
                let short = self.expand(client).ok()?.iter().any(|m| {
                    self.sc.clients.wire.get(m).is_some_and(|w| {
                        (1..4).contains(&w.len()) && w.iter().all(|b| (0x21..=0x7e).contains(b))
                    })
                });
                if short && !legacy_only {
                    return not_applicable(
                        "NAME-1",
                        "a name of 1 to 3 bytes is valid in the dialect (LEG-1)",
                    );
                }
                None
            }
            Step::Disconnect(ClientOr::Full(d)) if d.raw.is_some() && !legacy_only => {
                not_applicable("ENC-3", "a partial frame in strict-profile bytes")
            }
            Step::Send(s) => {
                if matches!(s.payload, Payload::Raw(_)) && !legacy_only {
                    return not_applicable("ENC-1", "raw bytes are strict-profile bytes");
                }
                if !s.split.is_empty() && !matches!(s.payload, Payload::Data(_)) {
                    return not_applicable("ENC-3", "a frame split inside itself");
                }
                let frame = match &s.payload {
                    Payload::Msg { to, text } => Frame::Msg {
                        name: self.wire_name(to).ok()?,
                        text: Bytes::copy_from_slice(text),
                    },
                    Payload::File(f) => Frame::File(FileHeader {
                        name: self.wire_name(&f.to).ok()?,
                        filename: Bytes::copy_from_slice(f.name.as_bytes()),
                        size: f.size,
                        port: f.port,
                        ip: Bytes::copy_from_slice(f.ip.as_bytes()),
                    }),
                    Payload::Ack(filename) => Frame::Ack {
                        filename: Bytes::copy_from_slice(filename),
                    },
                    Payload::Error(_) => {
                        return not_applicable("ERR-3", "the dialect has no client ERROR frame")
                    }
                    Payload::List | Payload::Raw(_) | Payload::Data(_) => return None,
                };
                match encode_client(&frame) {
                    Ok(_) => None,
                    Err(e) => not_applicable(e.rule, e.detail),
                }
            }
            Step::File(f) => {
                let frame = Frame::File(FileHeader {
                    name: self.wire_name(&f.to).ok()?,
                    filename: Bytes::copy_from_slice(f.name.as_bytes()),
                    size: f.size,
                    port: 0,
                    ip: Bytes::new(),
                });
                encode_client(&frame)
                    .err()
                    .and_then(|e| not_applicable(e.rule, e.detail))
            }
            _ => None,
        }
    }
}

/// Whether a step checks something of the target (rather than only acting).
fn checks(step: &Step) -> bool {
    matches!(
        step,
        Step::Expect(_) | Step::ExpectSilence(_) | Step::ExpectClosed(_) | Step::File(_)
    )
}

/// Grades a run stopped before step `index` (0-based) because the dialect cannot express it.
pub(super) fn grade_not_applicable(
    sc: &Scenario,
    index: usize,
    reason: String,
    outcome: &mut Outcome,
) {
    let total = sc.steps.len();
    let line = sc.step_lines.get(index).copied().unwrap_or(0);
    let left = total - index;
    if sc.steps[..index].iter().any(checks) {
        outcome.notes.push(format!(
            "{left} of {total} steps not run from step {} (line {line}): {reason}",
            index + 1
        ));
    } else {
        outcome.verdict = Verdict::Skip;
        outcome.reason = Some(format!("step {} (line {line}): {reason}", index + 1));
    }
}

/// The rule a merged read is blamed on: server frames are one write each (LEG-12, a MUST).
pub(super) const MERGED_RULE: &str = "LEG-12";

/// Whether `seen`, one unit the target sent, holds two frames of the dialect: a forwarded
/// message (`[FROM]: `) or a LIST reply starts inside it, and the bytes on either side of
/// that point are each a whole frame. The dialect's bare texts have no end marker, so a
/// receiver that reads them together takes them as one frame: the target did not write them
/// apart (LEG-12), which the reference server does. A text that itself contains `[NAME]: `
/// would also be seen as two frames; only a step that already failed is judged this way.
pub(super) fn merged_unit(seen: &Seen) -> bool {
    let Seen::Frame(frame) = seen else {
        return false;
    };
    let bytes = server_bytes(frame, true);
    (1..bytes.len()).any(|at| {
        frame_starts_at(&bytes[at..]) && one_frame(&bytes[..at]) && one_frame(&bytes[at..])
    })
}

/// Whether `tail` begins like a bare server frame: `[` with a 1 to 4 byte name and `]: `
/// (LEG-7), or the LIST header (LEG-9).
fn frame_starts_at(tail: &[u8]) -> bool {
    if tail.starts_with(LIST_HEADER) {
        return true;
    }
    tail.first() == Some(&b'[')
        && (2..=5).any(|close| {
            tail.get(close) == Some(&b']') && tail.get(close + 1..close + 3) == Some(&b": "[..])
        })
}

/// Whether `unit`, read alone, is exactly one valid server frame of the dialect.
fn one_frame(unit: &[u8]) -> bool {
    let mut d = LegacyDecoder::server_to_client(Limits::default());
    let mut buf = bytes::BytesMut::from(unit);
    matches!(d.decode(&mut buf, true), Ok(Some(Decoded::Frame(_)))) && buf.is_empty()
}
