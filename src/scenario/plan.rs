//! A scenario's steps as the runner executes them: parsed once, when the file is loaded.
//!
//! The file format ([`super::model`]) writes a `send` as one map with seven optional frame
//! keys and an `expect` with six; here each is one variant of [`Payload`] or [`Expectation`],
//! its matchers compiled ([`Match`]), its reason token, hex and digest decoded. Whatever the
//! file can say but cannot mean — two payloads, none, `list: false`, `any: false`, a body too
//! large to send in one step — is a load error with the step's line, never a run-time one.

use std::time::Duration;

use msrp_reference::Reason;

use super::checks::{check_blame, check_seconds, exactly_one};
use super::content::parse_hex;
use super::matching::Match;
use super::model::{
    AliveStep, ClientOr, ClosedStep, ConnectStep, DataSpec, DisconnectStep, FileIn, FileOut,
    FileStep, Mode, SendStep, SilenceStep, Step as StepDecl, Text,
};
use super::Scenario;

/// Most bytes one `send` step may write (a larger body is a `file` step's work).
pub const MAX_SEND: u64 = 256 << 20;

/// One step, ready to run.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Step {
    /// Open a connection (see [`ConnectStep`]).
    Connect(ClientOr<ConnectStep>),
    /// Write one payload.
    Send(Send),
    /// A whole transfer.
    File(FileStep),
    /// The next frame must match.
    Expect(Expect),
    /// Nothing may arrive for a while.
    ExpectSilence(SilenceStep),
    /// The server must close the connection.
    ExpectClosed(ClientOr<ClosedStep>),
    /// The harness closes a connection.
    Disconnect(ClientOr<DisconnectStep>),
    /// Wait.
    Sleep(Duration),
    /// The target still serves a fresh connection.
    ExpectAlive(AliveStep),
}

/// `send`: what to write, from whom, in which writes.
#[derive(Debug, Clone)]
pub struct Send {
    /// Sending client or group (each member writes the same bytes, in turn).
    pub from: String,
    /// The bytes' meaning.
    pub payload: Payload,
    /// Write sizes to cut the bytes into; the rest goes in one last write.
    pub split: Vec<usize>,
    /// Pause between those writes.
    pub pause: Duration,
}

/// What one `send` writes.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A MSG to a client or literal name (MSG-1).
    Msg {
        /// Recipient: logical client, `group.N`, or a literal name.
        to: String,
        /// The text's bytes.
        text: Vec<u8>,
    },
    /// A FILE header, with its whole generated body when `body_seed` is set (FILE-1).
    File(FileOut),
    /// A LIST request.
    List,
    /// An ACK for this filename.
    Ack(Vec<u8>),
    /// A client ERROR with this text.
    Error(Vec<u8>),
    /// These bytes, as they are.
    Raw(Vec<u8>),
    /// Generated body bytes (at most [`MAX_SEND`]).
    Data(DataSpec),
}

/// `expect`: which connection(s), what must arrive, and who is blamed otherwise.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Client or group (each member in turn).
    pub client: String,
    /// What the next frame must be.
    pub what: Expectation,
    /// Rule blamed on a mismatch (default: the scenario's first).
    pub rule: Option<String>,
    /// The decision (`DEC-n`) the expectation rests on: a departure is a warning.
    pub decision: Option<String>,
    /// Seconds to wait.
    pub timeout: Option<f64>,
}

/// The frame an `expect` step waits for.
#[derive(Debug, Clone)]
pub enum Expectation {
    /// A MSG from `from` (a group: one from each member, any order) whose text matches.
    Msg {
        /// The sender: client, group or literal name.
        from: String,
        /// The text.
        text: Match,
    },
    /// A FILE header (and in relay mode its whole body).
    File(FileExpect),
    /// The LIST reply naming exactly these clients (logical or wire names), in order.
    List(Vec<String>),
    /// The LIST reply, its text matched.
    ListText(Match),
    /// An ACK whose filename matches.
    Ack(Match),
    /// An ERROR with this reason (ERR-1).
    Error(Reason),
}

/// A FILE header (and relay body) as expected (FILE-3).
#[derive(Debug, Clone)]
pub struct FileExpect {
    /// The sender: client, `group.N` or literal name.
    pub from: String,
    /// The filename.
    pub name: Match,
    /// Exact declared size.
    pub size: Option<u64>,
    /// Relay (port 0, empty ip, body follows) or P2P (port ≠ 0, no body).
    pub mode: Mode,
    /// Exact port of a P2P offer.
    pub port: Option<u32>,
    /// The `ip` field of a P2P offer (FILE-5).
    pub ip: Match,
    /// What the relayed body must hash to.
    pub body: Option<BodyDigest>,
}

