//! Scenarios: loading YAML files into checked [`Scenario`]s, with file:line in every error.

mod checks;
mod clients;
pub mod content;
pub mod matching;
pub mod model;
pub mod plan;

use std::fmt;
use std::path::{Path, PathBuf};

pub(crate) use checks::{check_header, check_matcher, check_rule, check_seconds, exactly_one};
use clients::resolve_clients;
pub use clients::Clients;
pub use model::*;

/// A scenario file that could not be loaded, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// The scenario file.
    pub path: PathBuf,
    /// 1-based line of the offending key or step, when known.
    pub line: Option<usize>,
    /// What is wrong, for the person who wrote the scenario.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// A loaded and checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// The file's text, for reports.
    pub source: String,
    /// The parsed file, as written.
    pub file: ScenarioFile,
    /// 1-based line of each step in the file.
    pub step_lines: Vec<usize>,
    /// Its clients resolved to wire names.
    pub clients: Clients,
    /// Its steps as they run, parsed from `file.steps` at load time.
    pub steps: Vec<plan::Step>,
}

impl Scenario {
    /// The outcome of this scenario before any step runs: `Pass`, named after it.
    pub fn outcome(&self) -> crate::verdict::Outcome {
        let f = &self.file;
        crate::verdict::Outcome::started(
            f.id.clone(),
            f.title.clone(),
            self.path.display().to_string(),
            f.rules.clone(),
            f.tags.clone(),
        )
    }

    /// Whether the scenario applies to `profile` (every profile when it names none).
    pub fn applies_to(&self, profile: msrp_reference::Profile) -> bool {
        self.file.profiles.is_empty() || self.file.profiles.iter().any(|p| p == profile.as_str())
    }

    /// The decisions (`DEC-n`) its steps rest on, in step order, without repeats.
    pub fn cited_decisions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for step in &self.steps {
            let cited = match step {
                plan::Step::Expect(e) => e.decision.as_deref(),
                plan::Step::ExpectSilence(s) => s.decision.as_deref(),
                plan::Step::ExpectClosed(ClientOr::Full(c)) => {
                    c.decision.as_deref().or(c.no_error.as_deref())
                }
                plan::Step::File(f) => f.decision.as_deref(),
                _ => None,
            };
            if let Some(d) = cited.filter(|d| !out.contains(d)) {
                out.push(d);
            }
        }
        out
    }
}

/// Loads one scenario file.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    parse(path, &read_source(path)?)
}

/// The text of a scenario file (server or client scenario).
pub(crate) fn read_source(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|e| LoadError {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read: {e}"),
    })
}

/// Scenario text (server or client scenario) as its file type `T`: every mapping checked
/// for duplicate keys first, steps written as single-key maps (`- connect: alice`, not YAML
/// tags), every error with its line.
pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(
    path: &Path,
    source: &str,
) -> Result<T, LoadError> {
    let err = |line: Option<usize>, message: String| LoadError {
        path: path.to_path_buf(),
        line,
        message,
    };
    // A YAML mapping that names a key twice keeps only the last value when deserialized into
    // a map (a `clients:` entry would vanish without a word), so every mapping is checked first.
    if let Some((line, message)) = duplicate_key(source) {
        return Err(err(Some(line), message));
    }
    let de = serde_yaml::Deserializer::from_str(source);
    serde_yaml::with::singleton_map_recursive::deserialize(de)
        .map_err(|e: serde_yaml::Error| err(e.location().map(|l| l.line()), e.to_string()))
}

/// Parses and checks scenario text.
pub fn parse(path: &Path, source: &str) -> Result<Scenario, LoadError> {
    let err = |line: Option<usize>, message: String| LoadError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let file: ScenarioFile = deserialize(path, source)?;
    let step_lines = step_lines(source, file.steps.len());
    let clients = resolve_clients(&file).map_err(|m| err(find_line(source, "clients:"), m))?;
    let mut scenario = Scenario {
        path: path.to_path_buf(),
        source: source.to_string(),
        file,
        step_lines,
        clients,
        steps: Vec::new(),
    };
    check_header(&scenario.file.id, &scenario.file.rules).map_err(|m| err(None, m))?;
    for (i, step) in scenario.file.steps.iter().enumerate() {
        let line = scenario.step_lines.get(i).copied();
        let planned = plan::plan(&scenario, step).map_err(|m| err(line, m))?;
        scenario.steps.push(planned);
    }
    Ok(scenario)
}

