//! [`tokio_util::codec`] adapters over the sans-IO [`crate::decode::Decoder`], for
//! users who want `FramedRead`/`FramedWrite` instead of [`Connection`](crate::connection).

use bytes::BytesMut;

use crate::decode::{DecodeError, Decoded, Decoder, Limits};
use crate::frame::Frame;

/// Error of the codec: the stream broke a rule, or the socket failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The stream broke a rule of the profile and cannot be decoded further.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The socket failed, or the stream ended inside an item (`UnexpectedEof`).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// A `tokio_util` codec: decodes [`Decoded`] items, encodes [`Frame`]s. A stream that ends
/// in the middle of an item is an error (`UnexpectedEof`), not a silent truncation.
#[derive(Clone, Debug)]
pub struct MsrpCodec {
    decoder: Decoder,
}

impl MsrpCodec {
    /// For the server side: decodes what clients send (login, then frames).
    pub fn server(limits: Limits) -> Self {
        MsrpCodec {
            decoder: Decoder::client_to_server(limits),
        }
    }

    /// For the client side: decodes what servers send.
    pub fn client(limits: Limits) -> Self {
        MsrpCodec {
            decoder: Decoder::server_to_client(limits),
        }
    }
}

impl tokio_util::codec::Decoder for MsrpCodec {
    type Item = Decoded;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, CodecError> {
        Ok(self.decoder.decode(src)?)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, CodecError> {
        match self.decode(src)? {
            Some(item) => Ok(Some(item)),
            None if self.decoder.at_boundary(src) => Ok(None),
            None => Err(CodecError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "stream ended inside a frame or body",
            ))),
        }
    }
}

impl tokio_util::codec::Encoder<Frame> for MsrpCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        frame.encode(dst);
        Ok(())
    }
}

impl tokio_util::codec::Encoder<bytes::Bytes> for MsrpCodec {
    type Error = CodecError;

    /// Raw bytes, for relayed bodies written after a FILE header.
    fn encode(&mut self, data: bytes::Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.extend_from_slice(&data);
        Ok(())
    }
}
