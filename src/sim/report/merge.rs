//! Merging the reports of several runs or shards into one: counts add up, histograms merge
//! exactly, and a set that is not the shards of one run (a shard twice, a merged report with
//! one of its own inputs, two targets or seeds) is refused unless forced.

use std::collections::{BTreeMap, BTreeSet};

use hdrhistogram::Histogram;

use super::{Latency, RunId, SimReport, EMBEDDED};

/// Why `msrp-sim merge` refuses a set of reports.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The reports are not the shards of one run; each line names the files concerned.
    #[error("these reports do not make one run (--force merges them anyway, with a warning in the merged report):\n  {}", .0.join("\n  "))]
    Inconsistent(Vec<String>),
    /// A report's histogram could not be read or merged.
    #[error("{0}")]
    Invalid(String),
}

/// Each run the inputs cover: the file it came from, whether that file is itself a merge,
/// and the run.
type Covered<'a> = Vec<(&'a str, bool, RunId)>;

impl SimReport {
    /// Merges `inputs` (each with the file it came from, for messages) after checking that
    /// they are the shards of one run: no run twice (the same shard given twice, or a
    /// merged report together with one of its own inputs), one target, one seed, one shard
    /// count. Inconsistent sets are refused unless `force`, which merges them and records
    /// each problem in `warnings`. Missing shards are always a warning, never a refusal.
    pub fn merge_checked(
        inputs: &[(String, SimReport)],
        force: bool,
    ) -> Result<SimReport, MergeError> {
        let mut problems = Vec::new();
        let ids = covered_runs(inputs, &mut problems);
        for p in overlaps(&ids) {
            push_once(&mut problems, p);
        }
        problems.extend(distinct(&ids, &|id| id.target.clone(), "targets"));
        problems.extend(distinct(
            &ids,
            &|id| id.seed.to_string(),
            "seeds (shards of one run share --seed)",
        ));
        problems.extend(distinct(
            &ids,
            &|id| id.shards.to_string(),
            "shard counts (the N of --shard I/N)",
        ));
        if !problems.is_empty() && !force {
            return Err(MergeError::Inconsistent(problems));
        }
        let reports: Vec<SimReport> = inputs.iter().map(|(_, r)| r.clone()).collect();
        let mut out = SimReport::merge(&reports).map_err(MergeError::Invalid)?;
        out.runs = ids.iter().map(|(_, _, id)| id.clone()).collect();
        out.sources = inputs.iter().map(|(label, _)| label.clone()).collect();
        out.warnings.extend(
            problems
                .into_iter()
                .map(|p| format!("merged with --force although {p}")),
        );
        out.warnings.extend(coverage_warnings(&out.runs));
        Ok(out)
    }

    /// Combines reports of runs that happened at the same time (shards): counts add up,
    /// histograms merge, the duration is the longest. It checks nothing about the set;
    /// [`SimReport::merge_checked`] does.
    pub fn merge(reports: &[SimReport]) -> Result<SimReport, String> {
        let first = reports.first().ok_or("nothing to merge")?;
        let mut out = first.clone();
        // Thresholds judged one shard do not hold for the sum; merge judges its own.
        out.thresholds.clear();
        let mut hists: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
        for (k, l) in &first.latency {
            hists.insert(k.clone(), l.histogram()?);
        }
        for r in &reports[1..] {
            out.parameters.extend(r.parameters.iter().cloned());
            out.seconds = out.seconds.max(r.seconds);
            out.clients += r.clients;
            out.connected += r.connected;
            out.connect_failures += r.connect_failures;
            out.p2p_files += r.p2p_files;
            for (k, v) in &r.operations {
                *out.operations.entry(k.clone()).or_default() += v;
            }
            out.bytes_delivered += r.bytes_delivered;
            out.integrity.add(&r.integrity);
            for (k, v) in &r.errors {
                *out.errors.entry(k.clone()).or_default() += v;
            }
            for (k, v) in &r.harness_errors {
                *out.harness_errors.entry(k.clone()).or_default() += v;
            }
            out.runs.extend(r.runs.iter().cloned());
            out.notes.extend(r.notes.iter().cloned());
            out.warnings.extend(r.warnings.iter().cloned());
            for (k, l) in &r.latency {
                let h = l.histogram()?;
                match hists.get_mut(k) {
                    Some(acc) => acc
                        .add(&h)
                        .map_err(|e| format!("histograms of {k} do not merge: {e:?}"))?,
                    None => {
                        hists.insert(k.clone(), h);
                    }
                }
            }
            if out.timeline.len() < r.timeline.len() {
                out.timeline.resize(r.timeline.len(), 0);
            }
            for (i, v) in r.timeline.iter().enumerate() {
                out.timeline[i] += v;
            }
        }
        if out.target != "merged" && reports.iter().any(|r| r.target != first.target) {
            out.target = "merged".into();
        }
        out.latency = hists
            .iter()
            .map(|(k, h)| (k.clone(), Latency::of(h)))
            .collect();
        Ok(out)
    }
}

/// Adds `p` unless it is already there (one overlap can be seen from several inputs).
fn push_once(problems: &mut Vec<String>, p: String) {
    if !problems.contains(&p) {
        problems.push(p);
    }
}