/// How a relayed body is checked.
#[derive(Debug, Clone, Copy)]
pub enum BodyDigest {
    /// This SHA-256.
    Sha256([u8; 32]),
    /// The generated content of this seed, as long as the header says.
    Seed(u64),
}

/// The step as it runs, or what is wrong with it (the caller adds file and line).
pub(crate) fn plan(sc: &Scenario, step: &StepDecl) -> Result<Step, String> {
    let c = &sc.clients;
    Ok(match step {
        StepDecl::Connect(connect) => {
            if let ClientOr::Full(s) = connect {
                c.expand(&s.client)?;
                if let Some(raw) = &s.raw {
                    parse_hex(raw)?;
                }
                check_seconds("settle", s.settle)?;
            } else if let ClientOr::Client(name) = connect {
                c.expand(name)?;
            }
            Step::Connect(connect.clone())
        }
        StepDecl::Send(s) => Step::Send(plan_send(sc, s)?),
        StepDecl::File(f) => {
            c.one(&f.from)?;
            c.one(&f.to)?;
            check_blame(&f.rule, &f.decision)?;
            if f.fragment == Some(0) {
                return Err("fragment must be at least 1 byte".into());
            }
            check_seconds("timeout", f.timeout)?;
            Step::File(f.clone())
        }
        StepDecl::Expect(e) => {
            c.expand(&e.client)?;
            check_blame(&e.rule, &e.decision)?;
            check_seconds("timeout", e.timeout)?;
            Step::Expect(Expect {
                client: e.client.clone(),
                what: expectation(sc, e)?,
                rule: e.rule.clone(),
                decision: e.decision.clone(),
                timeout: e.timeout,
            })
        }
        StepDecl::ExpectSilence(s) => {
            c.expand(&s.client)?;
            check_blame(&s.rule, &s.decision)?;
            check_seconds("for", s.window)?;
            Step::ExpectSilence(s.clone())
        }
        StepDecl::ExpectClosed(closed) => {
            if let ClientOr::Full(s) = closed {
                c.expand(&s.client)?;
                check_blame(&s.rule, &s.decision)?;
                if s.no_error.is_some() && s.decision.is_some() {
                    return Err("no_error and decision together: the close rests on a rule (or decision), the missing ERROR on no_error".into());
                }
                check_blame(&None, &s.no_error).map_err(|e| format!("no_error: {e}"))?;
                check_seconds("timeout", s.timeout)?;
            } else if let ClientOr::Client(name) = closed {
                c.expand(name)?;
            }
            Step::ExpectClosed(closed.clone())
        }
        StepDecl::Disconnect(d) => {
            if let ClientOr::Full(d) = d {
                c.expand(&d.client)?;
                if let Some(raw) = &d.raw {
                    parse_hex(raw)?;
                }
            } else if let ClientOr::Client(name) = d {
                c.expand(name)?;
            }
            Step::Disconnect(d.clone())
        }
        StepDecl::Sleep(s) => {
            check_seconds("sleep", Some(*s))?;
            Step::Sleep(Duration::from_secs_f64(*s))
        }
        StepDecl::ExpectAlive(a) => {
            check_seconds("timeout", a.timeout)?;
            Step::ExpectAlive(a.clone())
        }
    })
}

/// A name a frame addresses must be expressible in the scenario's profiles.
fn wire_check(sc: &Scenario, name: &str) -> Result<(), String> {
    if sc.applies_to(msrp_reference::Profile::Strict) {
        sc.clients.wire_of(name).map(|_| ())
    } else {
        sc.clients.wire_name(name).map(|_| ())
    }
}

