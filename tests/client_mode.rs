//! `msrp-check --client`: the reference client passes every client scenario, a deliberately
//! naive C client (contrib/fixtures/naive_client.c) fails each fault's scenario for the rule
//! that fault breaks, and bad input is refused clearly. Real processes and sockets.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_msrp-check"));
    c.current_dir(root());
    c
}

/// The msrp-client binary the workspace build put beside this test's own folder.
fn msrp_client() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = dir.join("msrp-client");
    assert!(
        bin.is_file(),
        "{} is missing: build it first (cargo build -p msrp-reference --bin msrp-client, or \
         cargo test --workspace)",
        bin.display()
    );
    bin
}

fn msrp_client_command() -> String {
    format!(
        "{} --server {{host}}:{{port}} --name {{name}} --download-dir {{download_dir}}",
        msrp_client().display()
    )
}

/// Compiles the naive client with the system C compiler; a missing `cc` fails the test.
fn naive_client() -> PathBuf {
    let out = std::env::temp_dir().join(format!("msrp-naive-client-{}", std::process::id()));
    let status = Command::new("cc")
        .args(["-O0", "-fstack-protector-all", "-o"])
        .arg(&out)
        .arg(root().join("contrib/fixtures/naive_client.c"))
        .status();
    match status {
        Ok(s) if s.success() => out,
        Ok(s) => panic!("cc could not compile contrib/fixtures/naive_client.c: {s}"),
        Err(e) => panic!("this test needs a C compiler (`cc`) to build the naive client: {e}"),
    }
}

fn run_json(args: &[&str]) -> (i32, Value) {
    let out = check()
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run msrp-check");
    let text = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

fn outcome<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["outcomes"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["id"] == id))
        .unwrap_or_else(|| panic!("no outcome for {id}"))
}

#[test]
fn msrp_client_passes_every_client_scenario() {
    let command = msrp_client_command();
    let (code, json) = run_json(&["--client", &command]);
    let count = std::fs::read_dir(root().join("scenarios/client"))
        .expect("scenarios/client")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        })
        .count();
    assert!(count >= 20, "only {count} client scenarios");
    assert_eq!(json["totals"]["passed"], count, "{json:#}");
    assert_eq!(code, 0, "{json:#}");
}

#[test]
fn the_naive_client_fails_each_scenario_for_the_rule_its_fault_breaks() {
    let naive = naive_client();
    let command = format!(
        "{} {{host}} {{port}} {{name}} {{download_dir}}",
        naive.display()
    );
    let (code, json) = run_json(&["--client", &command]);
    let _ = std::fs::remove_file(&naive);
    assert_eq!(code, 1, "a failing client is exit status 1");
    // Scenario → (verdict, rule blamed): one fault each.
    let expected = [
        ("client-split-every-byte", "fail", "ENC-3"),
        ("client-coalesced", "fail", "ENC-3"),
        ("client-relay-receive", "fail", "ENC-3"),
        ("client-ack-after-last-byte", "warn", "ACK-4"),
        ("client-cut-body-no-ack", "fail", "CLI-3"),
        ("client-server-closes-mid-body", "fail", "CLI-3"),
        ("client-huge-declared-size", "fail", "CLI-3"),
        ("client-hostile-traversal", "fail", "CLI-1"),
        ("client-hostile-control-chars", "fail", "CLI-1"),
        ("client-hostile-long-name", "fail", "CLI-4"),
        ("client-existing-file", "warn", "CLI-2"),
        ("client-hostile-device-name", "warn", "CLI-6"),
        ("client-flood", "fail", "CLI-5"),
        ("client-unexpected-frames", "fail", "CLI-5"),
        ("client-p2p-receive", "fail", "FILE-4"),
        ("client-p2p-send", "fail", "FILE-1"),
    ];
    for (id, verdict, rule) in expected {
        let o = outcome(&json, id);
        assert_eq!(o["verdict"], verdict, "{id}: {o:#}");
        assert_eq!(o["failure"]["rule"], rule, "{id}: {o:#}");
    }
    // The evidence a report needs: the signal named, the path written, the output tail.
    let huge = outcome(&json, "client-huge-declared-size");
    assert!(
        huge["failure"]["actual"]
            .as_str()
            .is_some_and(|a| a.contains("signal 6 (SIGABRT)")),
        "{huge:#}"
    );
    let traversal = outcome(&json, "client-hostile-traversal");
    let actual = traversal["failure"]["actual"].as_str().unwrap_or("");
    assert!(
        actual.contains("/msrp-client-") && actual.ends_with("/escaped.txt"),
        "{traversal:#}"
    );
    let notes = traversal["notes"].to_string();
    assert!(
        notes.contains("stdout tail") && notes.contains("sends"),
        "{notes}"
    );
    // What it sends is right: those scenarios pass.
    for id in [
        "client-login",
        "client-msg-send",
        "client-list-send",
        "client-relay-send",
    ] {
        assert_eq!(outcome(&json, id)["verdict"], "pass", "{id}");
    }
}

#[test]
fn bad_commands_and_drivers_are_usage_errors() {
    let run = |args: &[&str]| {
        let out = check().args(args).output().expect("run msrp-check");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--client", "/no/such/client {host} {port}"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/no/such/client"), "{err}");

    let (code, err) = run(&["--client", "true {host} {prot}"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("{prot}"), "{err}");

    let dir = std::env::temp_dir().join(format!("msrp-driver-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "name: bad\nactions:\n  msg: \"{to} {text}\"\n  shout: \"!\"\nshow:\n  msg: a\n  list: b\n  error: c\n",
    )
    .expect("write driver");
    let (code, err) = run(&["--client", "true", "--driver", bad.to_str().unwrap_or("")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad.yaml:4") && err.contains("shout"), "{err}");

    let (code, err) = run(&[
        "--client",
        "true",
        "--driver",
        "drivers/example-legacy-client.yaml",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("legacy"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);

    let (code, err) = run(&["--client", "true", "--only", "no-such-scenario"]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn a_client_that_never_connects_is_an_error_naming_the_command() {
    let (code, json) = run_json(&[
        "--client",
        "sleep 30",
        "--only",
        "client-login",
        "--timeout",
        "0.5",
    ]);
    assert_eq!(code, 1);
    let o = outcome(&json, "client-login");
    assert_eq!(o["verdict"], "error", "{o:#}");
    let reason = o["reason"].as_str().unwrap_or("");
    assert!(reason.contains("`sleep 30` never connected"), "{reason}");
}

#[test]
fn a_client_that_dies_before_connecting_is_a_crash_with_its_signal_named() {
    let (code, json) = run_json(&[
        "--client",
        "sh -c 'kill -SEGV $$'",
        "--only",
        "client-login",
    ]);
    assert_eq!(code, 1);
    let o = outcome(&json, "client-login");
    // A death by a signal is a crash (CLI-4) wherever it happens, the signal named.
    assert_eq!(o["verdict"], "fail", "{o:#}");
    assert_eq!(o["failure"]["rule"], "CLI-4", "{o:#}");
    let actual = o["failure"]["actual"].as_str().unwrap_or("");
    assert!(actual.contains("signal 11 (SIGSEGV)"), "{o:#}");
}
