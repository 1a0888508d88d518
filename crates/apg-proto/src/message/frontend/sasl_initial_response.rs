//! SASLInitialResponse: the chosen SASL mechanism and its first message.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SASLINITIALRESPONSE>

use alloc::string::String;

use bytes::{Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, put_nullable_bytes, Message, Reader};

/// SASLInitialResponse (`p`): answers AuthenticationSASL with the mechanism the client
/// picked from the server's list and, for SCRAM, the client-first-message.
///
/// Decoding yields this type only through
/// [`AuthenticationResponse::into_sasl_initial_response`](super::AuthenticationResponse::into_sasl_initial_response),
/// since the tag `p` is shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslInitialResponse {
    /// The mechanism name, e.g. `SCRAM-SHA-256` or `SCRAM-SHA-256-PLUS`.
    pub mechanism: String,
    /// The mechanism's initial response; `None` (sent as length -1) when it has none.
    pub data: Option<Bytes>,
}

impl Message for SaslInitialResponse {
    const TAG: Option<u8> = Some(b'p');
    const NAME: &'static str = "SASLInitialResponse";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_cstr(buf, self.mechanism.as_bytes(), Self::NAME)?;
        put_nullable_bytes(buf, self.data.as_deref(), Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let mechanism = r.cstr()?;
        let data = r.nullable_bytes("data length")?;
        r.finish()?;
        Ok(Self { mechanism, data })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = SaslInitialResponse> {
    use super::strategy::{bytes, cstring};
    use proptest::prelude::*;
    (cstring(), proptest::option::of(bytes()))
        .prop_map(|(mechanism, data)| SaslInitialResponse { mechanism, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'p', Int32 length 4 + 14 + 4 + 8, "SCRAM-SHA-256\0", Int32 8, the data.
        roundtrip(
            &SaslInitialResponse {
                mechanism: "SCRAM-SHA-256".into(),
                data: Some(Bytes::from_static(b"n,,n=,r=")),
            },
            Some(b"p\0\0\0\x1eSCRAM-SHA-256\0\0\0\0\x08n,,n=,r="),
        );
        // No data: Int32 -1.
        roundtrip(
            &SaslInitialResponse {
                mechanism: "X".into(),
                data: None,
            },
            Some(b"p\0\0\0\x0aX\0\xff\xff\xff\xff"),
        );
        // Empty data is not the same as none: Int32 0.
        roundtrip(
            &SaslInitialResponse {
                mechanism: "X".into(),
                data: Some(Bytes::new()),
            },
            Some(b"p\0\0\0\x0aX\0\0\0\0\0"),
        );
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| SaslInitialResponse::decode(Bytes::from_static(b));
        let name = "SASLInitialResponse";
        assert_eq!(
            decode(b"SCRAM"),
            Err(ProtocolError::MissingNul { message: name })
        );
        assert_eq!(
            decode(b"X\0\0\0"),
            Err(ProtocolError::Truncated { message: name })
        );
        // Length runs past the body.
        assert_eq!(
            decode(b"X\0\0\0\0\x05abc"),
            Err(ProtocolError::Truncated { message: name })
        );
        // A negative length other than -1.
        assert_eq!(
            decode(b"X\0\xff\xff\xff\xfe"),
            Err(ProtocolError::InvalidValue {
                message: name,
                field: "data length"
            })
        );
        assert_eq!(
            decode(b"X\0\0\0\0\x01ab"),
            Err(ProtocolError::TrailingData { message: name })
        );
        assert_eq!(
            decode(b"X\0\xff\xff\xff\xffz"),
            Err(ProtocolError::TrailingData { message: name })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
