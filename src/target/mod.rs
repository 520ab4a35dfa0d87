//! What a scenario runs against when it is not an embedded reference server: a server someone
//! else runs (an address) or one msrp-check starts and supervises itself (a command).
//!
//! - [`process`]: start a command in its own process group, see it listen, notice its death,
//!   stop it.
//! - [`preflight`]: a login and a LIST before the suite, so that a mute target is diagnosed at
//!   once.
//! - [`run`]: one target's suite with the supervision around it: deaths blamed on ERR-4 with the
//!   signal and stderr, restarts, "not run" when the target cannot be reached any more.

pub mod preflight;
pub mod process;
pub mod run;
pub mod specs;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

pub use process::{Exit, StartError, TargetCommand, TargetProcess};
pub use run::{run_target, Event, Policy, TargetReport};
pub use specs::{TargetFlags, TargetFlagsError};

/// Where one target's server comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSource {
    /// Already running at this address.
    Address(SocketAddr),
    /// Started (and restarted) by msrp-check.
    Command(TargetCommand),
}

/// One server under test, with the label it is reported under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// The name it is reported under (a column of the HTML grid, a row of the CSV).
    pub label: String,
    /// Where its server comes from.
    pub source: TargetSource,
}

impl TargetSpec {
    /// The address, or the command as written.
    pub fn describe(&self) -> String {
        match &self.source {
            TargetSource::Address(a) => a.to_string(),
            TargetSource::Command(c) => format!("`{}`", c.template),
        }
    }

    /// The fixed port a command listens on, which it cannot share with another target.
    pub fn fixed_port(&self) -> Option<u16> {
        match &self.source {
            TargetSource::Command(c) => c.fixed_port,
            TargetSource::Address(_) => None,
        }
    }
}

/// A `--targets` file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetsFileError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The `--targets` file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A line that does not parse, or repeats a label.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The `--targets` file.
        path: PathBuf,
        /// 1-based line of the offending entry.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// Only blank lines and comments.
    #[error("{path}: no target in the file (one per line: a label, then HOST:PORT or a command)")]
    Empty {
        /// The `--targets` file.
        path: PathBuf,
    },
}

/// Resolves `HOST:PORT`.
pub fn resolve(addr: &str) -> Option<SocketAddr> {
    addr.to_socket_addrs().ok().and_then(|mut a| a.next())
}

fn looks_like_address(word: &str) -> bool {
    word.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
    })
}

/// One line of a targets file: `LABEL HOST:PORT` (a running server), `LABEL COMMAND…` (started
/// on a free port if it has `{port}`, else taken to listen on 8080) or `LABEL HOST:PORT
/// COMMAND…` (started, listening at that address); `None` for a blank line or a `#` comment.
pub fn parse_target_line(line: &str) -> Result<Option<TargetSpec>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (label, rest) = match line.split_once(char::is_whitespace) {
        Some((l, r)) => (l, r.trim()),
        None => (line, ""),
    };
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(format!(
            "label \"{label}\": use letters, digits, '.', '_' and '-' (it names columns and files)"
        ));
    }
    if rest.is_empty() {
        return Err(format!(
            "\"{label}\" has no target: write a label, then HOST:PORT or a command"
        ));
    }
    let (first, command) = match rest.split_once(char::is_whitespace) {
        Some((f, c)) => (f, c.trim()),
        None => (rest, ""),
    };
    let source = if looks_like_address(first) {
        let addr =
            resolve(first).ok_or_else(|| format!("\"{first}\": not a HOST:PORT that resolves"))?;
        if command.is_empty() {
            TargetSource::Address(addr)
        } else {
            TargetSource::Command(command_at(first, addr.port(), command))
        }
    } else {
        TargetSource::Command(TargetCommand::new(rest, None, None))
    };
    Ok(Some(TargetSpec {
        label: label.to_string(),
        source,
    }))
}

/// A command that listens at a known address, `HOST:PORT` as written: its port is fixed.
fn command_at(address: &str, port: u16, command: &str) -> TargetCommand {
    let host = address.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    TargetCommand::new(command, Some(host), Some(port))
}

/// Reads a targets file: one target per line, a label then `HOST:PORT`, a command (with
/// `{port}` and `{host}`), or both; blank lines and `#` comments are ignored.
pub fn parse_targets_file(path: &Path) -> Result<Vec<TargetSpec>, TargetsFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| TargetsFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut specs: Vec<TargetSpec> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let err = |message: String| TargetsFileError::Line {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        if let Some(spec) = parse_target_line(line).map_err(err)? {
            if specs.iter().any(|s| s.label == spec.label) {
                return Err(err(format!("label \"{}\" is used twice", spec.label)));
            }
            specs.push(spec);
        }
    }
    if specs.is_empty() {
        return Err(TargetsFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_an_address_or_a_command() {
        let a = parse_target_line("alice 127.0.0.1:9000").unwrap().unwrap();
        assert_eq!(
            a.source,
            TargetSource::Address("127.0.0.1:9000".parse().unwrap())
        );
        let b = parse_target_line("bob  ./server --port {port} ")
            .unwrap()
            .unwrap();
        assert_eq!(b.label, "bob");
        match b.source {
            TargetSource::Command(c) => {
                assert_eq!(c.template, "./server --port {port}");
                assert!(c.free_port());
            }
            other => panic!("{other:?}"),
        }
        let c = parse_target_line("carol ./server").unwrap().unwrap();
        assert_eq!(c.fixed_port(), Some(8080));
        let d = parse_target_line("dave 127.0.0.1:9100 ./server -p 9100")
            .unwrap()
            .unwrap();
        assert_eq!(d.fixed_port(), Some(9100));
        assert_eq!(parse_target_line("  # comment").unwrap(), None);
        assert!(parse_target_line("lonely").is_err());
        assert!(parse_target_line("bad/label x:1").is_err());
    }
}
