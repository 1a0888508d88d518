//! The body of a `p` message whose kind is not known yet.
//!
//! PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse share the tag `p`
//! and nothing in their bytes tells them apart: only the authentication request the
//! server sent says which one to expect.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PASSWORDMESSAGE>

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::Message;

use super::{GssResponse, PasswordMessage, SaslInitialResponse, SaslResponse};

/// Any `p` message, body undecoded: what
/// [`FrontendMessage::decode`](super::FrontendMessage::decode) returns for tag `p`.
///
/// A server (or test server) knows which authentication request it sent and calls the
/// matching `into_*` method to decode the body.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AuthenticationResponse {
    /// The raw message body.
    pub data: Bytes,
}

/// The body may be a password: keep it out of logs.
impl core::fmt::Debug for AuthenticationResponse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthenticationResponse")
            .field("len", &self.data.len())
            .finish_non_exhaustive()
    }
}

impl AuthenticationResponse {
    /// Decodes the body as a PasswordMessage (the answer to a cleartext or MD5
    /// password request).
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] when the body is not a valid PasswordMessage.
    pub fn into_password(self) -> Result<PasswordMessage, ProtocolError> {
        PasswordMessage::decode(self.data)
    }

    /// Decodes the body as a SASLInitialResponse (the answer to AuthenticationSASL).
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] when the body is not a valid SASLInitialResponse.
    pub fn into_sasl_initial_response(self) -> Result<SaslInitialResponse, ProtocolError> {
        SaslInitialResponse::decode(self.data)
    }

    /// Decodes the body as a SASLResponse (the answer to AuthenticationSASLContinue).
    ///
    /// # Errors
    ///
    /// None today: any body is a valid SASLResponse. The `Result` keeps the four
    /// methods alike.
    pub fn into_sasl_response(self) -> Result<SaslResponse, ProtocolError> {
        SaslResponse::decode(self.data)
    }

    /// Decodes the body as a GSSResponse (the answer to AuthenticationGSS, SSPI or
    /// GSSContinue).
    ///
    /// # Errors
    ///
    /// None today: any body is a valid GSSResponse. The `Result` keeps the four
    /// methods alike.
    pub fn into_gss_response(self) -> Result<GssResponse, ProtocolError> {
        GssResponse::decode(self.data)
    }
}

impl Message for AuthenticationResponse {
    const TAG: Option<u8> = Some(b'p');
    const NAME: &'static str = "AuthenticationResponse";

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
    use alloc::format;
    use proptest::prelude::*;

    fn body_of<M: Message>(m: &M) -> AuthenticationResponse {
        let mut buf = BytesMut::new();
        m.encode(&mut buf).unwrap();
        AuthenticationResponse {
            data: Bytes::copy_from_slice(&buf[5..]),
        }
    }

    #[test]
    fn bytes() {
        // 'p', Int32 length 4 + 3, the body as is.
        roundtrip(
            &AuthenticationResponse {
                data: Bytes::from_static(b"pw\0"),
            },
            Some(b"p\0\0\0\x07pw\0"),
        );
    }

    #[test]
    fn each_kind_decodes_through_its_method() {
        let password = PasswordMessage {
            password: Bytes::from_static(b"secret"),
        };
        assert_eq!(body_of(&password).into_password(), Ok(password));

        let initial = SaslInitialResponse {
            mechanism: "SCRAM-SHA-256".into(),
            data: Some(Bytes::from_static(b"n,,n=,r=abc")),
        };
        assert_eq!(body_of(&initial).into_sasl_initial_response(), Ok(initial));

        let sasl = SaslResponse {
            data: Bytes::from_static(b"c=biws,r=abc,p=xyz"),
        };
        assert_eq!(body_of(&sasl).into_sasl_response(), Ok(sasl));

        let gss = GssResponse {
            data: Bytes::from_static(b"\x60\x82\0"),
        };
        assert_eq!(body_of(&gss).into_gss_response(), Ok(gss));
    }

    #[test]
    fn wrong_kind_is_a_typed_error() {
        // A SASLResponse body has no NUL: not a password, not an initial response.
        let body = AuthenticationResponse {
            data: Bytes::from_static(b"c=biws"),
        };
        assert_eq!(
            body.clone().into_password(),
            Err(ProtocolError::MissingNul {
                message: "PasswordMessage"
            })
        );
        assert_eq!(
            body.into_sasl_initial_response(),
            Err(ProtocolError::MissingNul {
                message: "SASLInitialResponse"
            })
        );
    }

    #[test]
    fn debug_hides_the_body() {
        let m = AuthenticationResponse {
            data: Bytes::from_static(b"hunter2\0"),
        };
        assert!(!format!("{m:?}").contains("hunter2"));
    }

    proptest! {
        #[test]
        fn roundtrips(data in crate::message::frontend::strategy::bytes()) {
            roundtrip(&AuthenticationResponse { data }, None);
        }
    }
}
