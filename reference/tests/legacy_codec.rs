//! The legacy profile's codec (`legacy-profile.md`): golden bytes for every frame both ways,
//! the precise error (with its rule) of each bad input, and encode → decode round trips for
//! every frame the dialect can express.

use bytes::{Bytes, BytesMut};
use msrp_reference::decode::{DecodeError, Decoded, Limits};
use msrp_reference::frame::{FileHeader, Frame, Name, Reason};
use msrp_reference::profile::legacy::{
    closes_connection, encode_client, encode_server, LegacyDecoder, READ_SIZE,
};
use proptest::prelude::*;

fn name(s: &str) -> Name {
    Name::parse_legacy(s).expect("valid test name")
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Decodes `units` (each one read) and returns the items, with bodies joined.
fn decode_units(mut d: LegacyDecoder, units: &[&[u8]]) -> Result<Vec<Decoded>, DecodeError> {
    let mut out = Vec::new();
    let mut buf = BytesMut::new();
    for unit in units {
        buf.extend_from_slice(unit);
        while let Some(item) = d.decode(&mut buf, true)? {
            match (out.last_mut(), item) {
                (Some(Decoded::Body { data: have, .. }), Decoded::Body { data, remaining }) => {
                    let mut joined = have.to_vec();
                    joined.extend_from_slice(&data);
                    *out.last_mut().expect("checked") = Decoded::Body {
                        data: Bytes::from(joined),
                        remaining,
                    };
                }
                (_, item) => out.push(item),
            }
        }
        assert!(buf.is_empty(), "a unit is consumed whole");
    }
    Ok(out)
}

fn client_err(units: &[&[u8]]) -> DecodeError {
    let mut all: Vec<&[u8]> = vec![b"ali"];
    all.extend_from_slice(units);
    decode_units(LegacyDecoder::client_to_server(Limits::default()), &all)
        .expect_err("bad input is an error")
}

#[test]
fn client_frames_golden() {
    let msg = Frame::Msg {
        name: name("bob"),
        text: b("hola que tal"),
    };
    assert_eq!(
        &encode_client(&msg).unwrap()[..],
        b"\x00\x01bob hola que tal"
    );
    let relay = Frame::File(FileHeader {
        name: name("bob"),
        filename: b("f.txt"),
        size: 5,
        port: 0,
        ip: Bytes::new(),
    });
    assert_eq!(&encode_client(&relay).unwrap()[..], b"\x00\x02bob f.txt 5");
    let p2p = Frame::File(FileHeader {
        name: name("bob"),
        filename: b("f.txt"),
        size: 5,
        port: 5000,
        ip: b("127.0.0.1"),
    });
    assert_eq!(
        &encode_client(&p2p).unwrap()[..],
        b"\x00\x02bob f.txt 5 5000 127.0.0.1"
    );
    assert_eq!(
        &encode_client(&Frame::ListRequest).unwrap()[..],
        b"\x00\x03"
    );
    let ack = Frame::Ack {
        filename: b("f.txt"),
    };
    assert_eq!(&encode_client(&ack).unwrap()[..], b"\x00\x04f.txt");

    let items = decode_units(
        LegacyDecoder::client_to_server(Limits::default()),
        &[
            b"ali",
            b"\x00\x01bob hola que tal\n",
            b"\x00\x02bob f.txt 5",
            b"hello",
            b"\x00\x02bob f.txt 5 5000 127.0.0.1\x00",
            b"\x00\x03",
            b"\x00\x04f.txt\x00",
        ],
    )
    .unwrap();
    assert_eq!(
        items,
        vec![
            Decoded::Login(name("ali")),
            Decoded::Frame(msg),
            Decoded::Frame(relay),
            Decoded::Body {
                data: b("hello"),
                remaining: 0
            },
            Decoded::Frame(p2p),
            Decoded::Frame(Frame::ListRequest),
            Decoded::Frame(ack),
        ]
    );
}

#[test]
fn server_frames_golden() {
    let fwd = Frame::Msg {
        name: name("ali"),
        text: b("hola"),
    };
    assert_eq!(&encode_server(&fwd).unwrap()[..], b"[ali]: hola");
    let list = Frame::ListReply {
        text: b("Lista de clientes:\nCliente 1: ali\nCliente 2: bob\n"),
    };
    assert_eq!(
        &encode_server(&list).unwrap()[..],
        b"Lista de clientes:\nCliente 1: ali\nCliente 2: bob\n"
    );
    let relay = Frame::File(FileHeader {
        name: name("bob"),
        filename: b("f.txt"),
        size: 5,
        port: 0,
        ip: Bytes::new(),
    });
    let block = encode_server(&relay).unwrap();
    assert_eq!(block.len(), READ_SIZE, "LEG-8: exactly one 2048-byte block");
    assert_eq!(&block[..14], b"\x00\x02bob f.txt 5\x00");
    assert!(block[14..].iter().all(|&b| b == 0));
    let error = Frame::Error {
        text: b("El cliente no existe"),
    };
    assert_eq!(&encode_server(&error).unwrap()[..], b"El cliente no existe");

    let mut body_unit = block.to_vec();
    body_unit.extend_from_slice(b"12345");
    let items = decode_units(
        LegacyDecoder::server_to_client(Limits::default()),
        &[
            b"[ali]: hola\x00\x00\x00",
            &list.clone().to_bytes()[2..list.encoded_len() - 1],
            &body_unit,
            b"\x00\x04f.txt",
            b"El cliente no existe\n",
            b"\x00\x05opcode error",
        ],
    )
    .unwrap();
    assert_eq!(
        items,
        vec![
            Decoded::Frame(fwd),
            Decoded::Frame(list),
            Decoded::Frame(relay),
            Decoded::Body {
                data: b("12345"),
                remaining: 0
            },
            Decoded::Frame(Frame::Ack {
                filename: b("f.txt")
            }),
            Decoded::Frame(error),
            Decoded::Frame(Frame::Error {
                text: b("opcode error")
            }),
        ]
    );
}

#[test]
fn coalesced_frames_are_both_decoded() {
    // LEG-3: two frames in one read, split where the next opcode starts.
    let items = decode_units(
        LegacyDecoder::client_to_server(Limits::default()),
        &[b"ali", b"\x00\x01bob one\x00\x01bob two\x00\x00\x03"],
    )
    .unwrap();
    assert_eq!(items.len(), 4, "{items:?}");
    assert_eq!(
        items[2],
        Decoded::Frame(Frame::Msg {
            name: name("bob"),
            text: b("two")
        })
    );
    assert_eq!(items[3], Decoded::Frame(Frame::ListRequest));
}

#[test]
fn without_the_gap_only_self_delimited_frames_are_decoded() {
    let mut d = LegacyDecoder::server_to_client(Limits::default());
    let mut buf = BytesMut::from(&b"[ali]: hola"[..]);
    assert_eq!(d.decode(&mut buf, false).unwrap(), None);
    assert_eq!(
        d.decode(&mut buf, true).unwrap(),
        Some(Decoded::Frame(Frame::Msg {
            name: name("ali"),
            text: b("hola")
        }))
    );
}

#[test]
fn bad_inputs_name_their_rule() {
    let e = client_err(&[b"\x00\x01bob"]);
    assert_eq!((e.rule, e.reason), ("LEG-4", Reason::Malformed));
    assert!(e.detail.contains("too few fields"), "{e}");
    assert!(!closes_connection(&e));

    let e = client_err(&[b"\x00\x02bob f.txt abc"]);
    assert_eq!(e.rule, "LEG-5");
    assert!(e.detail.contains("not a decimal number"), "{e}");
    assert!(closes_connection(&e));

    let e = client_err(&[b"\x00\x01alice hi"]);
    assert_eq!(e.rule, "LEG-4");
    assert!(e.detail.contains("1 to 4"), "{e}");

    let e = client_err(&[b"\x00\x02bob my file.txt 5"]);
    assert_eq!(e.rule, "LEG-5");
    assert!(e.detail.contains("cannot contain a space"), "{e}");

    let e = client_err(&[b"\x00\x02bob ../x 5"]);
    assert_eq!(e.rule, "FILE-6");

    let e = client_err(&[b"\x00\x09"]);
    assert_eq!((e.rule, e.reason), ("LEG-13", Reason::BadOpcode));
    assert!(!closes_connection(&e));

    let long = [&b"\x00\x01bob "[..], &[b'x'; READ_SIZE][..]].concat();
    let e = client_err(&[&long]);
    assert_eq!((e.rule, e.reason), ("LEG-2", Reason::TooLarge));

    let e = decode_units(
        LegacyDecoder::client_to_server(Limits::default()),
        &[b"alice"],
    )
    .unwrap_err();
    assert_eq!((e.rule, e.reason), ("LEG-1", Reason::BadName));

    // A relayed header with no end inside its block.
    let e = decode_units(
        LegacyDecoder::server_to_client(Limits::default()),
        &[&[&b"\x00\x02bob f.txt 5 "[..], &[b'x'; READ_SIZE][..]].concat()],
    )
    .unwrap_err();
    assert_eq!(e.rule, "LEG-8");
    assert!(e.detail.contains("no end"), "{e}");

    // A relayed header without its padding.
    let e = decode_units(
        LegacyDecoder::server_to_client(Limits::default()),
        &[b"\x00\x02bob f.txt 5"],
    )
    .unwrap_err();
    assert_eq!(e.rule, "LEG-8");
}

#[test]
fn an_error_leaves_the_decoder_usable() {
    let mut d = LegacyDecoder::client_to_server(Limits::default());
    let mut buf = BytesMut::from(&b"ali"[..]);
    assert!(matches!(
        d.decode(&mut buf, true),
        Ok(Some(Decoded::Login(_)))
    ));
    buf.extend_from_slice(b"\x00\x07junk");
    assert!(d.decode(&mut buf, true).is_err());
    assert!(buf.is_empty());
    buf.extend_from_slice(b"\x00\x03");
    assert_eq!(
        d.decode(&mut buf, true).unwrap(),
        Some(Decoded::Frame(Frame::ListRequest))
    );
}

#[test]
fn inexpressible_frames_name_their_rule() {
    let e = encode_client(&Frame::Error { text: b("x") }).unwrap_err();
    assert_eq!(e.rule, "ERR-3");
    let e = encode_client(&Frame::Msg {
        name: name("bob"),
        text: Bytes::from_static(b"a\x00b"),
    })
    .unwrap_err();
    assert_eq!(e.rule, "LEG-2");
    let e = encode_client(&Frame::File(FileHeader {
        name: name("bob"),
        filename: b("a b"),
        size: 1,
        port: 0,
        ip: Bytes::new(),
    }))
    .unwrap_err();
    assert_eq!(e.rule, "LEG-5");
}

fn arb_name() -> impl Strategy<Value = Name> {
    proptest::collection::vec(0x21u8..=0x7e, 1..=4)
        .prop_map(|v| Name::from_slice(&v).expect("1..=4 bytes"))
}

fn arb_text() -> impl Strategy<Value = Bytes> {
    // Texts the dialect can carry: no 0x00, no \n at either end (legacy-profile.md).
    proptest::collection::vec(1u8..=255, 0..300)
        .prop_filter("no \\n at the ends", |v| {
            v.first() != Some(&b'\n') && v.last() != Some(&b'\n')
        })
        .prop_map(Bytes::from)
}

fn arb_filename() -> impl Strategy<Value = Bytes> {
    "[a-zA-Z0-9_.-]{1,40}"
        .prop_filter("FILE-6", |s| s != "." && s != "..")
        .prop_map(|s| Bytes::from(s.into_bytes()))
}

fn arb_header() -> impl Strategy<Value = FileHeader> {
    (
        arb_name(),
        arb_filename(),
        any::<u64>(),
        prop_oneof![Just(0u32), 1u32..=65535],
    )
        .prop_map(|(name, filename, size, port)| FileHeader {
            name,
            filename,
            size,
            port,
            ip: if port == 0 {
                Bytes::new()
            } else {
                b("10.0.0.7")
            },
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Client frames: one write each, encoded then decoded, give back the same frames.
    #[test]
    fn client_round_trip(
        login in arb_name(),
        frames in proptest::collection::vec(prop_oneof![
            (arb_name(), arb_text()).prop_map(|(name, text)| Frame::Msg { name, text }),
            arb_header().prop_map(|mut h| { if h.is_relay() { h.size = 0 } Frame::File(h) }),
            Just(Frame::ListRequest),
            arb_filename().prop_map(|filename| Frame::Ack { filename }),
        ], 1..8),
    ) {
        let mut units = vec![login.as_bytes().to_vec()];
        units.extend(frames.iter().map(|f| encode_client(f).unwrap().to_vec()));
        let refs: Vec<&[u8]> = units.iter().map(|u| &u[..]).collect();
        let got = decode_units(LegacyDecoder::client_to_server(Limits::default()), &refs).unwrap();
        let mut want = vec![Decoded::Login(login)];
        want.extend(frames.into_iter().map(Decoded::Frame));
        prop_assert_eq!(got, want);
    }

    /// Server frames, likewise; a relay header's body follows its 2048-byte block.
    #[test]
    fn server_round_trip(
        frames in proptest::collection::vec(prop_oneof![
            (arb_name(), arb_text()).prop_map(|(name, text)| Frame::Msg { name, text }),
            arb_header().prop_map(|mut h| { h.size %= 3000; Frame::File(h) }),
            arb_filename().prop_map(|filename| Frame::Ack { filename }),
            arb_text().prop_filter("an error is neither [ nor a LIST, nor empty", |t| {
                !t.is_empty() && t[0] != b'[' && t[0] != 0 && !t.starts_with(b"Lista de clientes:")
            }).prop_map(|text| Frame::Error { text }),
        ], 1..8),
    ) {
        let mut units = Vec::new();
        let mut want = Vec::new();
        for f in &frames {
            let mut unit = encode_server(f).unwrap().to_vec();
            want.push(Decoded::Frame(f.clone()));
            if let Frame::File(h) = f {
                if h.is_relay() && h.size > 0 {
                    let body: Vec<u8> = (0..h.size).map(|i| i as u8).collect();
                    unit.extend_from_slice(&body);
                    want.push(Decoded::Body { data: Bytes::from(body), remaining: 0 });
                }
            }
            units.push(unit);
        }
        let refs: Vec<&[u8]> = units.iter().map(|u| &u[..]).collect();
        let got = decode_units(LegacyDecoder::server_to_client(Limits::default()), &refs).unwrap();
        prop_assert_eq!(got, want);
    }

    /// No input makes the decoder panic, in either direction, however it is cut into units.
    #[test]
    fn arbitrary_units_never_panic(
        units in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
        server_side in any::<bool>(),
    ) {
        let mut d = if server_side {
            LegacyDecoder::server_to_client(Limits::default())
        } else {
            LegacyDecoder::client_to_server(Limits::default())
        };
        let mut buf = BytesMut::new();
        for u in &units {
            buf.extend_from_slice(u);
            for _ in 0..64 {
                match d.decode(&mut buf, true) {
                    Ok(Some(_)) | Err(_) => {}
                    Ok(None) => break,
                }
            }
        }
    }
}
