//! `expect_silence`, `expect_closed`, `disconnect` and `expect_alive`.

use tokio::time::Instant;

use msrp_reference::frame::Frame;

use super::seen::Seen;
use super::{ScenarioRun, StepError, StepResult};
use crate::scenario::content::parse_hex;
use crate::scenario::{AliveStep, ClientOr, ClosedStep, DisconnectStep, SilenceStep};

impl ScenarioRun<'_> {
    pub(super) async fn expect_silence(&mut self, s: &SilenceStep) -> StepResult {
        let window = std::time::Duration::from_secs_f64(s.window.unwrap_or(0.2));
        let want = format!("nothing for {:.2} s", window.as_secs_f64());
        for logical in self.expand(&s.client)? {
            let conn = self.conn(&logical)?;
            let seen = conn.next(Instant::now() + window, window).await;
            match &seen {
                Seen::Timeout { partial } if partial.is_empty() => {}
                _ => return Err(StepError::mismatch(want, &seen)),
            }
        }
        Ok(())
    }

    pub(super) async fn expect_closed(&mut self, step: &ClientOr<ClosedStep>) -> StepResult {
        let (client, timeout, no_error) = match step {
            ClientOr::Client(c) => (c.clone(), None, None),
            ClientOr::Full(s) => (s.client.clone(), s.timeout, s.no_error.clone()),
        };
        let wait = self.wait(timeout);
        let mut early_error = None;
        for logical in self.expand(&client)? {
            let conn = self.conn(&logical)?;
            let deadline = Instant::now() + wait;
            let mut seen = conn.next(deadline, wait).await;
            if let (Some(decision), Seen::Frame(Frame::Error { .. })) = (&no_error, &seen) {
                // The reading this decision settles: the ERROR is noted, the close still due.
                early_error = Some(StepError::Mismatch {
                    rule: Some(decision.clone()),
                    expected: "connection closed with no ERROR before it".into(),
                    actual: seen.describe(),
                    hex: seen.hex(),
                });
                seen = conn.next(deadline, wait).await;
            }
            match &seen {
                Seen::Closed(_) => {}
                Seen::Timeout { partial } if partial.is_empty() => {
                    return Err(StepError::Mismatch {
                        rule: None,
                        expected: format!("connection closed within {:.2} s", wait.as_secs_f64()),
                        actual: "still open".into(),
                        hex: None,
                    })
                }
                _ => return Err(StepError::mismatch("connection closed", &seen)),
            }
        }
        early_error.map_or(Ok(()), Err)
    }

    pub(super) async fn disconnect(&mut self, step: &ClientOr<DisconnectStep>) -> StepResult {
        let (client, raw, abrupt) = match step {
            ClientOr::Client(c) => (c.clone(), None, false),
            ClientOr::Full(d) => (d.client.clone(), d.raw.clone(), d.abrupt),
        };
        let bytes = raw
            .map(|r| parse_hex(&r))
            .transpose()
            .map_err(StepError::Broken)?;
        let wait = self.wait(None);
        for logical in self.expand(&client)? {
            let mut conn = self.conns.remove(&logical).ok_or_else(|| {
                StepError::Broken(format!("client \"{logical}\" is not connected"))
            })?;
            if let Some(b) = &bytes {
                // The target may already have closed; the disconnect happens either way.
                let _ = conn.write(b, Instant::now() + wait).await;
            }
            conn.close(abrupt).await;
            self.done.push(conn);
        }
        Ok(())
    }
}

impl ScenarioRun<'_> {
    /// `expect_alive`: the preflight's probe (a fresh connection, a login, a LIST) must be
    /// answered within the wait; a target that refuses, stays silent or closes is blamed on
    /// ERR-4 (it stopped serving its other clients). The probe is not part of the recording:
    /// it judges the target, it is not a client of the conversation.
    pub(super) async fn expect_alive(&mut self, a: &AliveStep) -> StepResult {
        let wait =
            self.wait(a.timeout)
                .max(std::time::Duration::from_secs(if a.timeout.is_some() {
                    0
                } else {
                    2
                }));
        let probe = crate::target::preflight::preflight(self.target, wait).await;
        if probe.answers() {
            return Ok(());
        }
        Err(StepError::Mismatch {
            rule: Some("ERR-4".into()),
            expected: format!(
                "the target answers a LIST on a fresh connection within {:.2} s",
                wait.as_secs_f64()
            ),
            actual: probe.diagnosis().unwrap_or_else(|| "no answer".to_string()),
            hex: None,
        })
    }
}
