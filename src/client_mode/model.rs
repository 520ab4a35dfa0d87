//! The client scenario format (YAML, `mode: client`), as serde types. It shares the server
//! scenarios' shape (id, title, rules, tags, clients, steps) and their matchers; its steps
//! are those of a harness that plays the server (and any peer) to client programs.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::scenario::Matcher;

/// The only mode of these files; it is what sets them apart from server scenarios.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FileMode {
    Client,
}

/// One client scenario file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientScenarioFile {
    /// Always `client`.
    pub mode: FileMode,
    /// Unique id, lowercase words joined by '-'.
    pub id: String,
    /// One line saying what the scenario shows.
    pub title: String,
    /// Rule IDs (SPEC.md §2, client duties included) the scenario checks; the first is blamed
    /// by default.
    pub rules: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Default wait of every step, seconds (else `--timeout`).
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Logical name → 4-byte wire name of each client process under test.
    pub clients: BTreeMap<String, String>,
    /// Files placed in every client's send folder before it starts, by file name.
    #[serde(default)]
    pub files: BTreeMap<String, Content>,
    /// Files already in every client's download folder before it starts (CLI-2).
    #[serde(default)]
    pub existing: BTreeMap<String, Content>,
    /// What happens, in order.
    pub steps: Vec<ClientStep>,
}

/// Generated content: `size` bytes of the deterministic content of `seed`.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Content {
    pub size: u64,
    #[serde(default)]
    pub seed: u64,
}

/// Bytes given as text, hex, or a repeated string (hostile filenames, long texts).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ByteSpec {
    Text(String),
    Hex(HexBytes),
    Repeat(RepeatBytes),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HexBytes {
    pub hex: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatBytes {
    pub repeat: String,
    pub times: usize,
}

/// One step. (Parsed once and few; boxing the large variants buys nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientStep {
    /// Start the client process in its sandbox and accept its connection.
    Start(String),
    /// Type one driver action on the client's standard input.
    Type(TypeStep),
    /// The next thing the client sends must be this (the login, or one frame).
    ExpectFromClient(FromClientStep),
    /// Write frames or raw bytes to the client, cut as asked.
    ToClient(ToClientStep),
    /// A line of the client's standard output must show this (CLI-5, by the driver's
    /// patterns).
    ExpectOutput(OutputStep),
    /// A new file must appear in the client's download folder.
    ExpectFile(ExpectFileStep),
    /// No new file (matching `name`) in the download folder.
    ExpectNoFile(NoFileStep),
    /// Nothing written anywhere in the sandbox outside the download folder (CLI-1).
    ExpectNoFileOutside(RuleStep),
    /// The client sends nothing (a close is not a frame).
    ExpectSilence(SilenceStep),
    /// Offer the client a P2P file (FILE-4) as peer `from`, and serve it.
    P2pOffer(P2pOfferStep),
    /// Fetch the file the client last offered by P2P, as its recipient.
    P2pFetch(P2pFetchStep),
    /// The client process is still running after `for` seconds.
    ExpectAlive(AliveStep),
    /// The client process exits (not by a signal), with `code` if given.
    ExpectExit(ExitStep),
    /// The harness (as server) closes the client's connection.
    Close(CloseStep),
    /// Close the client's standard input.
    EndInput(String),
    /// Wait, seconds.
    Sleep(f64),
}

/// A driver action with its arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TypeStep {
    pub client: String,
    /// `msg`, `send_relay`, `send_p2p`, `list` or `quit`.
    pub action: String,
    /// Recipient: a declared client or a literal 4-byte name.
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// A file of `files:` (send actions).
    #[serde(default)]
    pub file: Option<String>,
}

/// What the client must send next; exactly one of the frame fields.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FromClientStep {
    pub client: String,
    /// Its 4 login bytes (NAME-1).
    #[serde(default)]
    pub login: Option<bool>,
    #[serde(default)]
    pub msg: Option<MsgFromClient>,
    #[serde(default)]
    pub file: Option<FileFromClient>,
    /// A LIST request (`list: true`).
    #[serde(default)]
    pub list: Option<bool>,
    /// An ACK of this filename.
    #[serde(default)]
    pub ack: Option<Matcher>,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsgFromClient {
    pub to: String,
    pub text: Matcher,
}

/// Relay or P2P, as in server scenarios.
pub use crate::scenario::Mode;

/// A FILE header from the client for a file of `files:`; in relay mode its body is read
/// and compared byte for byte (FILE-2); a P2P offer is kept for `p2p_fetch`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileFromClient {
    pub to: String,
    /// A file of `files:`: its name is the expected filename, its size and content the body.
    pub file: String,
    #[serde(default)]
    pub mode: Mode,
}

