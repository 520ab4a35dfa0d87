//! Loading client scenarios: YAML → checked [`ClientScenario`], with file:line in every
//! error, as for server scenarios.

use std::path::{Path, PathBuf};

use super::model::*;
use crate::scenario::{
    check_header, check_matcher, check_rule, check_seconds, content::parse_hex, exactly_one,
    LoadError,
};

/// A loaded and checked client scenario.
#[derive(Debug, Clone)]
pub struct ClientScenario {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// The file's text, for reports.
    pub source: String,
    /// The parsed file, as written.
    pub file: ClientScenarioFile,
    /// 1-based line of each step.
    pub step_lines: Vec<usize>,
}

impl ClientScenario {
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

    /// The wire name of a reference: a declared client's, or a literal 4-byte name.
    pub fn wire_of(&self, name: &str) -> Result<[u8; 4], String> {
        wire_of(&self.file, name)
    }

    /// The same scenario as the report types see it (id, title, rules, source), so the
    /// HTML report pages work unchanged.
    pub fn as_report_scenario(&self) -> crate::scenario::Scenario {
        crate::scenario::Scenario {
            path: self.path.clone(),
            source: self.source.clone(),
            file: crate::scenario::ScenarioFile {
                id: self.file.id.clone(),
                title: self.file.title.clone(),
                rules: self.file.rules.clone(),
                tags: self.file.tags.clone(),
                profiles: Vec::new(),
                server: Default::default(),
                timeout: self.file.timeout,
                settle: None,
                clients: Default::default(),
                steps: Vec::new(),
            },
            step_lines: self.step_lines.clone(),
            clients: Default::default(),
            steps: Vec::new(),
        }
    }
}

fn wire_of(f: &ClientScenarioFile, name: &str) -> Result<[u8; 4], String> {
    let bytes = f
        .clients
        .get(name)
        .map(|w| w.as_bytes().to_vec())
        .unwrap_or_else(|| name.as_bytes().to_vec());
    bytes.try_into().map_err(|b: Vec<u8>| {
        format!(
            "\"{name}\" is neither a declared client nor a 4-byte name ({} bytes)",
            b.len()
        )
    })
}

/// The bytes of a [`ByteSpec`].
pub fn bytes_of(spec: &ByteSpec) -> Result<Vec<u8>, String> {
    match spec {
        ByteSpec::Text(s) => Ok(s.as_bytes().to_vec()),
        ByteSpec::Hex(h) => parse_hex(&h.hex),
        ByteSpec::Repeat(r) => {
            if r.repeat.len().saturating_mul(r.times) > 16 << 20 {
                return Err("repeat: more than 16 MiB".into());
            }
            Ok(r.repeat.repeat(r.times).into_bytes())
        }
    }
}

/// Loads one client scenario file.
pub fn load(path: &Path) -> Result<ClientScenario, LoadError> {
    parse(path, &crate::scenario::read_source(path)?)
}

/// Parses and checks client scenario text.
pub fn parse(path: &Path, source: &str) -> Result<ClientScenario, LoadError> {
    let err = |line: Option<usize>, message: String| LoadError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let file: ClientScenarioFile = crate::scenario::deserialize(path, source)?;
    let step_lines = crate::scenario::step_lines(source, file.steps.len());
    let sc = ClientScenario {
        path: path.to_path_buf(),
        source: source.to_string(),
        file,
        step_lines,
    };
    check(&sc).map_err(|(line, m)| err(line, m))?;
    Ok(sc)
}

fn check(sc: &ClientScenario) -> Result<(), (Option<usize>, String)> {
    let f = &sc.file;
    let top = |m: String| (None, m);
    check_header(&f.id, &f.rules).map_err(top)?;
    if f.clients.is_empty() {
        return Err(top("clients: declare at least one client under test".into()));
    }
    for (logical, wire) in &f.clients {
        if wire.len() != 4 {
            return Err(top(format!(
                "clients: \"{logical}\": a client under test needs a 4-byte name, not \"{wire}\""
            )));
        }
    }
    for name in f.files.keys().chain(f.existing.keys()) {
        if name.is_empty() || name.contains(['/', '\\', '\0']) || name == "." || name == ".." {
            return Err(top(format!("files: \"{name}\" must be a plain file name")));
        }
    }
    for (i, step) in f.steps.iter().enumerate() {
        let line = sc.step_lines.get(i).copied();
        check_step(sc, step).map_err(|m| (line, m))?;
    }
    Ok(())
}

/// The actions a driver may define and a `type` step may use.
pub const ACTIONS: [&str; 5] = ["msg", "send_relay", "send_p2p", "list", "quit"];

