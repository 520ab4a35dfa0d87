//! Client-scenario steps that observe the client: its output, its downloads, its process.

use schemars::JsonSchema;
use serde::Deserialize;

use super::*;
use crate::scenario::Matcher;

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
