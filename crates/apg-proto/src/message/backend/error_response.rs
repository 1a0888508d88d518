//! ErrorResponse: a command failed; and [`ErrorFields`], the field list it shares with
//! NoticeResponse.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-ERRORRESPONSE>
//! and the field codes:
//! <https://www.postgresql.org/docs/current/protocol-error-fields.html>

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Deref;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, Message, Reader};

/// The fields of an ErrorResponse or NoticeResponse, in the order the server sent them.
///
/// Each field is a one-byte code and a text value. The typed accessors cover every code
/// PostgreSQL documents; codes added by later servers (or by middleware) are kept and
/// reachable through [`get`](Self::get) and [`iter`](Self::iter), since the
/// documentation asks clients to ignore, not reject, unknown codes.
///
/// Values are decoded as lossy UTF-8: an error from a server that does not speak UTF-8
/// yet (before `client_encoding` applies, or an answer to SSLRequest from an old
/// server) must still be reportable, so bytes that are not UTF-8 become U+FFFD instead
/// of failing the message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ErrorFields {
    fields: Vec<(u8, String)>,
}

impl ErrorFields {
    /// An empty field list.
    pub const fn new() -> Self {
        Self { fields: Vec::new() }
    }

    /// Appends a field, for test servers and proxies.
    ///
    /// Nothing is checked here; [`Message::encode`] refuses a code of 0 or a value
    /// containing NUL.
    pub fn push(&mut self, code: u8, value: impl Into<String>) {
        self.fields.push((code, value.into()));
    }

    /// The value of the first field with `code`, known or not.
    pub fn get(&self, code: u8) -> Option<&str> {
        self.fields
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_str())
    }

    /// Every field as `(code, value)`, in the order received.
    pub fn iter(&self) -> ErrorFieldsIter<'_> {
        ErrorFieldsIter {
            inner: self.fields.iter(),
        }
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields at all.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// `S`: the severity, possibly translated (`ERROR`, `FATAL`, `PANIC`, `WARNING`,
    /// `NOTICE`, `DEBUG`, `INFO`, `LOG`, or a localized word). Always present.
    pub fn severity_localized(&self) -> Option<&str> {
        self.get(b'S')
    }

    /// `V`: the severity, never translated (PostgreSQL 9.6 and later).
    ///
    /// Falls back to `S` when `V` is absent: older servers and PgBouncer do not send it.
    pub fn severity(&self) -> Option<&str> {
        self.get(b'V').or_else(|| self.severity_localized())
    }

    /// `C`: the SQLSTATE code (`22012`, `40001`, ...). Always present.
    pub fn code(&self) -> Option<&str> {
        self.get(b'C')
    }

    /// `M`: the primary, human-readable message. Always present.
    pub fn message(&self) -> Option<&str> {
        self.get(b'M')
    }

    /// `D`: an optional secondary message with more detail.
    pub fn detail(&self) -> Option<&str> {
        self.get(b'D')
    }

    /// `H`: an optional suggestion of what to do about the problem.
    pub fn hint(&self) -> Option<&str> {
        self.get(b'H')
    }

    /// `P`: the error's position in the query string, as a 1-based index in
    /// characters (not bytes). `None` also when the value is not a number.
    pub fn position(&self) -> Option<u32> {
        self.get(b'P')?.parse().ok()
    }

    /// `p`: like [`position`](Self::position), but in an internally generated query
    /// ([`internal_query`](Self::internal_query)).
    pub fn internal_position(&self) -> Option<u32> {
        self.get(b'p')?.parse().ok()
    }

    /// `q`: the text of an internally generated query that failed (for example a SQL
    /// statement run by a PL/pgSQL function).
    pub fn internal_query(&self) -> Option<&str> {
        self.get(b'q')
    }

    /// `W`: the context the error occurred in: a call stack of PL functions and
    /// internal queries, one entry per line, most recent first.
    pub fn where_(&self) -> Option<&str> {
        self.get(b'W')
    }

    /// `s`: the schema of the object the error is about.
    pub fn schema(&self) -> Option<&str> {
        self.get(b's')
    }

    /// `t`: the table the error is about (its schema is in [`schema`](Self::schema)).
    pub fn table(&self) -> Option<&str> {
        self.get(b't')
    }

    /// `c`: the column the error is about (its table is in [`table`](Self::table)).
    pub fn column(&self) -> Option<&str> {
        self.get(b'c')
    }

    /// `d`: the data type the error is about.
    pub fn data_type(&self) -> Option<&str> {
        self.get(b'd')
    }

    /// `n`: the constraint the error is about.
    pub fn constraint(&self) -> Option<&str> {
        self.get(b'n')
    }

    /// `F`: the server source file that reported the error.
    pub fn file(&self) -> Option<&str> {
        self.get(b'F')
    }

    /// `L`: the line in [`file`](Self::file). `None` also when the value is not a
    /// number.
    pub fn line(&self) -> Option<u32> {
        self.get(b'L')?.parse().ok()
    }

    /// `R`: the server source routine that reported the error.
    pub fn routine(&self) -> Option<&str> {
        self.get(b'R')
    }

    /// Writes the fields and the terminating zero byte.
    pub(super) fn encode_body(
        &self,
        buf: &mut BytesMut,
        message: &'static str,
    ) -> Result<(), EncodeError> {
        for (code, value) in &self.fields {
            // A zero code is the list terminator.
            if *code == 0 {
                return Err(EncodeError::InvalidValue {
                    message,
                    field: "field code",
                });
            }
            buf.put_u8(*code);
            put_cstr(buf, value.as_bytes(), message)?;
        }
        buf.put_u8(0);
        Ok(())
    }

    /// Reads `(code, NUL-terminated value)*` then a zero byte, which must end the body.
    pub(super) fn decode(body: Bytes, message: &'static str) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, message);
        // No count on the wire; each field costs at least two bytes, so the list is
        // bounded by the body.
        let mut fields = Vec::new();
        loop {
            let code = r.u8()?;
            if code == 0 {
                break;
            }
            let value = r.cstr_bytes()?;
            fields.push((code, String::from_utf8_lossy(&value).into_owned()));
        }
        r.finish()?;
        Ok(Self { fields })
    }
}

