//! How bytes and frames are shown to people (transcripts, reports, logs, error details):
//! escaped text, text clipped to a readable length, spaced hex. Frames have their one-line
//! form as `Display` ([`crate::frame::Frame`]), built from these.

/// Renders bytes for humans: printable ASCII and valid UTF-8 as is, everything else as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Escaped text ([`escape_bytes`]), shortened past 200 bytes with the total: `abc…(512 bytes)`.
pub fn clip(text: &[u8]) -> String {
    if text.len() > 200 {
        format!("{}…({} bytes)", escape_bytes(&text[..200]), text.len())
    } else {
        escape_bytes(text)
    }
}

/// Lower-case hex, one space between bytes: `00 01 ab`.
pub fn spaced_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// [`spaced_hex`] of at most 96 bytes, with the total when longer: `00 01 … (300 bytes)`.
pub fn short_hex(bytes: &[u8]) -> String {
    if bytes.len() > 96 {
        format!("{} … ({} bytes)", spaced_hex(&bytes[..96]), bytes.len())
    } else {
        spaced_hex(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(spaced_hex(&[0, 1, 0xab]), "00 01 ab");
        assert_eq!(short_hex(&[7; 97]).split(' ').count(), 96 + 3);
        assert_eq!(
            clip(&[b'a'; 201]),
            format!("{}…(201 bytes)", "a".repeat(200))
        );
        assert_eq!(escape_bytes(b"a\n\"\xff"), "a\\n\\\"\\xff");
    }
}
