//! CopyDone: the end of a COPY data stream, sent by either side.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYDONE>

use bytes::{Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{Message, Reader};

/// CopyDone (`c`): the sender has no more COPY data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyDone;

impl Message for CopyDone {
    const TAG: Option<u8> = Some(b'c');
    const NAME: &'static str = "CopyDone";

    fn encode_body(&self, _buf: &mut BytesMut) -> Result<(), EncodeError> {
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        Reader::new(body, Self::NAME).finish()?;
        Ok(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;

    #[test]
    fn bytes() {
        roundtrip(&CopyDone, Some(b"c\0\0\0\x04"));
        assert_eq!(
            CopyDone::decode(Bytes::from_static(b"\0")),
            Err(ProtocolError::TrailingData {
                message: "CopyDone"
            })
        );
    }
}
