//! [`Record`]: any composite value, read field by field without a Rust type for the
//! whole row: values of a composite type the catalog described ([`Kind::Composite`],
//! fields named) and anonymous `record`s (`SELECT ROW(1, 'a')`, fields by position).
//!
//! Binary format (see [`CompositeReader`](super::CompositeReader)): `field_count: i32`,
//! then per field `type_oid: u32`, `length: i32` (`-1` for NULL) and the value.
//!
//! Text format (what the client asks for when text was chosen for a field's type, an
//! extension's type say): `(a,"b c",)`: fields separated by commas, an empty field is
//! NULL, a field may be quoted (`""` is a quote inside quotes) and `\` escapes the
//! next character. Fields are then text values of their types.

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use super::{Field, FromSql, IsNull, Kind, ToSql, Type, ValueError};
use crate::message::{Format, Oid};

mod sealed {
    pub trait Sealed {}
}

/// A field of a [`Record`]: a position (`usize`, from 0) or a name (`&str`; described
/// composite types only).
pub trait RecordIndex: sealed::Sealed + fmt::Display {
    /// The position of the field in `record`, if there is one.
    #[doc(hidden)]
    fn position(&self, record: &Record) -> Option<usize>;
}

impl sealed::Sealed for usize {}

impl RecordIndex for usize {
    fn position(&self, record: &Record) -> Option<usize> {
        (*self < record.len()).then_some(*self)
    }
}

impl sealed::Sealed for str {}

impl RecordIndex for str {
    fn position(&self, record: &Record) -> Option<usize> {
        (0..record.len()).find(|&i| record.field_name(i) == Some(self))
    }
}

impl<T: RecordIndex + ?Sized> sealed::Sealed for &T {}

impl<T: RecordIndex + ?Sized> RecordIndex for &T {
    fn position(&self, record: &Record) -> Option<usize> {
        (**self).position(record)
    }
}

/// A composite value, its fields kept as their type and binary bytes, each readable as
/// any [`FromSql`] type.
///
/// Read a column of a composite type (`CREATE TYPE address AS (street text, zip int4)`,
/// a table's row type) or an anonymous `record` as a `Record`; arrays of them as
/// `Vec<Record>`. Fields of a described type have names; fields of an anonymous record
/// only positions, and their types are those the value names (a type not built in is
/// then known only by its OID).
///
/// ```
/// use apg_proto::types::{Field, Kind, Record, Type};
///
/// let address = Type::new(
///     16_800,
///     "address",
///     "public",
///     Kind::Composite(vec![Field::new("street", Type::TEXT), Field::new("zip", Type::INT4)].into()),
/// );
/// let record = Record::from_values(&address, &[&"Main St", &None::<i32>]).unwrap();
/// assert_eq!(record.get::<&str, _>("street"), Ok("Main St"));
/// assert_eq!(record.get::<Option<i32>, _>(1), Ok(None));
/// assert!(record.get::<i32, _>("city").is_err());
/// ```
#[derive(Clone)]
pub struct Record {
    ty: Type,
    /// The field descriptions of a described composite type.
    described: Option<Arc<[Field]>>,
    /// The whole binary value, as received; for the text format, the fields' text,
    /// unquoted, one after the other.
    data: Bytes,
    fields: Vec<Slot>,
    /// The format of the fields' values.
    format: Format,
}

#[derive(Clone)]
struct Slot {
    type_: Type,
    /// Where the value lies in `data`; `None` for NULL.
    value: Option<Range<usize>>,
}

