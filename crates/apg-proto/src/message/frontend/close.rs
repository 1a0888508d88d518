//! Close: closes a prepared statement or portal.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CLOSE>

use alloc::string::String;

use bytes::{Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{write_message, Message, Reader};

use super::{check_small_body, Target};

/// Close (`C`): releases a prepared statement (and the portals made from it) or a
/// portal. Answered by CloseComplete, also when the name does not exist.
///
/// The message is subject to [`MAX_SMALL_MESSAGE_LEN`](super::MAX_SMALL_MESSAGE_LEN),
/// which bounds the name to 9 994 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// Whether `name` is a statement or a portal.
    pub target: Target,
    /// The statement or portal name; empty for the unnamed one.
    pub name: String,
}

impl Close {
    /// Appends a Close of `name` without building a `Close` first.
    ///
    /// # Errors
    ///
    /// As [`Message::encode`]; `buf` is unchanged on error.
    pub fn encode_parts(target: Target, name: &str, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Self::TAG, Self::NAME, |buf| {
            target.put_with_name(buf, name, Self::NAME)
        })
    }
}

impl Message for Close {
    const TAG: Option<u8> = Some(b'C');
    const NAME: &'static str = "Close";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        self.target.put_with_name(buf, &self.name, Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        check_small_body(b'C', &body)?;
        let mut r = Reader::new(body, Self::NAME);
        let target = Target::read(&mut r)?;
        let name = r.cstr()?;
        r.finish()?;
        Ok(Self { target, name })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = Close> {
    use proptest::prelude::*;
    (super::describe::target(), super::strategy::cstring())
        .prop_map(|(target, name)| Close { target, name })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::frontend::MAX_SMALL_MESSAGE_LEN;
    use crate::message::test_util::roundtrip;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'C', Int32 length 4 + 1 + 3, 'S', "s1\0".
        roundtrip(
            &Close {
                target: Target::Statement,
                name: "s1".into(),
            },
            Some(b"C\0\0\0\x08Ss1\0"),
        );
        // 'C', Int32 length 6, 'P', "\0".
        roundtrip(
            &Close {
                target: Target::Portal,
                name: String::new(),
            },
            Some(b"C\0\0\0\x06P\0"),
        );
    }

    #[test]
    fn small_message_limit() {
        roundtrip(
            &Close {
                target: Target::Statement,
                name: "n".repeat(MAX_SMALL_MESSAGE_LEN - 6),
            },
            None,
        );
        let mut buf = BytesMut::from(&b"prior"[..]);
        assert_eq!(
            Close {
                target: Target::Statement,
                name: "n".repeat(20_000),
            }
            .encode(&mut buf),
            Err(EncodeError::MessageTooLarge {
                message: "Close",
                len: 20_006,
                max: MAX_SMALL_MESSAGE_LEN
            })
        );
        assert_eq!(&buf[..], b"prior");

        let mut body = vec![b'S'];
        body.extend(core::iter::repeat(b'n').take(MAX_SMALL_MESSAGE_LEN));
        body.push(0);
        assert!(matches!(
            Close::decode(Bytes::from(body)),
            Err(ProtocolError::MessageTooLarge { tag: b'C', .. })
        ));
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| Close::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"s\0"),
            Err(ProtocolError::InvalidValue {
                message: "Close",
                field: "target"
            })
        );
        assert_eq!(
            decode(b""),
            Err(ProtocolError::Truncated { message: "Close" })
        );
        assert_eq!(
            decode(b"P"),
            Err(ProtocolError::MissingNul { message: "Close" })
        );
        assert_eq!(
            decode(b"P\0P\0"),
            Err(ProtocolError::TrailingData { message: "Close" })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
