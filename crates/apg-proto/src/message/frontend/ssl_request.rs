//! SSLRequest: the client asks to switch the connection to TLS.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SSLREQUEST>

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{Message, Reader};

/// SSLRequest (untagged): sent instead of a StartupMessage to ask for TLS.
///
/// The server answers with one unframed byte, `S` (start the TLS handshake) or `N`
/// (refused); a very old server may answer with an ErrorResponse instead. The client
/// must read exactly that one byte before handing the socket to TLS: anything after it
/// was not protected by TLS (CVE-2021-23222).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SslRequest;

impl SslRequest {
    /// The request code, `1234 << 16 | 5679`: a "protocol version" no server speaks.
    pub const CODE: u32 = 80_877_103;
}

impl Message for SslRequest {
    const TAG: Option<u8> = None;
    const NAME: &'static str = "SSLRequest";

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
        // Int32 length 8, Int32 80877103 (0x04d2162f).
        roundtrip(&SslRequest, Some(b"\0\0\0\x08\x04\xd2\x16\x2f"));
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| SslRequest::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"\x04\xd2\x16\x30"),
            Err(ProtocolError::InvalidValue {
                message: "SSLRequest",
                field: "request code"
            })
        );
        assert_eq!(
            decode(b"\x04\xd2\x16"),
            Err(ProtocolError::Truncated {
                message: "SSLRequest"
            })
        );
        assert_eq!(
            decode(b"\x04\xd2\x16\x2f\0"),
            Err(ProtocolError::TrailingData {
                message: "SSLRequest"
            })
        );
    }

    proptest! {
        #[test]
        fn only_its_own_code_and_nothing_else_decodes(
            code in any::<u32>(),
            tail in crate::message::frontend::strategy::bytes(),
        ) {
            roundtrip(&SslRequest, None);
            let mut body = BytesMut::new();
            body.put_u32(code);
            body.put_slice(&tail);
            let ok = code == SslRequest::CODE && tail.is_empty();
            prop_assert_eq!(SslRequest::decode(body.freeze()).is_ok(), ok);
        }
    }
}
