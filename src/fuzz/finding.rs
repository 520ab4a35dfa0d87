//! A finding written as a scenario that plain `msrp-check` replays: the case's connections,
//! writes (consecutive writes of one connection as one `send` with `split`), pauses and
//! closes, then `expect_alive`, blamed on the finding's rule.

use std::fmt::Write as _;

use msrp_reference::Profile;

use super::grammar::client_bytes;
use msrp_reference::frame::Frame;
use sha2::{Digest, Sha256};

use super::case::{Action, Case};
use super::model::{Conversation, Sent};

/// What a finding is deduplicated by: the oracle that fired (with the signal or status of a
/// death: two signals are two bugs) and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signature {
    /// `killed-sigabrt`, `exited-1`, `refused`, `mute`, `rss`.
    pub oracle: String,
    /// The rule of SPEC.md it breaks (ERR-4, or ROB-3 for memory).
    pub rule: String,
}

impl Signature {
    /// `killed-sigabrt-err-4`: the stem of the finding's files and scenario id.
    pub fn stem(&self) -> String {
        format!("{}-{}", self.oracle, self.rule).to_ascii_lowercase()
    }
}

/// The logical client of connection `conn`, and its (unused) 4-byte wire name.
fn client(conn: u8) -> (String, String) {
    (format!("c{conn}"), format!("fz{conn:02}"))
}

/// The scenario text reproducing `case`, for `profile`, expecting what `sig` broke.
pub fn scenario_yaml(
    case: &Case,
    sig: &Signature,
    id: &str,
    profile: Profile,
    what: &str,
) -> String {
    let mut y = header(case, sig, id, profile, what);
    if let Some(conv) = &case.model {
        model_steps(&mut y, conv, sig, profile);
        return y;
    }
    raw_steps(&mut y, case);
    y
}

/// A YAML double-quoted scalar (JSON's string syntax is a subset of it).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Everything before `clients:`.
fn header(case: &Case, sig: &Signature, id: &str, profile: Profile, what: &str) -> String {
    let mut y = String::new();
    let title = format!(
        "msrp-check fuzz --seed {} --case {} ({}): {what}",
        case.seed, case.index, case.kind
    );
    let _ = writeln!(
        y,
        "# Written by msrp-check fuzz; replay: msrp-check --profile {} --server-cmd '…' THIS_FILE",
        profile.as_str()
    );
    let _ = writeln!(y, "id: {id}");
    let _ = writeln!(
        y,
        "title: {}",
        serde_json::to_string(&title).unwrap_or_else(|_| "\"fuzz finding\"".into())
    );
    let _ = writeln!(y, "rules: [{}]", sig.rule);
    let _ = writeln!(y, "tags: [fuzz, robustness]");
    let _ = writeln!(y, "profiles: [{}]", profile.as_str());
    let _ = writeln!(y, "settle: 0");
    y
}

