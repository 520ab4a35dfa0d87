//! The steps of a model case: each client logs in and sees its LIST reply; each exchange is
//! sent as the fuzzer wrote it and its delivery expected at once (the recipient's, and the
//! ACK's at the sender); at the end every client must hear nothing more. Each expectation
//! cites the finding's rule where the finding is about that kind of delivery.

use std::fmt::Write as _;

use msrp_reference::frame::Frame;
use msrp_reference::Profile;
use sha2::{Digest, Sha256};

use super::{quoted, Signature};
use crate::fuzz::grammar::client_bytes;
use crate::fuzz::model::{Conversation, Exchange, Sent};

/// Appends the `clients:` and `steps:` of conversation `conv` to `y`.
pub(super) fn model_steps(y: &mut String, conv: &Conversation, sig: &Signature, profile: Profile) {
    let _ = writeln!(y, "clients:");
    for (k, n) in conv.names.iter().enumerate() {
        let _ = writeln!(y, "  c{k}: {}", quoted(&String::from_utf8_lossy(n)));
    }
    let _ = writeln!(y, "steps:");
    login_steps(y, conv, sig, profile);
    for ex in &conv.exchanges {
        exchange_sends(y, conv, ex, profile);
        delivery_expectations(y, ex, sig, profile);
    }
    for k in 0..conv.names.len() {
        let _ = writeln!(
            y,
            "  - expect_silence: {{ client: c{k}, for: 0.1, rule: {} }}",
            cite(sig, &["MSG-2", "FILE-3", "MSG-3", "ACK-2", "ACK-1"])
        );
    }
}

/// The finding's rule when it is one of the rules `natural` to an expectation (the
/// expectation is what the finding breaks), else the first of them.
fn cite(sig: &Signature, natural: &[&str]) -> String {
    if natural.contains(&sig.rule.as_str()) {
        sig.rule.clone()
    } else {
        natural[0].to_string()
    }
}

/// `frame` as `profile`'s client writes it, in hex.
fn frame_hex(f: &Frame, profile: Profile) -> String {
    hex::encode(client_bytes(f, profile))
}

/// Every client connects, asks for the LIST and must get a reply.
fn login_steps(y: &mut String, conv: &Conversation, sig: &Signature, profile: Profile) {
    for k in 0..conv.names.len() {
        let _ = writeln!(y, "  - connect: c{k}");
        let _ = writeln!(
            y,
            "  - send: {{ from: c{k}, raw: \"{}\" }}",
            frame_hex(&Frame::ListRequest, profile)
        );
        let _ = writeln!(
            y,
            "  - expect: {{ client: c{k}, list_text: {{ any: true }}, rule: {} }}",
            cite(sig, &["LIST-2", "LIST-1"])
        );
    }
}

/// The sends of exchange `ex`: one per write the client makes (a legacy frame and its body
/// apart, a strict frame with its body), each cut where the fuzzer cut it.
fn exchange_sends(y: &mut String, conv: &Conversation, ex: &Exchange, profile: Profile) {
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
        let _ = writeln!(
            y,
            "  - send: {{ from: c{}, raw: \"{}\"{} }}",
            ex.from,
            hex::encode(&bytes),
            split_at_cuts(&ex.cuts, bytes.len())
        );
    }
}

/// `, split: [sizes]` for the `cuts` that fall inside a write of `len` bytes, or nothing.
fn split_at_cuts(cuts: &[usize], len: usize) -> String {
    let mut sizes = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().filter(|&&c| c < len) {
        sizes.push((cut - at).to_string());
        at = cut;
    }
    if sizes.is_empty() {
        String::new()
    } else {
        format!(", split: [{}]", sizes.join(", "))
    }
}

/// The recipient must get what `ex` sent; for an acknowledged file, the recipient's ACK is
/// sent and the sender must get it.
fn delivery_expectations(y: &mut String, ex: &Exchange, sig: &Signature, profile: Profile) {
    match &ex.what {
        Sent::Msg { text } => {
            let _ = writeln!(
                y,
                "  - expect: {{ client: c{}, msg: {{ from: c{}, text: {} }}, rule: {} }}",
                ex.to,
                ex.from,
                quoted(&String::from_utf8_lossy(text)),
                cite(sig, &["MSG-3", "MSG-2", "ORD-1", "MSG-1", "ENC-3"])
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
                cite(sig, &["FILE-3", "ORD-1", "FILE-1", "ENC-3"])
            );
            if *ack {
                ack_steps(y, ex, filename, sig, profile);
            }
        }
    }
}

/// The recipient of file `filename` acknowledges it, and its sender must get the ACK.
fn ack_steps(y: &mut String, ex: &Exchange, filename: &[u8], sig: &Signature, profile: Profile) {
    let f = Frame::Ack {
        filename: bytes::Bytes::from(filename.to_vec()),
    };
    let _ = writeln!(
        y,
        "  - send: {{ from: c{}, raw: \"{}\" }}",
        ex.to,
        frame_hex(&f, profile)
    );
    let _ = writeln!(
        y,
        "  - expect: {{ client: c{}, ack: {}, rule: {} }}",
        ex.from,
        quoted(&String::from_utf8_lossy(filename)),
        cite(sig, &["ACK-2", "ACK-1"])
    );
}
