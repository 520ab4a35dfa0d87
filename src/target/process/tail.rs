//! The last lines a target printed on a stream, kept small whatever it prints.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Lines of output kept per stream.
const TAIL_LINES: usize = 40;
/// Characters kept of one line: a server that prints a 1 MiB line costs 300 bytes here.
const LINE_CAP: usize = 300;

/// The last lines a stream printed.
#[derive(Debug, Default)]
pub(super) struct Tail {
    lines: VecDeque<String>,
    partial: Vec<u8>,
}

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.end_line();
            } else if self.partial.len() < LINE_CAP * 4 {
                self.partial.push(b);
            }
        }
    }

    fn end_line(&mut self) {
        let mut line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        if line.chars().count() > LINE_CAP {
            line = line.chars().take(LINE_CAP).collect::<String>() + "…";
        }
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    fn last(&self, n: usize) -> Vec<String> {
        let mut out: Vec<String> = self.lines.iter().cloned().collect();
        if !self.partial.is_empty() {
            out.push(String::from_utf8_lossy(&self.partial).into_owned());
        }
        let skip = out.len().saturating_sub(n);
        out.split_off(skip)
    }
}

pub(super) type SharedTail = Arc<Mutex<Tail>>;

pub(super) fn tail_lines(tail: &SharedTail, n: usize) -> Vec<String> {
    tail.lock().map(|t| t.last(n)).unwrap_or_default()
}

/// "; its stderr ended with: | a | b", or nothing when it printed nothing.
pub fn format_tail(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut s = String::from("; the last lines of its stderr:");
    for l in lines {
        s.push_str("\n  | ");
        s.push_str(l);
    }
    s
}

pub(super) async fn keep_tail(mut stream: impl AsyncRead + Unpin, tail: SharedTail) {
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        if let Ok(mut t) = tail.lock() {
            t.push(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_and_the_unfinished_one() {
        let mut t = Tail::default();
        for i in 0..TAIL_LINES + 5 {
            t.push(format!("line {i}\n").as_bytes());
        }
        t.push(b"no newline yet");
        let last = t.last(3);
        assert_eq!(
            last,
            [
                format!("line {}", TAIL_LINES + 3),
                format!("line {}", TAIL_LINES + 4),
                "no newline yet".to_string()
            ]
        );
        assert_eq!(t.last(usize::MAX).len(), TAIL_LINES + 1);
    }

    #[test]
    fn caps_a_long_line() {
        let mut t = Tail::default();
        t.push(&[b'x'; LINE_CAP * 10]);
        t.push(b"\n");
        let line = &t.last(1)[0];
        assert_eq!(line.chars().count(), LINE_CAP + 1);
        assert!(line.ends_with('…'));
    }

    #[test]
    fn formats_a_tail_for_a_message() {
        assert_eq!(format_tail(&[]), "");
        assert_eq!(
            format_tail(&["a".into(), "b".into()]),
            "; the last lines of its stderr:\n  | a\n  | b"
        );
    }
}
