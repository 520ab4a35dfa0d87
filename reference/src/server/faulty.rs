//! Deliberate faults as a wrapper around the session core: each [`Fault`] changes what goes
//! into the core (an event it answers itself), what comes out (an action dropped, changed
//! or added), or what the core is told of the other clients (a [`Directory`] that routes
//! otherwise). The core itself knows no fault. Without a fault every layer passes through.
//!
//! Faults of the socket loop's own machinery (reassembly, the read decoder, timeouts, the
//! writer) are set where that machinery is built: `session.rs`, `outbox.rs`, `mod.rs`.

use std::cell::RefCell;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::core::{AckOutcome, Action, Directory, End, Event, Session};
use super::directory::{deliver_ack, Relay, RosterDirectory};
use super::fault::Fault;
use super::roster::{ConnId, LoginRefused};
use crate::frame::{Frame, Name, Reason};

/// The roster as a session sees it, through the configured fault.
#[derive(Debug)]
pub(crate) struct FaultyDirectory {
    inner: RosterDirectory,
    fault: Option<Fault>,
    /// SwapsMessagePairs: the first message of a pair, waiting for the second.
    held: RefCell<Option<(Name, Frame)>>,
    /// SwapsMessagePairs: the held message goes right after the next delivery.
    release: RefCell<Option<(Name, Frame)>>,
}

impl FaultyDirectory {
    /// `inner` as `fault` (if any) distorts it.
    pub fn new(inner: RosterDirectory, fault: Option<Fault>) -> Self {
        FaultyDirectory {
            inner,
            fault,
            held: RefCell::new(None),
            release: RefCell::new(None),
        }
    }

    /// The undistorted directory.
    pub fn inner(&self) -> &RosterDirectory {
        &self.inner
    }

    fn is(&self, fault: Fault) -> bool {
        self.fault == Some(fault)
    }
}

impl Directory for FaultyDirectory {
    type Relay = Relay;

    fn join(&self, id: ConnId, name: Name, max_clients: usize) -> Result<(), LoginRefused> {
        match self.inner.join(id, name, max_clients) {
            // NAME-4 broken: the second client gets the name without the roster's entry.
            Err(LoginRefused::NameTaken) if self.is(Fault::DuplicateNamesAccepted) => Ok(()),
            other => other,
        }
    }

    fn is_connected(&self, name: &Name) -> bool {
        self.inner.is_connected(name)
    }

    fn len(&self) -> usize {
        self.inner.len()
    }

    fn deliver(&self, to: &Name, frame: Bytes) -> bool {
        let delivered = self.inner.deliver(to, frame);
        if self.is(Fault::SwapsMessagePairs) {
            if let Some((held_to, held)) = self.release.borrow_mut().take() {
                self.inner.deliver(&held_to, held.to_bytes());
            }
        }
        delivered
    }

    fn open_relay(&self, to: &Name, header: Bytes, size: u64) -> Option<Relay> {
        if self.is(Fault::FramesInsideBody) {
            // ORD-2 broken: the body's chunks queue among the recipient's other frames.
            let outbox = self.inner.roster().outbox(to)?;
            outbox.push_frame(header);
            return Some(Relay::Interleave(outbox));
        }
        self.inner.open_relay(to, header, size)
    }

    fn expect_ack(&self, to: Name, filename: Bytes, from: Name, from_id: ConnId) {
        self.inner.expect_ack(to, filename, from, from_id);
    }

    fn route_ack(&self, me: &Name, filename: &[u8], ack: Bytes) -> AckOutcome {
        let roster = self.inner.roster();
        match self.fault {
            Some(Fault::AckNewestFirst) => deliver_ack(roster.route_ack(me, filename, true), ack),
            Some(Fault::AckLost) => match roster.route_ack(me, filename, false) {
                super::roster::AckRoute::Sender(_) => AckOutcome::Delivered,
                route => deliver_ack(route, ack),
            },
            _ => self.inner.route_ack(me, filename, ack),
        }
    }

    fn list_text(&self) -> Bytes {
        self.inner.list_text()
    }

    fn outgoing(&self, frame: Frame, from: Name, cause: &Frame) -> Option<Frame> {
        let Some(fault) = self.fault else {
            return Some(frame);
        };
        let frame = fault.rewrite(frame, from, cause)?;
        if let (Fault::SwapsMessagePairs, Frame::Msg { .. }, Frame::Msg { name: to, .. }) =
            (fault, &frame, cause)
        {
            // ORD-1 broken: the first of each pair waits and goes right after the second.
            let mut held = self.held.borrow_mut();
            match held.take() {
                None => {
                    *held = Some((*to, frame));
                    return None;
                }
                Some(first) => *self.release.borrow_mut() = Some(first),
            }
        }
        Some(frame)
    }
}

/// The session core with the configured fault around it.
#[derive(Debug)]
pub(crate) struct FaultySession {
    core: Session<Relay>,
    fault: Option<Fault>,
    /// CorruptsBodies: the next chunk forwarded is the first of its body.
    body_start: bool,
}

