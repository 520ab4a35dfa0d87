//! The model oracle: what each client of a model case received, compared with what the
//! conversation owes it. Every departure is collected, and the most telling one is reported
//! (a misrouted message is also "lost" for its addressee: the report names the misrouting).

use std::collections::BTreeMap;

use msrp_reference::frame::{FileHeader, Name, Reason};
use msrp_reference::Profile;

use super::received::{decode, Item};
use super::{Conversation, Exchange, Sent};
use crate::fuzz::exec::{Execution, Received};
use crate::fuzz::finding::Signature;

/// A kind of departure, most telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
    /// The oracle's name in the finding's signature and file names.
    fn oracle(self) -> &'static str {
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

/// Judges a model case's execution: `None` when every client got exactly what the model
/// says, else the most telling departure as a signature and one line.
pub fn judge(
    conv: &Conversation,
    exec: &Execution,
    profile: Profile,
) -> Option<(Signature, String)> {
    let mut j = Judge::new(conv, profile);
    let empty = Received::default();
    for k in 0..conv.names.len() as u8 {
        j.client(k, exec.received.get(&k).unwrap_or(&empty));
    }
    j.leftovers();
    j.found.sort_by_key(|d| d.0);
    let (kind, rule, what) = j.found.into_iter().next()?;
    Some((
        Signature {
            oracle: kind.oracle().into(),
            rule: rule.into(),
        },
        what,
    ))
}

/// A departure: its kind, the rule it breaks, one line for the report.
type Departure = (Kind, &'static str, String);

/// One judgement in progress.
struct Judge<'a> {
    conv: &'a Conversation,
    profile: Profile,
    /// Exchange indices each client is still owed a delivery of, in the order sent.
    owed: BTreeMap<u8, Vec<usize>>,
    /// Exchange indices whose ACK each sender is still owed.
    owed_acks: BTreeMap<u8, Vec<usize>>,
    found: Vec<Departure>,
}

/// What a delivered message or file is, for matching it against the exchanges.
struct Delivery<'d> {
    /// The name field it came with.
    name: &'d Name,
    /// "a message \"hi\"" or "the file \"a.bin\"", for the report.
    shown: String,
    is_file: bool,
}

