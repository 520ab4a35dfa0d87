//! The protocol decisions of one server session, without I/O.
//!
//! A [`Session`] is a state machine in the manner of `quinn-proto` and `rustls`: the socket
//! loop decodes what the client sent and hands it in as an [`Event`]; the session decides
//! what the protocol requires — which frames go to whom, which ERROR the client gets, when
//! the connection ends — and the loop carries out the [`Action`]s it leaves, moving bytes and
//! nothing more. What a session needs to know of the other clients (who is connected, where
//! a frame for a name goes, which transfers await an ACK) it asks a [`Directory`]; the server
//! answers from its roster, the tests from a map in memory (`tests.rs` checks every ERROR
//! case of the strict profile that way, without a socket).
//!
//! One core serves both profiles: the strict one (`SPEC.md`) and the legacy dialect
//! (`legacy-profile.md`), which differ here only in what a name may be (NAME-3, LEG-1), what a
//! forwarded FILE header carries in its name field (FILE-2, LEG-8), how an ERROR's text reads
//! (LEG-10), and which decode errors leave the connection open (LEG-13). Deliberate faults
//! are not here: `faulty.rs` wraps this core.

mod boundary;
#[cfg(test)]
mod tests;

pub(crate) use boundary::{AckOutcome, Action, Directory, End, Event, Readings};

use std::collections::VecDeque;

use bytes::Bytes;

use super::roster::{ConnId, LoginRefused};
use crate::decode::DecodeError;
use crate::frame::{FileHeader, Frame, Name, Reason};
use crate::profile::Profile;
use crate::text::escape_bytes;

/// One client's session: its name once logged in, the relayed body it is sending, and the
/// actions its last event left.
#[derive(Debug)]
pub(crate) struct Session<R> {
    id: ConnId,
    /// The client's address as this server sees it, written for FILE-5 (DEC-6).
    observed_ip: Bytes,
    profile: Profile,
    max_clients: usize,
    readings: Readings,
    name: Option<Name>,
    /// Where the relayed body now arriving goes. `None` between frames, and for a body read
    /// and dropped: its recipient unknown (FILE-7) or gone (FILE-8). The decoder, not this
    /// field, says which bytes are body.
    body: Option<R>,
    actions: VecDeque<Action<R>>,
}

impl<R: Clone> Session<R> {
    /// A session of connection `id` from `observed_ip` (already in its DEC-6 form).
    pub fn new(id: ConnId, observed_ip: Bytes, profile: Profile, max_clients: usize) -> Self {
        Session {
            id,
            observed_ip,
            profile,
            max_clients,
            readings: Readings::Spec,
            name: None,
            body: None,
            actions: VecDeque::new(),
        }
    }

    /// The same session reading the open decisions as `readings` says.
    pub fn with_readings(mut self, readings: Readings) -> Self {
        self.readings = readings;
        self
    }

    /// The client's name, once its login succeeded.
    pub fn name(&self) -> Option<Name> {
        self.name
    }

    /// The connection's id.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// Whether the session reads the open decisions otherwise.
    pub fn readings(&self) -> Readings {
        self.readings
    }

    /// Whether a relayed body is on its way to a recipient.
    pub fn relaying(&self) -> bool {
        self.body.is_some()
    }

    /// Forgets the body in progress: the decoder will not deliver it (fault injection), or
    /// the connection is over and its recipient must see the body end short (FILE-9).
    pub fn drop_body(&mut self) {
        self.body = None;
    }

    /// The next action to carry out.
    pub fn poll_action(&mut self) -> Option<Action<R>> {
        self.actions.pop_front()
    }

    /// Queues an action (for wrappers that add to what the core decided).
    pub fn push_action(&mut self, action: Action<R>) {
        self.actions.push_back(action);
    }

    /// Keeps only the pending actions `keep` accepts (for wrappers that suppress some).
    pub fn retain_actions(&mut self, keep: impl FnMut(&Action<R>) -> bool) {
        self.actions.retain(keep);
    }

    /// Whether any pending action satisfies `test`.
    pub fn any_action(&self, test: impl FnMut(&Action<R>) -> bool) -> bool {
        self.actions.iter().any(test)
    }

