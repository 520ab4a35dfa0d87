//! A server under test that msrp-check starts itself (`--server-cmd`): started in its own
//! process group, watched until it listens, its output kept (the last lines only), its death
//! noticed with the time, status and signal, and stopped with SIGTERM then SIGKILL.
//!
//! The command runs as `sh -c 'exec COMMAND'`: the shell expands quotes, variables and globs,
//! then replaces itself with the server, so the process watched *is* the server and its exit
//! status or signal is the server's own, not a shell's `128 + N`. A command that needs several
//! shell commands (`cd dir && ./server`) goes in a script that ends with `exec ./server`.

use std::collections::{HashSet, VecDeque};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use rustix::process::{kill_process_group, Pid, Signal};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;
use tokio::time::Instant;

/// Lines of output kept per stream.
const TAIL_LINES: usize = 40;
/// Characters kept of one line: a server that prints a 1 MiB line costs 300 bytes here.
const LINE_CAP: usize = 300;

/// How a command line becomes a running server: the template with `{host}` and `{port}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCommand {
    /// The command as the user wrote it.
    pub template: String,
    /// The host the server is reached at (and `{host}` in the template).
    pub host: String,
    /// The port, when it is not chosen by msrp-check: given with `--target`, or hard-wired in
    /// a command without `{port}` (then the protocol's default, 8080).
    pub fixed_port: Option<u16>,
}

impl TargetCommand {
    /// A command reached at `host`; a `{port}` in it gets a free port at every start, unless
    /// `port` fixes it.
    pub fn new(template: &str, host: Option<&str>, port: Option<u16>) -> TargetCommand {
        let fixed_port = match port {
            Some(p) => Some(p),
            None if template.contains("{port}") => None,
            None => Some(8080),
        };
        TargetCommand {
            template: template.to_string(),
            host: host.unwrap_or("127.0.0.1").to_string(),
            fixed_port,
        }
    }

    /// Whether every start gets a fresh port (so targets can run side by side).
    pub fn free_port(&self) -> bool {
        self.fixed_port.is_none()
    }

    /// The command with `{host}` and `{port}` replaced.
    pub fn render(&self, port: u16) -> String {
        self.template
            .replace("{host}", &self.host)
            .replace("{port}", &port.to_string())
    }
}

/// How a target process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Exit status, when it exited.
    pub code: Option<i32>,
    /// Signal number, when a signal ended it.
    pub signal: Option<i32>,
    /// When its end was noticed.
    pub at: SystemTime,
}

impl Exit {
    /// "was killed by SIGPIPE (signal 13)" or "exited with status 3".
    pub fn describe(&self) -> String {
        match (self.signal, self.code) {
            (Some(s), _) => match signal_name(s) {
                Some(name) => format!("was killed by {name} (signal {s})"),
                None => format!("was killed by signal {s}"),
            },
            (None, Some(c)) => format!("exited with status {c}"),
            (None, None) => "ended".to_string(),
        }
    }

    /// The signal's name, if a signal ended it.
    pub fn signal_name(&self) -> Option<&'static str> {
        self.signal.and_then(signal_name)
    }

    /// A one-line hint for the signals that usual server bugs end in.
    pub fn hint(&self) -> Option<&'static str> {
        signal_hint(self.signal?)
    }
}

const SIGNALS: &[(Signal, &str)] = &[
    (Signal::HUP, "SIGHUP"),
    (Signal::INT, "SIGINT"),
    (Signal::QUIT, "SIGQUIT"),
    (Signal::ILL, "SIGILL"),
    (Signal::TRAP, "SIGTRAP"),
    (Signal::ABORT, "SIGABRT"),
    (Signal::BUS, "SIGBUS"),
    (Signal::FPE, "SIGFPE"),
    (Signal::KILL, "SIGKILL"),
    (Signal::USR1, "SIGUSR1"),
    (Signal::SEGV, "SIGSEGV"),
    (Signal::USR2, "SIGUSR2"),
    (Signal::PIPE, "SIGPIPE"),
    (Signal::ALARM, "SIGALRM"),
    (Signal::TERM, "SIGTERM"),
    (Signal::CHILD, "SIGCHLD"),
    (Signal::XCPU, "SIGXCPU"),
    (Signal::XFSZ, "SIGXFSZ"),
    (Signal::SYS, "SIGSYS"),
];

