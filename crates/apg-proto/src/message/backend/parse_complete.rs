//! ParseComplete: the server prepared a statement.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARSECOMPLETE>

empty_message! {
    /// ParseComplete (`1`): the Parse succeeded and the statement exists.
    ParseComplete, b'1'
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
        // '1', Int32 length 4, no body.
        roundtrip(&ParseComplete, Some(b"1\0\0\0\x04"));
    }

    proptest! {
        #[test]
        fn any_body_byte_is_refused(body in proptest::collection::vec(any::<u8>(), 1..16)) {
            prop_assert_eq!(
                ParseComplete::decode(Bytes::from(body)),
                Err(ProtocolError::TrailingData { message: "ParseComplete" })
            );
        }
    }
}
