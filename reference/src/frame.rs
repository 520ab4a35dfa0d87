//! Typed MSRP frames (strict profile, `SPEC.md`) and their encoding.
//!
//! One [`Frame`] type serves both directions: the meaning of the 4-byte name in MSG and FILE
//! frames depends on who sends it (recipient when a client sends, sender when the server
//! forwards — MSG-2, FILE-3), and LIST is a bare request one way and a text reply the other.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// Opcode of a text message (MSG-1).
pub const OP_MSG: u16 = 1;
/// Opcode of a file header (FILE-1).
pub const OP_FILE: u16 = 2;
/// Opcode of a client-list request or reply (LIST-1, LIST-2).
pub const OP_LIST: u16 = 3;
/// Opcode of a file acknowledgement (ACK-1).
pub const OP_ACK: u16 = 4;
/// Opcode of an error (ERR-1).
pub const OP_ERROR: u16 = 5;

/// Longest filename a FILE header or ACK may carry (FILE-6).
pub const MAX_FILENAME: usize = 255;
/// Longest textual address a FILE header may carry (FILE-1).
pub const MAX_IP: usize = 45;

/// A client name as it appears on the wire: 4 bytes in the strict profile (NAME-1), 1 to 4
/// bytes in the legacy profile (LEG-1). Validity is checked by [`Name::is_valid`] (strict) or
/// [`Name::is_valid_legacy`] because a frame may legitimately *address* an invalid name (it is
/// simply unknown).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    /// The name's bytes, zero after `len` so that equality and hashing see only the name.
    bytes: [u8; 4],
    /// 1..=4.
    len: u8,
}

impl Name {
    /// A 4-byte name (the strict profile's only shape).
    pub const fn from_array(bytes: [u8; 4]) -> Name {
        Name { bytes, len: 4 }
    }

    /// A name of 1 to 4 bytes; `None` for an empty or longer slice.
    pub fn from_slice(slice: &[u8]) -> Option<Name> {
        if slice.is_empty() || slice.len() > 4 {
            return None;
        }
        let mut bytes = [0u8; 4];
        bytes[..slice.len()].copy_from_slice(slice);
        Some(Name {
            bytes,
            len: slice.len() as u8,
        })
    }

    /// A valid login name in the strict profile: exactly 4 bytes in `0x21..=0x7E` (NAME-1).
    pub fn is_valid(&self) -> bool {
        self.len == 4 && self.is_valid_legacy()
    }

    /// A valid login name in the legacy profile: 1 to 4 bytes in `0x21..=0x7E` (LEG-1).
    pub fn is_valid_legacy(&self) -> bool {
        self.as_bytes().iter().all(|b| (0x21..=0x7e).contains(b))
    }

    /// Parses a user-typed name, requiring it to be a valid strict login name (NAME-1).
    pub fn parse(s: &str) -> Result<Name, NameError> {
        match Name::from_slice(s.as_bytes()) {
            Some(name) if name.is_valid() => Ok(name),
            _ => Err(NameError(s.escape_debug().to_string())),
        }
    }

    /// Parses a user-typed name, requiring it to be a valid legacy login name (LEG-1).
    pub fn parse_legacy(s: &str) -> Result<Name, NameError> {
        match Name::from_slice(s.as_bytes()) {
            Some(name) if name.is_valid_legacy() => Ok(name),
            _ => Err(NameError(s.escape_debug().to_string())),
        }
    }

    /// The name's bytes (4 of them for every strict name).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Number of bytes, 1..=4.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a name has at least one byte (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl From<[u8; 4]> for Name {
    fn from(bytes: [u8; 4]) -> Name {
        Name::from_array(bytes)
    }
}

/// A string that is not a valid MSRP name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid name \"{0}\": a name is exactly 4 printable ASCII bytes without spaces (NAME-1; 1 to 4 in the legacy profile, LEG-1)")]
pub struct NameError(pub String);

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::parse(s)
    }
}

impl fmt::Display for Name {
    /// Printable bytes as they are, others as `\xNN`, so hostile names cannot hide.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::text::escape_bytes(self.as_bytes()))
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// The header of a file transfer (FILE-1, FILE-3). `port == 0` is relay mode (FILE-2), any
/// other port is a P2P offer (FILE-4).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FileHeader {
    /// Recipient (client → server) or sender (server → client).
    pub name: Name,
    /// The file's name, 1..=255 bytes without `/`, `\` or `0x00` and not `.` or `..` when valid
    /// (FILE-6); kept as received, terminator excluded.
    pub filename: Bytes,
    /// The body's length in bytes; any `u64` (DEC-16). In relay mode exactly this many bytes follow
    /// the header.
    pub size: u64,
    /// `0` for relay mode (FILE-2), else the TCP port the sender listens on for the P2P transfer
    /// (FILE-4); above 65 535 is `malformed`.
    pub port: u32,
    /// Textual IPv4 or IPv6 address of at most 45 bytes, terminator excluded (FILE-1): empty in
    /// relay mode; in P2P mode the sender's claim, replaced by the server with the address it sees
    /// (FILE-5, DEC-6).
    pub ip: Bytes,
}

