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

use bytes::{Buf, Bytes, BytesMut};

use crate::decode::{check_filename, DecodeError, Decoded, Direction, Limits};
use crate::frame::{
    FileHeader, Frame, Name, Reason, MAX_FILENAME, MAX_IP, OP_ACK, OP_ERROR, OP_FILE, OP_LIST,
    OP_MSG,
};
use crate::list::HEADER;
use crate::text::escape_bytes;

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

fn inexpressible(rule: &'static str, detail: impl Into<String>) -> EncodeError {
    EncodeError {
        rule,
        detail: detail.into(),
    }
}

/// The bytes of a login write (LEG-1): the name alone, 1 to 4 bytes.
pub fn encode_login(name: &Name) -> Bytes {
    Bytes::copy_from_slice(name.as_bytes())
}

/// Checks that a name can stand in a space-separated field (LEG-4, LEG-5).
fn check_name_field(name: &Name) -> Result<(), EncodeError> {
    if name.as_bytes().iter().any(|&b| b == b' ' || b == 0) {
        return Err(inexpressible(
            "LEG-4",
            format!("name \"{name}\" contains a space or 0x00, the dialect's separators"),
        ));
    }
    Ok(())
}

/// Checks that a text can be carried by one write and come back byte for byte (LEG-2).
fn check_text(text: &[u8]) -> Result<(), EncodeError> {
    if text.contains(&0) {
        return Err(inexpressible("LEG-2", "a text that contains 0x00"));
    }
    if text.first() == Some(&b'\n') || text.last() == Some(&b'\n') {
        return Err(inexpressible(
            "LEG-2",
            "a text that begins or ends with \\n",
        ));
    }
    Ok(())
}

fn check_fits(bytes: Vec<u8>) -> Result<Bytes, EncodeError> {
    if bytes.len() > READ_SIZE {
        return Err(inexpressible(
            "LEG-2",
            format!(
                "a frame of {} bytes does not fit one {READ_SIZE}-byte read",
                bytes.len()
            ),
        ));
    }
    Ok(Bytes::from(bytes))
}

/// The ASCII header fields of a FILE frame after the opcode: `TO FILENAME SIZE` (relay) or
/// `TO FILENAME SIZE PORT IP` (P2P) (LEG-5, LEG-8).
/// Where a P2P header's decimal port starts in its legacy encoding, counted from the opcode:
/// `opcode[2] NAME ' ' FILENAME ' ' SIZE ' '` come before it (LEG-5).
pub fn file_port_offset(h: &FileHeader) -> usize {
    2 + h.name.len() + 1 + h.filename.len() + 1 + h.size.to_string().len() + 1
}

fn file_fields(h: &FileHeader) -> Result<Vec<u8>, EncodeError> {
    check_name_field(&h.name)?;
    if h.filename.is_empty() || h.filename.contains(&b' ') || h.filename.contains(&0) {
        return Err(inexpressible(
            "LEG-5",
            format!(
                "filename \"{}\" is empty or contains a space or 0x00",
                escape_bytes(&h.filename)
            ),
        ));
    }
    let mut out = Vec::with_capacity(h.filename.len() + 64);
    out.extend_from_slice(h.name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(&h.filename);
    out.extend_from_slice(format!(" {}", h.size).as_bytes());
    if !h.is_relay() {
        if h.ip.is_empty() || h.ip.contains(&b' ') || h.ip.contains(&0) {
            return Err(inexpressible(
                "LEG-5",
                format!(
                    "P2P ip \"{}\" is empty or contains a space or 0x00",
                    escape_bytes(&h.ip)
                ),
            ));
        }
        out.extend_from_slice(format!(" {} ", h.port).as_bytes());
        out.extend_from_slice(&h.ip);
    }
    Ok(out)
}

/// The bytes of one client → server write for `frame` (LEG-2, LEG-4, LEG-5, LEG-6). A relay
/// FILE header is the header alone: its body follows in later writes.
pub fn encode_client(frame: &Frame) -> Result<Bytes, EncodeError> {
    let mut out = frame.opcode().to_be_bytes().to_vec();
    match frame {
        Frame::Msg { name, text } => {
            check_name_field(name)?;
            check_text(text)?;
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            out.extend_from_slice(text);
        }
        Frame::File(h) => out.extend_from_slice(&file_fields(h)?),
        Frame::ListRequest => {}
        Frame::Ack { filename } => {
            if filename.contains(&0) {
                return Err(inexpressible("LEG-6", "an ACK filename that contains 0x00"));
            }
            out.extend_from_slice(filename);
        }
        Frame::Error { .. } => {
            return Err(inexpressible(
                "ERR-3",
                "the dialect has no client ERROR frame",
            ))
        }
        Frame::ListReply { .. } => {
            return Err(inexpressible("LEG-6", "a LIST reply is not a client frame"))
        }
    }
    check_fits(out)
}

/// The bytes of one server → client write for `frame` (LEG-7…LEG-11). A relay FILE header is
/// the whole 2048-byte block of LEG-8 (header, `0x00`, padding); the body follows it. The
/// caller puts in a forwarded FILE header's name field what LEG-8 says: the recipient's own
/// name, as the sender wrote it.
pub fn encode_server(frame: &Frame) -> Result<Bytes, EncodeError> {
    let out = match frame {
        Frame::Msg { name, text } => {
            let mut out = Vec::with_capacity(name.len() + text.len() + 4);
            out.push(b'[');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"]: ");
            out.extend_from_slice(text);
            out
        }
        Frame::File(h) => {
            let mut out = OP_FILE.to_be_bytes().to_vec();
            out.extend_from_slice(&file_fields(h)?);
            if h.is_relay() {
                if out.len() >= READ_SIZE {
                    return Err(inexpressible(
                        "LEG-8",
                        "a FILE header that does not fit its 2048-byte block",
                    ));
                }
                out.resize(READ_SIZE, 0);
            }
            out
        }
        Frame::ListReply { text } | Frame::Error { text } => text.to_vec(),
        Frame::Ack { filename } => {
            let mut out = OP_ACK.to_be_bytes().to_vec();
            out.extend_from_slice(filename);
            out
        }
        Frame::ListRequest => {
            return Err(inexpressible(
                "LEG-9",
                "a LIST request is not a server frame",
            ))
        }
    };
    Ok(Bytes::from(out))
}