impl Record {
    /// The record's type: the composite type, or `record`.
    pub fn type_(&self) -> &Type {
        &self.ty
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The name of field `index`; `None` for an anonymous record or no such field.
    pub fn field_name(&self, index: usize) -> Option<&str> {
        self.described.as_ref()?.get(index).map(Field::name)
    }

    /// The type of field `index`.
    pub fn field_type(&self, index: usize) -> Option<&Type> {
        self.fields.get(index).map(|s| &s.type_)
    }

    /// The format field values are in: binary, unless the record was read in text
    /// format (then each field is its type's text).
    pub fn format(&self) -> Format {
        self.format
    }

    /// The value of field `index`, in the record's [`format`](Self::format); `None` for
    /// NULL or no such field.
    pub fn raw(&self, index: usize) -> Option<&[u8]> {
        let range = self.fields.get(index)?.value.clone()?;
        self.data.get(range)
    }

    /// Field `index` (a position or a name) as `T`.
    ///
    /// # Errors
    ///
    /// [`ValueError::NoSuchField`] when there is no such field; otherwise what
    /// [`FromSql::from_sql_checked`] returns for the field's type and value.
    pub fn get<'a, T: FromSql<'a>, I: RecordIndex>(&'a self, index: I) -> Result<T, ValueError> {
        let slot = index
            .position(self)
            .and_then(|i| self.fields.get(i))
            .ok_or_else(|| ValueError::NoSuchField {
                pg_type: self.ty.clone(),
                field: index.to_string().into_boxed_str(),
            })?;
        let value = slot
            .value
            .as_ref()
            .map(|range| self.data.get(range.clone()).unwrap_or_default());
        T::from_sql_checked(&slot.type_, self.format, value)
    }

    /// A value of the described composite type `ty` from one value per field, in
    /// order, each checked against its field's type. Send it as a parameter of that
    /// type.
    ///
    /// # Errors
    ///
    /// [`ValueError::WrongType`] when `ty` is not a described composite type or a value
    /// does not fit its field; [`ValueError::Malformed`] when the number of values is
    /// not the number of fields.
    pub fn from_values(ty: &Type, values: &[&(dyn ToSql + Sync)]) -> Result<Self, ValueError> {
        let Kind::Composite(fields) = ty.kind() else {
            return Err(ValueError::wrong_type::<Self>(ty));
        };
        if fields.len() != values.len() {
            return Err(ValueError::malformed::<Self>(
                ty,
                "one value per field is needed",
            ));
        }
        let mut out = BytesMut::new();
        let too_big = || ValueError::out_of_range::<Self>(ty);
        out.put_i32(i32::try_from(fields.len()).map_err(|_| too_big())?);
        for (field, value) in fields.iter().zip(values) {
            out.put_u32(field.type_().oid());
            let at = out.len();
            out.put_i32(0);
            let len = match value.to_sql_checked(field.type_(), &mut out)? {
                IsNull::Yes => -1,
                IsNull::No => i32::try_from(out.len() - at - 4).map_err(|_| too_big())?,
            };
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        decode(ty, out.freeze())
    }
}

/// Splits a big-endian `i32` off the front of `raw[*at..]`.
fn take_i32(raw: &[u8], at: &mut usize) -> Option<i32> {
    let bytes = raw.get(*at..)?.first_chunk::<4>()?;
    *at += 4;
    Some(i32::from_be_bytes(*bytes))
}

fn decode(ty: &Type, data: Bytes) -> Result<Record, ValueError> {
    let malformed = |reason| ValueError::malformed::<Record>(ty, reason);
    let described = match ty.kind() {
        Kind::Composite(fields) => Some(fields),
        _ => None,
    };
    let mut at = 0;
    let count = take_i32(&data, &mut at).ok_or_else(|| malformed("cut short"))?;
    let count = usize::try_from(count).map_err(|_| malformed("negative field count"))?;
    // Each field takes at least 8 bytes: refuse a count the bytes cannot hold before
    // allocating for it.
    if count > (data.len() - at) / 8 {
        return Err(malformed("more fields than bytes"));
    }
    if let Some(d) = &described {
        if d.len() != count {
            return Err(malformed("field count differs from the type's description"));
        }
    }
    let mut fields = Vec::with_capacity(count);
    for i in 0..count {
        let oid = take_i32(&data, &mut at).ok_or_else(|| malformed("field cut short"))?;
        let oid = Oid::from_be_bytes(oid.to_be_bytes());
        let len = take_i32(&data, &mut at).ok_or_else(|| malformed("field cut short"))?;
        let type_ = match described.as_ref().and_then(|d| d.get(i)) {
            Some(field) if field.type_().oid() == oid => field.type_().clone(),
            Some(_) => return Err(malformed("field type differs from the type's description")),
            None => Type::from_oid(oid),
        };
        let value = if len == -1 {
            None
        } else {
            let len = usize::try_from(len).map_err(|_| malformed("negative field length"))?;
            let end = at
                .checked_add(len)
                .filter(|&end| end <= data.len())
                .ok_or_else(|| malformed("field longer than the value"))?;
            let range = at..end;
            at = end;
            Some(range)
        };
        fields.push(Slot { type_, value });
    }
    if at != data.len() {
        return Err(malformed("bytes after the last field"));
    }
    Ok(Record {
        ty: ty.clone(),
        described,
        data,
        fields,
        format: Format::Binary,
    })
}

/// Reads the text form of a composite value (`record_out`'s output).
fn decode_text(ty: &Type, raw: &[u8]) -> Result<Record, ValueError> {
    let malformed = |reason| ValueError::malformed::<Record>(ty, reason);
    let described = match ty.kind() {
        Kind::Composite(fields) => Some(fields),
        _ => None,
    };
    let inner = raw
        .strip_prefix(b"(")
        .and_then(|r| r.strip_suffix(b")"))
        .ok_or_else(|| malformed("text record not in parentheses"))?;
    // The unquoted text is never longer than the quoted one.
    let mut data = BytesMut::with_capacity(inner.len());
    let mut fields = Vec::new();
    let mut bytes = inner.iter().copied().peekable();
    // One more field than commas; `()` is a record with no field, or with one NULL
    // field when the type says it has one (`ROW(NULL)::one` prints as `()`).
    let mut more = match &described {
        Some(fields) => !fields.is_empty(),
        None => !inner.is_empty(),
    };
    while more {
        let start = data.len();
        let mut quoted_any = false;
        let mut in_quotes = false;
        more = false;
        while let Some(b) = bytes.next() {
            match b {
                b'"' if in_quotes && bytes.peek() == Some(&b'"') => {
                    bytes.next();
                    data.put_u8(b'"');
                }
                b'"' => {
                    in_quotes = !in_quotes;
                    quoted_any = true;
                }
                b'\\' => {
                    let escaped = bytes
                        .next()
                        .ok_or_else(|| malformed("text record ends in an escape"))?;
                    data.put_u8(escaped);
                }
                b',' if !in_quotes => {
                    more = true;
                    break;
                }
                _ => data.put_u8(b),
            }
        }
        if in_quotes {
            return Err(malformed("unterminated quote in text record"));
        }
        let i = fields.len();
        let type_ = match described.as_ref() {
            Some(d) => d
                .get(i)
                .map(|f| f.type_().clone())
                .ok_or_else(|| malformed("field count differs from the type's description"))?,
            // Anonymous: the text says nothing about the types.
            None => Type::UNKNOWN,
        };
        let end = data.len();
        let value = (quoted_any || end > start).then_some(start..end);
        fields.push(Slot { type_, value });
    }
    if let Some(d) = &described {
        if d.len() != fields.len() {
            return Err(malformed("field count differs from the type's description"));
        }
    }
    Ok(Record {
        ty: ty.clone(),
        described,
        data: data.freeze(),
        fields,
        format: Format::Text,
    })
}

fn accepts(ty: &Type) -> bool {
    *ty == Type::RECORD || (ty.is_described() && matches!(ty.kind(), Kind::Composite(_)))
}

/// Copies the value once; fields are then slices of the copy.
impl FromSql<'_> for Record {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        decode(ty, Bytes::copy_from_slice(raw))
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        decode_text(ty, raw)
    }

