//! The evidence msrp-check keeps of each scenario run (pcap, transcript) and how a transcript
//! is judged against the reference's approved snapshot.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::runner::RunResult;
use crate::snapshot::{diff, Snapshots};
use crate::verdict::Verdict;

/// The reason given to a scenario that `--strict-transcript` fails.
pub const STRICT_TRANSCRIPT_REASON: &str =
    "the transcript differs from the reference snapshot (--strict-transcript)";

/// Where a run's evidence goes, and how transcripts are judged.
#[derive(Debug, Default, Clone)]
pub struct Artifacts {
    /// `--pcap-dir` (this target's folder of it): one `ID.pcap` per scenario.
    pub pcap_dir: Option<PathBuf>,
    /// `--transcript-dir` (this target's folder of it): one `ID.txt` per scenario.
    pub transcript_dir: Option<PathBuf>,
    /// `--snapshots`: the approved transcripts to compare with.
    pub snapshots: Option<Arc<Snapshots>>,
    /// `--strict-transcript`: a transcript that differs from its snapshot fails the scenario.
    pub strict_transcript: bool,
}

impl Artifacts {
    /// Keeps the evidence of a finished scenario, unless it was skipped: a skipped scenario
    /// ran nothing, and an empty pcap or transcript would only look like a run.
    pub fn record(&self, r: &mut RunResult) {
        if r.outcome.verdict != Verdict::Skip {
            self.keep(r);
        }
    }

    /// Writes a run's pcap and transcript, and compares the transcript with its snapshot.
    /// A file that cannot be written makes the scenario an error: its evidence would be lost.
    pub fn keep(&self, r: &mut RunResult) {
        let id = r.outcome.id.clone();
        let mut problems = Vec::new();
        if let Some(dir) = &self.pcap_dir {
            let path = dir.join(format!("{id}.pcap"));
            if let Err(e) = crate::pcap::write_pcap(&path, &r.records, r.started) {
                problems.push(format!("cannot write pcap: {e}"));
            }
        }
        if let Some(dir) = &self.transcript_dir {
            let path = dir.join(format!("{id}.txt"));
            if let Err(e) = std::fs::write(&path, &r.transcript) {
                problems.push(format!("cannot write transcript {}: {e}", path.display()));
            }
        }
        if let Some(snaps) = &self.snapshots {
            self.compare(snaps, &id, r);
        }
        if !problems.is_empty() {
            r.outcome.verdict = Verdict::Error;
            r.outcome.reason = Some(problems.join("; "));
        }
    }

    /// Attaches the diff against the approved transcript; only a scenario that would
    /// otherwise have passed is failed by `--strict-transcript` (a failure keeps its cause).
    fn compare(&self, snaps: &Snapshots, id: &str, r: &mut RunResult) {
        let Some(reference) = snaps.get(id) else {
            r.outcome
                .notes
                .push(format!("no reference snapshot for {id}"));
            return;
        };
        if let Some(d) = diff(reference, &r.transcript) {
            r.outcome.transcript_diff = Some(d);
            if self.strict_transcript && matches!(r.outcome.verdict, Verdict::Pass | Verdict::Warn)
            {
                r.outcome.verdict = Verdict::Fail;
                r.outcome.reason = Some(STRICT_TRANSCRIPT_REASON.into());
            }
        }
    }
}

/// The folder target `index` keeps its artifacts in: with several targets each has its own
/// subfolder `tINDEX` (their scenario ids are the same), with one it is `dir` itself.
pub fn target_dir(dir: Option<&Path>, index: usize, several: bool) -> Option<PathBuf> {
    dir.map(|d| {
        if several {
            d.join(format!("t{index}"))
        } else {
            d.to_path_buf()
        }
    })
}

/// Creates the folders that exist (a run writes into them from many tasks at once).
pub fn create_dirs<'a>(
    dirs: impl IntoIterator<Item = &'a Option<PathBuf>>,
) -> Result<(), DirError> {
    for dir in dirs.into_iter().flatten() {
        std::fs::create_dir_all(dir).map_err(|source| DirError {
            path: dir.clone(),
            source,
        })?;
    }
    Ok(())
}

/// A folder for reports or artifacts that could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create {}: {source}", path.display())]
pub struct DirError {
    /// The folder.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Outcome;

    /// A fresh empty folder for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("msrp-artifacts-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    }

    fn result(id: &str, verdict: Verdict, transcript: &str) -> RunResult {
        let mut outcome = Outcome::load_error(Path::new("x.yaml"), "t", String::new());
        outcome.id = id.into();
        outcome.verdict = verdict;
        outcome.reason = None;
        let mut r = RunResult::not_run(outcome);
        r.transcript = transcript.into();
        r
    }

