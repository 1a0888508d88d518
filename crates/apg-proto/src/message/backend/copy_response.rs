//! The body shared by CopyInResponse, CopyOutResponse and CopyBothResponse.
//!
//! ```text
//! Int8   overall format: 0 text, 1 binary
//! Int16  number of columns N
//! Int16  format of each column, N times (all 0 when the overall format is text)
//! ```

use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_count, Format, Reader};

/// Appends the overall format, the column count and the column formats.
pub(super) fn encode(
    buf: &mut BytesMut,
    format: Format,
    column_formats: &[Format],
    message: &'static str,
) -> Result<(), EncodeError> {
    // The overall format is an Int8 holding the same 0/1 code as the Int16 ones.
    buf.put_u8(match format {
        Format::Text => 0,
        Format::Binary => 1,
    });
    put_count(buf, column_formats.len(), message)?;
    for f in column_formats {
        buf.put_i16(f.code());
    }
    Ok(())
}

/// Reads the overall format and the column formats; the body must hold nothing else.
pub(super) fn decode(
    body: Bytes,
    message: &'static str,
) -> Result<(Format, Vec<Format>), ProtocolError> {
    let mut r = Reader::new(body, message);
    let format = Format::from_code(i16::from(r.u8()?), message, "overall format")?;
    // Read as unsigned, like every Int16 count of the protocol.
    let count = usize::from(r.u16()?);
    // Two bytes per column: refuse a count the body cannot hold before reserving for it.
    if r.remaining() < count.saturating_mul(2) {
        return Err(r.truncated());
    }
    let mut column_formats = Vec::with_capacity(count);
    for _ in 0..count {
        column_formats.push(Format::from_code(r.i16()?, message, "column format")?);
    }
    r.finish()?;
    Ok((format, column_formats))
}

/// Values for the three messages' property tests.
#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = (Format, Vec<Format>)> {
    use proptest::prelude::*;

    let format = || prop_oneof![Just(Format::Text), Just(Format::Binary)];
    (format(), proptest::collection::vec(format(), 0..12))
}

/// The tests of CopyInResponse, CopyOutResponse and CopyBothResponse: the same body,
/// checked once per message with its own type and tag.
#[cfg(test)]
macro_rules! copy_response_tests {
    ($ty:ident, $tag:literal) => {
        mod tests {
            use super::*;
            use crate::message::test_util::roundtrip;
            use alloc::vec;
            use proptest::prelude::*;

            #[test]
            fn bytes() {
                // Tag, Int32 length 11, Int8 0 (text), Int16 2 columns, Int16 0, Int16 0.
                roundtrip(
                    &$ty {
                        format: Format::Text,
                        column_formats: vec![Format::Text; 2],
                    },
                    Some(&[$tag, 0, 0, 0, 0x0b, 0, 0, 2, 0, 0, 0, 0][..]),
                );
                // Tag, Int32 length 9, Int8 1 (binary), Int16 1 column, Int16 1.
                roundtrip(
                    &$ty {
                        format: Format::Binary,
                        column_formats: vec![Format::Binary],
                    },
                    Some(&[$tag, 0, 0, 0, 0x09, 1, 0, 1, 0, 1][..]),
                );
                // Tag, Int32 length 7, Int8 0, Int16 0 columns.
                roundtrip(&$ty::default(), Some(&[$tag, 0, 0, 0, 0x07, 0, 0, 0][..]));
            }

            #[test]
            fn malformed() {
                let decode = |b: &'static [u8]| $ty::decode(Bytes::from_static(b));
                let invalid = |field| {
                    Err(ProtocolError::InvalidValue {
                        message: stringify!($ty),
                        field,
                    })
                };
                assert_eq!(decode(b"\x02\0\0"), invalid("overall format"));
                assert_eq!(decode(b"\0\0\x01\0\x02"), invalid("column format"));
                assert_eq!(decode(b"\0\0\x01\xff\xff"), invalid("column format"));
                let truncated = Err(ProtocolError::Truncated {
                    message: stringify!($ty),
                });
                assert_eq!(decode(b""), truncated);
                assert_eq!(decode(b"\0\0"), truncated);
                // 65 535 columns announced, one present: refused before reserving room for them.
                assert_eq!(decode(b"\0\xff\xff\0\0"), truncated);
                assert_eq!(
                    decode(b"\0\0\x01\0\0\0"),
                    Err(ProtocolError::TrailingData {
                        message: stringify!($ty)
                    })
                );
            }

            #[test]
            fn too_many_columns() {
                let mut buf = BytesMut::new();
                let msg = $ty {
                    format: Format::Text,
                    column_formats: vec![Format::Text; 65_536],
                };
                assert_eq!(
                    msg.encode(&mut buf),
                    Err(EncodeError::TooManyValues {
                        message: stringify!($ty),
                        count: 65_536
                    })
                );
                assert!(buf.is_empty());
            }

            proptest! {
                #[test]
                fn roundtrips(msg in arb()) {
                    roundtrip(&msg, None);
                }
            }
        }
    };
}
#[cfg(test)]
pub(super) use copy_response_tests;
