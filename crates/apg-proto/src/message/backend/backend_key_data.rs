//! BackendKeyData: the key a client needs to cancel this session's queries.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BACKENDKEYDATA>

use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{Message, Reader};

/// BackendKeyData (`K`): the process id and secret key to put in a CancelRequest.
///
/// Protocol 3.0 keys are 4 bytes; protocol 3.2 (PostgreSQL 18) allows up to 256 and
/// PostgreSQL sends 32. Decoding accepts any length in between; whether the length fits
/// the negotiated version is for the connection to check.
///
/// `Debug` does not print the key: anyone holding it can cancel the session's queries,
/// so it must not end up in logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BackendKeyData {
    /// The backend's process id.
    pub process_id: u32,
    /// The secret key, [`MIN_SECRET_KEY_LEN`](Self::MIN_SECRET_KEY_LEN) to
    /// [`MAX_SECRET_KEY_LEN`](Self::MAX_SECRET_KEY_LEN) bytes.
    pub secret_key: Bytes,
}

impl BackendKeyData {
    /// The shortest secret key: the only length protocol 3.0 uses.
    pub const MIN_SECRET_KEY_LEN: usize = 4;
    /// The longest secret key protocol 3.2 allows.
    pub const MAX_SECRET_KEY_LEN: usize = 256;

    fn valid_len(len: usize) -> bool {
        (Self::MIN_SECRET_KEY_LEN..=Self::MAX_SECRET_KEY_LEN).contains(&len)
    }
}

impl fmt::Debug for BackendKeyData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted(usize);
        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "<{} bytes>", self.0)
            }
        }
        f.debug_struct("BackendKeyData")
            .field("process_id", &self.process_id)
            .field("secret_key", &Redacted(self.secret_key.len()))
            .finish()
    }
}

impl Message for BackendKeyData {
    const TAG: Option<u8> = Some(b'K');
    const NAME: &'static str = "BackendKeyData";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        if !Self::valid_len(self.secret_key.len()) {
            return Err(EncodeError::InvalidValue {
                message: Self::NAME,
                field: "secret key length",
            });
        }
        buf.put_u32(self.process_id);
        buf.put_slice(&self.secret_key);
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let process_id = r.u32()?;
        // The key is the rest of the message: its length is the frame's.
        let secret_key = r.rest();
        if !Self::valid_len(secret_key.len()) {
            return Err(r.invalid("secret key length"));
        }
        Ok(Self {
            process_id,
            secret_key,
        })
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = BackendKeyData> {
    use proptest::prelude::*;

    (
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 4..=256),
    )
        .prop_map(|(process_id, key)| BackendKeyData {
            process_id,
            secret_key: key.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use alloc::format;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[test]
    fn protocol_3_0_key() {
        // 'K', Int32 length 12, Int32 process id, Byte4 secret key.
        roundtrip(
            &BackendKeyData {
                process_id: 6881,
                secret_key: Bytes::from_static(b"\x73\xce\x86\x34"),
            },
            Some(b"K\0\0\0\x0c\0\0\x1a\xe1\x73\xce\x86\x34"),
        );
    }

    #[test]
    fn protocol_3_2_key() {
        // 'K', Int32 length 40, Int32 process id, Byte32 secret key (PostgreSQL 18).
        let key: Vec<u8> = (1..=32).collect();
        let mut expected = Vec::from(&b"K\0\0\0\x28\0\0\x30\x39"[..]);
        expected.extend_from_slice(&key);
        roundtrip(
            &BackendKeyData {
                process_id: 12345,
                secret_key: key.clone().into(),
            },
            Some(&expected),
        );
        // The longest key allowed.
        roundtrip(
            &BackendKeyData {
                process_id: 1,
                secret_key: Bytes::from(alloc::vec![0xab; 256]),
            },
            None,
        );
    }

    #[test]
    fn key_length_is_bounded() {
        let invalid = Err(ProtocolError::InvalidValue {
            message: "BackendKeyData",
            field: "secret key length",
        });
        assert_eq!(
            BackendKeyData::decode(Bytes::from_static(b"\0\0\0\x01abc")),
            invalid
        );
        assert_eq!(
            BackendKeyData::decode(Bytes::from_static(b"\0\0\0\x01")),
            invalid
        );
        let mut long = Vec::from(&b"\0\0\0\x01"[..]);
        long.resize(4 + 257, 7);
        assert_eq!(BackendKeyData::decode(long.into()), invalid);
        assert_eq!(
            BackendKeyData::decode(Bytes::from_static(b"\0\0\0")),
            Err(ProtocolError::Truncated {
                message: "BackendKeyData"
            })
        );

        let mut buf = BytesMut::new();
        for len in [0, 3, 257] {
            let key = BackendKeyData {
                process_id: 1,
                secret_key: Bytes::from(alloc::vec![0; len]),
            };
            assert_eq!(
                key.encode(&mut buf),
                Err(EncodeError::InvalidValue {
                    message: "BackendKeyData",
                    field: "secret key length"
                })
            );
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn debug_hides_the_key() {
        let key = BackendKeyData {
            process_id: 42,
            secret_key: Bytes::from_static(b"\x73\xce\x86\x34"),
        };
        assert_eq!(
            format!("{key:?}"),
            "BackendKeyData { process_id: 42, secret_key: <4 bytes> }"
        );
    }

    proptest! {
        #[test]
        fn roundtrips(key in arb()) {
            roundtrip(&key, None);
        }
    }
}
