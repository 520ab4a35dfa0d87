//! `expect_silence`, `expect_closed` and `disconnect`.

use tokio::time::Instant;

use super::conn::Seen;
use super::{ScenarioRun, StepError, StepResult};
use crate::scenario::content::parse_hex;
use crate::scenario::{ClientOr, ClosedStep, DisconnectStep, SilenceStep};

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
        let (client, timeout) = match step {
            ClientOr::Client(c) => (c.clone(), None),
            ClientOr::Full(s) => (s.client.clone(), s.timeout),
        };
        let wait = self.wait(timeout);
        for logical in self.expand(&client)? {
            let conn = self.conn(&logical)?;
            let seen = conn.next(Instant::now() + wait, wait).await;
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
        Ok(())
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
