//! Shell completions and man pages, generated from the clap definitions by the binaries
//! themselves (`--completions SHELL`, `--man`) and installed by
//! `contrib/install-shell-support.sh`: msrp-check and msrp-sim here, msrp-server and
//! msrp-client in `reference/tests/shell_support.rs`.
//!
//! Needs `bash` (to syntax-check the bash script and run the installer) and `man` (man-db,
//! to render a page); each test that uses one fails with a clear message when it is missing.

use std::path::Path;
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
fn msrp_check_completions_for_bash_zsh_and_fish() {
    let bin = env!("CARGO_BIN_EXE_msrp-check");
    let options = ["--target", "--only", "--junit", "--strict"];
    let bash = completions(bin, "msrp-check", "bash", &options);
    bash_syntax_ok(&bash, "msrp-check.bash");
    // The subcommand is completed too.
    assert!(bash.contains("schema"), "{bash}");
    completions(bin, "msrp-check", "zsh", &options);
    completions(bin, "msrp-check", "fish", &options);
}

#[test]
fn msrp_sim_completions_for_bash_zsh_and_fish() {
    let bin = env!("CARGO_BIN_EXE_msrp-sim");
    let options = ["--clients", "--rate", "--threshold"];
    let bash = completions(bin, "msrp-sim", "bash", &options);
    bash_syntax_ok(&bash, "msrp-sim.bash");
    assert!(bash.contains("merge"), "{bash}");
    completions(bin, "msrp-sim", "zsh", &options);
    completions(bin, "msrp-sim", "fish", &options);
}

#[test]
fn man_pages_are_roff_naming_the_options() {
    man_page(
        env!("CARGO_BIN_EXE_msrp-check"),
        "msrp-check",
        &["--target", "--only", "--completions", "--man"],
    );
    let sim = man_page(
        env!("CARGO_BIN_EXE_msrp-sim"),
        "msrp-sim",
        &["--clients", "--threshold"],
    );
    // The exit statuses (after_help) are part of the page.
    assert!(sim.contains("Exit status"), "{sim}");
}

#[test]
fn man_renders_the_msrp_check_page() {
    let dir = std::env::temp_dir().join(format!("msrp-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("msrp-check.1");
    std::fs::write(
        &page,
        run(env!("CARGO_BIN_EXE_msrp-check"), &["--man"]).stdout,
    )
    .unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .env("TERM", "dumb")
        .output()
        .unwrap_or_else(|e| panic!("man (man-db) is needed to render a man page: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "man -l: {:?} {text}", out.status);
    assert!(
        text.contains("NAME") && text.contains("msrp-check"),
        "{text}"
    );
    assert!(text.contains("--target <TARGET>"), "{text}");
}

#[test]
fn the_options_stand_alone_and_leave_existing_invocations_alone() {
    let check = env!("CARGO_BIN_EXE_msrp-check");
    // Not with other arguments: a usage error.
    let out = run(check, &["--completions", "bash", "--strict"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(check, &["--completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    // The subcommand and the positional paths keep their meaning.
    let out = run(check, &["schema"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("$schema"));
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let out = run(check, &["--list", "--only", "msg-basic", scenarios]);
    assert_eq!(out.status.code(), Some(0));
    // -h stays short; --help documents them.
    let short = String::from_utf8_lossy(&run(check, &["-h"]).stdout).into_owned();
    assert!(!short.contains("--completions"), "{short}");
    let long = String::from_utf8_lossy(&run(check, &["--help"]).stdout).into_owned();
    assert!(
        long.contains("--completions <SHELL>") && long.contains("--man"),
        "{long}"
    );
}

#[test]
fn the_installer_puts_each_file_where_the_shells_and_man_look() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("msrp-install-{}", std::process::id()));
    let bins = tmp.join("bin");
    let prefix = tmp.join("prefix");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&bins).unwrap();
    // This crate's tests build msrp-check and msrp-sim only: the installer must install
    // those and report the two reference binaries as missing (exit 1).
    for (name, path) in [
        ("msrp-check", env!("CARGO_BIN_EXE_msrp-check")),
        ("msrp-sim", env!("CARGO_BIN_EXE_msrp-sim")),
    ] {
        std::os::unix::fs::symlink(path, bins.join(name)).unwrap();
    }
    let out = Command::new("sh")
        .arg(root.join("contrib/install-shell-support.sh"))
        .arg(&prefix)
        .env("MSRP_BIN_DIR", &bins)
        .output()
        .expect("sh runs the installer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("msrp-server not found"), "{stderr}");
    assert!(stderr.contains("msrp-client not found"), "{stderr}");
    for tool in ["msrp-check", "msrp-sim"] {
        for file in [
            format!("share/bash-completion/completions/{tool}"),
            format!("share/zsh/site-functions/_{tool}"),
            format!("share/fish/vendor_completions.d/{tool}.fish"),
            format!("share/man/man1/{tool}.1"),
        ] {
            let text = std::fs::read_to_string(prefix.join(&file))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(text.contains(tool), "{file}");
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
