//! PasswordMessage: a password, in answer to a cleartext or MD5 password request.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PASSWORDMESSAGE>

use bytes::{Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, Message, Reader};

/// PasswordMessage (`p`): answers AuthenticationCleartextPassword with the password, or
/// AuthenticationMD5Password with `"md5"` followed by the hex MD5 hash.
///
/// The password is bytes, not a `String`: PostgreSQL compares it as sent, in whatever
/// encoding the client used. It is NUL-terminated on the wire, so it cannot contain NUL.
/// Decoding yields this type only through
/// [`AuthenticationResponse::into_password`](super::AuthenticationResponse::into_password),
/// since the tag `p` is shared.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordMessage {
    /// The password or MD5 hash, without the NUL terminator.
    pub password: Bytes,
}

/// Keeps passwords out of logs.
impl core::fmt::Debug for PasswordMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PasswordMessage")
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Message for PasswordMessage {
    const TAG: Option<u8> = Some(b'p');
    const NAME: &'static str = "PasswordMessage";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_cstr(buf, &self.password, Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let password = r.cstr_bytes()?;
        r.finish()?;
        Ok(Self { password })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = PasswordMessage> {
    use proptest::prelude::*;
    super::strategy::cbytes().prop_map(|password| PasswordMessage { password })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use alloc::format;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'p', Int32 length 4 + 7, "secret\0".
        roundtrip(
            &PasswordMessage {
                password: Bytes::from_static(b"secret"),
            },
            Some(b"p\0\0\0\x0bsecret\0"),
        );
        // An MD5 answer: "md5" + 32 hex digits, NUL.
        let md5 = Bytes::from_static(b"md5a3556571e93b0d20722ba62be61e8c2d");
        let encoded = roundtrip(&PasswordMessage { password: md5 }, None);
        assert_eq!(&encoded[..5], b"p\0\0\0\x28");
        // Non-UTF-8 bytes are sent as they are.
        roundtrip(
            &PasswordMessage {
                password: Bytes::from_static(b"\xe9t\xe9"),
            },
            Some(b"p\0\0\0\x08\xe9t\xe9\0"),
        );
    }

    #[test]
    fn debug_redacts() {
        let m = PasswordMessage {
            password: Bytes::from_static(b"hunter2"),
        };
        assert!(!format!("{m:?}").contains("hunter2"));
    }

    #[test]
    fn nul_refused() {
        let mut buf = BytesMut::new();
        assert_eq!(
            PasswordMessage {
                password: Bytes::from_static(b"a\0b"),
            }
            .encode(&mut buf),
            Err(EncodeError::NulInString {
                message: "PasswordMessage"
            })
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| PasswordMessage::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"secret"),
            Err(ProtocolError::MissingNul {
                message: "PasswordMessage"
            })
        );
        assert_eq!(
            decode(b"a\0b"),
            Err(ProtocolError::TrailingData {
                message: "PasswordMessage"
            })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
