//! Shell completions and man pages of msrp-server and msrp-client, generated from their clap
//! definitions (`--completions SHELL`, `--man`); msrp-check, msrp-sim, `man -l` rendering and
//! the installer are tested in the root crate's `tests/shell_support.rs`.
//!
//! Needs `bash` to syntax-check the bash script; fails with a clear message when missing.

use std::process::{Command, Output};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {bin} {args:?}: {e}"))
}

/// The completion script for `shell`, checked to be non-empty and to name the binary and
/// each of `options`.
fn completions(bin: &str, name: &str, shell: &str, options: &[&str]) -> String {
    let out = run(bin, &["--completions", shell]);
    assert_eq!(out.status.code(), Some(0), "{name} --completions {shell}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("a completion script is text");
    assert!(
        !text.trim().is_empty(),
        "{name} --completions {shell}: empty"
    );
    assert!(
        text.contains(name),
        "{shell} script does not name {name}:\n{text}"
    );
    for option in options {
        // fish lists long options as `-l target`, bash and zsh as `--target`.
        let long = option.trim_start_matches('-');
        let named = if shell == "fish" {
            text.contains(&format!("-l {long}")) || text.contains(&format!("-a \"{long}\""))
        } else {
            text.contains(option)
        };
        assert!(named, "{shell} script for {name} lacks {option}:\n{text}");
    }
    text
}

/// The man page, checked to be roff for section 1 naming the binary and `options`.
fn man_page(bin: &str, name: &str, options: &[&str]) -> String {
    let out = run(bin, &["--man"]);
    assert_eq!(out.status.code(), Some(0), "{name} --man");
    let text = String::from_utf8(out.stdout).expect("a man page is text");
    assert!(text.contains(&format!(".TH {name} 1")), "{text}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS"] {
        assert!(text.contains(section), "{name}.1 lacks {section}");
    }
    for option in options {
        // roff escapes hyphens: --target is written \-\-target.
        let roff = option.replace('-', "\\-");
        assert!(text.contains(&roff), "{name}.1 lacks {option}:\n{text}");
    }
    text
}

fn bash_syntax_ok(script: &str, what: &str) {
    let dir = std::env::temp_dir().join(format!("msrp-shell-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(what);
    std::fs::write(&file, script).unwrap();
    let out = Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .expect("bash is needed to syntax-check the bash completion script");
    assert!(
        out.status.success(),
        "{what}: bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn msrp_server_completions_for_bash_zsh_and_fish() {
    let bin = env!("CARGO_BIN_EXE_msrp-server");
    let options = ["--listen", "--max-clients", "--handshake-timeout"];
    let bash = completions(bin, "msrp-server", "bash", &options);
    bash_syntax_ok(&bash, "msrp-server.bash");
    completions(bin, "msrp-server", "zsh", &options);
    completions(bin, "msrp-server", "fish", &options);
}

#[test]
fn msrp_client_completions_for_bash_zsh_and_fish() {
    let bin = env!("CARGO_BIN_EXE_msrp-client");
    let options = ["--server", "--name", "--download-dir"];
    let bash = completions(bin, "msrp-client", "bash", &options);
    bash_syntax_ok(&bash, "msrp-client.bash");
    completions(bin, "msrp-client", "zsh", &options);
    completions(bin, "msrp-client", "fish", &options);
}

#[test]
fn man_pages_are_roff_naming_the_options() {
    man_page(
        env!("CARGO_BIN_EXE_msrp-server"),
        "msrp-server",
        &["--listen", "--max-text", "--verbose"],
    );
    let client = man_page(
        env!("CARGO_BIN_EXE_msrp-client"),
        "msrp-client",
        &["--server", "--name", "--ack-wait", "--completions"],
    );
    assert!(client.contains("Exit status"), "{client}");
}

#[test]
fn the_client_still_needs_a_name_for_a_session() {
    let bin = env!("CARGO_BIN_EXE_msrp-client");
    let out = run(bin, &["--server", "127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--name"));
    // --completions and --man stand alone.
    let out = run(bin, &["--man", "--name", "abcd"]);
    assert_eq!(out.status.code(), Some(2));
}
