//! The text of a LIST reply (LIST-2, and LEG-9 in the legacy dialect): its one home. The
//! server builds it, the fault variants rewrite it, the harness builds the text it expects and
//! reads the names out of what it got, and the simulator checks who is listed, all through
//! [`build`] and [`names`].
//!
//! The text is `Lista de clientes:\n` and then one line `Cliente {i}: {name}\n` per client in
//! connection order, `i` counting from 1. In the strict profile it travels inside a
//! `0x0003 | text 0x00` frame; in the legacy dialect it is the bare text.

/// The first line of every LIST reply.
pub const HEADER: &[u8] = b"Lista de clientes:\n";

/// The LIST-2 text listing `names` in order, numbered from 1.
pub fn build<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    build_from(names, 1)
}

/// The same text with the numbering starting at `first` (0 is a fault variant's reading,
/// LIST-2 says 1).
pub fn build_from<'a>(names: impl IntoIterator<Item = &'a [u8]>, first: usize) -> Vec<u8> {
    let mut text = HEADER.to_vec();
    for (i, name) in names.into_iter().enumerate() {
        text.extend_from_slice(format!("Cliente {}: ", first + i).as_bytes());
        text.extend_from_slice(name);
        text.push(b'\n');
    }
    text
}

/// The names a LIST text lists, in order: what follows `": "` on each line after the header
/// (a line ending `\r\n` keeps its `\r`, so a CRLF text does not read as LIST-2's). Lines
/// without `": "` are skipped; nothing is checked of the numbering or the header, which is
/// for the caller to compare against [`build`].
pub fn names(text: &[u8]) -> Vec<&[u8]> {
    text.split(|b| *b == b'\n')
        .skip(1)
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.windows(2).position(|w| w == b": ").map(|i| &l[i + 2..]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_names_are_inverse() {
        let text = build([&b"anna"[..], b"bobb", b"c: d"]);
        assert_eq!(
            text,
            b"Lista de clientes:\nCliente 1: anna\nCliente 2: bobb\nCliente 3: c: d\n"
        );
        assert_eq!(names(&text), vec![&b"anna"[..], b"bobb", b"c: d"]);
        assert_eq!(build(std::iter::empty()), HEADER);
        assert!(names(HEADER).is_empty());
        assert_eq!(
            build_from([&b"anna"[..]], 0),
            b"Lista de clientes:\nCliente 0: anna\n"
        );
    }
}
