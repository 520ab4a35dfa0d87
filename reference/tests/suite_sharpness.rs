//! The conformance suite as the test of a (possibly mutated) `msrp-server`: the measurement of
//! how sharp the suite is (`bench/suite-sharpness.sh`, BENCHMARKS.md "Suite sharpness").
//!
//! Under `cargo mutants`, this crate's protocol code is mutated and `msrp-server` rebuilt from
//! it; the judge is an *unmutated, separately built* `msrp-check` named by `MSRP_CHECK_BIN`
//! (the codec is shared, so a checker linked with the mutant would share its bugs). Each group
//! of scenarios that needs the same server settings runs against a server started with them,
//! with `--strict`: any departure, warning included, kills the mutant.
//!
//! Ignored in ordinary runs (it needs `MSRP_CHECK_BIN` and takes a while); the script runs it
//! with `--ignored`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A scenario's `server:` settings as `--server-setting` pairs, read from its one-line flow
/// mapping (`server: { max-clients: 2 }`, the suite's only style; a test below checks that).
fn settings_of(text: &str) -> Vec<(String, String)> {
    let Some(line) = text.lines().find(|l| l.starts_with("server:")) else {
        return Vec::new();
    };
    line.trim_start_matches("server:")
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Scenario ids of the strict suite, grouped by the settings they need.
fn groups(dir: &Path) -> BTreeMap<Vec<(String, String)>, Vec<String>> {
    let mut out: BTreeMap<Vec<(String, String)>, Vec<String>> = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("scenario folder").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&p).expect("scenario file");
            // Client scenarios and legacy-only scenarios are not the strict server suite.
            if text.lines().any(|l| l.starts_with("mode: client"))
                || text
                    .lines()
                    .any(|l| l.starts_with("profiles:") && !l.contains("strict"))
            {
                continue;
            }
            let id = text
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .map(|s| s.trim().to_string())
                .expect("every scenario has an id");
            out.entry(settings_of(&text)).or_default().push(id);
        }
    }
    out
}

/// A running `msrp-server` with the given settings, stopped on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(settings: &[(String, String)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_msrp-server"));
        cmd.args(["--listen", "127.0.0.1:0"]);
        for (k, v) in settings {
            cmd.arg(format!("--{k}")).arg(v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start msrp-server");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("msrp-server says where it listens within 20 s");
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn settings_are_read_from_the_suites_one_line_style() {
    assert_eq!(
        settings_of("id: x\nserver: { max-clients: 2, max-text: 100 }\n"),
        vec![
            ("max-clients".to_string(), "2".to_string()),
            ("max-text".to_string(), "100".to_string())
        ]
    );
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let all: usize = groups(&dir).values().map(Vec::len).sum();
    assert!(all >= 98, "{all} strict scenarios found");
}

#[test]
#[ignore = "mutation testing: run by bench/suite-sharpness.sh with MSRP_CHECK_BIN set"]
fn the_suite_passes_against_this_build_of_msrp_server() {
    let checker = PathBuf::from(
        std::env::var_os("MSRP_CHECK_BIN")
            .expect("MSRP_CHECK_BIN names an unmutated, separately built msrp-check"),
    );
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let groups = groups(&dir);
    let with_settings: Vec<String> = groups
        .iter()
        .filter(|(s, _)| !s.is_empty())
        .flat_map(|(_, ids)| ids.clone())
        .collect();
    let mut failed = Vec::new();
    for (settings, ids) in &groups {
        let server = Server::start(settings);
        let started = Instant::now();
        let mut cmd = Command::new(&checker);
        cmd.args(["--target", &server.addr, "--strict", "--timeout", "1"]);
        if settings.is_empty() {
            cmd.arg("--exclude").arg(with_settings.join(","));
        } else {
            cmd.arg("--only").arg(ids.join(","));
            for (k, v) in settings {
                cmd.arg("--server-setting").arg(format!("{k}={v}"));
            }
        }
        let out = cmd.arg(&dir).output().expect("run msrp-check");
        let text = String::from_utf8_lossy(&out.stdout);
        eprintln!(
            "settings {settings:?}: exit {:?} in {:.1?}: {}",
            out.status.code(),
            started.elapsed(),
            text.lines().last().unwrap_or("")
        );
        if !out.status.success() {
            let failing: Vec<&str> = text
                .lines()
                .filter(|l| {
                    l.starts_with("FAIL") || l.starts_with("WARN") || l.starts_with("ERROR")
                })
                .collect();
            failed.push(format!("{settings:?}: {}", failing.join(" | ")));
        }
    }
    assert!(
        failed.is_empty(),
        "the suite caught this build:\n{}",
        failed.join("\n")
    );
}