/// A model conversation: each client logs in and sees its LIST reply; each exchange is sent
/// as the fuzzer wrote it and its delivery expected at once (the recipient's, and the ACK's
/// at the sender); at the end every client must hear nothing more. Each expectation cites
/// the finding's rule where the finding is about that kind of delivery.
fn model_steps(y: &mut String, conv: &Conversation, sig: &Signature, profile: Profile) {
    let cite = |natural: &'static [&'static str]| -> String {
        if natural.contains(&sig.rule.as_str()) {
            sig.rule.clone()
        } else {
            natural[0].to_string()
        }
    };
    let frame_hex = |f: &Frame| hex::encode(client_bytes(f, profile));
    let _ = writeln!(y, "clients:");
    for (k, n) in conv.names.iter().enumerate() {
        let _ = writeln!(y, "  c{k}: {}", quoted(&String::from_utf8_lossy(n)));
    }
    let _ = writeln!(y, "steps:");
    for k in 0..conv.names.len() {
        let _ = writeln!(y, "  - connect: c{k}");
        let _ = writeln!(
            y,
            "  - send: {{ from: c{k}, raw: \"{}\" }}",
            frame_hex(&Frame::ListRequest)
        );
        let _ = writeln!(
            y,
            "  - expect: {{ client: c{k}, list_text: {{ any: true }}, rule: {} }}",
            cite(&["LIST-2", "LIST-1"])
        );
    }
    for ex in &conv.exchanges {
        let (frame, body) = ex.frame(&conv.names);
        let mut sends: Vec<Vec<u8>> = Vec::new();
        match profile {
            Profile::Legacy => {
                sends.push(client_bytes(&frame, profile));
                if !body.is_empty() {
                    sends.push(body.to_vec());
                }
            }
            Profile::Strict => {
                let mut all = frame.to_bytes().to_vec();
                all.extend_from_slice(&body);
                sends.push(all);
            }
        }
        for bytes in sends {
            let mut sizes = Vec::new();
            let mut at = 0;
            for &cut in ex.cuts.iter().filter(|&&c| c < bytes.len()) {
                sizes.push((cut - at).to_string());
                at = cut;
            }
            let split = if sizes.is_empty() {
                String::new()
            } else {
                format!(", split: [{}]", sizes.join(", "))
            };
            let _ = writeln!(
                y,
                "  - send: {{ from: c{}, raw: \"{}\"{split} }}",
                ex.from,
                hex::encode(&bytes)
            );
        }
        match &ex.what {
            Sent::Msg { text } => {
                let _ = writeln!(
                    y,
                    "  - expect: {{ client: c{}, msg: {{ from: c{}, text: {} }}, rule: {} }}",
                    ex.to,
                    ex.from,
                    quoted(&String::from_utf8_lossy(text)),
                    cite(&["MSG-3", "MSG-2", "ORD-1", "MSG-1", "ENC-3"])
                );
            }
            Sent::File {
                filename,
                body,
                ack,
            } => {
                let _ = writeln!(
                    y,
                    "  - expect: {{ client: c{}, file: {{ from: c{}, name: {}, size: {}, sha256: \"{}\" }}, rule: {} }}",
                    ex.to,
                    ex.from,
                    quoted(&String::from_utf8_lossy(filename)),
                    body.len(),
                    hex::encode(Sha256::digest(body)),
                    cite(&["FILE-3", "ORD-1", "FILE-1", "ENC-3"])
                );
                if *ack {
                    let f = Frame::Ack {
                        filename: bytes::Bytes::from(filename.clone()),
                    };
                    let _ = writeln!(
                        y,
                        "  - send: {{ from: c{}, raw: \"{}\" }}",
                        ex.to,
                        frame_hex(&f)
                    );
                    let _ = writeln!(
                        y,
                        "  - expect: {{ client: c{}, ack: {}, rule: {} }}",
                        ex.from,
                        quoted(&String::from_utf8_lossy(filename)),
                        cite(&["ACK-2", "ACK-1"])
                    );
                }
            }
        }
    }
    for k in 0..conv.names.len() {
        let _ = writeln!(
            y,
            "  - expect_silence: {{ client: c{k}, for: 0.1, rule: {} }}",
            cite(&["MSG-2", "FILE-3", "MSG-3", "ACK-2", "ACK-1"])
        );
    }
}

/// The raw actions of a generated case, ending with `expect_alive`.
fn raw_steps(y: &mut String, case: &Case) {
    let _ = writeln!(y, "clients:");
    let mut conns: Vec<u8> = case
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Connect { conn } => Some(*conn),
            _ => None,
        })
        .collect();
    conns.sort_unstable();
    conns.dedup();
    for c in &conns {
        let (logical, wire) = client(*c);
        let _ = writeln!(y, "  {logical}: \"{wire}\"");
    }
    let _ = writeln!(y, "steps:");
    let mut open: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < case.actions.len() {
        match &case.actions[i] {
            Action::Connect { conn } => {
                open.push(*conn);
                let _ = writeln!(
                    y,
                    "  - connect: {{ client: {}, login: false, settle: 0 }}",
                    client(*conn).0
                );
            }
            Action::Write { conn, bytes } => {
                // Writes of one connection back to back: one send, cut where they were.
                let mut all = bytes.clone();
                let mut sizes = vec![bytes.len()];
                while let Some(Action::Write { conn: c, bytes: b }) = case.actions.get(i + 1) {
                    if c != conn {
                        break;
                    }
                    all.extend_from_slice(b);
                    sizes.push(b.len());
                    i += 1;
                }
                sizes.pop();
                let split = if sizes.is_empty() {
                    String::new()
                } else {
                    let s: Vec<String> = sizes.iter().map(usize::to_string).collect();
                    format!(", split: [{}]", s.join(", "))
                };
                let _ = writeln!(
                    y,
                    "  - send: {{ from: {}, raw: \"{}\"{split} }}",
                    client(*conn).0,
                    hex::encode(&all)
                );
            }
            Action::Pause { ms } => {
                // At least 50 ms: a replay on a busy machine must still see the target notice
                // what came before (a longer pause only makes the order surer). Pauses in a
                // row (what shrinking leaves between them is gone) are one sleep.
                let mut total = u32::from((*ms).max(50));
                while let Some(Action::Pause { ms }) = case.actions.get(i + 1) {
                    total += u32::from((*ms).max(50));
                    i += 1;
                }
                let _ = writeln!(y, "  - sleep: {:.3}", f64::from(total) / 1000.0);
            }
            // Awaits belong to model cases, written by `model_steps`.
            Action::Await { .. } => {}
            Action::Close { conn, abrupt } => {
                open.retain(|c| c != conn);
                let _ = writeln!(
                    y,
                    "  - disconnect: {{ client: {}, abrupt: {abrupt} }}",
                    client(*conn).0
                );
            }
        }
        i += 1;
    }
    for c in open {
        let _ = writeln!(y, "  - disconnect: {}", client(c).0);
    }
    let _ = writeln!(y, "  - expect_alive: {{}}");
}

