//! What the user types: commands, their arguments, and why one cannot be carried out.

use std::path::PathBuf;

use bytes::Bytes;

use crate::client::ClientError;
use crate::frame::Name;
use crate::profile::Profile;

/// The text of `/help`.
pub const HELP: &str = "\
commands:
  /msg NAME text        send a text message (also: @NAME text)
  /list                 list connected clients
  /send NAME PATH       send a file through the server
  /send NAME PATH --p2p send a file directly (the recipient connects to you)
  /quit                 wait for transfers and ACKs, then leave
  /help                 this text";

/// One typed command, its arguments checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/msg NAME text` or `@NAME text`: send a text message (the text may be empty).
    Msg {
        /// The recipient.
        to: Name,
        /// The text, as typed.
        text: Bytes,
    },
    /// `/list`: ask for the client list.
    List,
    /// `/send NAME PATH [--p2p]`: send a file, through the server or directly.
    Send {
        /// The recipient.
        to: Name,
        /// The file to send, as typed.
        path: PathBuf,
        /// Offer it by P2P (FILE-4) rather than relay it (FILE-2).
        p2p: bool,
    },
    /// `/quit`: finish transfers and ACKs, then leave.
    Quit,
    /// `/help`: show [`HELP`].
    Help,
}

/// A command that could not be carried out, and whose fault that was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Bad input or a local file: exit status 2.
    #[error("{0}")]
    Local(String),
    /// Writing to the server failed: the connection is gone (exit status 3).
    #[error("{0}")]
    Connection(String),
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> Self {
        match e {
            // The library refused to send it: the request was the user's mistake.
            ClientError::Invalid(m) => CommandError::Local(m),
            other => CommandError::Connection(other.to_string()),
        }
    }
}

/// Reads one typed line (surrounding whitespace ignored); `Ok(None)` for an empty line.
pub fn parse_command(line: &str, profile: Profile) -> Result<Option<Command>, CommandError> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    if let Some(rest) = line.strip_prefix('@') {
        return parse_msg(rest, profile).map(Some);
    }
    let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
    let command = match cmd {
        "/msg" => parse_msg(rest, profile)?,
        "/list" => Command::List,
        "/send" => parse_send(rest, profile)?,
        "/quit" => Command::Quit,
        "/help" => Command::Help,
        _ => {
            return Err(CommandError::Local(format!(
                "unknown command \"{cmd}\"; /help lists them"
            )))
        }
    };
    Ok(Some(command))
}

/// `NAME text`: the text is everything after the first space, kept as typed.
fn parse_msg(rest: &str, profile: Profile) -> Result<Command, CommandError> {
    let (to, text) = rest.split_once(' ').unwrap_or((rest, ""));
    Ok(Command::Msg {
        to: parse_name(to, profile).map_err(CommandError::Local)?,
        text: Bytes::copy_from_slice(text.as_bytes()),
    })
}

/// `NAME PATH`, with `--p2p` anywhere among the words.
fn parse_send(rest: &str, profile: Profile) -> Result<Command, CommandError> {
    let mut words: Vec<&str> = rest.split_whitespace().collect();
    let p2p = words.contains(&"--p2p");
    words.retain(|w| *w != "--p2p");
    let [to, path] = words[..] else {
        return Err(CommandError::Local("usage: /send NAME PATH [--p2p]".into()));
    };
    Ok(Command::Send {
        to: parse_name(to, profile).map_err(CommandError::Local)?,
        path: PathBuf::from(path),
        p2p,
    })
}

/// A user-typed name, valid in `profile` (NAME-1; LEG-1 allows 1 to 4 bytes).
pub fn parse_name(s: &str, profile: Profile) -> Result<Name, String> {
    match profile {
        Profile::Strict => Name::parse(s),
        Profile::Legacy => Name::parse_legacy(s),
    }
    .map_err(|e| e.to_string())
}
