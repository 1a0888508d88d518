//! RowDescription: the columns of the rows that follow.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-ROWDESCRIPTION>

use alloc::string::String;
use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_count, put_cstr, Format, Message, Oid, Reader};

/// RowDescription (`T`): the name, type and format of every column of a result.
///
/// Sent before the DataRows of a query, and in answer to Describe of a statement or
/// portal that returns rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RowDescription {
    /// One entry per column, in order.
    pub fields: Vec<FieldDescription>,
}

/// One column of a [`RowDescription`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FieldDescription {
    /// The column name (or the alias given in the query).
    pub name: String,
    /// The OID of the table the column comes from, or 0 for a computed value.
    pub table_oid: Oid,
    /// The column's attribute number in that table, or 0.
    pub column_id: i16,
    /// The OID of the column's data type.
    pub type_oid: Oid,
    /// The type's size (`pg_type.typlen`): negative for variable-width types.
    pub type_size: i16,
    /// The type modifier (`pg_attribute.atttypmod`), type-specific; -1 when none.
    pub type_modifier: i32,
    /// The format of the column's values. Always text in the answer to Describe of a
    /// statement, where the format is not known yet.
    pub format: Format,
}

impl FieldDescription {
    /// The fewest bytes a field takes on the wire: an empty name (its NUL) and the six
    /// fixed-width fields.
    const MIN_LEN: usize = 1 + 4 + 2 + 4 + 2 + 4 + 2;
}

impl Message for RowDescription {
    const TAG: Option<u8> = Some(b'T');
    const NAME: &'static str = "RowDescription";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_count(buf, self.fields.len(), Self::NAME)?;
        for f in &self.fields {
            put_cstr(buf, f.name.as_bytes(), Self::NAME)?;
            buf.put_u32(f.table_oid);
            buf.put_i16(f.column_id);
            buf.put_u32(f.type_oid);
            buf.put_i16(f.type_size);
            buf.put_i32(f.type_modifier);
            buf.put_i16(f.format.code());
        }
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        // Unsigned, like every Int16 count of the protocol.
        let count = usize::from(r.u16()?);
        // Refuse a count the body cannot hold before reserving room for it.
        if r.remaining() < count.saturating_mul(FieldDescription::MIN_LEN) {
            return Err(r.truncated());
        }
        let mut fields = Vec::with_capacity(count);
        for _ in 0..count {
            fields.push(FieldDescription {
                name: r.cstr()?,
                table_oid: r.u32()?,
                column_id: r.i16()?,
                type_oid: r.u32()?,
                type_size: r.i16()?,
                type_modifier: r.i32()?,
                format: Format::from_code(r.i16()?, Self::NAME, "format code")?,
            });
        }
        r.finish()?;
        Ok(Self { fields })
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = RowDescription> {
    use proptest::prelude::*;

    let field = (
        super::arb_cstring(),
        any::<Oid>(),
        any::<i16>(),
        any::<Oid>(),
        any::<i16>(),
        any::<i32>(),
        prop_oneof![Just(Format::Text), Just(Format::Binary)],
    )
        .prop_map(
            |(name, table_oid, column_id, type_oid, type_size, type_modifier, format)| {
                FieldDescription {
                    name,
                    table_oid,
                    column_id,
                    type_oid,
                    type_size,
                    type_modifier,
                    format,
                }
            },
        );
    proptest::collection::vec(field, 0..8).prop_map(|fields| RowDescription { fields })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'T', Int32 length 50, Int16 2 fields, then per field:
        //   String name, Int32 table oid, Int16 column, Int32 type oid, Int16 size,
        //   Int32 modifier, Int16 format.
        roundtrip(
            &RowDescription {
                fields: vec![
                    FieldDescription {
                        name: "id".into(),
                        table_oid: 16_385,
                        column_id: 1,
                        type_oid: 23,
                        type_size: 4,
                        type_modifier: -1,
                        format: Format::Binary,
                    },
                    FieldDescription {
                        name: "name".into(),
                        table_oid: 16_385,
                        column_id: 2,
                        type_oid: 1043,
                        type_size: -1,
                        type_modifier: 68,
                        format: Format::Text,
                    },
                ],
            },
            Some(
                b"T\0\0\0\x32\0\x02\
                  id\0\0\0\x40\x01\0\x01\0\0\0\x17\0\x04\xff\xff\xff\xff\0\x01\
                  name\0\0\0\x40\x01\0\x02\0\0\x04\x13\xff\xff\0\0\0\x44\0\0",
            ),
        );
        // 'T', Int32 length 6, Int16 0 fields (SELECT without columns).
        roundtrip(&RowDescription::default(), Some(b"T\0\0\0\x06\0\0"));
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| RowDescription::decode(Bytes::from_static(b));
        let truncated = Err(ProtocolError::Truncated {
            message: "RowDescription",
        });
        assert_eq!(decode(b""), truncated);
        // 65 535 fields announced, one present: refused before reserving room for them.
        assert_eq!(
            decode(b"\xff\xff\0\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0"),
            truncated
        );
        // One field whose fixed part is cut short (the body is long enough for the
        // minimum, but the name is longer).
        assert_eq!(
            decode(b"\0\x01abcdef\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff"),
            truncated
        );
        assert_eq!(
            decode(b"\0\x01abcdefghijklmnopqrstuvwxyz"),
            Err(ProtocolError::MissingNul {
                message: "RowDescription"
            })
        );
        assert_eq!(
            decode(b"\0\x01n\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\x02"),
            Err(ProtocolError::InvalidValue {
                message: "RowDescription",
                field: "format code"
            })
        );
        assert_eq!(
            decode(b"\0\x01n\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0\0"),
            Err(ProtocolError::TrailingData {
                message: "RowDescription"
            })
        );
        assert_eq!(
            decode(b"\0\x01\xff\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0"),
            Err(ProtocolError::InvalidUtf8 {
                message: "RowDescription"
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
