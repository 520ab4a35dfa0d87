//! The client's read side in the legacy profile (`legacy-profile.md`).
//!
//! The dialect has no framing: a server writes one frame per write (LEG-12) and a receiver
//! takes the bytes that arrive together as one frame. This reader ends a unit at a short quiet
//! gap (bytes followed by [`READ_GAP`] of silence), which survives a write that TCP delivers
//! in several reads; the [`LegacyDecoder`] still splits units where the bytes themselves show
//! a new frame (LEG-3), reads a relayed FILE's 2048-byte block whole whatever the gaps, and
//! then its body (LEG-8).

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::tcp::OwnedReadHalf;

use crate::connection::ReadError;
use crate::decode::{DecodeError, Decoded, Limits};
use crate::profile::legacy::LegacyDecoder;

/// The quiet gap that ends a unit the server wrote. Servers of the dialect write one frame
/// per write (the reference spaces its writes by 100 ms); bytes of one write reach a reader
/// within microseconds on a LAN, so 40 ms of silence means the write is complete.
pub const READ_GAP: Duration = Duration::from_millis(40);

/// The least time between two writes of a client in the legacy profile: the server takes one
/// read for one frame (LEG-2), so two frames written back to back could reach it in one read
/// and the second be lost. As long as the reference server's own gap (LEG-12).
pub const WRITE_GAP: Duration = Duration::from_millis(100);

/// Largest read.
const READ_CHUNK: usize = 64 * 1024;

/// Reads decoded items of the legacy dialect from one connection.
#[derive(Debug)]
pub(crate) struct LegacyReader {
    socket: OwnedReadHalf,
    buf: BytesMut,
    decoder: LegacyDecoder,
    /// The bytes in `buf` are a whole unit (a quiet gap or the end of the stream followed).
    unit_ended: bool,
    eof: bool,
}

impl LegacyReader {
    pub(crate) fn new(socket: OwnedReadHalf) -> Self {
        LegacyReader {
            socket,
            buf: BytesMut::new(),
            decoder: LegacyDecoder::server_to_client(Limits::default()),
            unit_ended: false,
            eof: false,
        }
    }

    /// Next item. `Ok(Some(Err(e)))` is a frame the dialect does not allow: its bytes are
    /// consumed and, one write being one frame, the next frame can still be read (LEG-13).
    /// `Ok(None)` when the server closed cleanly between frames. Cancel-safe: the state
    /// lives in `self`, and a cancelled wait only restarts the gap.
    pub(crate) async fn next(&mut self) -> Result<Option<Result<Decoded, DecodeError>>, ReadError> {
        loop {
            match self.decoder.decode(&mut self.buf, self.unit_ended) {
                Ok(Some(item)) => return Ok(Some(Ok(item))),
                Ok(None) => {}
                Err(e) => return Ok(Some(Err(e))),
            }
            if self.buf.is_empty() {
                self.unit_ended = false;
                if self.buf.capacity() > 0 {
                    // An idle connection holds no read buffer.
                    self.buf = BytesMut::new();
                }
            } else if self.unit_ended && !self.eof {
                // A unit the decoder waits on (a relay block or body in progress): its bytes
                // continue whatever the gaps.
                self.unit_ended = false;
            }
            if self.eof {
                return if self.decoder.at_boundary(&self.buf) {
                    Ok(None)
                } else if self.decoder.body_remaining().is_some() {
                    Err(ReadError::Truncated("relayed body"))
                } else if !self.unit_ended {
                    // The last bytes before the close are a whole unit.
                    self.unit_ended = true;
                    continue;
                } else {
                    Err(ReadError::Truncated("frame"))
                };
            }
            let waiting = !self.buf.is_empty() && self.decoder.body_remaining().is_none();
            let read = self.read_more();
            let n = if waiting {
                match tokio::time::timeout(READ_GAP, read).await {
                    Ok(r) => r?,
                    Err(_) => {
                        self.unit_ended = true;
                        continue;
                    }
                }
            } else {
                read.await?
            };
            if n == 0 {
                self.eof = true;
            }
        }
    }

    /// Reads whatever the socket has; 0 at end of stream. Cancel-safe.
    async fn read_more(&mut self) -> io::Result<usize> {
        loop {
            self.socket.readable().await?;
            self.buf.reserve(READ_CHUNK.min(16 * 1024));
            match self.socket.try_read_buf(&mut self.buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}
