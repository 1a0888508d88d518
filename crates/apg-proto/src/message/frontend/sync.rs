//! Sync: ends an extended-query sync group.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SYNC>

empty_message! {
    /// Sync (`S`): closes the current implicit transaction of the extended query protocol
    /// (committing it, or rolling it back after an error) and asks for a ReadyForQuery.
    ///
    /// After an error the server skips every message up to the next Sync, so a Sync is also
    /// the point where a pipeline resynchronises.
    Sync, b'S'
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
        // 'S', Int32 length 4, no body.
        roundtrip(&Sync, Some(b"S\0\0\0\x04"));
    }

    #[test]
    fn body_must_be_empty() {
        assert_eq!(
            Sync::decode(Bytes::from_static(b"x")),
            Err(ProtocolError::TrailingData { message: "Sync" })
        );
    }

    proptest! {
        #[test]
        fn any_body_is_trailing_data(body in proptest::collection::vec(any::<u8>(), 1..16)) {
            prop_assert_eq!(
                Sync::decode(Bytes::from(body)),
                Err(ProtocolError::TrailingData { message: "Sync" })
            );
        }
    }
}
