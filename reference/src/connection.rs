//! The read side of an MSRP TCP connection: socket, buffer and decoder together.
//!
//! The buffer is allocated only while bytes are waiting to be decoded, so an idle connection
//! holds no read buffer at all (10 000 idle clients cost sockets and tasks, not buffers).
//! A buffer grows by one read at a time, to exactly what it needs, and a [`BufferMeter`] is
//! told the bytes it holds, so a server can bound the sum over all its connections (DEC-20).
//! An optional frame-progress timeout closes a peer that stops inside a frame (DEC-21).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
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
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The peer began a frame or a relayed body and sent nothing more for this long
    /// (the frame-progress timeout, DEC-21).
    #[error("no byte for {0:?} inside a {1}")]
    Stalled(Duration, &'static str),
}

/// Told how many bytes a [`FrameReader`]'s buffer holds (its allocation, not its length),
/// whenever that changes.
pub trait BufferMeter: Send + Sync + std::fmt::Debug {
    /// The buffer now holds `new` bytes instead of `old`.
    fn resized(&self, old: usize, new: usize);
}

/// Reads decoded items from one TCP connection.
#[derive(Debug)]
pub struct FrameReader {
    socket: OwnedReadHalf,
    buf: BytesMut,
    decoder: Decoder,
    read_size: usize,
    /// Bytes allocated for `buf` as last reported to `meter`. Consumed bytes at the front of
    /// `buf` are still allocated, so this is tracked here rather than read from `buf`.
    allocated: usize,
    meter: Option<Arc<dyn BufferMeter>>,
    /// Longest wait for the next byte of a frame or body already begun (DEC-21).
    progress_timeout: Option<Duration>,
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
            allocated: 0,
            meter: None,
            progress_timeout: None,
            #[cfg(feature = "faults")]
            one_read_one_frame: false,
        }
    }

    /// Reports the bytes this reader's buffer holds to `meter` from now on (DEC-20). The
    /// meter is not told when the reader is dropped: its owner settles the account when the
    /// connection ends.
    pub fn with_meter(mut self, meter: Arc<dyn BufferMeter>) -> Self {
        meter.resized(0, self.allocated);
        self.meter = Some(meter);
        self
    }

    /// Fails [`FrameReader::next`] with [`ReadError::Stalled`] when the peer, inside a frame
    /// or a relayed body, sends nothing for `timeout`; `None` waits for ever. Only time spent
    /// waiting for this socket counts; a peer idle between frames is never timed out (DEC-21).
    pub fn with_progress_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.progress_timeout = timeout;
        self
    }

    /// Bytes allocated for the read buffer now.
    pub fn buffered_capacity(&self) -> usize {
        self.allocated
    }

    fn set_buffer(&mut self, buf: BytesMut) {
        self.buf = buf;
        let new = self.buf.capacity();
        if let Some(m) = &self.meter {
            m.resized(self.allocated, new);
        }
        self.allocated = new;
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
            if let Some(mut item) = self.decoder.decode(&mut self.buf)? {
                if let Decoded::Body { data, .. } = &mut item {
                    // A run split off the buffer keeps the whole allocation alive while it
                    // waits for its recipient, but is counted by its length: copy a run much
                    // smaller than the allocation, so what it pins stays within twice what
                    // is counted (DEC-20). Full reads, the bulk of a fast relay, are not copied.
                    if data.len() * 2 < self.allocated {
                        *data = Bytes::copy_from_slice(data);
                    }
                }
                if self.buf.is_empty() && self.allocated > 0 {
                    // Give the allocation back while idle (bodies handed out may still hold it).
                    self.set_buffer(BytesMut::new());
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
            let read = match self.progress_timeout {
                Some(limit) if !self.decoder.at_boundary(&self.buf) => {
                    match tokio::time::timeout(limit, self.read_more()).await {
                        Ok(read) => read?,
                        Err(_) => return Err(ReadError::Stalled(limit, self.inside())),
                    }
                }
                _ => self.read_more().await?,
            };
            if read == 0 {
                return if self.decoder.at_boundary(&self.buf) {
                    Ok(None)
                } else {
                    Err(ReadError::Truncated(self.inside()))
                };
            }
        }
    }

    fn inside(&self) -> &'static str {
        if self.decoder.body_remaining().is_some() {
            "relayed body"
        } else {
            "frame"
        }
    }

    /// Reads whatever the socket has (waiting for readiness first, so nothing is allocated
    /// while the peer is silent); returns the number of bytes read, 0 at end of stream.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        loop {
            self.socket.readable().await?;
            if self.buf.capacity() - self.buf.len() < self.read_size / 2 {
                // A fresh buffer of exactly the bytes kept plus one read: consumed bytes at
                // the front are not carried along, and the size never doubles past need.
                // Inside frames, never more than the longest frame could need.
                let mut size = self.buf.len() + self.read_size;
                if self.decoder.body_remaining().is_none() {
                    size = size.min(self.decoder.max_frame_len().max(self.buf.len() + MIN_READ));
                }
                if size > self.buf.capacity() {
                    let mut grown = BytesMut::with_capacity(size);
                    grown.extend_from_slice(&self.buf);
                    self.set_buffer(grown);
                }
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
        self.set_buffer(BytesMut::new());
    }

    /// Gives back the socket half (for a clean shutdown of both halves together).
    pub fn into_inner(self) -> OwnedReadHalf {
        self.socket
    }
}
