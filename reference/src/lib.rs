//! MSRP (Messaging and Simple File Transfer Protocol — not RFC 4975), strict profile.
//!
//! - [`frame`] and [`decode`]: the sans-IO codec shared by every tool of the project.
//! - [`list`]: the text of a LIST reply, built and read in one place.
//! - [`text`]: how bytes and frames are shown to people (escaped, clipped, hex).
//! - [`codec`]: the same codec as `tokio_util` `Decoder`/`Encoder`.
//! - [`connection`]: a socket plus its buffers, reading [`decode::Decoded`] items.
//! - [`profile`]: the strict and legacy profiles; [`profile::legacy`] is the legacy dialect's
//!   codec (`legacy-profile.md`).
//! - [`server`]: the reference server, embeddable (bind to port 0, learn the address, stop).
//! - [`client`]: the reference client library.
//! - [`shell`]: shell completions and man pages from the binaries' clap definitions.

#![warn(missing_docs)]

pub mod client;
pub mod codec;
pub mod color;
pub mod connection;
pub mod decode;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod list;
pub mod profile;
pub mod server;
pub mod shell;
pub mod text;

pub use decode::{DecodeError, Decoded, Decoder, Direction, Limits};
pub use frame::{FileHeader, Frame, Name, Reason};
pub use profile::Profile;
