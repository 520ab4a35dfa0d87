//! Progress of a long transfer, for a person at a terminal.

/// Files smaller than this get no progress lines: they are done before one could be read.
const REPORTED_FROM: u64 = 1 << 20;

/// Says when a transfer of `size` bytes has passed another quarter: only on a terminal
/// (scripts would get lines that depend on timing) and only for files of 1 MiB or more.
#[derive(Debug, Clone)]
pub struct Progress {
    name: String,
    size: u64,
    next: u64,
    tty: bool,
}

impl Progress {
    /// Progress of the file shown as `name`, `size` bytes long; `tty` says stdout is a
    /// terminal.
    pub fn new(tty: bool, name: &str, size: u64) -> Progress {
        Progress {
            name: name.to_string(),
            size,
            next: size / 4,
            tty,
        }
    }

    /// The size of the whole transfer, in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The line to show now that `done` bytes have gone through, if a quarter step was
    /// passed; never at the end (the caller says the file is complete).
    pub fn step(&mut self, done: u64) -> Option<String> {
        if !self.tty || self.size < REPORTED_FROM || done < self.next || done >= self.size {
            return None;
        }
        self.next = done + self.size / 4;
        Some(format!("  {}: {}%\n", self.name, done * 100 / self.size))
    }
}
