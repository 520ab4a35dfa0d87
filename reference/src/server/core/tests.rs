//! The server's protocol decisions, tested in memory: client bytes go through the real
//! decoder into [`Session`]s that share a [`Directory`] kept in maps, and what each client is
//! sent is decoded back with the client's decoder. No socket, no runtime, no clock: each
//! test is the protocol alone. Every ERROR case of the strict profile is here, with the rule
//! it implements; `every_reason_token_is_produced` keeps the list whole.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use bytes::{Bytes, BytesMut};

use super::*;
use crate::decode::{Decoded, Decoder, Limits};

/// The clients of one test server, in memory. A relay is the recipient's connection id.
#[derive(Default)]
struct Clients {
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// Logged-in clients in login order (ids grow).
    joined: BTreeMap<ConnId, Name>,
    /// Everything queued for each connection, encoded.
    inbox: BTreeMap<ConnId, Vec<u8>>,
    /// Transfers awaiting an ACK, oldest first: (recipient, filename, sender, sender's id).
    pending: Vec<(Name, Bytes, Name, ConnId)>,
}

impl State {
    fn id_of(&self, name: &Name) -> Option<ConnId> {
        self.joined
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| *id)
    }

    fn queue(&mut self, id: ConnId, bytes: &[u8]) {
        self.inbox.entry(id).or_default().extend_from_slice(bytes);
    }
}

impl Directory for Clients {
    type Relay = ConnId;

    fn join(&self, id: ConnId, name: Name, max_clients: usize) -> Result<(), LoginRefused> {
        let mut s = self.state.borrow_mut();
        if s.joined.len() >= max_clients {
            return Err(LoginRefused::ServerFull);
        }
        if s.id_of(&name).is_some() {
            return Err(LoginRefused::NameTaken);
        }
        s.joined.insert(id, name);
        Ok(())
    }

    fn is_connected(&self, name: &Name) -> bool {
        self.state.borrow().id_of(name).is_some()
    }

    fn len(&self) -> usize {
        self.state.borrow().joined.len()
    }

    fn deliver(&self, to: &Name, frame: Bytes) -> bool {
        let mut s = self.state.borrow_mut();
        let Some(id) = s.id_of(to) else { return false };
        s.queue(id, &frame);
        true
    }

    fn open_relay(&self, to: &Name, header: Bytes, _size: u64) -> Option<ConnId> {
        let mut s = self.state.borrow_mut();
        let id = s.id_of(to)?;
        s.queue(id, &header);
        Some(id)
    }

    fn expect_ack(&self, to: Name, filename: Bytes, from: Name, from_id: ConnId) {
        self.state
            .borrow_mut()
            .pending
            .push((to, filename, from, from_id));
    }

    fn route_ack(&self, me: &Name, filename: &[u8], ack: Bytes) -> AckOutcome {
        let mut s = self.state.borrow_mut();
        let Some(pos) = s
            .pending
            .iter()
            .position(|(to, f, ..)| to == me && f == filename)
        else {
            return AckOutcome::Unmatched;
        };
        let (_, _, sender, sender_id) = s.pending.remove(pos);
        if s.joined.get(&sender_id) == Some(&sender) {
            s.queue(sender_id, &ack);
            AckOutcome::Delivered
        } else {
            AckOutcome::SenderGone
        }
    }

    fn list_text(&self) -> Bytes {
        let s = self.state.borrow();
        Bytes::from(crate::list::build(s.joined.values().map(|n| n.as_bytes())))
    }
}

/// One connection: its session, the decoder of what it sends, and how it ended.
struct Conn {
    session: Session<ConnId>,
    decoder: Decoder,
    buf: BytesMut,
    ended: Option<End>,
}

/// A server of a few connections, driven by bytes.
struct Net {
    clients: Clients,
    conns: Vec<Conn>,
    max_clients: usize,
    readings: Readings,
}

/// Connection index in a [`Net`].
type C = usize;

impl Net {
    fn new() -> Self {
        Net {
            clients: Clients::default(),
            conns: Vec::new(),
            max_clients: 100,
            readings: Readings::Spec,
        }
    }

    fn id(c: C) -> ConnId {
        c as ConnId + 1
    }

