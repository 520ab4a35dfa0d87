//! Deliberate protocol violations, one per rule family, so tests can prove that the
//! conformance suite notices each of them. Compiled into the server always (each check is a
//! comparison against `None` otherwise), but settable only with the `faults` feature, which
//! only the test build enables.

/// One way to break the strict profile on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(not(feature = "faults"), allow(dead_code))]
pub enum Fault {
    /// MSG-2: forwards a message with the recipient's name instead of the sender's.
    WrongSenderName,
    /// ENC-3: takes one read as one frame and drops what does not decode.
    NoReassembly,
    /// LIST-2: lists clients newest first.
    ListReversed,
    /// MSG-4: a message to an unknown name vanishes without an ERROR.
    SilentUnknownRecipient,
    /// NAME-5: a name stays taken after its connection ends.
    NamesNeverFreed,
    /// ORD-2: other frames are written in the middle of a relayed body.
    FramesInsideBody,
    /// ACK-2: ACKs are never forwarded.
    AckLost,
    /// ERR-2: after ERROR bad-opcode the connection stays open.
    BadOpcodeLeftOpen,
    /// FILE-7: the body of a file for an unknown name is parsed as frames.
    BodyNotDiscarded,
    /// FILE-5: P2P offers carry the address the sender claimed.
    ClaimedIpForwarded,
    /// NAME-3: any 4 bytes are accepted as a name.
    AcceptsBadNames,
    /// NAME-4: a second login with a taken name is silently accepted.
    DuplicateNamesAccepted,
    /// LIM-1: texts of any length are forwarded.
    IgnoresTextLimit,
    /// NAME-2: the server greets a new client with a message.
    GreetsOnLogin,
    /// FILE-9: when a relay's sender vanishes, the recipient is left open.
    RecipientKeptOpen,
    /// ACK-3: an ACK that matches nothing is ignored silently.
    SilentUnexpectedAck,
    /// CONN-2: the client limit is not enforced.
    NoClientLimit,
    /// NAME-6: silent connections are never timed out.
    NoHandshakeTimeout,
    /// FILE-8: the sender is not told that its recipient left.
    AbortNotReported,
    /// MSG-3: every 1000th message is silently dropped.
    DropsEveryThousandthMessage,
    /// FILE-3: the first byte of every relayed body is flipped.
    CorruptsBodies,
    /// Not a fault: a server that follows every rule of the strict profile but reads its
    /// silences otherwise than SPEC.md §4 does, so the suite must only *warn*, naming each
    /// decision. DEC-2: server full is checked before a bad name, and a taken name before
    /// server full. DEC-3: the handshake timeout sends `bad-name` before closing. DEC-4: an
    /// ACK filename over 255 bytes gets `too-large`. DEC-5: a client ERROR text over the
    /// limit gets `malformed`. DEC-7: an ACK whose sender has left gets `unexpected-ack`, and
    /// pending transfers outlive the recipient's connection (kept per name).
    OtherReadings,
    // Kinds the suite's first faults did not cover (suite sharpness, BENCHMARKS.md): plausible
    // slips of an implementation written from the source document.
    /// LIST-2: clients numbered from 0 (`Cliente 0: …`).
    ListFromZero,
    /// LIST-2: lines end with CRLF.
    ListCrlf,
    /// LIST-2: the requester is left out of its own LIST.
    ListOmitsRequester,
    /// MSG-3: a message with an empty text is not forwarded.
    EmptyTextDropped,
    /// MSG-3: texts are cut to their first 1000 bytes.
    TruncatesLongText,
    /// ENC-1: a forwarded FILE header's size is written little-endian.
    SizeLittleEndian,
    /// FILE-2: a relay header is forwarded with the ip the sender wrote, not empty.
    RelayIpKept,
    /// ACK-2: an ACK goes to the sender of the *newest* matching transfer (LIFO).
    AckNewestFirst,
    /// MSG-5: a message to oneself gets `unknown-recipient`.
    SelfMessageRefused,
    /// MSG-4: the sender is disconnected after `unknown-recipient`.
    UnknownRecipientCloses,
    /// NAME-4: names are compared ignoring ASCII case, so `ANNA` is refused while `anna` is on.
    CaseInsensitiveNames,
    /// ORD-1: one sender's messages are delivered in swapped pairs (the second before the
    /// first), as a server that hands frames to per-message tasks might.
    SwapsMessagePairs,
}