impl<C: Into<u8>, V: Into<String>> FromIterator<(C, V)> for ErrorFields {
    fn from_iter<I: IntoIterator<Item = (C, V)>>(iter: I) -> Self {
        Self {
            fields: iter
                .into_iter()
                .map(|(c, v)| (c.into(), v.into()))
                .collect(),
        }
    }
}

impl<'a> IntoIterator for &'a ErrorFields {
    type Item = (u8, &'a str);
    type IntoIter = ErrorFieldsIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the `(code, value)` pairs of [`ErrorFields`].
#[derive(Debug, Clone)]
pub struct ErrorFieldsIter<'a> {
    inner: core::slice::Iter<'a, (u8, String)>,
}

impl<'a> Iterator for ErrorFieldsIter<'a> {
    type Item = (u8, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(c, v)| (*c, v.as_str()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for ErrorFieldsIter<'_> {}

/// ErrorResponse (`E`): a command failed, or (severity `FATAL`, `PANIC`) the session is
/// ending.
///
/// Derefs to its [`ErrorFields`], so `err.code()` and `err.message()` work directly.
/// An ErrorResponse arriving before TLS is established comes from an unauthenticated
/// peer: its text should not be shown to users as if the server said it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ErrorResponse(pub ErrorFields);

impl Deref for ErrorResponse {
    type Target = ErrorFields;

    fn deref(&self) -> &ErrorFields {
        &self.0
    }
}

impl From<ErrorFields> for ErrorResponse {
    fn from(fields: ErrorFields) -> Self {
        Self(fields)
    }
}

impl From<ErrorResponse> for ErrorFields {
    fn from(e: ErrorResponse) -> Self {
        e.0
    }
}

impl Message for ErrorResponse {
    const TAG: Option<u8> = Some(b'E');
    const NAME: &'static str = "ErrorResponse";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        self.0.encode_body(buf, Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        ErrorFields::decode(body, Self::NAME).map(Self)
    }
}

/// Field lists for the property tests of ErrorResponse and NoticeResponse: known and
/// unknown codes, any text.
#[cfg(test)]
pub(super) fn arb_fields() -> impl proptest::strategy::Strategy<Value = ErrorFields> {
    use proptest::prelude::*;

    proptest::collection::vec((1u8.., super::arb_cstring()), 0..10)
        .prop_map(|fields| fields.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use proptest::prelude::*;

    /// Recorded from PostgreSQL 15.18: `SELECT 1/0`.
    const DIVISION_BY_ZERO: &[u8] = b"E\0\0\0ASERROR\0VERROR\0C22012\0Mdivision by zero\0\
Fint.c\0L869\0Rint4div\0\0";

    #[test]
    fn bytes() {
        // 'E', Int32 length 65, then (Byte1 code, String value)* and a 0 byte.
        let err = ErrorResponse(
            [
                (b'S', "ERROR"),
                (b'V', "ERROR"),
                (b'C', "22012"),
                (b'M', "division by zero"),
                (b'F', "int.c"),
                (b'L', "869"),
                (b'R', "int4div"),
            ]
            .into_iter()
            .collect(),
        );
        roundtrip(&err, Some(DIVISION_BY_ZERO));
        assert_eq!(err.severity(), Some("ERROR"));
        assert_eq!(err.severity_localized(), Some("ERROR"));
        assert_eq!(err.code(), Some("22012"));
        assert_eq!(err.message(), Some("division by zero"));
        assert_eq!(err.file(), Some("int.c"));
        assert_eq!(err.line(), Some(869));
        assert_eq!(err.routine(), Some("int4div"));
        assert_eq!(err.detail(), None);
        assert_eq!(err.position(), None);
        assert_eq!(err.len(), 7);
        // 'E', Int32 length 5, only the terminator.
        roundtrip(&ErrorResponse::default(), Some(b"E\0\0\0\x05\0"));
    }

    #[test]
    fn every_documented_code() {
        let mut f = ErrorFields::new();
        for (code, value) in [
            (b'S', "FEHLER"),
            (b'V', "ERROR"),
            (b'C', "23505"),
            (
                b'M',
                "duplicate key value violates unique constraint \"t_pkey\"",
            ),
            (b'D', "Key (id)=(1) already exists."),
            (b'H', "try another id"),
            (b'P', "15"),
            (b'p', "3"),
            (b'q', "SELECT x"),
            (b'W', "PL/pgSQL function f() line 3 at SQL statement"),
            (b's', "public"),
            (b't', "t"),
            (b'c', "id"),
            (b'd', "integer"),
            (b'n', "t_pkey"),
            (b'F', "nbtinsert.c"),
            (b'L', "666"),
            (b'R', "_bt_check_unique"),
        ] {
            f.push(code, value);
        }
        let f = ErrorFields::decode(encoded_body(&f), "ErrorResponse").unwrap();
        assert_eq!(f.severity_localized(), Some("FEHLER"));
        assert_eq!(f.severity(), Some("ERROR"));
        assert_eq!(f.code(), Some("23505"));
        assert_eq!(
            f.message(),
            Some("duplicate key value violates unique constraint \"t_pkey\"")
        );
        assert_eq!(f.detail(), Some("Key (id)=(1) already exists."));
        assert_eq!(f.hint(), Some("try another id"));
        assert_eq!(f.position(), Some(15));
        assert_eq!(f.internal_position(), Some(3));
        assert_eq!(f.internal_query(), Some("SELECT x"));
        assert_eq!(
            f.where_(),
            Some("PL/pgSQL function f() line 3 at SQL statement")
        );
        assert_eq!(f.schema(), Some("public"));
        assert_eq!(f.table(), Some("t"));
        assert_eq!(f.column(), Some("id"));
        assert_eq!(f.data_type(), Some("integer"));
        assert_eq!(f.constraint(), Some("t_pkey"));
        assert_eq!(f.file(), Some("nbtinsert.c"));
        assert_eq!(f.line(), Some(666));
        assert_eq!(f.routine(), Some("_bt_check_unique"));
        assert_eq!(f.iter().len(), 18);
    }

    fn encoded_body(f: &ErrorFields) -> Bytes {
        let mut buf = BytesMut::new();
        f.encode_body(&mut buf, "ErrorResponse").unwrap();
        buf.freeze()
    }

    #[test]
    fn severity_falls_back_to_localized() {
        // PgBouncer 1.18: no `V` field.
        let f = ErrorFields::decode(
            Bytes::from_static(b"SERROR\0C08P01\0Mbad packet header\0\0"),
            "ErrorResponse",
        )
        .unwrap();
        assert_eq!(f.severity(), Some("ERROR"));
        assert_eq!(f.code(), Some("08P01"));
        assert_eq!(ErrorFields::new().severity(), None);
    }

    #[test]
    fn unknown_codes_are_kept_in_order() {
        let f = ErrorFields::decode(
            Bytes::from_static(b"SERROR\0Xextra\0\x01one\0M\0\0"),
            "ErrorResponse",
        )
        .unwrap();
        assert_eq!(f.get(b'X'), Some("extra"));
        assert_eq!(f.get(1), Some("one"));
        assert_eq!(f.message(), Some(""));
        assert_eq!(
            f.iter().collect::<Vec<_>>(),
            alloc::vec![(b'S', "ERROR"), (b'X', "extra"), (1, "one"), (b'M', "")]
        );
    }

    #[test]
    fn text_is_lossy_utf8() {
        // A LATIN1 server before client_encoding applies: "Fehler: ungültig".
        let f = ErrorFields::decode(
            Bytes::from_static(b"SFATAL\0Mung\xfcltig\0\0"),
            "ErrorResponse",
        )
        .unwrap();
        assert_eq!(f.message(), Some("ung\u{fffd}ltig"));
    }

    #[test]
    fn numbers_that_are_not() {
        let f: ErrorFields = [(b'P', "x"), (b'L', "-1"), (b'p', "99999999999")]
            .into_iter()
            .collect();
        assert_eq!(f.position(), None);
        assert_eq!(f.line(), None);
        assert_eq!(f.internal_position(), None);
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| ErrorResponse::decode(Bytes::from_static(b));
        let truncated = Err(ProtocolError::Truncated {
            message: "ErrorResponse",
        });
        // No terminating zero byte.
        assert_eq!(decode(b""), truncated);
        assert_eq!(decode(b"SERROR\0"), truncated);
        // A value without its NUL.
        assert_eq!(
            decode(b"SERROR"),
            Err(ProtocolError::MissingNul {
                message: "ErrorResponse"
            })
        );
        assert_eq!(
            decode(b"SERROR\0\0S"),
            Err(ProtocolError::TrailingData {
                message: "ErrorResponse"
            })
        );
    }

    #[test]
    fn encode_refuses_what_cannot_be_framed() {
        let mut buf = BytesMut::new();
        let zero: ErrorFields = [(0u8, "x")].into_iter().collect();
        assert_eq!(
            ErrorResponse(zero).encode(&mut buf),
            Err(EncodeError::InvalidValue {
                message: "ErrorResponse",
                field: "field code"
            })
        );
        let nul: ErrorFields = [(b'M', "a\0b")].into_iter().collect();
        assert_eq!(
            ErrorResponse(nul).encode(&mut buf),
            Err(EncodeError::NulInString {
                message: "ErrorResponse"
            })
        );
        assert!(buf.is_empty());
    }

    proptest! {
        #[test]
        fn roundtrips(fields in arb_fields()) {
            roundtrip(&ErrorResponse(fields), None);
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = ErrorResponse::decode(Bytes::from(body));
        }
    }
}