impl FileHeader {
    /// True when the body travels through the server after this header (FILE-2).
    pub fn is_relay(&self) -> bool {
        self.port == 0
    }

    /// Where the 4-byte port starts in this header's strict encoding, counted from the opcode:
    /// `opcode[2] | name | filename 0x00 | size[8]` come before it (FILE-1).
    pub fn port_offset(&self) -> usize {
        2 + self.name.len() + self.filename.len() + 1 + 8
    }
}

/// One MSRP frame, in either direction.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Frame {
    /// `0x0001 | name[4] | text 0x00` — name is the recipient (client → server) or the sender
    /// (server → client).
    Msg {
        /// Recipient (client → server, MSG-1) or sender (server → recipient, MSG-2).
        name: Name,
        /// The message bytes, terminator excluded; may be empty (MSG-3), at most the text limit
        /// (LIM-1).
        text: Bytes,
    },
    /// `0x0002 | name[4] | filename 0x00 | size u64 | port u32 | ip 0x00`; in relay mode
    /// `size` body bytes follow, which the decoder hands out separately.
    File(FileHeader),
    /// `0x0003` alone: a client asks for the client list.
    ListRequest,
    /// `0x0003 | text 0x00`: the server's client list (LIST-2).
    ListReply {
        /// `Lista de clientes:\n` followed by `Cliente {i}: {name}\n` per connected client,
        /// terminator excluded.
        text: Bytes,
    },
    /// `0x0004 | filename 0x00`.
    Ack {
        /// The acknowledged file's name, terminator excluded; at most 255 bytes (DEC-4).
        filename: Bytes,
    },
    /// `0x0005 | text 0x00`, text = `reason: detail` when the server sends it (ERR-1).
    Error {
        /// The error text, terminator excluded: `reason: detail` from the server (ERR-1), free-form
        /// from a client (ERR-3).
        text: Bytes,
    },
}

impl Frame {
    /// An ERROR frame with its reason token and a human-readable detail.
    pub fn error(reason: Reason, detail: impl fmt::Display) -> Frame {
        Frame::Error {
            text: Bytes::from(format!("{}: {detail}", reason.as_str()).replace('\0', "\\0")),
        }
    }

    /// The opcode this frame is sent with.
    pub fn opcode(&self) -> u16 {
        match self {
            Frame::Msg { .. } => OP_MSG,
            Frame::File(_) => OP_FILE,
            Frame::ListRequest | Frame::ListReply { .. } => OP_LIST,
            Frame::Ack { .. } => OP_ACK,
            Frame::Error { .. } => OP_ERROR,
        }
    }

    /// Number of bytes [`Frame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        2 + match self {
            Frame::Msg { name, text } => name.len() + text.len() + 1,
            Frame::File(h) => h.name.len() + h.filename.len() + 1 + 8 + 4 + h.ip.len() + 1,
            Frame::ListRequest => 0,
            Frame::ListReply { text } | Frame::Error { text } => text.len() + 1,
            Frame::Ack { filename } => filename.len() + 1,
        }
    }

    /// Appends the frame's bytes. The encoder trusts its input: variable fields must not
    /// contain `0x00` (ENC-2); [`Frame::validate`] checks that for untrusted frames.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        dst.put_u16(self.opcode());
        match self {
            Frame::Msg { name, text } => {
                dst.put_slice(name.as_bytes());
                put_cstring(dst, text);
            }
            Frame::File(h) => {
                dst.put_slice(h.name.as_bytes());
                put_cstring(dst, &h.filename);
                dst.put_u64(h.size);
                dst.put_u32(h.port);
                put_cstring(dst, &h.ip);
            }
            Frame::ListRequest => {}
            Frame::ListReply { text } | Frame::Error { text } => put_cstring(dst, text),
            Frame::Ack { filename } => put_cstring(dst, filename),
        }
    }

    /// The frame's bytes as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut b);
        b.freeze()
    }

    /// Checks that the frame can be encoded faithfully: no `0x00` inside a variable field.
    pub fn validate(&self) -> Result<(), &'static str> {
        let fields: [&[u8]; 2] = match self {
            Frame::Msg { text, .. } => [text, b""],
            Frame::File(h) => [&h.filename, &h.ip],
            Frame::ListRequest => [b"", b""],
            Frame::ListReply { text } | Frame::Error { text } => [text, b""],
            Frame::Ack { filename } => [filename, b""],
        };
        if fields.iter().any(|f| f.contains(&0)) {
            Err("a variable-length field contains 0x00 (ENC-2)")
        } else {
            Ok(())
        }
    }
}

fn put_cstring(dst: &mut BytesMut, s: &[u8]) {
    dst.put_slice(s);
    dst.put_u8(0);
}

