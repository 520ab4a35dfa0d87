//! Recognising the legacy dialect under the strict profile (`legacy-profile.md`,
//! "Recognising the dialect"): a target that answers a LIST with bare `Lista de clientes:`
//! text speaks the circulating dialect, and the report says so once, plainly, with the option
//! that checks the rest.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a strict run tells about a target in the legacy dialect.
pub const LEGACY_NOTE: &str =
    "this target answers in the legacy dialect; run with --profile legacy to check the rest";

/// A note about a target's dialect, for the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct DialectNote {
    /// The target's label (its address or server command) as the report names it.
    pub target: String,
    /// The dialect recognised; always `legacy` today.
    pub dialect: &'static str,
    /// The sentence the report prints ([`LEGACY_NOTE`]).
    pub note: &'static str,
}

/// Whether `answer` (what a server sent back to a LIST) has the legacy shape: the LIST text
/// with no opcode before it (LEG-9), or a message forwarded as `[name]: text` (LEG-7).
pub fn has_legacy_shape(answer: &[u8]) -> bool {
    answer.starts_with(&msrp_reference::list::HEADER[..msrp_reference::list::HEADER.len() - 1])
        || (answer.first() == Some(&b'[') && answer.windows(3).take(8).any(|w| w == b"]: "))
}

/// Logs in as `name` (written alone, then a pause, as both dialects accept), asks for the
/// LIST, and reports whether the answer has the legacy shape. Every wait is bounded by
/// `wait`; a target that answers nothing is not in the legacy dialect.
pub async fn probe_legacy(addr: SocketAddr, name: &[u8; 4], wait: Duration) -> bool {
    let probe = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let _ = s.set_nodelay(true);
        s.write_all(name).await.ok()?;
        // The legacy dialect takes the name as a write of its own (LEG-1).
        tokio::time::sleep(Duration::from_millis(50)).await;
        s.write_all(&[0, 3]).await.ok()?;
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.ok()?;
        Some(has_legacy_shape(&buf[..n]))
    };
    let legacy = tokio::time::timeout(wait, probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false);
    // Let the target free the probe's name before the first scenario lists names.
    tokio::time::sleep(Duration::from_millis(100)).await;
    legacy
}