    fn connect(&mut self) -> C {
        let c = self.conns.len();
        let ip = Bytes::from_static(b"10.0.0.7");
        self.conns.push(Conn {
            session: Session::new(Net::id(c), ip, Profile::Strict, self.max_clients)
                .with_readings(self.readings),
            decoder: Decoder::client_to_server(Limits::default()),
            buf: BytesMut::new(),
            ended: None,
        });
        c
    }

    fn login(&mut self, name: &str) -> C {
        let c = self.connect();
        self.send(c, name.as_bytes());
        c
    }

    /// Feeds bytes from client `c`, as one read, until they run out or the session ends.
    fn send(&mut self, c: C, bytes: &[u8]) {
        self.conns[c].buf.extend_from_slice(bytes);
        while self.conns[c].ended.is_none() {
            let conn = &mut self.conns[c];
            let event = match conn.decoder.decode(&mut conn.buf) {
                Ok(Some(Decoded::Login(name))) => Event::Login(name),
                Ok(Some(Decoded::Frame(frame))) => Event::Frame(frame),
                Ok(Some(Decoded::Body { data, remaining })) => Event::Body { data, remaining },
                Ok(None) => return,
                Err(e) => Event::Undecodable(e),
            };
            self.event(c, event);
        }
    }

    fn event(&mut self, c: C, event: Event) {
        let conn = &mut self.conns[c];
        conn.session.handle(&self.clients, event);
        while let Some(action) = conn.session.poll_action() {
            match action {
                Action::Send(bytes) | Action::Complain { frame: bytes, .. } => {
                    self.clients.state.borrow_mut().queue(Net::id(c), &bytes)
                }
                Action::Forward(to, data) => {
                    let mut s = self.clients.state.borrow_mut();
                    if s.joined.contains_key(&to) {
                        s.queue(to, &data);
                    } else {
                        drop(s);
                        conn.session.handle(&self.clients, Event::RelayBroken);
                    }
                }
                Action::Close(end) => {
                    conn.ended = Some(end);
                    let id = Net::id(c);
                    self.clients.state.borrow_mut().joined.remove(&id);
                    return;
                }
            }
        }
    }

    /// The client closes its connection: its name is free and nothing awaits it (DEC-7).
    fn leave(&mut self, c: C) {
        let id = Net::id(c);
        let mut s = self.clients.state.borrow_mut();
        if let Some(name) = s.joined.remove(&id) {
            s.pending.retain(|(to, ..)| *to != name);
        }
        self.conns[c].ended = Some(End::Graceful);
    }

    /// Everything client `c` was sent so far, decoded as a strict client would, and taken.
    fn received(&mut self, c: C) -> Vec<Decoded> {
        let bytes = self
            .clients
            .state
            .borrow_mut()
            .inbox
            .remove(&Net::id(c))
            .unwrap_or_default();
        let mut buf = BytesMut::from(&bytes[..]);
        let mut decoder = Decoder::server_to_client(Limits::default());
        let mut out = Vec::new();
        while let Some(item) = decoder
            .decode(&mut buf)
            .expect("the server's output decodes")
        {
            out.push(item);
        }
        assert!(buf.is_empty(), "a partial frame was queued: {buf:?}");
        out
    }

    /// The reasons of the ERRORs client `c` was sent, and nothing else it was sent.
    fn errors(&mut self, c: C) -> Vec<Reason> {
        self.received(c)
            .into_iter()
            .filter_map(|d| match d {
                Decoded::Frame(Frame::Error { text }) => {
                    Some(Reason::split_error_text(&text).expect("a reason token").0)
                }
                _ => None,
            })
            .collect()
    }

    fn ended(&self, c: C) -> Option<End> {
        self.conns[c].ended
    }
}

fn name(s: &str) -> Name {
    Name::from_slice(s.as_bytes()).expect("1 to 4 bytes")
}

fn msg(to: &str, text: &[u8]) -> Bytes {
    Frame::Msg {
        name: name(to),
        text: Bytes::copy_from_slice(text),
    }
    .to_bytes()
}

fn file(to: &str, filename: &str, size: u64, port: u32, ip: &str) -> Bytes {
    Frame::File(FileHeader {
        name: name(to),
        filename: Bytes::copy_from_slice(filename.as_bytes()),
        size,
        port,
        ip: Bytes::copy_from_slice(ip.as_bytes()),
    })
    .to_bytes()
}

