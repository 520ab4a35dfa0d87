//! The reference client library: connect with a name, send text and files (relay or P2P),
//! ask for the list, acknowledge files, and read what the server sends as [`Event`]s.
//!
//! A [`Client`] splits into a [`ClientSender`] (cheap to clone, safe to use from several
//! tasks: a relayed body holds the connection for itself until it is complete, ORD-2) and
//! [`ClientEvents`] (the read side). Reading must go on while sending — a server relays to a
//! client that does not read only until its buffers fill.

mod download;
mod legacy;
pub mod terminal;

pub use download::{sanitize_filename, Download, DownloadDir, DownloadError, SavedFile};
pub use legacy::{READ_GAP as LEGACY_READ_GAP, WRITE_GAP as LEGACY_WRITE_GAP};

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use crate::connection::{FrameReader, ReadError};
use crate::decode::{Decoded, Decoder, Limits};
use crate::frame::{FileHeader, Frame, Name, Reason};
use crate::profile::{legacy as legacy_codec, Profile};
use legacy::LegacyReader;

/// Size of the fragments a sender writes a body in (FILE-2).
pub const FRAGMENT: usize = 2048;

/// Errors of the client library.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection to the server could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The server address as given (`host:port`).
        addr: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// The TCP connection to the server (address given) was not established within the connect
    /// timeout.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(String),
    /// The connection to the server failed after it was established.
    #[error("connection to the server lost: {0}")]
    Io(#[from] io::Error),
    /// A request this client refuses to send, or a login name invalid in the profile; the text says
    /// why.
    #[error("{0}")]
    Invalid(String),
    /// A P2P transfer (FILE-4) failed: nobody connected, a timeout, a short body or a port above
    /// 65 535; the text says which.
    #[error("P2P transfer: {0}")]
    P2p(String),
    /// Connecting to the peer of a P2P offer failed; `source` says whether it was the peer
    /// or this host (out of descriptors or ports, say).
    #[error("P2P transfer: cannot connect to {addr}: {source}")]
    P2pConnect {
        /// The peer's address from the offer (`ip:port`).
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
}

impl ClientError {
    /// The operating-system error behind this one, if there is one: callers use it to tell
    /// their own resource limits (`EMFILE`, `EADDRNOTAVAIL`…) from the peer's failures.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            ClientError::Connect { source, .. } | ClientError::P2pConnect { source, .. } => {
                Some(source)
            }
            ClientError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Something the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A text message and who wrote it (MSG-2).
    Message {
        /// The sender's login name, as the server wrote it (MSG-2).
        from: Name,
        /// The message bytes, terminator excluded, unvalidated (ENC-2).
        text: Bytes,
    },
    /// The client list text (LIST-2).
    List {
        /// The whole reply text: `Lista de clientes:\n` and one `Cliente i: NAME\n` line per
        /// client.
        text: Bytes,
    },
    /// A relayed file starts; its body follows as [`Event::FileData`] (FILE-3).
    FileStart(FileHeader),
    /// A run of the relayed body; `remaining` bytes are still to come.
    FileData {
        /// Body bytes, in whatever segmentation they arrived (DEC-10).
        data: Bytes,
        /// Body bytes still to come after `data`; 0 on the last run.
        remaining: u64,
    },
    /// A P2P offer: fetch it with [`fetch_p2p`] (FILE-4).
    FileOffer(FileHeader),
    /// A recipient acknowledged a file this client sent (ACK-1).
    Ack {
        /// The filename the recipient acknowledged, terminator excluded.
        filename: Bytes,
    },
    /// An ERROR; `reason` is `None` when the text does not start with a known token.
    Error {
        /// The reason token the text starts with (ERR-1), if it is one of the profile's.
        reason: Option<Reason>,
        /// The whole ERROR text, `reason: detail` from a strict server.
        text: Bytes,
    },
    /// The server sent something its profile does not allow, and the connection goes on
    /// (legacy profile only: one write is one frame there, so the next frame is still found).
    Invalid {
        /// What was wrong with the frame, for the person.
        detail: String,
    },
    /// The connection ended; `error` says why when it was not a clean close.
    Closed {
        /// Why the connection ended; `None` for a clean close by the server.
        error: Option<String>,
    },
}

