//! `expect`: the next frame on one connection must match.

use std::time::Duration;

use msrp_reference::frame::{Frame, Name, Reason};
use tokio::time::Instant;

use super::conn::Seen;
use super::matcher::{describe, matches};
use super::{ScenarioRun, StepError, StepResult};
use crate::scenario::content::{parse_hex, sha256_of};
use crate::scenario::{ExpectStep, FileIn, Mode};

/// Time allowed per byte of a relayed body on top of the step's wait (20 MB/s floor).
pub fn body_wait(base: Duration, size: u64) -> Duration {
    base + Duration::from_secs_f64(size as f64 / 20e6)
}

impl ScenarioRun<'_> {
    pub(super) async fn expect(&mut self, e: &ExpectStep) -> StepResult {
        let wait = self.wait(e.timeout);
        for logical in self.expand(&e.client)? {
            if let Some(m) = &e.msg {
                // A group sender means one message from each member, in any order.
                let senders: Vec<Name> = match self.expand(&m.from) {
                    Ok(members) => members
                        .iter()
                        .map(|n| self.wire_name(n))
                        .collect::<Result<_, _>>()?,
                    Err(_) => vec![self.wire_name(&m.from)?],
                };
                let mut left = senders.clone();
                let mark = self.conn(&logical)?.log.mark();
                while !left.is_empty() {
                    let want = if left.len() == 1 {
                        format!(
                            "MSG name=\"{}\" text={}",
                            left[0],
                            describe(m.text.as_ref())
                        )
                    } else {
                        format!(
                            "MSG from one of {} (still {} of {}) text={}",
                            m.from,
                            left.len(),
                            senders.len(),
                            describe(m.text.as_ref())
                        )
                    };
                    let seen = self.conn(&logical)?.next(Instant::now() + wait, wait).await;
                    let Seen::Frame(Frame::Msg { name, text }) = &seen else {
                        return Err(StepError::mismatch(want, &seen));
                    };
                    let Some(pos) = left.iter().position(|w| w == name) else {
                        return Err(StepError::mismatch(want, &seen).blame(self.msg_name_rule()));
                    };
                    if !matches(m.text.as_ref(), text) {
                        return Err(StepError::mismatch(want, &seen));
                    }
                    left.remove(pos);
                }
                self.conn(&logical)?.log.canonical_order_since(mark);
                continue;
            }
            let seen = if let Some(f) = &e.file {
                let size = f.size.unwrap_or(0);
                self.conn(&logical)?
                    .next(Instant::now() + wait, body_wait(wait, size))
                    .await
            } else {
                self.conn(&logical)?.next(Instant::now() + wait, wait).await
            };
            if let Some(f) = &e.file {
                self.check_file(f, &logical, &seen)?;
            } else if let Some(list) = &e.list {
                let wire = list
                    .iter()
                    .map(|n| self.wire_name(n))
                    .collect::<Result<Vec<_>, _>>()?;
                let text = msrp_reference::list::build(wire.iter().map(|n| n.as_bytes()));
                let want = Frame::ListReply {
                    text: text.clone().into(),
                }
                .to_string();
                match &seen {
                    Seen::Frame(Frame::ListReply { text: got }) if got[..] == text[..] => {}
                    _ => return Err(StepError::mismatch(want, &seen)),
                }
            } else if let Some(m) = &e.list_text {
                let want = format!("LIST text={}", describe(Some(m)));
                match &seen {
                    Seen::Frame(Frame::ListReply { text }) if matches(Some(m), text) => {}
                    _ => return Err(StepError::mismatch(want, &seen)),
                }
            } else if let Some(m) = &e.ack {
                let want = format!("ACK filename={}", describe(Some(m)));
                match &seen {
                    Seen::Frame(Frame::Ack { filename }) if matches(Some(m), filename) => {}
                    _ => return Err(StepError::mismatch(want, &seen)),
                }
            } else if let Some(token) = &e.error {
                let want = format!("ERROR text=\"{token}: …\"");
                match &seen {
                    // LEG-10: an error text carries no reason token; that it came is checked.
                    Seen::Frame(Frame::Error { .. }) if self.is_legacy() => {}
                    Seen::Frame(Frame::Error { text }) => match Reason::split_error_text(text) {
                        Some((r, _)) if r.as_str() == token => {}
                        Some(_) => return Err(StepError::mismatch(want, &seen)),
                        // Not even a valid reason token: that is ERR-1 itself.
                        None => return Err(StepError::mismatch(want, &seen).blame("ERR-1")),
                    },
                    _ => return Err(StepError::mismatch(want, &seen)),
                }
            }
        }
        Ok(())
    }

    /// A message from the wrong name is an MSG-2 matter when the scenario checks MSG-2.
    fn msg_name_rule(&self) -> &str {
        if self.sc.file.rules.iter().any(|r| r == "MSG-2") {
            "MSG-2"
        } else {
            &self.sc.file.rules[0]
        }
    }

    /// Checks a FILE header (and a relay body) against an expectation; `recipient` is the
    /// client that received it.
    pub(super) fn check_file(&self, f: &FileIn, recipient: &str, seen: &Seen) -> StepResult {
        // LEG-8: in the dialect the name field is the recipient's own, as the sender wrote it.
        let (from, name_rule) = if self.is_legacy() {
            (self.wire_name(recipient)?, "LEG-8")
        } else {
            (Name::from_array(self.wire(&f.from)?), "FILE-3")
        };
        let mut want = format!(
            "FILE name=\"{from}\" filename={}",
            describe(f.name.as_ref())
        );
        if let Some(size) = f.size {
            want.push_str(&format!(" size={size}"));
        }
        match f.mode {
            Mode::Relay => want.push_str(" port=0 ip=\"\""),
            Mode::P2p => {
                want.push_str(&format!(
                    " port={}",
                    f.port.map_or("≠0".into(), |p| p.to_string())
                ));
                want.push_str(&format!(" ip={}", describe(f.ip.as_ref())));
            }
        }
        let header = match (f.mode, seen) {
            (Mode::Relay, Seen::Relay { header, .. }) => header,
            (Mode::P2p, Seen::Frame(Frame::File(h))) => h,
            _ => return Err(StepError::mismatch(want, seen)),
        };
        let header_ok = header.name == from
            && matches(f.name.as_ref(), &header.filename)
            && f.size.is_none_or(|s| s == header.size)
            && match f.mode {
                Mode::Relay => header.ip.is_empty(),
                Mode::P2p => f.port.is_none_or(|p| p == header.port),
            };
        if !header_ok {
            let err = StepError::mismatch(want, seen);
            return Err(if header.name != from {
                err.blame(name_rule)
            } else {
                err
            });
        }
        if f.mode == Mode::P2p && !matches(f.ip.as_ref(), &header.ip) {
            return Err(StepError::mismatch(want, seen).blame("FILE-5"));
        }
        if let Seen::Relay {
            received,
            sha256,
            cut,
            ..
        } = seen
        {
            if *received != header.size || cut.is_some() {
                return Err(StepError::Mismatch {
                    rule: Some("FILE-3".into()),
                    expected: format!("{want} + body {} bytes", header.size),
                    actual: seen.describe(),
                    hex: seen.hex(),
                });
            }
            let digest = match (&f.sha256, f.seed) {
                (Some(h), _) => Some(parse_hex(h).map_err(StepError::Broken)?),
                (None, Some(seed)) => Some(sha256_of(seed, header.size).to_vec()),
                (None, None) => None,
            };
            if let Some(d) = digest {
                if d[..] != sha256[..] {
                    return Err(StepError::Mismatch {
                        rule: Some("FILE-3".into()),
                        expected: format!("body with SHA-256 {}", hex::encode(&d)),
                        actual: format!("body with SHA-256 {}", hex::encode(sha256)),
                        hex: None,
                    });
                }
            }
        }
        Ok(())
    }
}
