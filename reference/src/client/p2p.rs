//! P2P transfers (FILE-4): the offering side serves one connection, the receiving side
//! fetches from the offer's address; the server carries only the header.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::ClientError;
use crate::frame::FileHeader;

/// Serves one P2P offer: accepts one connection within `wait`, writes exactly `size` bytes
/// from `body`, and closes (FILE-4).
pub async fn serve_p2p(
    listener: TcpListener,
    size: u64,
    mut body: impl AsyncRead + Unpin,
    wait: Duration,
    mut progress: impl FnMut(u64),
) -> Result<(), ClientError> {
    let (mut peer, _) = tokio::time::timeout(wait, listener.accept())
        .await
        .map_err(|_| ClientError::P2p(format!("nobody connected within {wait:?}")))??;
    drop(listener);
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0u64;
    while sent < size {
        let want = (size - sent).min(buf.len() as u64) as usize;
        let n = body.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(ClientError::P2p(format!(
                "the file ended after {sent} of {size} bytes"
            )));
        }
        peer.write_all(&buf[..n]).await?;
        sent += n as u64;
        progress(sent);
    }
    peer.shutdown().await?;
    Ok(())
}

/// Fetches a P2P offer (FILE-4): connects to its `ip:port`, sends nothing, reads exactly
/// `size` bytes into `sink`. Fails if the peer closes early; every wait is bounded by `stall`.
pub async fn fetch_p2p(
    offer: &FileHeader,
    mut sink: impl AsyncWrite + Unpin,
    stall: Duration,
    mut progress: impl FnMut(u64),
) -> Result<u64, ClientError> {
    let ip: IpAddr = std::str::from_utf8(&offer.ip)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            ClientError::P2p(format!(
                "the offer's address \"{}\" is not an IP address",
                crate::text::escape_bytes(&offer.ip)
            ))
        })?;
    let port =
        u16::try_from(offer.port).map_err(|_| ClientError::P2p("port above 65535".into()))?;
    let addr = SocketAddr::new(ip, port);
    let mut stream = tokio::time::timeout(stall, TcpStream::connect(addr))
        .await
        .map_err(|_| ClientError::P2p(format!("connecting to {addr} timed out")))?
        .map_err(|source| ClientError::P2pConnect { addr, source })?;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut got = 0u64;
    while got < offer.size {
        buf.clear();
        let want = (offer.size - got).min(64 * 1024) as usize;
        let n = tokio::time::timeout(stall, (&mut stream).take(want as u64).read_buf(&mut buf))
            .await
            .map_err(|_| ClientError::P2p(format!("no data from {addr} for {stall:?}")))??;
        if n == 0 {
            return Err(ClientError::P2p(format!(
                "{addr} closed after {got} of {} bytes",
                offer.size
            )));
        }
        sink.write_all(&buf).await?;
        got += n as u64;
        progress(got);
    }
    sink.flush().await?;
    Ok(got)
}
