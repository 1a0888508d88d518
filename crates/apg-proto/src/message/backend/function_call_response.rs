//! FunctionCallResponse: the result of a FunctionCall.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-FUNCTIONCALLRESPONSE>

use bytes::{Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_nullable_bytes, Message, Reader};

/// FunctionCallResponse (`V`): the value a FunctionCall (the legacy fast-path
/// interface) returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FunctionCallResponse {
    /// The result in the format the call asked for; `None` for NULL (length -1).
    pub value: Option<Bytes>,
}

impl Message for FunctionCallResponse {
    const TAG: Option<u8> = Some(b'V');
    const NAME: &'static str = "FunctionCallResponse";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_nullable_bytes(buf, self.value.as_deref(), Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let value = r.nullable_bytes("result length")?;
        r.finish()?;
        Ok(Self { value })
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = FunctionCallResponse> {
    use proptest::prelude::*;

    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..32)).prop_map(|v| {
        FunctionCallResponse {
            value: v.map(Bytes::from),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'V', Int32 length 10, Int32 2, Byte2 value.
        roundtrip(
            &FunctionCallResponse {
                value: Some(Bytes::from_static(b"42")),
            },
            Some(b"V\0\0\0\x0a\0\0\0\x0242"),
        );
        // 'V', Int32 length 8, Int32 -1 (NULL).
        roundtrip(
            &FunctionCallResponse { value: None },
            Some(b"V\0\0\0\x08\xff\xff\xff\xff"),
        );
        // 'V', Int32 length 8, Int32 0 (empty, not NULL).
        roundtrip(
            &FunctionCallResponse {
                value: Some(Bytes::new()),
            },
            Some(b"V\0\0\0\x08\0\0\0\0"),
        );
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| FunctionCallResponse::decode(Bytes::from_static(b));
        let truncated = Err(ProtocolError::Truncated {
            message: "FunctionCallResponse",
        });
        assert_eq!(decode(b""), truncated);
        assert_eq!(decode(b"\0\0\0\x03ab"), truncated);
        assert_eq!(decode(b"\x7f\xff\xff\xffab"), truncated);
        let negative = Err(ProtocolError::InvalidValue {
            message: "FunctionCallResponse",
            field: "result length",
        });
        assert_eq!(decode(b"\xff\xff\xff\xfe"), negative);
        assert_eq!(decode(b"\x80\0\0\0"), negative);
        let trailing = Err(ProtocolError::TrailingData {
            message: "FunctionCallResponse",
        });
        assert_eq!(decode(b"\xff\xff\xff\xffx"), trailing);
        assert_eq!(decode(b"\0\0\0\x01ab"), trailing);
    }

    proptest! {
        #[test]
        fn roundtrips(msg in arb()) {
            roundtrip(&msg, None);
        }
    }
}
