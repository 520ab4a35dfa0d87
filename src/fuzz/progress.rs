//! Progress on stderr while the fuzzer runs.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use super::Summary;

/// Progress on stderr: one rewritten line on a terminal, a plain line every few seconds
/// otherwise.
pub(super) struct Progress {
    tty: bool,
    last: Instant,
    started: Instant,
}

impl Progress {
    /// Progress of a run that began at `started`, drawn for a terminal when stderr is one.
    pub(super) fn new(started: Instant) -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            last: Instant::now(),
            started,
        }
    }

    /// Shows `s`, unless a line was shown too recently and `force` is not set.
    pub(super) fn tick(&mut self, s: &Summary, force: bool) {
        let every = if self.tty {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(5)
        };
        if !force && self.last.elapsed() < every {
            return;
        }
        self.last = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let line = format!(
            "fuzz: {} cases, {:.0} cases/s, {} findings ({} failing cases), {} restarts, target rss peak {:.1} MiB",
            s.cases,
            s.cases as f64 / secs,
            s.findings.len(),
            s.failing,
            s.restarts,
            s.peak_rss as f64 / 1048576.0
        );
        if self.tty {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
    }

    /// Ends the rewritten line, on a terminal.
    pub(super) fn end(&self) {
        if self.tty {
            eprintln!();
        }
    }
}
