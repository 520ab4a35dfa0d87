//! Drivers: how to make a given client program act and how it shows what it receives. A
//! driver is a small YAML file (`drivers/`); the default fits `msrp-client`.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

/// The default driver, for the reference `msrp-client`.
pub const MSRP_CLIENT_DRIVER: &str = include_str!("../../drivers/msrp-client.yaml");

/// A driver that could not be loaded or does not fit the run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct DriverError {
    /// The driver file.
    pub path: PathBuf,
    /// 1-based line of the offending key, when known.
    pub line: Option<usize>,
    /// What is wrong, for the person who wrote the driver.
    pub message: String,
}

/// How the client takes the paths of files to send.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SendPath {
    /// `send_dir/NAME`, relative to the client's working folder.
    #[default]
    Relative,
    /// The bare file name (the client looks in its own fixed folder, `send_dir`).
    Name,
    /// An absolute path.
    Absolute,
}

/// A driver file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriverFile {
    /// What the driver is for, in reports.
    pub name: String,
    /// The profile the client speaks: `strict` (default) or `legacy`.
    #[serde(default = "strict")]
    pub profile: String,
    /// Where the client saves received files, relative to its working folder (it is
    /// `{download_dir}` in the command, as an absolute path).
    #[serde(default = "downloads")]
    pub download_dir: String,
    /// Create the download folder before the client starts (clients with a fixed folder
    /// often expect it to exist).
    #[serde(default)]
    pub create_download_dir: bool,
    /// Where the harness puts the files the client is asked to send, relative to its
    /// working folder.
    #[serde(default = "outbox")]
    pub send_dir: String,
    /// What `{path}` is in the send actions.
    #[serde(default)]
    pub send_path: SendPath,
    /// The line to type for each action (`{to}`, `{text}`, `{path}`, `{file}`).
    pub actions: Actions,
    /// Regexes a line of standard output matches when the client shows what it received
    /// (`{from}`, `{text}`, `{name}` stand for the regex-escaped values).
    pub show: Show,
}

fn strict() -> String {
    "strict".into()
}
fn downloads() -> String {
    "downloads".into()
}
fn outbox() -> String {
    "outbox".into()
}

/// The lines to type; an action a client does not have is left out (scenarios that need it
/// are skipped).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Actions {
    /// Line that sends a message; placeholders `{to}` and `{text}`.
    pub msg: Option<String>,
    /// Line that sends a file in relay mode; placeholders `{to}`, `{path}`, `{file}`.
    pub send_relay: Option<String>,
    /// Line that offers a file by P2P; placeholders `{to}`, `{path}`, `{file}`.
    pub send_p2p: Option<String>,
    /// Line that asks for the client list; no placeholders.
    pub list: Option<String>,
    /// Without it, the client is told to quit by closing its standard input.
    pub quit: Option<String>,
}

/// How received things are shown.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Show {
    /// A message: `{from}` and `{text}`.
    pub msg: String,
    /// One client of a LIST reply: `{name}`.
    pub list: String,
    /// An ERROR: `{text}`.
    pub error: String,
}

/// A loaded driver.
#[derive(Debug, Clone)]
pub struct Driver {
    /// The file it was loaded from (`drivers/msrp-client.yaml` for the built-in one).
    pub path: PathBuf,
    /// Its parsed and checked contents.
    pub file: DriverFile,
}

impl Driver {
    /// The built-in driver for `msrp-client`.
    pub fn builtin() -> Result<Driver, DriverError> {
        Driver::parse(Path::new("drivers/msrp-client.yaml"), MSRP_CLIENT_DRIVER)
    }

