//! Steps that observe the client from outside: what it prints (CLI-5), the files it saves
//! and does not save (CLI-1…3, CLI-6), and its silence on the wire.

use super::*;

use std::path::{Path, PathBuf};

use crate::client_mode::sandbox::Stamp;

impl Run<'_> {
    /// `expect_output`: waits until the client has printed every line the step names, past
    /// the lines earlier steps matched (CLI-5).
    pub(super) async fn expect_output(&mut self, o: &OutputStep) -> StepResult {
        let patterns = self.output_patterns(o)?;
        let wait = self.wait(o.timeout);
        let deadline = Instant::now() + wait;
        let client = o.client.clone();
        loop {
            let u = self.under(&client)?;
            let Some(p) = u.proc.as_ref() else {
                return Err(StepErr::Broken(format!(
                    "client \"{client}\" is not started"
                )));
            };
            let lines = p.lines_from(u.cursor);
            match find_shown(&patterns, &lines) {
                Ok(last) => {
                    if let Some(l) = last {
                        u.cursor = l + 1;
                    }
                    let shown: Vec<&str> = patterns.iter().map(|s| s.what.as_str()).collect();
                    self.note(format!("{client} shows {}", shown.join(", ")));
                    return Ok(());
                }
                Err(missing) if Instant::now() >= deadline => {
                    return Err(not_shown(o, &missing, &lines, wait))
                }
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The lines an `expect_output` step waits for: the driver's show patterns filled
    /// with the step's values, and the step's own regex.
    fn output_patterns(&self, o: &OutputStep) -> Result<Vec<Shown>, StepErr> {
        let driver = &self.opts.driver;
        let mut patterns = Vec::new();
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
            patterns.push(Shown::new(format!("message from {from}: \"{shown}\""), re));
        }
        if let Some(names) = &o.list {
            for n in names {
                let name = String::from_utf8_lossy(&self.wire(n)?).into_owned();
                let re = driver
                    .show_regex("list", &[("name", &name)])
                    .ok_or_else(|| bad("list"))?;
                patterns.push(Shown::new(format!("{name} in a client list"), re));
            }
        }
        if let Some(text) = &o.error {
            let re = driver
                .show_regex("error", &[("text", text)])
                .ok_or_else(|| bad("error"))?;
            patterns.push(Shown::new(format!("the error \"{text}\""), re));
        }
        if let Some(line) = &o.line {
            let re = regex::Regex::new(line).map_err(|e| StepErr::Broken(e.to_string()))?;
            patterns.push(Shown::new(format!("a line matching /{line}/"), re));
        }
        Ok(patterns)
    }

    /// `expect_file`: waits for a new download with the step's name, size and content, then
    /// checks its name (CLI-1, CLI-6).
    pub(super) async fn expect_file(&mut self, e: &ExpectFileStep) -> StepResult {
        let wait = self.wait(e.timeout);
        let deadline = Instant::now() + wait;
        let want = sha256_of(e.seed, e.size);
        loop {
            let u = self.under(&e.client)?;
            let files = u.sandbox.new_downloads(&u.before);
            if let Some(path) = find_saved(&files, &u.sandbox.downloads, e, &want) {
                let name = path.display().to_string();
                self.note(format!(
                    "{} saved \"{}\" ({} bytes, sha256 ok)",
                    e.client,
                    escape_bytes(name.as_bytes()),
                    e.size
                ));
                return check_saved_name(e, path, &name);
            }
            if Instant::now() >= deadline {
                let outside = u.sandbox.written_outside(&u.before);
                return Err(not_saved(e, &files, &outside, &want, wait));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(super) async fn expect_no_file(&mut self, n: &NoFileStep) -> StepResult {
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

    pub(super) async fn expect_silence(&mut self, s: &SilenceStep) -> StepResult {
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
}

/// A line `expect_output` waits for, and how the transcript and a failure name it.
struct Shown {
    what: String,
    re: regex::Regex,
}

impl Shown {
    fn new(what: String, re: regex::Regex) -> Self {
        Shown { what, re }
    }
}

/// The index of the last line that matched, once every pattern matched one of `lines`;
/// else the names of the patterns no line matched.
fn find_shown(patterns: &[Shown], lines: &[(usize, String)]) -> Result<Option<usize>, Vec<String>> {
    let mut last = None;
    let mut missing = Vec::new();
    for s in patterns {
        match lines.iter().find(|(_, l)| s.re.is_match(l)) {
            Some((i, _)) => last = Some(last.map_or(*i, |l: usize| l.max(*i))),
            None => missing.push(s.what.clone()),
        }
    }
    if missing.is_empty() {
        Ok(last)
    } else {
        Err(missing)
    }
}

/// The departure of an `expect_output` step: what is missing, and the last lines printed.
fn not_shown(
    o: &OutputStep,
    missing: &[String],
    lines: &[(usize, String)],
    wait: Duration,
) -> StepErr {
    let tail: Vec<String> = lines
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(|(_, l)| format!("\"{}\"", escape_bytes(l.as_bytes())))
        .collect();
    StepErr::Mismatch {
        rule: o.rule.clone().or_else(|| Some("CLI-5".into())),
        expected: format!("standard output showing {}", missing.join(", ")),
        actual: if tail.is_empty() {
            format!("no new line within {wait:?}")
        } else {
            format!("last lines: {}", tail.join(" | "))
        },
        hex: None,
    }
}

/// The first new download named as `e` asks with its size and content; a file that cannot
/// be read yet is passed over (the client may still be writing it).
fn find_saved<'f>(
    files: &'f [(PathBuf, Stamp)],
    downloads: &Path,
    e: &ExpectFileStep,
    want: &[u8; 32],
) -> Option<&'f PathBuf> {
    files
        .iter()
        .filter(|(p, _)| matcher::matches(e.name.as_ref(), p.as_os_str().as_encoded_bytes()))
        .filter(|(_, stamp)| stamp.len == e.size)
        .find(|(p, _)| {
            std::fs::read(downloads.join(p))
                .is_ok_and(|data| <[u8; 32]>::from(sha2::Sha256::digest(&data)) == *want)
        })
        .map(|(p, _)| p)
}

/// The departure of an `expect_file` step whose file never appeared: what the download
/// folder holds instead, or where outside it the client wrote.
fn not_saved(
    e: &ExpectFileStep,
    files: &[(PathBuf, Stamp)],
    outside: &[PathBuf],
    want: &[u8; 32],
    wait: Duration,
) -> StepErr {
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
    StepErr::Mismatch {
        rule: e.rule.clone(),
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
    }
}

/// Names a device on Windows: a file saved under one is not a file (CLI-6).
const RESERVED_DEVICE_NAMES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// The name checks an `expect_file` step asks for: a safe name (CLI-1), not a device
/// (CLI-6).
fn check_saved_name(e: &ExpectFileStep, path: &Path, name: &str) -> StepResult {
    if e.safe_name {
        let bad = path.components().count() != 1
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
        if RESERVED_DEVICE_NAMES
            .iter()
            .any(|d| d.eq_ignore_ascii_case(stem))
        {
            return Err(mismatch_rule(
                "CLI-6",
                "a name that is not a reserved device name",
                format!("saved as \"{name}\""),
            ));
        }
    }
    Ok(())
}
