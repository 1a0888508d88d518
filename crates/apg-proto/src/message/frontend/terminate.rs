//! Terminate: the client is closing the connection.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-TERMINATE>

empty_message! {
    /// Terminate (`X`): the client is about to close the connection; the server ends the
    /// session without an answer.
    Terminate, b'X'
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
        // 'X', Int32 length 4, no body.
        roundtrip(&Terminate, Some(b"X\0\0\0\x04"));
    }

    proptest! {
        #[test]
        fn any_body_is_trailing_data(body in proptest::collection::vec(any::<u8>(), 1..16)) {
            prop_assert_eq!(
                Terminate::decode(Bytes::from(body)),
                Err(ProtocolError::TrailingData { message: "Terminate" })
            );
        }
    }
}