/// The first key that a mapping of the document names twice: the line of its second
/// occurrence and a message naming the key and the first. serde_yaml's generic value parser
/// notices duplicates in every mapping (block or flow) but points at the mapping's start; the
/// occurrences are then found at the mapping's key column (block style), or that start line
/// is kept (flow style).
pub(crate) fn duplicate_key(source: &str) -> Option<(usize, String)> {
    let e = serde_yaml::from_str::<serde_yaml::Value>(source).err()?;
    let text = e.to_string();
    let (path, rest) = text.split_once("duplicate entry with key ")?;
    let key = rest.split(" at line ").next().unwrap_or(rest).trim();
    let bare = key.trim_matches('"');
    let location = e.location()?;
    let (start, column) = (location.line(), location.column());
    let hits: Vec<usize> = source
        .lines()
        .enumerate()
        .skip(start.saturating_sub(1))
        .filter(|(_, l)| {
            let at = l.get(column.saturating_sub(1)..).unwrap_or("");
            [
                format!("{bare}:"),
                format!("\"{bare}\":"),
                format!("'{bare}':"),
            ]
            .iter()
            .any(|p| at.starts_with(p.as_str()))
                && l[..column.saturating_sub(1).min(l.len())]
                    .chars()
                    .all(|c| c == ' ' || c == '-')
        })
        .map(|(i, _)| i + 1)
        .take(2)
        .collect();
    let place = path.trim_end_matches([' ', ':']);
    let place = if place.is_empty() {
        "the top-level mapping".to_string()
    } else {
        format!("mapping {place}")
    };
    Some(match hits.as_slice() {
        [first, second] => (
            *second,
            format!("duplicate key {key} in {place} (first at line {first}); YAML would keep only the last, so the file is refused"),
        ),
        _ => (
            start,
            format!("duplicate key {key} in {place}; YAML would keep only the last, so the file is refused"),
        ),
    })
}

fn find_line(source: &str, prefix: &str) -> Option<usize> {
    source
        .lines()
        .position(|l| l.starts_with(prefix))
        .map(|i| i + 1)
}

/// Lines of the items of the top-level `steps:` block sequence. serde_yaml keeps no
/// positions for values, so this reads the block layout; flow-style lists get the
/// `steps:` line for every step.
pub(crate) fn step_lines(source: &str, count: usize) -> Vec<usize> {
    let lines: Vec<&str> = source.lines().collect();
    let Some(start) = lines.iter().position(|l| l.trim_end() == "steps:") else {
        return vec![find_line(source, "steps").unwrap_or(1); count];
    };
    let mut out = Vec::new();
    let mut indent = None;
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let this = line.len() - trimmed.len();
        if this == 0 && !trimmed.starts_with('-') {
            break;
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            match indent {
                None => indent = Some(this),
                Some(ind) if ind != this => continue,
                _ => {}
            }
            out.push(i + 1);
        }
    }
    out.resize(count, start + 1);
    out
}

/// Parses arbitrary bytes as a scenario file: the property the `scenario_yaml` fuzz target
/// checks (no panic; every error has a message).
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = parse(Path::new("fuzz.yaml"), text) {
            assert!(!e.message.is_empty());
        }
    }
}

/// Whether scenario text is a client scenario (a top-level `mode: client`), run by
/// `msrp-check --client` rather than against a server.
pub fn is_client_source(source: &str) -> bool {
    source.lines().any(|l| l.trim_end() == "mode: client")
}

/// [`load_all`], keeping only the scenarios that apply to `profile` (`profiles:`): what a run
/// in that profile executes.
pub fn load_for(
    paths: &[PathBuf],
    profile: msrp_reference::Profile,
) -> (Vec<Scenario>, Vec<LoadError>) {
    let (all, errors) = load_all(paths);
    (
        all.into_iter().filter(|s| s.applies_to(profile)).collect(),
        errors,
    )
}

/// Loads every `.yaml`/`.yml` file under the given files or folders, sorted by path.
/// Returns the scenarios and the errors of those that failed to load.
pub fn load_all(paths: &[PathBuf]) -> (Vec<Scenario>, Vec<LoadError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        collect(p, &mut files, &mut errors);
    }
    files.sort();
    files.dedup();
    let mut scenarios: Vec<Scenario> = Vec::new();
    for f in files {
        // Client scenarios (`mode: client`) share the folder tree; the client suite loads them.
        if std::fs::read_to_string(&f).is_ok_and(|t| is_client_source(&t)) {
            continue;
        }
        match load(&f) {
            Ok(s) => {
                if let Some(other) = scenarios.iter().find(|o| o.file.id == s.file.id) {
                    errors.push(LoadError {
                        path: f.clone(),
                        line: find_line(&s.source, "id:"),
                        message: format!(
                            "id \"{}\" is also used by {}",
                            s.file.id,
                            other.path.display()
                        ),
                    });
                } else {
                    scenarios.push(s);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    (scenarios, errors)
}

pub(crate) fn collect(path: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            errors.push(LoadError {
                path: path.to_path_buf(),
                line: None,
                message: format!("cannot read: {e}"),
            });
            return;
        }
    };
    if meta.is_file() {
        files.push(path.to_path_buf());
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) => {
            errors.push(LoadError {
                path: path.to_path_buf(),
                line: None,
                message: format!("cannot list: {e}"),
            });
            return;
        }
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, files, errors);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            files.push(p);
        }
    }
}

/// The JSON Schema of the scenario format (`msrp-check schema`), pretty-printed. Committed as
/// `scenarios/schema.json` and kept equal to it by a test, so that every change to the format
/// is reviewed; editors with a YAML language server can validate scenarios against it.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(model::ScenarioFile);
    // A derived schema always serialises.
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}
