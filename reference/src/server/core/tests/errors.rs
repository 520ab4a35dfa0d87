//! Every ERROR case of the strict profile, and the decisions SPEC.md §4 makes about errors,
//! in both readings.

use std::collections::HashSet;

use super::*;

// ---- The ERROR cases of the strict profile, one per rule. ----

/// NAME-3: a name that is not 4 printable bytes without spaces.
fn bad_name(net: &mut Net) -> Reason {
    let c = net.login("a b ");
    assert_refused(net, c, Reason::BadName, true);
    assert!(!net.clients.is_connected(&name("a b ")));
    Reason::BadName
}

/// NAME-4: a name already connected; the first holder keeps it.
fn name_taken(net: &mut Net) -> Reason {
    let first = net.login("anna");
    let second = net.login("anna");
    assert_refused(net, second, Reason::NameTaken, true);
    assert_eq!(net.ended(first), None);
    Reason::NameTaken
}

/// CONN-2: past the client limit.
fn server_full(net: &mut Net) -> Reason {
    net.max_clients = 1;
    net.login("anna");
    let c = net.login("bob_");
    assert_refused(net, c, Reason::ServerFull, true);
    Reason::ServerFull
}

/// MSG-4: a message to a name that is not connected; the connection stays usable.
fn unknown_recipient_msg(net: &mut Net) -> Reason {
    let c = net.login("anna");
    net.send(c, &msg("nope", b"hi"));
    assert_refused(net, c, Reason::UnknownRecipient, false);
    net.send(c, &msg("anna", b"to me")); // MSG-5: to oneself is delivered
    assert_eq!(
        net.received(c),
        vec![Decoded::Frame(Frame::Msg {
            name: name("anna"),
            text: Bytes::from_static(b"to me"),
        })]
    );
    Reason::UnknownRecipient
}

/// FILE-7: a relay to a name that is not connected; its body is read and dropped, not
/// parsed as frames, and the next frame is served.
fn unknown_recipient_file(net: &mut Net) -> Reason {
    let c = net.login("anna");
    let body = list(); // bytes that would be a LIST request if parsed
    net.send(c, &file("nope", "f.txt", body.len() as u64, 0, ""));
    net.send(c, &body);
    assert_refused(net, c, Reason::UnknownRecipient, false);
    net.send(c, &list());
    assert_eq!(
        net.received(c).len(),
        1,
        "one LIST reply, for the real request"
    );
    Reason::UnknownRecipient
}

/// ERR-2: an opcode the profile does not define.
fn bad_opcode(net: &mut Net) -> Reason {
    let c = net.login("anna");
    net.send(c, &[0x00, 0x09]);
    assert_refused(net, c, Reason::BadOpcode, true);
    Reason::BadOpcode
}

/// FILE-6: a filename with a path separator.
fn malformed(net: &mut Net) -> Reason {
    net.login("bob_");
    let c = net.login("anna");
    net.send(c, &file("bob_", "../etc", 1, 0, ""));
    assert_refused(net, c, Reason::Malformed, true);
    Reason::Malformed
}

/// LIM-1: a message text over the limit.
fn too_large(net: &mut Net) -> Reason {
    let c = net.login("anna");
    let text = vec![b'x'; Limits::default().max_text + 1];
    net.send(c, &msg("anna", &text));
    assert_refused(net, c, Reason::TooLarge, true);
    Reason::TooLarge
}

/// ACK-3: an ACK that matches no transfer; the connection stays open.
fn unexpected_ack(net: &mut Net) -> Reason {
    let c = net.login("anna");
    net.send(c, &ack(b"never.txt"));
    assert_refused(net, c, Reason::UnexpectedAck, false);
    Reason::UnexpectedAck
}

/// FILE-8: the recipient leaves during a relay: the sender is told once, the rest of the
/// body is dropped, and its next frame is served.
fn transfer_aborted(net: &mut Net) -> Reason {
    let to = net.login("bob_");
    let from = net.login("anna");
    net.send(from, &file("bob_", "f.bin", 10, 0, ""));
    net.send(from, b"0123");
    net.leave(to);
    net.send(from, b"45");
    net.send(from, b"6789");
    assert_refused(net, from, Reason::TransferAborted, false);
    net.send(from, &list());
    assert_eq!(net.received(from).len(), 1, "the LIST reply");
    Reason::TransferAborted
}

