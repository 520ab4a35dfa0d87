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

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupDecl {
    pub count: usize,
    pub prefix: String,
}

/// Server settings a scenario needs; the embedded server is started with them, a foreign
/// target must be declared to have them (`--server-setting`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerSettings {
    pub max_clients: Option<usize>,
    pub max_text: Option<usize>,
    /// Seconds.
    pub handshake_timeout: Option<f64>,
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
    Client(String),
    Full(T),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectStep {
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
    pub from: String,
    pub msg: Option<MsgOut>,
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

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsgOut {
    pub to: String,
    pub text: Text,
}

/// A text: a literal string, or a byte repeated.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Text {
    Literal(String),
    Repeat(RepeatText),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatText {
    pub repeat: String,
    pub times: usize,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileOut {
    pub to: String,
    pub name: String,
    pub size: u64,
    /// 0 (default) is relay mode.
    #[serde(default)]
    pub port: u32,
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
    pub len: u64,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub offset: u64,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Relay,
    P2p,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileStep {
    pub from: String,
    pub to: String,
    pub name: String,
    pub size: u64,
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
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// One expected frame; exactly one of the frame fields.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectStep {
    pub client: String,
    pub msg: Option<MsgIn>,
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

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsgIn {
    /// The sender (a client, a group: one message from each member, in any order).
    pub from: String,
    #[serde(default)]
    pub text: Option<Matcher>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileIn {
    pub from: String,
    pub name: Option<Matcher>,
    pub size: Option<u64>,
    #[serde(default)]
    pub mode: Mode,
    pub port: Option<u32>,
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
    Exact(String),
    Rule(MatchRule),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    pub regex: Option<String>,
    /// `any: true` matches everything.
    pub any: Option<bool>,
    /// Anything but this exact value.
    pub not: Option<String>,
    /// A string of exactly this many bytes.
    pub len: Option<usize>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceStep {
    pub client: String,
    /// Seconds of silence required (default 0.2).
    #[serde(default, rename = "for")]
    pub window: Option<f64>,
    pub rule: Option<String>,
    /// The project decision (`DEC-n` of SPEC.md §4) this step's expectation rests on: a
    /// departure here is a warning naming the decision, never a failure.
    #[serde(default)]
    pub decision: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosedStep {
    pub client: String,
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
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectStep {
    pub client: String,
    /// Send these hex bytes first (a partial frame).
    pub raw: Option<String>,
    /// Reset (RST) instead of a graceful close.
    #[serde(default)]
    pub abrupt: bool,
}
