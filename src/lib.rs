//! msrp: the conformance harness (`msrp-check`) for the MSRP strict profile (SPEC.md).
//!
//! - [`scenario`]: the YAML scenario format, loaded and checked with file:line errors.
//! - [`runner`]: runs one scenario against one address, recording every byte.
//! - [`check`]: selects scenarios, runs them against a target or embedded servers.
//! - [`report`]: human, JSON and JUnit output.
//! - [`client_mode`]: `--client`, the harness playing the server to client programs.

pub mod check;
pub mod client_mode;
pub mod dialect;
pub mod pcap;
pub mod record;
pub mod report;
pub mod rules;
pub mod runner;
pub mod scenario;
pub mod sim;
pub mod snapshot;
pub mod transcript;
pub mod verdict;

pub use msrp_reference;
