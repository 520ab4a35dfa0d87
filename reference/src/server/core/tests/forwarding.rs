//! What the server forwards, and the legacy dialect through the same core.

use super::*;

// ---- What the server forwards. ----

#[test]
fn messages_carry_the_senders_name() {
    let mut net = Net::new();
    let to = net.login("bob_");
    let from = net.login("anna");
    net.send(from, &msg("bob_", b"")); // MSG-3: an empty text too
    net.send(from, &msg("bob_", b"second"));
    let texts: Vec<_> = net
        .received(to)
        .into_iter()
        .map(|d| match d {
            Decoded::Frame(Frame::Msg { name, text }) => (name.to_string(), text),
            other => panic!("not a message: {other:?}"),
        })
        .collect();
    assert_eq!(
        texts,
        vec![
            ("anna".to_string(), Bytes::new()),
            ("anna".to_string(), Bytes::from_static(b"second"))
        ]
    );
}

#[test]
fn a_relay_forwards_header_and_body_and_routes_the_ack() {
    let mut net = Net::new();
    let to = net.login("bob_");
    let from = net.login("anna");
    net.send(from, &file("bob_", "f.bin", 6, 0, "9.9.9.9"));
    net.send(from, b"abc");
    net.send(from, b"def");
    let got = net.received(to);
    let Decoded::Frame(Frame::File(h)) = &got[0] else {
        panic!("first a FILE header: {got:?}")
    };
    assert_eq!((h.name, &h.ip[..], h.size), (name("anna"), &b""[..], 6)); // FILE-2
    let body: Vec<u8> = got[1..]
        .iter()
        .flat_map(|d| match d {
            Decoded::Body { data, .. } => data.to_vec(),
            other => panic!("body expected: {other:?}"),
        })
        .collect();
    assert_eq!(body, b"abcdef"); // FILE-3
    net.send(to, &ack(b"f.bin"));
    assert_eq!(
        net.received(from),
        vec![Decoded::Frame(Frame::Ack {
            filename: Bytes::from_static(b"f.bin")
        })]
    ); // ACK-2
}

#[test]
fn an_offer_carries_the_address_the_server_sees() {
    let mut net = Net::new();
    let to = net.login("bob_");
    let from = net.login("anna");
    net.send(from, &file("bob_", "f.bin", 6, 4000, "6.6.6.6"));
    let got = net.received(to);
    let [Decoded::Frame(Frame::File(h))] = &got[..] else {
        panic!("one FILE offer: {got:?}")
    };
    assert_eq!((&h.ip[..], h.port), (&b"10.0.0.7"[..], 4000)); // FILE-5
}

#[test]
fn list_names_every_client_in_login_order() {
    let mut net = Net::new();
    let c = net.login("zed_");
    net.login("anna");
    net.send(c, &list());
    let got = net.received(c);
    let [Decoded::Frame(Frame::ListReply { text })] = &got[..] else {
        panic!("one LIST reply: {got:?}")
    };
    assert_eq!(crate::list::names(text), vec![&b"zed_"[..], b"anna"]); // LIST-2
}

#[test]
fn a_client_error_is_ignored() {
    let mut net = Net::new();
    let c = net.login("anna");
    net.send(c, &Frame::error(Reason::BadName, "x").to_bytes());
    assert_eq!((net.received(c), net.ended(c)), (vec![], None)); // ERR-3
}

// ---- The legacy dialect through the same core. ----

#[test]
fn legacy_errors_are_bare_texts_that_name_their_rule() {
    let clients = Clients::default();
    let mut session = Session::new(1, Bytes::new(), Profile::Legacy, 10);
    session.handle(&clients, Event::Login(name("ann")));
    assert_eq!(session.name(), Some(name("ann")), "LEG-1: 1 to 4 bytes");
    session.handle(
        &clients,
        Event::Frame(Frame::Msg {
            name: name("bob"),
            text: Bytes::from_static(b"hi"),
        }),
    );
    let Some(Action::Complain { reason, frame }) = session.poll_action() else {
        panic!("an error")
    };
    assert_eq!(reason, Reason::UnknownRecipient);
    assert_eq!(
        &frame[..],
        b"unknown-recipient: bob is not connected (MSG-4)"
    ); // LEG-10
    assert!(
        session.poll_action().is_none(),
        "LEG-13: the connection stays"
    );
}
