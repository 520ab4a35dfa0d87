//! No escape byte where no capable terminal is: msrp-check's and msrp-sim's output written
//! to a pipe holds plain text even when `TERM` names a colour terminal; `CLICOLOR_FORCE`
//! (an explicit request) brings colour back; under a real pseudo-terminal, colour appears
//! for a capable `TERM` and not for `TERM=dumb` or with `NO_COLOR`. The server and the
//! client are checked in `reference/tests/no_escapes.rs`.
//!
//! The pseudo-terminal comes from `script` (util-linux, part of every Debian install).

use std::process::{Command, Output};

const ESC: u8 = 0x1b;

/// Runs `bin args` with a clean colour environment plus `env`, stdout and stderr piped.
fn piped(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm-256color");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the binary")
}

/// Runs `bin args` under a pseudo-terminal (`script`); returns what the terminal showed.
fn on_a_terminal(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Vec<u8> {
    let line = std::iter::once(bin)
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm-256color");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .expect("script (util-linux) runs a command under a pseudo-terminal");
    assert!(out.status.success(), "script {line}: {:?}", out.status);
    out.stdout
}

fn has_escape(bytes: &[u8]) -> bool {
    bytes.contains(&ESC)
}

fn check_args() -> Vec<&'static str> {
    vec![
        "--only",
        "msg-basic",
        concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"),
    ]
}

#[test]
fn msrp_check_writes_no_escape_into_a_pipe_unless_forced() {
    let bin = env!("CARGO_BIN_EXE_msrp-check");
    let out = piped(bin, &check_args(), &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS  msg-basic"));
    assert!(!has_escape(&out.stdout) && !has_escape(&out.stderr));
    // Usage errors and help go through clap: plain in a pipe too.
    for args in [&["--no-such-flag"][..], &["--help"][..]] {
        let out = piped(bin, args, &[]);
        assert!(
            !has_escape(&out.stdout) && !has_escape(&out.stderr),
            "{args:?}"
        );
    }
    // CLICOLOR_FORCE is an explicit request: it wins, over NO_COLOR too.
    let forced = piped(
        bin,
        &check_args(),
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
    );
    assert!(has_escape(&forced.stdout));
}

#[test]
fn msrp_check_colours_a_capable_terminal_only() {
    let bin = env!("CARGO_BIN_EXE_msrp-check");
    let shown = on_a_terminal(bin, &check_args(), &[]);
    assert!(has_escape(&shown), "{}", String::from_utf8_lossy(&shown));
    for env in [[("TERM", "dumb")], [("NO_COLOR", "1")], [("CLICOLOR", "0")]] {
        let shown = on_a_terminal(bin, &check_args(), &env);
        assert!(
            !has_escape(&shown),
            "{env:?}: {}",
            String::from_utf8_lossy(&shown)
        );
        assert!(String::from_utf8_lossy(&shown).contains("PASS  msg-basic"));
    }
}

#[test]
fn msrp_sim_writes_no_escape_into_a_pipe_nor_to_a_dumb_terminal() {
    let bin = env!("CARGO_BIN_EXE_msrp-sim");
    let args = [
        "--clients",
        "2",
        "--messages",
        "200",
        "--rate",
        "500",
        "--drain",
        "2",
    ];
    let out = piped(bin, &args, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!has_escape(&out.stdout) && !has_escape(&out.stderr));
    // A terminal that cannot take control sequences gets plain progress lines, no spinner.
    let shown = on_a_terminal(bin, &args, &[("TERM", "dumb")]);
    assert!(!has_escape(&shown), "{}", String::from_utf8_lossy(&shown));
    assert!(String::from_utf8_lossy(&shown).contains("integrity: ok"));
}
