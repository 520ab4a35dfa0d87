//! What the server sends, as the session shows it: messages, lists, errors, ACKs of files
//! sent, and received files (relayed, or offered by P2P), and the end of the connection.

use std::fmt::Display;
use std::path::Path;

use bytes::Bytes;

use super::{Console, Phase, Progress};
use crate::client::Event;
use crate::color::printable;
use crate::frame::FileHeader;
use crate::profile::Profile;
use crate::text::escape_bytes;

/// The relayed file currently arriving.
#[derive(Debug)]
pub(super) struct Receiving {
    /// Who sent it, as far as the profile says.
    from: String,
    filename: Bytes,
    progress: Progress,
}

/// A relayed file whose last body byte arrived: finish its download, then report with
/// [`Console::saved`] and acknowledge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Who sent it, as far as the profile says.
    pub from: String,
    /// The filename as the header gave it: what the ACK carries (ACK-1).
    pub filename: Bytes,
}

/// The I/O an event asks of the caller, beyond printing what [`Console::event`] said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Todo {
    /// Nothing more.
    Nothing,
    /// A relayed file starts: create its download (a failure goes to
    /// [`Console::not_saved`]); a file of 0 bytes is then complete, as after a
    /// [`Todo::Write`] of nothing with 0 bytes remaining.
    Save(FileHeader),
    /// Body bytes of the file being received: write them to its download (a failure goes to
    /// [`Console::write_failed`]), then tell [`Console::received`] `remaining`.
    Write {
        /// The bytes to write.
        data: Bytes,
        /// Body bytes still to come after these.
        remaining: u64,
    },
    /// A P2P offer to take: create its download (a failure goes to
    /// [`Console::offer_declined`]), fetch it, show [`Console::fetched_line`], ACK it.
    Fetch {
        /// The offer.
        offer: FileHeader,
        /// Who offered it, as far as the profile says.
        from: String,
    },
    /// The connection has ended: drop a partly received file *before* printing (what is
    /// printed says it was removed), and end the session.
    Stop,
}

impl Console {
    /// Something the server sent; what to show is queued for [`Console::take_output`].
    pub fn event(&mut self, event: Event) -> Todo {
        match event {
            Event::Message { from, text } => {
                self.say(format_args!("[{from}] {}", printable(&text)))
            }
            // A LIST reply is shown as sent: its lines end in line feeds of their own.
            Event::List { text } => self.output.push(printable(&text)),
            Event::Error { text, .. } => {
                self.say(format_args!("error: {}", escape_bytes(&text)));
                self.outcome.failed = true;
            }
            Event::Invalid { detail } => {
                self.say(format_args!(
                    "error: the server sent an invalid frame: {detail}"
                ));
                self.outcome.failed = true;
            }
            Event::Ack { filename } => self.acked(&filename),
            Event::FileStart(header) => return self.file_start(header),
            Event::FileData { data, remaining } if self.receiving.is_some() => {
                return Todo::Write { data, remaining }
            }
            // Nothing is being received (a body for no header): the bytes go nowhere.
            Event::FileData { .. } => {}
            Event::FileOffer(offer) => return self.file_offer(offer),
            Event::Closed { error } => {
                self.closed(error);
                return Todo::Stop;
            }
        }
        Todo::Nothing
    }

    fn acked(&mut self, filename: &Bytes) {
        let shown = escape_bytes(filename);
        let sent = self
            .awaiting_ack
            .iter()
            .position(|s| s.filename == filename)
            .and_then(|i| self.awaiting_ack.remove(i));
        match sent {
            Some(sent) => self.say(format_args!("{} received {shown} (ACK)", sent.to)),
            None => self.say(format_args!(
                "ACK for {shown}, which this session did not send"
            )),
        }
    }

    fn file_start(&mut self, header: FileHeader) -> Todo {
        let shown = escape_bytes(&header.filename);
        let from = match self.profile {
            Profile::Strict => {
                self.say(format_args!(
                    "[{}] sends {shown} ({} bytes)",
                    header.name, header.size
                ));
                header.name.to_string()
            }
            // LEG-8: the name field is the recipient's own; the dialect does not say who sent.
            Profile::Legacy => {
                self.say(format_args!(
                    "incoming file {shown} ({} bytes)",
                    header.size
                ));
                "the server".to_string()
            }
        };
        self.receiving = Some(Receiving {
            from,
            filename: header.filename.clone(),
            progress: Progress::new(self.tty, &shown, header.size),
        });
        Todo::Save(header)
    }

