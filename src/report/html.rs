//! Static HTML reports: an index with one row per scenario and one column per target (a
//! grid, as Autobahn|Testsuite shows agents), a summary of the rules broken, and a page per
//! scenario with its source, transcript, expected-versus-actual and snapshot diff. Inline CSS
//! only: the files open from disk, with no server and no network.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::rules::rule;
use crate::runner::RunResult;
use crate::scenario::Scenario;
use crate::verdict::{Outcome, Totals};

/// One target's results, in scenario order.
pub struct TargetResults<'a> {
    /// The target's label, as column header and in page titles.
    pub name: String,
    /// Its results, one per scenario in the order of the run's scenarios.
    pub results: &'a [RunResult],
    /// Where this target's pcaps were written, if they were.
    pub pcap_dir: Option<PathBuf>,
    /// What the run noticed about the target's dialect (a strict run against a target that
    /// answers in the legacy dialect, `crate::dialect`), shown at the top of the report.
    pub dialect_note: Option<String>,
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The stylesheet inlined in every page (verdict colours, tables, diffs), so that reports open from
/// disk.
pub const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #d5d9e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f7}pre{background:#f6f8fa;border:1px solid #d5d9e0;padding:10px;overflow:auto;font-size:12px}
.pass{background:#2e9d4c;color:#fff}.fail{background:#cf3434;color:#fff}.warn{background:#e6a700;color:#222}
.skip{background:#6b8fbf;color:#fff}.error{background:#7b1fa2;color:#fff}td.v a{color:inherit;text-decoration:none;display:block}
.muted{color:#667085}.add{color:#1a7f37}.del{color:#cf222e}.box{border-left:4px solid #cf3434;padding:4px 12px;background:#fff5f5}
.chart{border:1px solid #d5d9e0;background:#fff}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n",
        esc(title)
    )
}

fn area(file: &str) -> String {
    Path::new(file)
        .parent()
        .and_then(|p| p.file_name())
        .map_or_else(|| "scenarios".into(), |s| s.to_string_lossy().into_owned())
}

fn scenario_page(id: &str) -> String {
    format!("scenarios/{id}.html")
}

/// A relative path from `from_dir` to `to` when both resolve, else a file:// URL.
fn link(from_dir: &Path, to: &Path) -> String {
    let (Ok(from), Ok(to)) = (from_dir.canonicalize(), to.canonicalize()) else {
        return format!("file://{}", to.display());
    };
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in from.components().skip(common) {
        rel.push("..");
    }
    for c in to.components().skip(common) {
        rel.push(c);
    }
    rel.to_string_lossy().into_owned()
}

fn verdict_cell(o: &Outcome, href: &str) -> String {
    let v = o.verdict.as_str();
    format!(
        "<td class=\"v {v}\"><a href=\"{href}\">{}<br><span style=\"font-size:11px\">{:.2}s</span></a></td>",
        v.to_uppercase(),
        o.seconds
    )
}

/// Writes `index.html` and one page per scenario into `dir`.
pub fn write_check_report(
    dir: &Path,
    scenarios: &[Scenario],
    targets: &[TargetResults],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("scenarios"))?;
    let mut body = String::new();
    let _ = writeln!(body, "<h1>msrp-check report</h1>");
    let _ = writeln!(body, "<p class=\"muted\">{} scenarios against {} target(s). Verdicts: pass; fail (a MUST rule broken); warn (a SHOULD rule broken); skip; error (could not run).</p>", scenarios.len(), targets.len());

    totals_table(&mut body, targets);
    dialect_notes(&mut body, targets);
    root_causes(&mut body, targets);
    rules_broken(&mut body, targets);
    scenario_grid(&mut body, scenarios, targets);
    std::fs::write(dir.join("index.html"), page("msrp-check report", &body))?;

    for s in scenarios {
        write_scenario_page(dir, s, targets)?;
    }
    Ok(())
}

/// The totals of each target.
fn totals_table(body: &mut String, targets: &[TargetResults]) {
    // Totals per target.
    let _ = writeln!(*body, "<table><tr><th>target</th><th>passed</th><th>failed</th><th>warned</th><th>skipped</th><th>errors</th></tr>");
    for t in targets {
        let outcomes: Vec<Outcome> = t.results.iter().map(|r| r.outcome.clone()).collect();
        let n = Totals::of(&outcomes);
        let _ = writeln!(
            *body,
            "<tr><td>{}</td><td class=\"pass\">{}</td><td class=\"fail\">{}</td><td class=\"warn\">{}</td><td class=\"skip\">{}</td><td class=\"error\">{}</td></tr>",
            esc(&t.name), n.passed, n.failed, n.warned, n.skipped, n.errors
        );
    }
    let _ = writeln!(*body, "</table>");
}

/// Dialect notes, before any verdict: a target in another dialect fails most strict scenarios, and the note says why and which option checks the rest.
fn dialect_notes(body: &mut String, targets: &[TargetResults]) {
    // Dialect notes come before any verdict: a target in another dialect fails most strict
    // scenarios, and the note says why and which option checks the rest.
    for t in targets {
        if let Some(note) = &t.dialect_note {
            let _ = writeln!(
                body,
                "<p class=\"box dialect-note\"><b>{}</b>: note: {}</p>",
                esc(&t.name),
                esc(note)
            );
        }
    }
}

/// Each target's failures grouped by first departure, largest first.
fn root_causes(body: &mut String, targets: &[TargetResults]) {
    // Root causes: each target's failures grouped by first departure, largest first.
    let _ = writeln!(*body, "<h2 id=\"root-causes\">Root causes</h2><p class=\"muted\">Scenarios grouped by their first departure (rule and kind of difference): one bug reads as one line.</p>");
    for (ti, t) in targets.iter().enumerate() {
        let outcomes: Vec<Outcome> = t.results.iter().map(|r| r.outcome.clone()).collect();
        let causes = crate::rootcause::root_causes(&outcomes);
        let not_run = outcomes
            .iter()
            .filter(|o| crate::target::run::is_not_run(o.reason.as_deref()))
            .count();
        let _ = write!(*body, "<h3>{}</h3>", esc(&t.name));
        if causes.is_empty() && not_run == 0 {
            let _ = writeln!(*body, "<p>None.</p>");
            continue;
        }
        let _ = writeln!(
            *body,
            "<table><tr><th>scenarios</th><th>root cause</th><th>where</th></tr>"
        );
        for c in &causes {
            let links: Vec<String> = c
                .scenarios
                .iter()
                .map(|sid| format!("<a href=\"{}#t{ti}\">{}</a>", scenario_page(sid), esc(sid)))
                .collect();
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td><b>{}</b></td><td>{}</td></tr>",
                c.scenarios.len(),
                esc(&c.title()),
                links.join(", ")
            );
        }
        if not_run > 0 {
            let reason = outcomes
                .iter()
                .find_map(|o| {
                    o.reason
                        .as_deref()
                        .filter(|r| crate::target::run::is_not_run(Some(r)))
                })
                .unwrap_or_default();
            let _ = writeln!(
                body,
                "<tr><td>{not_run}</td><td colspan=\"2\">{}</td></tr>",
                esc(reason)
            );
        }
        let _ = writeln!(*body, "</table>");
    }
}