/// Shrinks a new finding (commands only: each try needs a fresh process), writes its
/// scenario, and replays it with the ordinary runner on a fresh target, keeping the pcap and
/// transcript beside it.
pub(crate) async fn record(
    target: &mut super::Target,
    cfg: &super::FuzzConfig,
    original: Case,
    obs: super::Observation,
    at: f64,
) -> super::Finding {
    let (shrunk, shrink_runs) = if target.supervised() && cfg.shrink_budget > 0 {
        super::shrink::shrink(target, cfg, &original, &obs.sig).await
    } else {
        (original.clone(), 0)
    };
    let mut f = super::Finding {
        sig: obs.sig.clone(),
        what: obs.what.clone(),
        original,
        shrunk,
        shrink_runs,
        path: None,
        replay: None,
        at,
        count: 1,
    };
    if let Err(e) = std::fs::create_dir_all(&cfg.findings) {
        f.replay = Some(format!("cannot create {}: {e}", cfg.findings.display()));
        return f;
    }
    let stem = obs.sig.stem();
    let n = (1..)
        .find(|n| !cfg.findings.join(format!("{stem}-{n}.yaml")).exists())
        .unwrap_or(1);
    let id = format!("fuzz-{stem}-{n}");
    let path = cfg.findings.join(format!("{stem}-{n}.yaml"));
    let mut text = scenario_yaml(&f.shrunk, &f.sig, &id, cfg.profile, &obs.what);
    if !obs.stderr.is_empty() {
        text.push_str("# the target's stderr ended with:\n");
        for l in &obs.stderr {
            text.push_str(&format!("#   {}\n", l.replace(['\r', '\n'], " ")));
        }
    }
    if let Err(e) = std::fs::write(&path, text) {
        f.replay = Some(format!("cannot write {}: {e}", path.display()));
        return f;
    }
    f.path = Some(path.clone());
    if !target.supervised() {
        f.replay = Some("not replayed: the target is an address and stopped serving".into());
        return f;
    }
    // The replay: plain msrp-check's supervised run of this one scenario.
    target.stop().await;
    let sc = match crate::scenario::load(&path) {
        Ok(sc) => sc,
        Err(e) => {
            f.replay = Some(format!("the written scenario does not load: {e}"));
            return f;
        }
    };
    let spec = crate::target::TargetSpec {
        label: "fuzz".into(),
        source: cfg.target.clone(),
    };
    let opts = crate::runner::RunOptions {
        timeout: cfg.wait,
        profile: cfg.profile,
        ..Default::default()
    };
    let policy = crate::target::Policy {
        listen_wait: cfg.listen_wait,
        ..Default::default()
    };
    let report =
        crate::target::run_target(&spec, std::slice::from_ref(&sc), &opts, &policy, |_| {}).await;
    target.restarts += 1;
    if let Some(r) = report.results.first() {
        let _ = crate::pcap::write_pcap(&path.with_extension("pcap"), &r.records, r.started);
        let _ = std::fs::write(path.with_extension("txt"), &r.transcript);
        let o = &r.outcome;
        // Plain msrp-check bounds no memory: the scenario replays the traffic, and only the
        // fuzz command (with --max-rss) judges what it does to the target's size.
        let unbounded = if f.sig.oracle == "rss" {
            format!(
                " (plain msrp-check sets no memory bound; `msrp-check fuzz --seed {} --case {} --max-rss …` judges it again)",
                f.original.seed, f.original.index
            )
        } else {
            String::new()
        };
        f.replay = Some(match &o.failure {
            Some(fl) => format!(
                "{:?} at step {}: {} — {}",
                o.verdict, fl.step, fl.rule, fl.actual
            ),
            None => format!(
                "{:?}{}{unbounded}",
                o.verdict,
                o.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        });
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_generated_case_writes_a_scenario_that_loads() {
        for profile in [Profile::Strict, Profile::Legacy] {
            for i in 0..200 {
                let case = super::super::case::generate(3, i, profile);
                let sig = Signature {
                    oracle: "killed-sigabrt".into(),
                    rule: "ERR-4".into(),
                };
                let y = scenario_yaml(&case, &sig, "fuzz-x-1", profile, "it died: \"quoted\"");
                let sc = crate::scenario::parse(Path::new("f.yaml"), &y)
                    .unwrap_or_else(|e| panic!("{e}\n{y}"));
                assert!(sc.applies_to(profile));
                // A model case ends by requiring silence everywhere (no stray delivery);
                // any other by requiring the target to be serving.
                if case.model.is_some() {
                    assert!(matches!(
                        sc.file.steps.last(),
                        Some(crate::scenario::Step::ExpectSilence(_))
                    ));
                } else {
                    assert!(matches!(
                        sc.file.steps.last(),
                        Some(crate::scenario::Step::ExpectAlive(_))
                    ));
                }
            }
        }
    }
}
