//! Sync: ends an extended-query sync group.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SYNC>

use bytes::{Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{Message, Reader};

/// Sync (`S`): closes the current implicit transaction of the extended query protocol
/// (committing it, or rolling it back after an error) and asks for a ReadyForQuery.
///
/// After an error the server skips every message up to the next Sync, so a Sync is also
/// the point where a pipeline resynchronises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sync;

impl Message for Sync {
    const TAG: Option<u8> = Some(b'S');
    const NAME: &'static str = "Sync";

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
        // 'S', Int32 length 4, no body.
        roundtrip(&Sync, Some(b"S\0\0\0\x04"));
    }

    #[test]
    fn body_must_be_empty() {
        assert_eq!(
            Sync::decode(Bytes::from_static(b"x")),
            Err(ProtocolError::TrailingData { message: "Sync" })
        );
    }

    proptest! {
        #[test]
        fn any_body_is_trailing_data(body in proptest::collection::vec(any::<u8>(), 1..16)) {
            prop_assert_eq!(
                Sync::decode(Bytes::from(body)),
                Err(ProtocolError::TrailingData { message: "Sync" })
            );
        }
    }
}
