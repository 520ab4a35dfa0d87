//! `expect`: the next frame on one connection must match.

use std::time::Duration;

use msrp_reference::frame::{Frame, Name, Reason};
use tokio::time::Instant;

use super::seen::Seen;
use super::{ScenarioRun, StepError, StepResult};
use crate::scenario::content::sha256_of;
use crate::scenario::matching::Match;
use crate::scenario::plan::{BodyDigest, Expect, Expectation, FileExpect};
use crate::scenario::Mode;

/// Time allowed per byte of a relayed body on top of the step's wait (20 MB/s floor).
pub fn body_wait(base: Duration, size: u64) -> Duration {
    base + Duration::from_secs_f64(size as f64 / 20e6)
}

impl ScenarioRun<'_> {
    pub(super) async fn expect(&mut self, e: &Expect) -> StepResult {
        let wait = self.wait(e.timeout);
        for logical in self.expand(&e.client)? {
            if let Expectation::Msg { from, text } = &e.what {
                self.expect_messages(&logical, from, text, wait).await?;
                continue;
            }
            let body_wait = match &e.what {
                Expectation::File(f) => body_wait(wait, f.size.unwrap_or(0)),
                _ => wait,
            };
            let seen = self
                .conn(&logical)?
                .next(Instant::now() + wait, body_wait)
                .await;
            self.judge(&e.what, &logical, &seen)?;
        }
        Ok(())
    }

    /// One message from each sender `from` names (a group: each member, in any order).
    async fn expect_messages(
        &mut self,
        logical: &str,
        from: &str,
        text: &Match,
        wait: Duration,
    ) -> StepResult {
        let senders: Vec<Name> = match self.expand(from) {
            Ok(members) => members
                .iter()
                .map(|n| self.wire_name(n))
                .collect::<Result<_, _>>()?,
            Err(_) => vec![self.wire_name(from)?],
        };
        let mut left = senders.clone();
        let mark = self.conn(logical)?.log.mark();
        while !left.is_empty() {
            let want = if left.len() == 1 {
                format!("MSG name=\"{}\" text={text}", left[0])
            } else {
                format!(
                    "MSG from one of {from} (still {} of {}) text={text}",
                    left.len(),
                    senders.len(),
                )
            };
            let seen = self.conn(logical)?.next(Instant::now() + wait, wait).await;
            let Seen::Frame(Frame::Msg { name, text: got }) = &seen else {
                return Err(StepError::mismatch(want, &seen));
            };
            let Some(pos) = left.iter().position(|w| w == name) else {
                return Err(StepError::mismatch(want, &seen).blame(self.msg_name_rule()));
            };
            if !text.matches(got) {
                return Err(StepError::mismatch(want, &seen));
            }
            left.remove(pos);
        }
        self.conn(logical)?.log.canonical_order_since(mark);
        Ok(())
    }

    /// Judges what arrived on `logical` against an expectation other than messages.
    fn judge(&self, what: &Expectation, logical: &str, seen: &Seen) -> StepResult {
        let frame = match seen {
            Seen::Frame(frame) => Some(frame),
            _ => None,
        };
        match what {
            Expectation::Msg { .. } => Ok(()),
            Expectation::File(f) => self.check_file(f, logical, seen),
            Expectation::List(list) => {
                let wire = list
                    .iter()
                    .map(|n| self.wire_name(n))
                    .collect::<Result<Vec<_>, _>>()?;
                let text = msrp_reference::list::build(wire.iter().map(|n| n.as_bytes()));
                match frame {
                    Some(Frame::ListReply { text: got }) if got[..] == text[..] => Ok(()),
                    _ => {
                        let want = Frame::ListReply { text: text.into() }.to_string();
                        Err(StepError::mismatch(want, seen))
                    }
                }
            }
            Expectation::ListText(m) => match frame {
                Some(Frame::ListReply { text }) if m.matches(text) => Ok(()),
                _ => Err(StepError::mismatch(format!("LIST text={m}"), seen)),
            },
            Expectation::Ack(m) => match frame {
                Some(Frame::Ack { filename }) if m.matches(filename) => Ok(()),
                _ => Err(StepError::mismatch(format!("ACK filename={m}"), seen)),
            },
            Expectation::Error(reason) => {
                let want = format!("ERROR text=\"{reason}: …\"");
                match frame {
                    // LEG-10: an error text carries no reason token; that it came is checked.
                    Some(Frame::Error { .. }) if self.is_legacy() => Ok(()),
                    Some(Frame::Error { text }) => match Reason::split_error_text(text) {
                        Some((r, _)) if r == *reason => Ok(()),
                        Some(_) => Err(StepError::mismatch(want, seen)),
                        // Not even a valid reason token: that is ERR-1 itself.
                        None => Err(StepError::mismatch(want, seen).blame("ERR-1")),
                    },
                    _ => Err(StepError::mismatch(want, seen)),
                }
            }
        }
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
    pub(super) fn check_file(&self, f: &FileExpect, recipient: &str, seen: &Seen) -> StepResult {
        // LEG-8: in the dialect the name field is the recipient's own, as the sender wrote it.
        let (from, name_rule) = if self.is_legacy() {
            (self.wire_name(recipient)?, "LEG-8")
        } else {
            (Name::from_array(self.wire(&f.from)?), "FILE-3")
        };
        let mut want = format!("FILE name=\"{from}\" filename={}", f.name);
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
                want.push_str(&format!(" ip={}", f.ip));
            }
        }
        let header = match (f.mode, seen) {
            (Mode::Relay, Seen::Relay { header, .. }) => header,
            (Mode::P2p, Seen::Frame(Frame::File(h))) => h,
            _ => return Err(StepError::mismatch(want, seen)),
        };
        let header_ok = header.name == from
            && f.name.matches(&header.filename)
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
        if f.mode == Mode::P2p && !f.ip.matches(&header.ip) {
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
            let digest = match f.body {
                Some(BodyDigest::Sha256(d)) => Some(d),
                Some(BodyDigest::Seed(seed)) => Some(sha256_of(seed, header.size)),
                None => None,
            };
            if let Some(d) = digest {
                if d[..] != sha256[..] {
                    return Err(StepError::Mismatch {
                        rule: Some("FILE-3".into()),
                        expected: format!("body with SHA-256 {}", hex::encode(d)),
                        actual: format!("body with SHA-256 {}", hex::encode(sha256)),
                        hex: None,
                    });
                }
            }
        }
        Ok(())
    }
}
