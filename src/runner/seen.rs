//! What the harness saw arrive on a connection ([`Seen`]): a frame, a relayed body, a close,
//! silence or bytes that do not decode, each with the words and hex a report shows.

use msrp_reference::decode::DecodeError;
use msrp_reference::frame::{FileHeader, Frame};
use msrp_reference::profile::legacy;
use msrp_reference::text::short_hex;

/// How a connection ended, as seen by the harness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseKind {
    /// The peer closed (FIN).
    Fin,
    /// The peer reset the connection (RST).
    Reset,
    /// Another socket error.
    Error(String),
}

impl std::fmt::Display for CloseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseKind::Fin => f.write_str("closed by the server (FIN)"),
            CloseKind::Reset => f.write_str("reset by the server (RST)"),
            CloseKind::Error(e) => write!(f, "socket error: {e}"),
        }
    }
}

/// What the target sent next.
#[derive(Debug, Clone)]
pub enum Seen {
    /// A frame (a P2P FILE offer included).
    Frame(Frame),
    /// A relay FILE header and its body, read to the end (or as far as it came).
    Relay {
        /// The FILE header as the target sent it.
        header: FileHeader,
        /// Body bytes received, at most the header's `size`.
        received: u64,
        /// SHA-256 of the body bytes received.
        sha256: [u8; 32],
        /// Set when the body stopped early: how.
        cut: Option<String>,
    },
    /// The connection ended.
    Closed(CloseKind),
    /// Nothing complete before the deadline; `partial` holds bytes of an unfinished frame.
    Timeout {
        /// Bytes of a frame begun but not finished when the deadline passed (empty: nothing at
        /// all).
        partial: Vec<u8>,
    },
    /// Bytes that are not a valid frame (ERR-1, ENC-*): the decoder's error and the bytes.
    Garbage {
        /// Why the bytes do not decode (its reason token and rule).
        error: DecodeError,
        /// The bytes buffered when decoding failed, for the report's hex.
        bytes: Vec<u8>,
    },
}

impl Seen {
    /// One line for humans: `MSG from="clt1" text="Hola"`.
    pub fn describe(&self) -> String {
        match self {
            Seen::Frame(f) => f.to_string(),
            Seen::Relay {
                header,
                received,
                cut,
                ..
            } => {
                let mut s = Frame::File(header.clone()).to_string();
                s.push_str(&format!(" + body {received} bytes"));
                if let Some(c) = cut {
                    s.push_str(&format!(" (cut: {c})"));
                }
                s
            }
            Seen::Closed(k) => format!("connection {k}"),
            Seen::Timeout { partial } if partial.is_empty() => "nothing".into(),
            Seen::Timeout { partial } => format!("an incomplete frame ({} bytes)", partial.len()),
            Seen::Garbage { error, .. } => format!("bytes that are not a valid frame ({error})"),
        }
    }

    /// The bytes seen, in hex (frames re-encoded: the encoding is canonical), at most 96.
    pub fn hex(&self) -> Option<String> {
        let bytes: Vec<u8> = match self {
            // Frames the legacy decoder yielded are re-encoded in the dialect.
            Seen::Frame(f) if legacy_run() => server_bytes(f, true),
            Seen::Relay { header, .. } if legacy_run() => {
                server_bytes(&Frame::File(header.clone()), true)
            }
            Seen::Frame(f) => f.to_bytes().to_vec(),
            Seen::Relay { header, .. } => Frame::File(header.clone()).to_bytes().to_vec(),
            Seen::Timeout { partial } if !partial.is_empty() => partial.clone(),
            Seen::Garbage { bytes, .. } => bytes.clone(),
            _ => return None,
        };
        Some(short_hex(&bytes))
    }
}

tokio::task_local! {
    /// True inside a legacy-profile scenario run, so that hex dumps of what the target sent
    /// show the dialect's bytes.
    pub static LEGACY_RUN: bool;
}

pub(crate) fn legacy_run() -> bool {
    LEGACY_RUN.try_with(|v| *v).unwrap_or(false)
}

/// A server frame's bytes in the profile's encoding (legacy: LEG-7…LEG-11).
pub fn server_bytes(f: &Frame, legacy: bool) -> Vec<u8> {
    if legacy {
        if let Ok(b) = legacy::encode_server(f) {
            return b.to_vec();
        }
    }
    f.to_bytes().to_vec()
}