    /// Decides what `event` requires; the actions wait in [`Session::poll_action`].
    pub fn handle<D: Directory<Relay = R>>(&mut self, dir: &D, event: Event) {
        match (self.name, event) {
            (None, Event::Login(name)) => self.login(dir, name),
            (None, Event::HandshakeTimeout) => {
                if self.readings == Readings::Other {
                    self.refuse(
                        Reason::BadName,
                        "no name within the handshake timeout",
                        "DEC-3",
                    );
                } else {
                    self.actions.push_back(Action::Close(End::Abrupt));
                }
            }
            (None, Event::Undecodable(e)) if self.profile == Profile::Legacy => {
                self.refuse_decoded(&e)
            }
            (None, _) => self.actions.push_back(Action::Close(End::Abrupt)),
            (Some(me), Event::Frame(frame)) => self.on_frame(dir, me, frame),
            (Some(_), Event::Body { data, remaining }) => self.on_body(data, remaining),
            (Some(_), Event::Undecodable(e)) => self.on_undecodable(e),
            (Some(_), Event::RelayBroken) => self.on_relay_broken(),
            // A second login, or a timeout after login: neither can come from the decoders.
            (Some(_), Event::Login(_) | Event::HandshakeTimeout) => {}
        }
    }

    /// Validates the login name (NAME-3 or LEG-1), then joins (DEC-2 order).
    fn login<D: Directory<Relay = R>>(&mut self, dir: &D, name: Name) {
        if self.readings == Readings::Other {
            // DEC-2 read otherwise: a taken name first, then a full server, then the name.
            if name.is_valid() && dir.is_connected(&name) {
                return self.name_taken(name);
            }
            if dir.len() >= self.max_clients {
                return self.refuse(Reason::ServerFull, "the server is full", "CONN-2");
            }
        }
        let (valid, what, rule) = match self.profile {
            Profile::Strict => (name.is_valid(), "4", "NAME-3"),
            Profile::Legacy => (name.is_valid_legacy(), "1 to 4", "LEG-1, NAME-3"),
        };
        if !valid {
            let detail = format!("\"{name}\" is not {what} printable ASCII bytes without spaces");
            return self.refuse(Reason::BadName, &detail, rule);
        }
        self.admit(dir, name);
    }

    /// Joins `name` without validating it (the core's second half of a login; a fault that
    /// accepts bad names calls it directly).
    pub fn admit<D: Directory<Relay = R>>(&mut self, dir: &D, name: Name) {
        match dir.join(self.id, name, self.max_clients) {
            Ok(()) => self.name = Some(name),
            Err(LoginRefused::ServerFull) => {
                let detail = format!(
                    "the server already has its maximum of {} clients",
                    self.max_clients
                );
                self.refuse(Reason::ServerFull, &detail, "CONN-2");
            }
            Err(LoginRefused::NameTaken) => self.name_taken(name),
        }
    }

    fn name_taken(&mut self, name: Name) {
        let detail = format!("{name} is already connected");
        self.refuse(Reason::NameTaken, &detail, "NAME-4");
    }

    fn on_undecodable(&mut self, e: DecodeError) {
        tracing::info!(conn = self.id, error = %e, "protocol error");
        match self.profile {
            Profile::Strict => {
                let reason = match e.rule {
                    "DEC-4" if self.readings == Readings::Other => Reason::TooLarge,
                    "DEC-5" if self.readings == Readings::Other => Reason::Malformed,
                    _ => e.reason,
                };
                self.refuse(reason, &e.detail, e.rule);
            }
            Profile::Legacy if crate::profile::legacy::closes_connection(&e) => {
                self.refuse_decoded(&e)
            }
            Profile::Legacy => self.complain(e.reason, &e.detail, e.rule),
        }
    }

    fn refuse_decoded(&mut self, e: &DecodeError) {
        self.refuse(e.reason, &e.detail, e.rule);
    }

    /// Queues an ERROR and keeps the connection open.
    pub fn complain(&mut self, reason: Reason, detail: &str, rule: &str) {
        let frame = match self.profile {
            Profile::Strict => Frame::error(reason, detail).to_bytes(),
            // The dialect's errors are bare texts that name their rule (LEG-10).
            Profile::Legacy => {
                Bytes::from(format!("{}: {detail} ({rule})", reason.as_str()).replace('\0', "\\0"))
            }
        };
        self.actions.push_back(Action::Complain { reason, frame });
    }

    /// Queues an ERROR and ends the session with a lingering close (ERR-5).
    pub fn refuse(&mut self, reason: Reason, detail: &str, rule: &str) {
        self.complain(reason, detail, rule);
        self.actions.push_back(Action::Close(End::AfterError));
    }

    /// The bytes of `frame` in this session's profile, or `None` (logged) when the dialect
    /// cannot express it.
    fn encode(&self, frame: &Frame) -> Option<Bytes> {
        match self.profile {
            Profile::Strict => Some(frame.to_bytes()),
            Profile::Legacy => match crate::profile::legacy::encode_server(frame) {
                Ok(bytes) => Some(bytes),
                Err(e) => {
                    tracing::warn!(conn = self.id, error = %e, "frame not sent");
                    None
                }
            },
        }
    }

