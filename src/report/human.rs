//! Human-readable output, one block per scenario and a closing line.

use std::io::Write;

use anstyle::{AnsiColor, Style};

use crate::verdict::{Outcome, Totals, Verdict};

fn style(v: Verdict) -> Style {
    let color = match v {
        Verdict::Pass => AnsiColor::Green,
        Verdict::Warn => AnsiColor::Yellow,
        Verdict::Skip => AnsiColor::Cyan,
        Verdict::Fail | Verdict::Error => AnsiColor::Red,
    };
    Style::new().fg_color(Some(color.into())).bold()
}

/// Prints one scenario's verdict (and, when it did not pass, where and why), as plain
/// text: `out` may be a file, a pipe or a buffer.
pub fn print_outcome(out: &mut impl Write, o: &Outcome) -> std::io::Result<()> {
    print_outcome_colored(out, o, false)
}

/// [`print_outcome`] with colour when `color` (see `msrp_reference::color` for when).
pub fn print_outcome_colored(
    out: &mut impl Write,
    o: &Outcome,
    color: bool,
) -> std::io::Result<()> {
    // A plain Style renders as nothing, reset included.
    let pick = |s: Style| if color { s } else { Style::new() };
    let s = pick(style(o.verdict));
    let label = o.verdict.as_str().to_uppercase();
    writeln!(
        out,
        "{s}{label:<5}{s:#} {} [{}] {:.2}s",
        o.id,
        o.rules.join(", "),
        o.seconds
    )?;
    let dim = pick(Style::new().dimmed());
    if let Some(f) = &o.failure {
        writeln!(out, "      {}", o.title)?;
        writeln!(out, "      at {}:{} (step {})", o.file, f.line, f.step)?;
        writeln!(out, "      {}: {}", f.blamed(), f.statement)?;
        writeln!(out, "      expected: {}", f.expected)?;
        writeln!(out, "      actual:   {}", f.actual)?;
        if let Some(h) = &f.actual_hex {
            writeln!(out, "      {dim}bytes:    {h}{dim:#}")?;
        }
    }
    // Further warnings: the scenario went on after each (the first is `failure` already
    // when nothing failed).
    for w in o.warnings.iter().filter(|w| {
        o.failure
            .as_ref()
            .is_none_or(|f| (f.step, &f.rule) != (w.step, &w.rule))
    }) {
        writeln!(
            out,
            "      also warned at line {} (step {}): {}: expected {}; actual {}",
            w.line,
            w.step,
            w.blamed(),
            w.expected,
            w.actual
        )?;
    }
    if let Some(r) = &o.reason {
        writeln!(out, "      {r}")?;
    }
    if let Some(d) = &o.transcript_diff {
        writeln!(out, "      transcript differs from the reference snapshot:")?;
        for line in d.lines() {
            let st = match line.as_bytes().first() {
                Some(b'+') => Style::new().fg_color(Some(AnsiColor::Green.into())),
                Some(b'-') => Style::new().fg_color(Some(AnsiColor::Red.into())),
                _ => Style::new(),
            };
            let st = pick(st);
            writeln!(out, "      {st}{line}{st:#}")?;
        }
    }
    for n in &o.notes {
        writeln!(out, "      {dim}note: {n}{dim:#}")?;
    }
    Ok(())
}

/// `N passed, N failed, N warned, N skipped` (and errors when there were any).
pub fn closing_line(t: &Totals) -> String {
    let mut line = format!(
        "{} passed, {} failed, {} warned, {} skipped",
        t.passed, t.failed, t.warned, t.skipped
    );
    if t.errors > 0 {
        line.push_str(&format!(", {} errors", t.errors));
    }
    line
}