fn ack(filename: &[u8]) -> Bytes {
    Frame::Ack {
        filename: Bytes::copy_from_slice(filename),
    }
    .to_bytes()
}

fn list() -> Bytes {
    Frame::ListRequest.to_bytes()
}

/// Asserts client `c` got exactly one ERROR, of `reason`, and that the session then ended
/// (`closed`) or stayed open.
fn assert_refused(net: &mut Net, c: C, reason: Reason, closed: bool) {
    assert_eq!(net.errors(c), vec![reason]);
    let expected = closed.then_some(End::AfterError);
    assert_eq!(
        net.ended(c),
        expected,
        "how the session ended after {reason}"
    );
}

// ---- The ERROR cases of the strict profile, one per rule. ----

/// NAME-3: a name that is not 4 printable bytes without spaces.
fn bad_name(net: &mut Net) -> Reason {
    let c = net.login("a b ");
    assert_refused(net, c, Reason::BadName, true);
    assert!(!net.clients.is_connected(&name("a b ")));
    Reason::BadName
}

/// NAME-4: a name already connected; the first holder keeps it.
fn name_taken(net: &mut Net) -> Reason {
    let first = net.login("anna");
    let second = net.login("anna");
    assert_refused(net, second, Reason::NameTaken, true);
    assert_eq!(net.ended(first), None);
    Reason::NameTaken
}

/// CONN-2: past the client limit.
fn server_full(net: &mut Net) -> Reason {
    net.max_clients = 1;
    net.login("anna");
    let c = net.login("bob_");
    assert_refused(net, c, Reason::ServerFull, true);
    Reason::ServerFull
}

/// MSG-4: a message to a name that is not connected; the connection stays usable.
fn unknown_recipient_msg(net: &mut Net) -> Reason {
    let c = net.login("anna");
    net.send(c, &msg("nope", b"hi"));
    assert_refused(net, c, Reason::UnknownRecipient, false);
    net.send(c, &msg("anna", b"to me")); // MSG-5: to oneself is delivered
    assert_eq!(
        net.received(c),
        vec![Decoded::Frame(Frame::Msg {
            name: name("anna"),
            text: Bytes::from_static(b"to me"),
        })]
    );
    Reason::UnknownRecipient
}

/// FILE-7: a relay to a name that is not connected; its body is read and dropped, not
/// parsed as frames, and the next frame is served.
fn unknown_recipient_file(net: &mut Net) -> Reason {
    let c = net.login("anna");
    let body = list(); // bytes that would be a LIST request if parsed
    net.send(c, &file("nope", "f.txt", body.len() as u64, 0, ""));
    net.send(c, &body);
    assert_refused(net, c, Reason::UnknownRecipient, false);
    net.send(c, &list());
    assert_eq!(
        net.received(c).len(),
        1,
        "one LIST reply, for the real request"
    );
    Reason::UnknownRecipient
}

/// ERR-2: an opcode the profile does not define.
fn bad_opcode(net: &mut Net) -> Reason {
    let c = net.login("anna");
    net.send(c, &[0x00, 0x09]);
    assert_refused(net, c, Reason::BadOpcode, true);
    Reason::BadOpcode
}

/// FILE-6: a filename with a path separator.
fn malformed(net: &mut Net) -> Reason {
    net.login("bob_");
    let c = net.login("anna");
    net.send(c, &file("bob_", "../etc", 1, 0, ""));
    assert_refused(net, c, Reason::Malformed, true);
    Reason::Malformed
}

/// LIM-1: a message text over the limit.
fn too_large(net: &mut Net) -> Reason {
    let c = net.login("anna");
    let text = vec![b'x'; Limits::default().max_text + 1];
    net.send(c, &msg("anna", &text));
    assert_refused(net, c, Reason::TooLarge, true);
    Reason::TooLarge
}

/// ACK-3: an ACK that matches no transfer; the connection stays open.
fn unexpected_ack(net: &mut Net) -> Reason {
    let c = net.login("anna");
    net.send(c, &ack(b"never.txt"));
    assert_refused(net, c, Reason::UnexpectedAck, false);
    Reason::UnexpectedAck
}