/// `SIGPIPE` for 13, and so on.
pub fn signal_name(signal: i32) -> Option<&'static str> {
    SIGNALS
        .iter()
        .find(|(s, _)| s.as_raw() == signal)
        .map(|(_, n)| *n)
}

/// What a signal usually means when a network server dies of it.
pub fn signal_hint(signal: i32) -> Option<&'static str> {
    let s = SIGNALS.iter().find(|(s, _)| s.as_raw() == signal)?.0;
    Some(match s {
        Signal::PIPE => "a write to a connection the peer had closed: ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL, and handle EPIPE",
        Signal::SEGV => "a memory error, often a fixed buffer overrun by a long field (a name, filename or text longer than the buffer)",
        Signal::ABORT => "an abort: a failed assert, a double free, or a stack buffer overrun caught by the stack protector (\"stack smashing detected\" in its stderr)",
        Signal::BUS => "a memory error: a misaligned or out-of-range access, e.g. through a pointer into a buffer that was freed or resized",
        Signal::FPE => "an arithmetic error, usually a division by zero",
        Signal::KILL => "killed from outside, often by the kernel's out-of-memory killer: memory grew without bound",
        _ => return None,
    })
}

/// Why a target could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No free port could be found for `{port}`.
    #[error("no free port for `{command}`: {source}")]
    NoPort {
        /// The server command as given.
        command: String,
        /// Why no port could be bound.
        source: std::io::Error,
    },
    /// The shell could not be started.
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        /// The server command as given.
        command: String,
        /// Why the shell could not be started.
        source: std::io::Error,
    },
    /// The command ended before it listened.
    #[error("`{command}` {exit} before it listened on {addr}{tail}")]
    ExitedAtOnce {
        /// The server command as given.
        command: String,
        /// How it ended: `exited with status 3`, `was killed by SIGSEGV (signal 11)`.
        exit: String,
        /// The address it was to listen on.
        addr: SocketAddr,
        /// The last lines of its stderr, ready to append to the message (empty when it printed
        /// nothing).
        tail: String,
    },
    /// The command ran but did not accept connections on its address in time.
    #[error("`{command}` did not listen on {addr} within {waited:.1?}{elsewhere}{tail}")]
    NeverListened {
        /// The server command as given.
        command: String,
        /// The address it was to listen on.
        addr: SocketAddr,
        /// How long the harness tried to connect (`--start-timeout`).
        waited: Duration,
        /// ` (it listens on port N instead)` when the process listens on other ports, else empty.
        elsewhere: String,
        /// The last lines of its stderr, ready to append to the message (empty when it printed
        /// nothing).
        tail: String,
    },
}

/// The last lines a stream printed.
#[derive(Debug, Default)]
struct Tail {
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

type SharedTail = Arc<Mutex<Tail>>;

fn tail_lines(tail: &SharedTail, n: usize) -> Vec<String> {
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

async fn keep_tail(mut stream: impl AsyncRead + Unpin, tail: SharedTail) {
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

/// Ports handed out in this process, so that two targets started at once never get the same.
fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(Default::default)
}

/// A port that is free now on `host` (the kernel's choice) and not handed out before.
fn free_port(host: &str) -> std::io::Result<u16> {
    for _ in 0..50 {
        let port = TcpListener::bind((host, 0))?.local_addr()?.port();
        if let Ok(mut ports) = handed_out().lock() {
            if ports.insert(port) {
                return Ok(port);
            }
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "every port the kernel offered was already handed out",
    ))
}

/// The TCP ports a process listens on (Linux `/proc`), to say where a server listens when it
/// does not listen where it was told to.
fn listening_ports(pid: u32) -> Vec<u16> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inodes: HashSet<String> = fds
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 is the inode.
            if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
                if let Some(port) = f[1]
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
                {
                    ports.push(port);
                }
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

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
