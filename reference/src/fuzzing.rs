//! Properties the fuzz targets (`fuzz/`) check, kept here so that `cargo test` replays the
//! saved corpus with exactly the same code, without a fuzzer.

use bytes::BytesMut;

use crate::decode::{Decoded, Decoder, Limits};

/// Decodes `data` in the direction and with the limits its first two bytes choose, fed in
/// pieces whose sizes the next bytes choose, and checks what must always hold:
/// nothing panics, every item consumes input, a decoded frame re-encodes to exactly the
/// bytes it was decoded from (the encoding is canonical), and body runs are the bytes.
/// Returns how many bytes of the stream were consumed before the decoder stopped, and the
/// error it stopped on, if any (the fuzz target ignores both; tests of golden streams check
/// them).
pub fn check_decoder(data: &[u8]) -> (usize, Option<crate::decode::DecodeError>) {
    let Some((&mode, rest)) = data.split_first() else {
        return (0, None);
    };
    let Some((&cut_seed, stream)) = rest.split_first() else {
        return (0, None);
    };
    let limits = Limits {
        max_text: usize::from(mode >> 2) * 64 + 1,
        max_server_text: usize::from(mode >> 2) * 128 + 1,
    };
    let mut decoder = match mode % 3 {
        0 => Decoder::client_to_server(limits),
        1 => Decoder::client_frames(limits),
        _ => Decoder::server_to_client(limits),
    };
    let mut buf = BytesMut::new();
    let mut fed = 0;
    // The bytes already consumed from `stream`, to compare items with their source.
    let mut consumed = 0;
    let mut step = usize::from(cut_seed % 17) + 1;
    while fed < stream.len() {
        let end = (fed + step).min(stream.len());
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
        step = (step * 7 + 3) % 23 + 1;
        loop {
            let before = buf.len();
            match decoder.decode(&mut buf) {
                Ok(Some(item)) => {
                    let used = before - buf.len();
                    assert!(used > 0, "an item must consume input: {item:?}");
                    let source = &stream[consumed..consumed + used];
                    match &item {
                        Decoded::Login(name) => assert_eq!(name.as_bytes(), source),
                        Decoded::Frame(frame) => {
                            assert_eq!(&frame.to_bytes()[..], source, "{frame:?}")
                        }
                        Decoded::Body { data, .. } => assert_eq!(&data[..], source),
                    }
                    consumed += used;
                }
                Ok(None) => break,
                Err(e) => return (consumed, Some(e)),
            }
        }
    }
    (consumed, None)
}

/// Plays `data` to a running server as one client's whole byte stream (in pieces, then a
/// close), then checks the server still serves a fresh client: the property the
/// `server_session` fuzz target checks. Panics if the server stops answering.
pub async fn check_server_session(addr: std::net::SocketAddr, data: &[u8]) {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let wait = Duration::from_secs(2);
    if let Ok(Ok(mut s)) = tokio::time::timeout(wait, tokio::net::TcpStream::connect(addr)).await {
        let mut at = 0;
        let mut step = 1;
        while at < data.len() {
            let end = (at + step).min(data.len());
            if tokio::time::timeout(wait, s.write_all(&data[at..end]))
                .await
                .is_err()
            {
                break;
            }
            at = end;
            step = step * 3 % 61 + 1;
        }
        let _ = s.shutdown().await;
        // Whatever the server answers, it must end the connection or stay quiet; read what
        // comes for a moment.
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(50), async {
            while let Ok(n) = s.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }
    // A fresh name per call: a refusal (name-taken, server-full) would mean the server kept
    // an earlier session, so only a LIST reply passes.
    static WITNESS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = WITNESS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("~{:02x}~", n % 256);
    let mut w = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the server still accepts connections");
    w.write_all(&[name.as_bytes(), b"\x00\x03"].concat())
        .await
        .expect("the server still reads");
    let mut reply = [0u8; 2];
    tokio::time::timeout(wait, w.read_exact(&mut reply))
        .await
        .expect("the server still answers within 2 s")
        .expect("the server answers a LIST (or refuses the name) instead of closing");
    assert_eq!(reply, [0, 3], "a LIST reply, not {reply:?}");
}

#[cfg(test)]
mod tests {
    /// Valid streams are consumed whole (a stream the decoder rejects would otherwise pass
    /// without a word).
    #[test]
    fn golden_streams_hold_the_properties() {
        // mode 0x3c: client to server, max_text 961; login, MSG, LIST.
        let login_msg_list = b"\x3c\x05clt1\x00\x01clt2Hola\x00\x00\x03";
        // mode 0x02: server to client; a relay FILE with its 3-byte body, then a LIST reply.
        let relay = b"\x02\x01\x00\x02clt1x\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00abc\x00\x03\x00";
        for stream in [&login_msg_list[..], &relay[..]] {
            let (consumed, error) = super::check_decoder(stream);
            assert!(error.is_none(), "{error:?}");
            assert_eq!(consumed, stream.len() - 2, "the whole stream is consumed");
        }
    }
}
