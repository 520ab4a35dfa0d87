//! The legacy profile's codec (`legacy-profile.md`), sans-IO like the strict one.
//!
//! The dialect has no framing of its own: a sender writes one frame per write (LEG-2, LEG-12)
//! and a receiver takes what arrives together as one frame. The caller therefore tells the
//! [`LegacyDecoder`] where a *unit* ends: on a server, the end of each read; on the harness,
//! the end of bytes that arrived together before a quiet gap. Inside a unit the decoder still
//! splits frames where the bytes themselves say a new frame starts (a `0x00` followed by an
//! opcode byte `0x01..=0x05`: no field of the dialect contains `0x00`), so that two frames
//! coalesced into one read are both honoured where that can be done (LEG-3, a SHOULD).
//!
//! Encoding gives the bytes of one write; a frame the dialect cannot express (a text with
//! `0x00`, a filename with a space, a client ERROR…) is an [`EncodeError`] naming the rule,
//! which the harness turns into "not applicable in the legacy profile".

mod decode;
mod encode;
mod fields;

pub use decode::LegacyDecoder;
pub use encode::{encode_client, encode_login, encode_server, file_port_offset};

use crate::decode::DecodeError;

/// The size of the read buffer every circulating implementation uses: a client frame must fit
/// in it (LEG-2), and a relayed FILE header is padded to exactly this block (LEG-8).
pub const READ_SIZE: usize = 2048;

/// A frame the legacy dialect cannot express.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("not expressible in the legacy profile: {detail} ({rule})")]
pub struct EncodeError {
    /// The rule of `legacy-profile.md` (or the strict rule it cannot carry) that makes the
    /// frame inexpressible, e.g. `ERR-3` for a client ERROR.
    pub rule: &'static str,
    /// What cannot be expressed, for humans.
    pub detail: String,
}

pub(super) fn inexpressible(rule: &'static str, detail: impl Into<String>) -> EncodeError {
    EncodeError {
        rule,
        detail: detail.into(),
    }
}

/// Whether the server closes the connection after answering this decode error. Frame-shape
/// errors of MSG, LIST and ACK, and unknown opcodes, leave it open (one read is one frame, so
/// the next frame's start is known: LEG-13); a bad name or a login refusal (NAME-3), an
/// oversized frame (LIM-1, LEG-2) and any fault in a FILE header (FILE-6; a body may follow
/// that can no longer be told from frames) close it, as in the strict profile.
pub fn closes_connection(e: &DecodeError) -> bool {
    !matches!(e.rule, "LEG-4" | "LEG-6" | "LEG-13")
}
