//! NotificationResponse: a NOTIFY on a channel the session listens to.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NOTIFICATIONRESPONSE>

use alloc::string::String;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, Message, Reader};

/// NotificationResponse (`A`): another (or the same) session ran `NOTIFY channel,
/// 'payload'` on a channel this session `LISTEN`s to.
///
/// Asynchronous: PostgreSQL delivers it between transactions today, but the protocol
/// allows it at any time, so it must be accepted in every state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NotificationResponse {
    /// The process id of the notifying backend.
    pub process_id: u32,
    /// The channel name.
    pub channel: String,
    /// The payload; empty when the NOTIFY had none.
    pub payload: String,
}

impl Message for NotificationResponse {
    const TAG: Option<u8> = Some(b'A');
    const NAME: &'static str = "NotificationResponse";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u32(self.process_id);
        put_cstr(buf, self.channel.as_bytes(), Self::NAME)?;
        put_cstr(buf, self.payload.as_bytes(), Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let process_id = r.u32()?;
        let channel = r.cstr()?;
        let payload = r.cstr()?;
        r.finish()?;
        Ok(Self {
            process_id,
            channel,
            payload,
        })
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = NotificationResponse> {
    use proptest::prelude::*;

    (any::<u32>(), super::arb_cstring(), super::arb_cstring()).prop_map(
        |(process_id, channel, payload)| NotificationResponse {
            process_id,
            channel,
            payload,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'A', Int32 length 21, Int32 process id, String channel, String payload.
        roundtrip(
            &NotificationResponse {
                process_id: 6945,
                channel: "chan".into(),
                payload: "payload".into(),
            },
            Some(b"A\0\0\0\x15\0\0\x1b\x21chan\0payload\0"),
        );
        // 'A', Int32 length 11, Int32 process id, String "c", String "".
        roundtrip(
            &NotificationResponse {
                process_id: 1,
                channel: "c".into(),
                payload: String::new(),
            },
            Some(b"A\0\0\0\x0b\0\0\0\x01c\0\0"),
        );
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| NotificationResponse::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"\0\0\x1b"),
            Err(ProtocolError::Truncated {
                message: "NotificationResponse"
            })
        );
        let missing_nul = Err(ProtocolError::MissingNul {
            message: "NotificationResponse",
        });
        assert_eq!(decode(b"\0\0\0\x01chan"), missing_nul);
        assert_eq!(decode(b"\0\0\0\x01chan\0payload"), missing_nul);
        assert_eq!(
            decode(b"\0\0\0\x01chan\0payload\0\0"),
            Err(ProtocolError::TrailingData {
                message: "NotificationResponse"
            })
        );
        assert_eq!(
            decode(b"\0\0\0\x01chan\0\xc3\0"),
            Err(ProtocolError::InvalidUtf8 {
                message: "NotificationResponse"
            })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(msg in arb()) {
            roundtrip(&msg, None);
        }
    }
}
