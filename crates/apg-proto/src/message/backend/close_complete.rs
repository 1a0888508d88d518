//! CloseComplete: the server closed a prepared statement or portal.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CLOSECOMPLETE>

empty_message! {
    /// CloseComplete (`3`): the Close succeeded.
    ///
    /// Closing a statement or portal that does not exist is not an error: the server
    /// answers CloseComplete all the same.
    CloseComplete, b'3'
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
        // '3', Int32 length 4, no body.
        roundtrip(&CloseComplete, Some(b"3\0\0\0\x04"));
    }

    proptest! {
        #[test]
        fn any_body_byte_is_refused(body in proptest::collection::vec(any::<u8>(), 1..16)) {
            prop_assert_eq!(
                CloseComplete::decode(Bytes::from(body)),
                Err(ProtocolError::TrailingData { message: "CloseComplete" })
            );
        }
    }
}
