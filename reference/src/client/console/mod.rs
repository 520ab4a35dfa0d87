//! The interactive client's state and text, without I/O: what a typed line asks for, what
//! is shown for each thing the server sends, which sent files still await their ACK, the
//! relayed file being received, and when the session half-closes and leaves.
//!
//! `msrp-client` owns the terminal, the socket, the files and the tasks; it tells a
//! [`Console`] what happened, does what the console answers ([`Todo`], [`Next`]), and prints
//! what [`Console::take_output`] returns. Everything decided here is tested in memory.

mod command;
mod outcome;
mod progress;
mod receive;
#[cfg(test)]
mod tests;

pub use command::{parse_command, parse_name, Command, CommandError, HELP};
pub use outcome::{Outcome, EXIT_STATUS};
pub use progress::Progress;
pub use receive::{Finished, Todo};

use std::collections::VecDeque;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::frame::Name;
use crate::profile::Profile;
use crate::text::escape_bytes;
use receive::Receiving;

/// How long the session sleeps when no deadline is set; something else always wakes it.
const IDLE: Duration = Duration::from_secs(3600);

/// Where the session is: reading commands, finishing transfers and ACKs, or half-closed
/// and reading what the server still sends until it closes (DEC-17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading typed commands.
    Commands,
    /// Input ended or `/quit`: waiting for transfers, then for ACKs.
    Finishing,
    /// Half-closed: reading the server's last answers until it closes.
    Draining,
}

/// What the session loop does next, from [`Console::tick`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait for input, events or finished transfers, at most until this instant.
    Wait(Instant),
    /// Everything is sent and acknowledged (or given up on): half-close the connection,
    /// then report it with [`Console::half_closed`] or [`Console::half_close_failed`].
    HalfClose,
    /// The server did not close within the close wait: print [`Console::leave_message`] on
    /// stderr and end the session.
    Leave,
}

/// What a finished background transfer reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskDone {
    /// A file sent by relay or P2P has been written out (or failed to be).
    Sent {
        /// The recipient.
        to: Name,
        /// The filename, as offered.
        filename: String,
        /// Why it failed, if it did.
        result: Result<(), String>,
    },
    /// A P2P offer has been fetched and acknowledged (or failed to be).
    Fetched {
        /// Who sent it, as far as the profile says ("abcd", or the peer's address).
        from: String,
        /// Where it was saved and its size, or why it failed.
        result: Result<(PathBuf, u64), String>,
    },
    /// The task ended without reporting (it panicked or was cancelled).
    Failed(String),
}

/// A file this client sent and whose ACK it awaits.
#[derive(Debug, Clone)]
struct Sent {
    filename: Bytes,
    to: Name,
}

/// The state of one interactive session; see the module documentation.
#[derive(Debug)]
pub struct Console {
    profile: Profile,
    tty: bool,
    ack_wait: Duration,
    close_wait: Duration,
    phase: Phase,
    outcome: Outcome,
    awaiting_ack: VecDeque<Sent>,
    receiving: Option<Receiving>,
    /// While finishing, when to give up on ACKs; while draining, when to leave.
    deadline: Option<Instant>,
    /// Text to print, in order; each piece ends in a line feed except a LIST reply's.
    output: Vec<String>,
}

impl Console {
    /// A session speaking `profile`; `tty` says stdout is a terminal (progress lines),
    /// `ack_wait` and `close_wait` bound the waits for ACKs and for the server's close.
    pub fn new(profile: Profile, tty: bool, ack_wait: Duration, close_wait: Duration) -> Self {
        Console {
            profile,
            tty,
            ack_wait,
            close_wait,
            phase: Phase::Commands,
            outcome: Outcome::default(),
            awaiting_ack: VecDeque::new(),
            receiving: None,
            deadline: None,
            output: Vec::new(),
        }
    }

    /// The text to print since the last call, in order.
    pub fn take_output(&mut self) -> Vec<String> {
        std::mem::take(&mut self.output)
    }

    /// Where the session is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// What went wrong so far.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Whether stdout is a terminal (progress lines are shown only there).
    pub fn tty(&self) -> bool {
        self.tty
    }

    fn say(&mut self, line: impl Display) {
        self.output.push(format!("{line}\n"));
    }

    /// Logged in to `server` as `name`; received files go to `downloads`.
    pub fn connected(&mut self, server: &str, name: Name, downloads: &Path) {
        let profile = match self.profile {
            Profile::Strict => "",
            Profile::Legacy => " (legacy profile)",
        };
        self.say(format_args!(
            "connected to {server} as {name}{profile}; files go to {}; /help for commands",
            downloads.display()
        ));
    }

