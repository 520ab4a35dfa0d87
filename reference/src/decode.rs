//! The sans-IO decoder: bytes in, [`Decoded`] items out, no sockets anywhere.
//!
//! Feed it any split of a byte stream (ENC-3); each call to [`Decoder::decode`] either
//! consumes one item from the front of the buffer, asks for more bytes (`Ok(None)`), or
//! reports a [`DecodeError`] that carries the ERROR reason token the server answers with.
//! Relayed file bodies are handed out as runs of bytes as they arrive, never buffered whole.

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::{
    FileHeader, Frame, Name, Reason, MAX_FILENAME, MAX_IP, OP_ACK, OP_ERROR, OP_FILE, OP_LIST,
    OP_MSG,
};
use crate::text::escape_bytes;

/// Which side of the connection produced the bytes being decoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    /// Bytes a client sends: starts with the 4-byte login, LIST is a bare opcode.
    ClientToServer,
    /// Bytes a server sends: LIST carries the client list text.
    ServerToClient,
}

/// Size limits the decoder enforces, so that no declared or unterminated length can make a
/// receiver buffer without bound (ROB-3).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest MSG text (and client ERROR text) before its terminator (LIM-1, DEC-5).
    pub max_text: usize,
    /// Longest LIST reply or server ERROR text a client accepts (DEC-13).
    pub max_server_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_text: 65_535,
            max_server_text: 16 << 20,
        }
    }
}

/// The next run of a relayed body of which `remaining` bytes are still to come: whatever
/// `buf` holds of it, split off without copying (DEC-10: any segmentation), and the bytes
/// still to come after it. `None` when `buf` is empty. Both profiles frame bodies this way (FILE-2, LEG-5).
pub(crate) fn body_run(buf: &mut BytesMut, remaining: u64) -> Option<(Bytes, u64)> {
    if buf.is_empty() {
        return None;
    }
    let n = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
    Some((buf.split_to(n).freeze(), remaining - n as u64))
}

/// One unit of decoded input.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Decoded {
    /// The 4 login bytes a client sends first (NAME-1), not yet validated.
    Login(Name),
    /// A complete frame. A relay-mode FILE header is followed by its body as [`Decoded::Body`].
    Frame(Frame),
    /// A run of relayed body bytes; `remaining` is how many body bytes are still to come.
    Body {
        /// Body bytes, in whatever segmentation they arrived (DEC-10).
        data: Bytes,
        /// Body bytes still to come after `data`; 0 on the last run of the body.
        remaining: u64,
    },
}

/// Why a byte stream cannot be decoded any further. The stream is unrecoverable after it.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{reason}: {detail} ({rule})")]
pub struct DecodeError {
    /// The ERROR reason token a server answers with.
    pub reason: Reason,
    /// What was wrong, for humans.
    pub detail: String,
    /// The ID of the rule the input broke, or of the decision (`DEC-n`) that sets the limit
    /// where the profile gives none.
    pub rule: &'static str,
}

impl DecodeError {
    fn new(reason: Reason, rule: &'static str, detail: impl Into<String>) -> Self {
        DecodeError {
            reason,
            detail: detail.into(),
            rule,
        }
    }
}

/// Where a decoder is in its stream (both profiles): before the login, between frames, or
/// inside a relayed body with `remaining` bytes to come.
#[derive(Clone, Copy, Debug)]
pub(crate) enum State {
    Login,
    Frames,
    Body { remaining: u64 },
}

/// Incremental decoder for one direction of one connection.
#[derive(Clone, Debug)]
pub struct Decoder {
    direction: Direction,
    limits: Limits,
    state: State,
    /// `(field start, offset)`: the string field starting at `field start` has no `0x00`
    /// before `offset`. Saves rescanning a long unterminated string on every read.
    scanned: (usize, usize),
}

impl Decoder {
    /// A decoder for what a server reads from a client: login first, then frames.
    pub fn client_to_server(limits: Limits) -> Self {
        Decoder::new(Direction::ClientToServer, limits, State::Login)
    }

    /// A decoder for what a client reads from a server.
    pub fn server_to_client(limits: Limits) -> Self {
        Decoder::new(Direction::ServerToClient, limits, State::Frames)
    }

    /// A decoder of client frames that does not expect the login bytes (they were consumed
    /// elsewhere, or a test feeds frames only).
    pub fn client_frames(limits: Limits) -> Self {
        Decoder::new(Direction::ClientToServer, limits, State::Frames)
    }

    fn new(direction: Direction, limits: Limits, state: State) -> Self {
        Decoder {
            direction,
            limits,
            state,
            scanned: (0, 0),
        }
    }

    /// The direction this decoder reads.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Body bytes still expected after the last FILE header, if inside a relayed body.
    pub fn body_remaining(&self) -> Option<u64> {
        match self.state {
            State::Body { remaining } => Some(remaining),
            _ => None,
        }
    }

