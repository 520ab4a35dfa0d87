//! `msrp-check --profile legacy` against a C server of the dialect
//! (`contrib/fixtures/legacy_server.c`, compiled here with `cc`): the scenarios the fixture
//! does right pass, its one-recv-one-frame reading is a LEG-3 warning (a SHOULD), and its
//! death by SIGPIPE when a relay goes on to a recipient that left is a failure, after which
//! the target no longer accepts connections. Frames it releases together, which arrive merged
//! in one read, are blamed on LEG-12.
//!
//! `cc` is required: without it these tests fail with a message saying so.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Generous: a bound for a hung process, never a measure of speed.
const DEADLINE: Duration = Duration::from_secs(120);

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("msrp-legacy-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create a temporary folder");
    d
}

/// Compiles a fixture with `cc`; fails the test with a clear message when `cc` is missing.
fn compile(source: &str, out: &Path) {
    let src = Path::new(ROOT).join(source);
    let status = Command::new("cc")
        .args(["-O1", "-pthread", "-o"])
        .arg(out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "this test needs a C compiler: `cc` could not be run ({e}); install one (e.g. \
                 apt-get install gcc) to check the legacy fixtures"
            )
        });
    assert!(status.success(), "cc failed on {}", src.display());
}

/// A process in its own process group, killed (with its group) when dropped.
struct Proc {
    child: Child,
}

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        Proc { child }
    }

    /// Waits for the process to end, within `DEADLINE`.
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process still running after {DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // The child leads its own group (process_group(0)): signal the whole group. kill(2)
        // has no memory-safety requirement.
        let _ = unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// Starts the C server on a free port; returns it and its address.
fn start_fixture(bin: &Path) -> (Proc, String) {
    let mut p = Proc::spawn(Command::new(bin).arg("0"));
    let stdout = p.child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the fixture says where it listens");
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (p, format!("127.0.0.1:{port}"))
}

/// Runs msrp-check to its end (within the deadline); returns its exit code and output.
fn check(args: &[&str]) -> (Option<i32>, String) {
    let mut p = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_msrp-check"))
            .current_dir(ROOT)
            .args(args),
    );
    let mut out = p.child.stdout.take().expect("piped stdout");
    let mut err = p.child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = p.wait();
    let text = reader.join().expect("output reader");
    (status.code(), text)
}

/// The verdict word of scenario `id` in a human report (`PASS`, `WARN`, `FAIL`…).
fn verdict<'a>(report: &'a str, id: &str) -> &'a str {
    report
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            let v = words.next()?;
            (words.next()? == id).then_some(v)
        })
        .unwrap_or_else(|| panic!("no verdict for {id} in:\n{report}"))
}

/// Scenarios the fixture gets right in the legacy profile, by rule: messages, LIST, names,
/// relay and P2P files with ACKs, error texts that leave the connection usable, short names.
const RIGHT: &[&str] = &[
    "msg-basic",
    "msg-unknown-recipient",
    "msg-group-chat",
    "list-*",
    "names-taken",
    "ack-basic",
    "ack-p2p",
    "ack-unexpected",
    "file-relay-2049",
    "file-relay-2048",
    "file-name-dots",
    "file-ip-46",
    "p2p-size-2049",
    "legacy-short-names",
    "legacy-bad-fields",
];

#[test]
fn the_fixture_passes_what_it_does_right_and_coalescing_is_a_leg3_warning() {
    let dir = tempdir("fixture-right");
    let bin = dir.join("legacy_server");
    compile("contrib/fixtures/legacy_server.c", &bin);
    let (mut server, addr) = start_fixture(&bin);
    let mut args = vec!["--profile", "legacy", "--target", &addr];
    for id in RIGHT.iter().chain(&["legacy-coalesced"]) {
        args.extend(["--only", id]);
    }
    let (code, report) = check(&args);
    assert_eq!(code, Some(0), "warnings only, so exit 0:\n{report}");
    assert_eq!(verdict(&report, "legacy-coalesced"), "WARN", "{report}");
    let warn_at = report
        .find("WARN  legacy-coalesced")
        .expect("the warning's block");
    assert!(
        report[warn_at..].contains("rule LEG-3 (Should)"),
        "the warning names LEG-3:\n{report}"
    );
    for id in [
        "msg-basic",
        "ack-p2p",
        "file-relay-2049",
        "legacy-short-names",
    ] {
        assert_eq!(verdict(&report, id), "PASS", "{id}:\n{report}");
    }
    assert!(!report.contains("FAIL "), "{report}");
    // The fixture is still serving after the whole run.
    assert!(server.child.try_wait().expect("try_wait").is_none());
}

#[test]
fn the_fixtures_sigpipe_death_is_a_failure_and_the_target_stops_accepting() {
    let dir = tempdir("fixture-sigpipe");
    let bin = dir.join("legacy_server");
    compile("contrib/fixtures/legacy_server.c", &bin);
    let (mut server, addr) = start_fixture(&bin);
    // The recipient leaves mid-body and the sender goes on: the fixture writes the rest to
    // the departed recipient without ignoring SIGPIPE.
    let (code, report) = check(&[
        "--profile",
        "legacy",
        "--target",
        &addr,
        "scenarios/file/recipient-closes.yaml",
        "scenarios/msg/basic.yaml",
    ]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(
        verdict(&report, "file-recipient-closes"),
        "FAIL",
        "{report}"
    );
    // Without a supervised target the death shows as a target that no longer accepts: ERR-4
    // on the scenario during which it happened, the rest as one line.
    assert!(report.contains("rule ERR-4 (Must)"), "{report}");
    assert!(
        report.contains(
            "NOT RUN 1 scenarios: the target stopped accepting connections during file-recipient-closes"
        ),
        "{report}"
    );
    let status = server.wait();
    assert_eq!(
        status.signal(),
        Some(libc::SIGPIPE),
        "the fixture died of SIGPIPE ({status:?})"
    );

    // Started by msrp-check itself, the death is named, and the next scenario runs against
    // the restarted fixture.
    let command = format!("{} {{port}}", bin.display());
    let (code, report) = check(&[
        "--profile",
        "legacy",
        "--server-cmd",
        &command,
        "scenarios/file/recipient-closes.yaml",
        "scenarios/msg/basic.yaml",
    ]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(
        verdict(&report, "file-recipient-closes"),
        "FAIL",
        "{report}"
    );
    assert!(report.contains("rule ERR-4 (Must)"), "{report}");
    assert!(report.contains("killed by SIGPIPE"), "{report}");
    assert_eq!(verdict(&report, "msg-basic"), "PASS", "{report}");
}

/// The fixture holds frames for a recipient while a relayed body is in progress, then lets
/// them go back to back: they reach the harness merged in one read, which no receiver of the
/// dialect can take apart. That is the fixture's LEG-12 fault (the reference server writes
/// them apart), not the ORD-2 the scenario checks.
#[test]
fn frames_released_together_are_blamed_on_leg12() {
    let dir = tempdir("fixture-merged");
    let bin = dir.join("legacy_server");
    compile("contrib/fixtures/legacy_server.c", &bin);
    let (mut server, addr) = start_fixture(&bin);
    let (code, report) = check(&[
        "--profile",
        "legacy",
        "--target",
        &addr,
        "--only",
        "order-body-contiguous-many",
    ]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(
        verdict(&report, "order-body-contiguous-many"),
        "FAIL",
        "{report}"
    );
    assert!(report.contains("rule LEG-12 (Must)"), "{report}");
    assert!(
        report.contains("frames merged in one read"),
        "the failure says why:\n{report}"
    );
    assert!(server.child.try_wait().expect("try_wait").is_none());
}
