//! The read side of an MSRP TCP connection: socket, buffer and decoder together.
//!
//! The buffer is allocated only while bytes are waiting to be decoded, so an idle connection
//! holds no read buffer at all (10 000 idle clients cost sockets and tasks, not buffers).

use std::io;

use bytes::BytesMut;
use tokio::net::tcp::OwnedReadHalf;

use crate::decode::{DecodeError, Decoded, Decoder};

/// Smallest and largest read size: reads start small (most frames are small) and double
/// while they fill the buffer, so bodies stream in large reads.
const MIN_READ: usize = 4 * 1024;
const MAX_READ: usize = 64 * 1024;

/// Why reading a connection stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The peer broke a rule of the profile; the stream cannot be decoded any further.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The peer closed in the middle of a frame or a body.
    #[error("connection closed inside a {0}")]
    Truncated(&'static str),
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

/// Reads decoded items from one TCP connection.
#[derive(Debug)]
pub struct FrameReader {
    socket: OwnedReadHalf,
    buf: BytesMut,
    decoder: Decoder,
    read_size: usize,
    /// Fault injection: drop bytes that do not decode after one read, like a server that
    /// takes one `recv()` for one frame (ENC-3 broken).
    #[cfg(feature = "faults")]
    pub one_read_one_frame: bool,
}

impl FrameReader {
    /// Wraps the read half of a socket with a decoder for the peer's direction.
    pub fn new(socket: OwnedReadHalf, decoder: Decoder) -> Self {
        FrameReader {
            socket,
            buf: BytesMut::new(),
            decoder,
            read_size: MIN_READ,
            #[cfg(feature = "faults")]
            one_read_one_frame: false,
        }
    }

    /// The decoder (to ask whether a body is in progress).
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The decoder, for fault injection.
    #[cfg(feature = "faults")]
    pub fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }

    /// Next item; `Ok(None)` when the peer closed cleanly between frames.
    pub async fn next(&mut self) -> Result<Option<Decoded>, ReadError> {
        loop {
            if let Some(item) = self.decoder.decode(&mut self.buf)? {
                if self.buf.is_empty() {
                    // Give the allocation back while idle (bodies handed out may still hold it).
                    self.buf = BytesMut::new();
                }
                return Ok(Some(item));
            }
            #[cfg(feature = "faults")]
            if self.one_read_one_frame
                && !self.buf.is_empty()
                && self.decoder.body_remaining().is_none()
            {
                self.buf.clear();
            }
            if self.read_more().await? == 0 {
                return if self.decoder.at_boundary(&self.buf) {
                    Ok(None)
                } else if self.decoder.body_remaining().is_some() {
                    Err(ReadError::Truncated("relayed body"))
                } else {
                    Err(ReadError::Truncated("frame"))
                };
            }
        }
    }

    /// Reads whatever the socket has (waiting for readiness first, so nothing is allocated
    /// while the peer is silent); returns the number of bytes read, 0 at end of stream.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        loop {
            self.socket.readable().await?;
            if self.buf.capacity() - self.buf.len() < self.read_size / 2 {
                self.buf.reserve(self.read_size);
            }
            let room = self.buf.capacity() - self.buf.len();
            match self.socket.try_read_buf(&mut self.buf) {
                Ok(n) => {
                    self.read_size = if n == room {
                        (self.read_size * 2).min(MAX_READ)
                    } else if n < self.read_size / 4 {
                        (self.read_size / 2).max(MIN_READ)
                    } else {
                        self.read_size
                    };
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads and drops everything until the peer closes or `limit` passes; used for the
    /// lingering close after an ERROR (ERR-5).
    pub async fn discard_until_closed(&mut self, limit: std::time::Duration) {
        let drain = async {
            loop {
                self.buf.clear();
                match self.read_more().await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        let _ = tokio::time::timeout(limit, drain).await;
        self.buf = BytesMut::new();
    }

    /// Gives back the socket half (for a clean shutdown of both halves together).
    pub fn into_inner(self) -> OwnedReadHalf {
        self.socket
    }
}
