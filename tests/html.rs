//! The HTML reports, rendered from real runs: structure (every scenario present, every link
//! resolves, charts present) and, with Chromium, that each page opens and renders.
//!
//! Chromium is a system package (`.ci/run` installs it). Without it the browser checks fail,
//! unless the person running them skips them knowingly with `MSRP_SKIP_CHROMIUM=1`.

use std::path::{Path, PathBuf};
use std::process::Command;

use msrp::sim::{run, Mix, SimConfig, SizeRange, Stop};
use msrp_reference::server::{ServerConfig, ServerHandle};

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("msrp-html-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every `href="…"` of a page.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

fn chromium() -> Option<&'static str> {
    let ok = Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some("chromium");
    }
    if std::env::var_os("MSRP_SKIP_CHROMIUM").is_some() {
        eprintln!("chromium not installed: browser checks skipped (MSRP_SKIP_CHROMIUM is set)");
        return None;
    }
    panic!(
        "chromium cannot be run: install it (apt-get install chromium) or set \
         MSRP_SKIP_CHROMIUM=1 to skip the browser checks knowingly"
    );
}

/// Opens a page in headless Chromium, returns its rendered DOM and writes a screenshot.
fn render(page: &Path, screenshot: &Path) -> String {
    let url = format!("file://{}", page.display());
    // A profile per call: Chromium locks its profile, and the tests run in parallel.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let profile = tempdir(&format!("chromium-profile-{n}"));
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];
    let profile_flag = format!("--user-data-dir={}", profile.display());
    let dom = Command::new("chromium")
        .args(flags)
        .arg(&profile_flag)
        .args(["--dump-dom", &url])
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let shot = format!("--screenshot={}", screenshot.display());
    let png = Command::new("chromium")
        .args(flags)
        .arg(&profile_flag)
        .args(["--window-size=1200,1400", &shot, &url])
        .output()
        .expect("chromium runs");
    assert!(
        png.status.success(),
        "{}",
        String::from_utf8_lossy(&png.stderr)
    );
    let bytes = std::fs::read(screenshot).expect("a screenshot was written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "a real screenshot"
    );
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

#[test]
fn the_check_report_lists_every_scenario_and_every_link_resolves() {
    let dir = tempdir("check");
    let out = Command::new(env!("CARGO_BIN_EXE_msrp-check"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["scenarios", "--html"])
        .arg(dir.join("report"))
        .arg("--pcap-dir")
        .arg(dir.join("pcaps"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report = dir.join("report");
    let index = std::fs::read_to_string(report.join("index.html")).unwrap();
    let (scenarios, _) =
        msrp::scenario::load_all(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")]);
    // Scenarios for the legacy profile alone are not part of a strict run.
    for sc in scenarios
        .iter()
        .filter(|s| s.applies_to(msrp_reference::Profile::Strict))
    {
        let href = format!("scenarios/{}.html", sc.file.id);
        assert!(
            index.contains(&format!("href=\"{href}\"")),
            "index lacks {href}"
        );
        let page = std::fs::read_to_string(report.join(&href)).unwrap();
        assert!(
            page.contains("<h2>Scenario</h2>") && page.contains("<h3>Transcript</h3>"),
            "{href}"
        );
        assert!(
            page.contains(&format!("{}.pcap", sc.file.id)),
            "{href} links its pcap"
        );
        for link in hrefs(&page) {
            let target = link.split('#').next().unwrap();
            let resolved = report.join("scenarios").join(target);
            assert!(resolved.exists(), "{href}: broken link {link}");
        }
    }
    for link in hrefs(&index) {
        let target = link.split('#').next().unwrap();
        assert!(report.join(target).exists(), "index: broken link {link}");
    }
    let strict_count = scenarios
        .iter()
        .filter(|s| s.applies_to(msrp_reference::Profile::Strict))
        .count();
    assert_eq!(index.matches("class=\"v pass\"").count(), strict_count);
    if chromium().is_some() {
        let dom = render(&report.join("index.html"), &dir.join("index.png"));
        assert!(
            dom.contains("msrp-check report") && dom.contains("order-body-contiguous"),
            "rendered index"
        );
        let first = &scenarios[0].file.id;
        let dom = render(
            &report.join(format!("scenarios/{first}.html")),
            &dir.join("scenario.png"),
        );
        assert!(dom.contains("Transcript"), "rendered scenario page");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sim_report_has_its_charts_tables_and_verdict() {
    let server = ServerHandle::start("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let cfg = SimConfig {
        clients: 8,
        stop: Stop::After(std::time::Duration::from_secs(3)),
        rate: msrp::sim::stages::RateSpec::Fixed(1000.0),
        mix: Mix {
            msg: 80,
            list: 10,
            file: 10,
        },
        file_size: SizeRange(0, 10_000),
        ..SimConfig::default()
    };
    let report = run(server.local_addr(), "test", &cfg).await;
    server.shutdown().await;
    let html = msrp::sim::html::render(&report);
    for id in [
        "id=\"verdict\"",
        "id=\"parameters\"",
        "id=\"integrity\"",
        "id=\"throughput\"",
        "id=\"latency\"",
        "id=\"percentiles\"",
        "id=\"errors\"",
    ] {
        assert!(html.contains(id), "missing {id}");
    }
    assert!(html.contains("integrity: ok"));
    for kind in ["msg", "list", "file", "connect"] {
        assert!(
            html.contains(&format!("data-kind=\"{kind}\"")),
            "no latency curve for {kind}"
        );
    }
    let throughput = html.split("id=\"throughput\"").nth(1).unwrap();
    let points = throughput
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        points.split(' ').count() >= 3,
        "a point per second: {points}"
    );
    let dir = tempdir("sim");
    let page = dir.join("sim.html");
    std::fs::write(&page, &html).unwrap();
    if chromium().is_some() {
        let dom = render(&page, &dir.join("sim.png"));
        assert!(
            dom.contains("<svg") && dom.contains("msrp-sim report"),
            "rendered sim report"
        );
    }
}
