//! CopyDone: the end of a COPY data stream, sent by either side.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYDONE>

empty_message! {
    /// CopyDone (`c`): the sender has no more COPY data.
    CopyDone, b'c'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;
    use crate::message::test_util::roundtrip;
    use crate::message::Message;
    use bytes::Bytes;

    #[test]
    fn bytes() {
        roundtrip(&CopyDone, Some(b"c\0\0\0\x04"));
        assert_eq!(
            CopyDone::decode(Bytes::from_static(b"\0")),
            Err(ProtocolError::TrailingData {
                message: "CopyDone"
            })
        );
    }
}
