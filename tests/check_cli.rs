//! `msrp-check` as a user runs it: exit codes, precise errors, JUnit, JSON, schema.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_msrp-check"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run msrp-check")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("msrp-check-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

const GOOD: &str = "id: ok-one
title: a message arrives
rules: [MSG-1]
clients: { a: aaaa, b: bbbb }
steps:
  - connect: a
  - connect: b
  - send: { from: a, msg: { to: b, text: hi } }
  - expect: { client: b, msg: { from: a, text: hi } }
";

#[test]
fn a_passing_run_exits_0_with_the_closing_line_and_no_colour_when_piped() {
    let dir = tempdir("pass");
    let f = write(&dir, "ok.yaml", GOOD);
    let o = check(&[&f]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("PASS  ok-one [MSG-1]"), "{out}");
    assert!(
        out.trim_end()
            .ends_with("1 passed, 0 failed, 0 warned, 0 skipped"),
        "{out}"
    );
    assert!(
        !out.contains('\u{1b}'),
        "no escape codes when stdout is not a terminal"
    );
}

#[test]
fn a_failure_says_where_which_rule_and_what_differed_and_exits_1() {
    let dir = tempdir("fail");
    let wrong = GOOD.replace(
        "msg: { from: a, text: hi } }",
        "msg: { from: a, text: bye } }",
    );
    let f = write(&dir, "wrong.yaml", &wrong);
    let junit = dir.join("report.xml");
    let o = check(&[&f, "--junit", junit.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    for needle in [
        "FAIL  ok-one",
        "wrong.yaml:9 (step 4)",
        "rule MSG-1 (Must): Client → server: 0x0001 | to[4] | text 0x00.",
        "expected: MSG name=\"aaaa\" text=\"bye\"",
        "actual:   MSG name=\"aaaa\" text=\"hi\"",
        "bytes:    00 01 61 61 61 61 68 69 00",
        "0 passed, 1 failed, 0 warned, 0 skipped",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .expect("a testcase");
    assert_eq!(case.attribute("name"), Some("ok-one"));
    let failure = case
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure");
    assert!(failure.attribute("message").unwrap().contains("MSG-1"));
    assert!(failure
        .text()
        .unwrap_or("")
        .contains("expected: MSG name=\"aaaa\" text=\"bye\""));
}

#[test]
fn broken_scenarios_are_errors_with_file_and_line() {
    let dir = tempdir("broken");
    let unknown_key = write(
        &dir,
        "unknown.yaml",
        &GOOD.replace(
            "  - connect: b\n",
            "  - connect: b\n  - expect: { client: b, msgg: {} }\n",
        ),
    );
    let bad_yaml = write(&dir, "bad.yaml", "id: x\ntitle: [unclosed\n");
    let bad_rule = write(&dir, "rule.yaml", &GOOD.replace("[MSG-1]", "[MSG-99]"));
    let bad_name = write(&dir, "name.yaml", &GOOD.replace("to: b,", "to: nobody,"));
    for (file, needle) in [
        (&unknown_key, "unknown.yaml:8:"),
        (&unknown_key, "unknown field `msgg`"),
        (&bad_yaml, "bad.yaml:"),
        (&bad_rule, "\"MSG-99\" is not a rule of SPEC.md"),
        (
            &bad_name,
            "name.yaml:8: \"nobody\" is neither a declared client nor a 4-byte name",
        ),
    ] {
        let o = check(&[file]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).contains(needle),
            "missing {needle:?} in:\n{}",
            text(&o)
        );
    }
}

#[test]
fn nothing_selected_or_a_usage_error_exits_2() {
    let o = check(&["--only", "no-such-scenario-*"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = check(&["--timeout", "-1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = check(&["--target", "not an address"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn an_unreachable_target_is_an_error_verdict_not_a_pass() {
    let dir = tempdir("unreach");
    let f = write(&dir, "ok.yaml", GOOD);
    let o = check(&[&f, "--target", "127.0.0.1:1", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    assert_eq!(v["totals"]["errors"], 1);
    let reason = v["outcomes"][0]["reason"].as_str().unwrap();
    // Found by the preflight, once, before any scenario (issue 13).
    assert!(reason.contains("cannot connect to 127.0.0.1:1"), "{reason}");
}

#[test]
fn foreign_targets_skip_scenarios_needing_undeclared_settings() {
    let dir = tempdir("skip");
    let f = write(
        &dir,
        "full.yaml",
        &GOOD.replace("clients:", "server: { max-clients: 2 }\nclients:"),
    );
    let o = check(&[&f, "--target", "127.0.0.1:1"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "only skipped: nothing ran\n{}",
        text(&o)
    );
    assert!(text(&o).contains("needs max-clients=2"), "{}", text(&o));
}

#[test]
fn list_coverage_and_schema() {
    let o = check(&["--list", "--only", "msg-basic"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("msg-basic"));
    let o = check(&["--coverage"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("MSG-2"), "{}", text(&o));
    assert!(
        text(&o).contains("DEC-4   DECISION ack-too-long"),
        "{}",
        text(&o)
    );
    let o = check(&["schema"]);
    assert_eq!(o.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON Schema");
    assert!(schema["properties"]["steps"].is_object(), "{schema}");
    assert!(schema.to_string().contains("expect_silence"));
    // The committed schema is the reviewed form of the format: a change to the scenario types
    // shows up here and in the diff of scenarios/schema.json.
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/schema.json"),
    )
    .expect("scenarios/schema.json is committed");
    assert!(
        String::from_utf8_lossy(&o.stdout) == committed,
        "the scenario format changed: review it, then `cargo run --bin msrp-check -- schema > scenarios/schema.json`"
    );
}

/// A reader that stops early is not an error: `msrp-check schema | head` exits 0, quietly.
#[test]
fn schema_into_a_closed_pipe_is_quiet() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_msrp-check"))
        .arg("schema")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run msrp-check");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A real foreign implementation: the naive Python server in contrib/ (one recv() per frame,
/// the recipient's name left in forwarded messages). msrp-check must name MSG-2 and show the
/// transcript diff against the reference snapshot.
#[test]
fn a_naive_foreign_server_fails_with_the_rule_and_the_diff() {
    use std::io::BufRead;
    let mut server = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/naive-server/naive_server.py"))
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs the naive server");
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_string();
    let o = check(&[
        "--target",
        &addr,
        "--only",
        "msg-basic",
        "--snapshots",
        "snapshots",
        "--timeout",
        "0.5",
    ]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    for needle in [
        "FAIL  msg-basic",
        "rule MSG-2 (Must)",
        "expected: MSG name=\"clt1\"",
        "actual:   MSG name=\"clt2\"",
        "first difference at transcript line 15: bob   < MSG name=\"clt2\"",
        "-  bob   < MSG name=\"clt1\"",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}