/// The runs each input covers; an input given twice, or one that does not say which run it
/// is, is a problem instead.
fn covered_runs<'a>(inputs: &'a [(String, SimReport)], problems: &mut Vec<String>) -> Covered<'a> {
    let mut ids = Vec::new();
    let mut labels = BTreeSet::new();
    for (label, r) in inputs {
        if !labels.insert(label.as_str()) {
            problems.push(format!("{label} is given twice"));
            continue;
        }
        match r.run_ids() {
            Some(run) => ids.extend(
                run.into_iter()
                    .map(|id| (label.as_str(), r.is_merged(), id)),
            ),
            None => problems.push(format!(
                "{label} does not say which run it is (target, seed, shard)"
            )),
        }
    }
    ids
}

/// A run covered twice, each time it is seen again (possibly the same problem more than once).
fn overlaps(ids: &Covered<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut first_seen: BTreeMap<&RunId, (&str, bool)> = BTreeMap::new();
    for (label, merged, id) in ids {
        match first_seen.get(id) {
            None => {
                first_seen.insert(id, (label, *merged));
            }
            Some((other, other_merged)) => problems.push(if *merged || *other_merged {
                let (m, o) = if *merged {
                    (label, other)
                } else {
                    (other, label)
                };
                if m == o {
                    format!("{m} is a merged report that covers {id} twice")
                } else {
                    format!(
                        "{m} is a merged report that already includes {id}, which {o} \
                     also covers: it would be counted twice (merge the shard \
                     reports themselves)"
                    )
                }
            } else {
                format!("{other} and {label} are both {id}: the same shard twice")
            }),
        }
    }
    problems
}

/// "different targets: a (x.json) vs b (y.json)" when the runs differ in `key`.
fn distinct(ids: &Covered<'_>, key: &dyn Fn(&RunId) -> String, what: &str) -> Option<String> {
    let mut by: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (label, _, id) in ids {
        let files = by.entry(key(id)).or_default();
        if !files.contains(label) {
            files.push(label);
        }
    }
    (by.len() > 1).then(|| {
        let parts: Vec<String> = by
            .iter()
            .map(|(v, files)| format!("{v} ({})", files.join(", ")))
            .collect();
        format!("different {what}: {}", parts.join(" vs "))
    })
}

/// What a merged report of `runs` does not say by its counts: that embedded servers were
/// several, or that shards are missing.
fn coverage_warnings(runs: &[RunId]) -> Vec<String> {
    let mut warnings = Vec::new();
    if runs.len() > 1 && runs.iter().any(|id| id.target == EMBEDDED) {
        warnings.push(format!(
            "each run against the {EMBEDDED} had a server of its own: the merged counts \
             are not the load of one server"
        ));
    }
    let counts: BTreeSet<u32> = runs.iter().map(|id| id.shards).collect();
    if let [n] = counts.iter().copied().collect::<Vec<_>>()[..] {
        let present: BTreeSet<u32> = runs.iter().map(|id| id.shard).collect();
        let missing: Vec<String> = (0..n)
            .filter(|i| !present.contains(i))
            .map(|i| format!("{i}/{n}"))
            .collect();
        if !missing.is_empty() {
            warnings.push(format!(
                "shards missing: {} (this report covers {} of {n})",
                missing.join(", "),
                present.len()
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(target: &str, seed: u64, shard: u32, shards: u32) -> RunId {
        RunId {
            target: target.into(),
            seed,
            shard,
            shards,
        }
    }

    #[test]
    fn a_shard_twice_and_a_merge_with_its_input() {
        let ids = vec![
            ("a.json", false, run("t", 1, 0, 2)),
            ("b.json", false, run("t", 1, 0, 2)),
            ("m.json", true, run("t", 1, 1, 2)),
            ("c.json", false, run("t", 1, 1, 2)),
        ];
        assert_eq!(
            overlaps(&ids),
            [
                "a.json and b.json are both shard 0/2 (seed 1) of t: the same shard twice",
                "m.json is a merged report that already includes shard 1/2 (seed 1) of t, which \
                 c.json also covers: it would be counted twice (merge the shard reports themselves)",
            ]
        );
    }

    #[test]
    fn runs_that_differ_name_their_files() {
        let ids = vec![
            ("a.json", false, run("x", 1, 0, 2)),
            ("b.json", false, run("y", 1, 1, 2)),
        ];
        assert_eq!(
            distinct(&ids, &|id| id.target.clone(), "targets").as_deref(),
            Some("different targets: x (a.json) vs y (b.json)")
        );
        assert_eq!(distinct(&ids, &|id| id.seed.to_string(), "seeds"), None);
    }

    #[test]
    fn missing_shards_and_several_embedded_servers() {
        let runs = [run(EMBEDDED, 1, 0, 3), run(EMBEDDED, 1, 2, 3)];
        let w = coverage_warnings(&runs);
        assert_eq!(w.len(), 2);
        assert!(w[0].starts_with("each run against the embedded reference server"));
        assert_eq!(w[1], "shards missing: 1/3 (this report covers 2 of 3)");
        assert!(coverage_warnings(&[run("t", 1, 0, 1)]).is_empty());
    }
}