    /// A typed line; returns the command the caller must carry out (`/msg`, `/list`,
    /// `/send`), having handled the others.
    pub fn command(&mut self, line: &str) -> Option<Command> {
        match parse_command(line, self.profile) {
            Ok(Some(Command::Quit)) => {
                self.phase = Phase::Finishing;
                None
            }
            Ok(Some(Command::Help)) => {
                self.say(HELP);
                None
            }
            Ok(command) => command,
            Err(e) => {
                self.command_failed(e);
                None
            }
        }
    }

    /// A command could not be carried out.
    pub fn command_failed(&mut self, e: CommandError) {
        self.say(format_args!("error: {e}"));
        match e {
            CommandError::Local(_) => self.outcome.local_error = true,
            CommandError::Connection(_) => self.outcome.connection_lost = true,
        }
    }

    /// Input ended (end of file, Ctrl-D): finish and leave, as `/quit` does.
    pub fn input_ended(&mut self) {
        self.phase = Phase::Finishing;
    }

    /// Reading commands failed: a local error, and the session finishes.
    pub fn input_failed(&mut self, e: impl Display) {
        self.say(format_args!("error: reading commands: {e}"));
        self.outcome.local_error = true;
        self.phase = Phase::Finishing;
    }

    /// A file of `size` bytes starts on its way to `to`: by P2P when `p2p_port` is the port
    /// it is offered on, else through the server. Its ACK is awaited from now on.
    pub fn sending(&mut self, to: Name, filename: &str, size: u64, p2p_port: Option<u16>) {
        match p2p_port {
            Some(port) => self.say(format_args!(
                "offering {filename} ({size} bytes) to {to} on port {port} (P2P)"
            )),
            None => self.say(format_args!("sending {filename} ({size} bytes) to {to}")),
        }
        self.awaiting_ack.push_back(Sent {
            filename: Bytes::copy_from_slice(filename.as_bytes()),
            to,
        });
    }

    /// A background transfer ended.
    pub fn task_done(&mut self, done: TaskDone) {
        match done {
            TaskDone::Sent {
                to,
                filename,
                result: Ok(()),
            } => self.say(format_args!("sent {filename} to {to}; waiting for its ACK")),
            TaskDone::Sent {
                to,
                filename,
                result: Err(e),
            } => {
                self.say(format_args!("error: sending {filename} to {to}: {e}"));
                self.outcome.failed = true;
                // No ACK can come for a file that did not arrive whole.
                if let Some(i) = self
                    .awaiting_ack
                    .iter()
                    .position(|s| s.filename == filename.as_bytes())
                {
                    self.awaiting_ack.remove(i);
                }
            }
            TaskDone::Fetched { result: Ok(_), .. } => {}
            TaskDone::Fetched {
                from,
                result: Err(e),
            } => {
                self.say(format_args!("error: P2P file from {from}: {e}"));
                self.outcome.failed = true;
            }
            TaskDone::Failed(e) => {
                self.say(format_args!("error: a transfer task failed: {e}"));
                self.outcome.failed = true;
            }
        }
    }

    /// What to do next at `now`; `transfers_running` says background transfers are still
    /// going (ACKs are awaited, and the connection half-closed, only once they are done).
    pub fn tick(&mut self, now: Instant, transfers_running: bool) -> Next {
        if self.phase == Phase::Finishing && !transfers_running {
            if !self.awaiting_ack.is_empty() {
                let ack_deadline = *self.deadline.get_or_insert(now + self.ack_wait);
                if now >= ack_deadline {
                    self.give_up_on_acks();
                }
            }
            if self.awaiting_ack.is_empty() {
                return Next::HalfClose;
            }
        }
        if self.phase == Phase::Draining && self.deadline.is_some_and(|d| now >= d) {
            return Next::Leave;
        }
        Next::Wait(self.deadline.unwrap_or(now + IDLE))
    }

    fn give_up_on_acks(&mut self) {
        let missing: Vec<String> = self
            .awaiting_ack
            .drain(..)
            .map(|s| format!("{} to {}", escape_bytes(&s.filename), s.to))
            .collect();
        self.say(format_args!(
            "error: gave up waiting for {} ACK(s) after {} s: {}",
            missing.len(),
            self.ack_wait.as_secs(),
            missing.join(", ")
        ));
        self.outcome.failed = true;
    }

    /// The connection was half-closed at `now`: the server's last answers are read until
    /// it closes, or until the close wait runs out.
    pub fn half_closed(&mut self, now: Instant) {
        self.phase = Phase::Draining;
        self.deadline = Some(now + self.close_wait);
    }

    /// Half-closing failed: the connection is gone.
    pub fn half_close_failed(&mut self, e: impl Display) {
        self.say(format_args!("disconnected: {e}"));
        self.outcome.connection_lost = true;
    }

    /// The stderr line for [`Next::Leave`].
    pub fn leave_message(&self) -> String {
        format!(
            "msrp-client: the server had not closed the connection {} s after this client \
             finished; leaving anyway",
            self.close_wait.as_secs()
        )
    }
}
