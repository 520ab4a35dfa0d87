//! msrp-check supervising real server processes: the C fixture of `contrib/fixtures/` (a
//! thread-per-client server that dies of SIGPIPE and of a stack overrun in known scenarios),
//! started with `--server-cmd`, restarted after each death; the same fixture without a command;
//! a mute one; commands that cannot start; several targets at once.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{check, text, thread_server};

fn fixture_cmd(extra: &str) -> String {
    format!("{} --port {{port}}{extra}", thread_server().display())
}

/// A scenario's block in the human report: its verdict line and the indented lines under it.
fn block(out: &str, id: &str) -> String {
    let mut lines = out.lines().skip_while(|l| !l.contains(&format!(" {id} [")));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("{id} not in the report:\n{out}"));
    let rest: Vec<&str> = lines.take_while(|l| l.starts_with(' ')).collect();
    format!("{first}\n{}", rest.join("\n"))
}

#[test]
fn a_sigpipe_death_is_blamed_on_err4_and_the_restarted_target_gets_its_own_verdicts() {
    let o = check(&[
        "--server-cmd",
        &fixture_cmd(""),
        "--only",
        "file-recipient-closes,file-relay-1,file-relay-2047,msg-basic",
        "scenarios",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let died = block(&out, "file-recipient-closes");
    for needle in [
        "FAIL  file-recipient-closes",
        "rule ERR-4 (Must)",
        "killed by SIGPIPE (signal 13) during step",
        "MSG_NOSIGNAL",
        "before that, step 9: FILE-8",
    ] {
        assert!(died.contains(needle), "missing {needle:?} in:\n{died}");
    }
    assert!(
        out.contains("target: restarted `")
            && out.contains("after it died during file-recipient-closes"),
        "{out}"
    );
    for later in ["file-relay-1", "file-relay-2047", "msg-basic"] {
        assert!(
            out.contains(&format!("PASS  {later} ")),
            "{later} did not pass after the restart:\n{out}"
        );
    }
    assert!(
        out.contains("1  causes of one scenario each: ERR-4\n"),
        "{out}"
    );
    assert!(!out.contains("Connection refused"), "{out}");
}

#[test]
fn a_stack_overrun_abort_is_reported_with_the_signal_hint_and_the_stderr_tail() {
    let o = check(&[
        "--server-cmd",
        &fixture_cmd(""),
        "--only",
        "file-name-length,msg-basic",
        "scenarios",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let died = block(&out, "file-name-length");
    for needle in [
        "rule ERR-4 (Must)",
        "killed by SIGABRT (signal 6)",
        "stack protector",
        "the last lines of the target's stderr",
        "stack smashing detected",
    ] {
        assert!(died.contains(needle), "missing {needle:?} in:\n{died}");
    }
    assert!(out.contains("PASS  msg-basic "), "{out}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts the fixture ourselves and waits until it listens.
fn start_fixture(port: u16) -> Child {
    let mut child = Command::new(thread_server())
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the fixture");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the fixture did not listen");
        if let Ok(Some(s)) = child.try_wait() {
            panic!("the fixture ended at once: {s}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn without_a_command_a_dead_target_gives_one_not_run_line() {
    let port = free_port();
    let mut child = start_fixture(port);
    let target = format!("127.0.0.1:{port}");
    let o = check(&[
        "--target",
        &target,
        "--only",
        "file-recipient-closes,file-relay-1,file-relay-2047,msg-basic",
        "scenarios",
    ]);
    let _ = child.kill();
    let _ = child.wait();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let died = block(&out, "file-recipient-closes");
    assert!(died.contains("rule ERR-4 (Must)"), "{died}");
    assert!(
        died.contains("the target stopped accepting connections"),
        "{died}"
    );
    assert!(
        out.contains("NOT RUN 3 scenarios: the target stopped accepting connections during file-recipient-closes"),
        "{out}"
    );
    // Refused once, in the ERR-4 line; no scenario reported as an error of its own.
    assert!(out.matches("Connection refused").count() <= 1, "{out}");
    assert!(!out.lines().any(|l| l.starts_with("ERROR")), "{out}");
    assert!(out.contains(", 3 not run"), "{out}");
}

#[test]
fn a_mute_target_is_diagnosed_by_the_preflight_and_keep_going_runs_the_suite_anyway() {
    let cmd = fixture_cmd(" --mute");
    let o = check(&[
        "--server-cmd",
        &cmd,
        "--only",
        "msg-basic,list-exact",
        "scenarios",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    for needle in [
        "preflight: sent the login \"~pfl\" (7e 70 66 6c) then LIST (00 03); nothing came back",
        "--keep-going runs it anyway",
        "NOT RUN 2 scenarios: the target did not answer the preflight",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(!out.contains("FAIL  msg-basic"), "{out}");

    let o = check(&[
        "--server-cmd",
        &cmd,
        "--keep-going",
        "--timeout",
        "0.3",
        "--only",
        "msg-basic,list-exact",
        "scenarios",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL  msg-basic"), "{out}");
    assert!(out.contains("FAIL  list-exact"), "{out}");
    assert!(!out.contains("NOT RUN"), "{out}");
}

#[test]
fn commands_that_cannot_serve_get_a_clear_error_and_exit_2() {
    let o = check(&[
        "--server-cmd",
        "sh -c 'echo cannot bind here >&2; exit 3' {port}",
        "--only",
        "msg-basic",
        "scenarios",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("exited with status 3 before it listened"),
        "{out}"
    );
    assert!(out.contains("| cannot bind here"), "{out}");

    let o = check(&[
        "--server-cmd",
        "sleep 30 {port}",
        "--start-timeout",
        "1",
        "--only",
        "msg-basic",
        "scenarios",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("`sleep 30 "), "{out}");
    assert!(out.contains("did not listen on 127.0.0.1:"), "{out}");

    // Told to use one port, it listens on another.
    let other = free_port();
    let o = check(&[
        "--server-cmd",
        &format!("{} --port {other} {{port}}", thread_server().display()).replace(" {port}", ""),
        "--target",
        &format!("127.0.0.1:{}", free_port()),
        "--start-timeout",
        "1",
        "--only",
        "msg-basic",
        "scenarios",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains(&format!("(it listens on port {other} instead)")),
        "{out}"
    );
}

#[test]
fn a_targets_file_with_a_bad_line_is_refused_with_file_and_line() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("supervise-bad-targets");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("class.txt");
    std::fs::write(&file, "# the class\nalice 127.0.0.1:9000\nbob\n").unwrap();
    let o = check(&["--targets", file.to_str().unwrap(), "scenarios"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains(&format!("{}:3: \"bob\" has no target", file.display())),
        "{out}"
    );
}

#[test]
fn several_targets_run_at_once_with_a_summary_table_and_csv() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("supervise-class");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("class.txt");
    let naive = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/naive-server/naive_server.py");
    std::fs::write(
        &file,
        format!(
            "crashy {}\nmute {}\nnaive python3 {} --port {{port}}\n",
            fixture_cmd(""),
            fixture_cmd(" --mute"),
            naive.display()
        ),
    )
    .unwrap();
    let csv = dir.join("summary.csv");
    let o = check(&[
        "--targets",
        file.to_str().unwrap(),
        "--summary-csv",
        csv.to_str().unwrap(),
        "--only",
        "msg-*,file-recipient-closes",
        "scenarios",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let table = &out[out
        .find("target  ")
        .unwrap_or_else(|| panic!("no table:\n{out}"))..];
    assert!(table.contains("root causes"), "{table}");
    let row = |label: &str| {
        table
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no row for {label}:\n{table}"))
            .to_string()
    };
    assert!(row("crashy").contains(" died "), "{table}");
    assert!(row("mute").contains("mute"), "{table}");
    assert!(row("naive").contains("MSG-2: wrong name field"), "{table}");
    let csv = std::fs::read_to_string(&csv).expect("the CSV");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[0].starts_with("label,target,status,passed,failed"),
        "{csv}"
    );
    assert!(lines[1].starts_with("crashy,"), "{csv}");
    assert!(
        lines[2].starts_with("mute,") && lines[2].contains(",mute,"),
        "{csv}"
    );
}

#[test]
fn the_naive_server_reads_as_a_short_list_of_root_causes_largest_first() {
    let naive = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/naive-server/naive_server.py");
    let o = check(&[
        "--server-cmd",
        &format!("python3 {} --port {{port}}", naive.display()),
        "--only",
        "msg-*,list-*,ack-*",
        "scenarios",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let causes = &out[out
        .find("root causes (")
        .unwrap_or_else(|| panic!("no root causes:\n{out}"))..];
    let counts: Vec<usize> = causes
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.contains("causes of one scenario each"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(counts.len() >= 2, "{causes}");
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "not largest first: {causes}"
    );
    let failed: usize = counts.iter().sum();
    assert!(
        counts.len() < failed,
        "every failure is its own group: {causes}"
    );
    assert!(causes.contains("MSG-2: wrong name field"), "{causes}");
}

#[test]
fn fixed_port_commands_take_turns_and_restart_each_gives_every_scenario_a_fresh_server() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("supervise-fixed");
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let cmd = format!("{} --port {port}", thread_server().display());
    let file = dir.join("fixed.txt");
    std::fs::write(
        &file,
        format!("first 127.0.0.1:{port} {cmd}\nsecond 127.0.0.1:{port} {cmd}\n"),
    )
    .unwrap();
    let o = check(&[
        "--targets",
        file.to_str().unwrap(),
        "--restart-each",
        "--only",
        "msg-basic,file-relay-2047,file-relay-1",
        "scenarios",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "it listens on the fixed port {port}, so it runs alone there, taking turns with 1 other target(s)"
        )),
        "{out}"
    );
    assert_eq!(out.matches("3 passed, 0 failed").count(), 2, "{out}");
}

#[test]
fn a_target_that_stops_answering_midway_is_caught_by_the_liveness_check() {
    // Without a command: the rest is one not-run line.
    let port = free_port();
    let mut child = Command::new(thread_server())
        .args(["--port", &port.to_string(), "--mute-after", "8"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the fixture");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the fixture did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    // That probe was the first connection it served.
    let target = format!("127.0.0.1:{port}");
    let o = check(&["--target", &target, "--only", "msg-*", "scenarios"]);
    let _ = child.kill();
    let _ = child.wait();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("actual:   the target stopped answering: sent the login"),
        "{out}"
    );
    assert!(out.contains("NOT RUN "), "{out}");
    assert!(
        out.contains(" scenarios: the target stopped answering during msg-"),
        "{out}"
    );

    // With a command: the hung process is replaced and the suite goes on.
    let o = check(&[
        "--server-cmd",
        &fixture_cmd(" --mute-after 8"),
        "--only",
        "msg-*",
        "scenarios",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("after it stopped answering during msg-"),
        "{out}"
    );
    assert!(!out.contains("NOT RUN"), "{out}");
}
