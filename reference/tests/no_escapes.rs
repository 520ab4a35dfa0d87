//! No escape byte in the server's log or the client's output when they go to a file or a
//! pipe (`msrp-server 2>server.log`), even with `TERM` naming a colour terminal and the
//! most verbose log; `CLICOLOR_FORCE` brings the log's colours back. A peer cannot put an
//! escape sequence into the client's output either: control characters in received text
//! are shown as `\xNN`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ESC: u8 = 0x1b;

fn clean(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG")
        .env("TERM", "xterm-256color")
}

/// Starts msrp-server with its log to a pipe; returns it and its address.
fn server(env: &[(&str, &str)]) -> (Child, String, BufReader<std::process::ChildStderr>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_msrp-server"));
    clean(&mut cmd)
        .args(["--listen", "127.0.0.1:0", "-vvv"])
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start msrp-server");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut line = Vec::new();
    while Instant::now() < deadline {
        line.clear();
        if err.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(addr) = text.trim().strip_prefix("msrp-server listening on ") {
            return (child, addr.to_string(), err);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("msrp-server did not say where it listens");
}

/// A session through the client, commands piped in; returns its stdout and stderr.
fn client(addr: &str, name: &str, commands: &str) -> (Vec<u8>, Vec<u8>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_msrp-client"));
    let dir = std::env::temp_dir().join(format!("msrp-noesc-{}-{name}", std::process::id()));
    let mut child = clean(&mut cmd)
        .args([
            "--server",
            addr,
            "--name",
            name,
            "--close-wait",
            "2",
            "--download-dir",
        ])
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start msrp-client");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (out.stdout, out.stderr)
}

fn stop(mut child: Child, mut err: BufReader<std::process::ChildStderr>) -> Vec<u8> {
    // SIGTERM: the server stops gracefully and flushes its log.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut log = Vec::new();
    let _ = err.read_to_end(&mut log);
    log
}

#[test]
fn the_server_log_and_the_client_output_in_a_pipe_hold_no_escape() {
    let (srv, addr, err) = server(&[]);
    let (out, errout) = client(&addr, "esc1", "/list\n/msg nobody hola\n");
    let log = stop(srv, err);
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains("DEBUG") || text.contains("INFO"), "{text}");
    assert!(!log.contains(&ESC), "{text}");
    assert!(!out.contains(&ESC) && !errout.contains(&ESC));
    assert!(String::from_utf8_lossy(&out).contains("esc1"));
}

#[test]
fn clicolor_force_colours_the_server_log() {
    let (srv, addr, err) = server(&[("CLICOLOR_FORCE", "1")]);
    let _ = client(&addr, "esc2", "/list\n");
    let log = stop(srv, err);
    assert!(log.contains(&ESC), "{}", String::from_utf8_lossy(&log));
}

#[test]
fn a_peer_cannot_put_escape_sequences_into_the_client_output() {
    let (srv, addr, err) = server(&[]);
    // esc4 waits for a message that carries ESC [ 2 J (clear screen) and a bell.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_msrp-client"));
    let dir = std::env::temp_dir().join(format!("msrp-noesc-{}-esc4", std::process::id()));
    let mut receiver = clean(&mut cmd)
        .args([
            "--server",
            &addr,
            "--name",
            "esc4",
            "--close-wait",
            "2",
            "--download-dir",
        ])
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start msrp-client");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let name = msrp_reference::Name::from_array(*b"esc3");
        let mut c = msrp_reference::client::Client::connect(&addr, name, Duration::from_secs(5))
            .await
            .expect("connect");
        // Logins are silent: wait until the server lists the receiver.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        'listed: while tokio::time::Instant::now() < deadline {
            c.sender().list().await.expect("LIST");
            while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, c.next_event()).await {
                if let msrp_reference::client::Event::List { text } = ev {
                    if text.windows(4).any(|w| w == b"esc4") {
                        break 'listed;
                    }
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        c.sender()
            .send_text(
                msrp_reference::Name::from_array(*b"esc4"),
                &b"look\x1b[2J\x07here"[..],
            )
            .await
            .expect("send");
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    drop(receiver.stdin.take());
    let out = receiver.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = stop(srv, err);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.stdout.contains(&ESC), "{text}");
    assert!(text.contains("[esc3] look\\x1b[2J\\x07here"), "{text}");
}