fn check_step(sc: &ClientScenario, step: &ClientStep) -> Result<(), String> {
    let f = &sc.file;
    let client = |name: &str| declared_client(f, name);
    let file = |name: &str| declared_file(f, name);
    match step {
        ClientStep::Start(c) | ClientStep::EndInput(c) => client(c),
        ClientStep::Type(t) => check_type(f, t),
        ClientStep::ExpectFromClient(e) => check_from_client(f, e),
        ClientStep::ToClient(t) => check_to_client(f, t),
        ClientStep::ExpectOutput(o) => check_output(f, o),
        ClientStep::ExpectFile(e) => {
            client(&e.client)?;
            check_rule(&e.rule)?;
            check_seconds("timeout", e.timeout)?;
            check_matcher(e.name.as_ref())
        }
        ClientStep::ExpectNoFile(n) => {
            client(&n.client)?;
            check_rule(&n.rule)?;
            check_seconds("for", n.window)?;
            check_matcher(n.name.as_ref())
        }
        ClientStep::ExpectNoFileOutside(r) => {
            client(&r.client)?;
            check_rule(&r.rule)
        }
        ClientStep::ExpectSilence(s) => {
            client(&s.client)?;
            check_rule(&s.rule)?;
            check_seconds("for", s.window)
        }
        ClientStep::P2pOffer(p) => check_p2p_offer(f, p),
        ClientStep::P2pFetch(p) => {
            client(&p.client)?;
            file(&p.file)?;
            check_rule(&p.rule)?;
            check_seconds("timeout", p.timeout)
        }
        ClientStep::ExpectAlive(a) => {
            client(&a.client)?;
            check_rule(&a.rule)?;
            check_seconds("for", a.window)
        }
        ClientStep::ExpectExit(e) => {
            client(&e.client)?;
            check_rule(&e.rule)?;
            check_seconds("timeout", e.timeout)
        }
        ClientStep::Close(c) => {
            client(&c.client)?;
            if c.half && c.abrupt {
                return Err("close: half and abrupt together".into());
            }
            Ok(())
        }
        ClientStep::Sleep(s) => check_seconds("sleep", Some(*s)),
    }
}

/// `name` is a client the scenario declares.
fn declared_client(f: &ClientScenarioFile, name: &str) -> Result<(), String> {
    if f.clients.contains_key(name) {
        Ok(())
    } else {
        Err(format!("\"{name}\" is not a declared client"))
    }
}

/// `name` is a file of the scenario's `files:`.
fn declared_file(f: &ClientScenarioFile, name: &str) -> Result<(), String> {
    if f.files.contains_key(name) {
        Ok(())
    } else {
        Err(format!("\"{name}\" is not a file of files:"))
    }
}

/// A `type` step names a declared client, one of [`ACTIONS`], and what that action needs.
fn check_type(f: &ClientScenarioFile, t: &TypeStep) -> Result<(), String> {
    declared_client(f, &t.client)?;
    if !ACTIONS.contains(&t.action.as_str()) {
        return Err(format!(
            "action \"{}\" is not one of {}",
            t.action,
            ACTIONS.join(", ")
        ));
    }
    let needs = |field: &str, present: bool| -> Result<(), String> {
        if present {
            Ok(())
        } else {
            Err(format!("action {} needs {field}", t.action))
        }
    };
    match t.action.as_str() {
        "msg" => {
            needs("to", t.to.is_some())?;
            needs("text", t.text.is_some())?;
        }
        "send_relay" | "send_p2p" => {
            needs("to", t.to.is_some())?;
            needs("file", t.file.is_some())?;
        }
        _ => {}
    }
    if let Some(to) = &t.to {
        wire_of(f, to)?;
    }
    if let Some(name) = &t.file {
        declared_file(f, name)?;
    }
    Ok(())
}

/// An `expect_from_client` step expects exactly one frame kind, its names and matchers valid.
fn check_from_client(f: &ClientScenarioFile, e: &FromClientStep) -> Result<(), String> {
    declared_client(f, &e.client)?;
    check_rule(&e.rule)?;
    check_seconds("timeout", e.timeout)?;
    exactly_one(
        "expect_from_client",
        &[
            ("login", e.login.is_some()),
            ("msg", e.msg.is_some()),
            ("file", e.file.is_some()),
            ("list", e.list.is_some()),
            ("ack", e.ack.is_some()),
        ],
    )?;
    if let Some(m) = &e.msg {
        wire_of(f, &m.to)?;
        check_matcher(Some(&m.text))?;
    }
    if let Some(x) = &e.file {
        wire_of(f, &x.to)?;
        declared_file(f, &x.file)?;
    }
    check_matcher(e.ack.as_ref())
}