/// The rules broken, with the scenarios that showed it.
fn rules_broken(body: &mut String, targets: &[TargetResults]) {
    // Rules broken, with the scenarios that showed it.
    let mut broken: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for (ti, t) in targets.iter().enumerate() {
        for r in t.results {
            if let Some(f) = &r.outcome.failure {
                broken
                    .entry(f.rule.clone())
                    .or_default()
                    .push((ti, r.outcome.id.clone()));
            }
        }
    }
    let _ = writeln!(*body, "<h2 id=\"rules\">Rules broken</h2>");
    if broken.is_empty() {
        let _ = writeln!(*body, "<p>None.</p>");
    } else {
        let _ = write!(*body, "<table><tr><th>rule</th><th>statement</th>");
        for t in targets {
            let _ = write!(*body, "<th>{}</th>", esc(&t.name));
        }
        let _ = writeln!(*body, "</tr>");
        for (id, hits) in &broken {
            let (level, statement) = crate::rules::blame(id)
                .map_or(("", String::new()), |(level, statement)| {
                    (level.as_str(), statement)
                });
            let _ = write!(
                body,
                "<tr><td><b>{}</b> <span class=\"muted\">{level}</span></td><td>{}</td>",
                esc(id),
                esc(&statement)
            );
            for ti in 0..targets.len() {
                let links: Vec<String> = hits
                    .iter()
                    .filter(|(t, _)| *t == ti)
                    .map(|(_, sid)| {
                        format!("<a href=\"{}#t{ti}\">{}</a>", scenario_page(sid), esc(sid))
                    })
                    .collect();
                let _ = write!(*body, "<td>{}</td>", links.join("<br>"));
            }
            let _ = writeln!(*body, "</tr>");
        }
        let _ = writeln!(*body, "</table>");
    }
}

