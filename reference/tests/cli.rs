//! The binaries as a person uses them: msrp-server and scripted msrp-client sessions, and
//! the client's exit status (0 ok, 1 the server refused something or a transfer failed,
//! 2 local errors, 3 connection refused or lost).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::process::{tempdir, Proc};

/// Starts `msrp-server` on a free port; returns it and its address.
fn start_server() -> (Proc, String) {
    let mut server = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_msrp-server")).args(["--listen", "127.0.0.1:0"]),
        true,
    );
    let line = server.wait_for("listening on");
    let addr = line.rsplit(' ').next().unwrap().to_string();
    (server, addr)
}

/// Runs a client to completion with `script` on its stdin (then end of input); returns its
/// exit code and everything it printed on stdout and stderr.
fn scripted(
    addr: &str,
    name: &str,
    dir: &Path,
    script: &[&str],
    extra: &[&str],
) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_msrp-client"))
        .args(["--server", addr, "--name", name, "--download-dir"])
        .arg(dir.join(format!("dl-{name}")))
        .args(extra)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn msrp-client");
    let mut stdin = child.stdin.take().expect("piped stdin");
    for line in script {
        writeln!(stdin, "{line}").expect("write a command");
    }
    drop(stdin);
    // The client bounds every wait itself; this only keeps a broken client from hanging
    // the test run.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("try_wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("msrp-client did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("collect output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// A raw peer logged in as `name` that reads nothing and never acknowledges; returned once
/// the server has registered it (a LIST it asked for names it).
fn silent_peer(addr: &str, name: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect the silent peer");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(name.as_bytes()).unwrap();
    s.write_all(&[0, 3]).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(&format!(": {name}\n")) {
        let n = s.read(&mut buf).expect("the LIST reply");
        assert!(n > 0, "the server closed the silent peer");
        seen.extend_from_slice(&buf[..n]);
    }
    s
}

#[test]
fn two_scripted_clients_chat_list_and_transfer_a_file_with_ack() {
    let mut server = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_msrp-server")).args(["--listen", "127.0.0.1:0"]),
        true,
    );
    let line = server.wait_for("listening on");
    let addr = line.rsplit(' ').next().unwrap().to_string();

    let dir = tempdir("session");
    let src = dir.join("documento.txt");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let client = |name: &str, dl: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_msrp-client"));
        cmd.args(["--server", &addr, "--name", name, "--download-dir"])
            .arg(dir.join(dl));
        Proc::spawn(&mut cmd, false)
    };

    let mut b = client("clt2", "dl-b");
    b.wait_for("connected to");
    let mut a = client("clt1", "dl-a");
    a.wait_for("connected to");

    a.type_line("/msg clt2 Hola, ¿cómo estás?");
    b.wait_for("[clt1] Hola, ¿cómo estás?");
    b.type_line("@clt1 Hola, bien, ¿y tú?");
    a.wait_for("[clt2] Hola, bien, ¿y tú?");

    a.type_line("/list");
    a.wait_for("Lista de clientes:");
    assert_eq!(a.wait_for("Cliente 1:"), "Cliente 1: clt2");
    assert_eq!(a.wait_for("Cliente 2:"), "Cliente 2: clt1");

    a.type_line(&format!("/send clt2 {}", src.display()));
    let saved = b.wait_for("saved documento.txt from clt1");
    assert!(saved.ends_with("dl-b/documento.txt"), "{saved}");
    a.wait_for("clt2 received documento.txt (ACK)");
    assert_eq!(std::fs::read(dir.join("dl-b/documento.txt")).unwrap(), data);

    // The same name again is saved beside it, never over it.
    a.type_line(&format!("/send clt2 {} --p2p", src.display()));
    let saved = b.wait_for("saved documento.txt from clt1");
    assert!(saved.contains("dl-b/documento (1).txt"), "{saved}");
    a.wait_for("clt2 received documento.txt (ACK)");
    assert_eq!(
        std::fs::read(dir.join("dl-b/documento (1).txt")).unwrap(),
        data
    );

    a.type_line("/msg nobody hi");
    a.wait_for("error: invalid name \"nobody\"");
    a.type_line("/msg zzz~ hi");
    a.wait_for("error: unknown-recipient: zzz~ is not connected");

    a.type_line("/quit");
    // a was told unknown-recipient: status 1; b had nothing go wrong.
    assert_eq!(a.wait_exit().code(), Some(1));
    assert_eq!(b.wait_exit().code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let mut c = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_msrp-client")).args([
            "--server",
            "127.0.0.1:1",
            "--name",
            "abcd",
        ]),
        true,
    );
    c.wait_for("cannot connect to 127.0.0.1:1");
    assert_eq!(c.wait_exit().code(), Some(3));
}