    /// The download of the arriving relayed file could not be created.
    pub fn not_saved(&mut self, e: impl Display) {
        self.say(format_args!(
            "error: {e}; the file is discarded and not acknowledged"
        ));
        self.outcome.local_error = true;
    }

    /// Writing the arriving relayed file failed; the caller drops the download.
    pub fn write_failed(&mut self, e: impl Display) {
        self.say(format_args!(
            "error: {e}; the rest is discarded and the file not acknowledged"
        ));
        self.outcome.local_error = true;
    }

    /// Body bytes of the arriving relayed file were handled and `remaining` are still to
    /// come; at 0 the file is complete and returned for the caller to finish.
    pub fn received(&mut self, remaining: u64) -> Option<Finished> {
        let r = self.receiving.as_mut()?;
        let size = r.progress.size();
        if let Some(line) = r.progress.step(size.saturating_sub(remaining)) {
            self.output.push(line);
        }
        if remaining > 0 {
            return None;
        }
        let r = self.receiving.take()?;
        Some(Finished {
            from: r.from,
            filename: r.filename,
        })
    }

    /// A received file was saved at `path`; its ACK goes next.
    pub fn saved(&mut self, file: &Finished, path: &Path) {
        self.say(format_args!(
            "saved {} from {} to {}",
            escape_bytes(&file.filename),
            file.from,
            path.display()
        ));
    }

    /// A received file could not be finished (or its ACK not sent: see
    /// [`Console::ack_failed`]).
    pub fn local_error(&mut self, e: impl Display) {
        self.say(format_args!("error: {e}"));
        self.outcome.local_error = true;
    }

    /// The ACK of a received file could not be sent.
    pub fn ack_failed(&mut self, e: impl Display) {
        self.say(format_args!("error: cannot send ACK: {e}"));
        self.outcome.failed = true;
    }

    fn file_offer(&mut self, offer: FileHeader) -> Todo {
        let shown = escape_bytes(&offer.filename);
        let ip = escape_bytes(&offer.ip);
        let (from, who) = match self.profile {
            Profile::Strict => (offer.name.to_string(), format!("[{}] offers", offer.name)),
            // LEG-8: the name field is the recipient's own; the dialect does not say who sent.
            Profile::Legacy => (format!("{ip}:{}", offer.port), "offered:".to_string()),
        };
        self.say(format_args!(
            "{who} {shown} ({} bytes) by P2P from {ip}:{}",
            offer.size, offer.port
        ));
        if self.phase == Phase::Draining {
            // Our side is half-closed: the ACK could not be sent any more.
            self.say(format_args!(
                "this session is closing; the offer of {shown} is not taken"
            ));
            return Todo::Nothing;
        }
        Todo::Fetch { offer, from }
    }

    /// The download for a P2P offer could not be created.
    pub fn offer_declined(&mut self, e: impl Display) {
        self.say(format_args!("error: {e}; the offer is declined"));
        self.outcome.local_error = true;
    }

    /// The line a fetch task prints once `offer`, from `from`, is saved at `path`.
    pub fn fetched_line(offer: &FileHeader, from: &str, path: &Path, size: u64) -> String {
        format!(
            "saved {} from {from} to {} ({size} bytes)\n",
            escape_bytes(&offer.filename),
            path.display()
        )
    }

    fn closed(&mut self, error: Option<String>) {
        if let Some(r) = self.receiving.take() {
            self.say(format_args!(
                "error: connection closed during {}; partial file removed, no ACK sent",
                escape_bytes(&r.filename)
            ));
        }
        match (error, self.phase) {
            // The expected end: we half-closed and the server has sent all it owed.
            (None, Phase::Draining) => {}
            (Some(e), _) => {
                self.say(format_args!("disconnected: {e}"));
                self.outcome.connection_lost = true;
            }
            (None, _) => {
                self.say("disconnected by the server");
                self.outcome.connection_lost = true;
            }
        }
    }
}