    /// Longest frame this decoder accepts, in bytes: what a buffer holding one partial
    /// frame can ever need.
    pub fn max_frame_len(&self) -> usize {
        // opcode + name + filename and its 0x00 + size + port + ip and its 0x00.
        let file = 2 + 4 + (MAX_FILENAME + 1) + 12 + (MAX_IP + 1);
        let text = match self.direction {
            Direction::ClientToServer => self.limits.max_text,
            Direction::ServerToClient => self.limits.max_server_text,
        };
        // MSG is the longest text frame: opcode + name + text + 0x00.
        file.max(2 + 4 + text.saturating_add(1))
    }

    /// Forgets a relayed body in progress and parses what follows as frames: what a server
    /// that does not discard bodies does (fault injection only).
    #[cfg(feature = "faults")]
    pub fn abandon_body(&mut self) {
        self.state = State::Frames;
    }

    /// True when the decoder is between items with nothing partial to finish: a stream that
    /// ends here ended cleanly.
    pub fn at_boundary(&self, buf: &[u8]) -> bool {
        buf.is_empty() && matches!(self.state, State::Frames | State::Login)
    }

    /// Decodes the next item from the front of `buf`, consuming exactly its bytes.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, DecodeError> {
        match self.state {
            State::Login => {
                if buf.len() < 4 {
                    return Ok(None);
                }
                let name = Name::from_array([buf[0], buf[1], buf[2], buf[3]]);
                buf.advance(4);
                self.state = State::Frames;
                Ok(Some(Decoded::Login(name)))
            }
            State::Body { remaining } => {
                let Some((data, remaining)) = body_run(buf, remaining) else {
                    return Ok(None);
                };
                self.state = match remaining {
                    0 => State::Frames,
                    _ => State::Body { remaining },
                };
                Ok(Some(Decoded::Body { data, remaining }))
            }
            State::Frames => {
                let Some((frame, len)) = self.parse_frame(buf)? else {
                    return Ok(None);
                };
                buf.advance(len);
                self.scanned = (0, 0);
                if let Frame::File(h) = &frame {
                    if h.is_relay() && h.size > 0 {
                        self.state = State::Body { remaining: h.size };
                    }
                }
                Ok(Some(Decoded::Frame(frame)))
            }
        }
    }

    /// Parses a frame at the start of `buf` without consuming; returns it and its length.
    /// `Ok(None)` (here and in the per-opcode parsers) means the frame is not complete yet.
    fn parse_frame(&mut self, buf: &[u8]) -> Result<Option<(Frame, usize)>, DecodeError> {
        if buf.len() < 2 {
            return Ok(None);
        }
        let opcode = u16::from_be_bytes([buf[0], buf[1]]);
        let mut cur = Cursor { pos: 2 };
        let frame = match opcode {
            OP_MSG => self.parse_msg(buf, &mut cur)?,
            OP_FILE => self.parse_file(buf, &mut cur)?,
            OP_LIST => self.parse_list(buf, &mut cur)?,
            OP_ACK => self.parse_ack(buf, &mut cur)?,
            OP_ERROR => self.parse_error(buf, &mut cur)?,
            other => {
                return Err(DecodeError::new(
                    Reason::BadOpcode,
                    "ERR-2",
                    format!("opcode {other:#06x} is not one of 1..=5"),
                ))
            }
        };
        Ok(frame.map(|frame| (frame, cur.pos)))
    }

    /// MSG: `NAME[4] TEXT 0x00` (MSG-1, MSG-2).
    fn parse_msg(&mut self, buf: &[u8], cur: &mut Cursor) -> Result<Option<Frame>, DecodeError> {
        let Some(name) = cur.name(buf) else {
            return Ok(None);
        };
        let max = self.limits.max_text;
        let Some(text) = self.cstring(buf, cur, max, too_large("MSG text"))? else {
            return Ok(None);
        };
        Ok(Some(Frame::Msg { name, text }))
    }

    /// FILE: `NAME[4] FILENAME 0x00 SIZE[8] PORT[4] IP 0x00` (FILE-1).
    fn parse_file(&mut self, buf: &[u8], cur: &mut Cursor) -> Result<Option<Frame>, DecodeError> {
        let Some(name) = cur.name(buf) else {
            return Ok(None);
        };
        let long_name = |n| {
            DecodeError::new(
                Reason::Malformed,
                "FILE-6",
                format!("filename has no terminator within {n} bytes (max {MAX_FILENAME})"),
            )
        };
        let Some(filename) = self.cstring(buf, cur, MAX_FILENAME, long_name)? else {
            return Ok(None);
        };
        check_filename(&filename)?;
        let Some(fixed) = cur.take(buf, 12) else {
            return Ok(None);
        };
        let size = u64::from_be_bytes(fixed[..8].try_into().expect("8 bytes"));
        let port = u32::from_be_bytes(fixed[8..].try_into().expect("4 bytes"));
        if port > 65_535 {
            return Err(DecodeError::new(
                Reason::Malformed,
                "FILE-4",
                format!("port {port} is above 65535"),
            ));
        }
        let long_ip = |n| {
            DecodeError::new(
                Reason::Malformed,
                "FILE-1",
                format!("ip has no terminator within {n} bytes (max {MAX_IP})"),
            )
        };
        let Some(ip) = self.cstring(buf, cur, MAX_IP, long_ip)? else {
            return Ok(None);
        };
        Ok(Some(Frame::File(FileHeader {
            name,
            filename,
            size,
            port,
            ip,
        })))
    }

    /// LIST: the opcode alone from a client, `TEXT 0x00` from a server (LIST-1, LIST-2).
    fn parse_list(&mut self, buf: &[u8], cur: &mut Cursor) -> Result<Option<Frame>, DecodeError> {
        match self.direction {
            Direction::ClientToServer => Ok(Some(Frame::ListRequest)),
            Direction::ServerToClient => {
                let max = self.limits.max_server_text;
                let text = self.cstring(buf, cur, max, too_large("LIST text"))?;
                Ok(text.map(|text| Frame::ListReply { text }))
            }
        }
    }

    /// ACK: `FILENAME 0x00` (ACK-1).
    fn parse_ack(&mut self, buf: &[u8], cur: &mut Cursor) -> Result<Option<Frame>, DecodeError> {
        // The profile gives ACK filenames no limit; 255 bytes (FILE-6's) is DEC-4.
        let long = |n| {
            DecodeError::new(
                Reason::Malformed,
                "DEC-4",
                format!("ACK filename has no terminator within {n} bytes (max {MAX_FILENAME})"),
            )
        };
        let filename = self.cstring(buf, cur, MAX_FILENAME, long)?;
        Ok(filename.map(|filename| Frame::Ack { filename }))
    }

    /// ERROR: `TEXT 0x00`, bounded by the direction's text limit (ERR-1).
    fn parse_error(&mut self, buf: &[u8], cur: &mut Cursor) -> Result<Option<Frame>, DecodeError> {
        let max = match self.direction {
            Direction::ClientToServer => self.limits.max_text,
            Direction::ServerToClient => self.limits.max_server_text,
        };
        // Bounding a client's ERROR text by the MSG limit is DEC-5, not LIM-1.
        let rule = match self.direction {
            Direction::ClientToServer => "DEC-5",
            Direction::ServerToClient => "DEC-13",
        };
        let too_long = |max| DecodeError {
            rule,
            ..too_large("ERROR text")(max)
        };
        let text = self.cstring(buf, cur, max, too_long)?;
        Ok(text.map(|text| Frame::Error { text }))
    }

    /// Reads a `0x00`-terminated string of at most `max` bytes at the cursor.
    fn cstring(
        &mut self,
        buf: &[u8],
        cur: &mut Cursor,
        max: usize,
        too_long: impl FnOnce(usize) -> DecodeError,
    ) -> Result<Option<Bytes>, DecodeError> {
        let start = cur.pos;
        let window_end = buf.len().min(start.saturating_add(max).saturating_add(1));
        let from = match self.scanned {
            (field, offset) if field == start => offset.min(window_end),
            _ => start,
        };
        match buf[from..window_end].iter().position(|&b| b == 0) {
            Some(i) => {
                let end = from + i;
                cur.pos = end + 1;
                Ok(Some(Bytes::copy_from_slice(&buf[start..end])))
            }
            None if window_end - start > max => Err(too_long(max)),
            None => {
                self.scanned = (start, window_end);
                Ok(None)
            }
        }
    }
}

fn too_large(what: &'static str) -> impl FnOnce(usize) -> DecodeError {
    move |max| {
        DecodeError::new(
            Reason::TooLarge,
            "LIM-1",
            format!("{what} has no terminator within {max} bytes"),
        )
    }
}

/// FILE-6: 1..=255 bytes (length is checked while scanning), no `/` or `\`, not `.` or `..`.
pub fn check_filename(name: &[u8]) -> Result<(), DecodeError> {
    let bad = |why: &str| {
        Err(DecodeError::new(
            Reason::Malformed,
            "FILE-6",
            format!("filename \"{}\" {why}", escape_bytes(name)),
        ))
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.contains(&b'/') || name.contains(&b'\\') {
        return bad("contains a path separator");
    }
    if name == b"." || name == b".." {
        return bad("is a relative directory name");
    }
    Ok(())
}

struct Cursor {
    pos: usize,
}

impl Cursor {
    fn take<'a>(&mut self, buf: &'a [u8], n: usize) -> Option<&'a [u8]> {
        let out = buf.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(out)
    }

    fn name(&mut self, buf: &[u8]) -> Option<Name> {
        self.take(buf, 4)
            .map(|b| Name::from_array(b.try_into().expect("4 bytes")))
    }
}
