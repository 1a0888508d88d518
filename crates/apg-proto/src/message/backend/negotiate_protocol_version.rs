//! NegotiateProtocolVersion: the server speaks an older minor version, or ignored some
//! protocol options.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NEGOTIATEPROTOCOLVERSION>

use alloc::string::String;
use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, Message, Reader};

/// NegotiateProtocolVersion (`v`): sent before authentication when the client asked for
/// a newer minor protocol version than the server supports, or for `_pq_.` options the
/// server does not know. The connection continues with `newest_minor`; a client that
/// cannot live with it closes the connection.
///
/// The documentation describes the version field as the minor version, but servers
/// send the whole version number, `(3 << 16) | minor` (PostgreSQL's
/// `PG_PROTOCOL_LATEST`), and libpq reads it that way. Decoding therefore requires
/// major version 3 and keeps the minor part; encoding writes the whole number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NegotiateProtocolVersion {
    /// The newest minor version of protocol 3 the server supports (0 for 3.0, 2 for
    /// 3.2).
    pub newest_minor: u32,
    /// The `_pq_.` options of the start-up packet the server did not recognise.
    pub unrecognized_options: Vec<String>,
}

/// The only major protocol version there is.
const MAJOR: u32 = 3;

impl Message for NegotiateProtocolVersion {
    const TAG: Option<u8> = Some(b'v');
    const NAME: &'static str = "NegotiateProtocolVersion";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        if self.newest_minor > u32::from(u16::MAX) {
            return Err(EncodeError::InvalidValue {
                message: Self::NAME,
                field: "minor protocol version",
            });
        }
        buf.put_u32((MAJOR << 16) | self.newest_minor);
        let count = self.unrecognized_options.len();
        let count = i32::try_from(count).map_err(|_| EncodeError::ValueTooLarge {
            message: Self::NAME,
            len: count,
        })?;
        buf.put_i32(count);
        for option in &self.unrecognized_options {
            put_cstr(buf, option.as_bytes(), Self::NAME)?;
        }
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let version = r.u32()?;
        if version >> 16 != MAJOR {
            return Err(r.invalid("protocol version"));
        }
        let newest_minor = version & 0xffff;
        let count = r.i32()?;
        let count = usize::try_from(count).map_err(|_| r.invalid("option count"))?;
        // Each name needs at least its NUL: never reserve more than the body can hold.
        let mut unrecognized_options = Vec::with_capacity(count.min(r.remaining()));
        for _ in 0..count {
            unrecognized_options.push(r.cstr()?);
        }
        r.finish()?;
        Ok(Self {
            newest_minor,
            unrecognized_options,
        })
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = NegotiateProtocolVersion> {
    use proptest::prelude::*;

    (
        0u32..=0xffff,
        proptest::collection::vec(super::arb_cstring(), 0..4),
    )
        .prop_map(
            |(newest_minor, unrecognized_options)| NegotiateProtocolVersion {
                newest_minor,
                unrecognized_options,
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // PostgreSQL 15 answering a 3.2 start-up with one `_pq_.` option:
        // 'v', Int32 length 43, Int32 0x0003_0000 (3.0), Int32 1 option,
        // String "_pq_.test_protocol_negotiation".
        roundtrip(
            &NegotiateProtocolVersion {
                newest_minor: 0,
                unrecognized_options: vec!["_pq_.test_protocol_negotiation".into()],
            },
            Some(b"v\0\0\0\x2b\0\x03\0\0\0\0\0\x01_pq_.test_protocol_negotiation\0"),
        );
        // PostgreSQL 18 answering a request for 3.9999: 3.2, no options.
        roundtrip(
            &NegotiateProtocolVersion {
                newest_minor: 2,
                unrecognized_options: vec![],
            },
            Some(b"v\0\0\0\x0c\0\x03\0\x02\0\0\0\0"),
        );
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| NegotiateProtocolVersion::decode(Bytes::from_static(b));
        let invalid = |field| {
            Err(ProtocolError::InvalidValue {
                message: "NegotiateProtocolVersion",
                field,
            })
        };
        // A bare minor number, or another major version.
        assert_eq!(decode(b"\0\0\0\x02\0\0\0\0"), invalid("protocol version"));
        assert_eq!(decode(b"\0\x04\0\0\0\0\0\0"), invalid("protocol version"));
        assert_eq!(
            decode(b"\0\x03\0\0\xff\xff\xff\xff"),
            invalid("option count")
        );
        let truncated = Err(ProtocolError::Truncated {
            message: "NegotiateProtocolVersion",
        });
        assert_eq!(decode(b"\0\x03\0\0"), truncated);
        assert_eq!(decode(b"\0\x03\0\0\0\0"), truncated);
        // Two billion options announced, one present: nothing reserved for them.
        assert_eq!(
            decode(b"\0\x03\0\0\x7f\xff\xff\xff_pq_.a\0"),
            Err(ProtocolError::MissingNul {
                message: "NegotiateProtocolVersion"
            })
        );
        assert_eq!(
            decode(b"\0\x03\0\0\0\0\0\x01_pq_.a"),
            Err(ProtocolError::MissingNul {
                message: "NegotiateProtocolVersion"
            })
        );
        assert_eq!(
            decode(b"\0\x03\0\0\0\0\0\0x"),
            Err(ProtocolError::TrailingData {
                message: "NegotiateProtocolVersion"
            })
        );
        let mut buf = BytesMut::new();
        assert_eq!(
            NegotiateProtocolVersion {
                newest_minor: 0x1_0000,
                unrecognized_options: vec![],
            }
            .encode(&mut buf),
            Err(EncodeError::InvalidValue {
                message: "NegotiateProtocolVersion",
                field: "minor protocol version"
            })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(msg in arb()) {
            roundtrip(&msg, None);
        }
    }
}
