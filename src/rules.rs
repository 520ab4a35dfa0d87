//! The rules of the strict profile (SPEC.md), with their level and a one-line statement, so
//! that a failure can say which rule broke and what it demands.

use serde::Serialize;

/// How much breaking a rule matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Breaking it is a conformance failure.
    Must,
    /// Breaking it is a warning (a failure with `--strict`).
    Should,
    /// Not a rule: a project decision (`DEC-n`, SPEC.md §4) where the profile is silent.
    /// Another careful reading is possible, so a departure is a warning that names the
    /// decision (`wire-decisions.md`, "How departures are graded"); `--strict` makes it a
    /// failure like any warning.
    Decision,
}

impl Level {
    /// How reports name the level: `MUST`, `SHOULD`, `DECISION`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::Decision => "DECISION",
        }
    }

    /// Whether a departure at this level is only a warning (without `--strict`).
    pub fn is_warning(self) -> bool {
        !matches!(self, Level::Must)
    }
}

/// One rule of the profile.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Rule {
    /// The rule's ID as SPEC.md writes it (`MSG-2`, `LEG-8`).
    pub id: &'static str,
    /// MUST or SHOULD.
    pub level: Level,
    /// One-line statement of what the rule demands, as reports print it.
    pub statement: &'static str,
}

use Level::{Must, Should};

const fn r(id: &'static str, level: Level, statement: &'static str) -> Rule {
    Rule {
        id,
        level,
        statement,
    }
}

/// The rules of the legacy profile (`legacy-profile.md`, SPEC.md "Legacy profile"), which
/// replace some strict rules when a target is judged through the circulating dialect.
pub const LEGACY_RULES: &[Rule] = &[
    r("LEG-1", Must, "The client's first write is its name: 1 to 4 bytes in 0x21..=0x7E, nothing else."),
    r("LEG-2", Must, "Every other client frame is one write: opcode, ASCII fields separated by one space, no terminator; it fits one 2048-byte read."),
    r("LEG-3", Should, "Two frames that reach a receiver in one read are both honoured."),
    r("LEG-4", Must, "MSG is 0x0001 TO, one space, TEXT (the rest of the write)."),
    r("LEG-5", Must, "FILE is 0x0002 TO FILENAME SIZE [PORT IP], decimal ASCII numbers, no space in a filename."),
    r("LEG-6", Must, "LIST is 0x0003 alone; ACK is 0x0004 FILENAME, with or without a trailing 0x00."),
    r("LEG-7", Must, "A forwarded message has no opcode: [FROM]: TEXT."),
    r("LEG-8", Must, "A forwarded FILE is 0x0002 and the header as written; a relay header fills a 2048-byte block (header, 0x00, padding) before the body."),
    r("LEG-9", Must, "A LIST reply is the bare text \"Lista de clientes:\\n\" and its \"Cliente i: name\\n\" lines."),
    r("LEG-10", Must, "An error is a bare human-readable text, one write (an opcode-5 frame is accepted too)."),
    r("LEG-11", Must, "An ACK is forwarded to the sender as 0x0004 FILENAME."),
    r("LEG-12", Must, "Server frames are one write each; a receiver reads one as the bytes that arrive together."),
    r("LEG-13", Must, "An unknown opcode gets an error text and the connection stays usable."),
];

