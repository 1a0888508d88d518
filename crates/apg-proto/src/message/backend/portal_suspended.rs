//! PortalSuspended: an Execute reached its row limit.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PORTALSUSPENDED>

empty_message! {
    /// PortalSuspended (`s`): the Execute returned as many rows as its limit allowed and the
    /// portal may have more; execute it again (in the same transaction) to continue.
    ///
    /// It ends the Execute in place of CommandComplete. PostgreSQL sends it even when
    /// exactly the limit remained; the next Execute then returns no rows and the
    /// CommandComplete.
    PortalSuspended, b's'
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
        // 's', Int32 length 4, no body.
        roundtrip(&PortalSuspended, Some(b"s\0\0\0\x04"));
    }

    proptest! {
        #[test]
        fn any_body_byte_is_refused(body in proptest::collection::vec(any::<u8>(), 1..16)) {
            prop_assert_eq!(
                PortalSuspended::decode(Bytes::from(body)),
                Err(ProtocolError::TrailingData { message: "PortalSuspended" })
            );
        }
    }
}