/// The one payload of a `send` map.
fn plan_send(sc: &Scenario, s: &SendStep) -> Result<Send, String> {
    sc.clients.expand(&s.from)?;
    check_seconds("pause", s.pause)?;
    let mut payloads = Vec::new();
    if let Some(m) = &s.msg {
        wire_check(sc, &m.to)?;
        let text = match &m.text {
            Text::Literal(s) => s.as_bytes().to_vec(),
            Text::Repeat(r) => r.repeat.as_bytes().repeat(r.times),
        };
        payloads.push((
            "msg",
            Payload::Msg {
                to: m.to.clone(),
                text,
            },
        ));
    }
    if let Some(f) = &s.file {
        wire_check(sc, &f.to)?;
        if f.body_seed.is_some() && f.size > MAX_SEND {
            return Err(format!(
                "body_seed: at most {MAX_SEND} bytes in one send; use a file step"
            ));
        }
        payloads.push(("file", Payload::File(f.clone())));
    }
    match s.list {
        Some(true) => payloads.push(("list", Payload::List)),
        Some(false) => {
            return Err("list: false sends nothing; write list: true, or leave the key out".into())
        }
        None => {}
    }
    if let Some(a) = &s.ack {
        payloads.push(("ack", Payload::Ack(a.as_bytes().to_vec())));
    }
    if let Some(e) = &s.error {
        payloads.push(("error", Payload::Error(e.as_bytes().to_vec())));
    }
    if let Some(raw) = &s.raw {
        payloads.push(("raw", Payload::Raw(parse_hex(raw)?)));
    }
    if let Some(d) = &s.data {
        if d.len > MAX_SEND {
            return Err(format!("data: at most {MAX_SEND} bytes in one send"));
        }
        payloads.push(("data", Payload::Data(d.clone())));
    }
    let payload = one_of(
        "send",
        &["msg", "file", "list", "ack", "error", "raw", "data"],
        payloads,
    )?;
    Ok(Send {
        from: s.from.clone(),
        payload,
        split: s.split.clone().unwrap_or_default(),
        pause: Duration::from_secs_f64(s.pause.unwrap_or(0.0)),
    })
}

/// The one expectation of an `expect` map.
fn expectation(sc: &Scenario, e: &super::model::ExpectStep) -> Result<Expectation, String> {
    let c = &sc.clients;
    let mut found = Vec::new();
    if let Some(m) = &e.msg {
        c.expand(&m.from)
            .or_else(|_| wire_check(sc, &m.from).map(|_| vec![]))?;
        found.push((
            "msg",
            Expectation::Msg {
                from: m.from.clone(),
                text: Match::load(m.text.as_ref())?,
            },
        ));
    }
    if let Some(f) = &e.file {
        found.push(("file", Expectation::File(file_expect(sc, f)?)));
    }
    if let Some(list) = &e.list {
        for n in list {
            wire_check(sc, n)?;
        }
        found.push(("list", Expectation::List(list.clone())));
    }
    if let Some(m) = &e.list_text {
        found.push(("list_text", Expectation::ListText(Match::load(Some(m))?)));
    }
    if let Some(m) = &e.ack {
        found.push(("ack", Expectation::Ack(Match::load(Some(m))?)));
    }
    if let Some(token) = &e.error {
        let reason = Reason::from_token(token)
            .ok_or_else(|| format!("error: \"{token}\" is not a reason token of ERR-1"))?;
        found.push(("error", Expectation::Error(reason)));
    }
    one_of(
        "expect",
        &["msg", "file", "list", "list_text", "ack", "error"],
        found,
    )
}

fn file_expect(sc: &Scenario, f: &FileIn) -> Result<FileExpect, String> {
    wire_check(sc, &f.from)?;
    let body = match (&f.sha256, f.seed) {
        (Some(h), _) => {
            let digest = parse_hex(h)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| format!("sha256 \"{h}\" is not 32 bytes of hex"))?;
            Some(BodyDigest::Sha256(digest))
        }
        (None, Some(seed)) => Some(BodyDigest::Seed(seed)),
        (None, None) => None,
    };
    Ok(FileExpect {
        from: f.from.clone(),
        name: Match::load(f.name.as_ref())?,
        size: f.size,
        mode: f.mode,
        port: f.port,
        ip: Match::load(f.ip.as_ref())?,
        body,
    })
}

/// The single item of `found`, or an error naming the keys `what` takes and those present.
fn one_of<T>(what: &str, keys: &[&str], found: Vec<(&str, T)>) -> Result<T, String> {
    let set: Vec<(&str, bool)> = keys
        .iter()
        .map(|k| (*k, found.iter().any(|(f, _)| f == k)))
        .collect();
    exactly_one(what, &set)?;
    found
        .into_iter()
        .next()
        .map(|(_, item)| item)
        .ok_or_else(|| format!("{what}: nothing to do"))
}
