//! The codec byte by byte: hand-written golden vectors for every frame in both directions,
//! the precise error of each malformed input, and proptest properties.

use bytes::{Bytes, BytesMut};
use msrp_reference::codec::MsrpCodec;
use msrp_reference::decode::{DecodeError, Decoded, Decoder, Limits};
use msrp_reference::frame::{FileHeader, Frame, Name, Reason};
use proptest::prelude::*;

/// What a stream decodes to, with each relayed body joined into one run.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Item {
    Login(Name),
    Frame(Frame),
    Body(Vec<u8>),
}

/// Feeds `chunks` one at a time, decoding all it can after each.
fn decode_chunks(
    mut decoder: Decoder,
    chunks: &[&[u8]],
) -> Result<(Vec<Item>, usize), DecodeError> {
    let mut buf = BytesMut::new();
    let mut out: Vec<Item> = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(item) = decoder.decode(&mut buf)? {
            match item {
                Decoded::Login(n) => out.push(Item::Login(n)),
                Decoded::Frame(f) => out.push(Item::Frame(f)),
                Decoded::Body { data, .. } => match out.last_mut() {
                    Some(Item::Body(b)) => b.extend_from_slice(&data),
                    _ => out.push(Item::Body(data.to_vec())),
                },
            }
        }
    }
    Ok((out, buf.len()))
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).expect("test vector is hex")
}

