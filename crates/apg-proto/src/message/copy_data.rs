//! CopyData: a chunk of COPY data, sent by either side.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYDATA>

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{write_message, Message};

/// CopyData (`d`): part of a COPY data stream, in either direction.
///
/// The server sends one message per row in COPY TO STDOUT; the client may split its data
/// anywhere in COPY FROM STDIN. The payload is a slice of the receive buffer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyData {
    /// The payload: rows in text, CSV or binary COPY format.
    pub data: Bytes,
}

impl CopyData {
    /// Appends a CopyData carrying `data` without building a `CopyData` first.
    ///
    /// # Errors
    ///
    /// [`EncodeError::MessageTooLarge`] for more than 1 GiB; `buf` is unchanged then.
    pub fn encode_slice(data: &[u8], buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Self::TAG, Self::NAME, |buf| {
            buf.put_slice(data);
            Ok(())
        })
    }
}

impl Message for CopyData {
    const TAG: Option<u8> = Some(b'd');
    const NAME: &'static str = "CopyData";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_slice(&self.data);
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        Ok(Self { data: body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;

    #[test]
    fn bytes() {
        // 'd', Int32 length 4 + 6, the payload as is.
        roundtrip(
            &CopyData {
                data: Bytes::from_static(b"1\tone\n"),
            },
            Some(b"d\0\0\0\x0a1\tone\n"),
        );
        roundtrip(&CopyData::default(), Some(b"d\0\0\0\x04"));
    }
}
