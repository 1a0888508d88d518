//! ParameterDescription: the parameter types of a described statement.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARAMETERDESCRIPTION>

use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_count, Message, Oid, Reader};

/// ParameterDescription (`t`): the type of each parameter of a prepared statement,
/// answering Describe of a statement (before its RowDescription or NoData).
///
/// The count is an Int16 the server treats as unsigned: a statement may have up to
/// 65 535 parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ParameterDescription {
    /// The type OID of each parameter, in order (`$1` first).
    pub types: Vec<Oid>,
}

impl Message for ParameterDescription {
    const TAG: Option<u8> = Some(b't');
    const NAME: &'static str = "ParameterDescription";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_count(buf, self.types.len(), Self::NAME)?;
        for oid in &self.types {
            buf.put_u32(*oid);
        }
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let count = usize::from(r.u16()?);
        // Four bytes per OID: refuse a count the body cannot hold before reserving.
        if r.remaining() < count.saturating_mul(4) {
            return Err(r.truncated());
        }
        let mut types = Vec::with_capacity(count);
        for _ in 0..count {
            types.push(r.u32()?);
        }
        r.finish()?;
        Ok(Self { types })
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = ParameterDescription> {
    use proptest::prelude::*;

    proptest::collection::vec(any::<Oid>(), 0..16).prop_map(|types| ParameterDescription { types })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 't', Int32 length 14, Int16 2, Int32 23 (int4), Int32 25 (text).
        roundtrip(
            &ParameterDescription {
                types: vec![23, 25],
            },
            Some(b"t\0\0\0\x0e\0\x02\0\0\0\x17\0\0\0\x19"),
        );
        // 't', Int32 length 6, Int16 0.
        roundtrip(&ParameterDescription::default(), Some(b"t\0\0\0\x06\0\0"));
    }

    #[test]
    fn the_most_parameters() {
        // 65 535 parameters: the count's bit pattern is that of -1 as an Int16.
        let desc = ParameterDescription {
            types: vec![25; 65_535],
        };
        let bytes = roundtrip(&desc, None);
        assert_eq!(&bytes[5..7], b"\xff\xff");
        let mut buf = BytesMut::new();
        assert_eq!(
            ParameterDescription {
                types: vec![25; 65_536],
            }
            .encode(&mut buf),
            Err(EncodeError::TooManyValues {
                message: "ParameterDescription",
                count: 65_536
            })
        );
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| ParameterDescription::decode(Bytes::from_static(b));
        let truncated = Err(ProtocolError::Truncated {
            message: "ParameterDescription",
        });
        assert_eq!(decode(b""), truncated);
        assert_eq!(decode(b"\0\x01\0\0\0"), truncated);
        // 65 535 parameters announced in a 6-byte body: nothing reserved for them.
        assert_eq!(decode(b"\xff\xff\0\0\0\x17"), truncated);
        assert_eq!(
            decode(b"\0\x01\0\0\0\x17\0"),
            Err(ProtocolError::TrailingData {
                message: "ParameterDescription"
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