#[cfg_attr(not(feature = "faults"), allow(dead_code))]
impl Fault {
    /// The one seam for faults that only change what the server writes: the frame as this
    /// fault would send it in place of `frame`, or `None` when it would not send it at all.
    /// `from` is the client whose frame `cause` made the server write it (the requester, for
    /// a LIST reply). Faults of other kinds pass frames through unchanged.
    pub(crate) fn rewrite(
        self,
        frame: crate::frame::Frame,
        from: crate::frame::Name,
        cause: &crate::frame::Frame,
    ) -> Option<crate::frame::Frame> {
        use crate::frame::{FileHeader, Frame};
        use bytes::Bytes;
        Some(match (self, frame, cause) {
            (Fault::WrongSenderName, Frame::Msg { text, .. }, Frame::Msg { name: to, .. }) => {
                Frame::Msg { name: *to, text }
            }
            (Fault::ListReversed, Frame::ListReply { text }, _) => Frame::ListReply {
                text: Bytes::from(reverse_list(&text)),
            },
            (Fault::ListFromZero, Frame::ListReply { text }, _) => Frame::ListReply {
                text: Bytes::from(relist(&text, 0, None)),
            },
            (Fault::ListCrlf, Frame::ListReply { text }, _) => {
                let mut out = Vec::with_capacity(text.len() + 32);
                for &b in text.iter() {
                    if b == b'\n' {
                        out.push(b'\r');
                    }
                    out.push(b);
                }
                Frame::ListReply {
                    text: Bytes::from(out),
                }
            }
            (Fault::ListOmitsRequester, Frame::ListReply { text }, _) => Frame::ListReply {
                text: Bytes::from(relist(&text, 1, Some(from.as_bytes()))),
            },
            (Fault::EmptyTextDropped, Frame::Msg { text, .. }, _) if text.is_empty() => {
                return None
            }
            (Fault::TruncatesLongText, Frame::Msg { name, text }, _) if text.len() > 1000 => {
                Frame::Msg {
                    name,
                    text: text.slice(..1000),
                }
            }
            (Fault::SizeLittleEndian, Frame::File(h), _) => Frame::File(FileHeader {
                size: h.size.swap_bytes(),
                ..h
            }),
            // The address the sender claimed, where FILE-2 wants none (relay) or FILE-5 the
            // observed one (offer).
            (Fault::RelayIpKept, Frame::File(h), Frame::File(claimed)) if h.is_relay() => {
                Frame::File(FileHeader {
                    ip: claimed.ip.clone(),
                    ..h
                })
            }
            (Fault::ClaimedIpForwarded, Frame::File(h), Frame::File(claimed)) if !h.is_relay() => {
                Frame::File(FileHeader {
                    ip: claimed.ip.clone(),
                    ..h
                })
            }
            (_, frame, _) => frame,
        })
    }
}

/// The LIST-2 text with its clients numbered from `first`, and the line of `omit` left out
/// (for the LIST faults).
#[cfg_attr(not(feature = "faults"), allow(dead_code))]
fn relist(text: &[u8], first: usize, omit: Option<&[u8]>) -> Vec<u8> {
    let names = crate::list::names(text);
    crate::list::build_from(names.into_iter().filter(|n| Some(*n) != omit), first)
}

/// The LIST-2 text with the clients in reverse order (for [`Fault::ListReversed`]).
#[cfg_attr(not(feature = "faults"), allow(dead_code))]
fn reverse_list(text: &[u8]) -> Vec<u8> {
    crate::list::build(crate::list::names(text).into_iter().rev())
}
