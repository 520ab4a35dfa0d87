//! The suite catches broken servers: for each deliberate fault of the reference server, the
//! suite must report a failure (or a warning, for SHOULD rules) naming the broken rule.

use std::path::PathBuf;

use msrp::check::{run_all, Target};
use msrp::runner::RunOptions;
use msrp::scenario::load_all;
use msrp::verdict::Verdict;
use msrp_reference::server::{Fault, ServerConfig};

const FAULTS: &[(Fault, &str)] = &[
    (Fault::WrongSenderName, "MSG-2"),
    (Fault::NoReassembly, "ENC-3"),
    (Fault::ListReversed, "LIST-2"),
    (Fault::SilentUnknownRecipient, "MSG-4"),
    (Fault::NamesNeverFreed, "NAME-5"),
    (Fault::FramesInsideBody, "ORD-2"),
    (Fault::AckLost, "ACK-2"),
    (Fault::BadOpcodeLeftOpen, "ERR-2"),
    (Fault::BodyNotDiscarded, "FILE-7"),
    (Fault::ClaimedIpForwarded, "FILE-5"),
    (Fault::AcceptsBadNames, "NAME-3"),
    (Fault::DuplicateNamesAccepted, "NAME-4"),
    (Fault::IgnoresTextLimit, "LIM-1"),
    (Fault::GreetsOnLogin, "NAME-2"),
    (Fault::RecipientKeptOpen, "FILE-9"),
    (Fault::SilentUnexpectedAck, "ACK-3"),
    (Fault::NoClientLimit, "CONN-2"),
    (Fault::NoHandshakeTimeout, "NAME-6"),
    (Fault::AbortNotReported, "FILE-8"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_names_the_rule_each_faulty_server_breaks() {
    let (scenarios, errors) =
        load_all(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")]);
    assert!(errors.is_empty(), "{errors:?}");
    let opts = RunOptions {
        timeout: std::time::Duration::from_millis(500),
        strict: false,
    };
    let mut missed = Vec::new();
    for &(fault, rule) in FAULTS {
        let target = Target::Embedded {
            base: ServerConfig {
                fault: Some(fault),
                ..ServerConfig::default()
            },
            jobs: 8,
        };
        let results = run_all(scenarios.clone(), &target, &opts, |_| {}).await;
        let blamed: Vec<(String, String, Verdict)> = results
            .iter()
            .filter_map(|r| {
                let f = r.outcome.failure.as_ref()?;
                Some((r.outcome.id.clone(), f.rule.clone(), r.outcome.verdict))
            })
            .collect();
        let named = blamed
            .iter()
            .any(|(_, r, v)| r == rule && matches!(v, Verdict::Fail | Verdict::Warn));
        eprintln!(
            "{fault:?}: {} scenarios flagged; rules blamed: {:?}",
            blamed.len(),
            blamed
                .iter()
                .map(|(_, r, _)| r.as_str())
                .collect::<std::collections::BTreeSet<_>>()
        );
        if !named {
            missed.push(format!(
                "{fault:?} should be blamed on {rule}; the suite blamed {blamed:?}"
            ));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}
