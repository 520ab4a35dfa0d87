//! Shell completions and man pages for the project's binaries, generated from their clap
//! definitions (`clap_complete`, `clap_mangen`), so they never drift from `--help`.
//!
//! Every binary flattens [`ShellSupport`] into its arguments, which gives it two options,
//! shown by `--help` (not `-h`) and usable only alone:
//!
//! - `--completions SHELL` prints the completion script for bash, zsh, fish, elvish or
//!   powershell;
//! - `--man` prints the man page (roff, section 1).
//!
//! `contrib/install-shell-support.sh PREFIX` installs them all.

use std::io::Write;
use std::process::ExitCode;

pub use clap_complete::Shell;

/// The `--completions SHELL` and `--man` options of a binary.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellSupport {
    /// Print the completion script for SHELL on stdout and exit (install:
    /// contrib/install-shell-support.sh).
    #[arg(long, value_name = "SHELL", exclusive = true, hide_short_help = true)]
    pub completions: Option<Shell>,
    /// Print the man page (roff) on stdout and exit.
    #[arg(long, exclusive = true, hide_short_help = true)]
    pub man: bool,
}

impl ShellSupport {
    /// What was asked for, rendered for the binary `bin` whose arguments `cmd` describes
    /// (`CommandFactory::command()`); `None` when neither option was given.
    pub fn render(
        &self,
        cmd: clap::Command,
        bin: &'static str,
    ) -> Option<std::io::Result<Vec<u8>>> {
        if let Some(shell) = self.completions {
            Some(Ok(completions(cmd, bin, shell)))
        } else if self.man {
            Some(man_page(cmd, bin))
        } else {
            None
        }
    }

    /// Writes what was asked for to stdout and says how the binary should exit: success,
    /// or 2 (a local error, as in every tool of the project) with a message on stderr when
    /// stdout cannot take it. `None` when neither option was given: the binary goes on.
    pub fn run(&self, cmd: clap::Command, bin: &'static str) -> Option<ExitCode> {
        let rendered = self.render(cmd, bin)?;
        let written = rendered.and_then(|bytes| {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()
        });
        Some(match written {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{bin}: cannot write to stdout: {e}");
                ExitCode::from(2)
            }
        })
    }
}

/// The clap command named as the binary is (derive names it after the package).
fn named(cmd: clap::Command, bin: &'static str) -> clap::Command {
    cmd.name(bin).bin_name(bin)
}

/// The completion script for `shell`.
pub fn completions(cmd: clap::Command, bin: &'static str, shell: Shell) -> Vec<u8> {
    let mut cmd = named(cmd, bin);
    // Rendered into memory: clap_complete panics when its writer fails (a closed pipe),
    // and nothing here may panic on where the output goes.
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, bin, &mut out);
    out
}

/// The man page, roff for section 1.
pub fn man_page(cmd: clap::Command, bin: &'static str) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(named(cmd, bin))
        .section("1")
        .manual("msrp")
        .render(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> clap::Command {
        clap::Command::new("msrp-reference").arg(
            clap::Arg::new("server")
                .long("server")
                .help("Server address."),
        )
    }

    #[test]
    fn completions_and_the_man_page_name_the_binary_not_the_package() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = String::from_utf8(completions(cmd(), "msrp-x", shell)).unwrap();
            assert!(text.contains("msrp-x") && text.contains("server"), "{text}");
            assert!(!text.contains("msrp-reference"), "{text}");
        }
        let man = String::from_utf8(man_page(cmd(), "msrp-x").unwrap()).unwrap();
        assert!(man.contains(".TH msrp-x 1"), "{man}");
        assert!(man.contains("server"), "{man}");
    }
}
