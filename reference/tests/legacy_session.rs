//! A person chatting with a circulating C client through our tools: `msrp-client --profile
//! legacy` and the C client fixture (`contrib/fixtures/legacy_client.c`, compiled here with
//! `cc`) through `msrp-server --profile legacy`, one message each way and a P2P file each way,
//! checked byte for byte. Every process runs in its own process group; every wait has a
//! deadline.
//!
//! `cc` is required: without it this test fails with a message saying so.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// A process in its own group whose output lines arrive on a channel.
struct Proc {
    what: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn spawn(what: &'static str, cmd: &mut Command) -> Proc {
        let mut child = cmd
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        for out in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stdin = child.stdin.take();
        Proc {
            what,
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`, within the deadline; returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "{}: no line containing {needle:?} within {WAIT:?}; saw:\n{}",
                    self.what,
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write a command");
        stdin.flush().expect("flush");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Each process leads its own group and starts no children: killing it ends the group.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("msrp-legacy-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create a temporary folder");
    d
}

/// Compiles the C client with `cc`; fails the test with a clear message when `cc` is missing.
fn compile_client(out: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/fixtures/legacy_client.c");
    let status = Command::new("cc")
        .args(["-O1", "-pthread", "-o"])
        .arg(out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "this test needs a C compiler: `cc` could not be run ({e}); install one (e.g. \
                 apt-get install gcc) to check the legacy session"
            )
        });
    assert!(status.success(), "cc failed on {}", src.display());
}

#[test]
fn msrp_client_and_a_c_client_chat_and_exchange_p2p_files_through_the_legacy_server() {
    let dir = tempdir("session");
    let c_bin = dir.join("legacy_client");
    compile_client(&c_bin);

    let mut server = Proc::spawn(
        "msrp-server",
        Command::new(env!("CARGO_BIN_EXE_msrp-server")).args([
            "--profile",
            "legacy",
            "--listen",
            "127.0.0.1:0",
        ]),
    );
    let line = server.wait_for("listening on");
    let addr = line.rsplit(' ').next().expect("an address").to_string();
    let (host, port) = addr.rsplit_once(':').expect("HOST:PORT");

    // The C client in its own folder, with the fixed folders circulating clients use.
    let c_dir = dir.join("c");
    std::fs::create_dir_all(c_dir.join("client_files")).expect("client_files");
    let from_c: Vec<u8> = (0..7000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(c_dir.join("client_files/foto.bin"), &from_c).expect("write a file");
    let mut c = Proc::spawn(
        "C client",
        Command::new(&c_bin)
            .current_dir(&c_dir)
            .args([host, port, "cc"]),
    );
    c.wait_for("conectado como cc");

    let rs_dir = dir.join("rs");
    std::fs::create_dir_all(&rs_dir).expect("rs folder");
    let from_rs: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
    let rs_file = rs_dir.join("notas.txt");
    std::fs::write(&rs_file, &from_rs).expect("write a file");
    let mut rs = Proc::spawn(
        "msrp-client",
        Command::new(env!("CARGO_BIN_EXE_msrp-client"))
            .args(["--profile", "legacy", "--name", "rs", "--server", &addr])
            .arg("--download-dir")
            .arg(rs_dir.join("dl")),
    );
    rs.wait_for("connected to");

    // Both are listed, in connection order.
    c.type_line("clientes");
    c.wait_for("Cliente 2: rs");

    // One message each way (LEG-4, LEG-7).
    rs.type_line("/msg cc hola desde rust");
    c.wait_for("[rs]: hola desde rust");
    c.type_line("rs hola desde C, ¿qué tal?");
    rs.wait_for("[cc] hola desde C, ¿qué tal?");

    // A P2P file from the C client: msrp-client fetches, saves and acknowledges it.
    c.type_line("rs archivo foto.bin");
    rs.wait_for("saved foto.bin from 127.0.0.1:");
    c.wait_for("ACK foto.bin");
    let saved = std::fs::read(rs_dir.join("dl/foto.bin")).expect("the saved file");
    assert!(saved == from_c, "the P2P file from C arrived byte for byte");

    // A P2P file from msrp-client: the C client fetches, saves and acknowledges it.
    rs.type_line(&format!("/send cc {} --p2p", rs_file.display()));
    c.wait_for("recibido notas.txt 5000");
    rs.wait_for("cc received notas.txt (ACK)");
    let got = std::fs::read(c_dir.join("recibidos/notas.txt")).expect("the received file");
    assert!(
        got == from_rs,
        "the P2P file from Rust arrived byte for byte"
    );

    // msrp-client leaves cleanly: every ACK came, no error text arrived.
    rs.type_line("/quit");
    rs.stdin = None;
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = rs.child.try_wait().expect("try_wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "msrp-client did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "msrp-client exit {status:?}:\n{}",
        rs.seen.join("\n")
    );
}
