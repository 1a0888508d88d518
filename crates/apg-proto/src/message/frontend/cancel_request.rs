//! CancelRequest: asks the server to cancel the query running in another session.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CANCELREQUEST>

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{Message, Reader};

/// CancelRequest (untagged): sent on a *new* connection, instead of a StartupMessage, to
/// cancel whatever the session identified by `process_id` and `secret_key` is running.
///
/// The server answers nothing and closes the connection; whether anything was cancelled
/// is only visible on the original session.
///
/// The key is the one the session received in BackendKeyData: exactly 4 bytes under
/// protocol 3.0, 4 to 256 bytes under 3.2 (PostgreSQL 18 sends 32). This type accepts
/// 4 to 256 bytes; checking the length against the session's protocol version belongs
/// to whoever stored the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    /// Process ID of the backend whose query is to be cancelled.
    pub process_id: u32,
    /// The backend's secret key.
    pub secret_key: Bytes,
}

impl CancelRequest {
    /// The request code, `1234 << 16 | 5678`.
    pub const CODE: u32 = 80_877_102;
    /// Shortest secret key: the 4 bytes of protocol 3.0.
    pub const MIN_KEY_LEN: usize = 4;
    /// Longest secret key protocol 3.2 allows.
    pub const MAX_KEY_LEN: usize = 256;

    fn key_len_ok(len: usize) -> bool {
        (Self::MIN_KEY_LEN..=Self::MAX_KEY_LEN).contains(&len)
    }
}

impl Message for CancelRequest {
    const TAG: Option<u8> = None;
    const NAME: &'static str = "CancelRequest";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        if !Self::key_len_ok(self.secret_key.len()) {
            return Err(EncodeError::InvalidValue {
                message: Self::NAME,
                field: "secret key length",
            });
        }
        buf.put_u32(Self::CODE);
        buf.put_u32(self.process_id);
        buf.put_slice(&self.secret_key);
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        if r.u32()? != Self::CODE {
            return Err(r.invalid("request code"));
        }
        let process_id = r.u32()?;
        // The key runs to the end of the packet.
        let secret_key = r.rest();
        if !Self::key_len_ok(secret_key.len()) {
            return Err(r.invalid("secret key length"));
        }
        Ok(Self {
            process_id,
            secret_key,
        })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = CancelRequest> {
    use proptest::prelude::*;
    (
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 4..=256),
    )
        .prop_map(|(process_id, key)| CancelRequest {
            process_id,
            secret_key: Bytes::from(key),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // Int32 length 16, Int32 80877102 (0x04d2162e), Int32 process ID 1234,
        // Byte4 key (protocol 3.0).
        roundtrip(
            &CancelRequest {
                process_id: 1234,
                secret_key: Bytes::from_static(b"\xde\xad\xbe\xef"),
            },
            Some(b"\0\0\0\x10\x04\xd2\x16\x2e\0\0\x04\xd2\xde\xad\xbe\xef"),
        );
        // Protocol 3.2: a 32-byte key, length 4 + 4 + 4 + 32 = 44.
        let key = Bytes::from(vec![0x5a; 32]);
        let encoded = roundtrip(
            &CancelRequest {
                process_id: 7,
                secret_key: key.clone(),
            },
            None,
        );
        assert_eq!(&encoded[..12], b"\0\0\0\x2c\x04\xd2\x16\x2e\0\0\0\x07");
        assert_eq!(&encoded[12..], &key[..]);
    }

    #[test]
    fn key_length_bounds() {
        for len in [0, 3, 257, 1000] {
            let m = CancelRequest {
                process_id: 1,
                secret_key: Bytes::from(vec![1; len]),
            };
            let mut buf = BytesMut::new();
            assert_eq!(
                m.encode(&mut buf),
                Err(EncodeError::InvalidValue {
                    message: "CancelRequest",
                    field: "secret key length"
                }),
                "key of {len} bytes"
            );
            assert!(buf.is_empty());

            let mut body = BytesMut::new();
            body.put_u32(CancelRequest::CODE);
            body.put_u32(1);
            body.put_slice(&vec![1; len]);
            assert_eq!(
                CancelRequest::decode(body.freeze()),
                Err(ProtocolError::InvalidValue {
                    message: "CancelRequest",
                    field: "secret key length"
                }),
                "key of {len} bytes"
            );
        }
        for len in [4, 256] {
            roundtrip(
                &CancelRequest {
                    process_id: 1,
                    secret_key: Bytes::from(vec![1; len]),
                },
                None,
            );
        }
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| CancelRequest::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"\x04\xd2\x16\x2f\0\0\0\x01abcd"),
            Err(ProtocolError::InvalidValue {
                message: "CancelRequest",
                field: "request code"
            })
        );
        // Process ID cut short.
        assert_eq!(
            decode(b"\x04\xd2\x16\x2e\0\0"),
            Err(ProtocolError::Truncated {
                message: "CancelRequest"
            })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