    /// Snapshots with one approved transcript, `scenario ID: t` then `body`.
    fn snapshots(dir: &Path, id: &str, body: &str) -> Arc<Snapshots> {
        let snaps = dir.join("snaps");
        std::fs::create_dir_all(&snaps).expect("snapshot folder");
        let text = format!("---\nsource: x\n---\nscenario {id}: t\n{body}\n");
        std::fs::write(snaps.join(format!("{id}.snap")), text).expect("snapshot file");
        Arc::new(Snapshots::load(&snaps).expect("snapshots load"))
    }

    #[test]
    fn a_run_keeps_its_pcap_and_transcript() {
        let dir = scratch("kept");
        let a = Artifacts {
            pcap_dir: Some(dir.clone()),
            transcript_dir: Some(dir.clone()),
            ..Artifacts::default()
        };
        for (id, verdict) in [
            ("p", Verdict::Pass),
            ("f", Verdict::Fail),
            ("e", Verdict::Error),
        ] {
            let mut r = result(id, verdict, "scenario x\n");
            a.record(&mut r);
            assert_eq!(r.outcome.verdict, verdict);
            assert!(dir.join(format!("{id}.pcap")).is_file(), "{id}: pcap");
            let kept = std::fs::read_to_string(dir.join(format!("{id}.txt")));
            assert_eq!(
                kept.ok().as_deref(),
                Some("scenario x\n"),
                "{id}: transcript"
            );
        }
    }

    #[test]
    fn a_skipped_scenario_leaves_no_files() {
        let dir = scratch("skipped");
        let a = Artifacts {
            pcap_dir: Some(dir.clone()),
            transcript_dir: Some(dir.clone()),
            ..Artifacts::default()
        };
        let mut r = result("s", Verdict::Skip, "");
        a.record(&mut r);
        assert_eq!(r.outcome.verdict, Verdict::Skip);
        assert!(!dir.join("s.pcap").exists());
        assert!(!dir.join("s.txt").exists());
    }

    #[test]
    fn evidence_that_cannot_be_written_makes_the_scenario_an_error() {
        let dir = scratch("unwritable").join("missing");
        let a = Artifacts {
            transcript_dir: Some(dir),
            ..Artifacts::default()
        };
        let mut r = result("p", Verdict::Pass, "x");
        a.keep(&mut r);
        assert_eq!(r.outcome.verdict, Verdict::Error);
        let reason = r.outcome.reason.unwrap_or_default();
        assert!(reason.starts_with("cannot write transcript"), "{reason}");
    }

    #[test]
    fn a_differing_transcript_fails_only_a_passing_scenario_and_only_when_strict() {
        let dir = scratch("strict");
        let snaps = snapshots(&dir, "m", "approved");
        let cases = [
            (false, Verdict::Pass, Verdict::Pass),
            (true, Verdict::Pass, Verdict::Fail),
            (true, Verdict::Warn, Verdict::Fail),
            (true, Verdict::Fail, Verdict::Fail),
            (true, Verdict::Error, Verdict::Error),
        ];
        for (strict, before, after) in cases {
            let a = Artifacts {
                snapshots: Some(snaps.clone()),
                strict_transcript: strict,
                ..Artifacts::default()
            };
            let mut r = result("m", before, "scenario m: t\nchanged");
            a.keep(&mut r);
            assert_eq!(r.outcome.verdict, after, "strict {strict}, {before:?}");
            assert!(r.outcome.transcript_diff.is_some());
            let failed_here = strict && before != after;
            assert_eq!(
                r.outcome.reason.as_deref() == Some(STRICT_TRANSCRIPT_REASON),
                failed_here
            );
        }
    }

    #[test]
    fn a_matching_transcript_is_no_diff_and_a_missing_snapshot_a_note() {
        let dir = scratch("match");
        let a = Artifacts {
            snapshots: Some(snapshots(&dir, "m", "approved")),
            strict_transcript: true,
            ..Artifacts::default()
        };
        let mut same = result("m", Verdict::Pass, "scenario m: t\napproved");
        a.keep(&mut same);
        assert_eq!(same.outcome.verdict, Verdict::Pass);
        assert_eq!(same.outcome.transcript_diff, None);
        let mut other = result("other", Verdict::Pass, "anything");
        a.keep(&mut other);
        assert_eq!(other.outcome.verdict, Verdict::Pass);
        assert_eq!(other.outcome.notes, ["no reference snapshot for other"]);
    }

    #[test]
    fn several_targets_keep_their_artifacts_apart() {
        let d = Path::new("out");
        assert_eq!(target_dir(Some(d), 3, false), Some(PathBuf::from("out")));
        assert_eq!(target_dir(Some(d), 3, true), Some(PathBuf::from("out/t3")));
        assert_eq!(target_dir(None, 0, true), None);
    }
}
