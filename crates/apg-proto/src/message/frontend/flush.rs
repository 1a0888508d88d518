//! Flush: asks the server to send what it has buffered.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-FLUSH>

empty_message! {
    /// Flush (`H`): asks the server to send the output it has produced so far, without
    /// ending the sync group the way Sync does.
    ///
    /// Useful after a Describe or an Execute whose results the client needs before it
    /// sends more; the server ignores it during COPY FROM STDIN.
    Flush, b'H'
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
        // 'H', Int32 length 4, no body.
        roundtrip(&Flush, Some(b"H\0\0\0\x04"));
    }

    proptest! {
        #[test]
        fn any_body_is_trailing_data(body in proptest::collection::vec(any::<u8>(), 1..16)) {
            prop_assert_eq!(
                Flush::decode(Bytes::from(body)),
                Err(ProtocolError::TrailingData { message: "Flush" })
            );
        }
    }
}