#[test]
fn the_answer_to_the_last_command_is_always_shown_before_exiting() {
    // At end of input the client half-closes and reads until the server closes, so the
    // ERROR owed for the last /msg cannot be lost however the race goes (DEC-17).
    let (_server, addr) = start_server();
    let dir = tempdir("last-answer");
    for run in 0..20 {
        let (code, out) = scripted(&addr, "last", &dir, &["/msg zzz~ hi"], &[]);
        assert!(
            out.contains("error: unknown-recipient: zzz~ is not connected"),
            "run {run}: the ERROR for the last /msg was not shown:\n{out}"
        );
        assert_eq!(code, Some(1), "run {run}:\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_session_where_everything_succeeds_exits_0() {
    let (_server, addr) = start_server();
    let dir = tempdir("exit-ok");
    let (code, out) = scripted(&addr, "self", &dir, &["/msg self hola", "/list"], &[]);
    assert!(out.contains("[self] hola"), "{out}");
    assert!(out.contains("Cliente 1: self"), "{out}");
    assert_eq!(code, Some(0), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_that_is_never_acknowledged_exits_1() {
    let (_server, addr) = start_server();
    let dir = tempdir("exit-unacked");
    let _sink = silent_peer(&addr, "sink");
    let src = dir.join("nota.txt");
    std::fs::write(&src, b"nobody will acknowledge this").unwrap();
    let send = format!("/send sink {}", src.display());
    let (code, out) = scripted(&addr, "from", &dir, &[&send], &["--ack-wait", "1"]);
    assert!(out.contains("sent nota.txt to sink"), "{out}");
    assert!(out.contains("gave up waiting for 1 ACK(s)"), "{out}");
    assert!(!out.contains("unknown-recipient"), "{out}");
    assert_eq!(code, Some(1), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_p2p_offer_nobody_fetches_is_a_failed_transfer_exit_1() {
    let (_server, addr) = start_server();
    let dir = tempdir("exit-p2p");
    let _sink = silent_peer(&addr, "sink");
    let src = dir.join("p2p.bin");
    std::fs::write(&src, [7u8; 1000]).unwrap();
    let send = format!("/send sink {} --p2p", src.display());
    let (code, out) = scripted(&addr, "from", &dir, &[&send], &["--p2p-wait", "1"]);
    assert!(out.contains("error: sending p2p.bin to sink"), "{out}");
    assert!(!out.contains("unknown-recipient"), "{out}");
    assert_eq!(code, Some(1), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_file_or_a_bad_command_exits_2() {
    let (_server, addr) = start_server();
    let dir = tempdir("exit-local");
    let missing = dir.join("no-such-file.bin");
    let send = format!("/send self {}", missing.display());
    let (code, out) = scripted(&addr, "self", &dir, &[&send], &[]);
    assert!(out.contains("cannot open"), "{out}");
    assert_eq!(code, Some(2), "{out}");
    let (code, out) = scripted(&addr, "self", &dir, &["/frobnicate"], &[]);
    assert!(out.contains("unknown command"), "{out}");
    assert_eq!(code, Some(2), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_session_cut_by_the_server_exits_3() {
    let (server, addr) = start_server();
    let dir = tempdir("exit-cut");
    let mut c = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_msrp-client"))
            .args(["--server", &addr, "--name", "cutx", "--download-dir"])
            .arg(dir.join("dl")),
        false,
    );
    c.wait_for("connected to");
    // Killing the server ends the session while the client still has input to read.
    drop(server);
    c.wait_for("disconnected");
    assert_eq!(c.wait_exit().code(), Some(3), "{}", c.seen.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}