/// Every rule of the strict profile, in SPEC.md order.
pub const RULES: &[Rule] = &[
    r("ENC-1", Must, "Integers are unsigned big-endian; the opcode is 2 bytes."),
    r("ENC-2", Must, "A variable-length field is a byte string ended by one 0x00 byte."),
    r("ENC-3", Must, "A frame may arrive split across segments, several frames in one; receivers reassemble the stream."),
    r("CONN-1", Must, "TCP, port 8080 by default, every tool takes another port as an option."),
    r("NAME-1", Must, "A client's first 4 bytes are its name, no opcode; a valid name is 4 bytes in 0x21..=0x7E."),
    r("NAME-2", Must, "The server sends nothing on a successful login."),
    r("NAME-3", Must, "An invalid name gets ERROR \"bad-name: …\" and the connection is closed."),
    r("NAME-4", Must, "A name already connected gets ERROR \"name-taken: …\", the new connection is closed, the existing one untouched."),
    r("NAME-5", Must, "A name is free again as soon as its connection ends."),
    r("NAME-6", Should, "A connection that has not sent its 4 name bytes within the handshake timeout is closed."),
    r("CONN-2", Must, "A server at its client limit sends ERROR \"server-full: …\" and closes the new connection."),
    r("MSG-1", Must, "Client → server: 0x0001 | to[4] | text 0x00."),
    r("MSG-2", Must, "Server → recipient: 0x0001 | from[4] | text 0x00, with the sender's name."),
    r("MSG-3", Must, "The text is delivered byte for byte, including an empty text."),
    r("MSG-4", Must, "A message to a name not connected gets ERROR \"unknown-recipient: …\"; the sender stays connected."),
    r("MSG-5", Must, "A message to oneself is delivered to oneself."),
    r("LIM-1", Must, "Text longer than the server's limit gets ERROR \"too-large: …\" and the connection is closed."),
    r("FILE-1", Must, "Client → server header: 0x0002 | to[4] | filename 0x00 | size u64 | port u32 | ip 0x00 (ip ≤ 45 bytes)."),
    r("FILE-2", Must, "port 0 is relay mode: exactly size body bytes follow; the server forwards an empty ip."),
    r("FILE-3", Must, "Server → recipient: the same header with the sender's name, then the body streamed as it arrives."),
    r("FILE-4", Must, "port ≠ 0 is P2P mode: no body through the server; the recipient connects to ip:port and reads size bytes."),
    r("FILE-5", Should, "In P2P mode the server replaces ip with the sender's address as it sees it."),
    r("FILE-6", Must, "A filename is 1..=255 bytes without '/', '\\\\' or 0x00 and is not '.' or '..'; otherwise ERROR \"malformed: …\" and close."),
    r("FILE-7", Must, "A file for a name not connected gets ERROR \"unknown-recipient: …\"; a relay body is read and discarded."),
    r("FILE-8", Must, "If the recipient disconnects during a relayed body, the sender gets ERROR \"transfer-aborted: …\"."),
    r("FILE-9", Must, "If the sender disconnects during a relayed body, the server closes the recipient's connection."),
    r("ORD-1", Must, "Frames from one sender to one recipient arrive in the order sent."),
    r("ORD-2", Must, "A relayed body is contiguous on the recipient's stream: no other frame inside it."),
    r("LIST-1", Must, "Client → server: 0x0003 alone."),
    r("LIST-2", Must, "Server → client: 0x0003 | \"Lista de clientes:\\n\" + \"Cliente {i}: {name}\\n\" per client in connection order | 0x00."),
    r("ACK-1", Must, "Recipient → server and server → sender: 0x0004 | filename 0x00."),
    r("ACK-2", Must, "An ACK goes to the sender of the oldest unacknowledged transfer of that filename to the acknowledging client."),
    r("ACK-3", Must, "An ACK that matches no transfer gets ERROR \"unexpected-ack: …\"; the connection stays open."),
    r("ACK-4", Should, "The recipient sends its ACK only after it has all size bytes."),
    r("ERR-1", Must, "Server → client: 0x0005 | text 0x00, text = reason token, \": \", detail."),
    r("ERR-2", Must, "An unknown opcode gets ERROR \"bad-opcode: …\" and the connection is closed."),
    r("ERR-3", Must, "An ERROR frame sent by a client is read and discarded; the connection stays open."),
    r("ERR-4", Must, "No input, however malformed, makes the server stop serving its other clients."),
    r("ERR-5", Should, "After an ERROR that closes, the server half-closes and drains input for up to 1 s (lingering close)."),
    r("ROB-1", Must, "A slow or stalled recipient never blocks delivery between other clients."),
    r("ROB-2", Must, "A client disconnecting at any byte of any frame leaves the server serving everyone and frees its name."),
    r("ROB-3", Should, "Memory per connection stays bounded whatever sizes a header declares."),
    // Client duties (SPEC.md §2.9): what the client suite (`msrp-check --client`) holds a
    // client to beyond the frames it sends; no server scenario cites them.
    r("CLI-1", Must, "A received file is written only inside the download folder, under a name with no path separator, no control character, no leading dot."),
    r("CLI-2", Should, "A received file never replaces an existing file."),
    r("CLI-3", Must, "No memory is allocated from a declared size; a relay body cut short leaves no file under its final name and sends no ACK."),
    r("CLI-4", Must, "No server input crashes or hangs the client; where it cannot continue it says why and disconnects."),
    r("CLI-5", Must, "Every MSG (with its sender), LIST reply and ERROR received is shown to the person (standard output for a scripted client)."),
    r("CLI-6", Should, "A received file is not saved under a reserved device name (CON, NUL, COM1, …)."),
];

/// Whether a rule binds only clients under test (`CLI-n`): server-mode coverage leaves it out.
pub fn is_client_duty(id: &str) -> bool {
    id.starts_with("CLI-")
}

/// Looks a rule up by ID.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().chain(LEGACY_RULES).find(|r| r.id == id)
}

/// A project decision of SPEC.md §4: this project's reading of a point the profile leaves
/// open. Only decisions that leave a real choice are listed as citable (`citable`); the
/// others restate what a rule already forces, and a departure from them is a departure from
/// that rule (`restates`).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Decision {
    /// The decision's ID as SPEC.md §4 writes it (`DEC-4`).
    pub id: &'static str,
    /// The rule(s) the decision reads, for reports ("the profile is silent on …").
    pub reads: &'static str,
    /// One-line statement of the reading.
    pub statement: &'static str,
    /// `None` when the decision leaves a real choice (scenarios may cite it); else the rule
    /// that already forces it, which scenarios cite instead.
    pub restates: Option<&'static str>,
}

