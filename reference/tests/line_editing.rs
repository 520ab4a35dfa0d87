//! The interactive client on a real pseudo-terminal (from `script`, util-linux): line
//! editing with a prompt, incoming messages printed above the line being typed (which is
//! then redrawn, not broken), the finished line sent, history kept in a file under
//! `$XDG_STATE_HOME`. Scripted use (stdin a pipe) is tested in `cli.rs` and `no_escapes.rs`:
//! no prompt, no escape byte.

mod support;

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::process::{tempdir, Proc};

/// A command running under a pseudo-terminal: what is typed goes to its stdin through the
/// terminal, and everything the terminal shows is collected.
struct Pty {
    child: Child,
    keys: Option<ChildStdin>,
    screen: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    fn spawn(command: &str, env: &[(&str, &str)]) -> Pty {
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c", command, "/dev/null"])
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .expect("script (util-linux) is needed to run the client under a pseudo-terminal");
        let mut out = child.stdout.take().expect("piped stdout");
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let keys = child.stdin.take();
        Pty {
            child,
            keys,
            screen,
        }
    }

    fn type_keys(&mut self, keys: &str) {
        let stdin = self.keys.as_mut().expect("keys open");
        stdin.write_all(keys.as_bytes()).expect("type");
        stdin.flush().expect("type");
    }

    fn shown(&self) -> Vec<u8> {
        self.screen.lock().unwrap().clone()
    }

    /// Waits until the terminal has shown `needle` at or after byte `from`; returns the
    /// offset just past it.
    fn wait_for(&self, needle: &str, from: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let shown = self.shown();
            if let Some(i) = find(&shown[from.min(shown.len())..], needle.as_bytes()) {
                return from + i + needle.len();
            }
            assert!(
                Instant::now() < deadline,
                "the terminal never showed {needle:?}; it showed:\n{}",
                String::from_utf8_lossy(&shown).escape_debug()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the client did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The terminal's bytes as the lines a person sees: control sequences removed, split at
/// carriage returns and line feeds (each redraw starts at the left margin).
fn visible_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-byte; other escapes: ESC and one character.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else {
            plain.push(c);
        }
    }
    plain
        .split(['\r', '\n'])
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

fn start_server() -> (Proc, String) {
    let mut server = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_msrp-server")).args(["--listen", "127.0.0.1:0"]),
        true,
    );
    let line = server.wait_for("listening on");
    let addr = line.rsplit(' ').next().expect("an address").to_string();
    (server, addr)
}

#[test]
fn incoming_messages_print_above_the_line_being_typed() {
    let (_server, addr) = start_server();
    let dir = tempdir("pty");
    let state = dir.join("state");
    let client = format!(
        "exec '{}' --server {addr} --name clt2 --close-wait 2 --download-dir '{}'",
        env!("CARGO_BIN_EXE_msrp-client"),
        dir.join("dl-clt2").display()
    );
    let mut pty = Pty::spawn(&client, &[("XDG_STATE_HOME", state.to_str().unwrap())]);
    let at = pty.wait_for("clt2> ", 0);

    // A scripted peer, and a line half typed when its message arrives.
    let mut peer = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_msrp-client"))
            .args(["--server", &addr, "--name", "clt1", "--download-dir"])
            .arg(dir.join("dl-clt1")),
        false,
    );
    peer.wait_for("connected to");
    pty.type_keys("@clt1 half a li");
    let at = pty.wait_for("half a li", at);
    peer.type_line("/msg clt2 hello there");
    let after = pty.wait_for("[clt1] hello there", at);
    let redrawn = pty.wait_for("clt2> @clt1 half a li", after);

    // What a person sees: the message on a line of its own, the partial line redrawn below
    // it, nothing typed lost or mixed into the message.
    let shown = pty.shown();
    let lines = visible_lines(&shown[at..redrawn]);
    assert!(
        lines.iter().any(|l| l == "[clt1] hello there"),
        "{lines:#?}\n{}",
        String::from_utf8_lossy(&shown[at..redrawn]).escape_debug()
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("clt2> @clt1 half a li")
    );

    // Finish the line: the peer receives it whole.
    pty.type_keys("ne\r");
    assert_eq!(peer.wait_for("[clt2]"), "[clt2] half a line");

    // Up recalls it from the history; Ctrl-U clears it; /quit ends the session cleanly.
    let at = pty.wait_for("clt2> ", redrawn);
    pty.type_keys("\x1b[A");
    let at = pty.wait_for("half a line", at);
    pty.type_keys("\x15/quit\r");
    pty.wait_for("/quit", at);
    assert_eq!(pty.wait_exit(), Some(0));
    let history = std::fs::read_to_string(state.join("msrp/history")).expect("history file");
    assert!(history.contains("@clt1 half a line"), "{history}");
    assert!(history.contains("/quit"), "{history}");
    peer.type_line("/quit");
    assert!(peer.wait_exit().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_session_the_server_ends_mid_line_leaves_the_terminal_on_a_fresh_line() {
    let (server, addr) = start_server();
    let dir = tempdir("pty-cut");
    let client = format!(
        "exec '{}' --server {addr} --name clt5 --no-history-file --download-dir '{}'",
        env!("CARGO_BIN_EXE_msrp-client"),
        dir.join("dl").display()
    );
    let mut pty = Pty::spawn(&client, &[]);
    let at = pty.wait_for("clt5> ", 0);
    pty.type_keys("unfinished");
    let at = pty.wait_for("unfinished", at);
    drop(server); // killed: the connection is cut
    let at = pty.wait_for("disconnected by the server", at);
    assert_eq!(pty.wait_exit(), Some(3));
    // Bracketed paste off and a new line after the redrawn partial line.
    let shown = pty.shown();
    assert!(
        find(&shown[at..], b"\x1b[?2004l").is_some() && shown.ends_with(b"\n"),
        "{}",
        String::from_utf8_lossy(&shown[at..]).escape_debug()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_terminal_that_cannot_take_control_sequences_gets_plain_lines() {
    let (_server, addr) = start_server();
    let dir = tempdir("pty-dumb");
    let client = format!(
        "exec '{}' --server {addr} --name clt6 --close-wait 2 --download-dir '{}'",
        env!("CARGO_BIN_EXE_msrp-client"),
        dir.join("dl").display()
    );
    let mut pty = Pty::spawn(&client, &[("TERM", "dumb")]);
    let at = pty.wait_for("/help for commands", 0);
    pty.type_keys("/list\r");
    let at = pty.wait_for("Cliente 1: clt6", at);
    pty.type_keys("/quit\r");
    assert_eq!(pty.wait_exit(), Some(0));
    let shown = pty.shown();
    assert!(
        !shown.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&shown).escape_debug()
    );
    assert!(find(&shown, b"clt6> ").is_none());
    let _ = at;
    let _ = std::fs::remove_dir_all(&dir);
}
