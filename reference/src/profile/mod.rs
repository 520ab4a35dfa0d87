//! Profiles: how the typed [`Frame`](crate::frame::Frame)s are put on the wire.
//!
//! The frames are the same typed values in every profile; only their encoding and framing
//! differ. The strict profile (`SPEC.md`, `wire-decisions.md`) is [`crate::frame`] and
//! [`crate::decode`]; the legacy profile (`legacy-profile.md`, LEG-1…LEG-13), the dialect of
//! the implementations that circulate publicly, is [`legacy`].

pub mod legacy;

use std::fmt;

/// Which dialect a tool speaks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, clap::ValueEnum)]
pub enum Profile {
    /// The project's reading of the source document: 0x00-terminated fields, binary sizes,
    /// a byte stream reassembled by every receiver (ENC-1…ENC-3).
    #[default]
    Strict,
    /// The circulating dialect: ASCII fields separated by spaces, one write per frame, bare
    /// texts for forwarded messages, LIST replies and errors (LEG-1…LEG-13).
    Legacy,
}

impl Profile {
    /// The profile's name as the command-line option spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Strict => "strict",
            Profile::Legacy => "legacy",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "strict" => Ok(Profile::Strict),
            "legacy" => Ok(Profile::Legacy),
            other => Err(format!(
                "unknown profile \"{other}\" (expected strict or legacy)"
            )),
        }
    }
}