const fn d(id: &'static str, reads: &'static str, statement: &'static str) -> Decision {
    Decision {
        id,
        reads,
        statement,
        restates: None,
    }
}

const fn forced(id: &'static str, rule: &'static str, statement: &'static str) -> Decision {
    Decision {
        id,
        reads: rule,
        statement,
        restates: Some(rule),
    }
}

/// Every decision of SPEC.md §4, in order (a test keeps this list and SPEC.md equal).
pub const DECISIONS: &[Decision] = &[
    forced("DEC-1", "ENC-3", "Login bytes and the first frames may arrive in one segment; the server parses one stream."),
    d("DEC-2", "NAME-3, CONN-2, NAME-4", "Login checks run in this order: bad name, server full, name taken; the limit counts logged-in clients."),
    d("DEC-3", "NAME-6", "A connection closed for the handshake timeout gets no ERROR; the server just closes it."),
    d("DEC-4", "ACK-1, ACK-3", "An ACK filename over 255 bytes is malformed and closes; an empty or unmatched one gets unexpected-ack."),
    d("DEC-5", "ERR-3", "A client's ERROR text over the text limit gets too-large and a close; otherwise it is discarded."),
    d("DEC-6", "FILE-1, FILE-5", "ip is only length-checked; relay forwards it empty; P2P writes the peer address, IPv4-mapped as dotted IPv4."),
    d("DEC-7", "ACK-2", "Pending transfers per (recipient, filename), FIFO; an ACK for a departed sender is consumed silently; never to a reused name."),
    d("DEC-8", "ROB-1, ROB-3", "A client whose queue exceeds the per-connection budget is disconnected without an ERROR."),
    d("DEC-9", "FILE-8", "transfer-aborted is queued as soon as the recipient is gone; the rest of the body is read and discarded."),
    forced("DEC-10", "FILE-3", "Relay bodies are forwarded as they arrive, in any segmentation."),
    forced("DEC-11", "FILE-7", "A P2P offer to an unknown name gets unknown-recipient; there is no body to discard."),
    d("DEC-12", "FILE-2, MSG-5", "A relay to oneself is allowed and delivered."),
    forced("DEC-13", "LIST-2", "The LIST reply includes the requester."),
    d("DEC-14", "CONN-1", "Graceful shutdown flushes queued frames for up to 1 s, then closes every connection with FIN."),
    forced("DEC-15", "ERR-1", "ERROR detail text is free-form; checks compare only the reason token."),
    forced("DEC-16", "ROB-3", "A FILE size is any u64; nobody allocates from a declared size."),
    d("DEC-17", "FILE-8", "A recipient that half-closes (FIN) has disconnected: a relay to it is aborted at once."),
    d("DEC-18", "FILE-1, FILE-4", "Every malformed error closes the connection, ip over 45 bytes and port over 65 535 included."),
    d("DEC-19", "ROB-1", "A client that stops reading is disconnected at its queue budget; nobody is told."),
    d("DEC-20", "ROB-3, ERR-1", "One memory budget bounds all connections' buffers; past it the largest holders are closed, without an ERROR."),
    d("DEC-21", "ROB-3, ROB-1", "A connection silent inside a frame or relayed body past the frame-progress timeout is closed, without an ERROR."),
];

/// Looks a decision up by ID.
pub fn decision(id: &str) -> Option<&'static Decision> {
    DECISIONS.iter().find(|d| d.id == id)
}

/// What a departure is blamed on: a rule, or a decision graded as [`Level::Decision`].
/// Returns the level and the one-line statement; `None` for an unknown ID.
pub fn blame(id: &str) -> Option<(Level, String)> {
    if let Some(r) = rule(id) {
        return Some((r.level, r.statement.to_string()));
    }
    decision(id).map(|d| {
        (
            Level::Decision,
            format!(
                "project decision; the profile is silent here ({}): {}",
                d.reads, d.statement
            ),
        )
    })
}

/// Rule → ids of the scenarios that list it under `rules:`, for every rule `keep` accepts,
/// in SPEC.md order. `scenarios` gives each scenario's id and rules.
pub fn coverage<'a>(
    keep: impl Fn(&str) -> bool,
    scenarios: impl Iterator<Item = (&'a str, &'a [String])> + Clone,
) -> Vec<(&'static str, Level, Vec<String>)> {
    RULES
        .iter()
        .filter(|r| keep(r.id))
        .map(|r| {
            let ids = scenarios
                .clone()
                .filter(|(_, rules)| rules.iter().any(|x| x == r.id))
                .map(|(id, _)| id.to_string())
                .collect();
            (r.id, r.level, ids)
        })
        .collect()
}
