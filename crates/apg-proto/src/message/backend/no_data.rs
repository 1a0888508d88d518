//! NoData: the described statement or portal returns no rows.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NODATA>

empty_message! {
    /// NoData (`n`): sent instead of a RowDescription when a Describe names a statement or
    /// portal that returns no rows (an INSERT without RETURNING, a DDL command, ...).
    NoData, b'n'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;
    use crate::message::test_util::roundtrip;
    use crate::message::Message;
    use bytes::Bytes;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'n', Int32 length 4, no body.
        roundtrip(&NoData, Some(b"n\0\0\0\x04"));
    }

    proptest! {
        #[test]
        fn any_body_byte_is_refused(body in proptest::collection::vec(any::<u8>(), 1..16)) {
            prop_assert_eq!(
                NoData::decode(Bytes::from(body)),
                Err(ProtocolError::TrailingData { message: "NoData" })
            );
        }
    }
}
