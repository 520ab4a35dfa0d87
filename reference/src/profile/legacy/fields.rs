//! Reading the dialect's units and fields: where a frame ends inside a unit, the trailers
//! LEG-2 tolerates, names and decimal numbers, and the FILE header's fields (LEG-5).

use bytes::Bytes;

use crate::decode::{check_filename, DecodeError};
use crate::frame::{FileHeader, Name, Reason, MAX_FILENAME, MAX_IP};
use crate::text::escape_bytes;

pub(super) fn err(reason: Reason, rule: &'static str, detail: impl Into<String>) -> DecodeError {
    DecodeError {
        reason,
        detail: detail.into(),
        rule,
    }
}

/// Where the frame that starts at the front of `buf` ends: at the next `0x00` followed by an
/// opcode byte `0x01..=0x05` (searched from `from`), else at the end of the unit if it has
/// ended. `None`: wait for more bytes or for the gap.
pub(super) fn unit_end(buf: &[u8], from: usize, unit_ended: bool) -> Option<usize> {
    let next = buf
        .get(from.min(buf.len())..)
        .and_then(|tail| {
            tail.windows(2)
                .position(|w| w[0] == 0 && (1..=5).contains(&w[1]))
        })
        .map(|i| from + i);
    match next {
        Some(i) if i > 0 => Some(i),
        _ if unit_ended => Some(buf.len()),
        _ => None,
    }
}

/// The field without the one trailing `0x00` or `\n` that LEG-2 tolerates.
pub(super) fn strip_trailer(field: &[u8]) -> Bytes {
    let end = match field.last() {
        Some(0) | Some(b'\n') => field.len() - 1,
        _ => field.len(),
    };
    Bytes::copy_from_slice(&field[..end])
}

pub(super) fn until_nul(unit: &[u8]) -> &[u8] {
    let end = unit.iter().position(|&b| b == 0).unwrap_or(unit.len());
    &unit[..end]
}

/// A bare text (forwarded message, error): up to its first `0x00` (padding some servers send
/// after it), without the one trailing `\n` that LEG-2 tolerates.
pub(super) fn text_of(unit: &[u8]) -> Bytes {
    let text = until_nul(unit);
    let end = if text.last() == Some(&b'\n') {
        text.len() - 1
    } else {
        text.len()
    };
    Bytes::copy_from_slice(&text[..end])
}

/// A name field of 1 to 4 bytes (LEG-1, LEG-4).
pub(super) fn field_name(field: &[u8], rule: &'static str) -> Result<Name, DecodeError> {
    Name::from_slice(field).ok_or_else(|| {
        err(
            Reason::Malformed,
            rule,
            format!(
                "name \"{}\" has {} bytes; a name has 1 to 4",
                escape_bytes(&field[..field.len().min(32)]),
                field.len()
            ),
        )
    })
}

fn decimal<T: std::str::FromStr>(field: &[u8], what: &str) -> Result<T, DecodeError> {
    std::str::from_utf8(field)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            err(
                Reason::Malformed,
                "LEG-5",
                format!(
                    "{what} \"{}\" is not a decimal number",
                    escape_bytes(&field[..field.len().min(32)])
                ),
            )
        })
}

/// `TO FILENAME SIZE` or `TO FILENAME SIZE PORT IP` (LEG-5).
pub(super) fn parse_file_fields(rest: &Bytes) -> Result<FileHeader, DecodeError> {
    let fields: Vec<&[u8]> = rest.split(|&b| b == b' ').collect();
    if fields.len() != 3 && fields.len() != 5 {
        let why = if fields.len() < 3 {
            "too few fields"
        } else {
            "a wrong number of fields (a filename cannot contain a space)"
        };
        return Err(err(
            Reason::Malformed,
            "LEG-5",
            format!(
                "FILE header \"{}\" has {} field(s), {why}: TO FILENAME SIZE (relay) or TO FILENAME SIZE PORT IP (P2P)",
                escape_bytes(&rest[..rest.len().min(64)]),
                fields.len()
            ),
        ));
    }
    let name = field_name(fields[0], "LEG-5")?;
    let filename = fields[1];
    if filename.len() > MAX_FILENAME {
        return Err(err(
            Reason::Malformed,
            "FILE-6",
            format!(
                "filename of {} bytes is longer than {MAX_FILENAME}",
                filename.len()
            ),
        ));
    }
    check_filename(filename)?;
    let size: u64 = decimal(fields[2], "size")?;
    let (port, ip) = if fields.len() == 5 {
        let port: u32 = decimal(fields[3], "port")?;
        if port > 65_535 {
            return Err(err(
                Reason::Malformed,
                "FILE-4",
                format!("port {port} is above 65535"),
            ));
        }
        if fields[4].len() > MAX_IP {
            return Err(err(
                Reason::Malformed,
                "FILE-1",
                format!("ip of {} bytes is longer than {MAX_IP}", fields[4].len()),
            ));
        }
        (port, Bytes::copy_from_slice(fields[4]))
    } else {
        (0, Bytes::new())
    };
    Ok(FileHeader {
        name,
        filename: Bytes::copy_from_slice(filename),
        size,
        port,
        ip: if port == 0 { Bytes::new() } else { ip },
    })
}