impl FaultySession {
    /// `core`, distorted by `fault` (if any).
    pub fn new(core: Session<Relay>, fault: Option<Fault>) -> Self {
        FaultySession {
            core,
            fault,
            body_start: false,
        }
    }

    /// The core.
    pub fn core(&self) -> &Session<Relay> {
        &self.core
    }

    /// The core, to drop its body when the connection ends.
    pub fn core_mut(&mut self) -> &mut Session<Relay> {
        &mut self.core
    }

    /// The next action to carry out.
    pub fn poll_action(&mut self) -> Option<Action<Relay>> {
        let action = self.core.poll_action()?;
        Some(match (self.fault, action) {
            (Some(Fault::CorruptsBodies), Action::Forward(relay, data))
                if self.body_start && !data.is_empty() =>
            {
                // FILE-3 broken: the first byte of every relayed body is flipped.
                self.body_start = false;
                let mut bad = data.to_vec();
                bad[0] ^= 0x01;
                Action::Forward(relay, Bytes::from(bad))
            }
            (_, action) => action,
        })
    }

    /// Hands `event` to the core, unless the fault answers it itself, and adjusts what the
    /// core decided.
    pub fn handle(&mut self, dir: &FaultyDirectory, event: Event) {
        let Some(fault) = self.fault else {
            return self.core.handle(dir, event);
        };
        if self.answered(fault, dir, &event) {
            return;
        }
        let kind = Kind::of(&event);
        self.core.handle(dir, event);
        self.adjust(fault, kind);
    }

    /// Events the fault answers instead of the core; true when it did.
    fn answered(&mut self, fault: Fault, dir: &FaultyDirectory, event: &Event) -> bool {
        let core = &mut self.core;
        match (fault, event, core.name()) {
            (Fault::DropsEveryThousandthMessage, Event::Frame(Frame::Msg { .. }), Some(_)) => {
                // MSG-3 broken; the count is the whole server's.
                dir.inner()
                    .shared
                    .fault_counter
                    .fetch_add(1, Ordering::Relaxed)
                    % 1000
                    == 999
            }
            (Fault::SelfMessageRefused, Event::Frame(Frame::Msg { name: to, .. }), Some(me))
                if *to == me =>
            {
                core.complain(
                    Reason::UnknownRecipient,
                    &format!("{to} is not connected"),
                    "MSG-5",
                );
                true
            }
            (Fault::CaseInsensitiveNames, Event::Login(name), None)
                if dir.inner().roster().is_connected_ignoring_case(name) =>
            {
                core.refuse(
                    Reason::NameTaken,
                    &format!("{name} is already connected"),
                    "NAME-4",
                );
                true
            }
            (Fault::AcceptsBadNames, Event::Login(name), None) if !name.is_valid() => {
                core.admit(dir, *name);
                true
            }
            (Fault::BadOpcodeLeftOpen, Event::Undecodable(e), Some(_))
                if e.reason == Reason::BadOpcode =>
            {
                core.complain(e.reason, &e.detail, e.rule);
                core.push_action(Action::Close(End::Abandoned));
                true
            }
            _ => false,
        }
    }

    /// Changes what the core decided for an event of `kind`.
    fn adjust(&mut self, fault: Fault, kind: Kind) {
        let core = &mut self.core;
        let silenced = match (fault, kind) {
            (Fault::SilentUnknownRecipient, Kind::Msg) => Some(Reason::UnknownRecipient),
            (Fault::SilentUnexpectedAck, Kind::Ack) => Some(Reason::UnexpectedAck),
            (Fault::AbortNotReported, Kind::RelayBroken) => Some(Reason::TransferAborted),
            _ => None,
        };
        if let Some(silenced) = silenced {
            core.retain_actions(
                |a| !matches!(a, Action::Complain { reason, .. } if *reason == silenced),
            );
        }
        match (fault, kind) {
            (Fault::UnknownRecipientCloses, Kind::Msg)
                if core.any_action(|a| {
                    matches!(
                        a,
                        Action::Complain {
                            reason: Reason::UnknownRecipient,
                            ..
                        }
                    )
                }) =>
            {
                core.push_action(Action::Close(End::AfterError));
            }
            (Fault::GreetsOnLogin, Kind::Login) => {
                if let Some(name) = core.name() {
                    let hello = Frame::Msg {
                        name,
                        text: Bytes::from_static(b"welcome"),
                    };
                    core.push_action(Action::Send(hello.to_bytes()));
                }
            }
            (Fault::CorruptsBodies, Kind::File) => self.body_start = core.relaying(),
            _ => {}
        }
    }
}

/// The kinds of event whose outcome a fault adjusts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Login,
    Msg,
    File,
    Ack,
    RelayBroken,
    Other,
}

impl Kind {
    fn of(event: &Event) -> Kind {
        match event {
            Event::Login(_) => Kind::Login,
            Event::Frame(Frame::Msg { .. }) => Kind::Msg,
            Event::Frame(Frame::File(_)) => Kind::File,
            Event::Frame(Frame::Ack { .. }) => Kind::Ack,
            Event::RelayBroken => Kind::RelayBroken,
            _ => Kind::Other,
        }
    }
}