/// Bytes for the client; `frames` are written back to back (coalesced) and cut by `split`
/// or `every_byte`, the whole `repeat` times (floods).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToClientStep {
    pub client: String,
    pub frames: Vec<FrameOut>,
    /// Write sizes; the rest goes in one last write.
    #[serde(default)]
    pub split: Option<Vec<usize>>,
    /// One write per byte.
    #[serde(default)]
    pub every_byte: bool,
    /// Pause between writes, seconds (default 0.001 with `every_byte`, else 0).
    #[serde(default)]
    pub pause: Option<f64>,
    /// Write the frames this many times (default 1).
    #[serde(default)]
    pub repeat: Option<usize>,
    /// The rule blamed if the client crashes on these bytes (default CLI-4).
    #[serde(default)]
    pub rule: Option<String>,
}

/// One frame (or raw bytes) the harness writes; exactly one field.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FrameOut {
    #[serde(default)]
    pub msg: Option<MsgToClient>,
    #[serde(default)]
    pub file: Option<FileToClient>,
    /// A LIST reply naming these clients (declared or literal names), LIST-2's text.
    #[serde(default)]
    pub list: Option<Vec<String>>,
    #[serde(default)]
    pub ack: Option<ByteSpec>,
    #[serde(default)]
    pub error: Option<ByteSpec>,
    /// Raw bytes in hex.
    #[serde(default)]
    pub raw: Option<String>,
    /// Body bytes: `len` bytes of the content of `seed` from `offset`.
    #[serde(default)]
    pub data: Option<crate::scenario::DataSpec>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsgToClient {
    /// The sender shown: a declared client or a literal 4-byte name.
    pub from: String,
    pub text: ByteSpec,
}

/// A FILE header to the client (relay unless `port` is given).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileToClient {
    pub from: String,
    pub name: ByteSpec,
    pub size: u64,
    #[serde(default)]
    pub port: u32,
    #[serde(default)]
    pub ip: Option<String>,
    /// Also write the whole body: the content of this seed.
    #[serde(default)]
    pub body_seed: Option<u64>,
}

/// What the client's standard output must show; exactly one of the kinds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputStep {
    pub client: String,
    /// A message shown with its sender (driver pattern `show.msg`).
    #[serde(default)]
    pub msg: Option<ShownMsg>,
    /// A LIST reply: every name shown (driver pattern `show.list`).
    #[serde(default)]
    pub list: Option<Vec<String>>,
    /// An ERROR shown (driver pattern `show.error`), with this text.
    #[serde(default)]
    pub error: Option<String>,
    /// Any line matching this regex (client-specific scenarios only).
    #[serde(default)]
    pub line: Option<String>,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShownMsg {
    pub from: String,
    pub text: ByteSpec,
}

/// A file the client saved: new in its download folder, with this size and content.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectFileStep {
    pub client: String,
    /// The saved name (default: any new file).
    #[serde(default)]
    pub name: Option<Matcher>,
    pub size: u64,
    #[serde(default)]
    pub seed: u64,
    /// The saved name is safe (CLI-1): no control character, no leading dot.
    #[serde(default)]
    pub safe_name: bool,
    /// The saved name is not a reserved device name (CLI-6).
    #[serde(default)]
    pub not_device: bool,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoFileStep {
    pub client: String,
    #[serde(default)]
    pub name: Option<Matcher>,
    /// Seconds to wait first (default 0.2).
    #[serde(default, rename = "for")]
    pub window: Option<f64>,
    #[serde(default)]
    pub rule: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleStep {
    pub client: String,
    #[serde(default)]
    pub rule: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceStep {
    pub client: String,
    /// Seconds (default 0.3).
    #[serde(default, rename = "for")]
    pub window: Option<f64>,
    #[serde(default)]
    pub rule: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct P2pOfferStep {
    pub client: String,
    pub from: String,
    pub name: ByteSpec,
    pub size: u64,
    #[serde(default)]
    pub seed: u64,
    /// Bytes actually served before closing (default `size`: a shorter count cuts the body).
    #[serde(default)]
    pub serve: Option<u64>,
    /// Offer a port nobody listens on.
    #[serde(default)]
    pub closed_port: bool,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct P2pFetchStep {
    pub client: String,
    /// The file of `files:` the client offered.
    pub file: String,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AliveStep {
    pub client: String,
    /// Seconds to wait first (default 0.2).
    #[serde(default, rename = "for")]
    pub window: Option<f64>,
    #[serde(default)]
    pub rule: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExitStep {
    pub client: String,
    #[serde(default)]
    pub code: Option<i32>,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseStep {
    pub client: String,
    /// Half-close (FIN) and keep reading what the client still sends.
    #[serde(default)]
    pub half: bool,
    /// Reset (RST) instead of a graceful close.
    #[serde(default)]
    pub abrupt: bool,
}
