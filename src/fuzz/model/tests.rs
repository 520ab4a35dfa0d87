//! The model oracle in memory: deliveries built with the codec, judged without sockets.

use std::time::Instant;

use super::*;
use crate::fuzz::case::case_rng;
use crate::fuzz::exec::{Execution, Received};

fn delivered(conv: &Conversation, profile: Profile, tamper: impl Fn(u8, &mut Frame)) -> Execution {
    let mut exec = Execution::default();
    let at = Instant::now();
    let mut n = 0;
    // Each delivery its own read, well apart (LEG-12).
    let mut push = |exec: &mut Execution, k: u8, bytes: Vec<u8>| {
        n += 1;
        let when = at + std::time::Duration::from_millis(100 * n);
        exec.received
            .entry(k)
            .or_default()
            .reads
            .push((when, bytes));
    };
    let encode = |f: &Frame| match profile {
        Profile::Strict => f.to_bytes().to_vec(),
        Profile::Legacy => legacy::encode_server(f)
            .map(|b| b.to_vec())
            .unwrap_or_default(),
    };
    for k in 0..conv.names.len() as u8 {
        push(
            &mut exec,
            k,
            encode(&Frame::ListReply {
                text: Bytes::from_static(b"Lista de clientes:\n"),
            }),
        );
    }
    for ex in &conv.exchanges {
        let from = Name::from_array(conv.names[usize::from(ex.from)]);
        let (mut f, body) = match ex.frame(&conv.names) {
            (Frame::Msg { text, .. }, b) => (Frame::Msg { name: from, text }, b),
            (Frame::File(mut h), b) => {
                // LEG-8: a legacy FILE carries the recipient's own name.
                h.name = match profile {
                    Profile::Strict => from,
                    Profile::Legacy => Name::from_array(conv.names[usize::from(ex.to)]),
                };
                (Frame::File(h), b)
            }
            other => other,
        };
        tamper(ex.to, &mut f);
        let mut bytes = encode(&f);
        bytes.extend_from_slice(&body);
        push(&mut exec, ex.to, bytes);
        if let Sent::File {
            filename,
            ack: true,
            ..
        } = &ex.what
        {
            push(
                &mut exec,
                ex.from,
                encode(&Frame::Ack {
                    filename: Bytes::from(filename.clone()),
                }),
            );
        }
    }
    exec
}

#[test]
fn a_faithful_server_passes_and_each_departure_is_named() {
    let mut checked = 0;
    for i in 0..200 {
        let conv = generate(&mut case_rng(11, i), i, Profile::Strict);
        assert_eq!(
            judge(
                &conv,
                &delivered(&conv, Profile::Strict, |_, _| {}),
                Profile::Strict
            ),
            None,
            "{conv:?}"
        );
        let Some(Sent::Msg { text }) = conv.exchanges.first().map(|e| e.what.clone()) else {
            continue;
        };
        if text.is_empty() {
            continue;
        }
        let corrupt = delivered(&conv, Profile::Strict, |_, f| {
            if let Frame::Msg { text, .. } = f {
                if !text.is_empty() {
                    let mut t = text.to_vec();
                    t[0] ^= 0x01;
                    *text = Bytes::from(t);
                }
            }
        });
        let (sig, what) =
            judge(&conv, &corrupt, Profile::Strict).expect("a corrupted text is seen");
        assert_eq!(
            (sig.oracle.as_str(), sig.rule.as_str()),
            ("corrupted", "MSG-3"),
            "{what}"
        );
        checked += 1;
    }
    assert!(checked > 20);
}

#[test]
fn a_message_delivered_to_another_client_is_a_wrong_recipient() {
    let conv = Conversation {
        names: vec![*b"Aaaa", *b"Baaa", *b"Caaa"],
        exchanges: vec![Exchange {
            from: 0,
            to: 1,
            what: Sent::Msg {
                text: b"hello".to_vec(),
            },
            cuts: vec![],
        }],
    };
    let mut exec = delivered(&conv, Profile::Strict, |_, _| {});
    let to_b = exec.received.remove(&1).unwrap_or_default();
    // Bob gets only his LIST reply; Carl gets the message as well.
    let mut bob = Received::default();
    bob.reads.push(to_b.reads[0].clone());
    let mut carl = exec.received.remove(&2).unwrap_or_default();
    carl.reads.push(to_b.reads[1].clone());
    exec.received.insert(1, bob);
    exec.received.insert(2, carl);
    let (sig, what) = judge(&conv, &exec, Profile::Strict).expect("misrouted");
    assert_eq!(
        (sig.oracle.as_str(), sig.rule.as_str()),
        ("wrong-recipient", "MSG-2")
    );
    assert!(
        what.contains("c2 (Caaa) got a message \"hello\" that c0 (Aaaa) sent to c1 (Baaa)"),
        "{what}"
    );
}

#[test]
fn legacy_conversations_pass_through_the_dialect() {
    for i in 0..100 {
        let conv = generate(&mut case_rng(5, i), i, Profile::Legacy);
        let exec = delivered(&conv, Profile::Legacy, |_, _| {});
        assert_eq!(judge(&conv, &exec, Profile::Legacy), None, "{conv:?}");
    }
}

#[test]
fn actions_are_a_pure_function_of_the_conversation() {
    for i in 0..50 {
        let conv = generate(&mut case_rng(2, i), i, Profile::Strict);
        assert_eq!(conv.actions(Profile::Strict), conv.actions(Profile::Strict));
        let awaits = conv
            .actions(Profile::Strict)
            .iter()
            .filter(|a| matches!(a, Action::Await { .. }))
            .count();
        assert!(awaits >= conv.names.len() + conv.exchanges.len());
    }
}

/// The harness keeps at most `exec::KEEP` bytes per connection: every delivery a model
/// conversation owes one client must fit, or a faithful server would be blamed for a body cut
/// short (seen once: a legacy client owed 64 585 bytes under a 64 KiB cap).
#[test]
fn what_a_client_is_owed_fits_in_what_the_harness_keeps() {
    for profile in [Profile::Strict, Profile::Legacy] {
        for i in 0..300 {
            let conv = generate(&mut case_rng(17, i), i, profile);
            let exec = delivered(&conv, profile, |_, _| {});
            for (k, r) in &exec.received {
                let n = r.bytes().len();
                assert!(
                    n <= crate::fuzz::exec::KEEP,
                    "case {i}: client {k} is owed {n} bytes"
                );
            }
        }
    }
}
