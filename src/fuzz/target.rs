//! The server under test as the fuzzer sees it: an address, or a command it starts, restarts
//! after every finding and measures.

use std::net::SocketAddr;
use std::time::Duration;

use crate::target::{TargetProcess, TargetSource};

/// The server under test, restarted as needed.
pub(crate) struct Target {
    source: TargetSource,
    /// The running process, when the target is a command.
    pub(super) process: Option<TargetProcess>,
    listen_wait: Duration,
    /// Starts after the first.
    pub(crate) restarts: u64,
    started_once: bool,
}

impl Target {
    /// A target not yet started.
    pub(super) fn new(source: TargetSource, listen_wait: Duration) -> Target {
        Target {
            source,
            process: None,
            listen_wait,
            restarts: 0,
            started_once: false,
        }
    }

    /// The address to use, starting the command if it is not running.
    pub(super) async fn ensure(&mut self) -> Result<SocketAddr, String> {
        match &self.source {
            TargetSource::Address(a) => Ok(*a),
            TargetSource::Command(cmd) => {
                if let Some(p) = &self.process {
                    if p.exit().is_none() {
                        return Ok(p.addr);
                    }
                }
                if let Some(p) = self.process.take() {
                    p.stop(Duration::from_millis(500)).await;
                }
                let p = TargetProcess::start(cmd, self.listen_wait)
                    .await
                    .map_err(|e| e.to_string())?;
                if self.started_once {
                    self.restarts += 1;
                }
                self.started_once = true;
                let a = p.addr;
                self.process = Some(p);
                Ok(a)
            }
        }
    }

    /// A fresh process (commands only).
    pub(super) async fn restart(&mut self) -> Result<SocketAddr, String> {
        if let Some(p) = self.process.take() {
            p.stop(Duration::from_millis(500)).await;
        }
        self.ensure().await
    }

    /// Whether msrp-check starts the target (a command), so it can restart it.
    pub(super) fn supervised(&self) -> bool {
        matches!(self.source, TargetSource::Command(_))
    }

    /// Stops the process, if one runs.
    pub(super) async fn stop(&mut self) {
        if let Some(p) = self.process.take() {
            p.stop(Duration::from_millis(500)).await;
        }
    }

    /// The last lines the process wrote to stderr (none for an address).
    pub(super) fn stderr_tail(&self) -> Vec<String> {
        self.process
            .as_ref()
            .map(|p| p.stderr_tail(8))
            .unwrap_or_default()
    }
}

/// Resident memory of a process, bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_of(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