/// FILE-8: the recipient leaves during a relay: the sender is told once, the rest of the
/// body is dropped, and its next frame is served.
fn transfer_aborted(net: &mut Net) -> Reason {
    let to = net.login("bob_");
    let from = net.login("anna");
    net.send(from, &file("bob_", "f.bin", 10, 0, ""));
    net.send(from, b"0123");
    net.leave(to);
    net.send(from, b"45");
    net.send(from, b"6789");
    assert_refused(net, from, Reason::TransferAborted, false);
    net.send(from, &list());
    assert_eq!(net.received(from).len(), 1, "the LIST reply");
    Reason::TransferAborted
}

type Case = fn(&mut Net) -> Reason;

const ERROR_CASES: [(&str, Case); 10] = [
    ("NAME-3", bad_name),
    ("NAME-4", name_taken),
    ("CONN-2", server_full),
    ("MSG-4", unknown_recipient_msg),
    ("FILE-7", unknown_recipient_file),
    ("ERR-2", bad_opcode),
    ("FILE-6", malformed),
    ("LIM-1", too_large),
    ("ACK-3", unexpected_ack),
    ("FILE-8", transfer_aborted),
];

#[test]
fn every_error_case_of_the_strict_profile() {
    for (rule, case) in ERROR_CASES {
        eprintln!("{rule}");
        case(&mut Net::new());
    }
}

#[test]
fn every_reason_token_is_produced() {
    let produced: HashSet<Reason> = ERROR_CASES
        .iter()
        .map(|(_, case)| case(&mut Net::new()))
        .collect();
    let all: HashSet<Reason> = Reason::ALL.into_iter().collect();
    assert_eq!(produced, all, "an ERROR reason without an in-memory case");
}

// ---- Decisions the source leaves open (SPEC.md §4), in both readings. ----

#[test]
fn long_ack_filename_is_malformed_or_too_large() {
    for (readings, reason) in [
        (Readings::Spec, Reason::Malformed),
        (Readings::Other, Reason::TooLarge),
    ] {
        let mut net = Net::new();
        net.readings = readings;
        let c = net.login("anna");
        net.send(c, &ack(&[b'a'; 256]));
        assert_refused(&mut net, c, reason, true); // DEC-4
    }
}

#[test]
fn long_client_error_is_too_large_or_malformed() {
    for (readings, reason) in [
        (Readings::Spec, Reason::TooLarge),
        (Readings::Other, Reason::Malformed),
    ] {
        let mut net = Net::new();
        net.readings = readings;
        let c = net.login("anna");
        let text = Bytes::from(vec![b'e'; Limits::default().max_text + 1]);
        net.send(c, &Frame::Error { text }.to_bytes());
        assert_refused(&mut net, c, reason, true); // DEC-5
    }
}

#[test]
fn handshake_timeout_closes_silently_or_with_bad_name() {
    let mut net = Net::new();
    let c = net.connect();
    net.event(c, Event::HandshakeTimeout);
    assert_eq!((net.errors(c), net.ended(c)), (vec![], Some(End::Abrupt)));

    net.readings = Readings::Other;
    let c = net.connect();
    net.event(c, Event::HandshakeTimeout);
    assert_refused(&mut net, c, Reason::BadName, true); // DEC-3
}

#[test]
fn ack_whose_sender_left_is_consumed_or_unexpected() {
    for (readings, errors) in [
        (Readings::Spec, vec![]),
        (Readings::Other, vec![Reason::UnexpectedAck]),
    ] {
        let mut net = Net::new();
        net.readings = readings;
        let to = net.login("bob_");
        let from = net.login("anna");
        net.send(from, &file("bob_", "f", 0, 0, ""));
        net.leave(from);
        net.send(to, &ack(b"f"));
        assert_eq!(net.errors(to), errors, "DEC-7 in {readings:?}");
        net.send(to, &ack(b"f"));
        assert_eq!(net.errors(to), vec![Reason::UnexpectedAck], "consumed once");
    }
}

#[test]
fn other_reading_checks_a_taken_name_before_the_limit() {
    let mut net = Net::new();
    net.readings = Readings::Other;
    net.max_clients = 1;
    net.login("anna");
    let c = net.login("anna");
    assert_refused(&mut net, c, Reason::NameTaken, true); // DEC-2 read otherwise
    let c = net.login("a b ");
    assert_refused(&mut net, c, Reason::ServerFull, true);
}

