#![allow(missing_docs)] // TODO(docs): documented when this file is split
//! Conversations whose outcome is known, and the oracle that needs a model of correct
//! behaviour: every message, relayed file and ACK of a valid conversation reaches the client
//! it is addressed to, from the right sender, byte for byte, in the order each sender wrote
//! them, and nothing reaches anyone else.
//!
//! A [`Conversation`] is generated from the case's random stream like any other case, but
//! its actions are *derived* from it ([`Conversation::actions`]): the shrinker removes
//! exchanges and shortens texts and bodies and derives the actions again, so every shrunk
//! case is still a valid conversation with a known outcome. The harness waits for each
//! delivery before the next exchange ([`Action::Await`]), so the order of deliveries is the
//! order of exchanges whatever the target's scheduling: the oracle never blames a server for
//! an order the profile leaves open (ORD-1 binds one sender to one recipient only).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bytes::{Bytes, BytesMut};
use msrp_reference::decode::{Decoded, Decoder, Limits};
use msrp_reference::frame::{FileHeader, Frame, Name, Reason};
use msrp_reference::profile::legacy::{self, LegacyDecoder};
use msrp_reference::Profile;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::case::Action;
use super::exec::{Execution, Received};
use super::finding::Signature;

/// Bytes of printable text a generated name or text is drawn from.
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Legacy pacing between writes of one connection: one write, one read (LEG-2).
const LEGACY_PACE_MS: u16 = 40;
/// Reads of one connection that arrive closer together than this are one unit of the legacy
/// dialect (bytes a server wrote at once and TCP cut; LEG-12). Model cases pace every
/// delivery far wider apart.
const LEGACY_UNIT_GAP_MS: u128 = 10;
/// Time left after the last delivery for stray frames (a second copy, a message that went to
/// the wrong client too) to arrive before the connections close.
const STRAY_WAIT_MS: u16 = 60;

/// One valid conversation among a few clients, whose outcome the generator knows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Conversation {
    /// Client `k`'s login name (4 bytes in 0x21..=0x7E); client `k` is connection `k`.
    pub names: Vec<[u8; 4]>,
    /// What the clients send one another, in order.
    pub exchanges: Vec<Exchange>,
}

/// One message or relayed file from one client to another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Exchange {
    /// Sender (a client index).
    pub from: u8,
    /// Recipient (a client index; a message may go to its own sender, MSG-5).
    pub to: u8,
    /// The message or file.
    pub what: Sent,
    /// Strict profile: offsets inside the frame's bytes (header and body) where the harness
    /// cuts its writes (ENC-3). Ascending; offsets past the end are ignored.
    pub cuts: Vec<usize>,
}

/// What an exchange carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sent {
    /// A MSG with this text (printable ASCII).
    Msg { text: Vec<u8> },
    /// A relay-mode FILE with this filename and body; `ack`: the recipient acknowledges it
    /// once it has it all, and the ACK must reach the sender (ACK-2).
    File {
        filename: Vec<u8>,
        body: Vec<u8>,
        ack: bool,
    },
}

fn printable(rng: &mut ChaCha8Rng, len: usize, spaces: bool) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if spaces && i % 7 == 3 && i + 1 < len {
                b' '
            } else {
                ALNUM[rng.gen_range(0..ALNUM.len())]
            }
        })
        .collect()
}

