//! When the project's binaries may write colour or other control sequences: the one policy
//! every binary (`msrp-server`, `msrp-client`, `msrp-check`, `msrp-sim`) and every stream
//! follows, so a log redirected to a file (`msrp-server 2>server.log`) holds plain text.
//!
//! In order:
//! 1. `CLICOLOR_FORCE` set to anything but `0`: colour, wherever the stream goes. It is an
//!    explicit request, so it wins over everything below, `NO_COLOR` included.
//! 2. `NO_COLOR` set and not empty: no colour (<https://no-color.org>).
//! 3. The stream is not a terminal (a file, a pipe): no colour.
//! 4. `TERM` unset or `dumb` (a terminal that cannot take control sequences): no colour.
//! 5. `CLICOLOR=0`: no colour.
//! 6. Otherwise colour.
//!
//! Interactive display (progress lines redrawn in place, line editing) needs a capable
//! terminal whatever the colour settings say: [`capable_terminal`].

use std::io::IsTerminal;

/// An output stream of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    fn is_terminal(self) -> bool {
        match self {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        }
    }
}

/// The environment variables the policy reads, so it can be decided (and tested) without
/// touching the process's own environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColorEnv {
    /// `CLICOLOR_FORCE`: anything but `0` forces colour, even into a file or pipe.
    pub clicolor_force: Option<String>,
    /// `NO_COLOR`: not empty turns colour off (<https://no-color.org>).
    pub no_color: Option<String>,
    /// `CLICOLOR`: `0` turns colour off.
    pub clicolor: Option<String>,
    /// `TERM`: unset or `dumb` means the terminal takes no control sequences.
    pub term: Option<String>,
}

impl ColorEnv {
    /// This process's environment.
    pub fn from_process() -> ColorEnv {
        // A value that is not UTF-8 still counts as set.
        let var = |k: &str| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned());
        ColorEnv {
            clicolor_force: var("CLICOLOR_FORCE"),
            no_color: var("NO_COLOR"),
            clicolor: var("CLICOLOR"),
            term: var("TERM"),
        }
    }

    /// True when `TERM` names a terminal that takes control sequences.
    pub fn term_capable(&self) -> bool {
        self.term
            .as_deref()
            .is_some_and(|t| !t.is_empty() && t != "dumb")
    }

    /// The policy (see the module's documentation) for a stream that is, or is not, a
    /// terminal.
    pub fn color(&self, is_terminal: bool) -> bool {
        if self.clicolor_force.as_deref().is_some_and(|v| v != "0") {
            return true;
        }
        if self.no_color.as_deref().is_some_and(|v| !v.is_empty()) {
            return false;
        }
        is_terminal && self.term_capable() && self.clicolor.as_deref() != Some("0")
    }
}

/// True when `stream` may carry colour (escape sequences) in this process.
pub fn enabled(stream: Stream) -> bool {
    ColorEnv::from_process().color(stream.is_terminal())
}

/// True when `stream` is a terminal that takes control sequences (cursor movement,
/// redrawn lines), whatever the colour settings: `NO_COLOR` turns colour off, not a
/// progress line.
pub fn capable_terminal(stream: Stream) -> bool {
    stream.is_terminal() && ColorEnv::from_process().term_capable()
}

/// Text from the network made safe to print: valid UTF-8 as it is, line feeds and tabs
/// kept, every other control character (ESC above all: a peer must not be able to move the
/// cursor or recolour a terminal, nor leave escape codes in a log) and every invalid byte
/// shown as `\xNN`.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() && c != '\n' && c != '\t' {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(
        force: Option<&str>,
        no: Option<&str>,
        clicolor: Option<&str>,
        term: Option<&str>,
    ) -> ColorEnv {
        ColorEnv {
            clicolor_force: force.map(Into::into),
            no_color: no.map(Into::into),
            clicolor: clicolor.map(Into::into),
            term: term.map(Into::into),
        }
    }

    #[test]
    fn the_policy_in_order() {
        let xterm = Some("xterm-256color");
        // A capable terminal gets colour; a file or pipe never does by itself.
        assert!(env(None, None, None, xterm).color(true));
        assert!(!env(None, None, None, xterm).color(false));
        // Terminals that cannot take control sequences.
        assert!(!env(None, None, None, Some("dumb")).color(true));
        assert!(!env(None, None, None, None).color(true));
        // NO_COLOR (non-empty) and CLICOLOR=0 turn it off.
        assert!(!env(None, Some("1"), None, xterm).color(true));
        assert!(env(None, Some(""), None, xterm).color(true));
        assert!(!env(None, None, Some("0"), xterm).color(true));
        // CLICOLOR_FORCE wins, even into a pipe and over NO_COLOR; 0 is not a request.
        assert!(env(Some("1"), Some("1"), None, Some("dumb")).color(false));
        assert!(!env(Some("0"), None, None, xterm).color(false));
    }

    #[test]
    fn printable_text_has_no_control_sequences() {
        assert_eq!(
            printable(b"a\x1b[31mred\x07\nnext\t\xff ok \xc2\x9b"),
            "a\\x1b[31mred\\x07\nnext\t\\xff ok \\xc2\\x9b"
        );
        assert_eq!(
            printable("Hola, ¿cómo estás?".as_bytes()),
            "Hola, ¿cómo estás?"
        );
    }
}
