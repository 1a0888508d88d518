//! CopyBothResponse: the session entered copy-both mode (streaming replication).
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYBOTHRESPONSE>

use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use super::copy_response;
use crate::error::{EncodeError, ProtocolError};
use crate::message::{Format, Message};

/// CopyBothResponse (`W`): both sides now exchange CopyData until one of them sends
/// CopyDone; used only by streaming replication.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CopyBothResponse {
    /// The overall COPY format: [`Format::Text`] for text and CSV, [`Format::Binary`]
    /// for binary COPY.
    pub format: Format,
    /// The format of each column; all [`Format::Text`] when `format` is text.
    pub column_formats: Vec<Format>,
}

impl Message for CopyBothResponse {
    const TAG: Option<u8> = Some(b'W');
    const NAME: &'static str = "CopyBothResponse";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        copy_response::encode(buf, self.format, &self.column_formats, Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let (format, column_formats) = copy_response::decode(body, Self::NAME)?;
        Ok(Self {
            format,
            column_formats,
        })
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = CopyBothResponse> {
    use proptest::strategy::Strategy;

    copy_response::arb().prop_map(|(format, column_formats)| CopyBothResponse {
        format,
        column_formats,
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
        // 'W', Int32 length 11, Int8 0 (text), Int16 2 columns, Int16 0, Int16 0.
        roundtrip(
            &CopyBothResponse {
                format: Format::Text,
                column_formats: vec![Format::Text; 2],
            },
            Some(b"W\0\0\0\x0b\0\0\x02\0\0\0\0"),
        );
        // 'W', Int32 length 9, Int8 1 (binary), Int16 1 column, Int16 1.
        roundtrip(
            &CopyBothResponse {
                format: Format::Binary,
                column_formats: vec![Format::Binary],
            },
            Some(b"W\0\0\0\x09\x01\0\x01\0\x01"),
        );
        // 'W', Int32 length 7, Int8 0, Int16 0 columns.
        roundtrip(&CopyBothResponse::default(), Some(b"W\0\0\0\x07\0\0\0"));
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| CopyBothResponse::decode(Bytes::from_static(b));
        let invalid = |field| {
            Err(ProtocolError::InvalidValue {
                message: "CopyBothResponse",
                field,
            })
        };
        assert_eq!(decode(b"\x02\0\0"), invalid("overall format"));
        assert_eq!(decode(b"\0\0\x01\0\x02"), invalid("column format"));
        assert_eq!(decode(b"\0\0\x01\xff\xff"), invalid("column format"));
        let truncated = Err(ProtocolError::Truncated {
            message: "CopyBothResponse",
        });
        assert_eq!(decode(b""), truncated);
        assert_eq!(decode(b"\0\0"), truncated);
        // 65 535 columns announced, one present: refused before reserving room for them.
        assert_eq!(decode(b"\0\xff\xff\0\0"), truncated);
        assert_eq!(
            decode(b"\0\0\x01\0\0\0"),
            Err(ProtocolError::TrailingData {
                message: "CopyBothResponse"
            })
        );
    }

    #[test]
    fn too_many_columns() {
        let mut buf = BytesMut::new();
        let msg = CopyBothResponse {
            format: Format::Text,
            column_formats: vec![Format::Text; 65_536],
        };
        assert_eq!(
            msg.encode(&mut buf),
            Err(EncodeError::TooManyValues {
                message: "CopyBothResponse",
                count: 65_536
            })
        );
        assert!(buf.is_empty());
    }

    proptest! {
        #[test]
        fn roundtrips(msg in arb()) {
            roundtrip(&msg, None);
        }
    }
}