/// A conversation for case `index`: 2–4 clients with names unique to the index, 1–6
/// exchanges. Legacy conversations keep to what the dialect can carry (texts of 1–600
/// bytes without a leading or trailing space or newline, filenames without spaces, no cuts).
pub fn generate(rng: &mut ChaCha8Rng, index: u64, profile: Profile) -> Conversation {
    let clients: u8 = rng.gen_range(2..=4);
    let n = ALNUM.len();
    let i = index as usize;
    let names = (0..clients)
        .map(|k| {
            [
                ALNUM[26 + usize::from(k) % 26],
                ALNUM[i % n],
                ALNUM[(i / n) % n],
                ALNUM[(i / n / n) % n],
            ]
        })
        .collect();
    let legacy = profile == Profile::Legacy;
    let count = rng.gen_range(1..=6);
    let exchanges = (0..count)
        .map(|e| {
            let from = rng.gen_range(0..clients);
            let what = if rng.gen_bool(0.65) {
                let len = match rng.gen_range(0..4) {
                    0 if !legacy => 0,
                    0 | 1 => rng.gen_range(1..16),
                    2 => rng.gen_range(16..200),
                    _ => rng.gen_range(200..600),
                };
                Sent::Msg {
                    text: printable(rng, len, true),
                }
            } else {
                let len = match rng.gen_range(0..3) {
                    0 if !legacy => 0,
                    0 | 1 => rng.gen_range(1..2048),
                    _ => rng.gen_range(2048..24_000),
                };
                let mut filename = format!("m{e}-").into_bytes();
                let stem_len = rng.gen_range(1..12);
                filename.extend(printable(rng, stem_len, false));
                filename.extend_from_slice(b".bin");
                Sent::File {
                    filename,
                    body: (0..len).map(|_| rng.gen()).collect(),
                    ack: rng.gen_bool(0.5),
                }
            };
            // Files go to someone else; a message to oneself is MSG-5's case.
            let to = match what {
                Sent::Msg { .. } if rng.gen_bool(0.15) => from,
                _ => (from + rng.gen_range(1..clients)) % clients,
            };
            let cuts = if legacy || rng.gen_bool(0.5) {
                Vec::new()
            } else {
                let mut c: Vec<usize> = (0..rng.gen_range(1..5))
                    .map(|_| rng.gen_range(1..64))
                    .collect();
                c.sort_unstable();
                c.dedup();
                c
            };
            Exchange {
                from,
                to,
                what,
                cuts,
            }
        })
        .collect();
    Conversation { names, exchanges }
}

impl Exchange {
    /// The frame the sender writes, and a relay body after it.
    pub fn frame(&self, names: &[[u8; 4]]) -> (Frame, Bytes) {
        let to = Name::from_array(names[usize::from(self.to)]);
        match &self.what {
            Sent::Msg { text } => (
                Frame::Msg {
                    name: to,
                    text: Bytes::from(text.clone()),
                },
                Bytes::new(),
            ),
            Sent::File { filename, body, .. } => (
                Frame::File(FileHeader {
                    name: to,
                    filename: Bytes::from(filename.clone()),
                    size: body.len() as u64,
                    port: 0,
                    ip: Bytes::new(),
                }),
                Bytes::from(body.clone()),
            ),
        }
    }
}

fn encode_client(frame: &Frame, profile: Profile) -> Vec<u8> {
    match profile {
        Profile::Strict => frame.to_bytes().to_vec(),
        Profile::Legacy => legacy::encode_client(frame)
            .map(|b| b.to_vec())
            .unwrap_or_else(|_| frame.to_bytes().to_vec()),
    }
}

fn encode_login(name: [u8; 4], profile: Profile) -> Vec<u8> {
    match profile {
        Profile::Strict => name.to_vec(),
        Profile::Legacy => legacy::encode_login(&Name::from_array(name)).to_vec(),
    }
}

