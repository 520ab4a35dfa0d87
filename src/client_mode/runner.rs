//! Runs one client scenario: per client a sandbox and a process, one listener playing the
//! server, the steps in order, then the process stopped and the sandbox compared. Departures
//! become the same [`Failure`]s and [`Outcome`]s as in server mode.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use msrp_reference::decode::Decoded;
use msrp_reference::frame::{FileHeader, Frame, Name};
use msrp_reference::text::escape_bytes;
use sha2::Digest;
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::driver::{fill, shell_quote, Driver, SendPath};
use super::link::{Link, Missing};
use super::load::{bytes_of, ClientScenario};
use super::model::*;
use super::process::{ClientProcess, Exit};
use super::sandbox::{Sandbox, Tree};
use crate::record::ConnRecord;
use crate::rules::{blame, Level};
use crate::runner::matcher;
use crate::runner::RunResult;
use crate::scenario::content::{generate, sha256_of};
use crate::verdict::{Failure, Outcome, Verdict};
use msrp_reference::text::short_hex;

/// How client scenarios are run.
#[derive(Debug, Clone)]
pub struct ClientRunOptions {
    /// The command template (`{host}`, `{port}`, `{name}`, `{download_dir}`).
    pub command: String,
    /// How to make the client act and how it shows what it received.
    pub driver: Driver,
    /// Default wait of each step.
    pub timeout: Duration,
    /// How long a started client has to connect.
    pub connect_wait: Duration,
    /// Warnings count as failures.
    pub strict: bool,
    /// Keep every sandbox (paths in the report's notes).
    pub keep_sandboxes: bool,
}

/// The placeholders a command template may use.
pub const COMMAND_PLACEHOLDERS: [&str; 4] = ["host", "port", "name", "download_dir"];

/// Why a step did not succeed.
enum StepErr {
    /// The client departed from a rule.
    Mismatch {
        rule: Option<String>,
        expected: String,
        actual: String,
        hex: Option<String>,
    },
    /// The step could not be carried out.
    Broken(String),
    /// The driver cannot express the step: the scenario is skipped.
    Skip(String),
}

fn mismatch(expected: impl Into<String>, actual: impl Into<String>) -> StepErr {
    StepErr::Mismatch {
        rule: None,
        expected: expected.into(),
        actual: actual.into(),
        hex: None,
    }
}

fn mismatch_rule(rule: &str, expected: impl Into<String>, actual: impl Into<String>) -> StepErr {
    StepErr::Mismatch {
        rule: Some(rule.to_string()),
        expected: expected.into(),
        actual: actual.into(),
        hex: None,
    }
}

type StepResult = Result<(), StepErr>;

/// One client under test.
struct Under {
    label: String,
    wire: [u8; 4],
    sandbox: Sandbox,
    before: Tree,
    proc: Option<ClientProcess>,
    link: Option<Link>,
    /// Stdout lines already matched by an `expect_output`.
    cursor: usize,
    /// The client's last P2P offer (for `p2p_fetch`).
    offer: Option<FileHeader>,
    /// A crash already reported.
    crash_seen: bool,
    /// How the process ended, for a failing report.
    exit_shown: Option<String>,
}

struct Run<'a> {
    sc: &'a ClientScenario,
    opts: &'a ClientRunOptions,
    listener: TcpListener,
    start: Instant,
    clients: BTreeMap<String, Under>,
    done_records: Vec<ConnRecord>,
    budget: crate::record::RecordBudget,
    transcript: Vec<String>,
    warnings: Vec<Failure>,
    notes: Vec<String>,
    /// The departure that stopped the run, once graded as a failure.
    failure_taken: Option<Failure>,
}

/// Runs one client scenario.
pub async fn run_client_scenario(sc: &ClientScenario, opts: &ClientRunOptions) -> RunResult {
    let started = std::time::Instant::now();
    let started_wall = std::time::SystemTime::now();
    let mut outcome = Outcome {
        id: sc.file.id.clone(),
        title: sc.file.title.clone(),
        file: sc.path.display().to_string(),
        rules: sc.file.rules.clone(),
        tags: sc.file.tags.clone(),
        verdict: Verdict::Pass,
        seconds: 0.0,
        failure: None,
        reason: None,
        notes: Vec::new(),
        warnings: Vec::new(),
        transcript_diff: None,
    };
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            outcome.verdict = Verdict::Error;
            outcome.reason = Some(format!("cannot listen as the server: {e}"));
            return result(outcome, Vec::new(), String::new(), started_wall);
        }
    };
    let mut run = Run {
        sc,
        opts,
        listener,
        start: Instant::now(),
        clients: BTreeMap::new(),
        done_records: Vec::new(),
        budget: crate::record::record_budget(),
        transcript: vec![format!("scenario {}: {}", sc.file.id, sc.file.title)],
        warnings: Vec::new(),
        notes: Vec::new(),
        failure_taken: None,
    };
    for (label, wire) in &sc.file.clients {
        let mut w = [0u8; 4];
        w.copy_from_slice(&wire.as_bytes()[..4]);
        match Sandbox::create(label, &opts.driver, &sc.file.files, &sc.file.existing) {
            Ok(mut sandbox) => {
                sandbox.keep = opts.keep_sandboxes;
                if opts.keep_sandboxes {
                    run.notes
                        .push(format!("sandbox of {label}: {}", sandbox.root.display()));
                }
                let before = sandbox.tree();
                run.clients.insert(
                    label.clone(),
                    Under {
                        label: label.clone(),
                        wire: w,
                        sandbox,
                        before,
                        proc: None,
                        link: None,
                        cursor: 0,
                        offer: None,
                        crash_seen: false,
                        exit_shown: None,
                    },
                );
            }
            Err(e) => {
                outcome.verdict = Verdict::Error;
                outcome.reason = Some(format!("cannot create a sandbox: {e}"));
                return result(outcome, Vec::new(), String::new(), started_wall);
            }
        }
    }
    let limit = scenario_limit(sc, opts);
    let stop = match tokio::time::timeout(limit, run.steps()).await {
        Ok(r) => r,
        Err(_) => Err((
            sc.file.steps.len().saturating_sub(1),
            StepErr::Broken(format!(
                "the scenario did not finish within its overall limit of {limit:?}"
            )),
        )),
    };
    let end_failure = run.teardown().await;
    // Verdict: the first failure (a step's, else one the teardown found), warnings, errors.
    let mut failure = None;
    match stop {
        Ok(()) => {}
        Err((i, StepErr::Mismatch { .. })) => {
            // Already graded in `steps`; the failure is its last warning-or-failure entry.
            let _ = i;
        }
        Err((i, StepErr::Broken(reason))) => {
            let line = sc.step_lines.get(i).copied().unwrap_or(0);
            let reason = format!("{}:{line}: step {}: {reason}", sc.path.display(), i + 1);
            outcome.verdict = Verdict::Error;
            outcome.reason = Some(reason);
        }
        Err((_, StepErr::Skip(reason))) => {
            outcome.verdict = Verdict::Skip;
            outcome.reason = Some(reason);
        }
    }
    if let Some(f) = run.failure_taken.take() {
        failure = Some(f);
    }
    if failure.is_none() && outcome.verdict == Verdict::Pass {
        failure = end_failure;
    }
    if let Some(f) = failure {
        outcome.verdict = Verdict::Fail;
        outcome.failure = Some(f);
        outcome.reason = None;
    } else if outcome.verdict == Verdict::Pass {
        if let Some(first) = run.warnings.first() {
            outcome.verdict = Verdict::Warn;
            outcome.failure = Some(first.clone());
        }
    }
    outcome.warnings = std::mem::take(&mut run.warnings);
    outcome.notes.append(&mut run.notes);
    if !matches!(outcome.verdict, Verdict::Pass | Verdict::Skip) {
        outcome.notes.extend(run.tails());
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    let mut records = std::mem::take(&mut run.done_records);
    records.sort_by_key(|r| r.opened_at);
    let mut transcript = std::mem::take(&mut run.transcript);
    transcript.push(format!("verdict: {}", outcome.verdict.as_str()));
    if let Some(f) = &outcome.failure {
        transcript.push(format!(
            "  {} at step {}: expected {}; actual {}",
            f.blamed(),
            f.step,
            f.expected,
            f.actual
        ));
    }
    let mut text = transcript.join("\n");
    text.push('\n');
    result(outcome, records, text, started_wall)
}

