//! Why a target could not be started.

use std::net::SocketAddr;
use std::time::Duration;

/// Why a target could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No free port could be found for `{port}`.
    #[error("no free port for `{command}`: {source}")]
    NoPort {
        /// The server command as given.
        command: String,
        /// Why no port could be bound.
        source: std::io::Error,
    },
    /// The shell could not be started.
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        /// The server command as given.
        command: String,
        /// Why the shell could not be started.
        source: std::io::Error,
    },
    /// The command ended before it listened.
    #[error("`{command}` {exit} before it listened on {addr}{tail}")]
    ExitedAtOnce {
        /// The server command as given.
        command: String,
        /// How it ended: `exited with status 3`, `was killed by SIGSEGV (signal 11)`.
        exit: String,
        /// The address it was to listen on.
        addr: SocketAddr,
        /// The last lines of its stderr, ready to append to the message (empty when it printed
        /// nothing).
        tail: String,
    },
    /// The command ran but did not accept connections on its address in time.
    #[error("`{command}` did not listen on {addr} within {waited:.1?}{elsewhere}{tail}")]
    NeverListened {
        /// The server command as given.
        command: String,
        /// The address it was to listen on.
        addr: SocketAddr,
        /// How long the harness tried to connect (`--start-timeout`).
        waited: Duration,
        /// ` (it listens on port N instead)` when the process listens on other ports, else empty.
        elsewhere: String,
        /// The last lines of its stderr, ready to append to the message (empty when it printed
        /// nothing).
        tail: String,
    },
}
