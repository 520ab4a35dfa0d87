//! Client-scenario steps on the wire: what the client must send, what the harness sends it
//! as its server, and P2P transfers with the harness as the peer.

use schemars::JsonSchema;
use serde::Deserialize;

use super::*;
use crate::scenario::Matcher;

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