impl Conversation {
    /// The harness's actions: every client connects, logs in and asks for the LIST (whose
    /// answer shows the login was processed); then each exchange is written (cut where its
    /// `cuts` say; legacy writes paced apart) and its delivery awaited, and an ACK, when the
    /// exchange has one, written by the recipient and awaited at the sender.
    pub fn actions(&self, profile: Profile) -> Vec<Action> {
        let legacy = profile == Profile::Legacy;
        let mut out = Vec::new();
        let write = |out: &mut Vec<Action>, conn: u8, bytes: Vec<u8>| {
            if bytes.is_empty() {
                return;
            }
            out.push(Action::Write { conn, bytes });
            if legacy {
                out.push(Action::Pause { ms: LEGACY_PACE_MS });
            }
        };
        let clients = self.names.len() as u8;
        // One login at a time, each confirmed by its LIST reply: the connection order (which
        // LIST-2 and many a server's roster follow) is then the clients' order, in the fuzz
        // run and in the reproduction alike.
        for conn in 0..clients {
            out.push(Action::Connect { conn });
            write(
                &mut out,
                conn,
                encode_login(self.names[usize::from(conn)], profile),
            );
            write(&mut out, conn, encode_client(&Frame::ListRequest, profile));
            out.push(Action::Await { conn, frames: 1 });
        }
        let mut frames = vec![1u16; usize::from(clients)];
        for ex in &self.exchanges {
            let (frame, body) = ex.frame(&self.names);
            let header = encode_client(&frame, profile);
            if legacy {
                write(&mut out, ex.from, header);
                write(&mut out, ex.from, body.to_vec());
            } else {
                let mut all = header;
                all.extend_from_slice(&body);
                let mut at = 0;
                for &cut in ex.cuts.iter().filter(|&&c| c < all.len()) {
                    write(&mut out, ex.from, all[at..cut].to_vec());
                    at = cut;
                }
                write(&mut out, ex.from, all[at..].to_vec());
            }
            frames[usize::from(ex.to)] += 1;
            out.push(Action::Await {
                conn: ex.to,
                frames: frames[usize::from(ex.to)],
            });
            if let Sent::File {
                filename,
                ack: true,
                ..
            } = &ex.what
            {
                let ack = Frame::Ack {
                    filename: Bytes::from(filename.clone()),
                };
                write(&mut out, ex.to, encode_client(&ack, profile));
                frames[usize::from(ex.from)] += 1;
                out.push(Action::Await {
                    conn: ex.from,
                    frames: frames[usize::from(ex.from)],
                });
            }
        }
        out.push(Action::Pause { ms: STRAY_WAIT_MS });
        out
    }

    /// Client indices that take part in some exchange.
    fn used(&self) -> Vec<u8> {
        let mut u: Vec<u8> = self.exchanges.iter().flat_map(|e| [e.from, e.to]).collect();
        u.sort_unstable();
        u.dedup();
        u
    }

    /// The same conversation without the clients no exchange involves (indices renumbered).
    pub fn without_idle_clients(&self) -> Conversation {
        let used = self.used();
        let at = |k: u8| used.iter().position(|&u| u == k).unwrap_or(0) as u8;
        Conversation {
            names: used.iter().map(|&k| self.names[usize::from(k)]).collect(),
            exchanges: self
                .exchanges
                .iter()
                .map(|e| Exchange {
                    from: at(e.from),
                    to: at(e.to),
                    ..e.clone()
                })
                .collect(),
        }
    }
}

/// One thing a client received, as the profile's decoder reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A LIST reply.
    List,
    /// A forwarded message.
    Msg { name: Name, text: Bytes },
    /// A forwarded relay FILE and the body bytes that followed it (`complete`: all of them).
    File {
        header: FileHeader,
        body: Vec<u8>,
        complete: bool,
    },
    /// A forwarded ACK.
    Ack { filename: Bytes },
    /// An ERROR (strict: `reason: detail`; legacy: any text).
    Error { text: Bytes },
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

/// Whole frames received so far: what [`Action::Await`] counts. A FILE whose body has not all
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

/// A departure the model oracle saw, most telling first (a misrouted message is also "lost"
/// for its addressee: the report names the misrouting).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    MalformedOutput,
    WrongRecipient,
    WrongSender,
    Corrupted,
    Reordered,
    Duplicated,
    ErrorOnValid,
    Lost,
}

impl Kind {
    fn oracle(&self) -> &'static str {
        match self {
            Kind::MalformedOutput => "malformed-output",
            Kind::WrongRecipient => "wrong-recipient",
            Kind::WrongSender => "wrong-sender",
            Kind::Corrupted => "corrupted",
            Kind::Reordered => "reordered",
            Kind::Duplicated => "duplicated",
            Kind::ErrorOnValid => "error-on-valid",
            Kind::Lost => "lost",
        }
    }
}