/// Whether the server closes the connection after answering this decode error. Frame-shape
/// errors of MSG, LIST and ACK, and unknown opcodes, leave it open (one read is one frame, so
/// the next frame's start is known: LEG-13); a bad name or a login refusal (NAME-3), an
/// oversized frame (LIM-1, LEG-2) and any fault in a FILE header (FILE-6; a body may follow
/// that can no longer be told from frames) close it, as in the strict profile.
pub fn closes_connection(e: &DecodeError) -> bool {
    !matches!(e.rule, "LEG-4" | "LEG-6" | "LEG-13")
}

#[derive(Clone, Copy, Debug)]
enum State {
    Login,
    Frames,
    Body { remaining: u64 },
}

/// Incremental decoder of the legacy dialect for one direction of one connection.
#[derive(Clone, Debug)]
pub struct LegacyDecoder {
    direction: Direction,
    limits: Limits,
    state: State,
}

impl LegacyDecoder {
    /// What a server reads from a client: the name write first (LEG-1), then frames.
    pub fn client_to_server(limits: Limits) -> Self {
        LegacyDecoder {
            direction: Direction::ClientToServer,
            limits,
            state: State::Login,
        }
    }

    /// What a client (or the harness) reads from a server.
    pub fn server_to_client(limits: Limits) -> Self {
        LegacyDecoder {
            direction: Direction::ServerToClient,
            limits,
            state: State::Frames,
        }
    }

    /// The direction this decoder reads.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Body bytes still expected after the last relay FILE header.
    pub fn body_remaining(&self) -> Option<u64> {
        match self.state {
            State::Body { remaining } => Some(remaining),
            _ => None,
        }
    }

    /// True when nothing partial is pending: a stream that ends here ended cleanly.
    pub fn at_boundary(&self, buf: &[u8]) -> bool {
        buf.is_empty() && matches!(self.state, State::Frames | State::Login)
    }