fn name(s: &str) -> Name {
    s.parse().expect("valid test name")
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Checks that `bytes` decodes (in `decoder`'s direction) to exactly `frame` and that the
/// frame encodes back to exactly `bytes`.
fn golden(decoder: Decoder, bytes: &str, frame: Frame) {
    let wire = hex(bytes);
    let (items, left) = decode_chunks(decoder, &[&wire]).expect("golden vector decodes");
    assert_eq!(items, vec![Item::Frame(frame.clone())]);
    assert_eq!(left, 0);
    assert_eq!(frame.to_bytes().to_vec(), wire, "encoding of {frame:?}");
}

fn client() -> Decoder {
    Decoder::client_frames(Limits::default())
}

fn server() -> Decoder {
    Decoder::server_to_client(Limits::default())
}

#[test]
fn login_is_four_bytes_without_opcode() {
    let (items, left) = decode_chunks(
        Decoder::client_to_server(Limits::default()),
        &[&hex("63 6c 74 31 00 03")],
    )
    .unwrap();
    assert_eq!(
        items,
        vec![Item::Login(name("clt1")), Item::Frame(Frame::ListRequest)]
    );
    assert_eq!(left, 0);
}

#[test]
fn msg_both_directions() {
    // clt1 -> server: to clt2, "Hola"
    golden(
        client(),
        "00 01  63 6c 74 32  48 6f 6c 61 00",
        Frame::Msg {
            name: name("clt2"),
            text: b("Hola"),
        },
    );
    // server -> clt2: from clt1
    golden(
        server(),
        "00 01  63 6c 74 31  48 6f 6c 61 00",
        Frame::Msg {
            name: name("clt1"),
            text: b("Hola"),
        },
    );
    // empty text (MSG-3)
    golden(
        client(),
        "00 01  63 6c 74 32  00",
        Frame::Msg {
            name: name("clt2"),
            text: Bytes::new(),
        },
    );
}

#[test]
fn seed_examples() {
    // "Hola, ¿cómo estás?" from the source, UTF-8.
    golden(
        client(),
        "00 01 63 6c 74 32 48 6f 6c 61 2c 20 c2 bf 63 c3 b3 6d 6f 20 65 73 74 c3 a1 73 3f 00",
        Frame::Msg {
            name: name("clt2"),
            text: b("Hola, ¿cómo estás?"),
        },
    );
    // "Hola, bien, ¿y tú?" back to clt1.
    golden(
        client(),
        "00 01 63 6c 74 31 48 6f 6c 61 2c 20 62 69 65 6e 2c 20 c2 bf 79 20 74 c3 ba 3f 00",
        Frame::Msg {
            name: name("clt1"),
            text: b("Hola, bien, ¿y tú?"),
        },
    );
    // documento.txt, 12345 bytes, relay mode.
    let doc = FileHeader {
        name: name("clt2"),
        filename: b("documento.txt"),
        size: 12345,
        port: 0,
        ip: Bytes::new(),
    };
    golden(
        client(),
        "00 02 63 6c 74 32 64 6f 63 75 6d 65 6e 74 6f 2e 74 78 74 00
         00 00 00 00 00 00 30 39  00 00 00 00  00",
        Frame::File(doc),
    );
    golden(
        client(),
        "00 04 64 6f 63 75 6d 65 6e 74 6f 2e 74 78 74 00",
        Frame::Ack {
            filename: b("documento.txt"),
        },
    );
    golden(client(), "00 03", Frame::ListRequest);
    golden(
        server(),
        "00 03 4c 69 73 74 61 20 64 65 20 63 6c 69 65 6e 74 65 73 3a 0a
         43 6c 69 65 6e 74 65 20 31 3a 20 63 6c 74 31 0a
         43 6c 69 65 6e 74 65 20 32 3a 20 63 6c 74 32 0a 00",
        Frame::ListReply {
            text: b("Lista de clientes:\nCliente 1: clt1\nCliente 2: clt2\n"),
        },
    );
}

#[test]
fn p2p_header_and_error() {
    golden(
        server(),
        "00 02 63 6c 74 31 61 2e 74 78 74 00 00 00 00 00 00 00 00 05 00 00 1f 90
         31 32 37 2e 30 2e 30 2e 31 00",
        Frame::File(FileHeader {
            name: name("clt1"),
            filename: b("a.txt"),
            size: 5,
            port: 8080,
            ip: b("127.0.0.1"),
        }),
    );
    golden(
        server(),
        "00 05 75 6e 6b 6e 6f 77 6e 2d 72 65 63 69 70 69 65 6e 74 3a 20 7a 7a 7a 7e 00",
        Frame::Error {
            text: b("unknown-recipient: zzz~"),
        },
    );
    golden(
        client(),
        "00 05 6f 6f 70 73 00",
        Frame::Error { text: b("oops") },
    );
}

#[test]
fn relay_body_is_handed_out_in_runs_and_frames_resume_after_it() {
    let mut buf = BytesMut::from(
        &hex("00 02 63 6c 74 32 78 00 00 00 00 00 00 00 00 05 00 00 00 00 00 61 62")[..],
    );
    let mut d = client();
    assert!(matches!(
        d.decode(&mut buf).unwrap(),
        Some(Decoded::Frame(Frame::File(_)))
    ));
    assert_eq!(
        d.decode(&mut buf).unwrap(),
        Some(Decoded::Body {
            data: b("ab"),
            remaining: 3
        })
    );
    assert_eq!(d.decode(&mut buf).unwrap(), None);
    assert_eq!(d.body_remaining(), Some(3));
    // Bytes that look like frames inside a body are body bytes (ORD-2, FILE-7); the
    // frame after the body is decoded normally.
    buf.extend_from_slice(&hex("00 09 00  00 03"));
    assert_eq!(
        d.decode(&mut buf).unwrap(),
        Some(Decoded::Body {
            data: Bytes::from(hex("00 09 00")),
            remaining: 0
        })
    );
    assert_eq!(
        d.decode(&mut buf).unwrap(),
        Some(Decoded::Frame(Frame::ListRequest))
    );
    assert_eq!(d.body_remaining(), None);
}

#[test]
/// The decoder hands a body on in runs of what arrived, whatever size was declared: nothing
/// is sized from the header (DEC-16).
fn a_huge_declared_size_is_streamed_in_runs_of_what_arrived() {
    let mut wire = hex("00 02 63 6c 74 32 78 00 ff ff ff ff ff ff ff ff 00 00 00 00 00");
    wire.extend_from_slice(&[7u8; 10]);
    let mut buf = BytesMut::from(&wire[..]);
    let mut d = client();
    d.decode(&mut buf).unwrap();
    let Some(Decoded::Body { data, remaining }) = d.decode(&mut buf).unwrap() else {
        panic!("body expected")
    };
    assert_eq!(data.len(), 10);
    assert_eq!(remaining, u64::MAX - 10);
}

/// Decodes `wire` and returns the error it must produce.
fn error_of(decoder: Decoder, wire: &[u8]) -> DecodeError {
    match decode_chunks(decoder, &[wire]) {
        Err(e) => e,
        Ok(items) => panic!("expected an error, decoded {items:?}"),
    }
}

#[test]
fn every_malformed_frame_has_its_reason_and_rule() {
    let cases: Vec<(Vec<u8>, Reason, &str)> = vec![
        (hex("00 00"), Reason::BadOpcode, "ERR-2"),
        (hex("00 06"), Reason::BadOpcode, "ERR-2"),
        (hex("ff ff 00"), Reason::BadOpcode, "ERR-2"),
        (
            [hex("00 01 63 6c 74 32"), vec![b'x'; 65_536]].concat(),
            Reason::TooLarge,
            "LIM-1",
        ),
        (
            [hex("00 05"), vec![b'x'; 65_536]].concat(),
            Reason::TooLarge,
            "DEC-5",
        ),
        (
            [hex("00 02 63 6c 74 32"), b"../etc/passwd\0".to_vec()].concat(),
            Reason::Malformed,
            "FILE-6",
        ),
        (
            [hex("00 02 63 6c 74 32"), b"a\\b\0".to_vec()].concat(),
            Reason::Malformed,
            "FILE-6",
        ),
        (
            [hex("00 02 63 6c 74 32"), b"..\0".to_vec()].concat(),
            Reason::Malformed,
            "FILE-6",
        ),
        (
            [hex("00 02 63 6c 74 32"), b".\0".to_vec()].concat(),
            Reason::Malformed,
            "FILE-6",
        ),
        (hex("00 02 63 6c 74 32 00"), Reason::Malformed, "FILE-6"),
        (
            [hex("00 02 63 6c 74 32"), vec![b'a'; 256]].concat(),
            Reason::Malformed,
            "FILE-6",
        ),
        (
            hex("00 02 63 6c 74 32 78 00 00 00 00 00 00 00 00 01 00 01 00 00"),
            Reason::Malformed,
            "FILE-4",
        ),
        (
            [
                hex("00 02 63 6c 74 32 78 00 00 00 00 00 00 00 00 01 00 00 1f 90"),
                vec![b'1'; 46],
            ]
            .concat(),
            Reason::Malformed,
            "FILE-1",
        ),
        (
            [hex("00 04"), vec![b'a'; 256]].concat(),
            Reason::Malformed,
            "DEC-4",
        ),
    ];
    for (wire, reason, rule) in cases {
        let e = error_of(client(), &wire);
        assert_eq!(
            (e.reason, e.rule),
            (reason, rule),
            "{}: {e}",
            hex::encode(&wire)
        );
    }
    // The limits are inclusive: exactly 255 filename bytes and 45 ip bytes are fine.
    let ok = [
        hex("00 02 63 6c 74 32"),
        vec![b'a'; 255],
        hex("00 00 00 00 00 00 00 00 01 00 00 1f 90"),
        vec![b'1'; 45],
        vec![0],
    ]
    .concat();
    let (items, left) = decode_chunks(client(), &[&ok]).expect("limits are inclusive");
    assert_eq!(left, 0);
    assert!(
        matches!(&items[..], [Item::Frame(Frame::File(h))] if h.filename.len() == 255 && h.ip.len() == 45),
        "{items:?}"
    );
    let text = [hex("00 01 63 6c 74 32"), vec![b'x'; 65_535], vec![0]].concat();
    let (items, left) = decode_chunks(client(), &[&text]).expect("65 535 bytes fit");
    assert_eq!(left, 0);
    assert!(
        matches!(&items[..], [Item::Frame(Frame::Msg { text, .. })] if text.len() == 65_535),
        "{} items",
        items.len()
    );
}

#[test]
fn tokio_codec_reports_truncation_at_eof() {
    use tokio_util::codec::Decoder as _;
    let mut codec = MsrpCodec::client(Limits::default());
    let mut buf = BytesMut::from(&hex("00 01 63 6c")[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(codec.decode_eof(&mut buf).is_err());
    let mut empty = BytesMut::new();
    let mut fresh = MsrpCodec::client(Limits::default());
    assert!(fresh.decode_eof(&mut empty).unwrap().is_none());
}

// ---- properties ----

fn arb_name() -> impl Strategy<Value = Name> {
    proptest::array::uniform4(0x21u8..=0x7e).prop_map(Name::from_array)
}

fn arb_text(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(1u8..=255, 0..max).prop_map(Bytes::from)
}

fn arb_filename() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(1u8..=255, 1..40)
        .prop_filter("valid filename", |f| {
            !f.contains(&b'/') && !f.contains(&b'\\') && f != b"." && f != b".."
        })
        .prop_map(Bytes::from)
}

/// A frame plus, for relay headers, its body.
fn arb_frame(server_side: bool) -> impl Strategy<Value = (Frame, Vec<u8>)> {
    let file = (
        arb_name(),
        arb_filename(),
        0u64..3000,
        prop_oneof![Just(0u32), 1u32..=65_535],
        arb_text(45),
    )
        .prop_flat_map(|(name, filename, size, port, ip)| {
            let body_len = if port == 0 { size as usize } else { 0 };
            proptest::collection::vec(any::<u8>(), body_len).prop_map(move |body| {
                let h = FileHeader {
                    name,
                    filename: filename.clone(),
                    size,
                    port,
                    ip: ip.clone(),
                };
                (Frame::File(h), body)
            })
        });
    let list = if server_side {
        arb_text(300)
            .prop_map(|text| Frame::ListReply { text })
            .boxed()
    } else {
        Just(Frame::ListRequest).boxed()
    };
    prop_oneof![
        (arb_name(), arb_text(300)).prop_map(|(name, text)| (Frame::Msg { name, text }, vec![])),
        file,
        list.prop_map(|f| (f, vec![])),
        arb_filename().prop_map(|filename| (Frame::Ack { filename }, vec![])),
        arb_text(200).prop_map(|text| (Frame::Error { text }, vec![])),
    ]
}

fn encode_stream(frames: &[(Frame, Vec<u8>)]) -> (Vec<u8>, Vec<Item>) {
    let mut wire = BytesMut::new();
    let mut items = Vec::new();
    for (frame, body) in frames {
        frame.encode(&mut wire);
        wire.extend_from_slice(body);
        items.push(Item::Frame(frame.clone()));
        if !body.is_empty() {
            items.push(Item::Body(body.clone()));
        }
    }
    (wire.to_vec(), items)
}

fn split_at_points<'a>(wire: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut prev = 0;
    for p in points.into_iter().chain([wire.len()]) {
        chunks.push(&wire[prev..p]);
        prev = p;
    }
    chunks
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// encode then decode gives back the same frames and bodies, in both directions.
    #[test]
    fn round_trip(
        server_side in any::<bool>(),
        frames in proptest::collection::vec(arb_frame(false), 1..8),
        list_text in arb_text(200),
    ) {
        let frames: Vec<_> = if server_side {
            frames.into_iter().map(|(f, b)| match f { Frame::ListRequest => (Frame::ListReply { text: list_text.clone() }, b), f => (f, b) }).collect()
        } else { frames };
        let (wire, want) = encode_stream(&frames);
        let d = if server_side { server() } else { client() };
        let (got, left) = decode_chunks(d, &[&wire]).unwrap();
        prop_assert_eq!(got, want);
        prop_assert_eq!(left, 0);
    }

    /// Any split of a valid stream decodes to the same items as the whole stream (ENC-3).
    #[test]
    fn every_split_decodes_the_same(
        frames in proptest::collection::vec(arb_frame(true), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let (wire, want) = encode_stream(&frames);
        let chunks = split_at_points(&wire, &cuts);
        let (got, left) = decode_chunks(server(), &chunks).unwrap();
        prop_assert_eq!(got, want);
        prop_assert_eq!(left, 0);
    }

    /// Byte-at-a-time feeding, the worst split, also gives the same items.
    #[test]
    fn byte_by_byte(frames in proptest::collection::vec(arb_frame(false), 1..4)) {
        let (wire, want) = encode_stream(&frames);
        let chunks: Vec<&[u8]> = wire.chunks(1).collect();
        let (got, left) = decode_chunks(client(), &chunks).unwrap();
        prop_assert_eq!(got, want);
        prop_assert_eq!(left, 0);
    }

    /// Arbitrary bytes, arbitrarily split, never panic, and every item consumes input.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2000),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        direction in 0u8..3,
        max_text in 0usize..100,
    ) {
        let limits = Limits { max_text, max_server_text: max_text * 2 };
        let d = match direction {
            0 => Decoder::client_to_server(limits),
            1 => Decoder::client_frames(limits),
            _ => Decoder::server_to_client(limits),
        };
        // Every item consumes input (a decoder that yields without consuming would spin a
        // reader forever), and the input is either consumed, held, or refused with an error.
        let mut d = d;
        let mut buf = BytesMut::new();
        let mut items = 0usize;
        'chunks: for chunk in split_at_points(&bytes, &cuts) {
            buf.extend_from_slice(chunk);
            loop {
                let before = buf.len();
                match d.decode(&mut buf) {
                    Ok(Some(_)) => {
                        items += 1;
                        prop_assert!(buf.len() < before, "an item consumed no input");
                    }
                    Ok(None) => break,
                    Err(e) => {
                        prop_assert!(!e.detail.is_empty());
                        break 'chunks;
                    }
                }
            }
        }
        prop_assert!(items <= bytes.len());
    }
}