    fn accepts(ty: &Type) -> bool {
        accepts(ty)
    }
}

/// Sends the record as it is, as a value of its own composite type (built with
/// [`Record::from_values`], or read in binary from a column of that type). An anonymous
/// record cannot be sent: the server has no input for it.
impl ToSql for Record {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        if *ty != self.ty || self.described.is_none() || self.format != Format::Binary {
            return Err(ValueError::wrong_type::<Self>(ty));
        }
        out.put_slice(&self.data);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        ty.is_described() && matches!(ty.kind(), Kind::Composite(_))
    }

    /// Unspecified: the server infers the composite type from the statement.
    fn natural_type() -> Type {
        Type::UNSPECIFIED
    }
}

impl PartialEq for Record {
    /// The same type and the same bytes.
    fn eq(&self, other: &Self) -> bool {
        self.ty == other.ty && self.data == other.data
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Fields<'a>(&'a Record);
        impl fmt::Debug for Fields<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut list = f.debug_list();
                for (i, slot) in self.0.fields.iter().enumerate() {
                    list.entry(&(self.0.field_name(i), &slot.type_, self.0.raw(i)));
                }
                list.finish()
            }
        }
        f.debug_struct("Record")
            .field("type", &self.ty)
            .field("fields", &Fields(self))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use alloc::string::String;
    use alloc::vec;
    use proptest::prelude::*;

    fn address() -> Type {
        Type::new(
            16_800,
            "address",
            "public",
            Kind::Composite(
                vec![
                    Field::new("street", Type::TEXT),
                    Field::new("zip", Type::INT4),
                ]
                .into(),
            ),
        )
    }

    #[test]
    fn anonymous_records_are_positional() {
        // ROW(7, NULL::text)
        let raw = [
            0, 0, 0, 2, 0, 0, 0, 23, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 25, 255, 255, 255, 255,
        ];
        let r = Record::from_sql_checked(&Type::RECORD, Format::Binary, Some(&raw)).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.get::<i32, _>(0), Ok(7));
        assert_eq!(r.get::<Option<String>, _>(1), Ok(None));
        assert_eq!(r.field_name(0), None);
        assert_eq!(r.field_type(1), Some(&Type::TEXT));
        assert_eq!(r.raw(0), Some(&[0, 0, 0, 7][..]));
        assert!(matches!(
            r.get::<i32, _>("zip"),
            Err(ValueError::NoSuchField { .. })
        ));
        assert!(matches!(
            r.get::<i32, _>(2),
            Err(ValueError::NoSuchField { .. })
        ));
        // Anonymous records cannot be sent.
        assert!(encode(&r, &Type::RECORD).is_err());
    }

    #[test]
    fn described_records_have_names() {
        let ty = address();
        let r = Record::from_values(&ty, &[&"Main St", &12_345i32]).unwrap();
        let raw = encode(&r, &ty).unwrap().unwrap();
        assert_eq!(
            &raw[..],
            &[
                0, 0, 0, 2, // fields
                0, 0, 0, 25, 0, 0, 0, 7, b'M', b'a', b'i', b'n', b' ', b'S', b't', // street
                0, 0, 0, 23, 0, 0, 0, 4, 0, 0, 0x30, 0x39, // zip
            ][..]
        );
        let back = Record::from_sql_checked(&ty, Format::Binary, Some(&raw)).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.get::<&str, _>("street"), Ok("Main St"));
        assert_eq!(back.get::<i64, _>("zip"), Ok(12_345));
        assert_eq!(back.field_name(1), Some("zip"));
        assert!(matches!(
            back.get::<String, _>("zip"),
            Err(ValueError::WrongType { .. })
        ));
        // Values that do not fit the fields.
        assert!(Record::from_values(&ty, &[&1i32, &2i32]).is_err());
        assert!(Record::from_values(&ty, &[&"x"]).is_err());
        assert!(Record::from_values(&Type::RECORD, &[]).is_err());
        // A value whose field types differ from the description.
        let mut wrong = raw.to_vec();
        wrong[7] = 19;
        assert!(Record::from_sql(&ty, &wrong).is_err());
        // Undescribed OIDs are not known to be composite.
        assert!(!<Record as FromSql<'_>>::accepts(&Type::from_oid(16_800)));
    }

    #[test]
    fn nested_records_and_arrays_of_records() {
        let inner = address();
        let inners = Type::new(16_801, "_address", "public", Kind::Array(inner.clone()));
        let outer = Type::new(
            16_802,
            "person",
            "public",
            Kind::Composite(
                vec![
                    Field::new("home", inner.clone()),
                    Field::new("others", inners),
                ]
                .into(),
            ),
        );
        let home = Record::from_values(&inner, &[&"A", &1i32]).unwrap();
        let other = Record::from_values(&inner, &[&None::<&str>, &2i32]).unwrap();
        let others = vec![other.clone()];
        let person = Record::from_values(&outer, &[&home, &others]).unwrap();
        let raw = encode(&person, &outer).unwrap().unwrap();
        let back = Record::from_sql(&outer, &raw).unwrap();
        let home_back: Record = back.get("home").unwrap();
        assert_eq!(home_back.get::<&str, _>("street"), Ok("A"));
        let others_back: Vec<Record> = back.get("others").unwrap();
        assert_eq!(others_back, vec![other]);
        assert_eq!(others_back[0].get::<Option<&str>, _>("street"), Ok(None));
    }

    #[test]
    fn text_format() {
        let ty = address();
        let raw = br#"("Main \"St\"",12345)"#;
        let r = Record::from_sql_checked(&ty, Format::Text, Some(raw)).unwrap();
        assert_eq!(r.format(), Format::Text);
        assert_eq!(r.get::<&str, _>("street"), Ok(r#"Main "St""#));
        assert_eq!(r.get::<i32, _>("zip"), Ok(12_345));
        let r = Record::from_sql_text(&ty, br#"("a ""b"", c",)"#).unwrap();
        assert_eq!(r.get::<&str, _>(0), Ok(r#"a "b", c"#));
        assert_eq!(r.get::<Option<i32>, _>(1), Ok(None));
        // A quoted empty string is not NULL.
        let r = Record::from_sql_text(&ty, br#"("",1)"#).unwrap();
        assert_eq!(r.get::<Option<&str>, _>(0), Ok(Some("")));
        // Text records are not sent back.
        assert!(encode(&r, &ty).is_err());
        let anonymous = Record::from_sql_text(&Type::RECORD, b"(1,x)").unwrap();
        assert_eq!(anonymous.get::<&str, _>(1), Ok("x"));
        assert_eq!(
            Record::from_sql_text(&Type::RECORD, b"()").unwrap().len(),
            0
        );
        // `ROW(NULL)::one` prints as `()`: one NULL field.
        let one = Type::new(
            16_600,
            "one",
            "public",
            Kind::Composite(alloc::vec![Field::new("x", Type::INT4)].into()),
        );
        let r = Record::from_sql_text(&one, b"()").unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r.get::<Option<i32>, _>(0), Ok(None));
        for bad in [
            &b""[..],
            b"(",
            b"(1,2",
            b"(\\",
            b"(\"a,1)",
            b"(a)",
            b"(a,b,c)",
        ] {
            assert!(Record::from_sql_text(&ty, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hostile_counts_and_lengths() {
        let ty = Type::RECORD;
        assert!(Record::from_sql(&ty, &[]).is_err());
        assert!(Record::from_sql(&ty, &[0x7f, 0xff, 0xff, 0xff]).is_err());
        assert!(Record::from_sql(&ty, &[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(Record::from_sql(&ty, &[0, 0, 0, 1, 0, 0, 0, 23, 0x7f, 0, 0, 0]).is_err());
        assert!(Record::from_sql(&ty, &[0, 0, 0, 1, 0, 0, 0, 23, 0xff, 0, 0, 0]).is_err());
        assert!(Record::from_sql(&ty, &[0, 0, 0, 0, 1]).is_err());
        // The declared count must match the description.
        assert!(Record::from_sql(&address(), &[0, 0, 0, 0]).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_are_errors_not_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(r) = Record::from_sql(&Type::RECORD, &raw) {
                for i in 0..r.len() {
                    let _ = r.get::<Option<i32>, _>(i);
                    let _ = r.get::<Option<Record>, _>(i);
                }
            }
            let _ = Record::from_sql(&address(), &raw);
            if let Ok(r) = Record::from_sql_text(&Type::RECORD, &raw) {
                for i in 0..r.len() {
                    let _ = r.get::<Option<&str>, _>(i);
                }
            }
        }
    }
}