    fn on_frame<D: Directory<Relay = R>>(&mut self, dir: &D, me: Name, frame: Frame) {
        match &frame {
            Frame::Msg { name: to, text } => {
                let to = *to;
                let fwd = Frame::Msg {
                    name: me,
                    text: text.clone(),
                };
                let Some(fwd) = dir.outgoing(fwd, me, &frame) else {
                    return;
                };
                let Some(bytes) = self.encode(&fwd) else {
                    return;
                };
                if !dir.deliver(&to, bytes) {
                    self.complain(
                        Reason::UnknownRecipient,
                        &format!("{to} is not connected"),
                        "MSG-4",
                    );
                }
            }
            Frame::File(header) => self.on_file(dir, me, header, &frame),
            Frame::ListRequest => {
                let reply = Frame::ListReply {
                    text: dir.list_text(),
                };
                if let Some(reply) = dir.outgoing(reply, me, &frame) {
                    if let Some(bytes) = self.encode(&reply) {
                        self.actions.push_back(Action::Send(bytes));
                    }
                }
            }
            Frame::Ack { filename } => self.on_ack(dir, me, filename),
            Frame::Error { text } => {
                tracing::debug!(%me, text = %escape_bytes(text), "client sent ERROR (ignored, ERR-3)");
            }
            // Client decoders yield ListRequest, never a reply.
            Frame::ListReply { .. } => {}
        }
    }

    fn on_file<D: Directory<Relay = R>>(
        &mut self,
        dir: &D,
        me: Name,
        header: &FileHeader,
        cause: &Frame,
    ) {
        let to = header.name;
        let relay = header.is_relay();
        // Its body, if any, is read and dropped: the decoder frames it, nothing forwards it.
        let unknown = |session: &mut Self| {
            session.complain(
                Reason::UnknownRecipient,
                &format!("{to} is not connected"),
                "FILE-7",
            );
        };
        if !dir.is_connected(&to) {
            return unknown(self);
        }
        let fwd = Frame::File(FileHeader {
            // FILE-2: the sender's name; LEG-8: the header as the sender wrote it.
            name: match self.profile {
                Profile::Strict => me,
                Profile::Legacy => header.name,
            },
            // FILE-2: a relay carries no address; FILE-5: an offer carries the sender's as
            // this server sees it, whatever it claimed.
            ip: if relay {
                Bytes::new()
            } else {
                self.observed_ip.clone()
            },
            ..header.clone()
        });
        let fwd = dir.outgoing(fwd.clone(), me, cause).unwrap_or(fwd);
        let Some(bytes) = self.encode(&fwd) else {
            return self.complain(
                Reason::Malformed,
                "the FILE header cannot be forwarded in this profile",
                "LEG-8",
            );
        };
        if relay {
            match dir.open_relay(&to, bytes, header.size) {
                Some(body) if header.size > 0 => self.body = Some(body),
                Some(_) => {}
                None => return unknown(self),
            }
        } else {
            dir.deliver(&to, bytes);
        }
        dir.expect_ack(to, header.filename.clone(), me, self.id);
    }

    fn on_ack<D: Directory<Relay = R>>(&mut self, dir: &D, me: Name, filename: &Bytes) {
        let ack = Frame::Ack {
            filename: filename.clone(),
        };
        let Some(bytes) = self.encode(&ack) else {
            return;
        };
        match dir.route_ack(&me, filename, bytes) {
            AckOutcome::Delivered => {}
            AckOutcome::SenderGone if self.readings == Readings::Other => self.complain(
                Reason::UnexpectedAck,
                "the sender of that transfer has left",
                "DEC-7",
            ),
            AckOutcome::SenderGone => {
                tracing::debug!(%me, "ACK for a transfer whose sender has left (DEC-7)")
            }
            AckOutcome::Unmatched => self.complain(
                Reason::UnexpectedAck,
                &format!(
                    "no transfer of \"{}\" to {me} awaits an ACK",
                    escape_bytes(filename)
                ),
                "ACK-3",
            ),
        }
    }

    fn on_body(&mut self, data: Bytes, remaining: u64) {
        if let Some(relay) = &self.body {
            self.actions.push_back(Action::Forward(relay.clone(), data));
        }
        if remaining == 0 {
            self.body = None;
        }
    }

    fn on_relay_broken(&mut self) {
        self.complain(
            Reason::TransferAborted,
            "the recipient disconnected during the transfer; the rest of the body is discarded",
            "FILE-8",
        );
        // The rest of the body is read and dropped.
        self.body = None;
    }
}