    /// Decodes the next item from the front of `buf`. `unit_ended` says that the bytes in
    /// `buf` are all that arrived together (a whole read on a server, bytes followed by a
    /// quiet gap on the harness); without it, only items whose end the bytes themselves show
    /// are decoded. On an error the offending frame's bytes are consumed, so a caller that
    /// keeps the connection (LEG-13) can go on decoding.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        unit_ended: bool,
    ) -> Result<Option<Decoded>, DecodeError> {
        match self.state {
            State::Body { remaining } => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
                let data = buf.split_to(n).freeze();
                let remaining = remaining - n as u64;
                self.state = if remaining == 0 {
                    State::Frames
                } else {
                    State::Body { remaining }
                };
                Ok(Some(Decoded::Body { data, remaining }))
            }
            State::Login => {
                let Some(end) = unit_end(buf, 0, unit_ended) else {
                    return Ok(None);
                };
                let unit = buf.split_to(end);
                self.state = State::Frames;
                match Name::from_slice(&unit) {
                    Some(name) => Ok(Some(Decoded::Login(name))),
                    None => Err(DecodeError {
                        reason: Reason::BadName,
                        rule: "LEG-1",
                        detail: format!(
                            "the name write has {} bytes (\"{}\"); a name has 1 to 4",
                            unit.len(),
                            escape_bytes(&unit[..unit.len().min(16)])
                        ),
                    }),
                }
            }
            State::Frames => {
                if buf.is_empty() {
                    return Ok(None);
                }
                match self.direction {
                    Direction::ClientToServer => self.client_frame(buf, unit_ended),
                    Direction::ServerToClient => self.server_frame(buf, unit_ended),
                }
            }
        }
    }

    fn client_frame(
        &mut self,
        buf: &mut BytesMut,
        unit_ended: bool,
    ) -> Result<Option<Decoded>, DecodeError> {
        let Some(end) = unit_end(buf, 2, unit_ended) else {
            if buf.len() > READ_SIZE {
                let len = buf.len();
                buf.clear();
                return Err(err(
                    Reason::TooLarge,
                    "LEG-2",
                    format!(
                        "a frame of more than {len} bytes does not fit one {READ_SIZE}-byte read"
                    ),
                ));
            }
            return Ok(None);
        };
        let unit = buf.split_to(end).freeze();
        if unit.len() > READ_SIZE {
            return Err(err(
                Reason::TooLarge,
                "LEG-2",
                format!(
                    "a frame of {} bytes does not fit one {READ_SIZE}-byte read",
                    unit.len()
                ),
            ));
        }
        let unit = strip_trailer(&unit);
        if unit.len() < 2 {
            return Err(err(
                Reason::BadOpcode,
                "LEG-13",
                format!(
                    "a write of {} byte(s) has no 2-byte opcode (\"{}\")",
                    unit.len(),
                    escape_bytes(&unit)
                ),
            ));
        }
        let opcode = u16::from_be_bytes([unit[0], unit[1]]);
        let rest = unit.slice(2..);
        let frame = match opcode {
            OP_MSG => {
                let Some(space) = rest.iter().position(|&b| b == b' ') else {
                    return Err(err(
                        Reason::Malformed,
                        "LEG-4",
                        format!(
                            "MSG \"{}\" has too few fields: TO, one space, TEXT",
                            escape_bytes(&rest[..rest.len().min(32)])
                        ),
                    ));
                };
                let name = field_name(&rest[..space], "LEG-4")?;
                let text = rest.slice(space + 1..);
                if text.len() > self.limits.max_text {
                    return Err(err(
                        Reason::TooLarge,
                        "LIM-1",
                        format!(
                            "MSG text of {} bytes is longer than {}",
                            text.len(),
                            self.limits.max_text
                        ),
                    ));
                }
                Frame::Msg { name, text }
            }
            OP_FILE => Frame::File(parse_file_fields(&rest)?),
            OP_LIST if rest.is_empty() => Frame::ListRequest,
            OP_LIST => {
                return Err(err(
                    Reason::Malformed,
                    "LEG-6",
                    format!(
                        "LIST is the opcode alone; {} more bytes followed it",
                        rest.len()
                    ),
                ))
            }
            OP_ACK => {
                if rest.len() > MAX_FILENAME {
                    // The same limit and close as the strict profile's ACK (DEC-4).
                    return Err(err(
                        Reason::Malformed,
                        "DEC-4",
                        format!(
                            "ACK filename of {} bytes is longer than {MAX_FILENAME}",
                            rest.len()
                        ),
                    ));
                }
                Frame::Ack { filename: rest }
            }
            // The dialect has none (LEG-6); read and dropped like ERR-3 says.
            OP_ERROR => Frame::Error { text: rest },
            other => {
                return Err(err(
                    Reason::BadOpcode,
                    "LEG-13",
                    format!("opcode {other:#06x} is not one of 1..=5"),
                ))
            }
        };
        if let Frame::File(h) = &frame {
            if h.is_relay() && h.size > 0 {
                self.state = State::Body { remaining: h.size };
            }
        }
        Ok(Some(Decoded::Frame(frame)))
    }

    fn server_frame(
        &mut self,
        buf: &mut BytesMut,
        unit_ended: bool,
    ) -> Result<Option<Decoded>, DecodeError> {
        let opcode = (buf.len() >= 2 && buf[0] == 0).then(|| u16::from_be_bytes([buf[0], buf[1]]));
        if opcode == Some(OP_FILE) {
            return self.server_file(buf, unit_ended);
        }
        let Some(end) = unit_end(buf, 2, unit_ended) else {
            if buf.len() > self.limits.max_server_text {
                buf.clear();
                return Err(err(
                    Reason::TooLarge,
                    "DEC-13",
                    "a server text longer than the client accepts",
                ));
            }
            return Ok(None);
        };
        let unit = buf.split_to(end).freeze();
        let frame = match opcode {
            Some(OP_ACK) => Frame::Ack {
                filename: strip_trailer(&unit.slice(2..)),
            },
            Some(OP_ERROR) => Frame::Error {
                text: text_of(&unit.slice(2..)),
            },
            Some(other) => {
                let rule = match other {
                    OP_MSG => "LEG-7",
                    OP_LIST => "LEG-9",
                    _ => "LEG-13",
                };
                return Err(err(
                    Reason::BadOpcode,
                    rule,
                    format!(
                        "a server frame with opcode {other:#06x} (\"{}\"); the dialect forwards messages and LIST replies as bare text",
                        escape_bytes(&unit[..unit.len().min(48)])
                    ),
                ));
            }
            None if unit.starts_with(b"[") => {
                let text = text_of(&unit);
                let Some(close) = text.windows(3).position(|w| w == b"]: ") else {
                    return Err(err(
                        Reason::Malformed,
                        "LEG-7",
                        format!(
                            "\"{}\" starts with '[' but is not \"[FROM]: TEXT\"",
                            escape_bytes(&text[..text.len().min(48)])
                        ),
                    ));
                };
                let name = field_name(&text[1..close], "LEG-7")?;
                Frame::Msg {
                    name,
                    text: text.slice(close + 3..),
                }
            }
            None if unit.starts_with(&HEADER[..HEADER.len() - 1]) => Frame::ListReply {
                text: Bytes::copy_from_slice(until_nul(&unit)),
            },
            None => Frame::Error {
                text: text_of(&unit),
            },
        };
        Ok(Some(Decoded::Frame(frame)))
    }

    /// A forwarded FILE: P2P is one write; relay is a 2048-byte block whose header ends at
    /// the first `0x00` after the opcode (LEG-8).
    fn server_file(
        &mut self,
        buf: &mut BytesMut,
        unit_ended: bool,
    ) -> Result<Option<Decoded>, DecodeError> {
        let window = &buf[2..buf.len().min(READ_SIZE)];
        let header_end = match window.iter().position(|&b| b == 0) {
            Some(i) => 2 + i,
            None if buf.len() >= READ_SIZE => {
                buf.advance(READ_SIZE);
                return Err(err(
                    Reason::Malformed,
                    "LEG-8",
                    format!("a FILE header with no end (0x00) inside its {READ_SIZE}-byte block"),
                ));
            }
            None if unit_ended => buf.len(),
            None => return Ok(None),
        };
        // One trailing 0x00 (and any padding after it, up to the unit's end or the next
        // frame) belongs to this write.
        let write_end = if header_end < buf.len() {
            match unit_end(buf, header_end, unit_ended) {
                Some(end) => end,
                None => return Ok(None),
            }
        } else {
            header_end
        };
        let fields = strip_trailer(&buf[2..header_end]);
        let header = match parse_file_fields(&fields) {
            Ok(h) => h,
            Err(e) => {
                buf.advance(write_end);
                return Err(e);
            }
        };
        if header.is_relay() {
            // The block's length is known: with its header's 0x00 seen, wait for the rest
            // of it whatever the gaps (LEG-8: the receiver reads the block whole).
            if buf.len() < READ_SIZE {
                if !unit_ended || header_end < buf.len() {
                    return Ok(None);
                }
                let len = buf.len();
                buf.clear();
                return Err(err(
                    Reason::Malformed,
                    "LEG-8",
                    format!(
                        "a relay FILE header in a write of {len} bytes, not padded to its {READ_SIZE}-byte block"
                    ),
                ));
            }
            buf.advance(READ_SIZE);
            if header.size > 0 {
                self.state = State::Body {
                    remaining: header.size,
                };
            }
        } else {
            buf.advance(write_end);
        }
        Ok(Some(Decoded::Frame(Frame::File(header))))
    }
}

