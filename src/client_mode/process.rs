//! A client program under test: started by `sh -c 'exec COMMAND'` in its own process group
//! (so the program itself, not a shell, is the group leader whose status is reported),
//! with its standard input scripted and its output captured; stopped by signalling the
//! whole group.

use std::collections::VecDeque;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};

/// Lines of standard output kept for matching (beyond it, the oldest go).
const MAX_LINES: usize = 20_000;
/// Bytes of standard error kept (the tail).
const STDERR_TAIL: usize = 8 * 1024;

/// Why a client could not be started or driven.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The shell (`sh -c`) that runs the client command could not be started.
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        /// The command line as it was run (placeholders filled in).
        command: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A line could not be written to the client's standard input: it is closed, the write failed,
    /// or the client did not read it in time; the text says which.
    #[error("cannot type on the client's standard input: {0}")]
    Stdin(String),
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status (`-1` when the system reported neither status nor signal).
    Code(i32),
    /// It was killed by this signal number.
    Signal(i32),
}

impl Exit {
    fn of(status: ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(s)) => Exit::Signal(s),
            (None, None) => Exit::Code(-1),
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exited with status {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s} ({})", signal_name(*s)),
        }
    }
}

/// The usual name of a signal number on Linux.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => "unknown signal",
    }
}

/// What the process wrote, shared with the reader tasks.
#[derive(Debug, Default)]
struct Output {
    lines: VecDeque<String>,
    /// Index (since the start) of the first line still in `lines`.
    first: usize,
    stderr: VecDeque<u8>,
}

/// A running (or finished) client process.
pub struct ClientProcess {
    child: Child,
    pgid: Option<i32>,
    stdin: Option<ChildStdin>,
    output: Arc<Mutex<Output>>,
    exit: Option<Exit>,
    /// Set once the harness has signalled the group: a death by its signal is not a crash.
    signalled: bool,
    /// The command line as started, for messages.
    pub command: String,
}

impl ClientProcess {
    /// Starts `command` (already filled in) with `sh -c 'exec …'` in `cwd`.
    pub fn start(command: &str, cwd: &Path) -> Result<ClientProcess, ProcessError> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec {command}"))
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
            command: command.to_string(),
            source,
        })?;
        let pgid = child.id().and_then(|p| i32::try_from(p).ok());
        let output = Arc::new(Mutex::new(Output::default()));
        if let Some(out) = child.stdout.take() {
            let output = output.clone();
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(out).split(b'\n');
                while let Ok(Some(line)) = lines.next_segment().await {
                    let mut text = String::from_utf8_lossy(&line).into_owned();
                    if text.ends_with('\r') {
                        text.pop();
                    }
                    if let Ok(mut o) = output.lock() {
                        o.lines.push_back(text);
                        if o.lines.len() > MAX_LINES {
                            o.lines.pop_front();
                            o.first += 1;
                        }
                    }
                }
            });
        }
        if let Some(mut err) = child.stderr.take() {
            let output = output.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut o) = output.lock() {
                        o.stderr.extend(&buf[..n]);
                        while o.stderr.len() > STDERR_TAIL {
                            o.stderr.pop_front();
                        }
                    }
                }
            });
        }
        let stdin = child.stdin.take();
        Ok(ClientProcess {
            child,
            pgid,
            stdin,
            output,
            exit: None,
            signalled: false,
            command: command.to_string(),
        })
    }

    /// Types one line (a newline is added), bounded by `wait`: a client that stops reading
    /// its input cannot hang the harness.
    pub async fn type_line(&mut self, line: &str, wait: Duration) -> Result<(), ProcessError> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(ProcessError::Stdin("its standard input is closed".into()));
        };
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        match tokio::time::timeout(wait, async {
            stdin.write_all(&bytes).await?;
            stdin.flush().await
        })
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ProcessError::Stdin(e.to_string())),
            Err(_) => Err(ProcessError::Stdin(format!(
                "the client did not read its input within {wait:?}"
            ))),
        }
    }

    /// Closes standard input (end of the script).
    pub fn end_input(&mut self) {
        self.stdin = None;
    }

    /// How it ended, if it has.
    pub fn exited(&mut self) -> Option<Exit> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(Exit::of(status));
            }
        }
        self.exit
    }

    /// Whether the harness signalled it (so a death by signal is the harness's doing).
    pub fn signalled(&self) -> bool {
        self.signalled
    }

    /// Waits up to `wait` for it to end.
    pub async fn wait(&mut self, wait: Duration) -> Option<Exit> {
        if let Some(e) = self.exited() {
            return Some(e);
        }
        match tokio::time::timeout(wait, self.child.wait()).await {
            Ok(Ok(status)) => {
                self.exit = Some(Exit::of(status));
                self.exit
            }
            _ => None,
        }
    }

    fn signal_group(&mut self, sig: i32) {
        if let Some(pgid) = self.pgid {
            self.signalled = true;
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is
            // shared with the callee.
            unsafe {
                libc::kill(-pgid, sig);
            }
        }
    }

    /// Stops it: closes its input, waits `grace`, then SIGTERM to the group, then SIGKILL.
    /// Returns how it ended and whether the harness had to signal it.
    pub async fn stop(&mut self, grace: Duration) -> (Option<Exit>, bool) {
        self.end_input();
        if let Some(e) = self.wait(grace).await {
            // The group may still hold children the program left behind.
            self.kill_group();
            return (Some(e), false);
        }
        self.signal_group(libc::SIGTERM);
        if let Some(e) = self.wait(Duration::from_millis(500)).await {
            self.kill_group();
            return (Some(e), true);
        }
        self.kill_group();
        (self.wait(Duration::from_secs(2)).await, true)
    }

    fn kill_group(&mut self) {
        if let Some(pgid) = self.pgid {
            // SAFETY: as in `signal_group`; a group that is gone makes kill fail harmlessly.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }

    /// Lines of standard output from index `from` on (indices count from the start).
    pub fn lines_from(&self, from: usize) -> Vec<(usize, String)> {
        let Ok(o) = self.output.lock() else {
            return Vec::new();
        };
        let skip = from.saturating_sub(o.first);
        o.lines
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(i, l)| (o.first + i, l.clone()))
            .collect()
    }

    /// The last `n` lines of standard output and the tail of standard error, for reports.
    pub fn tails(&self, n: usize) -> (String, String) {
        let Ok(o) = self.output.lock() else {
            return (String::new(), String::new());
        };
        let start = o.lines.len().saturating_sub(n);
        let out: Vec<&str> = o.lines.iter().skip(start).map(String::as_str).collect();
        let err: Vec<u8> = o.stderr.iter().copied().collect();
        let err = String::from_utf8_lossy(&err);
        let err_lines: Vec<&str> = err.lines().collect();
        let err_start = err_lines.len().saturating_sub(n);
        (out.join("\n"), err_lines[err_start..].join("\n"))
    }
}

impl Drop for ClientProcess {
    fn drop(&mut self) {
        // Never leave a client (or what it spawned) running after its scenario.
        if self.exit.is_none() {
            self.kill_group();
        }
    }
}