/// The rule a server breaks by answering client `k`'s valid input with an ERROR: ENC-3 when
/// `k` wrote a frame in pieces (a server that takes one read for one frame misreads them),
/// else the rule that makes `k`'s first frame valid (MSG-1, FILE-1), or LIST-1 when it sent
/// only its login and LIST. The second value explains the choice for the report.
fn refused_rule(
    conv: &Conversation,
    k: u8,
    text: &[u8],
    profile: Profile,
) -> (&'static str, String) {
    let mine: Vec<&Exchange> = conv.exchanges.iter().filter(|e| e.from == k).collect();
    let pieces = mine.iter().map(|e| e.cuts.len()).max().unwrap_or(0);
    if pieces > 0 {
        return (
            "ENC-3",
            format!(
                " (it wrote frames in up to {} pieces, which a receiver must reassemble)",
                pieces + 1
            ),
        );
    }
    let token = match profile {
        Profile::Strict => Reason::split_error_text(text)
            .map(|(r, _)| format!(" ({})", r.as_str()))
            .unwrap_or_default(),
        Profile::Legacy => String::new(),
    };
    match mine.first().map(|e| &e.what) {
        Some(Sent::Msg { .. }) => ("MSG-1", token),
        Some(Sent::File { .. }) => ("FILE-1", token),
        None => ("LIST-1", token),
    }
}

fn shown(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(40)]).into_owned();
    if b.len() > 40 {
        format!("\"{s}…\" ({} bytes)", b.len())
    } else {
        format!("\"{s}\"")
    }
}

/// Where two byte strings first differ, for a "corrupted" report.
fn first_difference(want: &[u8], got: &[u8]) -> String {
    match want.iter().zip(got).position(|(a, b)| a != b) {
        Some(i) => format!(
            "byte {i} is 0x{:02x}, sent 0x{:02x} ({} bytes sent, {} received)",
            got[i],
            want[i],
            want.len(),
            got.len()
        ),
        None => format!("{} bytes sent, {} received", want.len(), got.len()),
    }
}

