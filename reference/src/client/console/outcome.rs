//! How a session went, and the exit status that says it.

/// The exit statuses, shown by `msrp-client --help`; the README repeats them.
pub const EXIT_STATUS: &str = "\
Exit status:
  0  everything succeeded: no ERROR from the server, every file sent was acknowledged
  1  the server answered with an ERROR, or a transfer failed or was not acknowledged
     within --ack-wait, or a P2P file could not be fetched
  2  usage or local errors: bad options, an unknown command, an invalid name, a file to
     send that cannot be read, a received file that cannot be saved
  3  the server could not be reached, or the connection was lost or cut by the server
     before the session ended
When several apply, the status is the first of 3, 1, 2.";

/// What went wrong during a session; the exit status is derived from it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The connection could not be made or ended before we half-closed it.
    pub connection_lost: bool,
    /// An ERROR arrived, or a transfer failed or went unacknowledged.
    pub failed: bool,
    /// A command or a local file could not be used.
    pub local_error: bool,
}

impl Outcome {
    /// The exit status of [`EXIT_STATUS`]: the first of 3, 1, 2 that applies, else 0.
    pub fn code(&self) -> u8 {
        if self.connection_lost {
            3
        } else if self.failed {
            1
        } else if self.local_error {
            2
        } else {
            0
        }
    }
}
