//! The simulator's HTML report: parameters, the integrity verdict, throughput over time,
//! latency percentile curves per operation kind, errors by reason. One static file with
//! inline SVG: it opens from disk, with no server and no network.

use std::fmt::Write as _;

use super::report::{SimReport, Verdict};
use crate::report::html::{esc, STYLE};

const W: f64 = 760.0;
const H: f64 = 260.0;
const PAD: f64 = 48.0;
const COLORS: [&str; 4] = ["#2563eb", "#d97706", "#16a34a", "#9333ea"];

/// Percentiles plotted, as in HdrHistogram's percentile distribution plots.
const QUANTILES: [f64; 12] = [
    0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0,
];

fn axes(svg: &mut String, x_label: &str, y_label: &str, y_max: f64) {
    let _ = write!(
        svg,
        "<line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#444\"/><line x1=\"{PAD}\" y1=\"{t}\" x2=\"{PAD}\" y2=\"{b}\" stroke=\"#444\"/>\
<text x=\"{cx}\" y=\"{ly}\" text-anchor=\"middle\" font-size=\"12\">{}</text>\
<text x=\"12\" y=\"{cy}\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 12 {cy})\">{}</text>",
        esc(x_label),
        esc(y_label),
        b = H - PAD,
        r = W - 16.0,
        t = 16.0,
        cx = W / 2.0,
        ly = H - 10.0,
        cy = H / 2.0,
    );
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let y = H - PAD - (H - PAD - 16.0) * f64::from(i) / 4.0;
        let _ = write!(svg, "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\">{}</text><line x1=\"{PAD}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#eee\"/>", PAD - 4.0, y + 4.0, short(v), W - 16.0);
    }
}

fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn throughput_chart(r: &SimReport) -> String {
    let mut svg = format!("<svg class=\"chart\" id=\"throughput\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">");
    let max = r.timeline.iter().copied().max().unwrap_or(0).max(1) as f64;
    axes(
        &mut svg,
        "seconds since start",
        "operations completed per second",
        max,
    );
    let n = r.timeline.len().max(2) as f64 - 1.0;
    let points: Vec<String> = r
        .timeline
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = PAD + (W - PAD - 16.0) * i as f64 / n;
            let y = H - PAD - (H - PAD - 16.0) * (*v as f64) / max;
            format!("{x:.1},{y:.1}")
        })
        .collect();
    for (i, label) in [
        (0usize, "0".to_string()),
        (
            r.timeline.len().saturating_sub(1),
            format!("{} s", r.timeline.len()),
        ),
    ] {
        let x = PAD + (W - PAD - 16.0) * i as f64 / n;
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{label}</text>",
            H - PAD + 14.0
        );
    }
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/></svg>",
        COLORS[0],
        points.join(" ")
    );
    svg
}

/// x position of a quantile on a "number of nines" axis.
fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-5).log10()
}

