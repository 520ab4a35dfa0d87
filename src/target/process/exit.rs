//! How a target process ended, and what the signals that end servers usually mean.

use std::time::SystemTime;

use rustix::process::Signal;

/// How a target process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Exit status, when it exited.
    pub code: Option<i32>,
    /// Signal number, when a signal ended it.
    pub signal: Option<i32>,
    /// When its end was noticed.
    pub at: SystemTime,
}

impl Exit {
    /// "was killed by SIGPIPE (signal 13)" or "exited with status 3".
    pub fn describe(&self) -> String {
        match (self.signal, self.code) {
            (Some(s), _) => match signal_name(s) {
                Some(name) => format!("was killed by {name} (signal {s})"),
                None => format!("was killed by signal {s}"),
            },
            (None, Some(c)) => format!("exited with status {c}"),
            (None, None) => "ended".to_string(),
        }
    }

    /// The signal's name, if a signal ended it.
    pub fn signal_name(&self) -> Option<&'static str> {
        self.signal.and_then(signal_name)
    }

    /// A one-line hint for the signals that usual server bugs end in.
    pub fn hint(&self) -> Option<&'static str> {
        signal_hint(self.signal?)
    }
}

const SIGNALS: &[(Signal, &str)] = &[
    (Signal::HUP, "SIGHUP"),
    (Signal::INT, "SIGINT"),
    (Signal::QUIT, "SIGQUIT"),
    (Signal::ILL, "SIGILL"),
    (Signal::TRAP, "SIGTRAP"),
    (Signal::ABORT, "SIGABRT"),
    (Signal::BUS, "SIGBUS"),
    (Signal::FPE, "SIGFPE"),
    (Signal::KILL, "SIGKILL"),
    (Signal::USR1, "SIGUSR1"),
    (Signal::SEGV, "SIGSEGV"),
    (Signal::USR2, "SIGUSR2"),
    (Signal::PIPE, "SIGPIPE"),
    (Signal::ALARM, "SIGALRM"),
    (Signal::TERM, "SIGTERM"),
    (Signal::CHILD, "SIGCHLD"),
    (Signal::XCPU, "SIGXCPU"),
    (Signal::XFSZ, "SIGXFSZ"),
    (Signal::SYS, "SIGSYS"),
];

/// `SIGPIPE` for 13, and so on.
pub fn signal_name(signal: i32) -> Option<&'static str> {
    SIGNALS
        .iter()
        .find(|(s, _)| s.as_raw() == signal)
        .map(|(_, n)| *n)
}

/// What a signal usually means when a network server dies of it.
pub fn signal_hint(signal: i32) -> Option<&'static str> {
    let s = SIGNALS.iter().find(|(s, _)| s.as_raw() == signal)?.0;
    Some(match s {
        Signal::PIPE => "a write to a connection the peer had closed: ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL, and handle EPIPE",
        Signal::SEGV => "a memory error, often a fixed buffer overrun by a long field (a name, filename or text longer than the buffer)",
        Signal::ABORT => "an abort: a failed assert, a double free, or a stack buffer overrun caught by the stack protector (\"stack smashing detected\" in its stderr)",
        Signal::BUS => "a memory error: a misaligned or out-of-range access, e.g. through a pointer into a buffer that was freed or resized",
        Signal::FPE => "an arithmetic error, usually a division by zero",
        Signal::KILL => "killed from outside, often by the kernel's out-of-memory killer: memory grew without bound",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_signals_and_statuses() {
        let at = SystemTime::UNIX_EPOCH;
        let killed = Exit {
            code: None,
            signal: Some(13),
            at,
        };
        assert_eq!(killed.describe(), "was killed by SIGPIPE (signal 13)");
        assert_eq!(killed.signal_name(), Some("SIGPIPE"));
        assert!(killed.hint().is_some_and(|h| h.contains("MSG_NOSIGNAL")));
        let exited = Exit {
            code: Some(3),
            signal: None,
            at,
        };
        assert_eq!(exited.describe(), "exited with status 3");
        assert_eq!(exited.hint(), None);
        assert_eq!(signal_name(999), None);
    }
}
