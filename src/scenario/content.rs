//! Deterministic bytes for bodies and a hex reader, so scenarios can describe megabytes of
//! content in one line and check them by SHA-256.

/// SplitMix64: a fast, well-mixed function from a counter to 64 bits.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fills `buf` with the content of `seed` starting at byte `offset`.
pub fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let key = splitmix64(seed ^ 0x6d73_7270);
    for (i, b) in buf.iter_mut().enumerate() {
        let pos = offset + i as u64;
        *b = (splitmix64(key ^ (pos / 8)) >> (8 * (pos % 8))) as u8;
    }
}

/// `len` bytes of the content of `seed` from `offset`.
pub fn generate(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill(seed, offset, &mut v);
    v
}

/// SHA-256 of the first `len` bytes of the content of `seed`, computed in bounded memory.
pub fn sha256_of(seed: u64, len: u64) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        fill(seed, done, &mut buf[..n]);
        h.update(&buf[..n]);
        done += n as u64;
    }
    h.finalize().into()
}

/// Parses hex with optional whitespace (`"00 01 ab"`).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let compact: String = s.split_whitespace().collect();
    hex::decode(&compact).map_err(|e| format!("bad hex \"{s}\": {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_deterministic_and_offsets_agree() {
        let whole = generate(7, 0, 5000);
        assert_eq!(whole, generate(7, 0, 5000));
        assert_eq!(&whole[1234..4000], &generate(7, 1234, 2766)[..]);
        assert_ne!(whole, generate(8, 0, 5000));
        use sha2::Digest;
        let direct: [u8; 32] = sha2::Sha256::digest(generate(3, 0, 200_000)).into();
        assert_eq!(direct, sha256_of(3, 200_000));
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(parse_hex("00 01\n ab").unwrap(), vec![0, 1, 0xab]);
        assert!(parse_hex("0g").is_err());
    }
}