/// A connected, logged-in client.
#[derive(Debug)]
pub struct Client {
    sender: ClientSender,
    events: ClientEvents,
}

impl Client {
    /// Connects and sends the 4-byte name (NAME-1). The server answers a good login with
    /// nothing (NAME-2), so a refusal arrives later as an [`Event::Error`].
    pub async fn connect(addr: &str, name: Name, timeout: Duration) -> Result<Client, ClientError> {
        Client::connect_with(addr, name, timeout, Profile::Strict).await
    }

    /// Connects and logs in speaking `profile`. In the legacy profile the name (1 to 4
    /// bytes) is the first write, alone (LEG-1), and every later frame is one write, spaced
    /// from the next by [`LEGACY_WRITE_GAP`] (LEG-2).
    pub async fn connect_with(
        addr: &str,
        name: Name,
        timeout: Duration,
        profile: Profile,
    ) -> Result<Client, ClientError> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Err(_) => return Err(ClientError::ConnectTimeout(addr.to_string())),
            Ok(Err(source)) => {
                return Err(ClientError::Connect {
                    addr: addr.to_string(),
                    source,
                })
            }
            Ok(Ok(s)) => s,
        };
        Client::login_with(stream, name, profile).await
    }

    /// Logs in on an already connected stream.
    pub async fn login(stream: TcpStream, name: Name) -> Result<Client, ClientError> {
        Client::login_with(stream, name, Profile::Strict).await
    }

    /// Logs in on an already connected stream, speaking `profile`.
    pub async fn login_with(
        stream: TcpStream,
        name: Name,
        profile: Profile,
    ) -> Result<Client, ClientError> {
        let valid = match profile {
            Profile::Strict => name.is_valid(),
            Profile::Legacy => name.is_valid_legacy(),
        };
        if !valid {
            return Err(ClientError::Invalid(format!(
                "\"{name}\" is not a valid name in the {profile} profile (NAME-1, LEG-1)"
            )));
        }
        stream.set_nodelay(true)?;
        let local_ip = stream.local_addr()?.ip();
        let server = stream.peer_addr()?;
        let (rd, mut wr) = stream.into_split();
        wr.write_all(name.as_bytes()).await?;
        let reader = match profile {
            Profile::Strict => Reader::Strict(FrameReader::new(
                rd,
                Decoder::server_to_client(Limits::default()),
            )),
            Profile::Legacy => {
                // The name is a write of its own (LEG-1): the next frame waits its turn.
                tokio::time::sleep(LEGACY_WRITE_GAP).await;
                Reader::Legacy(LegacyReader::new(rd))
            }
        };
        Ok(Client {
            sender: ClientSender {
                writer: Arc::new(Mutex::new(wr)),
                name,
                local_ip,
                server,
                profile,
            },
            events: ClientEvents {
                reader,
                closed: false,
            },
        })
    }

    /// Splits into the sending and the receiving half.
    pub fn split(self) -> (ClientSender, ClientEvents) {
        (self.sender, self.events)
    }

    /// The sending half.
    pub fn sender(&self) -> &ClientSender {
        &self.sender
    }

    /// Next event (see [`ClientEvents::next`]).
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.next().await
    }
}

/// The sending half of a client.
#[derive(Debug, Clone)]
pub struct ClientSender {
    writer: Arc<Mutex<OwnedWriteHalf>>,
    name: Name,
    local_ip: IpAddr,
    server: SocketAddr,
    profile: Profile,
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

    /// Asks for the client list (LIST-1); the answer arrives as [`Event::List`].
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
    /// the listener; hand it to [`serve_p2p`] with the body.
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

/// Serves one P2P offer: accepts one connection within `wait`, writes exactly `size` bytes
/// from `body`, and closes (FILE-4).
pub async fn serve_p2p(
    listener: TcpListener,
    size: u64,
    mut body: impl AsyncRead + Unpin,
    wait: Duration,
    mut progress: impl FnMut(u64),
) -> Result<(), ClientError> {
    let (mut peer, _) = tokio::time::timeout(wait, listener.accept())
        .await
        .map_err(|_| ClientError::P2p(format!("nobody connected within {wait:?}")))??;
    drop(listener);
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0u64;
    while sent < size {
        let want = (size - sent).min(buf.len() as u64) as usize;
        let n = body.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(ClientError::P2p(format!(
                "the file ended after {sent} of {size} bytes"
            )));
        }
        peer.write_all(&buf[..n]).await?;
        sent += n as u64;
        progress(sent);
    }
    peer.shutdown().await?;
    Ok(())
}