fn err(reason: Reason, rule: &'static str, detail: impl Into<String>) -> DecodeError {
    DecodeError {
        reason,
        detail: detail.into(),
        rule,
    }
}

/// Where the frame that starts at the front of `buf` ends: at the next `0x00` followed by an
/// opcode byte `0x01..=0x05` (searched from `from`), else at the end of the unit if it has
/// ended. `None`: wait for more bytes or for the gap.
fn unit_end(buf: &[u8], from: usize, unit_ended: bool) -> Option<usize> {
    let next = buf
        .get(from.min(buf.len())..)
        .and_then(|tail| {
            tail.windows(2)
                .position(|w| w[0] == 0 && (1..=5).contains(&w[1]))
        })
        .map(|i| from + i);
    match next {
        Some(i) if i > 0 => Some(i),
        _ if unit_ended => Some(buf.len()),
        _ => None,
    }
}

/// The field without the one trailing `0x00` or `\n` that LEG-2 tolerates.
fn strip_trailer(field: &[u8]) -> Bytes {
    let end = match field.last() {
        Some(0) | Some(b'\n') => field.len() - 1,
        _ => field.len(),
    };
    Bytes::copy_from_slice(&field[..end])
}

fn until_nul(unit: &[u8]) -> &[u8] {
    let end = unit.iter().position(|&b| b == 0).unwrap_or(unit.len());
    &unit[..end]
}