/// A `to_client` step writes frames that each say one thing, within the size limits.
fn check_to_client(f: &ClientScenarioFile, t: &ToClientStep) -> Result<(), String> {
    declared_client(f, &t.client)?;
    if t.frames.is_empty() {
        return Err("to_client: frames is empty".into());
    }
    if t.split.is_some() && t.every_byte {
        return Err("to_client: split and every_byte together".into());
    }
    if t.split.as_ref().is_some_and(|s| s.contains(&0)) {
        return Err("to_client: a split size must be at least 1".into());
    }
    if t.repeat == Some(0) || t.repeat.is_some_and(|r| r > 1_000_000) {
        return Err("to_client: repeat must be in 1..=1000000".into());
    }
    check_seconds("pause", t.pause)?;
    check_rule(&t.rule)?;
    for fr in &t.frames {
        exactly_one(
            "a frame",
            &[
                ("msg", fr.msg.is_some()),
                ("file", fr.file.is_some()),
                ("list", fr.list.is_some()),
                ("ack", fr.ack.is_some()),
                ("error", fr.error.is_some()),
                ("raw", fr.raw.is_some()),
                ("data", fr.data.is_some()),
            ],
        )?;
        if let Some(m) = &fr.msg {
            wire_of(f, &m.from)?;
            bytes_of(&m.text)?;
        }
        if let Some(x) = &fr.file {
            wire_of(f, &x.from)?;
            bytes_of(&x.name)?;
            if x.body_seed.is_some() && x.size > 64 << 20 {
                return Err("file: body_seed with a size over 64 MiB".into());
            }
        }
        if let Some(l) = &fr.list {
            for n in l {
                wire_of(f, n)?;
            }
        }
        for b in [&fr.ack, &fr.error].into_iter().flatten() {
            bytes_of(b)?;
        }
        if let Some(r) = &fr.raw {
            parse_hex(r)?;
        }
        if fr.data.as_ref().is_some_and(|d| d.len > 64 << 20) {
            return Err("data: more than 64 MiB".into());
        }
    }
    Ok(())
}

/// An `expect_output` step expects exactly one kind of output.
fn check_output(f: &ClientScenarioFile, o: &OutputStep) -> Result<(), String> {
    declared_client(f, &o.client)?;
    check_rule(&o.rule)?;
    check_seconds("timeout", o.timeout)?;
    exactly_one(
        "expect_output",
        &[
            ("msg", o.msg.is_some()),
            ("list", o.list.is_some()),
            ("error", o.error.is_some()),
            ("line", o.line.is_some()),
        ],
    )?;
    if let Some(m) = &o.msg {
        wire_of(f, &m.from)?;
        bytes_of(&m.text)?;
    }
    for n in o.list.iter().flatten() {
        wire_of(f, n)?;
    }
    if let Some(re) = &o.line {
        regex::Regex::new(re).map_err(|e| format!("bad regex: {e}"))?;
    }
    Ok(())
}

/// A `p2p_offer` step serves at most its size, and at most 64 MiB.
fn check_p2p_offer(f: &ClientScenarioFile, p: &P2pOfferStep) -> Result<(), String> {
    declared_client(f, &p.client)?;
    wire_of(f, &p.from)?;
    bytes_of(&p.name)?;
    check_rule(&p.rule)?;
    check_seconds("timeout", p.timeout)?;
    if p.serve.is_some_and(|s| s > p.size) {
        return Err("p2p_offer: serve is larger than size".into());
    }
    if p.serve.unwrap_or(p.size) > 64 << 20 {
        return Err("p2p_offer: more than 64 MiB to serve".into());
    }
    Ok(())
}

/// Loads every client scenario (`mode: client`) under the given files or folders, sorted
/// by path; other YAML files met while walking a folder are server scenarios and are left
/// alone, but a file named on the command line must be a client scenario.
pub fn load_all(paths: &[PathBuf]) -> (Vec<ClientScenario>, Vec<LoadError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        crate::scenario::collect(p, &mut files, &mut errors);
    }
    files.sort();
    files.dedup();
    let mut out: Vec<ClientScenario> = Vec::new();
    for f in files {
        let named = paths.contains(&f);
        match std::fs::read_to_string(&f) {
            Ok(t) if !crate::scenario::is_client_source(&t) => {
                if named {
                    errors.push(LoadError {
                        path: f.clone(),
                        line: None,
                        message: "not a client scenario (no top-level `mode: client`)".into(),
                    });
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                errors.push(LoadError {
                    path: f.clone(),
                    line: None,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        }
        match load(&f) {
            Ok(s) => {
                if let Some(other) = out.iter().find(|o| o.file.id == s.file.id) {
                    errors.push(LoadError {
                        path: f.clone(),
                        line: None,
                        message: format!(
                            "id \"{}\" is also used by {}",
                            s.file.id,
                            other.path.display()
                        ),
                    });
                } else {
                    out.push(s);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}
