//! Execute: runs a portal.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-EXECUTE>

use alloc::string::String;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, write_message, Message, Reader};

use super::{check_small_body, check_small_len};

/// Execute (`E`): runs a bound portal, returning at most `max_rows` rows.
///
/// Ends with CommandComplete, EmptyQueryResponse, ErrorResponse, or PortalSuspended
/// when the row limit was reached first; executing the same portal again continues
/// where it stopped. A portal lives only until the end of its transaction.
///
/// The message is subject to [`MAX_SMALL_MESSAGE_LEN`](super::MAX_SMALL_MESSAGE_LEN),
/// which bounds the portal name to 9 991 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Execute {
    /// The portal name; empty for the unnamed portal.
    pub portal: String,
    /// The most rows to return; 0 means no limit. The wire field is a signed Int32, so
    /// at most `i32::MAX`.
    pub max_rows: u32,
}

impl Execute {
    /// Appends an Execute of `portal` without building an `Execute` first.
    ///
    /// # Errors
    ///
    /// As [`Message::encode`]; `buf` is unchanged on error.
    pub fn encode_parts(
        portal: &str,
        max_rows: u32,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        write_message(buf, Self::TAG, Self::NAME, |buf| {
            Self::body(portal, max_rows, buf)
        })
    }

    fn body(portal: &str, max_rows: u32, buf: &mut BytesMut) -> Result<(), EncodeError> {
        // Length field + name + NUL + Int32.
        check_small_len(portal.len().saturating_add(9), Self::NAME)?;
        let max_rows = i32::try_from(max_rows).map_err(|_| EncodeError::InvalidValue {
            message: Self::NAME,
            field: "max rows",
        })?;
        put_cstr(buf, portal.as_bytes(), Self::NAME)?;
        buf.put_i32(max_rows);
        Ok(())
    }
}

impl Message for Execute {
    const TAG: Option<u8> = Some(b'E');
    const NAME: &'static str = "Execute";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        Self::body(&self.portal, self.max_rows, buf)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        check_small_body(b'E', &body)?;
        let mut r = Reader::new(body, Self::NAME);
        let portal = r.cstr()?;
        let max_rows = r.i32()?;
        let max_rows = u32::try_from(max_rows).map_err(|_| r.invalid("max rows"))?;
        r.finish()?;
        Ok(Self { portal, max_rows })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = Execute> {
    use proptest::prelude::*;
    (super::strategy::cstring(), 0..=i32::MAX.unsigned_abs())
        .prop_map(|(portal, max_rows)| Execute { portal, max_rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::frontend::MAX_SMALL_MESSAGE_LEN;
    use crate::message::test_util::roundtrip;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'E', Int32 length 4 + 1 + 4, portal "\0", Int32 0 (no limit).
        roundtrip(&Execute::default(), Some(b"E\0\0\0\x09\0\0\0\0\0"));
        // 'E', Int32 length 4 + 3 + 4, portal "p1\0", Int32 100.
        roundtrip(
            &Execute {
                portal: "p1".into(),
                max_rows: 100,
            },
            Some(b"E\0\0\0\x0bp1\0\0\0\0\x64"),
        );
        // The largest limit the Int32 field holds.
        roundtrip(
            &Execute {
                portal: String::new(),
                max_rows: 0x7fff_ffff,
            },
            Some(b"E\0\0\0\x09\0\x7f\xff\xff\xff"),
        );
    }

    #[test]
    fn limits() {
        let mut buf = BytesMut::new();
        assert_eq!(
            Execute {
                portal: String::new(),
                max_rows: 0x8000_0000,
            }
            .encode(&mut buf),
            Err(EncodeError::InvalidValue {
                message: "Execute",
                field: "max rows"
            })
        );
        roundtrip(
            &Execute {
                portal: "p".repeat(MAX_SMALL_MESSAGE_LEN - 9),
                max_rows: 1,
            },
            None,
        );
        assert_eq!(
            Execute {
                portal: "p".repeat(MAX_SMALL_MESSAGE_LEN - 8),
                max_rows: 1,
            }
            .encode(&mut buf),
            Err(EncodeError::MessageTooLarge {
                message: "Execute",
                len: MAX_SMALL_MESSAGE_LEN + 1,
                max: MAX_SMALL_MESSAGE_LEN
            })
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| Execute::decode(Bytes::from_static(b));
        // A negative row limit.
        assert_eq!(
            decode(b"\0\xff\xff\xff\xff"),
            Err(ProtocolError::InvalidValue {
                message: "Execute",
                field: "max rows"
            })
        );
        assert_eq!(
            decode(b"\0\0\0"),
            Err(ProtocolError::Truncated { message: "Execute" })
        );
        assert_eq!(
            decode(b"p1"),
            Err(ProtocolError::MissingNul { message: "Execute" })
        );
        assert_eq!(
            decode(b"\0\0\0\0\0\0"),
            Err(ProtocolError::TrailingData { message: "Execute" })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
