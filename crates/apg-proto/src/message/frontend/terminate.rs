//! Terminate: the client is closing the connection.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-TERMINATE>

use bytes::{Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{Message, Reader};

/// Terminate (`X`): the client is about to close the connection; the server ends the
/// session without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Terminate;

impl Message for Terminate {
    const TAG: Option<u8> = Some(b'X');
    const NAME: &'static str = "Terminate";

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
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'X', Int32 length 4, no body.
        roundtrip(&Terminate, Some(b"X\0\0\0\x04"));
    }

    proptest! {
        #[test]
        fn any_body_is_trailing_data(body in proptest::collection::vec(any::<u8>(), 1..16)) {
            prop_assert_eq!(
                Terminate::decode(Bytes::from(body)),
                Err(ProtocolError::TrailingData { message: "Terminate" })
            );
        }
    }
}
