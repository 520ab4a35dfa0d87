//! The scenario file format (YAML), as serde types. `scenarios/README.md` documents it and
//! `msrp-check schema` prints the JSON Schema derived from these same types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// One scenario file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Unique id, lowercase words joined by '-' (e.g. `msg-basic`).
    pub id: String,
    /// One line saying what the scenario shows.
    pub title: String,
    /// Rule IDs of SPEC.md the scenario checks; the first is blamed by default.
    pub rules: Vec<String>,
    /// Free-form tags for `--tag`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Profiles the scenario applies to (`strict`, `legacy`); default both. Raw bytes
    /// (`raw:`) are strict-profile bytes unless the scenario names `legacy` alone, and a
    /// scenario for `legacy` alone may use names of 1 to 4 bytes (LEG-1).
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Server settings the scenario depends on.
    #[serde(default)]
    pub server: ServerSettings,
    /// Default wait of every step, seconds (else `--timeout`).
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Pause after each login before the next step, seconds (default 0.02): the server says
    /// nothing on login (NAME-2), so only time orders logins of different connections.
    #[serde(default)]
    pub settle: Option<f64>,
    /// Logical client name → 4-byte wire name, or a group.
    pub clients: BTreeMap<String, ClientDecl>,
    /// What happens, in order.
    pub steps: Vec<Step>,
}

/// A client declaration.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ClientDecl {
    /// One client with this wire name (usually 4 bytes; anything else is sent as is).
    Single(String),
    /// `count` clients named `prefix` + zero-padded index, filling 4 bytes; refer to one as
    /// `group.3` and to all as `group`.
    Group(GroupDecl),
}

/// A group of clients `{ count, prefix }`: `count` clients named `prefix` followed by a zero-padded
/// index that fills the 4 bytes (`prefix: "cr"` gives `cr00`, `cr01`, …). Member N is referred to
/// as `group.N`, numbering from 0, the whole group as `group`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupDecl {
    /// Number of members; must fit the digits the prefix leaves (`prefix: "cr"` allows 1..=100).
    pub count: usize,
    /// First bytes of every member's wire name, 1 to 3 bytes.
    pub prefix: String,
}

/// Server settings a scenario needs; the embedded server is started with them, a foreign
/// target must be declared to have them (`--server-setting`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerSettings {
    /// Logged-in clients the server allows (CONN-2); reference default 20000.
    pub max_clients: Option<usize>,
    /// Longest MSG (and client ERROR) text the server accepts, bytes before the terminator (LIM-1,
    /// DEC-5); reference default 65535, and assumed 65535 for a foreign target unless declared.
    pub max_text: Option<usize>,
    /// Seconds.
    pub handshake_timeout: Option<f64>,
    /// Seconds a connection inside a frame or a relayed body may send nothing before the
    /// server closes it (DEC-21); reference default 30.
    pub frame_timeout: Option<f64>,
}

/// One step. (Steps are parsed once and few; boxing the large variants buys nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Open a connection and (by default) send the 4-byte name.
    Connect(ClientOr<ConnectStep>),
    /// Write a frame (typed, or raw hex), optionally fragmented.
    Send(SendStep),
    /// A whole transfer: header, body (relay) or side connection (P2P), ACK.
    File(FileStep),
    /// Wait for the next frame on one connection and match it.
    Expect(ExpectStep),
    /// Nothing may arrive on a connection for a while.
    ExpectSilence(SilenceStep),
    /// The server must close the connection.
    ExpectClosed(ClientOr<ClosedStep>),
    /// Close a connection, gracefully or with a reset, optionally after a partial frame.
    Disconnect(ClientOr<DisconnectStep>),
    /// Wait, seconds.
    Sleep(f64),
    /// The target is still serving: a fresh connection, a login and a LIST are answered
    /// within the wait (blamed on ERR-4 when not). `msrp-check fuzz` ends its reproductions
    /// with it.
    ExpectAlive(AliveStep),
}

/// `expect_alive`: how long the fresh connection may wait for the LIST answer.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AliveStep {
    /// Seconds to wait for the answer (default: the step wait of the run, at least 2 s).
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// A step given either as a bare client name or in full.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ClientOr<T> {
    /// Only the logical client or group, every other key at its default (`- connect: ana`,
    /// `- disconnect: ana`).
    Client(String),
    /// The step as a map with a `client` key and its options.
    Full(T),
}

/// `connect`: open a connection for a client (or each member of a group, in index order) and by
/// default send its wire name, then settle.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectStep {
    /// Logical client or group to connect.
    pub client: String,
    /// Send the name (default true).
    #[serde(default)]
    pub login: Option<bool>,
    /// Send these hex bytes instead of the name.
    #[serde(default)]
    pub raw: Option<String>,
    /// Pause after login, seconds (default: the scenario's `settle`).
    #[serde(default)]
    pub settle: Option<f64>,
}