/// The reason token that starts every server ERROR text (ERR-1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Reason {
    /// `bad-name`: the 4 login bytes are not a valid name (NAME-3); closed.
    BadName,
    /// `name-taken`: a connected client holds the name (NAME-4); the new connection is closed.
    NameTaken,
    /// `server-full`: the server is at its client limit (CONN-2); closed.
    ServerFull,
    /// `unknown-recipient`: MSG or FILE to a name that is not connected (MSG-4, FILE-7); stays
    /// open.
    UnknownRecipient,
    /// `bad-opcode`: opcode 0, or 6 and above (ERR-2); closed.
    BadOpcode,
    /// `malformed`: an invalid filename, `ip` over 45 bytes, `port` over 65 535 or an ACK filename
    /// over 255 bytes (FILE-1, FILE-4, FILE-6, DEC-4); closed.
    Malformed,
    /// `too-large`: a MSG or client ERROR text over the text limit (LIM-1, DEC-5); closed.
    TooLarge,
    /// `unexpected-ack`: an ACK that matches no pending transfer (ACK-3); stays open.
    UnexpectedAck,
    /// `transfer-aborted`: the recipient left during a relayed body (FILE-8); stays open.
    TransferAborted,
}

impl Reason {
    /// Every reason token of the profile.
    pub const ALL: [Reason; 9] = [
        Reason::BadName,
        Reason::NameTaken,
        Reason::ServerFull,
        Reason::UnknownRecipient,
        Reason::BadOpcode,
        Reason::Malformed,
        Reason::TooLarge,
        Reason::UnexpectedAck,
        Reason::TransferAborted,
    ];

    /// The token as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadName => "bad-name",
            Reason::NameTaken => "name-taken",
            Reason::ServerFull => "server-full",
            Reason::UnknownRecipient => "unknown-recipient",
            Reason::BadOpcode => "bad-opcode",
            Reason::Malformed => "malformed",
            Reason::TooLarge => "too-large",
            Reason::UnexpectedAck => "unexpected-ack",
            Reason::TransferAborted => "transfer-aborted",
        }
    }

    /// Parses a token (without the `": "` that follows it on the wire).
    pub fn from_token(token: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == token)
    }

    /// Splits an ERROR text into its reason token and detail; `None` when the text does not
    /// start with a known token followed by `": "` (an ERR-1 violation).
    pub fn split_error_text(text: &[u8]) -> Option<(Reason, &[u8])> {
        let colon = text.windows(2).position(|w| w == b": ")?;
        let token = std::str::from_utf8(&text[..colon]).ok()?;
        Some((Reason::from_token(token)?, &text[colon + 2..]))
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The canonical one-line text form of a frame, as transcripts, reports and expectations
/// show it: `MSG name="anna" text="hi"`, `FILE name=… filename=… size=… port=… ip=…`, `LIST`,
/// `LIST text="…"`, `ACK filename="…"`, `ERROR text="…"`. Texts are escaped
/// ([`crate::text::escape_bytes`]) and clipped past 200 bytes ([`crate::text::clip`]).
impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::text::{clip, escape_bytes};
        match self {
            Frame::Msg { name, text } => write!(f, "MSG name=\"{name}\" text=\"{}\"", clip(text)),
            Frame::File(h) => write!(
                f,
                "FILE name=\"{}\" filename=\"{}\" size={} port={} ip=\"{}\"",
                h.name,
                escape_bytes(&h.filename),
                h.size,
                h.port,
                escape_bytes(&h.ip)
            ),
            Frame::ListRequest => f.write_str("LIST"),
            Frame::ListReply { text } => write!(f, "LIST text=\"{}\"", clip(text)),
            Frame::Ack { filename } => write!(f, "ACK filename=\"{}\"", escape_bytes(filename)),
            Frame::Error { text } => write!(f, "ERROR text=\"{}\"", clip(text)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_sits_where_port_offset_says_in_both_encodings() {
        let h = FileHeader {
            name: Name::from_array(*b"bobb"),
            filename: Bytes::from_static(b"photo.png"),
            size: 123_456,
            port: 0xA1B2_C3D4,
            ip: Bytes::from_static(b"10.0.0.1"),
        };
        let strict = Frame::File(h.clone()).to_bytes();
        let at = h.port_offset();
        assert_eq!(strict[at..at + 4], 0xA1B2_C3D4u32.to_be_bytes());
        let legacy = crate::profile::legacy::encode_client(&Frame::File(h.clone()))
            .expect("expressible in the dialect");
        let at = crate::profile::legacy::file_port_offset(&h);
        let digits = h.port.to_string();
        assert_eq!(&legacy[at..at + digits.len()], digits.as_bytes());
    }

    #[test]
    fn the_text_form_of_each_frame() {
        let name = Name::from_array(*b"anna");
        let cases = [
            (
                Frame::Msg {
                    name,
                    text: Bytes::from_static(b"hi\n\"x\""),
                },
                "MSG name=\"anna\" text=\"hi\\n\\\"x\\\"\"",
            ),
            (Frame::ListRequest, "LIST"),
            (
                Frame::Ack {
                    filename: Bytes::from_static(b"a.txt"),
                },
                "ACK filename=\"a.txt\"",
            ),
            (
                Frame::error(Reason::BadName, "no"),
                "ERROR text=\"bad-name: no\"",
            ),
        ];
        for (frame, text) in cases {
            assert_eq!(frame.to_string(), text);
        }
    }
}
