//! msrp: the conformance harness (`msrp-check`) for the MSRP strict profile (SPEC.md).
//!
//! - [`scenario`]: the YAML scenario format, loaded and checked with file:line errors.
//! - [`runner`]: runs one scenario against one address, recording every byte.
//! - [`check`]: selects scenarios, runs them against a target or embedded servers.
//! - [`check_cli`]: `msrp-check`'s command line, from its options to its exit status.
//! - [`artifacts`]: the pcaps and transcripts kept of each run, and snapshot comparison.
//! - [`report`]: human, JSON and JUnit output.
//! - [`client_mode`]: `--client`, the harness playing the server to client programs.
//! - [`rootcause`], [`grade`]: failures grouped by first departure; many targets at once.
//! - [`target`]: servers msrp-check starts and supervises, preflight, deaths and restarts.

#![warn(missing_docs)]

pub mod artifacts;
pub mod check;
pub mod check_cli;
pub mod client_mode;
pub mod dialect;
pub mod fuzz;
pub mod grade;
pub mod ordered;
pub mod pcap;
pub mod record;
pub mod report;
pub mod rootcause;
pub mod rules;
pub mod runner;
pub mod scenario;
pub mod settings;
pub mod sim;
pub mod snapshot;
pub mod target;
pub mod transcript;
pub mod verdict;

pub use msrp_reference;
