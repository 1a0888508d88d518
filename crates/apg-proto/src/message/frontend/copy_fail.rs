//! CopyFail: aborts a COPY FROM STDIN.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYFAIL>

use alloc::string::String;

use bytes::{Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, Message, Reader};

use super::{check_small_body, MAX_SMALL_MESSAGE_LEN};

/// Longest reason that keeps the length field (itself, the reason and its NUL) within
/// the server's small-message limit.
const MAX_REASON_LEN: usize = MAX_SMALL_MESSAGE_LEN - 5;

/// CopyFail (`f`): the client gives up on a COPY FROM STDIN; the server answers with an
/// ErrorResponse carrying `message`.
///
/// Only send it in copy-in mode: PostgreSQL ignores it elsewhere, but other servers
/// may answer and desynchronise the session. In the extended protocol a Sync must follow.
///
/// The server ends the session on a CopyFail longer than
/// [`MAX_SMALL_MESSAGE_LEN`]: a reason that would exceed it is **truncated** when
/// encoding (on a UTF-8 character boundary, to at most 9 995 bytes), so a long
/// user-supplied reason cannot kill the connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyFail {
    /// Why the copy failed; it cannot contain NUL.
    pub message: String,
}

impl CopyFail {
    /// The part of `message` that is sent: all of it, or its longest prefix that ends
    /// on a character boundary and fits the small-message limit.
    pub fn sent_message(&self) -> &str {
        let mut end = self.message.len().min(MAX_REASON_LEN);
        // A boundary is at most 3 bytes back from any index in valid UTF-8.
        while !self.message.is_char_boundary(end) {
            end -= 1;
        }
        self.message.get(..end).unwrap_or_default()
    }
}

impl Message for CopyFail {
    const TAG: Option<u8> = Some(b'f');
    const NAME: &'static str = "CopyFail";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_cstr(buf, self.sent_message().as_bytes(), Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        check_small_body(b'f', &body)?;
        let mut r = Reader::new(body, Self::NAME);
        let message = r.cstr()?;
        r.finish()?;
        Ok(Self { message })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = CopyFail> {
    use proptest::prelude::*;
    super::strategy::cstring().prop_map(|message| CopyFail { message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use crate::message::{split_frame, DEFAULT_MAX_MESSAGE_LEN};
    use alloc::string::ToString;
    use proptest::prelude::*;

    fn encode_and_decode(m: &CopyFail) -> (BytesMut, CopyFail) {
        let mut buf = BytesMut::new();
        m.encode(&mut buf).unwrap();
        let encoded = buf.clone();
        let frame = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
            .unwrap()
            .unwrap();
        (encoded, CopyFail::decode(frame.body).unwrap())
    }

    #[test]
    fn bytes() {
        // 'f', Int32 length 4 + 10, "bad input\0".
        roundtrip(
            &CopyFail {
                message: "bad input".into(),
            },
            Some(b"f\0\0\0\x0ebad input\0"),
        );
        roundtrip(&CopyFail::default(), Some(b"f\0\0\0\x05\0"));
    }

    #[test]
    fn long_reason_is_truncated_to_the_small_message_limit() {
        // A 20 000-byte reason would make PostgreSQL end the session
        // ("invalid message length", then FATAL).
        let m = CopyFail {
            message: "x".repeat(20_000),
        };
        let (encoded, decoded) = encode_and_decode(&m);
        let len = u32::from_be_bytes([encoded[1], encoded[2], encoded[3], encoded[4]]);
        // The server checks the length field, which does not count the type byte.
        assert_eq!(usize::try_from(len).unwrap(), MAX_SMALL_MESSAGE_LEN);
        assert_eq!(encoded.len(), MAX_SMALL_MESSAGE_LEN + 1);
        assert_eq!(decoded.message, "x".repeat(MAX_REASON_LEN));
        assert_eq!(decoded.message, m.sent_message());
        // What decodes encodes unchanged.
        assert_eq!(encode_and_decode(&decoded).1, decoded);

        // Exactly at the limit: sent as is.
        let at_limit = CopyFail {
            message: "y".repeat(MAX_REASON_LEN),
        };
        roundtrip(&at_limit, None);
    }

    #[test]
    fn truncation_keeps_utf8_whole() {
        // 'é' is 2 bytes and '€' 3: place them across the cut.
        for prefix in 0..4 {
            let mut message = "a".repeat(MAX_REASON_LEN - prefix);
            while message.len() < 20_000 {
                message.push('€');
                message.push('é');
            }
            let m = CopyFail { message };
            let (encoded, decoded) = encode_and_decode(&m);
            assert!(encoded.len() <= MAX_SMALL_MESSAGE_LEN + 1);
            assert!(decoded.message.len() > MAX_REASON_LEN - 3);
            assert!(m.message.starts_with(&decoded.message));
        }
    }

    #[test]
    fn nul_refused() {
        let mut buf = BytesMut::new();
        assert_eq!(
            CopyFail {
                message: "a\0b".to_string(),
            }
            .encode(&mut buf),
            Err(EncodeError::NulInString {
                message: "CopyFail"
            })
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| CopyFail::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"oops"),
            Err(ProtocolError::MissingNul {
                message: "CopyFail"
            })
        );
        assert_eq!(
            decode(b"oops\0!"),
            Err(ProtocolError::TrailingData {
                message: "CopyFail"
            })
        );
        let long = Bytes::from(alloc::vec![b'x'; MAX_SMALL_MESSAGE_LEN]);
        assert_eq!(
            CopyFail::decode(long),
            Err(ProtocolError::MessageTooLarge {
                tag: b'f',
                len: MAX_SMALL_MESSAGE_LEN + 4,
                max: MAX_SMALL_MESSAGE_LEN
            })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }

        #[test]
        fn never_exceeds_the_limit(s in "[^\\x00]{9990,10010}") {
            let m = CopyFail { message: s };
            let (encoded, decoded) = encode_and_decode(&m);
            prop_assert!(encoded.len() - 1 <= MAX_SMALL_MESSAGE_LEN);
            prop_assert!(m.message.starts_with(&decoded.message));
        }
    }
}
