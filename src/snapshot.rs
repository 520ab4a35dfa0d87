//! Golden transcripts: the reference server's approved transcripts (insta snapshots in
//! `snapshots/`), and the comparison of another server's transcript with them.

use std::collections::BTreeMap;
use std::path::Path;

/// Approved transcripts by scenario id, read from a folder of insta `.snap` files.
#[derive(Debug, Default)]
pub struct Snapshots {
    by_id: BTreeMap<String, String>,
}

/// The body of an insta snapshot file: what follows its `---`-delimited header.
fn snap_body(text: &str) -> &str {
    let mut parts = text.splitn(3, "---\n");
    match (parts.next(), parts.next(), parts.next()) {
        (Some(""), Some(_header), Some(body)) => body,
        _ => text,
    }
}

impl Snapshots {
    /// Reads every `.snap` file of `dir`; the scenario id is taken from the transcript's
    /// first line (`scenario ID: title`).
    pub fn load(dir: &Path) -> Result<Snapshots, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut by_id = BTreeMap::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("snap") {
                continue;
            }
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let body = snap_body(&text);
            if let Some(id) = body
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("scenario "))
                .and_then(|l| l.split(':').next())
            {
                by_id.insert(id.to_string(), body.trim_end().to_string());
            }
        }
        if by_id.is_empty() {
            return Err(format!(
                "{}: no transcript snapshots (.snap files) found",
                dir.display()
            ));
        }
        Ok(Snapshots { by_id })
    }

    /// The approved transcript of a scenario.
    pub fn get(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).map(String::as_str)
    }
}

/// A unified diff of `reference` (approved) against `actual`, headed by where the first
/// difference is; `None` when they are equal.
pub fn diff(reference: &str, actual: &str) -> Option<String> {
    let actual = actual.trim_end();
    if reference == actual {
        return None;
    }
    let first = reference
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| reference.lines().count().min(actual.lines().count()));
    let at = actual
        .lines()
        .nth(first)
        .or_else(|| reference.lines().nth(first))
        .unwrap_or("")
        .trim();
    let (reference, actual) = (format!("{reference}\n"), format!("{actual}\n"));
    let udiff = similar::TextDiff::from_lines(&reference, &actual)
        .unified_diff()
        .context_radius(3)
        .header("reference", "target")
        .to_string();
    Some(format!(
        "first difference at transcript line {}: {at}\n{udiff}",
        first + 1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_points_at_the_first_difference() {
        let a = "scenario x: t\nstep 1\n  a > MSG\nverdict: pass";
        let b = "scenario x: t\nstep 1\n  a > ERROR\nverdict: fail";
        let d = diff(a, b).unwrap();
        assert!(
            d.starts_with("first difference at transcript line 3: a > ERROR"),
            "{d}"
        );
        assert!(
            d.contains("\n-  a > MSG\n") && d.contains("\n+  a > ERROR\n"),
            "{d}"
        );
        assert!(!d.contains("No newline"), "{d}");
        assert!(diff(a, &format!("{a}\n")).is_none());
    }

    #[test]
    fn insta_header_is_skipped() {
        assert_eq!(
            snap_body("---\nsource: x\n---\nscenario a: b\n"),
            "scenario a: b\n"
        );
    }
}
