//! The sending half of a client: frames encoded in its profile, relayed bodies that hold the
//! connection until complete (ORD-2), and P2P offers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use super::{ClientError, FRAGMENT, LEGACY_WRITE_GAP};
use crate::frame::{FileHeader, Frame, Name};
use crate::profile::{legacy as legacy_codec, Profile};

/// The sending half of a client.
#[derive(Debug, Clone)]
pub struct ClientSender {
    pub(super) writer: Arc<Mutex<OwnedWriteHalf>>,
    pub(super) name: Name,
    pub(super) local_ip: IpAddr,
    pub(super) server: SocketAddr,
    pub(super) profile: Profile,
}

impl ClientSender {
    /// The profile this client speaks.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The bytes of one write for `frame` in this client's profile.
    fn encode(&self, frame: &Frame) -> Result<Bytes, ClientError> {
        match self.profile {
            Profile::Strict => {
                frame
                    .validate()
                    .map_err(|e| ClientError::Invalid(e.into()))?;
                Ok(frame.to_bytes())
            }
            Profile::Legacy => {
                legacy_codec::encode_client(frame).map_err(|e| ClientError::Invalid(e.to_string()))
            }
        }
    }

    /// Writes one frame's bytes. In the legacy profile the lock is kept for the write gap,
    /// so the server reads this frame alone (LEG-2).
    async fn write_frame(&self, bytes: &[u8]) -> Result<(), ClientError> {
        let mut wr = self.writer.lock().await;
        wr.write_all(bytes).await?;
        self.pace().await;
        Ok(())
    }

    /// The pause after a frame's write: [`LEGACY_WRITE_GAP`] in the legacy profile, none in
    /// the strict one (the stream is reassembled, ENC-3).
    async fn pace(&self) {
        if self.profile == Profile::Legacy {
            tokio::time::sleep(LEGACY_WRITE_GAP).await;
        }
    }

    /// This client's name.
    pub fn name(&self) -> Name {
        self.name
    }

    /// The server's address.
    pub fn server_addr(&self) -> SocketAddr {
        self.server
    }

    /// Sends any frame as is (after checking it can be encoded faithfully).
    pub async fn send_frame(&self, frame: &Frame) -> Result<(), ClientError> {
        let bytes = self.encode(frame)?;
        self.write_frame(&bytes).await
    }

    /// Sends several frames in one write (a sender with a backlog saves system calls). In the
    /// legacy profile they are written one per write instead (LEG-2).
    pub async fn send_frames(&self, frames: &[Frame]) -> Result<(), ClientError> {
        if self.profile == Profile::Legacy {
            let encoded = frames
                .iter()
                .map(|f| self.encode(f))
                .collect::<Result<Vec<_>, _>>()?;
            for bytes in encoded {
                self.write_frame(&bytes).await?;
            }
            return Ok(());
        }
        let mut buf = BytesMut::with_capacity(frames.iter().map(Frame::encoded_len).sum());
        for frame in frames {
            frame
                .validate()
                .map_err(|e| ClientError::Invalid(e.into()))?;
            frame.encode(&mut buf);
        }
        self.writer.lock().await.write_all(&buf).await?;
        Ok(())
    }

    /// Sends a text message (MSG-1).
    pub async fn send_text(&self, to: Name, text: impl Into<Bytes>) -> Result<(), ClientError> {
        let text = text.into();
        // The legacy encoder names its own rule (LEG-2) for the texts it cannot carry.
        if self.profile == Profile::Strict && text.contains(&0) {
            return Err(ClientError::Invalid(
                "a text cannot contain a 0x00 byte (ENC-2)".into(),
            ));
        }
        self.send_frame(&Frame::Msg { name: to, text }).await
    }

    /// Asks for the client list (LIST-1); the answer arrives as
    /// [`Event::List`](super::Event::List).
    pub async fn list(&self) -> Result<(), ClientError> {
        self.send_frame(&Frame::ListRequest).await
    }

    /// Acknowledges a received file (ACK-1); send it only once all bytes arrived (ACK-4).
    pub async fn ack(&self, filename: impl Into<Bytes>) -> Result<(), ClientError> {
        self.send_frame(&Frame::Ack {
            filename: filename.into(),
        })
        .await
    }

    /// Sends a file through the server (FILE-2): the header, then exactly `size` bytes read
    /// from `body`, in fragments of at most 2048 bytes. `progress` is told the bytes sent so far.
    /// The connection carries nothing else until the body is complete (ORD-2).
    pub async fn send_file_relay(
        &self,
        to: Name,
        filename: &[u8],
        size: u64,
        mut body: impl AsyncRead + Unpin,
        mut progress: impl FnMut(u64),
    ) -> Result<(), ClientError> {
        let header = self.encode(&file_frame(to, filename, size, 0, Bytes::new())?)?;
        let mut wr = self.writer.lock().await;
        wr.write_all(&header).await?;
        // Legacy: the header is a write of its own, the body starts in a later read (LEG-5).
        self.pace().await;
        let mut buf = vec![0u8; FRAGMENT];
        let mut sent = 0u64;
        while sent < size {
            let want = (size - sent).min(FRAGMENT as u64) as usize;
            let n = body.read(&mut buf[..want]).await?;
            if n == 0 {
                // The header promised `size` bytes: the stream is now unusable, so close it.
                let _ = wr.shutdown().await;
                return Err(ClientError::Invalid(format!(
                    "the file ended after {sent} of {size} bytes; connection closed"
                )));
            }
            wr.write_all(&buf[..n]).await?;
            sent += n as u64;
            progress(sent);
        }
        if size > 0 {
            // Legacy: the next frame must not join the body's last read.
            self.pace().await;
        }
        Ok(())
    }

    /// Offers a file by P2P (FILE-4): listens on a fresh port, sends the header, and returns
    /// the listener; hand it to [`serve_p2p`](super::serve_p2p) with the body.
    pub async fn offer_p2p(
        &self,
        to: Name,
        filename: &[u8],
        size: u64,
    ) -> Result<TcpListener, ClientError> {
        let listener = TcpListener::bind(SocketAddr::new(self.local_ip, 0)).await?;
        let port = listener.local_addr()?.port();
        let ip = Bytes::from(self.local_ip.to_string());
        let header = file_frame(to, filename, size, u32::from(port), ip)?;
        self.send_frame(&header).await?;
        Ok(listener)
    }

    /// Half-closes the connection (the server then closes its side).
    pub async fn close(&self) -> Result<(), ClientError> {
        self.writer.lock().await.shutdown().await?;
        Ok(())
    }
}

fn file_frame(
    to: Name,
    filename: &[u8],
    size: u64,
    port: u32,
    ip: Bytes,
) -> Result<Frame, ClientError> {
    crate::decode::check_filename(filename).map_err(|e| ClientError::Invalid(e.to_string()))?;
    if filename.len() > crate::frame::MAX_FILENAME {
        return Err(ClientError::Invalid(
            "a filename is at most 255 bytes (FILE-6)".into(),
        ));
    }
    Ok(Frame::File(FileHeader {
        name: to,
        filename: Bytes::copy_from_slice(filename),
        size,
        port,
        ip,
    }))
}
