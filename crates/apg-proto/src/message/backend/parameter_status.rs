//! ParameterStatus: the current value of a run-time parameter.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARAMETERSTATUS>

use alloc::string::String;

use bytes::{Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, Message, Reader};

/// ParameterStatus (`S`): a run-time parameter the server reports, and its value.
///
/// Sent for every reported parameter during start-up, then whenever one changes
/// (including a `SET` rolled back, which reports the restored value), so it may arrive
/// at any time. The set of names grows with server versions (`in_hot_standby` since 14,
/// `search_path` since 18, ...) and middleware adds its own: unknown names are normal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ParameterStatus {
    /// The parameter's name (`server_version`, `TimeZone`, `in_hot_standby`, ...).
    pub name: String,
    /// Its current value.
    pub value: String,
}

impl Message for ParameterStatus {
    const TAG: Option<u8> = Some(b'S');
    const NAME: &'static str = "ParameterStatus";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_cstr(buf, self.name.as_bytes(), Self::NAME)?;
        put_cstr(buf, self.value.as_bytes(), Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let name = r.cstr()?;
        let value = r.cstr()?;
        r.finish()?;
        Ok(Self { name, value })
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = ParameterStatus> {
    use proptest::strategy::Strategy;

    (super::arb_cstring(), super::arb_cstring())
        .prop_map(|(name, value)| ParameterStatus { name, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'S', Int32 length 23, String name, String value.
        roundtrip(
            &ParameterStatus {
                name: "in_hot_standby".into(),
                value: "off".into(),
            },
            Some(b"S\0\0\0\x17in_hot_standby\0off\0"),
        );
        // Empty strings are legal (an unset application_name).
        roundtrip(
            &ParameterStatus {
                name: "application_name".into(),
                value: String::new(),
            },
            Some(b"S\0\0\0\x16application_name\0\0"),
        );
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| ParameterStatus::decode(Bytes::from_static(b));
        let missing_nul = Err(ProtocolError::MissingNul {
            message: "ParameterStatus",
        });
        assert_eq!(decode(b""), missing_nul);
        assert_eq!(decode(b"TimeZone"), missing_nul);
        assert_eq!(decode(b"TimeZone\0UTC"), missing_nul);
        assert_eq!(
            decode(b"TimeZone\0UTC\0x"),
            Err(ProtocolError::TrailingData {
                message: "ParameterStatus"
            })
        );
        assert_eq!(
            decode(b"TimeZone\0\xff\0"),
            Err(ProtocolError::InvalidUtf8 {
                message: "ParameterStatus"
            })
        );
        let mut buf = BytesMut::new();
        assert_eq!(
            ParameterStatus {
                name: "a\0b".into(),
                value: String::new(),
            }
            .encode(&mut buf),
            Err(EncodeError::NulInString {
                message: "ParameterStatus"
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
