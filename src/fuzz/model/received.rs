//! What a client of a model case received, read with the profile's decoder.

use bytes::{Bytes, BytesMut};
use msrp_reference::decode::{Decoded, Decoder, Limits};
use msrp_reference::frame::{FileHeader, Frame, Name};
use msrp_reference::profile::legacy::LegacyDecoder;
use msrp_reference::Profile;

use crate::fuzz::exec::Received;

/// Reads of one connection that arrive closer together than this are one unit of the legacy
/// dialect (bytes a server wrote at once and TCP cut; LEG-12). Model cases pace every
/// delivery far wider apart.
const LEGACY_UNIT_GAP_MS: u128 = 10;

/// One thing a client received, as the profile's decoder reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A LIST reply.
    List,
    /// A forwarded message.
    Msg {
        /// The name field: the sender's (MSG-2).
        name: Name,
        /// The text as delivered.
        text: Bytes,
    },
    /// A forwarded relay FILE and the body bytes that followed it.
    File {
        /// The header as delivered.
        header: FileHeader,
        /// The body bytes that arrived.
        body: Vec<u8>,
        /// Whether all `header.size` body bytes arrived.
        complete: bool,
    },
    /// A forwarded ACK.
    Ack {
        /// The filename it acknowledges.
        filename: Bytes,
    },
    /// An ERROR.
    Error {
        /// Strict: `reason: detail`; legacy: any text (LEG-10).
        text: Bytes,
    },
}

/// What a client received, decoded: the items, and the decoding error that stopped it.
pub fn decode(received: &Received, profile: Profile) -> (Vec<Item>, Option<String>) {
    let mut items: Vec<Item> = Vec::new();
    let push = |items: &mut Vec<Item>, d: Decoded| match d {
        Decoded::Login(_) => {}
        Decoded::Frame(Frame::ListReply { .. } | Frame::ListRequest) => items.push(Item::List),
        Decoded::Frame(Frame::Msg { name, text }) => items.push(Item::Msg { name, text }),
        Decoded::Frame(Frame::File(header)) => {
            let complete = header.size == 0 || !header.is_relay();
            items.push(Item::File {
                header,
                body: Vec::new(),
                complete,
            });
        }
        Decoded::Frame(Frame::Ack { filename }) => items.push(Item::Ack { filename }),
        Decoded::Frame(Frame::Error { text }) => items.push(Item::Error { text }),
        Decoded::Body { data, remaining } => {
            if let Some(Item::File { body, complete, .. }) = items.last_mut() {
                body.extend_from_slice(&data);
                *complete = remaining == 0;
            }
        }
    };
    match profile {
        Profile::Strict => {
            let mut d = Decoder::server_to_client(Limits::default());
            let mut buf = BytesMut::from(&received.bytes()[..]);
            loop {
                match d.decode(&mut buf) {
                    Ok(Some(x)) => push(&mut items, x),
                    Ok(None) => return (items, None),
                    Err(e) => return (items, Some(e.to_string())),
                }
            }
        }
        Profile::Legacy => {
            let mut d = LegacyDecoder::server_to_client(Limits::default());
            // Reads that arrive together make one unit (LEG-12).
            let mut units: Vec<Vec<u8>> = Vec::new();
            let mut last = None;
            for (at, bytes) in &received.reads {
                match (last, units.last_mut()) {
                    (Some(prev), Some(unit))
                        if at.duration_since(prev).as_millis() < LEGACY_UNIT_GAP_MS =>
                    {
                        unit.extend_from_slice(bytes)
                    }
                    _ => units.push(bytes.clone()),
                }
                last = Some(*at);
            }
            let mut buf = BytesMut::new();
            for unit in units {
                buf.extend_from_slice(&unit);
                loop {
                    match d.decode(&mut buf, true) {
                        Ok(Some(x)) => push(&mut items, x),
                        Ok(None) => break,
                        Err(e) => return (items, Some(e.to_string())),
                    }
                }
            }
            (items, None)
        }
    }
}

/// Whole frames received so far: what [`crate::fuzz::Action::Await`] counts. A FILE whose body has not all
/// arrived is not whole yet.
pub fn frames_in(received: &Received, profile: Profile) -> usize {
    let (items, _) = decode(received, profile);
    items
        .iter()
        .filter(|i| {
            !matches!(
                i,
                Item::File {
                    complete: false,
                    ..
                }
            )
        })
        .count()
}