/// A bare text (forwarded message, error): up to its first `0x00` (padding some servers send
/// after it), without the one trailing `\n` that LEG-2 tolerates.
fn text_of(unit: &[u8]) -> Bytes {
    let text = until_nul(unit);
    let end = if text.last() == Some(&b'\n') {
        text.len() - 1
    } else {
        text.len()
    };
    Bytes::copy_from_slice(&text[..end])
}

/// A name field of 1 to 4 bytes (LEG-1, LEG-4).
fn field_name(field: &[u8], rule: &'static str) -> Result<Name, DecodeError> {
    Name::from_slice(field).ok_or_else(|| {
        err(
            Reason::Malformed,
            rule,
            format!(
                "name \"{}\" has {} bytes; a name has 1 to 4",
                escape_bytes(&field[..field.len().min(32)]),
                field.len()
            ),
        )
    })
}

fn decimal<T: std::str::FromStr>(field: &[u8], what: &str) -> Result<T, DecodeError> {
    std::str::from_utf8(field)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            err(
                Reason::Malformed,
                "LEG-5",
                format!(
                    "{what} \"{}\" is not a decimal number",
                    escape_bytes(&field[..field.len().min(32)])
                ),
            )
        })
}

/// `TO FILENAME SIZE` or `TO FILENAME SIZE PORT IP` (LEG-5).
fn parse_file_fields(rest: &Bytes) -> Result<FileHeader, DecodeError> {
    let fields: Vec<&[u8]> = rest.split(|&b| b == b' ').collect();
    if fields.len() != 3 && fields.len() != 5 {
        let why = if fields.len() < 3 {
            "too few fields"
        } else {
            "a wrong number of fields (a filename cannot contain a space)"
        };
        return Err(err(
            Reason::Malformed,
            "LEG-5",
            format!(
                "FILE header \"{}\" has {} field(s), {why}: TO FILENAME SIZE (relay) or TO FILENAME SIZE PORT IP (P2P)",
                escape_bytes(&rest[..rest.len().min(64)]),
                fields.len()
            ),
        ));
    }
    let name = field_name(fields[0], "LEG-5")?;
    let filename = fields[1];
    if filename.len() > MAX_FILENAME {
        return Err(err(
            Reason::Malformed,
            "FILE-6",
            format!(
                "filename of {} bytes is longer than {MAX_FILENAME}",
                filename.len()
            ),
        ));
    }
    check_filename(filename)?;
    let size: u64 = decimal(fields[2], "size")?;
    let (port, ip) = if fields.len() == 5 {
        let port: u32 = decimal(fields[3], "port")?;
        if port > 65_535 {
            return Err(err(
                Reason::Malformed,
                "FILE-4",
                format!("port {port} is above 65535"),
            ));
        }
        if fields[4].len() > MAX_IP {
            return Err(err(
                Reason::Malformed,
                "FILE-1",
                format!("ip of {} bytes is longer than {MAX_IP}", fields[4].len()),
            ));
        }
        (port, Bytes::copy_from_slice(fields[4]))
    } else {
        (0, Bytes::new())
    };
    Ok(FileHeader {
        name,
        filename: Bytes::copy_from_slice(filename),
        size,
        port,
        ip: if port == 0 { Bytes::new() } else { ip },
    })
}
