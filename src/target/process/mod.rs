//! A server under test that msrp-check starts itself (`--server-cmd`): started in its own
//! process group, watched until it listens, its output kept (the last lines only), its death
//! noticed with the time, status and signal, and stopped with SIGTERM then SIGKILL.
//!
//! The command runs as `sh -c 'exec COMMAND'`: the shell expands quotes, variables and globs,
//! then replaces itself with the server, so the process watched *is* the server and its exit
//! status or signal is the server's own, not a shell's `128 + N`. A command that needs several
//! shell commands (`cd dir && ./server`) goes in a script that ends with `exec ./server`.

mod command;
mod exit;
mod ports;
mod start_error;
mod tail;

use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustix::process::{kill_process_group, Pid, Signal};
use tokio::sync::watch;
use tokio::time::Instant;

pub use command::TargetCommand;
pub use exit::{signal_hint, signal_name, Exit};
pub use start_error::StartError;
pub use tail::format_tail;

use ports::{free_port, listening_ports};
use tail::{keep_tail, tail_lines, SharedTail};

/// A running server under test.
pub struct TargetProcess {
    /// The command as it was run (placeholders replaced).
    pub command: String,
    /// Where it listens.
    pub addr: SocketAddr,
    pid: u32,
    exit: watch::Receiver<Option<Exit>>,
    stderr: SharedTail,
    stdout: SharedTail,
}

impl TargetProcess {
    /// Starts `cmd` and waits until it accepts connections, at most `listen_wait`.
    pub async fn start(
        cmd: &TargetCommand,
        listen_wait: Duration,
    ) -> Result<TargetProcess, StartError> {
        let port = match cmd.fixed_port {
            Some(p) => p,
            None => free_port(&cmd.host).map_err(|source| StartError::NoPort {
                command: cmd.template.clone(),
                source,
            })?,
        };
        let command = cmd.render(port);
        let addr = tokio::net::lookup_host((cmd.host.as_str(), port))
            .await
            .ok()
            .and_then(|mut a| a.next())
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], port)));
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group: a signal reaches the server and anything it forked, and a
            // Ctrl-C at msrp-check's terminal does not reach it behind our back.
            .process_group(0)
            .spawn()
            .map_err(|source| StartError::Spawn {
                command: command.clone(),
                source,
            })?;
        let pid = child.id().unwrap_or(0);
        let stderr: SharedTail = Arc::default();
        let stdout: SharedTail = Arc::default();
        if let Some(s) = child.stderr.take() {
            tokio::spawn(keep_tail(s, stderr.clone()));
        }
        if let Some(s) = child.stdout.take() {
            tokio::spawn(keep_tail(s, stdout.clone()));
        }
        let (tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = child.wait().await;
            let at = SystemTime::now();
            let exit = match status {
                Ok(s) => Exit {
                    code: s.code(),
                    signal: s.signal(),
                    at,
                },
                Err(_) => Exit {
                    code: None,
                    signal: None,
                    at,
                },
            };
            let _ = tx.send(Some(exit));
        });
        let mut process = TargetProcess {
            command,
            addr,
            pid,
            exit,
            stderr,
            stdout,
        };
        process.wait_listening(listen_wait).await?;
        Ok(process)
    }

    async fn wait_listening(&mut self, within: Duration) -> Result<(), StartError> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(exit) = self.wait_exit(Duration::ZERO).await {
                // Let the output readers catch the last lines it wrote.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(StartError::ExitedAtOnce {
                    command: self.command.clone(),
                    exit: exit.describe(),
                    addr: self.addr,
                    tail: format_tail(&self.stderr_tail(8)),
                });
            }
            let attempt = tokio::time::timeout(
                Duration::from_millis(200),
                tokio::net::TcpStream::connect(self.addr),
            )
            .await;
            if matches!(attempt, Ok(Ok(_))) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let ports = listening_ports(self.pid);
                let elsewhere = if ports.is_empty() {
                    String::new()
                } else {
                    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
                    format!(" (it listens on port {} instead)", list.join(", "))
                };
                return Err(StartError::NeverListened {
                    command: self.command.clone(),
                    addr: self.addr,
                    waited: within,
                    elsewhere,
                    tail: format_tail(&self.stderr_tail(8)),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id (and process group id) of the server.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// How it ended, if it has.
    pub fn exit(&self) -> Option<Exit> {
        self.exit.borrow().clone()
    }

    /// Waits at most `within` for it to end; how it ended, if it has.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<Exit> {
        if let Some(e) = self.exit() {
            return Some(e);
        }
        let mut rx = self.exit.clone();
        let _ = tokio::time::timeout(within, rx.wait_for(Option::is_some)).await;
        self.exit()
    }

    /// The last `n` lines it wrote to its standard error.
    pub fn stderr_tail(&self, n: usize) -> Vec<String> {
        tail_lines(&self.stderr, n)
    }

    /// The last `n` lines it wrote to its standard output.
    pub fn stdout_tail(&self, n: usize) -> Vec<String> {
        tail_lines(&self.stdout, n)
    }

    fn signal_group(&self, signal: Signal) {
        if let Some(pid) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) {
            // The group may be gone already; nothing else to do then.
            let _ = kill_process_group(pid, signal);
        }
    }

    /// SIGTERM to its group, SIGKILL after `grace`; how it ended.
    pub async fn stop(mut self, grace: Duration) -> Option<Exit> {
        if let Some(e) = self.exit() {
            // The leader is gone, but anything it forked may still hold the port.
            self.signal_group(Signal::KILL);
            return Some(e);
        }
        self.signal_group(Signal::TERM);
        let exit = match self.wait_exit(grace).await {
            Some(e) => Some(e),
            None => {
                self.signal_group(Signal::KILL);
                self.wait_exit(Duration::from_secs(2)).await
            }
        };
        self.signal_group(Signal::KILL);
        exit
    }
}

impl Drop for TargetProcess {
    fn drop(&mut self) {
        // An early return or a panic must not leave a server behind.
        if self.exit().is_none() {
            self.signal_group(Signal::KILL);
        }
    }
}
