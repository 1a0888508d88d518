//! Parse: creates a prepared statement from a query string.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARSE>

use alloc::string::String;
use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_count, put_cstr, write_message, Message, Oid, Reader};

use super::ensure_items;

/// Parse (`P`): parses one SQL statement into a prepared statement.
///
/// The empty name is the unnamed statement, which the next Parse into it or the next
/// simple Query replaces. A string with several statements is refused by the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parse {
    /// The statement name; empty for the unnamed statement.
    pub name: String,
    /// The SQL text, with parameters written `$1`, `$2`, ...
    pub query: String,
    /// Types of the first parameters, by OID; 0 leaves a type for the server to infer.
    /// Parameters past the end of the list are inferred too.
    pub param_types: Vec<Oid>,
}

impl Parse {
    /// Appends a Parse from borrowed parts, without building a `Parse` first.
    ///
    /// # Errors
    ///
    /// As [`Message::encode`]; `buf` is unchanged on error.
    pub fn encode_parts(
        name: &str,
        query: &str,
        param_types: &[Oid],
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        write_message(buf, Self::TAG, Self::NAME, |buf| {
            Self::body(name, query, param_types, buf)
        })
    }

    fn body(
        name: &str,
        query: &str,
        param_types: &[Oid],
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        put_cstr(buf, name.as_bytes(), Self::NAME)?;
        put_cstr(buf, query.as_bytes(), Self::NAME)?;
        put_count(buf, param_types.len(), Self::NAME)?;
        for oid in param_types {
            buf.put_u32(*oid);
        }
        Ok(())
    }
}

impl Message for Parse {
    const TAG: Option<u8> = Some(b'P');
    const NAME: &'static str = "Parse";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        Self::body(&self.name, &self.query, &self.param_types, buf)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let name = r.cstr()?;
        let query = r.cstr()?;
        // The server reads this Int16 as unsigned.
        let count = usize::from(r.u16()?);
        ensure_items(&r, count, 4)?;
        let mut param_types = Vec::with_capacity(count);
        for _ in 0..count {
            param_types.push(r.u32()?);
        }
        r.finish()?;
        Ok(Self {
            name,
            query,
            param_types,
        })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = Parse> {
    use super::strategy::{cstring, oids};
    use proptest::prelude::*;
    (cstring(), cstring(), oids()).prop_map(|(name, query, param_types)| Parse {
        name,
        query,
        param_types,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'P', Int32 length 4 + 3 + 10 + 2 + 8, name "s1\0", query "SELECT $1\0",
        // Int16 2 types, Int32 23 (int4), Int32 0 (left to the server).
        roundtrip(
            &Parse {
                name: "s1".into(),
                query: "SELECT $1".into(),
                param_types: vec![23, 0],
            },
            Some(b"P\0\0\0\x1bs1\0SELECT $1\0\0\x02\0\0\0\x17\0\0\0\0"),
        );
        // Unnamed statement, no types: "\0", "\0", Int16 0.
        roundtrip(&Parse::default(), Some(b"P\0\0\0\x08\0\0\0\0"));
    }

    #[test]
    fn count_is_unsigned_up_to_65535() {
        let m = Parse {
            param_types: vec![25; 65_535],
            ..Parse::default()
        };
        let encoded = roundtrip(&m, None);
        assert_eq!(&encoded[7..9], b"\xff\xff");

        let mut buf = BytesMut::new();
        let too_many = Parse {
            param_types: vec![25; 65_536],
            ..Parse::default()
        };
        assert_eq!(
            too_many.encode(&mut buf),
            Err(EncodeError::TooManyValues {
                message: "Parse",
                count: 65_536
            })
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn counts_negative_as_int16_are_read_unsigned() {
        // 0x8000 is -32768 as a signed Int16; the server reads it as 32768 types.
        let mut body = BytesMut::from(&b"\0\0\x80\0"[..]);
        body.put_bytes(0, 4 * 0x8000);
        let m = Parse::decode(body.freeze()).unwrap();
        assert_eq!(m.param_types.len(), 0x8000);
        // The same count with one type missing is truncated, not negative.
        let mut body = BytesMut::from(&b"\0\0\x80\0"[..]);
        body.put_bytes(0, 4 * 0x7fff);
        assert_eq!(
            Parse::decode(body.freeze()),
            Err(ProtocolError::Truncated { message: "Parse" })
        );
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| Parse::decode(Bytes::from_static(b));
        // Query string without NUL.
        assert_eq!(
            decode(b"s\0SELECT"),
            Err(ProtocolError::MissingNul { message: "Parse" })
        );
        // Count missing.
        assert_eq!(
            decode(b"s\0q\0\0"),
            Err(ProtocolError::Truncated { message: "Parse" })
        );
        // 0xffff types announced, room for one: refused before allocating.
        assert_eq!(
            decode(b"s\0q\0\xff\xff\0\0\0\x17"),
            Err(ProtocolError::Truncated { message: "Parse" })
        );
        // A type OID cut short.
        assert_eq!(
            decode(b"s\0q\0\0\x01\0\0"),
            Err(ProtocolError::Truncated { message: "Parse" })
        );
        assert_eq!(
            decode(b"s\0q\0\0\0x"),
            Err(ProtocolError::TrailingData { message: "Parse" })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