/// Judges a model case's execution: `None` when every client got exactly what the model
/// says, else the most telling departure as a signature and one line.
pub fn judge(
    conv: &Conversation,
    exec: &Execution,
    profile: Profile,
) -> Option<(Signature, String)> {
    let legacy = profile == Profile::Legacy;
    let who = |k: u8| {
        let n = conv.names[usize::from(k)];
        format!("c{k} ({})", String::from_utf8_lossy(&n))
    };
    let mut found: Vec<(Kind, &'static str, String)> = Vec::new();
    // Exchanges (and their ACKs) still owed to each client, in the order they were sent.
    let mut owed_msgs: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
    let mut owed_acks: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
    for (i, ex) in conv.exchanges.iter().enumerate() {
        owed_msgs.entry(ex.to).or_default().push(i);
        if let Sent::File { ack: true, .. } = ex.what {
            owed_acks.entry(ex.from).or_default().push(i);
        }
    }
    let empty = Received::default();
    for k in 0..conv.names.len() as u8 {
        let received = exec.received.get(&k).unwrap_or(&empty);
        let (items, error) = decode(received, profile);
        if let Some(e) = error {
            let rule = e
                .rsplit_once('(')
                .map(|(_, r)| r.trim_end_matches(')'))
                .and_then(crate::rules::rule)
                .map_or("ENC-3", |r| r.id);
            found.push((
                Kind::MalformedOutput,
                rule,
                format!("{} received bytes that do not decode: {e}", who(k)),
            ));
        }
        let mut lists = 0;
        for item in items {
            match item {
                Item::List => lists += 1,
                Item::Error { text } => {
                    let (rule, why) = refused_rule(conv, k, &text, profile);
                    found.push((
                        Kind::ErrorOnValid,
                        rule,
                        format!(
                            "{} got an error, {}, in a valid conversation{why}",
                            who(k),
                            shown(&text)
                        ),
                    ))
                }
                Item::Msg { name, text } => {
                    let sent = |e: &Exchange| matches!(&e.what, Sent::Msg { text: t } if t[..] == text[..]);
                    judge_delivery(
                        conv,
                        k,
                        &name,
                        &mut owed_msgs,
                        sent,
                        legacy,
                        "MSG",
                        &mut found,
                        || format!("a message {}", shown(&text)),
                        |e| match &e.what {
                            Sent::Msg { text: t } => Some(first_difference(t, &text)),
                            _ => None,
                        },
                    );
                }
                Item::File {
                    header,
                    body,
                    complete,
                } => {
                    if !complete {
                        found.push((
                            Kind::Lost,
                            "FILE-3",
                            format!(
                                "{} got the file {} but only {} of its {} body bytes",
                                who(k),
                                shown(&header.filename),
                                body.len(),
                                header.size
                            ),
                        ));
                        continue;
                    }
                    let sent = |e: &Exchange| {
                        matches!(&e.what, Sent::File { filename, body: b, .. }
                            if filename[..] == header.filename[..] && b[..] == body[..])
                    };
                    judge_delivery(
                        conv,
                        k,
                        &header.name,
                        &mut owed_msgs,
                        sent,
                        legacy,
                        "FILE",
                        &mut found,
                        || format!("the file {}", shown(&header.filename)),
                        |e| match &e.what {
                            Sent::File {
                                filename, body: b, ..
                            } if filename[..] == header.filename[..] => {
                                Some(format!("its body: {}", first_difference(b, &body)))
                            }
                            _ => None,
                        },
                    );
                }
                Item::Ack { filename } => {
                    let owed = owed_acks.entry(k).or_default();
                    let named = |e: &Exchange| matches!(&e.what, Sent::File { filename: f, .. } if f[..] == filename[..]);
                    if let Some(p) = owed.iter().position(|&i| named(&conv.exchanges[i])) {
                        owed.remove(p);
                    } else if let Some(e) = conv.exchanges.iter().find(|e| named(e) && e.from != k)
                    {
                        found.push((
                            Kind::WrongRecipient,
                            "ACK-2",
                            format!(
                                "{} got the ACK of {}, a file {} sent",
                                who(k),
                                shown(&filename),
                                who(e.from)
                            ),
                        ));
                    } else {
                        found.push((
                            Kind::Corrupted,
                            "ACK-1",
                            format!(
                                "{} got an ACK of {}, which names no file it sent",
                                who(k),
                                shown(&filename)
                            ),
                        ));
                    }
                }
            }
        }
        if lists == 0 {
            found.push((
                Kind::Lost,
                "LIST-2",
                format!("{} asked for the LIST and got no reply", who(k)),
            ));
        }
    }
    for (k, owed) in &owed_msgs {
        if let Some(&i) = owed.first() {
            let e = &conv.exchanges[i];
            let (what, rule) = match &e.what {
                Sent::Msg { text } => (format!("the message {}", shown(text)), "MSG-3"),
                Sent::File { filename, .. } => (format!("the file {}", shown(filename)), "FILE-3"),
            };
            found.push((
                Kind::Lost,
                rule,
                format!("{} never got {what} from {}", who(*k), who(e.from)),
            ));
        }
    }
    for (k, owed) in &owed_acks {
        if let Some(&i) = owed.first() {
            if let Sent::File { filename, .. } = &conv.exchanges[i].what {
                found.push((
                    Kind::Lost,
                    "ACK-2",
                    format!(
                        "{} never got the ACK {} sent for {}",
                        who(*k),
                        who(conv.exchanges[i].to),
                        shown(filename)
                    ),
                ));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let (kind, rule, what) = found.into_iter().next()?;
    let mut line = String::new();
    let _ = write!(line, "{what}");
    Some((
        Signature {
            oracle: kind.oracle().into(),
            rule: rule.into(),
        },
        line,
    ))
}

/// Files one delivered message or file at client `k` under what the model owes it.
#[allow(clippy::too_many_arguments)]
fn judge_delivery(
    conv: &Conversation,
    k: u8,
    name: &Name,
    owed: &mut BTreeMap<u8, Vec<usize>>,
    sent: impl Fn(&Exchange) -> bool,
    legacy: bool,
    kind: &str,
    found: &mut Vec<(Kind, &'static str, String)>,
    describe: impl Fn() -> String,
    differs: impl Fn(&Exchange) -> Option<String>,
) {
    let is_file = kind == "FILE";
    let (name_rule, bytes_rule) = if is_file {
        ("FILE-3", "FILE-3")
    } else {
        ("MSG-2", "MSG-3")
    };
    let who = |k: u8| {
        let n = conv.names[usize::from(k)];
        format!("c{k} ({})", String::from_utf8_lossy(&n))
    };
    // LEG-8: a legacy FILE carries the recipient's own name, not the sender's.
    let name_ok = |e: &Exchange| {
        if legacy && is_file {
            name.as_bytes() == conv.names[usize::from(e.to)]
        } else {
            name.as_bytes() == conv.names[usize::from(e.from)]
        }
    };
    let mine = owed.entry(k).or_default();
    if let Some(p) = mine
        .iter()
        .position(|&i| sent(&conv.exchanges[i]) && name_ok(&conv.exchanges[i]))
    {
        let i = mine.remove(p);
        let from = conv.exchanges[i].from;
        if let Some(&earlier) = mine[..p].iter().find(|&&j| conv.exchanges[j].from == from) {
            found.push((
                Kind::Reordered,
                "ORD-1",
                format!(
                    "{} got {} from {} before exchange {earlier}, which {} sent first",
                    who(k),
                    describe(),
                    who(from),
                    who(from)
                ),
            ));
        }
        return;
    }
    if let Some(e) = mine.iter().map(|&i| &conv.exchanges[i]).find(|e| sent(e)) {
        found.push((
            Kind::WrongSender,
            name_rule,
            format!(
                "{} got {} from {} with the name \"{}\"",
                who(k),
                describe(),
                who(e.from),
                String::from_utf8_lossy(name.as_bytes())
            ),
        ));
        return;
    }
    if let Some(e) = conv.exchanges.iter().find(|e| sent(e) && e.to != k) {
        found.push((
            Kind::WrongRecipient,
            name_rule,
            format!(
                "{} got {} that {} sent to {}",
                who(k),
                describe(),
                who(e.from),
                who(e.to)
            ),
        ));
        return;
    }
    if conv.exchanges.iter().any(|e| sent(e) && e.to == k) {
        found.push((
            Kind::Duplicated,
            bytes_rule,
            format!("{} got {} a second time", who(k), describe()),
        ));
        return;
    }
    let nearest = mine
        .iter()
        .map(|&i| &conv.exchanges[i])
        .find_map(|e| differs(e).map(|d| (e.from, d)));
    let detail = match nearest {
        Some((from, d)) => format!(", where {} sent one: {d}", who(from)),
        None => String::new(),
    };
    found.push((
        Kind::Corrupted,
        bytes_rule,
        format!("{} got {} that nobody sent{detail}", who(k), describe()),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::case::case_rng;
    use std::time::Instant;

    fn delivered(
        conv: &Conversation,
        profile: Profile,
        tamper: impl Fn(u8, &mut Frame),
    ) -> Execution {
        let mut exec = Execution::default();
        let at = Instant::now();
        let mut n = 0;
        // Each delivery its own read, well apart (LEG-12).
        let mut push = |exec: &mut Execution, k: u8, bytes: Vec<u8>| {
            n += 1;
            let when = at + std::time::Duration::from_millis(100 * n);
            exec.received
                .entry(k)
                .or_default()
                .reads
                .push((when, bytes));
        };
        let encode = |f: &Frame| match profile {
            Profile::Strict => f.to_bytes().to_vec(),
            Profile::Legacy => legacy::encode_server(f)
                .map(|b| b.to_vec())
                .unwrap_or_default(),
        };
        for k in 0..conv.names.len() as u8 {
            push(
                &mut exec,
                k,
                encode(&Frame::ListReply {
                    text: Bytes::from_static(b"Lista de clientes:\n"),
                }),
            );
        }
        for ex in &conv.exchanges {
            let from = Name::from_array(conv.names[usize::from(ex.from)]);
            let (mut f, body) = match ex.frame(&conv.names) {
                (Frame::Msg { text, .. }, b) => (Frame::Msg { name: from, text }, b),
                (Frame::File(mut h), b) => {
                    // LEG-8: a legacy FILE carries the recipient's own name.
                    h.name = match profile {
                        Profile::Strict => from,
                        Profile::Legacy => Name::from_array(conv.names[usize::from(ex.to)]),
                    };
                    (Frame::File(h), b)
                }
                other => other,
            };
            tamper(ex.to, &mut f);
            let mut bytes = encode(&f);
            bytes.extend_from_slice(&body);
            push(&mut exec, ex.to, bytes);
            if let Sent::File {
                filename,
                ack: true,
                ..
            } = &ex.what
            {
                push(
                    &mut exec,
                    ex.from,
                    encode(&Frame::Ack {
                        filename: Bytes::from(filename.clone()),
                    }),
                );
            }
        }
        exec
    }

    #[test]
    fn a_faithful_server_passes_and_each_departure_is_named() {
        let mut checked = 0;
        for i in 0..200 {
            let conv = generate(&mut case_rng(11, i), i, Profile::Strict);
            assert_eq!(
                judge(
                    &conv,
                    &delivered(&conv, Profile::Strict, |_, _| {}),
                    Profile::Strict
                ),
                None,
                "{conv:?}"
            );
            let Some(Sent::Msg { text }) = conv.exchanges.first().map(|e| e.what.clone()) else {
                continue;
            };
            if text.is_empty() {
                continue;
            }
            let corrupt = delivered(&conv, Profile::Strict, |_, f| {
                if let Frame::Msg { text, .. } = f {
                    if !text.is_empty() {
                        let mut t = text.to_vec();
                        t[0] ^= 0x01;
                        *text = Bytes::from(t);
                    }
                }
            });
            let (sig, what) =
                judge(&conv, &corrupt, Profile::Strict).expect("a corrupted text is seen");
            assert_eq!(
                (sig.oracle.as_str(), sig.rule.as_str()),
                ("corrupted", "MSG-3"),
                "{what}"
            );
            checked += 1;
        }
        assert!(checked > 20);
    }

    #[test]
    fn a_message_delivered_to_another_client_is_a_wrong_recipient() {
        let conv = Conversation {
            names: vec![*b"Aaaa", *b"Baaa", *b"Caaa"],
            exchanges: vec![Exchange {
                from: 0,
                to: 1,
                what: Sent::Msg {
                    text: b"hello".to_vec(),
                },
                cuts: vec![],
            }],
        };
        let mut exec = delivered(&conv, Profile::Strict, |_, _| {});
        let to_b = exec.received.remove(&1).unwrap_or_default();
        // Bob gets only his LIST reply; Carl gets the message as well.
        let mut bob = Received::default();
        bob.reads.push(to_b.reads[0].clone());
        let mut carl = exec.received.remove(&2).unwrap_or_default();
        carl.reads.push(to_b.reads[1].clone());
        exec.received.insert(1, bob);
        exec.received.insert(2, carl);
        let (sig, what) = judge(&conv, &exec, Profile::Strict).expect("misrouted");
        assert_eq!(
            (sig.oracle.as_str(), sig.rule.as_str()),
            ("wrong-recipient", "MSG-2")
        );
        assert!(
            what.contains("c2 (Caaa) got a message \"hello\" that c0 (Aaaa) sent to c1 (Baaa)"),
            "{what}"
        );
    }

    #[test]
    fn legacy_conversations_pass_through_the_dialect() {
        for i in 0..100 {
            let conv = generate(&mut case_rng(5, i), i, Profile::Legacy);
            let exec = delivered(&conv, Profile::Legacy, |_, _| {});
            assert_eq!(judge(&conv, &exec, Profile::Legacy), None, "{conv:?}");
        }
    }

    #[test]
    fn actions_are_a_pure_function_of_the_conversation() {
        for i in 0..50 {
            let conv = generate(&mut case_rng(2, i), i, Profile::Strict);
            assert_eq!(conv.actions(Profile::Strict), conv.actions(Profile::Strict));
            let awaits = conv
                .actions(Profile::Strict)
                .iter()
                .filter(|a| matches!(a, Action::Await { .. }))
                .count();
            assert!(awaits >= conv.names.len() + conv.exchanges.len());
        }
    }
}