/// What to write; exactly one of the frame fields.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// Sending client, or a group (each member writes the same bytes, in turn).
    pub from: String,
    /// A MSG: `00 01 | to | text | 00`.
    pub msg: Option<MsgOut>,
    /// A FILE header `00 02 | to | name 00 | size u64 | port u32 | ip 00`, with `body_seed` also
    /// followed by its whole body.
    pub file: Option<FileOut>,
    /// A LIST request (`list: true`).
    pub list: Option<bool>,
    /// An ACK for this filename.
    pub ack: Option<String>,
    /// An ERROR with this text.
    pub error: Option<String>,
    /// Raw bytes in hex (spaces allowed).
    pub raw: Option<String>,
    /// Generated body bytes (after a relay FILE header sent with `file`).
    pub data: Option<DataSpec>,
    /// Write sizes to cut the bytes into; the rest goes in one last write.
    pub split: Option<Vec<usize>>,
    /// Pause between the writes of `split`, seconds.
    pub pause: Option<f64>,
}

/// `send.msg`: a MSG frame as a client writes it (MSG-1). No validation, so it also writes invalid
/// frames.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsgOut {
    /// Recipient: a logical client, `group.N` or a literal 4-byte name (to address nobody: `zzzz`).
    pub to: String,
    /// Message text: a string, or `{ repeat: "x", times: 65536 }`.
    pub text: Text,
}

/// A text: a literal string, or a byte repeated.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Text {
    /// Exactly the bytes of this string (UTF-8; YAML double quotes for escapes such as `"\0"`).
    Literal(String),
    /// One string repeated: `{ repeat: "x", times: 65536 }`.
    Repeat(RepeatText),
}

/// A text made of one string repeated, for long texts (the text limit and beyond).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatText {
    /// The string to repeat (usually one character).
    pub repeat: String,
    /// How many times it is written; the text is that many times the string's bytes long.
    pub times: usize,
}

/// `send.file`: a FILE header as a client writes it (FILE-1). No validation, so it also writes
/// invalid headers (`name: "../x"`, `port: 65536`, a 46-byte `ip`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileOut {
    /// Recipient: a logical client, `group.N` or a literal 4-byte name.
    pub to: String,
    /// Filename written in the header (the bytes of this string).
    pub name: String,
    /// Declared body size, bytes (any u64).
    pub size: u64,
    /// 0 (default) is relay mode.
    #[serde(default)]
    pub port: u32,
    /// The `ip` field (default empty, as in relay mode).
    #[serde(default)]
    pub ip: String,
    /// Also write the whole generated body of this seed right after the header.
    #[serde(default)]
    pub body_seed: Option<u64>,
}

/// `len` bytes of the deterministic content of `seed`, starting at `offset`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Number of bytes to write (at most 256 MiB).
    pub len: u64,
    /// Seed of the generated content (default 0).
    #[serde(default)]
    pub seed: u64,
    /// Position in the seed's content to start at, bytes (default 0): continues a body where an
    /// earlier `data` stopped.
    #[serde(default)]
    pub offset: u64,
}

/// How a file travels: `relay` (port 0, the body goes through the server, FILE-2) or `p2p`
/// (port ≠ 0, a side connection, FILE-4).
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The body follows the header on the server connection (port 0, empty ip; FILE-2).
    #[default]
    Relay,
    /// The sender listens on a port and the recipient fetches the body on a side connection
    /// (FILE-4).
    P2p,
}

/// `file`: a whole transfer between two connected clients, checked end to end: header, body (relay)
/// or side connection (P2P), then by default the ACK.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileStep {
    /// Sending client (a single client or `group.N`).
    pub from: String,
    /// Receiving client (a single client or `group.N`, different from `from`).
    pub to: String,
    /// Filename of the header.
    pub name: String,
    /// Body size, bytes.
    pub size: u64,
    /// `relay` (default) or `p2p`.
    #[serde(default)]
    pub mode: Mode,
    /// Sender's write size (default 2048, FILE-2).
    #[serde(default)]
    pub fragment: Option<usize>,
    /// Content seed (default 0).
    #[serde(default)]
    pub seed: u64,
    /// The recipient acknowledges and the sender expects the ACK (default true).
    #[serde(default)]
    pub ack: Option<bool>,
    /// Rule blamed when the transfer fails.
    #[serde(default)]
    pub rule: Option<String>,
    /// The project decision (`DEC-n` of SPEC.md §4) this step's expectation rests on: a
    /// departure here is a warning naming the decision, never a failure.
    #[serde(default)]
    pub decision: Option<String>,
    /// The step's wait, seconds; reading the body gets this wait plus `size` / 20 MB/s.
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// One expected frame; exactly one of the frame fields.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectStep {
    /// Client (or group: checked on each member in turn) whose next frame is expected.
    pub client: String,
    /// A MSG from `from`, its text matched.
    pub msg: Option<MsgIn>,
    /// A FILE header from `from`; in relay mode with its whole body.
    pub file: Option<FileIn>,
    /// The LIST reply, as the clients (logical names or wire names) in order.
    pub list: Option<Vec<String>>,
    /// The LIST reply text, matched.
    pub list_text: Option<Matcher>,
    /// An ACK for this filename.
    pub ack: Option<Matcher>,
    /// An ERROR with this reason token.
    pub error: Option<String>,
    /// Rule blamed when the expectation fails (default: the scenario's first).
    pub rule: Option<String>,
    /// The project decision (`DEC-n` of SPEC.md §4) this step's expectation rests on: a
    /// departure here is a warning naming the decision, never a failure.
    #[serde(default)]
    pub decision: Option<String>,
    /// Seconds to wait.
    pub timeout: Option<f64>,
}

