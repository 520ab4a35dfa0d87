//! The client scenario format (YAML, `mode: client`), as serde types. It shares the server
//! scenarios' shape (id, title, rules, tags, clients, steps) and their matchers; its steps
//! are those of a harness that plays the server (and any peer) to client programs.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

mod observe;
mod wire;

pub use observe::*;
pub use wire::*;

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