fn latency_chart(r: &SimReport) -> String {
    let mut curves = Vec::new();
    for (kind, l) in &r.latency {
        if let Ok(h) = l.histogram() {
            let pts: Vec<(f64, f64)> = QUANTILES
                .iter()
                .map(|q| (nines(*q), h.value_at_quantile(*q) as f64 / 1000.0))
                .collect();
            curves.push((kind.clone(), pts));
        }
    }
    let y_max = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.001, f64::max);
    let x_max = nines(0.99999);
    let mut svg = format!(
        "<svg class=\"chart\" id=\"latency\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">"
    );
    axes(
        &mut svg,
        "percentile (0, 90, 99, 99.9, 99.99, max)",
        "latency ms",
        y_max,
    );
    for (i, label) in ["0", "90", "99", "99.9", "99.99"].iter().enumerate() {
        let x = PAD + (W - PAD - 16.0) * i as f64 / x_max;
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{label}</text>",
            H - PAD + 14.0
        );
    }
    for (i, (kind, pts)) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> = pts
            .iter()
            .map(|(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    PAD + (W - PAD - 16.0) * x / x_max,
                    H - PAD - (H - PAD - 16.0) * y / y_max
                )
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"curve\" data-kind=\"{k}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\
<rect x=\"{lx}\" y=\"{ly}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"12\">{k}</text>",
            points.join(" "),
            k = esc(kind),
            lx = PAD + 10.0,
            ly = 20.0 + 16.0 * i as f64,
            tx = PAD + 26.0,
            ty = 29.0 + 16.0 * i as f64,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The whole report page.
// Stays whole: an HTML page written top to bottom, in the order it is read.
pub fn render(r: &SimReport) -> String {
    let mut b = String::new();
    // The integrity line is about deliveries; missed thresholds have their own table.
    let integrity = match r.verdict() {
        Verdict::TargetFailed if !r.failed() => Verdict::Ok,
        v => v,
    };
    let (class, verdict) = match integrity {
        Verdict::Ok => (
            "pass",
            "ok — every message and file delivered exactly once, in order, intact",
        ),
        Verdict::TargetFailed => ("fail", "FAILED — see the counts below"),
        Verdict::HarnessFailed => (
            "fail",
            "NOT JUDGED — msrp-sim could not do its job (see harness errors); what it could not send is counted as not sent, not as lost",
        ),
    };
    let _ = writeln!(b, "<h1>msrp-sim report</h1>");
    let _ = writeln!(
        b,
        "<p id=\"verdict\" class=\"{class}\" style=\"padding:8px 12px;font-size:16px\">integrity: {verdict}</p>"
    );
    if !r.warnings.is_empty() {
        let _ = writeln!(b, "<ul id=\"warnings\">");
        for w in &r.warnings {
            let _ = writeln!(b, "<li class=\"fail\">WARNING: {}</li>", esc(w));
        }
        let _ = writeln!(b, "</ul>");
    }
    if !r.notes.is_empty() {
        let _ = writeln!(b, "<ul id=\"notes\">");
        for n in &r.notes {
            let _ = writeln!(b, "<li>note: {}</li>", esc(n));
        }
        let _ = writeln!(b, "</ul>");
    }
    if !r.sources.is_empty() {
        let list: Vec<String> = r.sources.iter().map(|s| esc(s)).collect();
        let _ = writeln!(b, "<p id=\"sources\">merged from {}</p>", list.join(", "));
    }
    let _ = writeln!(b, "<h2>Parameters</h2><table id=\"parameters\">");
    for (i, p) in r.parameters.iter().enumerate() {
        if r.parameters.len() > 1 {
            let _ = writeln!(b, "<tr><th colspan=\"2\">run {}</th></tr>", i + 1);
        }
        for (k, v) in p {
            let _ = writeln!(b, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
        }
    }
    let _ = writeln!(b, "</table>");
    let _ = writeln!(
        b,
        "<p>{:.1} s; clients {} (connected {}, failed {}); {:.0} operations/s; {:.2} MB/s delivered.</p>",
        r.seconds, r.clients, r.connected, r.connect_failures, r.ops_per_second(), r.mb_per_second()
    );
    let i = &r.integrity;
    let _ = writeln!(b, "<h2>Integrity</h2><table id=\"integrity\"><tr><th></th><th>sent</th><th>delivered</th><th>lost</th><th>duplicated</th><th>reordered</th><th>corrupted</th><th>not sent (msrp-sim)</th></tr>");
    for (name, d) in [("messages", &i.messages), ("files", &i.files)] {
        let bad = |v: u64| if v > 0 { " class=\"fail\"" } else { "" };
        let _ = writeln!(
            b,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td{}>{}</td><td{}>{}</td><td{}>{}</td><td{}>{}</td><td{}>{}</td></tr>",
            d.sent, d.delivered, bad(d.lost), d.lost, bad(d.duplicated), d.duplicated, bad(d.reordered), d.reordered, bad(d.corrupted), d.corrupted, bad(d.not_sent), d.not_sent
        );
    }
    let _ = writeln!(
        b,
        "</table><p>files acknowledged {}, unacknowledged {}, unmatched ACKs {}</p>",
        i.files_acked, i.files_unacked, i.acks_unmatched
    );
    if !r.thresholds.is_empty() {
        let _ = writeln!(b, "<h2>Thresholds</h2><table id=\"thresholds\"><tr><th>threshold</th><th>observed</th><th>result</th></tr>");
        for t in &r.thresholds {
            let (class, word) = if t.passed {
                ("pass", "met")
            } else {
                ("fail", "MISSED")
            };
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{word}</td></tr>",
                esc(&t.threshold.expr),
                esc(&t.observed_text())
            );
        }
        let _ = writeln!(b, "</table>");
    }
    let _ = writeln!(b, "<h2>Throughput over time</h2>{}", throughput_chart(r));
    let _ = writeln!(b, "<h2>Latency by operation</h2><p class=\"muted\">Measured from each operation's intended send time (no coordinated omission).</p>{}", latency_chart(r));
    let _ = writeln!(b, "<table id=\"percentiles\"><tr><th>operation</th><th>count</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>");
    for (k, l) in &r.latency {
        let _ = writeln!(b, "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>", esc(k), l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms);
    }
    let _ = writeln!(b, "</table><h2>Errors by reason</h2><table id=\"errors\"><tr><th>reason</th><th>count</th></tr>");
    if r.errors.is_empty() {
        let _ = writeln!(b, "<tr><td colspan=\"2\">none</td></tr>");
    }
    for (k, v) in &r.errors {
        let _ = writeln!(b, "<tr><td>{}</td><td class=\"fail\">{v}</td></tr>", esc(k));
    }
    let _ = writeln!(b, "</table>");
    if !r.harness_errors.is_empty() {
        let _ = writeln!(b, "<h2>Harness errors (msrp-sim's own)</h2><table id=\"harness-errors\"><tr><th>what failed</th><th>count</th></tr>");
        for (k, v) in &r.harness_errors {
            let _ = writeln!(b, "<tr><td>{}</td><td class=\"fail\">{v}</td></tr>", esc(k));
        }
        let _ = writeln!(b, "</table>");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>msrp-sim report</title><style>{STYLE}</style></head>\n<body>\n{b}</body></html>\n"
    )
}