/// `expect.msg`: a MSG whose name field is the sender's wire name (MSG-2).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsgIn {
    /// The sender (a client, a group: one message from each member, in any order).
    pub from: String,
    /// Matcher for the text (absent: any text).
    #[serde(default)]
    pub text: Option<Matcher>,
}

/// `expect.file`: a FILE header from a sender (FILE-3). Every key but `from` is optional;
/// `mode: relay` (default) requires port 0 and an empty ip and reads the whole body, which must
/// be complete; `mode: p2p` requires port ≠ 0 and no body.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileIn {
    /// The sender: a client, `group.N` or a literal 4-byte name.
    pub from: String,
    /// Matcher for the filename.
    pub name: Option<Matcher>,
    /// Exact declared size, bytes.
    pub size: Option<u64>,
    /// `relay` (default) or `p2p`.
    #[serde(default)]
    pub mode: Mode,
    /// Exact port of a P2P offer.
    pub port: Option<u32>,
    /// Matcher for the `ip` field (in P2P mode the sender's address as the server sees it, FILE-5).
    pub ip: Option<Matcher>,
    /// Relay body: generated content of this seed (length `size`).
    pub seed: Option<u64>,
    /// Relay body: its SHA-256 in hex.
    pub sha256: Option<String>,
}

/// How a field is matched.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Matcher {
    /// Exactly the bytes of this UTF-8 string.
    Exact(String),
    /// A map with exactly one of `regex`, `any`, `not`, `len`.
    Rule(MatchRule),
}

/// A matcher map: exactly one of its keys.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    /// A Rust `regex`, searched (not anchored: use `^…$`) in the bytes read as UTF-8, invalid
    /// sequences replaced by U+FFFD; compiled when the file is loaded.
    pub regex: Option<String>,
    /// `any: true` matches everything.
    pub any: Option<bool>,
    /// Anything but this exact value.
    pub not: Option<String>,
    /// A string of exactly this many bytes.
    pub len: Option<usize>,
}

/// `expect_silence`: nothing at all may arrive on the connection(s) for a while: no frame, no
/// partial frame, no close.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceStep {
    /// Client or group whose connection(s) must stay silent.
    pub client: String,
    /// Seconds of silence required (default 0.2).
    #[serde(default, rename = "for")]
    pub window: Option<f64>,
    /// Rule blamed when something arrives (default: the scenario's first).
    pub rule: Option<String>,
    /// The project decision (`DEC-n` of SPEC.md §4) this step's expectation rests on: a
    /// departure here is a warning naming the decision, never a failure.
    #[serde(default)]
    pub decision: Option<String>,
}

/// `expect_closed`: the next thing on the connection must be its end (FIN, RST or a socket error);
/// a frame first (even an ERROR), a partial frame, or the connection still open at the end of the
/// wait fails.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosedStep {
    /// Client or group whose connection must be closed.
    pub client: String,
    /// Rule blamed when the step fails (default: the scenario's first).
    pub rule: Option<String>,
    /// The decision (`DEC-n`) by which the close comes with no ERROR before it (DEC-3's
    /// handshake timeout): an ERROR that arrives first is consumed and graded as a departure
    /// from that decision, and the close is still awaited and judged by the step's rule.
    #[serde(default)]
    pub no_error: Option<String>,
    /// The project decision (`DEC-n` of SPEC.md §4) this step's expectation rests on: a
    /// departure here is a warning naming the decision, never a failure.
    #[serde(default)]
    pub decision: Option<String>,
    /// Seconds to wait for the close.
    pub timeout: Option<f64>,
}

/// `disconnect`: the harness closes a client's connection, gracefully (FIN) or with a reset; the
/// logical client can then `connect` again.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectStep {
    /// Client or group to disconnect.
    pub client: String,
    /// Send these hex bytes first (a partial frame).
    pub raw: Option<String>,
    /// Reset (RST) instead of a graceful close.
    #[serde(default)]
    pub abrupt: bool,
}
