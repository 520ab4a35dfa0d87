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
    /// `mode: client`: the harness plays the server to client programs (`msrp-check --client`).
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
    /// Free-form tags for `--tag`.
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
    /// Length of the file, bytes.
    pub size: u64,
    /// Seed of the generated content (default 0): the same deterministic stream as the server
    /// scenarios' `seed`.
    #[serde(default)]
    pub seed: u64,
}

/// Bytes given as text, hex, or a repeated string (hostile filenames, long texts).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ByteSpec {
    /// The bytes of this string; in frames written to the client, `{sandbox}` in it becomes the
    /// client's sandbox root.
    Text(String),
    /// `{hex: "2e 0a"}`: bytes given in hex, for bytes a string cannot carry.
    Hex(HexBytes),
    /// `{repeat: "a", times: 255}`: one string repeated (at most 16 MiB in all).
    Repeat(RepeatBytes),
}

/// `{hex: "…"}`: bytes given in hex.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HexBytes {
    /// The bytes in hex; whitespace between them is allowed.
    pub hex: String,
}

/// `{repeat, times}`: one string written over and over.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatBytes {
    /// The string to repeat.
    pub repeat: String,
    /// How many times it is written (the result is at most 16 MiB).
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
    /// Logical client whose standard input gets the line.
    pub client: String,
    /// `msg`, `send_relay`, `send_p2p`, `list` or `quit`.
    pub action: String,
    /// Recipient: a declared client or a literal 4-byte name.
    #[serde(default)]
    pub to: Option<String>,
    /// Message text (`{text}` of the `msg` action).
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
    /// Logical client whose next item is expected.
    pub client: String,
    /// Its 4 login bytes (NAME-1).
    #[serde(default)]
    pub login: Option<bool>,
    /// A MSG to a recipient with a matching text (MSG-1).
    #[serde(default)]
    pub msg: Option<MsgFromClient>,
    /// A FILE header for a file of `files:`; in relay mode with its body (FILE-1, FILE-2).
    #[serde(default)]
    pub file: Option<FileFromClient>,
    /// A LIST request (`list: true`).
    #[serde(default)]
    pub list: Option<bool>,
    /// An ACK of this filename.
    #[serde(default)]
    pub ack: Option<Matcher>,
    /// Rule blamed when the expectation fails (default: NAME-1 for `login`, else the scenario's
    /// first).
    #[serde(default)]
    pub rule: Option<String>,
    /// Seconds to wait (default: the scenario's `timeout`, else `--timeout`).
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// `expect_from_client.msg`: a MSG the client sends (MSG-1).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsgFromClient {
    /// Recipient the MSG must name: a declared client or a literal 4-byte name.
    pub to: String,
    /// Matcher for the text.
    pub text: Matcher,
}

/// Relay or P2P, as in server scenarios.
pub use crate::scenario::Mode;

/// A FILE header from the client for a file of `files:`; in relay mode its body is read
/// and compared byte for byte (FILE-2); a P2P offer is kept for `p2p_fetch`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileFromClient {
    /// Recipient the header must name: a declared client or a literal 4-byte name.
    pub to: String,
    /// A file of `files:`: its name is the expected filename, its size and content the body.
    pub file: String,
    /// `relay` (default) or `p2p`.
    #[serde(default)]
    pub mode: Mode,
}

/// Bytes for the client; `frames` are written back to back (coalesced) and cut by `split`
/// or `every_byte`, the whole `repeat` times (floods).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToClientStep {
    /// Logical client the bytes are written to.
    pub client: String,
    /// The frames (or raw bytes), written back to back.
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
    /// A MSG with a chosen sender and text (MSG-2).
    #[serde(default)]
    pub msg: Option<MsgToClient>,
    /// A FILE header from a chosen sender, optionally with its body (FILE-3).
    #[serde(default)]
    pub file: Option<FileToClient>,
    /// A LIST reply naming these clients (declared or literal names), LIST-2's text.
    #[serde(default)]
    pub list: Option<Vec<String>>,
    /// An ACK of this filename (ACK-1).
    #[serde(default)]
    pub ack: Option<ByteSpec>,
    /// An ERROR with this text, written as is (no reason token is added).
    #[serde(default)]
    pub error: Option<ByteSpec>,
    /// Raw bytes in hex.
    #[serde(default)]
    pub raw: Option<String>,
    /// Body bytes: `len` bytes of the content of `seed` from `offset`.
    #[serde(default)]
    pub data: Option<crate::scenario::DataSpec>,
}

/// `to_client.frames[].msg`: a MSG as the server forwards it (MSG-2).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsgToClient {
    /// The sender shown: a declared client or a literal 4-byte name.
    pub from: String,
    /// Message text: a string, `{hex}` or `{repeat, times}`.
    pub text: ByteSpec,
}

/// A FILE header to the client (relay unless `port` is given).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileToClient {
    /// The sender named in the header: a declared client or a literal 4-byte name.
    pub from: String,
    /// Filename: a string, `{hex}` or `{repeat, times}` (hostile names; `{sandbox}` is the sandbox
    /// root).
    pub name: ByteSpec,
    /// Declared body size, bytes; any u64 (CLI-3: the client must not allocate from it).
    pub size: u64,
    /// 0 (default) for relay mode; any other value makes the header a P2P offer (FILE-4).
    #[serde(default)]
    pub port: u32,
    /// The `ip` field (default: empty in relay mode, `127.0.0.1` in P2P mode).
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
    /// Logical client whose standard output is read.
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
    /// Rule blamed when nothing matching is shown (default: the scenario's first).
    #[serde(default)]
    pub rule: Option<String>,
    /// Seconds to wait for the line (default: the scenario's `timeout`, else `--timeout`).
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// `expect_output.msg`: a message as the client shows it (driver pattern `show.msg`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShownMsg {
    /// The sender shown (`{from}`): a declared client or a literal 4-byte name.
    pub from: String,
    /// The text shown (`{text}`): a string, `{hex}` or `{repeat, times}`.
    pub text: ByteSpec,
}

