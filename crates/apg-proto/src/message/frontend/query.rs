//! Query: a simple-protocol query string.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-QUERY>

use alloc::string::String;

use bytes::{Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, write_message, Message, Reader};

/// Query (`Q`): runs one or more SQL statements with the simple query protocol.
///
/// Several statements separated by semicolons run in one implicit transaction unless
/// they contain transaction control. An empty string is answered by
/// EmptyQueryResponse instead of CommandComplete. Any unnamed prepared statement and
/// unnamed portal are destroyed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// The SQL text; it cannot contain NUL.
    pub sql: String,
}

impl Query {
    /// Appends a Query for `sql` without building a `Query` first.
    ///
    /// # Errors
    ///
    /// As [`Message::encode`]; `buf` is unchanged on error.
    pub fn encode_str(sql: &str, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Self::TAG, Self::NAME, |buf| {
            put_cstr(buf, sql.as_bytes(), Self::NAME)
        })
    }
}

impl Message for Query {
    const TAG: Option<u8> = Some(b'Q');
    const NAME: &'static str = "Query";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_cstr(buf, self.sql.as_bytes(), Self::NAME)
    }

    fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        Self::encode_str(&self.sql, buf)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let sql = r.cstr()?;
        r.finish()?;
        Ok(Self { sql })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = Query> {
    use proptest::prelude::*;
    super::strategy::cstring().prop_map(|sql| Query { sql })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'Q', Int32 length 4 + 9, "SELECT 1\0".
        roundtrip(
            &Query {
                sql: "SELECT 1".into(),
            },
            Some(b"Q\0\0\0\x0dSELECT 1\0"),
        );
        // The empty query: 'Q', Int32 length 5, "\0".
        roundtrip(&Query::default(), Some(b"Q\0\0\0\x05\0"));
    }

    #[test]
    fn nul_refused() {
        let mut buf = BytesMut::from(&b"S\0\0\0\x04"[..]);
        assert_eq!(
            Query {
                sql: "SELECT 1;\0DROP TABLE t".into(),
            }
            .encode(&mut buf),
            Err(EncodeError::NulInString { message: "Query" })
        );
        // The message pipelined before is intact.
        assert_eq!(&buf[..], b"S\0\0\0\x04");
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| Query::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"SELECT 1"),
            Err(ProtocolError::MissingNul { message: "Query" })
        );
        assert_eq!(
            decode(b"SELECT 1\0\0"),
            Err(ProtocolError::TrailingData { message: "Query" })
        );
        assert_eq!(
            decode(b"\xc3\x28\0"),
            Err(ProtocolError::InvalidUtf8 { message: "Query" })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
