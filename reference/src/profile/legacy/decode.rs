//! The legacy dialect's incremental decoder: a name write, then frames whose end the caller
//! marks (a unit) or the bytes themselves show, then a relayed FILE's body.

use bytes::{Buf, Bytes, BytesMut};

use super::fields::{
    err, field_name, parse_file_fields, strip_trailer, text_of, unit_end, until_nul,
};
use super::READ_SIZE;
use crate::decode::{DecodeError, Decoded, Direction, Limits, State};
use crate::frame::{Frame, Name, Reason, MAX_FILENAME, OP_ACK, OP_ERROR, OP_FILE, OP_LIST, OP_MSG};
use crate::list::HEADER;
use crate::text::escape_bytes;

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
                let Some((data, remaining)) = crate::decode::body_run(buf, remaining) else {
                    return Ok(None);
                };
                self.state = match remaining {
                    0 => State::Frames,
                    _ => State::Body { remaining },
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

    /// One client write: the unit's bounds and size (LEG-2), then the frame its opcode names.
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
        let frame = self.client_fields(opcode, unit.slice(2..))?;
        if let Frame::File(h) = &frame {
            if h.is_relay() && h.size > 0 {
                self.state = State::Body { remaining: h.size };
            }
        }
        Ok(Some(Decoded::Frame(frame)))
    }

    /// The frame a client write with `opcode` carries in `rest`, the bytes after the opcode.
    fn client_fields(&self, opcode: u16, rest: Bytes) -> Result<Frame, DecodeError> {
        match opcode {
            OP_MSG => self.client_msg(rest),
            OP_FILE => Ok(Frame::File(parse_file_fields(&rest)?)),
            OP_LIST if rest.is_empty() => Ok(Frame::ListRequest),
            OP_LIST => Err(err(
                Reason::Malformed,
                "LEG-6",
                format!(
                    "LIST is the opcode alone; {} more bytes followed it",
                    rest.len()
                ),
            )),
            // The same limit and close as the strict profile's ACK (DEC-4).
            OP_ACK if rest.len() > MAX_FILENAME => Err(err(
                Reason::Malformed,
                "DEC-4",
                format!(
                    "ACK filename of {} bytes is longer than {MAX_FILENAME}",
                    rest.len()
                ),
            )),
            OP_ACK => Ok(Frame::Ack { filename: rest }),
            // The dialect has none (LEG-6); read and dropped like ERR-3 says.
            OP_ERROR => Ok(Frame::Error { text: rest }),
            other => Err(err(
                Reason::BadOpcode,
                "LEG-13",
                format!("opcode {other:#06x} is not one of 1..=5"),
            )),
        }
    }

    /// A client MSG: `TO TEXT`, split at the first space (LEG-4).
    fn client_msg(&self, rest: Bytes) -> Result<Frame, DecodeError> {
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
        Ok(Frame::Msg { name, text })
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