impl<'a> Judge<'a> {
    fn new(conv: &'a Conversation, profile: Profile) -> Judge<'a> {
        let mut owed: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
        let mut owed_acks: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
        for (i, ex) in conv.exchanges.iter().enumerate() {
            owed.entry(ex.to).or_default().push(i);
            if let Sent::File { ack: true, .. } = ex.what {
                owed_acks.entry(ex.from).or_default().push(i);
            }
        }
        Judge {
            conv,
            profile,
            owed,
            owed_acks,
            found: Vec::new(),
        }
    }

    /// "c1 (Baaa)".
    fn who(&self, k: u8) -> String {
        let n = self.conv.names[usize::from(k)];
        format!("c{k} ({})", String::from_utf8_lossy(&n))
    }

    fn note(&mut self, kind: Kind, rule: &'static str, what: String) {
        self.found.push((kind, rule, what));
    }

    /// Everything client `k` received, item by item.
    fn client(&mut self, k: u8, received: &Received) {
        let (items, error) = decode(received, self.profile);
        if let Some(e) = error {
            // A decode error ends with its rule in parentheses: "… (ENC-2)".
            let rule = e
                .rsplit_once('(')
                .map(|(_, r)| r.trim_end_matches(')'))
                .and_then(crate::rules::rule)
                .map_or("ENC-3", |r| r.id);
            let what = format!("{} received bytes that do not decode: {e}", self.who(k));
            self.note(Kind::MalformedOutput, rule, what);
        }
        if !items.iter().any(|i| matches!(i, Item::List)) {
            let what = format!("{} asked for the LIST and got no reply", self.who(k));
            self.note(Kind::Lost, "LIST-2", what);
        }
        for item in items {
            match item {
                Item::List => {}
                Item::Error { text } => self.error(k, &text),
                Item::Msg { name, text } => self.message(k, &name, &text),
                Item::File {
                    header,
                    body,
                    complete,
                } => self.file(k, &header, &body, complete),
                Item::Ack { filename } => self.ack(k, &filename),
            }
        }
    }

    /// An ERROR client `k` got: no frame of a valid conversation deserves one.
    fn error(&mut self, k: u8, text: &[u8]) {
        let (rule, why) = refused_rule(self.conv, k, text, self.profile);
        let what = format!(
            "{} got an error, {}, in a valid conversation{why}",
            self.who(k),
            shown(text)
        );
        self.note(Kind::ErrorOnValid, rule, what);
    }

    /// A message client `k` got with the name field `name`.
    fn message(&mut self, k: u8, name: &Name, text: &[u8]) {
        let d = Delivery {
            name,
            shown: format!("a message {}", shown(text)),
            is_file: false,
        };
        self.delivery(
            k,
            &d,
            |e| matches!(&e.what, Sent::Msg { text: t } if t[..] == text[..]),
            |e| match &e.what {
                Sent::Msg { text: t } => Some(first_difference(t, text)),
                Sent::File { .. } => None,
            },
        );
    }

    /// A file client `k` got: its header, and the body bytes that came (all of them when
    /// `complete`).
    fn file(&mut self, k: u8, header: &FileHeader, body: &[u8], complete: bool) {
        if !complete {
            let what = format!(
                "{} got the file {} but only {} of its {} body bytes",
                self.who(k),
                shown(&header.filename),
                body.len(),
                header.size
            );
            self.note(Kind::Lost, "FILE-3", what);
            return;
        }
        let named = |e: &Exchange| matches!(&e.what, Sent::File { filename, .. } if filename[..] == header.filename[..]);
        let d = Delivery {
            name: &header.name,
            shown: format!("the file {}", shown(&header.filename)),
            is_file: true,
        };
        self.delivery(
            k,
            &d,
            |e| named(e) && matches!(&e.what, Sent::File { body: b, .. } if b[..] == body[..]),
            |e| match &e.what {
                Sent::File { body: b, .. } if named(e) => {
                    Some(format!("its body: {}", first_difference(b, body)))
                }
                _ => None,
            },
        );
    }

    /// Whether `name` is the name field the delivery of `e` must carry: the sender's (MSG-2,
    /// FILE-3), except a legacy FILE, which carries the recipient's own (LEG-8).
    fn name_ok(&self, d: &Delivery, e: &Exchange) -> bool {
        let owner = if self.profile == Profile::Legacy && d.is_file {
            e.to
        } else {
            e.from
        };
        d.name.as_bytes() == self.conv.names[usize::from(owner)]
    }

    /// One delivered message or file at client `k`. `sent` says whether an exchange carried
    /// exactly these bytes; `differs` describes how it differs from one that did not.
    fn delivery(
        &mut self,
        k: u8,
        d: &Delivery,
        sent: impl Fn(&Exchange) -> bool,
        differs: impl Fn(&Exchange) -> Option<String>,
    ) {
        let conv = self.conv;
        let (name_rule, bytes_rule) = if d.is_file {
            ("FILE-3", "FILE-3")
        } else {
            ("MSG-2", "MSG-3")
        };
        let mine = self.owed.get(&k).cloned().unwrap_or_default();
        let exact = mine
            .iter()
            .position(|&i| sent(&conv.exchanges[i]) && self.name_ok(d, &conv.exchanges[i]));
        if let Some(p) = exact {
            let i = mine[p];
            let from = conv.exchanges[i].from;
            if let Some(owed) = self.owed.get_mut(&k) {
                owed.remove(p);
            }
            // ORD-1: an exchange of the same sender to `k`, sent earlier, is still owed.
            if let Some(&earlier) = mine[..p].iter().find(|&&j| conv.exchanges[j].from == from) {
                let what = format!(
                    "{} got {} from {} before exchange {earlier}, which {} sent first",
                    self.who(k),
                    d.shown,
                    self.who(from),
                    self.who(from)
                );
                self.note(Kind::Reordered, "ORD-1", what);
            }
            return;
        }
        let (kind, rule, what) =
            if let Some(e) = mine.iter().map(|&i| &conv.exchanges[i]).find(|e| sent(e)) {
                let what = format!(
                    "{} got {} from {} with the name \"{}\"",
                    self.who(k),
                    d.shown,
                    self.who(e.from),
                    String::from_utf8_lossy(d.name.as_bytes())
                );
                (Kind::WrongSender, name_rule, what)
            } else if let Some(e) = conv.exchanges.iter().find(|e| sent(e) && e.to != k) {
                let what = format!(
                    "{} got {} that {} sent to {}",
                    self.who(k),
                    d.shown,
                    self.who(e.from),
                    self.who(e.to)
                );
                (Kind::WrongRecipient, name_rule, what)
            } else if conv.exchanges.iter().any(|e| sent(e) && e.to == k) {
                let what = format!("{} got {} a second time", self.who(k), d.shown);
                (Kind::Duplicated, bytes_rule, what)
            } else {
                let nearest = mine
                    .iter()
                    .map(|&i| &conv.exchanges[i])
                    .find_map(|e| differs(e).map(|diff| (e, diff)));
                let detail = match nearest {
                    // A cut frame that arrives mangled points at reassembly (ENC-3) as the
                    // likely cause; the rule broken on the wire is still the delivery's.
                    Some((e, diff)) if !e.cuts.is_empty() => format!(
                        ", where {} sent one: {diff}; it was written in {} pieces (ENC-3)",
                        self.who(e.from),
                        e.cuts.len() + 1
                    ),
                    Some((e, diff)) => format!(", where {} sent one: {diff}", self.who(e.from)),
                    None => String::new(),
                };
                let what = format!("{} got {} that nobody sent{detail}", self.who(k), d.shown);
                (Kind::Corrupted, bytes_rule, what)
            };
        self.note(kind, rule, what);
    }

    /// An ACK forwarded to client `k` (ACK-2: it goes to the sender of the file).
    fn ack(&mut self, k: u8, filename: &[u8]) {
        let conv = self.conv;
        let named = |e: &Exchange| matches!(&e.what, Sent::File { filename: f, .. } if f[..] == filename[..]);
        let owed = self.owed_acks.entry(k).or_default();
        if let Some(p) = owed.iter().position(|&i| named(&conv.exchanges[i])) {
            owed.remove(p);
        } else if let Some(e) = conv.exchanges.iter().find(|e| named(e) && e.from != k) {
            let what = format!(
                "{} got the ACK of {}, a file {} sent",
                self.who(k),
                shown(filename),
                self.who(e.from)
            );
            self.note(Kind::WrongRecipient, "ACK-2", what);
        } else {
            let what = format!(
                "{} got an ACK of {}, which names no file it sent",
                self.who(k),
                shown(filename)
            );
            self.note(Kind::Corrupted, "ACK-1", what);
        }
    }

    /// What is still owed once everything received was judged: lost.
    fn leftovers(&mut self) {
        let conv = self.conv;
        let owed: Vec<(u8, usize)> = self
            .owed
            .iter()
            .filter_map(|(k, v)| v.first().map(|&i| (*k, i)))
            .collect();
        for (k, i) in owed {
            let e = &conv.exchanges[i];
            let (what, rule) = match &e.what {
                Sent::Msg { text } => (format!("the message {}", shown(text)), "MSG-3"),
                Sent::File { filename, .. } => (format!("the file {}", shown(filename)), "FILE-3"),
            };
            let line = format!("{} never got {what} from {}", self.who(k), self.who(e.from));
            self.note(Kind::Lost, rule, line);
        }
        let acks: Vec<(u8, usize)> = self
            .owed_acks
            .iter()
            .filter_map(|(k, v)| v.first().map(|&i| (*k, i)))
            .collect();
        for (k, i) in acks {
            if let Sent::File { filename, .. } = &conv.exchanges[i].what {
                let what = format!(
                    "{} never got the ACK {} sent for {}",
                    self.who(k),
                    self.who(conv.exchanges[i].to),
                    shown(filename)
                );
                self.note(Kind::Lost, "ACK-2", what);
            }
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

/// Bytes quoted for a report line, cut at 40 with the length.
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
