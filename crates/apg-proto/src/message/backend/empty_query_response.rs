//! EmptyQueryResponse: the query string held no statement.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-EMPTYQUERYRESPONSE>

empty_message! {
    /// EmptyQueryResponse (`I`): answers an empty (or whitespace-only) query string
    /// *instead of* CommandComplete, in the simple protocol and for an Execute of a portal
    /// made from an empty string.
    EmptyQueryResponse, b'I'
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
        // 'I', Int32 length 4, no body.
        roundtrip(&EmptyQueryResponse, Some(b"I\0\0\0\x04"));
    }

    proptest! {
        #[test]
        fn any_body_byte_is_refused(body in proptest::collection::vec(any::<u8>(), 1..16)) {
            prop_assert_eq!(
                EmptyQueryResponse::decode(Bytes::from(body)),
                Err(ProtocolError::TrailingData { message: "EmptyQueryResponse" })
            );
        }
    }
}