/// A file the client saved: new in its download folder, with this size and content.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectFileStep {
    /// Logical client whose download folder is watched.
    pub client: String,
    /// The saved name (default: any new file).
    #[serde(default)]
    pub name: Option<Matcher>,
    /// Size the saved file must have, bytes.
    pub size: u64,
    /// Seed of the content the saved file must have (default 0); compared by SHA-256.
    #[serde(default)]
    pub seed: u64,
    /// The saved name is safe (CLI-1): no control character, no leading dot.
    #[serde(default)]
    pub safe_name: bool,
    /// The saved name is not a reserved device name (CLI-6).
    #[serde(default)]
    pub not_device: bool,
    /// Rule blamed when no such file appears (default: the scenario's first).
    #[serde(default)]
    pub rule: Option<String>,
    /// Seconds to wait for the file (default: the scenario's `timeout`, else `--timeout`).
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// `expect_no_file`: after a wait, no new file (matching `name`) is in the client's download folder
/// (CLI-3: a cut relay leaves no file under its final name).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoFileStep {
    /// Logical client whose download folder is checked.
    pub client: String,
    /// Matcher for the name of the file that must not appear (absent: no new file at all).
    #[serde(default)]
    pub name: Option<Matcher>,
    /// Seconds to wait first (default 0.2).
    #[serde(default, rename = "for")]
    pub window: Option<f64>,
    /// Rule blamed when such a file is there (default: the scenario's first).
    #[serde(default)]
    pub rule: Option<String>,
}

/// `expect_no_file_outside`: nothing was created or changed in the client's sandbox outside its
/// download folder (CLI-1).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleStep {
    /// Logical client whose sandbox is checked.
    pub client: String,
    /// Rule blamed when something was written outside (default CLI-1).
    #[serde(default)]
    pub rule: Option<String>,
}

/// `expect_silence`: the client sends nothing for a while; a close is not a frame, so a closed
/// connection passes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceStep {
    /// Logical client whose connection must stay silent.
    pub client: String,
    /// Seconds (default 0.3).
    #[serde(default, rename = "for")]
    pub window: Option<f64>,
    /// Rule blamed when a frame arrives (default: the scenario's first); a SHOULD rule (ACK-4)
    /// grades it as a warning.
    #[serde(default)]
    pub rule: Option<String>,
}

/// `p2p_offer`: the harness, as peer `from`, listens on a fresh port of 127.0.0.1, sends the client
/// a P2P offer of it (FILE-4) and serves `serve` bytes of the content to the connection the client
/// opens, then closes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct P2pOfferStep {
    /// Logical client the offer is sent to.
    pub client: String,
    /// The offering peer named in the header: a declared client or a literal 4-byte name.
    pub from: String,
    /// Filename offered: a string, `{hex}` or `{repeat, times}`.
    pub name: ByteSpec,
    /// Declared size of the file, bytes.
    pub size: u64,
    /// Seed of the content served (default 0).
    #[serde(default)]
    pub seed: u64,
    /// Bytes actually served before closing (default `size`: a shorter count cuts the body).
    #[serde(default)]
    pub serve: Option<u64>,
    /// Offer a port nobody listens on.
    #[serde(default)]
    pub closed_port: bool,
    /// Rule blamed when the client does not connect within the wait (default FILE-4).
    #[serde(default)]
    pub rule: Option<String>,
    /// Seconds to wait for the client's connection (default: the scenario's `timeout`, else
    /// `--timeout`).
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// `p2p_fetch`: the harness, as the recipient, connects to the ip and port of the client's last P2P
/// offer, sends nothing and reads until the client closes: exactly the file's bytes must arrive
/// (FILE-4).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct P2pFetchStep {
    /// Logical client that made the offer.
    pub client: String,
    /// The file of `files:` the client offered.
    pub file: String,
    /// Rule blamed when the transfer fails (default FILE-4).
    #[serde(default)]
    pub rule: Option<String>,
    /// Seconds to wait for the connection; reading the body gets this wait plus the size at
    /// 20 MB/s.
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// `expect_alive`: the client process is still running after `for` seconds (CLI-4).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AliveStep {
    /// Logical client whose process is checked.
    pub client: String,
    /// Seconds to wait first (default 0.2).
    #[serde(default, rename = "for")]
    pub window: Option<f64>,
    /// Rule blamed when the process has ended (default CLI-4).
    #[serde(default)]
    pub rule: Option<String>,
}

/// `expect_exit`: the client process exits by itself within the wait, not by a signal.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExitStep {
    /// Logical client whose process must exit.
    pub client: String,
    /// The exit status required (absent: any status).
    #[serde(default)]
    pub code: Option<i32>,
    /// Rule blamed when the process is still running at the end of the wait (default CLI-4).
    #[serde(default)]
    pub rule: Option<String>,
    /// Seconds to wait for the exit (default: the scenario's `timeout`, else `--timeout`).
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// `close`: the harness, as the server, closes its connection to a client: FIN (default), a
/// half-close, or a reset.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseStep {
    /// Logical client whose connection is closed.
    pub client: String,
    /// Half-close (FIN) and keep reading what the client still sends.
    #[serde(default)]
    pub half: bool,
    /// Reset (RST) instead of a graceful close.
    #[serde(default)]
    pub abrupt: bool,
}
