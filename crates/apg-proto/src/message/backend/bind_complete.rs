//! BindComplete: the server bound a portal.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BINDCOMPLETE>

empty_message! {
    /// BindComplete (`2`): the Bind succeeded and the portal exists.
    ///
    /// In a pipeline it is the first answer to Bind; after an error earlier in the same
    /// sync group the server skips the Bind and sends nothing.
    BindComplete, b'2'
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
        // '2', Int32 length 4, no body.
        roundtrip(&BindComplete, Some(b"2\0\0\0\x04"));
    }

    proptest! {
        #[test]
        fn any_body_byte_is_refused(body in proptest::collection::vec(any::<u8>(), 1..16)) {
            prop_assert_eq!(
                BindComplete::decode(Bytes::from(body)),
                Err(ProtocolError::TrailingData { message: "BindComplete" })
            );
        }
    }
}
