//! GSSResponse: a GSSAPI or SSPI token.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-GSSRESPONSE>

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::Message;

/// GSSResponse (`p`): answers AuthenticationGSS or AuthenticationSSPI, and each
/// AuthenticationGSSContinue, with a GSSAPI or SSPI token.
///
/// The data fills the rest of the message. Decoding yields this type only through
/// [`AuthenticationResponse::into_gss_response`](super::AuthenticationResponse::into_gss_response),
/// since the tag `p` is shared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GssResponse {
    /// The mechanism-specific data.
    pub data: Bytes,
}

impl Message for GssResponse {
    const TAG: Option<u8> = Some(b'p');
    const NAME: &'static str = "GSSResponse";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_slice(&self.data);
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        Ok(Self { data: body })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = GssResponse> {
    use proptest::prelude::*;
    super::strategy::bytes().prop_map(|data| GssResponse { data })
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
            &GssResponse {
                data: Bytes::from_static(b"a\0b\xffc"),
            },
            Some(b"p\0\0\0\x09a\0b\xffc"),
        );
        // 'p', Int32 length 4, no data.
        roundtrip(&GssResponse::default(), Some(b"p\0\0\0\x04"));
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
