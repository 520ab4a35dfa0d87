//! `connect`: open a connection and log in (or send raw handshake bytes, or nothing).

use tokio::time::Instant;

use super::conn::Conn;
use super::{ScenarioRun, StepError, StepResult};
use crate::scenario::content::parse_hex;
use crate::scenario::{ClientOr, ConnectStep};

impl ScenarioRun<'_> {
    pub(super) async fn connect(&mut self, step: &ClientOr<ConnectStep>) -> StepResult {
        let full = match step {
            ClientOr::Client(c) => ConnectStep {
                client: c.clone(),
                login: None,
                raw: None,
                settle: None,
            },
            ClientOr::Full(s) => s.clone(),
        };
        let members = self.expand(&full.client)?;
        let wait = self.wait(None);
        for logical in &members {
            let record = self.record(logical, false);
            let log = self.log(logical);
            let mut conn = Conn::connect(self.target, wait, record, log)
                .await
                .map_err(|e| {
                    StepError::Broken(format!("cannot connect to {}: {e}", self.target))
                })?;
            let hello = match (&full.raw, full.login.unwrap_or(true)) {
                (Some(raw), _) => parse_hex(raw).map_err(StepError::Broken)?,
                (None, true) => self.sc.clients.wire[logical].clone(),
                (None, false) => Vec::new(),
            };
            if self.is_legacy() {
                conn.set_legacy(self.opts.legacy_gap);
            }
            if !hello.is_empty() {
                conn.write(&hello, Instant::now() + wait)
                    .await
                    .map_err(|e| StepError::Broken(format!("{logical}: sending the name: {e}")))?;
                // LEG-1: the name is a write of its own.
                conn.pace().await;
            }
            if let Some(mut old) = self.conns.insert(logical.clone(), conn) {
                old.close(false).await;
                self.done.push(old);
            }
            self.drain_legacy();
        }
        let settle = self.settle(full.settle);
        if !settle.is_zero() {
            tokio::time::sleep(settle).await;
        }
        Ok(())
    }
}
