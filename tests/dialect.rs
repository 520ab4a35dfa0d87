//! Dialect detection under the strict profile: against a target speaking the legacy dialect
//! (the reference server with `--profile legacy`), `msrp-check` says so once at the top and in
//! its JSON report, and goes on; against a strict target it says nothing.

use std::process::Command;

use msrp_reference::server::{ServerConfig, ServerHandle};
use msrp_reference::Profile;

/// Runs `msrp-check` against a reference server of `profile` started in this process.
fn check_against(profile: Profile, format: &str) -> String {
    check_against_with(profile, format, &[])
}

/// The same, with more arguments for `msrp-check`.
fn check_against_with(profile: Profile, format: &str, extra: &[&str]) -> String {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt
        .block_on(ServerHandle::start(
            "127.0.0.1:0",
            ServerConfig {
                profile,
                ..ServerConfig::default()
            },
        ))
        .expect("bind 127.0.0.1:0");
    let addr = server.local_addr().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_msrp-check"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "--target",
            &addr,
            "--only",
            "list-exact",
            "--format",
            format,
        ])
        .args(extra)
        .output()
        .expect("run msrp-check");
    rt.block_on(server.shutdown());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_legacy_target_is_named_once_at_the_top() {
    let human = check_against(Profile::Legacy, "human");
    let note = "note: this target answers in the legacy dialect; run with --profile legacy to check the rest";
    assert_eq!(human.matches(note).count(), 1, "{human}");
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines.get(1).copied(), Some(note), "{human}");
    // The run went on: the scenario ran and failed through the strict profile.
    assert!(human.contains("list-exact"), "{human}");

    let json = check_against(Profile::Legacy, "json");
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON report");
    let notes = report["dialect_notes"].as_array().expect("dialect_notes");
    assert_eq!(notes.len(), 1, "{json}");
    assert_eq!(notes[0]["dialect"], "legacy");
}

#[test]
fn a_strict_target_gets_no_note() {
    let human = check_against(Profile::Strict, "human");
    assert!(!human.contains("legacy dialect"), "{human}");
    let json = check_against(Profile::Strict, "json");
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON report");
    assert!(report.get("dialect_notes").is_none(), "{json}");
}

/// The HTML report shows the dialect note of each target that has one, before the verdicts,
/// and none for a strict target.
#[test]
fn the_html_report_shows_the_dialect_note() {
    let dir = std::env::temp_dir().join(format!("msrp-dialect-html-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (profile, tag) in [(Profile::Legacy, "legacy"), (Profile::Strict, "strict")] {
        let out = dir.join(tag);
        let html = out.to_str().expect("utf-8 temp path");
        check_against_with(profile, "human", &["--html", html]);
        let index = std::fs::read_to_string(out.join("index.html")).expect("index.html");
        let note = "note: this target answers in the legacy dialect; run with --profile legacy \
                    to check the rest";
        if profile == Profile::Legacy {
            assert_eq!(index.matches(note).count(), 1, "{index}");
            assert_eq!(index.matches("class=\"box dialect-note\"").count(), 1);
            // Shown before the verdicts, with the target it is about.
            let at = index.find(note).expect("note");
            assert!(at < index.find("Rules broken").expect("rules section"));
            assert!(index[..at].contains("127.0.0.1:"), "{index}");
        } else {
            assert!(!index.contains("legacy dialect"), "{index}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