/// The grid of scenarios × targets, grouped by area.
fn scenario_grid(body: &mut String, scenarios: &[Scenario], targets: &[TargetResults]) {
    // The grid, grouped by area.
    let mut areas: BTreeMap<String, Vec<&Scenario>> = BTreeMap::new();
    for s in scenarios {
        areas
            .entry(area(&s.path.display().to_string()))
            .or_default()
            .push(s);
    }
    let _ = writeln!(*body, "<h2 id=\"scenarios\">Scenarios</h2>");
    for (name, list) in &areas {
        let _ = writeln!(*body, "<h3 id=\"area-{0}\">{0}</h3>", esc(name));
        let _ = write!(*body, "<table><tr><th>scenario</th><th>rules</th>");
        for t in targets {
            let _ = write!(*body, "<th>{}</th>", esc(&t.name));
        }
        let _ = writeln!(*body, "</tr>");
        for s in list {
            let id = &s.file.id;
            let _ = write!(
                body,
                "<tr><td><a href=\"{}\">{}</a><br><span class=\"muted\">{}</span></td><td>{}</td>",
                scenario_page(id),
                esc(id),
                esc(&s.file.title),
                esc(&s.file.rules.join(", "))
            );
            for (ti, t) in targets.iter().enumerate() {
                match t.results.iter().find(|r| &r.outcome.id == id) {
                    Some(r) => body.push_str(&verdict_cell(
                        &r.outcome,
                        &format!("{}#t{ti}", scenario_page(id)),
                    )),
                    None => body.push_str("<td class=\"muted\">not run</td>"),
                }
            }
            let _ = writeln!(*body, "</tr>");
        }
        let _ = writeln!(*body, "</table>");
    }
}

/// The page of scenario `s`: its source, and each target's transcript, expected and actual,
/// diff and capture.
fn write_scenario_page(dir: &Path, s: &Scenario, targets: &[TargetResults]) -> std::io::Result<()> {
    let id = &s.file.id;
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<p><a href=\"../index.html\">← all scenarios</a></p><h1>{}</h1><p>{}</p>",
        esc(id),
        esc(&s.file.title)
    );
    let _ = writeln!(
        b,
        "<p class=\"muted\">{}</p><table><tr><th>rule</th><th>statement</th></tr>",
        esc(&s.path.display().to_string())
    );
    for r in &s.file.rules {
        let st = rule(r).map_or("", |x| x.statement);
        let _ = writeln!(b, "<tr><td>{}</td><td>{}</td></tr>", esc(r), esc(st));
    }
    let _ = writeln!(b, "</table>");
    for (ti, t) in targets.iter().enumerate() {
        let Some(r) = t.results.iter().find(|r| &r.outcome.id == id) else {
            continue;
        };
        let o = &r.outcome;
        let _ = writeln!(b, "<h2 id=\"t{ti}\">{} — <span class=\"{}\" style=\"padding:0 6px\">{}</span> <span class=\"muted\">{:.2}s</span></h2>", esc(&t.name), o.verdict.as_str(), o.verdict.as_str().to_uppercase(), o.seconds);
        if let Some(f) = &o.failure {
            let _ = writeln!(
                b,
                "<div class=\"box\"><p>step {} (line {}), <b>{}</b>: {}</p><p><b>expected</b> {}</p><p><b>actual</b> {}</p>{}</div>",
                f.step, f.line, esc(&f.blamed()), esc(&f.statement), esc(&f.expected), esc(&f.actual),
                f.actual_hex.as_deref().map(|h| format!("<pre>{}</pre>", esc(h))).unwrap_or_default()
            );
        }
        for w in o.warnings.iter().filter(|w| {
            o.failure
                .as_ref()
                .is_none_or(|f| (f.step, &f.rule) != (w.step, &w.rule))
        }) {
            let _ = writeln!(
                b,
                "<div class=\"box\"><p>also warned at step {} (line {}), <b>{}</b>: {}</p><p><b>expected</b> {}</p><p><b>actual</b> {}</p></div>",
                w.step, w.line, esc(&w.blamed()), esc(&w.statement), esc(&w.expected), esc(&w.actual)
            );
        }
        if let Some(reason) = &o.reason {
            let _ = writeln!(b, "<p>{}</p>", esc(reason));
        }
        for n in &o.notes {
            let _ = writeln!(b, "<p class=\"muted\">note: {}</p>", esc(n));
        }
        if let Some(d) = &o.transcript_diff {
            let _ = writeln!(b, "<h3>Transcript against the reference snapshot</h3><pre>");
            for line in d.lines() {
                let class = match line.as_bytes().first() {
                    Some(b'+') if !line.starts_with("+++") => "add",
                    Some(b'-') if !line.starts_with("---") => "del",
                    _ => "",
                };
                let _ = writeln!(b, "<span class=\"{class}\">{}</span>", esc(line));
            }
            let _ = writeln!(b, "</pre>");
        }
        if let Some(pdir) = &t.pcap_dir {
            let pcap = pdir.join(format!("{id}.pcap"));
            if pcap.exists() {
                let href = link(&dir.join("scenarios"), &pcap);
                let _ = writeln!(b, "<p>Packet capture: <a href=\"{}\">{}.pcap</a> (open with Wireshark and contrib/wireshark/msrp.lua)</p>", esc(&href), esc(id));
            }
        }
        if !r.transcript.is_empty() {
            let _ = writeln!(b, "<h3>Transcript</h3><pre>{}</pre>", esc(&r.transcript));
        }
    }
    let _ = writeln!(b, "<h2>Scenario</h2><pre>{}</pre>", esc(&s.source));
    std::fs::write(
        dir.join(scenario_page(id)),
        page(&format!("{id} — msrp-check"), &b),
    )?;
    Ok(())
}
