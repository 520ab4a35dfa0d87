//! What simulated clients send: message texts that carry their sequence number and intended
//! send time and can be checked byte by byte, and deterministic file contents.

use rand::{RngCore, SeedableRng};

/// Smallest text that holds the header.
pub const MIN_TEXT: usize = 24;

/// A message text of `size` bytes (at least [`MIN_TEXT`]): `seq.time_us.` in hex, then
/// filler that depends on `seq`, so a changed byte anywhere is detected.
pub fn message_text(seq: u64, intended_us: u64, size: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(size.max(MIN_TEXT));
    use std::io::Write;
    let _ = write!(text, "{seq:x}.{intended_us:x}.");
    let start = text.len();
    let mut at = start;
    while at < size {
        let run = &filler_from(seq, at)[..(size - at).min(26)];
        text.extend_from_slice(run);
        at += run.len();
    }
    text
}

/// The alphabet twice, so any 26-byte window of the filler is one slice (no per-byte math).
const ALPHABET2: &[u8; 52] = b"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";

/// The filler bytes from position `i` of the text of message `seq` (26 of them).
fn filler_from(seq: u64, i: usize) -> &'static [u8] {
    let k = (seq as usize).wrapping_mul(7).wrapping_add(i) % 26;
    &ALPHABET2[k..k + 26]
}

/// Parses and checks a message text: `Some((seq, intended_us))` if intact.
pub fn check_message(text: &[u8]) -> Option<(u64, u64)> {
    let mut parts = text.splitn(3, |b| *b == b'.');
    let seq = u64::from_str_radix(std::str::from_utf8(parts.next()?).ok()?, 16).ok()?;
    let t = u64::from_str_radix(std::str::from_utf8(parts.next()?).ok()?, 16).ok()?;
    let rest = parts.next()?;
    let start = text.len() - rest.len();
    rest.chunks(26)
        .enumerate()
        .all(|(k, chunk)| chunk == &filler_from(seq, start + 26 * k)[..chunk.len()])
        .then_some((seq, t))
}

/// The content of one file: `size` bytes from a seed.
pub fn file_content(seed: u64, size: usize) -> Vec<u8> {
    let mut v = vec![0u8; size];
    rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_round_trip_and_corruption_is_seen() {
        let t = message_text(0x1234, 987_654, 100);
        assert_eq!(t.len(), 100);
        assert!(!t.contains(&0));
        assert_eq!(check_message(&t), Some((0x1234, 987_654)));
        let mut bad = t.clone();
        bad[60] ^= 1;
        assert_eq!(check_message(&bad), None);
        assert_eq!(
            check_message(&t[..99]),
            Some((0x1234, 987_654)),
            "a prefix is still intact filler"
        );
    }
}
