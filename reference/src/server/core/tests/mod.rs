//! The server's protocol decisions, tested in memory: client bytes go through the real
//! decoder into [`Session`]s that share a [`Directory`] kept in maps, and what each client is
//! sent is decoded back with the client's decoder. No socket, no runtime, no clock: each
//! test is the protocol alone. Every ERROR case of the strict profile is here, with the rule
//! it implements; `every_reason_token_is_produced` keeps the list whole.

use std::cell::RefCell;
use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};

mod errors;
mod forwarding;

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
