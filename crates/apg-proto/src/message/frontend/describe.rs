//! Describe: asks for the description of a prepared statement or portal.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-DESCRIBE>

use alloc::string::String;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, write_message, Message, Reader};

use super::{check_small_body, check_small_len};

/// What a Describe or Close refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// `S`: a prepared statement.
    Statement,
    /// `P`: a portal.
    Portal,
}

impl Target {
    /// The byte used on the wire.
    pub const fn as_byte(self) -> u8 {
        match self {
            Self::Statement => b'S',
            Self::Portal => b'P',
        }
    }

    /// Reads the target byte.
    pub(super) fn read(r: &mut Reader) -> Result<Self, ProtocolError> {
        match r.u8()? {
            b'S' => Ok(Self::Statement),
            b'P' => Ok(Self::Portal),
            _ => Err(r.invalid("target")),
        }
    }

    /// Appends the target byte and the name, refusing a message that would exceed the
    /// server's small-message limit.
    pub(super) fn put_with_name(
        self,
        buf: &mut BytesMut,
        name: &str,
        message: &'static str,
    ) -> Result<(), EncodeError> {
        // Length field + target byte + name + NUL.
        check_small_len(name.len().saturating_add(6), message)?;
        buf.put_u8(self.as_byte());
        put_cstr(buf, name.as_bytes(), message)
    }
}

/// Describe (`D`): asks the server to describe a prepared statement (answered by
/// ParameterDescription, then RowDescription or NoData) or a portal (RowDescription or
/// NoData).
///
/// The message is subject to [`MAX_SMALL_MESSAGE_LEN`](super::MAX_SMALL_MESSAGE_LEN),
/// which bounds the name to 9 994 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Describe {
    /// Whether `name` is a statement or a portal.
    pub target: Target,
    /// The statement or portal name; empty for the unnamed one.
    pub name: String,
}

impl Describe {
    /// Appends a Describe of `name` without building a `Describe` first.
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

impl Message for Describe {
    const TAG: Option<u8> = Some(b'D');
    const NAME: &'static str = "Describe";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        self.target.put_with_name(buf, &self.name, Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        check_small_body(b'D', &body)?;
        let mut r = Reader::new(body, Self::NAME);
        let target = Target::read(&mut r)?;
        let name = r.cstr()?;
        r.finish()?;
        Ok(Self { target, name })
    }
}

#[cfg(test)]
pub(crate) fn target() -> impl proptest::strategy::Strategy<Value = Target> {
    use proptest::prelude::*;
    prop_oneof![Just(Target::Statement), Just(Target::Portal)]
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = Describe> {
    use proptest::prelude::*;
    (target(), super::strategy::cstring()).prop_map(|(target, name)| Describe { target, name })
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
        // 'D', Int32 length 4 + 1 + 3, 'S', "s1\0".
        roundtrip(
            &Describe {
                target: Target::Statement,
                name: "s1".into(),
            },
            Some(b"D\0\0\0\x08Ss1\0"),
        );
        // 'D', Int32 length 6, 'P', "\0" (the unnamed portal).
        roundtrip(
            &Describe {
                target: Target::Portal,
                name: String::new(),
            },
            Some(b"D\0\0\0\x06P\0"),
        );
    }

    #[test]
    fn small_message_limit() {
        // Length field = 4 + 1 + name + 1: a 9 994-byte name is the longest allowed.
        let longest = Describe {
            target: Target::Portal,
            name: "n".repeat(MAX_SMALL_MESSAGE_LEN - 6),
        };
        let encoded = roundtrip(&longest, None);
        assert_eq!(encoded.len(), MAX_SMALL_MESSAGE_LEN + 1);

        let mut buf = BytesMut::new();
        let too_long = Describe {
            target: Target::Portal,
            name: "n".repeat(MAX_SMALL_MESSAGE_LEN - 5),
        };
        assert_eq!(
            too_long.encode(&mut buf),
            Err(EncodeError::MessageTooLarge {
                message: "Describe",
                len: MAX_SMALL_MESSAGE_LEN + 1,
                max: MAX_SMALL_MESSAGE_LEN
            })
        );
        assert!(buf.is_empty());

        // The server would end the session on such a message; so does the decoder.
        let mut body = vec![b'P'];
        body.extend(too_long.name.bytes());
        body.push(0);
        assert_eq!(
            Describe::decode(Bytes::from(body)),
            Err(ProtocolError::MessageTooLarge {
                tag: b'D',
                len: MAX_SMALL_MESSAGE_LEN + 1,
                max: MAX_SMALL_MESSAGE_LEN
            })
        );
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| Describe::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"Xs1\0"),
            Err(ProtocolError::InvalidValue {
                message: "Describe",
                field: "target"
            })
        );
        assert_eq!(
            decode(b""),
            Err(ProtocolError::Truncated {
                message: "Describe"
            })
        );
        assert_eq!(
            decode(b"Ss1"),
            Err(ProtocolError::MissingNul {
                message: "Describe"
            })
        );
        assert_eq!(
            decode(b"Ss1\0\0"),
            Err(ProtocolError::TrailingData {
                message: "Describe"
            })
        );
        assert_eq!(
            (Target::Statement.as_byte(), Target::Portal.as_byte()),
            (b'S', b'P')
        );
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
