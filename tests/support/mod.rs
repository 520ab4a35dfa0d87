//! What the integration tests of `msrp` share: building the C fixtures with `cc`, running
//! `msrp-check`, reading its output, scratch folders. Each test binary compiles this module
//! and uses a part of it.
#![allow(dead_code)] // Each test binary uses a different part of these helpers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Compiles `contrib/fixtures/<source>` with `cc` and `flags` into this test binary's scratch
/// folder as `<stem>`; a missing compiler fails the test with a message saying so, it never
/// skips it.
pub fn compile(source: &str, stem: &str, flags: &[&str]) -> PathBuf {
    let src = Path::new(ROOT).join("contrib/fixtures").join(source);
    // One file per test binary: binaries may run at once.
    let out =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{stem}", env!("CARGO_CRATE_NAME")));
    let status = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "this test needs a C compiler: `cc` could not be run ({e}); install one \
                 (e.g. apt-get install gcc)"
            )
        });
    assert!(status.success(), "cc failed to build {}", src.display());
    out
}

/// The thread-per-client fixture (`thread_server.c`), built once per test binary with the
/// stack protector, so its overrun aborts the same way every run.
pub fn thread_server() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        compile(
            "thread_server.c",
            "thread_server",
            &["-O1", "-pthread", "-fstack-protector-all"],
        )
    })
}

/// Runs `msrp-check` from the repository root with `args`, to its end.
pub fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_msrp-check"))
        .current_dir(ROOT)
        .args(args)
        .output()
        .expect("run msrp-check")
}

/// Standard output then standard error, as one text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An empty scratch folder named for this test binary, `tag` and the process.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{}-{tag}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create a scratch folder");
    d
}
