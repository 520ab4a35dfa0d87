//! The server settings a scenario can need (its `server:` mapping) and a foreign target can
//! be declared to have (`--server-setting KEY=VALUE`): one table of keys, the parser of the
//! declarations, and the comparison that skips a scenario a target is not set up for.

use std::collections::BTreeMap;

use crate::scenario::ServerSettings;

/// One setting a scenario may ask the server for.
#[derive(Debug, Clone, Copy)]
pub struct SettingKey {
    /// The key, as `server:` in a scenario and `--server-setting` spell it.
    pub key: &'static str,
    /// The value a foreign target is assumed to have when it is not declared (`None`: the
    /// setting must be declared before a scenario that needs it runs).
    pub assumed: Option<&'static str>,
    /// The value a scenario's `server:` mapping asks for, as text.
    pub asked: fn(&ServerSettings) -> Option<String>,
}

/// Every setting, in the order reports list them. `max-text` is assumed at the reference
/// default (65535 bytes, LIM-1); client limits and timeouts vary too much to guess.
pub const SERVER_SETTINGS: [SettingKey; 4] = [
    SettingKey {
        key: "max-clients",
        assumed: None,
        asked: |s| s.max_clients.map(|v| v.to_string()),
    },
    SettingKey {
        key: "max-text",
        assumed: Some("65535"),
        asked: |s| s.max_text.map(|v| v.to_string()),
    },
    SettingKey {
        key: "handshake-timeout",
        assumed: None,
        asked: |s| s.handshake_timeout.map(|v| v.to_string()),
    },
    SettingKey {
        key: "frame-timeout",
        assumed: None,
        asked: |s| s.frame_timeout.map(|v| v.to_string()),
    },
];

/// A `--server-setting` that cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// Not of the form `KEY=VALUE`.
    #[error("--server-setting \"{0}\": expected KEY=VALUE")]
    NotKeyValue(String),
    /// A key no scenario can ask for.
    #[error("--server-setting: unknown key \"{key}\" ({known})")]
    UnknownKey {
        /// The key given.
        key: String,
        /// The keys there are, comma-separated.
        known: String,
    },
}

/// The settings a foreign target was declared to have, by key.
pub fn parse_declared(items: &[String]) -> Result<BTreeMap<String, String>, SettingError> {
    let mut out = BTreeMap::new();
    for s in items {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| SettingError::NotKeyValue(s.clone()))?;
        if !SERVER_SETTINGS.iter().any(|d| d.key == k) {
            return Err(SettingError::UnknownKey {
                key: k.to_string(),
                known: SERVER_SETTINGS.map(|d| d.key).join(", "),
            });
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Why a scenario needing `needed` cannot run against a target declared with `declared`:
/// `needs max-clients=2 (the target has 20000), …`; `None` when it can.
pub fn unmet(needed: &ServerSettings, declared: &BTreeMap<String, String>) -> Option<String> {
    let missing: Vec<String> = SERVER_SETTINGS
        .iter()
        .filter_map(|d| {
            let (key, want) = (d.key, (d.asked)(needed)?);
            match declared.get(key).map(String::as_str).or(d.assumed) {
                Some(have) if same_value(have, &want) => None,
                Some(have) => Some(format!("{key}={want} (the target has {have})")),
                None => Some(format!("{key}={want} (declare it with --server-setting {key}={want} if the target is configured so)")),
            }
        })
        .collect();
    (!missing.is_empty()).then(|| format!("needs {}", missing.join(", ")))
}

/// Equal as numbers when both are (`0.30` is `0.3`), else as text.
fn same_value(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_parse_and_unmet_settings_say_why() {
        let d = parse_declared(&["max-clients=2".into(), "handshake-timeout=0.30".into()])
            .expect("valid");
        let needs = ServerSettings {
            max_clients: Some(2),
            max_text: Some(100),
            handshake_timeout: Some(0.3),
            frame_timeout: None,
        };
        assert_eq!(
            unmet(&needs, &d).as_deref(),
            Some("needs max-text=100 (the target has 65535)")
        );
        assert_eq!(unmet(&ServerSettings::default(), &d), None);
        let mut undeclared = d.clone();
        undeclared.remove("max-clients");
        assert!(unmet(&needs, &undeclared)
            .is_some_and(|m| m.contains("declare it with --server-setting max-clients=2")));
        assert_eq!(
            parse_declared(&["max-clients".into()]),
            Err(SettingError::NotKeyValue("max-clients".into()))
        );
        assert_eq!(
            parse_declared(&["colour=blue".into()])
                .map_err(|e| e.to_string())
                .unwrap_err(),
            "--server-setting: unknown key \"colour\" (max-clients, max-text, handshake-timeout, frame-timeout)"
        );
    }
}