fn result(
    outcome: Outcome,
    records: Vec<ConnRecord>,
    transcript: String,
    started: std::time::SystemTime,
) -> RunResult {
    RunResult {
        outcome,
        records,
        step_starts: Vec::new(),
        transcript,
        started,
    }
}

/// An upper bound of a scenario's run time, so that no client can hang the harness.
fn scenario_limit(sc: &ClientScenario, opts: &ClientRunOptions) -> Duration {
    let mut total = Duration::from_secs(5) + opts.connect_wait;
    let step = sc
        .file
        .timeout
        .map(Duration::from_secs_f64)
        .unwrap_or(opts.timeout)
        .max(opts.timeout);
    for s in &sc.file.steps {
        total += match s {
            ClientStep::Sleep(x) => Duration::from_secs_f64(*x),
            ClientStep::Start(_) => opts.connect_wait + step,
            _ => step * 3,
        };
    }
    total
}

impl Run<'_> {
    fn wait(&self, step: Option<f64>) -> Duration {
        step.or(self.sc.file.timeout)
            .map(Duration::from_secs_f64)
            .unwrap_or(self.opts.timeout)
    }

    fn under(&mut self, label: &str) -> Result<&mut Under, StepErr> {
        self.clients
            .get_mut(label)
            .ok_or_else(|| StepErr::Broken(format!("\"{label}\" is not a declared client")))
    }

    fn link(&mut self, label: &str) -> Result<&mut Link, StepErr> {
        self.under(label)?.link.as_mut().ok_or_else(|| {
            StepErr::Broken(format!(
                "client \"{label}\" is not started (add a start step)"
            ))
        })
    }

    fn proc(&mut self, label: &str) -> Result<&mut ClientProcess, StepErr> {
        self.under(label)?.proc.as_mut().ok_or_else(|| {
            StepErr::Broken(format!(
                "client \"{label}\" is not started (add a start step)"
            ))
        })
    }

    fn note(&mut self, line: String) {
        self.transcript.push(format!("  {line}"));
    }

    fn wire(&self, name: &str) -> Result<[u8; 4], StepErr> {
        self.sc.wire_of(name).map_err(StepErr::Broken)
    }

    /// Runs every step; warnings are kept and the run goes on (as in server mode).
    async fn steps(&mut self) -> Result<(), (usize, StepErr)> {
        for (i, step) in self.sc.file.steps.iter().enumerate() {
            self.transcript
                .push(format!("step {}: {}", i + 1, step_title(step)));
            let r = self.step(step).await;
            // A client that died by a signal is a crash whatever the step saw (CLI-4).
            let r = match self.crash(step) {
                Some(crash) => Err(crash),
                None => r,
            };
            match r {
                Ok(()) => {}
                Err(StepErr::Mismatch {
                    rule,
                    expected,
                    actual,
                    hex,
                }) => {
                    let f = self.departure(i, rule, expected, actual, hex);
                    self.transcript
                        .push(format!("  departure: {}: {}", f.blamed(), f.actual));
                    if f.level.is_warning() && !self.opts.strict {
                        self.warnings.push(f);
                    } else {
                        self.failure_taken = Some(f);
                        return Err((i, mismatch("", "")));
                    }
                }
                Err(e) => return Err((i, e)),
            }
        }
        Ok(())
    }

    fn crash(&mut self, step: &ClientStep) -> Option<StepErr> {
        let rule = match step_rule(step) {
            Some(r @ ("CLI-3" | "CLI-4")) => r.to_string(),
            _ => "CLI-4".to_string(),
        };
        for u in self.clients.values_mut() {
            let Some(p) = u.proc.as_mut() else { continue };
            if u.crash_seen || p.signalled() {
                continue;
            }
            if let Some(exit @ Exit::Signal(_)) = p.exited() {
                u.crash_seen = true;
                return Some(mismatch_rule(
                    &rule,
                    format!("client {} keeps running (no input crashes it)", u.label),
                    format!("client {} {exit}", u.label),
                ));
            }
        }
        None
    }

    fn departure(
        &self,
        index: usize,
        blamed: Option<String>,
        expected: String,
        actual: String,
        actual_hex: Option<String>,
    ) -> Failure {
        let step = &self.sc.file.steps[index];
        let id = blamed
            .or_else(|| step_rule(step).map(str::to_string))
            .unwrap_or_else(|| self.sc.file.rules[0].clone());
        let (level, statement) = blame(&id).unwrap_or((Level::Must, String::new()));
        Failure {
            step: index + 1,
            line: self.sc.step_lines.get(index).copied().unwrap_or(0),
            rule: id,
            level,
            statement,
            expected,
            actual,
            actual_hex,
        }
    }

    async fn step(&mut self, step: &ClientStep) -> StepResult {
        match step {
            ClientStep::Start(c) => self.start_client(c).await,
            ClientStep::Type(t) => self.type_action(t).await,
            ClientStep::ExpectFromClient(e) => self.expect_from_client(e).await,
            ClientStep::ToClient(t) => self.write_to_client(t).await,
            ClientStep::ExpectOutput(o) => self.expect_output(o).await,
            ClientStep::ExpectFile(e) => self.expect_file(e).await,
            ClientStep::ExpectNoFile(n) => self.expect_no_file(n).await,
            ClientStep::ExpectNoFileOutside(r) => {
                let u = self.under(&r.client)?;
                let outside = u.sandbox.written_outside(&u.before);
                match outside.first() {
                    None => Ok(()),
                    Some(p) => Err(mismatch_rule(
                        r.rule.as_deref().unwrap_or("CLI-1"),
                        "nothing written outside the download folder",
                        format!("the client wrote {}", p.display()),
                    )),
                }
            }
            ClientStep::ExpectSilence(s) => self.expect_silence(s).await,
            ClientStep::P2pOffer(p) => self.p2p_offer(p).await,
            ClientStep::P2pFetch(p) => self.p2p_fetch(p).await,
            ClientStep::ExpectAlive(a) => {
                tokio::time::sleep(Duration::from_secs_f64(a.window.unwrap_or(0.2))).await;
                let p = self.proc(&a.client)?;
                match p.exited() {
                    None => Ok(()),
                    Some(e) => Err(mismatch_rule(
                        a.rule.as_deref().unwrap_or("CLI-4"),
                        "the client still running",
                        format!("the client {e}"),
                    )),
                }
            }
            ClientStep::ExpectExit(e) => {
                let wait = self.wait(e.timeout);
                let p = self.proc(&e.client)?;
                match p.wait(wait).await {
                    None => Err(mismatch_rule(
                        e.rule.as_deref().unwrap_or("CLI-4"),
                        "the client exits",
                        format!("still running after {wait:?}"),
                    )),
                    Some(Exit::Code(c)) if e.code.is_none_or(|want| want == c) => Ok(()),
                    Some(x) => Err(mismatch(
                        match e.code {
                            Some(c) => format!("exit status {c}"),
                            None => "an exit with a status".into(),
                        },
                        format!("the client {x}"),
                    )),
                }
            }
            ClientStep::Close(c) => {
                let how = if c.half {
                    "half-closes (FIN, still reading)"
                } else if c.abrupt {
                    "resets (RST)"
                } else {
                    "closes (FIN)"
                };
                self.note(format!("{} x harness {how}", c.client));
                self.link(&c.client)?.close(c.half, c.abrupt).await;
                Ok(())
            }
            ClientStep::EndInput(c) => {
                self.note(format!("{c} x standard input closed"));
                self.proc(c)?.end_input();
                Ok(())
            }
            ClientStep::Sleep(s) => {
                tokio::time::sleep(Duration::from_secs_f64(*s)).await;
                Ok(())
            }
        }
    }

    async fn start_client(&mut self, label: &str) -> StepResult {
        let addr = self
            .listener
            .local_addr()
            .map_err(|e| StepErr::Broken(format!("listener: {e}")))?;
        let connect_wait = self.opts.connect_wait;
        let template = self.opts.command.clone();
        let start = self.start;
        let budget = self.budget.clone();
        let u = self.under(label)?;
        if u.proc.is_some() {
            return Err(StepErr::Broken(format!(
                "client \"{label}\" is already started"
            )));
        }
        let name = String::from_utf8_lossy(&u.wire).into_owned();
        let command = fill(
            &template,
            &[
                ("host", &shell_quote(&addr.ip().to_string())),
                ("port", &addr.port().to_string()),
                ("name", &shell_quote(&name)),
                (
                    "download_dir",
                    &shell_quote(&u.sandbox.downloads.display().to_string()),
                ),
            ],
        );
        let proc = ClientProcess::start(&command, &u.sandbox.work)
            .map_err(|e| StepErr::Broken(e.to_string()))?;
        u.proc = Some(proc);
        let deadline = Instant::now() + connect_wait;
        // Accept while watching the process: one that dies first is reported at once.
        loop {
            let slice = Instant::now() + Duration::from_millis(50);
            match tokio::time::timeout_at(slice.min(deadline), self.listener.accept()).await {
                Ok(Ok((stream, _))) => {
                    let record = ConnRecord::new(label, start, false, budget.clone());
                    let link = Link::new(stream, record);
                    self.under(label)?.link = Some(link);
                    self.note(format!("{label} connected"));
                    return Ok(());
                }
                Ok(Err(e)) => return Err(StepErr::Broken(format!("accept failed: {e}"))),
                Err(_) => {}
            }
            let u = self.under(label)?;
            let Some(p) = u.proc.as_mut() else {
                return Err(StepErr::Broken("the process is gone".into()));
            };
            if let Some(exit) = p.exited() {
                let (_, err) = p.tails(5);
                return Err(StepErr::Broken(format!(
                    "the client `{}` {exit} before connecting to {addr}{}",
                    p.command,
                    if err.is_empty() {
                        String::new()
                    } else {
                        format!("; its stderr: {err}")
                    }
                )));
            }
            if Instant::now() >= deadline {
                return Err(StepErr::Broken(format!(
                    "the client `{}` never connected to {addr} within {connect_wait:?}",
                    p.command
                )));
            }
        }
    }

    async fn type_action(&mut self, t: &TypeStep) -> StepResult {
        let Some(template) = self.opts.driver.action(&t.action) else {
            return Err(StepErr::Skip(format!(
                "the driver {} has no {} action",
                self.opts.driver.file.name, t.action
            )));
        };
        let template = template.to_string();
        let to = match &t.to {
            Some(to) => String::from_utf8_lossy(&self.wire(to)?).into_owned(),
            None => String::new(),
        };
        let file = t.file.clone().unwrap_or_default();
        let opts = self.opts;
        let u = self.under(&t.client)?;
        let path = match opts.driver.file.send_path {
            SendPath::Relative => format!("{}/{file}", opts.driver.file.send_dir),
            SendPath::Name => file.clone(),
            SendPath::Absolute => u.sandbox.outbox.join(&file).display().to_string(),
        };
        let line = fill(
            &template,
            &[
                ("to", &to),
                ("text", t.text.as_deref().unwrap_or("")),
                ("path", &path),
                ("file", &file),
            ],
        );
        let wait = self.wait(None);
        let typed = self.proc(&t.client)?.type_line(&line, wait).await;
        self.note(format!("{} types: {line}", t.client));
        typed.map_err(|e| mismatch_rule("CLI-4", "the client reads its commands", e.to_string()))
    }

    /// The next item from the client, skipping the login when a frame is expected.
    async fn next_item(&mut self, client: &str, wait: Duration) -> Result<Decoded, Missing> {
        let deadline = Instant::now() + wait;
        let Ok(link) = self.link(client) else {
            return Err(Missing::Closed("was never opened".into()));
        };
        link.next(deadline).await
    }

    async fn expect_from_client(&mut self, e: &FromClientStep) -> StepResult {
        let wait = self.wait(e.timeout);
        let c = e.client.as_str();
        if e.login == Some(true) {
            let want = self.under(c)?.wire;
            let item = self.next_item(c, wait).await;
            return match item {
                Ok(Decoded::Login(n)) if n.as_bytes() == want => {
                    self.note(format!("{c} < login \"{n}\""));
                    Ok(())
                }
                Ok(Decoded::Login(n)) => Err(StepErr::Mismatch {
                    rule: Some(e.rule.clone().unwrap_or_else(|| "NAME-1".into())),
                    expected: format!("login \"{}\"", escape_bytes(&want)),
                    actual: format!("login \"{n}\""),
                    hex: Some(short_hex(n.as_bytes())),
                }),
                Ok(other) => Err(mismatch_rule(
                    "NAME-1",
                    "the 4 login bytes",
                    format!("{other:?}"),
                )),
                Err(m) => Err(mismatch_rule(
                    e.rule.as_deref().unwrap_or("NAME-1"),
                    format!("login \"{}\"", escape_bytes(&want)),
                    m.describe(),
                )),
            };
        }
        // Frames: a login still unread is consumed first.
        let mut item = self.next_item(c, wait).await;
        if let Ok(Decoded::Login(n)) = &item {
            self.note(format!("{c} < login \"{n}\""));
            item = self.next_item(c, wait).await;
        }
        let frame = match item {
            Ok(Decoded::Frame(f)) => f,
            Ok(other) => return Err(mismatch("a frame", format!("{other:?}"))),
            Err(m) => {
                let hex = match &m {
                    Missing::Garbage(_, b) | Missing::Timeout(b) if !b.is_empty() => {
                        Some(short_hex(b))
                    }
                    _ => None,
                };
                return Err(StepErr::Mismatch {
                    rule: None,
                    expected: expected_text(e),
                    actual: m.describe(),
                    hex,
                });
            }
        };
        self.note(format!("{c} < {}", masked(&frame)));
        let seen = frame.to_string();
        let hex = Some(short_hex(&frame.to_bytes()));
        let bad = |rule: Option<&str>| StepErr::Mismatch {
            rule: rule.map(str::to_string),
            expected: expected_text(e),
            actual: seen.clone(),
            hex: hex.clone(),
        };
        if let Some(m) = &e.msg {
            let to = self.wire(&m.to)?;
            return match &frame {
                Frame::Msg { name, text }
                    if name.as_bytes() == to && matcher::matches(Some(&m.text), text) =>
                {
                    Ok(())
                }
                _ => Err(bad(None)),
            };
        }
        if e.list == Some(true) {
            return match frame {
                Frame::ListRequest => Ok(()),
                _ => Err(bad(None)),
            };
        }
        if let Some(a) = &e.ack {
            return match &frame {
                Frame::Ack { filename } if matcher::matches(Some(a), filename) => Ok(()),
                _ => Err(bad(None)),
            };
        }
        if let Some(f) = &e.file {
            let to = self.wire(&f.to)?;
            let content = self.sc.file.files.get(&f.file).copied().ok_or_else(|| {
                StepErr::Broken(format!("\"{}\" is not a file of files:", f.file))
            })?;
            let Frame::File(h) = &frame else {
                return Err(bad(None));
            };
            let relay = f.mode == Mode::Relay;
            if h.name.as_bytes() != to
                || h.filename.as_ref() != f.file.as_bytes()
                || h.size != content.size
                || h.is_relay() != relay
            {
                return Err(bad(None));
            }
            if !relay {
                if h.ip.is_empty() || h.port > 65_535 {
                    return Err(bad(Some("FILE-4")));
                }
                self.under(c)?.offer = Some(h.clone());
                return Ok(());
            }
            // Relay: exactly `size` body bytes, the file's content (FILE-2).
            let mut hasher = sha2::Sha256::new();
            let mut got = 0u64;
            let deadline = Instant::now() + wait + Duration::from_secs_f64(h.size as f64 / 20e6);
            while got < h.size {
                let link = self.link(c)?;
                match link.next(deadline).await {
                    Ok(Decoded::Body { data, .. }) => {
                        hasher.update(&data);
                        got += data.len() as u64;
                    }
                    Ok(other) => {
                        return Err(mismatch_rule(
                            "FILE-2",
                            format!("{} body bytes", h.size),
                            format!("{other:?} after {got} bytes"),
                        ))
                    }
                    Err(m) => {
                        return Err(mismatch_rule(
                            "FILE-2",
                            format!("{} body bytes", h.size),
                            format!("{got} bytes, then {}", m.describe()),
                        ))
                    }
                }
            }
            let digest: [u8; 32] = hasher.finalize().into();
            self.note(format!(
                "{c} < body {got} bytes sha256={}",
                hex::encode(digest)
            ));
            if digest != sha256_of(content.seed, content.size) {
                return Err(mismatch_rule(
                    "FILE-2",
                    format!("the {} bytes of {}", content.size, f.file),
                    format!(
                        "{got} bytes with another content (sha256 {})",
                        hex::encode(digest)
                    ),
                ));
            }
            return Ok(());
        }
        Err(StepErr::Broken(
            "expect_from_client: nothing to expect".into(),
        ))
    }

    fn frame_bytes(&self, fr: &FrameOut, client: &str) -> Result<(Vec<u8>, String), StepErr> {
        let sandbox = self
            .clients
            .get(client)
            .map(|u| u.sandbox.root.display().to_string())
            .unwrap_or_default();
        // `{sandbox}` in a name points at the client's sandbox root (absolute-path attacks).
        let bytes = |b: &ByteSpec| -> Result<Bytes, StepErr> {
            let raw = bytes_of(b).map_err(StepErr::Broken)?;
            let text = String::from_utf8_lossy(&raw);
            if text.contains("{sandbox}") {
                Ok(Bytes::from(text.replace("{sandbox}", &sandbox)))
            } else {
                Ok(Bytes::from(raw))
            }
        };
        let frame = if let Some(m) = &fr.msg {
            Frame::Msg {
                name: Name::from_array(self.wire(&m.from)?),
                text: bytes(&m.text)?,
            }
        } else if let Some(f) = &fr.file {
            let header = FileHeader {
                name: Name::from_array(self.wire(&f.from)?),
                filename: bytes(&f.name)?,
                size: f.size,
                port: f.port,
                ip: Bytes::from(f.ip.clone().unwrap_or_else(|| {
                    if f.port == 0 {
                        String::new()
                    } else {
                        "127.0.0.1".into()
                    }
                })),
            };
            let mut out = Frame::File(header.clone()).to_bytes().to_vec();
            let mut line = masked(&Frame::File(header));
            if let Some(seed) = f.body_seed {
                out.extend(generate(seed, 0, f.size as usize));
                line.push_str(&format!(" + body {} bytes (seed {seed})", f.size));
            }
            return Ok((out, line));
        } else if let Some(names) = &fr.list {
            // Names are written escaped: a hostile wire name cannot break the lines.
            let shown = names
                .iter()
                .map(|n| self.wire(n).map(|w| escape_bytes(&w)))
                .collect::<Result<Vec<_>, _>>()?;
            Frame::ListReply {
                text: Bytes::from(msrp_reference::list::build(
                    shown.iter().map(|s| s.as_bytes()),
                )),
            }
        } else if let Some(a) = &fr.ack {
            Frame::Ack {
                filename: bytes(a)?,
            }
        } else if let Some(e) = &fr.error {
            Frame::Error { text: bytes(e)? }
        } else if let Some(r) = &fr.raw {
            let b = crate::scenario::content::parse_hex(r).map_err(StepErr::Broken)?;
            let line = format!("raw {}", short_hex(&b));
            return Ok((b, line));
        } else if let Some(d) = &fr.data {
            let b = generate(d.seed, d.offset, d.len as usize);
            let line = format!(
                "data {} bytes (seed {}, offset {})",
                d.len, d.seed, d.offset
            );
            return Ok((b, line));
        } else {
            return Err(StepErr::Broken("a frame with nothing in it".into()));
        };
        Ok((frame.to_bytes().to_vec(), masked(&frame)))
    }

    async fn write_to_client(&mut self, t: &ToClientStep) -> StepResult {
        let mut one = Vec::new();
        let mut lines = Vec::new();
        for fr in &t.frames {
            let (b, line) = self.frame_bytes(fr, &t.client)?;
            one.extend(b);
            lines.push(line);
        }
        let times = t.repeat.unwrap_or(1);
        let mut all = Vec::with_capacity(one.len() * times);
        for _ in 0..times {
            all.extend_from_slice(&one);
        }
        let pieces: Vec<&[u8]> = if t.every_byte {
            all.chunks(1).collect()
        } else if let Some(split) = &t.split {
            let mut v = Vec::new();
            let mut at = 0;
            for &n in split {
                if at >= all.len() {
                    break;
                }
                let end = (at + n).min(all.len());
                v.push(&all[at..end]);
                at = end;
            }
            if at < all.len() {
                v.push(&all[at..]);
            }
            v
        } else {
            vec![&all[..]]
        };
        let how = if t.every_byte {
            " (one byte per write)".to_string()
        } else if t.split.is_some() {
            format!(" (in {} writes)", pieces.len())
        } else if t.frames.len() > 1 || times > 1 {
            " (in one write)".to_string()
        } else {
            String::new()
        };
        for l in &lines {
            if times > 1 {
                self.note(format!("{} > {l} ×{times}{how}", t.client));
            } else {
                self.note(format!("{} > {l}{how}", t.client));
            }
        }
        let pause =
            Duration::from_secs_f64(t.pause.unwrap_or(if t.every_byte { 0.001 } else { 0.0 }));
        let wait = self.wait(None);
        let deadline = Instant::now()
            + wait
            + pause * pieces.len() as u32
            + Duration::from_secs_f64(all.len() as f64 / 20e6);
        let link = self.link(&t.client)?;
        link.send(&pieces, pause, deadline)
            .await
            .map_err(|e| mismatch_rule("CLI-4", "the client reads what the server sends", e))
    }

    async fn expect_output(&mut self, o: &OutputStep) -> StepResult {
        let driver = &self.opts.driver;
        let mut patterns: Vec<(String, regex::Regex)> = Vec::new();
        let bad = |what: &str| {
            StepErr::Broken(format!(
                "the driver's show pattern for {what} does not compile with these values"
            ))
        };
        if let Some(m) = &o.msg {
            let from = String::from_utf8_lossy(&self.wire(&m.from)?).into_owned();
            let text = bytes_of(&m.text).map_err(StepErr::Broken)?;
            let text = String::from_utf8_lossy(&text).into_owned();
            let re = driver
                .show_regex("msg", &[("from", &from), ("text", &text)])
                .ok_or_else(|| bad("msg"))?;
            let shown = msrp_reference::text::clip(text.as_bytes());
            patterns.push((format!("message from {from}: \"{shown}\""), re));
        }
        if let Some(names) = &o.list {
            for n in names {
                let name = String::from_utf8_lossy(&self.wire(n)?).into_owned();
                let re = driver
                    .show_regex("list", &[("name", &name)])
                    .ok_or_else(|| bad("list"))?;
                patterns.push((format!("{name} in a client list"), re));
            }
        }
        if let Some(text) = &o.error {
            let re = driver
                .show_regex("error", &[("text", text)])
                .ok_or_else(|| bad("error"))?;
            patterns.push((format!("the error \"{text}\""), re));
        }
        if let Some(line) = &o.line {
            let re = regex::Regex::new(line).map_err(|e| StepErr::Broken(e.to_string()))?;
            patterns.push((format!("a line matching /{line}/"), re));
        }
        let wait = self.wait(o.timeout);
        let deadline = Instant::now() + wait;
        let client = o.client.clone();
        loop {
            let u = self.under(&client)?;
            let cursor = u.cursor;
            let Some(p) = u.proc.as_ref() else {
                return Err(StepErr::Broken(format!(
                    "client \"{client}\" is not started"
                )));
            };
            let lines = p.lines_from(cursor);
            let mut last = None;
            let mut missing = Vec::new();
            for (what, re) in &patterns {
                match lines.iter().find(|(_, l)| re.is_match(l)) {
                    Some((i, _)) => last = Some(last.map_or(*i, |l: usize| l.max(*i))),
                    None => missing.push(what.clone()),
                }
            }
            if missing.is_empty() {
                if let Some(l) = last {
                    u.cursor = l + 1;
                }
                let shown: Vec<&str> = patterns.iter().map(|(w, _)| w.as_str()).collect();
                self.note(format!("{client} shows {}", shown.join(", ")));
                return Ok(());
            }
            if Instant::now() >= deadline {
                let tail: Vec<String> = lines
                    .iter()
                    .rev()
                    .take(5)
                    .rev()
                    .map(|(_, l)| format!("\"{}\"", escape_bytes(l.as_bytes())))
                    .collect();
                return Err(StepErr::Mismatch {
                    rule: o.rule.clone().or_else(|| Some("CLI-5".into())),
                    expected: format!("standard output showing {}", missing.join(", ")),
                    actual: if tail.is_empty() {
                        format!("no new line within {wait:?}")
                    } else {
                        format!("last lines: {}", tail.join(" | "))
                    },
                    hex: None,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn expect_file(&mut self, e: &ExpectFileStep) -> StepResult {
        let wait = self.wait(e.timeout);
        let deadline = Instant::now() + wait;
        let want = sha256_of(e.seed, e.size);
        let rule = e.rule.clone();
        loop {
            let u = self.under(&e.client)?;
            let files = u.sandbox.new_downloads(&u.before);
            let root = u.sandbox.downloads.clone();
            let candidates: Vec<_> = files
                .iter()
                .filter(|(p, _)| {
                    matcher::matches(e.name.as_ref(), p.as_os_str().as_encoded_bytes())
                })
                .collect();
            for (p, stamp) in &candidates {
                if stamp.len != e.size {
                    continue;
                }
                let Ok(data) = std::fs::read(root.join(p)) else {
                    continue;
                };
                let digest: [u8; 32] = sha2::Sha256::digest(&data).into();
                if digest != want {
                    continue;
                }
                let name = p.display().to_string();
                self.note(format!(
                    "{} saved \"{}\" ({} bytes, sha256 ok)",
                    e.client,
                    escape_bytes(name.as_bytes()),
                    e.size
                ));
                if e.safe_name {
                    let bad = p.components().count() != 1
                        || name.starts_with('.')
                        || name.chars().any(|c| c.is_control());
                    if bad {
                        return Err(mismatch_rule(
                            "CLI-1",
                            "a safe name: one component, no control character, no leading dot",
                            format!("saved as \"{}\"", escape_bytes(name.as_bytes())),
                        ));
                    }
                }
                if e.not_device {
                    let stem = name.split('.').next().unwrap_or("").trim_end();
                    let devices = [
                        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6",
                        "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6",
                        "LPT7", "LPT8", "LPT9",
                    ];
                    if devices.iter().any(|d| d.eq_ignore_ascii_case(stem)) {
                        return Err(mismatch_rule(
                            "CLI-6",
                            "a name that is not a reserved device name",
                            format!("saved as \"{name}\""),
                        ));
                    }
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = files
                    .iter()
                    .map(|(p, s)| {
                        format!(
                            "\"{}\" ({} bytes)",
                            escape_bytes(p.as_os_str().as_encoded_bytes()),
                            s.len
                        )
                    })
                    .collect();
                let u = self.under(&e.client)?;
                let outside = u.sandbox.written_outside(&u.before);
                return Err(StepErr::Mismatch {
                    rule,
                    expected: format!(
                        "a new file {} of {} bytes (sha256 {}) in the download folder",
                        matcher::describe(e.name.as_ref()),
                        e.size,
                        &hex::encode(want)[..16]
                    ),
                    actual: match (seen.is_empty(), outside.first()) {
                        (true, Some(p)) => format!("none there; the client wrote {}", p.display()),
                        (true, None) => format!("no new file within {wait:?}"),
                        (false, _) => format!("new files: {}", seen.join(", ")),
                    },
                    hex: None,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn expect_no_file(&mut self, n: &NoFileStep) -> StepResult {
        tokio::time::sleep(Duration::from_secs_f64(n.window.unwrap_or(0.2))).await;
        let u = self.under(&n.client)?;
        let files = u.sandbox.new_downloads(&u.before);
        let hit = files
            .iter()
            .find(|(p, _)| matcher::matches(n.name.as_ref(), p.as_os_str().as_encoded_bytes()));
        match hit {
            None => Ok(()),
            Some((p, s)) => Err(mismatch(
                format!("no new file {}", matcher::describe(n.name.as_ref())),
                format!(
                    "\"{}\" ({} bytes) in the download folder",
                    escape_bytes(p.as_os_str().as_encoded_bytes()),
                    s.len
                ),
            )),
        }
    }

    async fn expect_silence(&mut self, s: &SilenceStep) -> StepResult {
        let window = Duration::from_secs_f64(s.window.unwrap_or(0.3));
        let c = s.client.clone();
        let deadline = Instant::now() + window;
        loop {
            let link = self.link(&c)?;
            match link.next(deadline).await {
                Ok(Decoded::Frame(f)) => {
                    self.note(format!("{c} < {}", masked(&f)));
                    let hex = Some(short_hex(&f.to_bytes()));
                    // A SHOULD departure (an ACK before the last byte, ACK-4) is graded
                    // here; the frame stays for the step that checks its layout.
                    let rule = s.rule.as_deref().unwrap_or(&self.sc.file.rules[0]);
                    if blame(rule).is_some_and(|(l, _)| l.is_warning()) && !self.opts.strict {
                        self.link(&c)?.unread(Decoded::Frame(f.clone()));
                    }
                    return Err(StepErr::Mismatch {
                        rule: None,
                        expected: format!("nothing from the client for {window:?}"),
                        actual: f.to_string(),
                        hex,
                    });
                }
                Ok(Decoded::Login(n)) => self.note(format!("{c} < login \"{n}\"")),
                Ok(other) => {
                    return Err(mismatch(
                        format!("nothing from the client for {window:?}"),
                        format!("{other:?}"),
                    ))
                }
                Err(Missing::Timeout(p)) if p.is_empty() => return Ok(()),
                // A close is not a frame: nothing was sent.
                Err(Missing::Closed(_)) => return Ok(()),
                Err(m) => {
                    return Err(mismatch(
                        format!("nothing from the client for {window:?}"),
                        m.describe(),
                    ))
                }
            }
        }
    }

    async fn p2p_offer(&mut self, p: &P2pOfferStep) -> StepResult {
        let wait = self.wait(p.timeout);
        let peer = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| StepErr::Broken(format!("cannot listen as the P2P peer: {e}")))?;
        let port = peer
            .local_addr()
            .map_err(|e| StepErr::Broken(e.to_string()))?
            .port();
        let peer = if p.closed_port { None } else { Some(peer) };
        let name = self.frame_bytes(
            &FrameOut {
                msg: None,
                file: Some(FileToClient {
                    from: p.from.clone(),
                    name: p.name.clone(),
                    size: p.size,
                    port: u32::from(port),
                    ip: Some("127.0.0.1".into()),
                    body_seed: None,
                }),
                list: None,
                ack: None,
                error: None,
                raw: None,
                data: None,
            },
            &p.client,
        )?;
        self.note(format!(
            "{} > {}{}",
            p.client,
            name.1,
            if p.closed_port {
                " (nobody listens)"
            } else {
                ""
            }
        ));
        let deadline = Instant::now() + wait;
        self.link(&p.client)?
            .send(&[&name.0], Duration::ZERO, deadline)
            .await
            .map_err(|e| mismatch_rule("CLI-4", "the client reads what the server sends", e))?;
        let Some(peer) = peer else {
            return Ok(());
        };
        let (mut stream, _) = match tokio::time::timeout(wait, peer.accept()).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(StepErr::Broken(format!("accept failed: {e}"))),
            Err(_) => {
                return Err(mismatch_rule(
                    p.rule.as_deref().unwrap_or("FILE-4"),
                    format!("the client connects to 127.0.0.1:{port} to fetch the file"),
                    format!("no connection within {wait:?}"),
                ))
            }
        };
        let serve = p.serve.unwrap_or(p.size);
        let body = generate(p.seed, 0, serve as usize);
        use tokio::io::AsyncWriteExt;
        let sent =
            tokio::time::timeout(wait + Duration::from_secs_f64(serve as f64 / 20e6), async {
                for chunk in body.chunks(2048) {
                    stream.write_all(chunk).await?;
                }
                stream.shutdown().await
            })
            .await;
        self.note(format!(
            "{} <> peer {} served {serve} of {} bytes, then closed",
            p.client, p.from, p.size
        ));
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(mismatch_rule(
                "FILE-4",
                format!("the client reads the {serve} bytes"),
                format!("write failed: {e}"),
            )),
            Err(_) => Err(mismatch_rule(
                "CLI-4",
                format!("the client reads the {serve} bytes"),
                "it stopped reading",
            )),
        }
    }

    async fn p2p_fetch(&mut self, p: &P2pFetchStep) -> StepResult {
        let wait = self.wait(p.timeout);
        let content =
            self.sc.file.files.get(&p.file).copied().ok_or_else(|| {
                StepErr::Broken(format!("\"{}\" is not a file of files:", p.file))
            })?;
        let Some(offer) = self.under(&p.client)?.offer.clone() else {
            return Err(StepErr::Broken(
                "no P2P offer from this client yet (expect_from_client file mode: p2p)".into(),
            ));
        };
        let rule = p.rule.clone().unwrap_or_else(|| "FILE-4".into());
        let ip: std::net::IpAddr = std::str::from_utf8(&offer.ip)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                mismatch_rule(
                    &rule,
                    "an IP address in the offer",
                    format!("ip \"{}\"", escape_bytes(&offer.ip)),
                )
            })?;
        let port = u16::try_from(offer.port)
            .map_err(|_| mismatch_rule(&rule, "a port ≤ 65535", format!("port {}", offer.port)))?;
        let mut stream =
            match tokio::time::timeout(wait, tokio::net::TcpStream::connect((ip, port))).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    return Err(mismatch_rule(
                        &rule,
                        "the client listens on the port it offered",
                        format!("connect failed: {e}"),
                    ))
                }
                Err(_) => {
                    return Err(mismatch_rule(
                        &rule,
                        "the client accepts the connection",
                        format!("no answer within {wait:?}"),
                    ))
                }
            };
        use tokio::io::AsyncReadExt;
        let mut hasher = sha2::Sha256::new();
        let mut got = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        let deadline = Instant::now() + wait + Duration::from_secs_f64(content.size as f64 / 20e6);
        let end = loop {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Ok(Ok(0)) => break "closed",
                Ok(Ok(n)) => {
                    hasher.update(&buf[..n]);
                    got += n as u64;
                    if got > content.size {
                        break "more";
                    }
                }
                Ok(Err(_)) => break "error",
                Err(_) => break "open",
            }
        };
        let digest: [u8; 32] = hasher.finalize().into();
        self.note(format!(
            "{} <> fetched {got} bytes by P2P, sha256={}",
            p.client,
            hex::encode(digest)
        ));
        let expected = format!(
            "exactly the {} bytes of {}, then a close",
            content.size, p.file
        );
        match end {
            "closed" if got == content.size && digest == sha256_of(content.seed, content.size) => {
                Ok(())
            }
            "closed" if got == content.size => Err(mismatch_rule(
                &rule,
                expected,
                "the same number of bytes with another content",
            )),
            "open" => Err(mismatch_rule(
                &rule,
                expected,
                format!("{got} bytes, and the connection still open after {wait:?}"),
            )),
            "more" => Err(mismatch_rule(
                &rule,
                expected,
                format!("more than {} bytes", content.size),
            )),
            how => Err(mismatch_rule(
                &rule,
                expected,
                format!("{got} bytes, then the connection {how}"),
            )),
        }
    }

    /// Ends every client: quit (or end of input), close the connection, wait, signal the
    /// group if it must; then compares each sandbox. Returns a failure found on the way (a
    /// crash, or a file written outside the download folder).
    async fn teardown(&mut self) -> Option<Failure> {
        let mut failure = None;
        let steps = self.sc.file.steps.len();
        let quit = self.opts.driver.action("quit").map(str::to_string);
        let labels: Vec<String> = self.clients.keys().cloned().collect();
        for label in labels {
            let Some(u) = self.clients.get_mut(&label) else {
                continue;
            };
            if let Some(p) = u.proc.as_mut() {
                if p.exited().is_none() {
                    if let Some(q) = &quit {
                        let _ = p.type_line(q, Duration::from_millis(200)).await;
                    }
                    p.end_input();
                }
            }
            if let Some(link) = u.link.as_mut() {
                link.close(false, false).await;
            }
            if let Some(p) = u.proc.as_mut() {
                let already = p.exited();
                let (exit, signalled) = p.stop(Duration::from_secs(2)).await;
                let shown = exit.map_or("did not end even after SIGKILL".into(), |e| e.to_string());
                if signalled && already.is_none() {
                    self.notes.push(format!(
                        "client {label} did not exit within 2 s of its input ending and its connection closing; the harness signalled its process group ({shown})"
                    ));
                }
                u.exit_shown = Some(shown.clone());
                if let (Some(Exit::Signal(_)), false, false) = (exit, signalled, u.crash_seen) {
                    u.crash_seen = true;
                    failure.get_or_insert_with(|| {
                        let (level, statement) =
                            blame("CLI-4").unwrap_or((Level::Must, String::new()));
                        Failure {
                            step: steps,
                            line: self.sc.step_lines.last().copied().unwrap_or(0),
                            rule: "CLI-4".into(),
                            level,
                            statement,
                            expected: "the client ends without crashing".into(),
                            actual: format!("client {label} {shown} at the end of the scenario"),
                            actual_hex: None,
                        }
                    });
                }
            }
            let outside = u.sandbox.written_outside(&u.before);
            if let Some(p) = outside.first() {
                let (level, statement) = blame("CLI-1").unwrap_or((Level::Must, String::new()));
                failure.get_or_insert_with(|| Failure {
                    step: steps,
                    line: self.sc.step_lines.last().copied().unwrap_or(0),
                    rule: "CLI-1".into(),
                    level,
                    statement,
                    expected: "nothing written outside the download folder".into(),
                    actual: format!(
                        "client {label} wrote {}{}",
                        p.display(),
                        if outside.len() > 1 {
                            format!(" (and {} more paths)", outside.len() - 1)
                        } else {
                            String::new()
                        }
                    ),
                    actual_hex: None,
                });
            }
        }
        for u in self.clients.values_mut() {
            if let Some(link) = u.link.take() {
                self.done_records.push(link.record);
            }
        }
        failure
    }

    /// Output tails of every client, for a failing report.
    pub fn tails(&self) -> Vec<String> {
        let mut out = Vec::new();
        for u in self.clients.values() {
            if let Some(p) = &u.proc {
                let (o, e) = p.tails(10);
                out.push(format!(
                    "client {} (`{}`) {}; stdout tail:\n{}\nstderr tail:\n{}",
                    u.label,
                    p.command,
                    u.exit_shown.as_deref().unwrap_or("still running"),
                    if o.is_empty() { "(nothing)" } else { &o },
                    if e.is_empty() { "(nothing)" } else { &e }
                ));
            }
        }
        out
    }
}

/// A frame for the transcript, with ports the harness chose masked.
fn masked(f: &Frame) -> String {
    match f {
        Frame::File(h) if h.port != 0 => {
            let mut h = h.clone();
            h.port = 0;
            Frame::File(h).to_string().replace("port=0", "port=*")
        }
        f => f.to_string(),
    }
}

fn expected_text(e: &FromClientStep) -> String {
    if let Some(m) = &e.msg {
        format!(
            "MSG to \"{}\" text {}",
            m.to,
            matcher::describe(Some(&m.text))
        )
    } else if let Some(f) = &e.file {
        format!(
            "FILE to \"{}\" filename \"{}\" ({:?} mode) with its exact size",
            f.to, f.file, f.mode
        )
    } else if e.list.is_some() {
        "LIST (00 03)".into()
    } else if let Some(a) = &e.ack {
        format!("ACK filename {}", matcher::describe(Some(a)))
    } else {
        "the login".into()
    }
}

fn step_rule(step: &ClientStep) -> Option<&str> {
    match step {
        ClientStep::ExpectFromClient(e) => e.rule.as_deref(),
        ClientStep::ExpectOutput(o) => o.rule.as_deref(),
        ClientStep::ExpectFile(e) => e.rule.as_deref(),
        ClientStep::ExpectNoFile(n) => n.rule.as_deref(),
        ClientStep::ExpectNoFileOutside(r) => r.rule.as_deref(),
        ClientStep::ExpectSilence(s) => s.rule.as_deref(),
        ClientStep::P2pOffer(p) => p.rule.as_deref(),
        ClientStep::P2pFetch(p) => p.rule.as_deref(),
        ClientStep::ExpectAlive(a) => a.rule.as_deref(),
        ClientStep::ExpectExit(e) => e.rule.as_deref(),
        ClientStep::ToClient(t) => t.rule.as_deref(),
        _ => None,
    }
}

fn step_title(step: &ClientStep) -> String {
    match step {
        ClientStep::Start(c) => format!("start {c}"),
        ClientStep::Type(t) => format!("type {} on {}", t.action, t.client),
        ClientStep::ExpectFromClient(e) => format!("expect from {}", e.client),
        ClientStep::ToClient(t) => format!("to {}", t.client),
        ClientStep::ExpectOutput(o) => format!("expect output of {}", o.client),
        ClientStep::ExpectFile(e) => format!("expect a file of {}", e.client),
        ClientStep::ExpectNoFile(n) => format!("expect no file of {}", n.client),
        ClientStep::ExpectNoFileOutside(r) => {
            format!("expect nothing written outside by {}", r.client)
        }
        ClientStep::ExpectSilence(s) => format!("expect silence from {}", s.client),
        ClientStep::P2pOffer(p) => format!("P2P offer to {}", p.client),
        ClientStep::P2pFetch(p) => format!("P2P fetch from {}", p.client),
        ClientStep::ExpectAlive(a) => format!("expect {} alive", a.client),
        ClientStep::ExpectExit(e) => format!("expect {} to exit", e.client),
        ClientStep::Close(c) => format!("close {}", c.client),
        ClientStep::EndInput(c) => format!("end input of {c}"),
        ClientStep::Sleep(s) => format!("sleep {s}"),
    }
}