type Case = fn(&mut Net) -> Reason;

const ERROR_CASES: [(&str, Case); 10] = [
    ("NAME-3", bad_name),
    ("NAME-4", name_taken),
    ("CONN-2", server_full),
    ("MSG-4", unknown_recipient_msg),
    ("FILE-7", unknown_recipient_file),
    ("ERR-2", bad_opcode),
    ("FILE-6", malformed),
    ("LIM-1", too_large),
    ("ACK-3", unexpected_ack),
    ("FILE-8", transfer_aborted),
];

#[test]
fn every_error_case_of_the_strict_profile() {
    for (rule, case) in ERROR_CASES {
        eprintln!("{rule}");
        case(&mut Net::new());
    }
}

#[test]
fn every_reason_token_is_produced() {
    let produced: HashSet<Reason> = ERROR_CASES
        .iter()
        .map(|(_, case)| case(&mut Net::new()))
        .collect();
    let all: HashSet<Reason> = Reason::ALL.into_iter().collect();
    assert_eq!(produced, all, "an ERROR reason without an in-memory case");
}

// ---- Decisions the source leaves open (SPEC.md §4), in both readings. ----

#[test]
fn long_ack_filename_is_malformed_or_too_large() {
    for (readings, reason) in [
        (Readings::Spec, Reason::Malformed),
        (Readings::Other, Reason::TooLarge),
    ] {
        let mut net = Net::new();
        net.readings = readings;
        let c = net.login("anna");
        net.send(c, &ack(&[b'a'; 256]));
        assert_refused(&mut net, c, reason, true); // DEC-4
    }
}

#[test]
fn long_client_error_is_too_large_or_malformed() {
    for (readings, reason) in [
        (Readings::Spec, Reason::TooLarge),
        (Readings::Other, Reason::Malformed),
    ] {
        let mut net = Net::new();
        net.readings = readings;
        let c = net.login("anna");
        let text = Bytes::from(vec![b'e'; Limits::default().max_text + 1]);
        net.send(c, &Frame::Error { text }.to_bytes());
        assert_refused(&mut net, c, reason, true); // DEC-5
    }
}

#[test]
fn handshake_timeout_closes_silently_or_with_bad_name() {
    let mut net = Net::new();
    let c = net.connect();
    net.event(c, Event::HandshakeTimeout);
    assert_eq!((net.errors(c), net.ended(c)), (vec![], Some(End::Abrupt)));

    net.readings = Readings::Other;
    let c = net.connect();
    net.event(c, Event::HandshakeTimeout);
    assert_refused(&mut net, c, Reason::BadName, true); // DEC-3
}

#[test]
fn ack_whose_sender_left_is_consumed_or_unexpected() {
    for (readings, errors) in [
        (Readings::Spec, vec![]),
        (Readings::Other, vec![Reason::UnexpectedAck]),
    ] {
        let mut net = Net::new();
        net.readings = readings;
        let to = net.login("bob_");
        let from = net.login("anna");
        net.send(from, &file("bob_", "f", 0, 0, ""));
        net.leave(from);
        net.send(to, &ack(b"f"));
        assert_eq!(net.errors(to), errors, "DEC-7 in {readings:?}");
        net.send(to, &ack(b"f"));
        assert_eq!(net.errors(to), vec![Reason::UnexpectedAck], "consumed once");
    }
}

#[test]
fn other_reading_checks_a_taken_name_before_the_limit() {
    let mut net = Net::new();
    net.readings = Readings::Other;
    net.max_clients = 1;
    net.login("anna");
    let c = net.login("anna");
    assert_refused(&mut net, c, Reason::NameTaken, true); // DEC-2 read otherwise
    let c = net.login("a b ");
    assert_refused(&mut net, c, Reason::ServerFull, true);
}
