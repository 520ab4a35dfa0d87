//! The targets a command line names: `--targets FILE`, `--target HOST:PORT` and
//! `--server-cmd COMMAND`, alone or paired.

use std::path::PathBuf;

use super::TargetsFileError;
use super::{command_at, parse_targets_file, resolve, TargetCommand, TargetSource, TargetSpec};

/// The target options of `msrp-check`, as given.
#[derive(Debug, Clone, Default)]
pub struct TargetFlags {
    /// `--targets FILE`.
    pub targets_file: Option<PathBuf>,
    /// Every `--target HOST:PORT`.
    pub target: Vec<String>,
    /// Every `--server-cmd COMMAND`.
    pub server_cmd: Vec<String>,
    /// `--restart-each`.
    pub restart_each: bool,
}

/// Target options that do not name a usable set of targets.
#[derive(Debug, thiserror::Error)]
pub enum TargetFlagsError {
    /// The `--targets` file.
    #[error(transparent)]
    File(#[from] TargetsFileError),
    /// Both `--target` and `--server-cmd`, but not as many of each.
    #[error("{targets} --target and {commands} --server-cmd: give one command per target, or commands alone (each on a free port)")]
    Unpaired {
        /// How many `--target`.
        targets: usize,
        /// How many `--server-cmd`.
        commands: usize,
    },
    /// A `--target` that does not resolve.
    #[error("--target \"{0}\": not a HOST:PORT that resolves")]
    Unresolved(String),
    /// A `--server-cmd` of blanks.
    #[error("--server-cmd: the command is empty")]
    EmptyCommand,
    /// `--restart-each` with nothing msrp-check could restart.
    #[error("--restart-each needs a --server-cmd (or a command in --targets)")]
    NothingToRestart,
}

impl TargetFlags {
    /// The targets named by `--targets`, `--target` and `--server-cmd`, in that order; empty
    /// when none was given (the embedded reference server is then used). Given as often as
    /// `--target`, the i-th command serves the i-th target's address.
    pub fn specs(&self) -> Result<Vec<TargetSpec>, TargetFlagsError> {
        let mut specs = match &self.targets_file {
            Some(path) => parse_targets_file(path)?,
            None => Vec::new(),
        };
        let paired = !self.target.is_empty() && !self.server_cmd.is_empty();
        if paired && self.target.len() != self.server_cmd.len() {
            return Err(TargetFlagsError::Unpaired {
                targets: self.target.len(),
                commands: self.server_cmd.len(),
            });
        }
        for (i, t) in self.target.iter().enumerate() {
            let addr = resolve(t).ok_or_else(|| TargetFlagsError::Unresolved(t.clone()))?;
            let source = if paired {
                TargetSource::Command(command_at(t, addr.port(), &self.server_cmd[i]))
            } else {
                TargetSource::Address(addr)
            };
            specs.push(TargetSpec {
                label: t.clone(),
                source,
            });
        }
        if !paired {
            for c in &self.server_cmd {
                if c.trim().is_empty() {
                    return Err(TargetFlagsError::EmptyCommand);
                }
                specs.push(TargetSpec {
                    label: c.clone(),
                    source: TargetSource::Command(TargetCommand::new(c, None, None)),
                });
            }
        }
        let restartable = specs
            .iter()
            .any(|s| matches!(s.source, TargetSource::Command(_)));
        if self.restart_each && !restartable {
            return Err(TargetFlagsError::NothingToRestart);
        }
        Ok(specs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(target: &[&str], server_cmd: &[&str]) -> TargetFlags {
        TargetFlags {
            target: target.iter().map(|s| s.to_string()).collect(),
            server_cmd: server_cmd.iter().map(|s| s.to_string()).collect(),
            ..TargetFlags::default()
        }
    }

    fn command(spec: &TargetSpec) -> &TargetCommand {
        match &spec.source {
            TargetSource::Command(c) => c,
            other => panic!("not a command: {other:?}"),
        }
    }

    #[test]
    fn no_flag_names_no_target() {
        assert_eq!(flags(&[], &[]).specs().ok(), Some(Vec::new()));
    }

    #[test]
    fn addresses_and_commands_alone_are_targets_of_their_own() {
        let specs = flags(&["127.0.0.1:9000"], &[]).specs().unwrap_or_default();
        assert_eq!(
            specs[0].source,
            TargetSource::Address(([127, 0, 0, 1], 9000).into())
        );
        let specs = flags(&[], &["./a --port {port}", "./b"])
            .specs()
            .unwrap_or_default();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].label, "./a --port {port}");
        assert!(command(&specs[0]).free_port());
        assert_eq!(specs[1].fixed_port(), Some(8080));
    }

    #[test]
    fn paired_commands_serve_their_targets_address() {
        let specs = flags(&["127.0.0.1:9100", "[::1]:9200"], &["./a", "./b"])
            .specs()
            .unwrap_or_default();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].label, "127.0.0.1:9100");
        assert_eq!(command(&specs[0]).template, "./a");
        assert_eq!(specs[0].fixed_port(), Some(9100));
        assert_eq!(command(&specs[1]).host, "::1");
        assert_eq!(specs[1].fixed_port(), Some(9200));
    }

    #[test]
    fn unusable_flags_say_what_is_wrong() {
        let err = |f: TargetFlags| f.specs().err().map(|e| e.to_string());
        assert_eq!(
            err(flags(&["127.0.0.1:1", "127.0.0.1:2"], &["./a"])).as_deref(),
            Some("2 --target and 1 --server-cmd: give one command per target, or commands alone (each on a free port)")
        );
        assert_eq!(
            err(flags(&["nowhere"], &[])).as_deref(),
            Some("--target \"nowhere\": not a HOST:PORT that resolves")
        );
        assert_eq!(
            err(flags(&[], &["  "])).as_deref(),
            Some("--server-cmd: the command is empty")
        );
        let mut restart = flags(&["127.0.0.1:1"], &[]);
        restart.restart_each = true;
        assert_eq!(
            err(restart).as_deref(),
            Some("--restart-each needs a --server-cmd (or a command in --targets)")
        );
        let mut restart = flags(&[], &["./a"]);
        restart.restart_each = true;
        assert!(restart.specs().is_ok());
    }
}
