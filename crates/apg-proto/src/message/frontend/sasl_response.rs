//! SASLResponse: the next client message of a SASL exchange.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SASLRESPONSE>

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::Message;

/// SASLResponse (`p`): answers AuthenticationSASLContinue with the next message of the
/// SASL exchange (for SCRAM, the client-final-message).
///
/// The data fills the rest of the message. Decoding yields this type only through
/// [`AuthenticationResponse::into_sasl_response`](super::AuthenticationResponse::into_sasl_response),
/// since the tag `p` is shared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslResponse {
    /// The mechanism-specific data.
    pub data: Bytes,
}

impl Message for SaslResponse {
    const TAG: Option<u8> = Some(b'p');
    const NAME: &'static str = "SASLResponse";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_slice(&self.data);
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        Ok(Self { data: body })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = SaslResponse> {
    use proptest::prelude::*;
    super::strategy::bytes().prop_map(|data| SaslResponse { data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'p', Int32 length 4 + 5, the data as is (NUL allowed).
        roundtrip(
            &SaslResponse {
                data: Bytes::from_static(b"a\0b\xffc"),
            },
            Some(b"p\0\0\0\x09a\0b\xffc"),
        );
        // 'p', Int32 length 4, no data.
        roundtrip(&SaslResponse::default(), Some(b"p\0\0\0\x04"));
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