// ---- What the server forwards. ----

#[test]
fn messages_carry_the_senders_name() {
    let mut net = Net::new();
    let to = net.login("bob_");
    let from = net.login("anna");
    net.send(from, &msg("bob_", b"")); // MSG-3: an empty text too
    net.send(from, &msg("bob_", b"second"));
    let texts: Vec<_> = net
        .received(to)
        .into_iter()
        .map(|d| match d {
            Decoded::Frame(Frame::Msg { name, text }) => (name.to_string(), text),
            other => panic!("not a message: {other:?}"),
        })
        .collect();
    assert_eq!(
        texts,
        vec![
            ("anna".to_string(), Bytes::new()),
            ("anna".to_string(), Bytes::from_static(b"second"))
        ]
    );
}

#[test]
fn a_relay_forwards_header_and_body_and_routes_the_ack() {
    let mut net = Net::new();
    let to = net.login("bob_");
    let from = net.login("anna");
    net.send(from, &file("bob_", "f.bin", 6, 0, "9.9.9.9"));
    net.send(from, b"abc");
    net.send(from, b"def");
    let got = net.received(to);
    let Decoded::Frame(Frame::File(h)) = &got[0] else {
        panic!("first a FILE header: {got:?}")
    };
    assert_eq!((h.name, &h.ip[..], h.size), (name("anna"), &b""[..], 6)); // FILE-2
    let body: Vec<u8> = got[1..]
        .iter()
        .flat_map(|d| match d {
            Decoded::Body { data, .. } => data.to_vec(),
            other => panic!("body expected: {other:?}"),
        })
        .collect();
    assert_eq!(body, b"abcdef"); // FILE-3
    net.send(to, &ack(b"f.bin"));
    assert_eq!(
        net.received(from),
        vec![Decoded::Frame(Frame::Ack {
            filename: Bytes::from_static(b"f.bin")
        })]
    ); // ACK-2
}

#[test]
fn an_offer_carries_the_address_the_server_sees() {
    let mut net = Net::new();
    let to = net.login("bob_");
    let from = net.login("anna");
    net.send(from, &file("bob_", "f.bin", 6, 4000, "6.6.6.6"));
    let got = net.received(to);
    let [Decoded::Frame(Frame::File(h))] = &got[..] else {
        panic!("one FILE offer: {got:?}")
    };
    assert_eq!((&h.ip[..], h.port), (&b"10.0.0.7"[..], 4000)); // FILE-5
}

#[test]
fn list_names_every_client_in_login_order() {
    let mut net = Net::new();
    let c = net.login("zed_");
    net.login("anna");
    net.send(c, &list());
    let got = net.received(c);
    let [Decoded::Frame(Frame::ListReply { text })] = &got[..] else {
        panic!("one LIST reply: {got:?}")
    };
    assert_eq!(crate::list::names(text), vec![&b"zed_"[..], b"anna"]); // LIST-2
}

#[test]
fn a_client_error_is_ignored() {
    let mut net = Net::new();
    let c = net.login("anna");
    net.send(c, &Frame::error(Reason::BadName, "x").to_bytes());
    assert_eq!((net.received(c), net.ended(c)), (vec![], None)); // ERR-3
}

// ---- The legacy dialect through the same core. ----

#[test]
fn legacy_errors_are_bare_texts_that_name_their_rule() {
    let clients = Clients::default();
    let mut session = Session::new(1, Bytes::new(), Profile::Legacy, 10);
    session.handle(&clients, Event::Login(name("ann")));
    assert_eq!(session.name(), Some(name("ann")), "LEG-1: 1 to 4 bytes");
    session.handle(
        &clients,
        Event::Frame(Frame::Msg {
            name: name("bob"),
            text: Bytes::from_static(b"hi"),
        }),
    );
    let Some(Action::Complain { reason, frame }) = session.poll_action() else {
        panic!("an error")
    };
    assert_eq!(reason, Reason::UnknownRecipient);
    assert_eq!(
        &frame[..],
        b"unknown-recipient: bob is not connected (MSG-4)"
    ); // LEG-10
    assert!(
        session.poll_action().is_none(),
        "LEG-13: the connection stays"
    );
}
