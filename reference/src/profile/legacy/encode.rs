//! Encoding frames as the legacy dialect's writes (LEG-2, LEG-4…LEG-11): one write per frame,
//! or an [`EncodeError`] naming the rule that makes a frame inexpressible.

use bytes::Bytes;

use super::{inexpressible, EncodeError, READ_SIZE};
use crate::frame::{FileHeader, Frame, Name, OP_ACK, OP_FILE};
use crate::text::escape_bytes;

/// The bytes of a login write (LEG-1): the name alone, 1 to 4 bytes.
pub fn encode_login(name: &Name) -> Bytes {
    Bytes::copy_from_slice(name.as_bytes())
}

/// Checks that a name can stand in a space-separated field (LEG-4, LEG-5).
fn check_name_field(name: &Name) -> Result<(), EncodeError> {
    if name.as_bytes().iter().any(|&b| b == b' ' || b == 0) {
        return Err(inexpressible(
            "LEG-4",
            format!("name \"{name}\" contains a space or 0x00, the dialect's separators"),
        ));
    }
    Ok(())
}

/// Checks that a text can be carried by one write and come back byte for byte (LEG-2).
fn check_text(text: &[u8]) -> Result<(), EncodeError> {
    if text.contains(&0) {
        return Err(inexpressible("LEG-2", "a text that contains 0x00"));
    }
    if text.first() == Some(&b'\n') || text.last() == Some(&b'\n') {
        return Err(inexpressible(
            "LEG-2",
            "a text that begins or ends with \\n",
        ));
    }
    Ok(())
}

fn check_fits(bytes: Vec<u8>) -> Result<Bytes, EncodeError> {
    if bytes.len() > READ_SIZE {
        return Err(inexpressible(
            "LEG-2",
            format!(
                "a frame of {} bytes does not fit one {READ_SIZE}-byte read",
                bytes.len()
            ),
        ));
    }
    Ok(Bytes::from(bytes))
}

/// Where a P2P header's decimal port starts in its legacy encoding, counted from the opcode:
/// `opcode[2] NAME ' ' FILENAME ' ' SIZE ' '` come before it (LEG-5).
pub fn file_port_offset(h: &FileHeader) -> usize {
    2 + h.name.len() + 1 + h.filename.len() + 1 + h.size.to_string().len() + 1
}

/// The ASCII header fields of a FILE frame after the opcode: `TO FILENAME SIZE` (relay) or
/// `TO FILENAME SIZE PORT IP` (P2P) (LEG-5, LEG-8).
fn file_fields(h: &FileHeader) -> Result<Vec<u8>, EncodeError> {
    check_name_field(&h.name)?;
    if h.filename.is_empty() || h.filename.contains(&b' ') || h.filename.contains(&0) {
        return Err(inexpressible(
            "LEG-5",
            format!(
                "filename \"{}\" is empty or contains a space or 0x00",
                escape_bytes(&h.filename)
            ),
        ));
    }
    let mut out = Vec::with_capacity(h.filename.len() + 64);
    out.extend_from_slice(h.name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(&h.filename);
    out.extend_from_slice(format!(" {}", h.size).as_bytes());
    if !h.is_relay() {
        if h.ip.is_empty() || h.ip.contains(&b' ') || h.ip.contains(&0) {
            return Err(inexpressible(
                "LEG-5",
                format!(
                    "P2P ip \"{}\" is empty or contains a space or 0x00",
                    escape_bytes(&h.ip)
                ),
            ));
        }
        out.extend_from_slice(format!(" {} ", h.port).as_bytes());
        out.extend_from_slice(&h.ip);
    }
    Ok(out)
}

/// The bytes of one client → server write for `frame` (LEG-2, LEG-4, LEG-5, LEG-6). A relay
/// FILE header is the header alone: its body follows in later writes.
pub fn encode_client(frame: &Frame) -> Result<Bytes, EncodeError> {
    let mut out = frame.opcode().to_be_bytes().to_vec();
    match frame {
        Frame::Msg { name, text } => {
            check_name_field(name)?;
            check_text(text)?;
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            out.extend_from_slice(text);
        }
        Frame::File(h) => out.extend_from_slice(&file_fields(h)?),
        Frame::ListRequest => {}
        Frame::Ack { filename } => {
            if filename.contains(&0) {
                return Err(inexpressible("LEG-6", "an ACK filename that contains 0x00"));
            }
            out.extend_from_slice(filename);
        }
        Frame::Error { .. } => {
            return Err(inexpressible(
                "ERR-3",
                "the dialect has no client ERROR frame",
            ))
        }
        Frame::ListReply { .. } => {
            return Err(inexpressible("LEG-6", "a LIST reply is not a client frame"))
        }
    }
    check_fits(out)
}

/// The bytes of one server → client write for `frame` (LEG-7…LEG-11). A relay FILE header is
/// the whole 2048-byte block of LEG-8 (header, `0x00`, padding); the body follows it. The
/// caller puts in a forwarded FILE header's name field what LEG-8 says: the recipient's own
/// name, as the sender wrote it.
pub fn encode_server(frame: &Frame) -> Result<Bytes, EncodeError> {
    let out = match frame {
        Frame::Msg { name, text } => {
            let mut out = Vec::with_capacity(name.len() + text.len() + 4);
            out.push(b'[');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"]: ");
            out.extend_from_slice(text);
            out
        }
        Frame::File(h) => {
            let mut out = OP_FILE.to_be_bytes().to_vec();
            out.extend_from_slice(&file_fields(h)?);
            if h.is_relay() {
                if out.len() >= READ_SIZE {
                    return Err(inexpressible(
                        "LEG-8",
                        "a FILE header that does not fit its 2048-byte block",
                    ));
                }
                out.resize(READ_SIZE, 0);
            }
            out
        }
        Frame::ListReply { text } | Frame::Error { text } => text.to_vec(),
        Frame::Ack { filename } => {
            let mut out = OP_ACK.to_be_bytes().to_vec();
            out.extend_from_slice(filename);
            out
        }
        Frame::ListRequest => {
            return Err(inexpressible(
                "LEG-9",
                "a LIST request is not a server frame",
            ))
        }
    };
    Ok(Bytes::from(out))
}
