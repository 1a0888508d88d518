//! GSSENCRequest: the client asks to encrypt the connection with GSSAPI.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-GSSENCREQUEST>

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{Message, Reader};

/// GSSENCRequest (untagged): sent instead of a StartupMessage to ask for GSSAPI
/// encryption.
///
/// The server answers with one unframed byte, `G` (start the GSSAPI exchange) or `N`
/// (refused; the client may then try an SSLRequest or go on in plaintext).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GssEncRequest;

impl GssEncRequest {
    /// The request code, `1234 << 16 | 5680`.
    pub const CODE: u32 = 80_877_104;
}

impl Message for GssEncRequest {
    const TAG: Option<u8> = None;
    const NAME: &'static str = "GSSENCRequest";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u32(Self::CODE);
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        if r.u32()? != Self::CODE {
            return Err(r.invalid("request code"));
        }
        r.finish()?;
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
        // Int32 length 8, Int32 80877104 (0x04d21630).
        roundtrip(&GssEncRequest, Some(b"\0\0\0\x08\x04\xd2\x16\x30"));
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| GssEncRequest::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"\x04\xd2\x16\x2f"),
            Err(ProtocolError::InvalidValue {
                message: "GSSENCRequest",
                field: "request code"
            })
        );
        assert_eq!(
            decode(b""),
            Err(ProtocolError::Truncated {
                message: "GSSENCRequest"
            })
        );
        assert_eq!(
            decode(b"\x04\xd2\x16\x30\0\0"),
            Err(ProtocolError::TrailingData {
                message: "GSSENCRequest"
            })
        );
    }

    proptest! {
        #[test]
        fn only_its_own_code_and_nothing_else_decodes(
            code in any::<u32>(),
            tail in crate::message::frontend::strategy::bytes(),
        ) {
            roundtrip(&GssEncRequest, None);
            let mut body = BytesMut::new();
            body.put_u32(code);
            body.put_slice(&tail);
            let ok = code == GssEncRequest::CODE && tail.is_empty();
            prop_assert_eq!(GssEncRequest::decode(body.freeze()).is_ok(), ok);
        }
    }
}