    /// Loads a driver file.
    pub fn load(path: &Path) -> Result<Driver, DriverError> {
        let text = std::fs::read_to_string(path).map_err(|e| DriverError {
            path: path.to_path_buf(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        Driver::parse(path, &text)
    }

    /// Parses and checks driver text: every template uses only its own placeholders, every
    /// pattern is a regex, the folders stay inside the working folder.
    pub fn parse(path: &Path, text: &str) -> Result<Driver, DriverError> {
        let err = |line: Option<usize>, message: String| DriverError {
            path: path.to_path_buf(),
            line,
            message,
        };
        let file: DriverFile = serde_yaml::from_str(text)
            .map_err(|e| err(e.location().map(|l| l.line()), e.to_string()))?;
        let line_of = |key: &str| {
            text.lines()
                .position(|l| l.trim_start().starts_with(&format!("{key}:")))
                .map(|i| i + 1)
        };
        if !["strict", "legacy"].contains(&file.profile.as_str()) {
            return Err(err(
                line_of("profile"),
                format!("profile \"{}\" is not strict or legacy", file.profile),
            ));
        }
        for (key, dir) in [
            ("download_dir", &file.download_dir),
            ("send_dir", &file.send_dir),
        ] {
            let p = Path::new(dir);
            if dir.is_empty()
                || p.is_absolute()
                || p.components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(err(
                    line_of(key),
                    format!("{key} \"{dir}\" must be a relative folder inside the working folder"),
                ));
            }
        }
        let a = &file.actions;
        let actions: [(&str, &Option<String>, &[&str]); 5] = [
            ("msg", &a.msg, &["to", "text"]),
            ("send_relay", &a.send_relay, &["to", "path", "file"]),
            ("send_p2p", &a.send_p2p, &["to", "path", "file"]),
            ("list", &a.list, &[]),
            ("quit", &a.quit, &[]),
        ];
        for (key, template, allowed) in actions {
            if let Some(t) = template {
                check_template(t, allowed)
                    .map_err(|m| err(line_of(key), format!("action {key}: {m}")))?;
                if t.contains('\n') {
                    return Err(err(line_of(key), format!("action {key}: one line only")));
                }
            }
        }
        let s = &file.show;
        for (key, pattern, allowed) in [
            ("msg", &s.msg, &["from", "text"][..]),
            ("list", &s.list, &["name"][..]),
            ("error", &s.error, &["text"][..]),
        ] {
            check_template(pattern, allowed)
                .map_err(|m| err(line_of(key), format!("show {key}: {m}")))?;
            let sample = fill(
                pattern,
                &allowed.iter().map(|k| (*k, "x")).collect::<Vec<_>>(),
            );
            regex::Regex::new(&sample)
                .map_err(|e| err(line_of(key), format!("show {key}: bad regex: {e}")))?;
        }
        Ok(Driver {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The template of an action, if the driver has it.
    pub fn action(&self, action: &str) -> Option<&str> {
        let a = &self.file.actions;
        match action {
            "msg" => a.msg.as_deref(),
            "send_relay" => a.send_relay.as_deref(),
            "send_p2p" => a.send_p2p.as_deref(),
            "list" => a.list.as_deref(),
            "quit" => a.quit.as_deref(),
            _ => None,
        }
    }

    /// A show pattern with its placeholders replaced by regex-escaped values.
    pub fn show_regex(&self, kind: &str, values: &[(&str, &str)]) -> Option<regex::Regex> {
        let pattern = match kind {
            "msg" => &self.file.show.msg,
            "list" => &self.file.show.list,
            "error" => &self.file.show.error,
            _ => return None,
        };
        let escaped: Vec<(&str, String)> =
            values.iter().map(|(k, v)| (*k, regex::escape(v))).collect();
        let pairs: Vec<(&str, &str)> = escaped.iter().map(|(k, v)| (*k, v.as_str())).collect();
        regex::Regex::new(&fill(pattern, &pairs)).ok()
    }
}

/// The `{word}` placeholders of a template (regex quantifiers such as `{2}` are not words).
fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let word = &after[..close];
                if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') {
                    out.push(word);
                }
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    out
}

/// Checks that a template names only `allowed` placeholders.
pub fn check_template(template: &str, allowed: &[&str]) -> Result<(), String> {
    for p in placeholders(template) {
        if !allowed.contains(&p) {
            return Err(format!(
                "unknown placeholder {{{p}}} (this template may use {})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed
                        .iter()
                        .map(|a| format!("{{{a}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
        }
    }
    Ok(())
}

/// Replaces `{key}` by its value, in one pass (a value containing `{x}` stays as it is).
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let hit = after.find('}').and_then(|close| {
            let word = &after[..close];
            values
                .iter()
                .find(|(k, _)| *k == word)
                .map(|(_, v)| (close, *v))
        });
        match hit {
            Some((close, v)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Quotes a value for `sh` (the command template is run by `sh -c 'exec …'`).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_in_one_pass_and_keep_regex_quantifiers() {
        assert_eq!(
            fill("/msg {to} {text}", &[("to", "bobb"), ("text", "{to}")]),
            "/msg bobb {to}"
        );
        assert_eq!(placeholders(r"^\d{2} {name}$"), vec!["name"]);
        assert!(check_template("/send {to} {pth}", &["to", "path"]).is_err());
    }

    #[test]
    fn the_builtin_driver_loads() {
        let d = Driver::builtin().expect("built-in driver");
        assert_eq!(d.file.profile, "strict");
        assert!(d.action("send_p2p").is_some());
    }

    #[test]
    fn a_driver_with_an_unknown_action_names_its_line() {
        let text = "name: x\nactions:\n  msg: \"{to} {text}\"\n  shout: \"!\"\nshow:\n  msg: a\n  list: b\n  error: c\n";
        let e = Driver::parse(Path::new("d.yaml"), text).expect_err("unknown action");
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.message.contains("shout"), "{e}");
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a b'c"), "'a b'\\''c'");
        assert_eq!(shell_quote("/tmp/x-1"), "/tmp/x-1");
    }
}