/// Fetches a P2P offer (FILE-4): connects to its `ip:port`, sends nothing, reads exactly
/// `size` bytes into `sink`. Fails if the peer closes early; every wait is bounded by `stall`.
pub async fn fetch_p2p(
    offer: &FileHeader,
    mut sink: impl AsyncWrite + Unpin,
    stall: Duration,
    mut progress: impl FnMut(u64),
) -> Result<u64, ClientError> {
    let ip: IpAddr = std::str::from_utf8(&offer.ip)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            ClientError::P2p(format!(
                "the offer's address \"{}\" is not an IP address",
                crate::text::escape_bytes(&offer.ip)
            ))
        })?;
    let port =
        u16::try_from(offer.port).map_err(|_| ClientError::P2p("port above 65535".into()))?;
    let addr = SocketAddr::new(ip, port);
    let mut stream = tokio::time::timeout(stall, TcpStream::connect(addr))
        .await
        .map_err(|_| ClientError::P2p(format!("connecting to {addr} timed out")))?
        .map_err(|source| ClientError::P2pConnect { addr, source })?;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut got = 0u64;
    while got < offer.size {
        buf.clear();
        let want = (offer.size - got).min(64 * 1024) as usize;
        let n = tokio::time::timeout(stall, (&mut stream).take(want as u64).read_buf(&mut buf))
            .await
            .map_err(|_| ClientError::P2p(format!("no data from {addr} for {stall:?}")))??;
        if n == 0 {
            return Err(ClientError::P2p(format!(
                "{addr} closed after {got} of {} bytes",
                offer.size
            )));
        }
        sink.write_all(&buf).await?;
        got += n as u64;
        progress(got);
    }
    sink.flush().await?;
    Ok(got)
}

/// The receiving half of a client.
#[derive(Debug)]
pub struct ClientEvents {
    reader: Reader,
    closed: bool,
}

/// The read side in one profile.
#[derive(Debug)]
enum Reader {
    Strict(FrameReader),
    Legacy(LegacyReader),
}

impl ClientEvents {
    /// Next event; after [`Event::Closed`] it returns `None`. Cancel-safe (usable in
    /// `select!`): no byte is lost when the future is dropped.
    pub async fn next(&mut self) -> Option<Event> {
        if self.closed {
            return None;
        }
        let item = match &mut self.reader {
            Reader::Strict(r) => r.next().await,
            Reader::Legacy(r) => match r.next().await {
                Ok(Some(Ok(item))) => Ok(Some(item)),
                // One write is one frame in the dialect: a frame it does not allow is shown
                // and the next one is still readable (LEG-13, CLI-4).
                Ok(Some(Err(e))) => {
                    return Some(Event::Invalid {
                        detail: e.to_string(),
                    })
                }
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            },
        };
        let event = match item {
            Ok(Some(Decoded::Frame(frame))) => match frame {
                Frame::Msg { name, text } => Event::Message { from: name, text },
                Frame::ListReply { text } => Event::List { text },
                Frame::File(h) if h.is_relay() => Event::FileStart(h),
                Frame::File(h) => Event::FileOffer(h),
                Frame::Ack { filename } => Event::Ack { filename },
                Frame::Error { text } => Event::Error {
                    reason: Reason::split_error_text(&text).map(|(r, _)| r),
                    text,
                },
                Frame::ListRequest => unreachable!("server decoders yield ListReply"),
            },
            Ok(Some(Decoded::Body { data, remaining })) => Event::FileData { data, remaining },
            Ok(Some(Decoded::Login(_))) => unreachable!("server streams have no login"),
            Ok(None) => {
                self.closed = true;
                Event::Closed { error: None }
            }
            Err(e) => {
                self.closed = true;
                let error = match e {
                    ReadError::Decode(d) => format!("the server sent an invalid frame: {d}"),
                    other => other.to_string(),
                };
                Event::Closed { error: Some(error) }
            }
        };
        Some(event)
    }
}
