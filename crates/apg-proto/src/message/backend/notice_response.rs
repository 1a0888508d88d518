//! NoticeResponse: a warning or informational message.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NOTICERESPONSE>

use core::ops::Deref;

use bytes::{Bytes, BytesMut};

use super::ErrorFields;
use crate::error::{EncodeError, ProtocolError};
use crate::message::Message;

/// NoticeResponse (`N`): a warning or informational message, with the same fields as an
/// ErrorResponse.
///
/// Notices are asynchronous: they may arrive at any time, during start-up, between
/// DataRows, during COPY, after an error, while idle. A notice is not a failure, with
/// one exception worth knowing: on an immediate shutdown PostgreSQL sends a
/// NoticeResponse (`57P01`/`57P02`, severity `WARNING`) and then closes the connection.
///
/// Derefs to its [`ErrorFields`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NoticeResponse(pub ErrorFields);

impl Deref for NoticeResponse {
    type Target = ErrorFields;

    fn deref(&self) -> &ErrorFields {
        &self.0
    }
}

impl From<ErrorFields> for NoticeResponse {
    fn from(fields: ErrorFields) -> Self {
        Self(fields)
    }
}

impl From<NoticeResponse> for ErrorFields {
    fn from(n: NoticeResponse) -> Self {
        n.0
    }
}

impl Message for NoticeResponse {
    const TAG: Option<u8> = Some(b'N');
    const NAME: &'static str = "NoticeResponse";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        self.0.encode_body(buf, Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        ErrorFields::decode(body, Self::NAME).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::error_response::arb_fields;
    use super::*;
    use crate::message::test_util::roundtrip;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // The shape of the notice PostgreSQL sends before an immediate shutdown:
        // 'N', Int32 length 45, then (Byte1 code, String value)* and a 0 byte.
        let notice = NoticeResponse(
            [
                (b'S', "WARNING"),
                (b'V', "WARNING"),
                (b'C', "57P01"),
                (b'M', "shutting down"),
            ]
            .into_iter()
            .collect(),
        );
        roundtrip(
            &notice,
            Some(b"N\0\0\0\x2dSWARNING\0VWARNING\0C57P01\0Mshutting down\0\0"),
        );
        assert_eq!(notice.severity(), Some("WARNING"));
        assert_eq!(notice.code(), Some("57P01"));
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| NoticeResponse::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"SNOTICE\0"),
            Err(ProtocolError::Truncated {
                message: "NoticeResponse"
            })
        );
        assert_eq!(
            decode(b"SNOTICE"),
            Err(ProtocolError::MissingNul {
                message: "NoticeResponse"
            })
        );
        assert_eq!(
            decode(b"\0\0"),
            Err(ProtocolError::TrailingData {
                message: "NoticeResponse"
            })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(fields in arb_fields()) {
            roundtrip(&NoticeResponse(fields), None);
        }
    }
}
