//! One short conversation before the suite (and after a scenario that did not pass): log in,
//! ask for the LIST, and look at what comes back. A target that answers nothing, or bytes that
//! are no frame of the profile, is diagnosed here in a few seconds instead of costing every
//! scenario its deadlines.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use msrp_reference::text::short_hex;

/// The name the preflight logs in with: printable, and unlike any scenario's names.
const PROBE_NAME: &[u8; 4] = b"~pfl";
const LIST: [u8; 2] = [0, 3];
/// Most a preflight reads: a LIST of a busy server fits many times over.
const READ_CAP: usize = 64 * 1024;

/// What a target did with a login and a LIST request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A whole frame of the strict profile (a LIST reply, or an ERROR such as server-full).
    Frame,
    /// The LIST in the legacy dialect: bare text, or `[name]: text`.
    Legacy,
    /// The connection was refused or could not be made in time.
    Unreachable(String),
    /// Nothing came back.
    Silent,
    /// The connection was closed (or reset) without a byte.
    Closed,
    /// Bytes that are no frame of the profile (or a frame cut short).
    NotAFrame(Vec<u8>),
}

/// The outcome of a preflight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    /// What came back.
    pub answer: Answer,
    /// How long it waited for the answer.
    pub waited: Duration,
}

impl Preflight {
    /// Whether the target answered something the rest of the run can work with.
    pub fn answers(&self) -> bool {
        matches!(self.answer, Answer::Frame | Answer::Legacy)
    }

    /// The one-message diagnosis of a target that does not answer (what was sent, what came
    /// back), or `None` when it answered.
    pub fn diagnosis(&self) -> Option<String> {
        let sent = format!(
            "sent the login \"~pfl\" ({}) then LIST ({})",
            short_hex(PROBE_NAME),
            short_hex(&LIST)
        );
        let what = match &self.answer {
            Answer::Frame | Answer::Legacy => return None,
            Answer::Unreachable(e) => return Some(format!("cannot connect: {e}")),
            Answer::Silent => format!(
                "{sent}; nothing came back within {:.1}s: the target accepts connections but does not answer",
                self.waited.as_secs_f64()
            ),
            Answer::Closed => format!("{sent}; the target closed the connection without answering"),
            Answer::NotAFrame(bytes) => format!(
                "{sent}; the target answered {} which is not a frame of the strict profile (a LIST reply is 00 03, text, 00)",
                short_hex(bytes)
            ),
        };
        Some(what)
    }

    /// The note for a target that answers in the legacy dialect.
    pub fn dialect_note(&self) -> Option<&'static str> {
        (self.answer == Answer::Legacy).then_some(crate::dialect::LEGACY_NOTE)
    }
}

/// How the bytes read so far classify, if they are enough to say.
fn classify(buf: &[u8], complete: bool) -> Option<Answer> {
    // A LIST reply, an ERROR (server-full, say), or any other frame of the profile: the
    // target speaks it, and the scenarios will judge what it said.
    if buf.len() >= 2 && buf[0] == 0 && (1..=5).contains(&buf[1]) {
        return if buf[2..].contains(&0) {
            Some(Answer::Frame)
        } else if complete {
            Some(Answer::NotAFrame(buf.to_vec()))
        } else {
            None
        };
    }
    if crate::dialect::has_legacy_shape(buf) {
        return Some(Answer::Legacy);
    }
    let could_grow = buf.len() < 2 || msrp_reference::list::HEADER.starts_with(buf);
    if could_grow && !complete {
        return None;
    }
    Some(if buf.is_empty() {
        Answer::Closed
    } else {
        Answer::NotAFrame(buf.to_vec())
    })
}

/// Logs in at `addr`, asks for the LIST, and waits at most `wait` for an answer.
pub async fn preflight(addr: SocketAddr, wait: Duration) -> Preflight {
    let start = Instant::now();
    let deadline = start + wait;
    let answer = async {
        let mut s = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Answer::Unreachable(format!("{addr}: {e}")),
            Err(_) => {
                return Answer::Unreachable(format!("{addr}: no connection within {wait:.1?}"))
            }
        };
        if s.write_all(PROBE_NAME).await.is_err() {
            return Answer::Closed;
        }
        // The name and the request in two segments: one recv() per frame is a bug the suite
        // reports, not one that should make a target look mute.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if s.write_all(&LIST).await.is_err() {
            return Answer::Closed;
        }
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            // Once something arrived, a short quiet means the answer is over.
            let until = if buf.is_empty() {
                deadline
            } else {
                deadline.min(Instant::now() + Duration::from_millis(300))
            };
            match tokio::time::timeout_at(until, s.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return classify(&buf, true).unwrap_or(Answer::Closed),
                Ok(Ok(n)) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(a) = classify(&buf, buf.len() >= READ_CAP) {
                        return a;
                    }
                }
                Err(_) if buf.is_empty() => return Answer::Silent,
                Err(_) => return classify(&buf, true).unwrap_or(Answer::Silent),
            }
        }
    }
    .await;
    Preflight {
        answer,
        waited: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_their_shape() {
        assert_eq!(
            classify(b"\x00\x03Lista de clientes:\n\x00", false),
            Some(Answer::Frame)
        );
        assert_eq!(classify(b"\x00\x03Lista", false), None);
        assert_eq!(
            classify(b"Lista de clientes:\nCliente 1: ~pfl\n", false),
            Some(Answer::Legacy)
        );
        assert_eq!(classify(b"[abcd]: hola", false), Some(Answer::Legacy));
        assert_eq!(classify(b"Lis", false), None);
        assert_eq!(
            classify(b"HTTP/1.1 400", false),
            Some(Answer::NotAFrame(b"HTTP/1.1 400".to_vec()))
        );
        assert_eq!(classify(b"", true), Some(Answer::Closed));
        assert_eq!(classify(b"\x00\x01zzzzhi\x00", false), Some(Answer::Frame));
    }
}
