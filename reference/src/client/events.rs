//! What the server sends, as [`Event`]s, and the read side that yields them in either
//! profile.

use bytes::Bytes;

use super::legacy::LegacyReader;
use crate::connection::{FrameReader, ReadError};
use crate::decode::Decoded;
use crate::frame::{FileHeader, Frame, Name, Reason};

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
    /// A P2P offer: fetch it with [`fetch_p2p`](super::fetch_p2p) (FILE-4).
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

/// The receiving half of a client.
#[derive(Debug)]
pub struct ClientEvents {
    pub(super) reader: Reader,
    pub(super) closed: bool,
}

/// The read side in one profile.
#[derive(Debug)]
pub(super) enum Reader {
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
