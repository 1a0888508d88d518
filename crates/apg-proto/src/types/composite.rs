//! The binary format of composite values (row types, `CREATE TYPE ... AS (...)`,
//! anonymous `ROW(...)` records): [`CompositeReader`] and [`CompositeWriter`], which
//! generic records and derived structs are built on.
//!
//! Format: `field_count: i32`, then per field `type_oid: u32`, `length: i32` (`-1` for
//! NULL) and the field's binary value.

use bytes::{BufMut, BytesMut};

use super::{FromSql, IsNull, ToSql, Type, ValueError};
use crate::message::Format;
use crate::message::Oid;

/// A field as it is on the wire: its type OID and its value (`None` for NULL).
pub type RawField<'a> = (Oid, Option<&'a [u8]>);

/// Reads the fields of a binary composite value, in order.
///
/// ```
/// use apg_proto::types::{CompositeReader, Type};
///
/// // ROW(7, NULL::text)
/// let raw = [0, 0, 0, 2, 0, 0, 0, 23, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 25, 255, 255, 255, 255];
/// let mut fields = CompositeReader::new(&Type::RECORD, &raw).unwrap();
/// assert_eq!(fields.len(), 2);
/// let (oid, value) = fields.next_raw().unwrap().unwrap();
/// assert_eq!((oid, value), (23, Some(&[0, 0, 0, 7][..])));
/// let text: Option<String> = fields.read(&Type::TEXT).unwrap();
/// assert_eq!(text, None);
/// assert!(fields.finish().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct CompositeReader<'a> {
    ty: Type,
    raw: &'a [u8],
    remaining: usize,
    count: usize,
}

impl<'a> CompositeReader<'a> {
    /// Starts reading `raw`, a binary value of the composite type `ty` (used in error
    /// messages).
    ///
    /// # Errors
    ///
    /// [`ValueError::Malformed`] when the header is cut short or the field count is
    /// negative or larger than the bytes could hold.
    pub fn new(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        let malformed = |reason| ValueError::malformed::<Self>(ty, reason);
        let (count, rest) = split_i32(raw).ok_or_else(|| malformed("cut short"))?;
        let count = usize::try_from(count).map_err(|_| malformed("negative field count"))?;
        // Each field takes at least 8 bytes: no count can promise more than that.
        if count > rest.len() / 8 {
            return Err(malformed("more fields than bytes"));
        }
        Ok(Self {
            ty: ty.clone(),
            raw: rest,
            remaining: count,
            count,
        })
    }

    /// The number of fields the value declares.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the value has no fields.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The next field's type OID and value (`None` for NULL); `None` after the last.
    ///
    /// # Errors
    ///
    /// [`ValueError::Malformed`] when the field is cut short or has a bad length.
    pub fn next_raw(&mut self) -> Option<Result<RawField<'a>, ValueError>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        Some(self.split_field())
    }

    fn split_field(&mut self) -> Result<RawField<'a>, ValueError> {
        let malformed = |reason| ValueError::malformed::<Self>(&self.ty, reason);
        let (oid, rest) = split_i32(self.raw).ok_or_else(|| malformed("field cut short"))?;
        let (len, rest) = split_i32(rest).ok_or_else(|| malformed("field cut short"))?;
        let oid = Oid::from_be_bytes(oid.to_be_bytes());
        if len == -1 {
            self.raw = rest;
            return Ok((oid, None));
        }
        let len = usize::try_from(len).map_err(|_| malformed("negative field length"))?;
        if len > rest.len() {
            return Err(malformed("field longer than the value"));
        }
        let (value, rest) = rest.split_at(len);
        self.raw = rest;
        Ok((oid, Some(value)))
    }

    /// Decodes the next field as `T`, given the field's declared type `ty` (from the
    /// composite type's description). The OID in the value must be `ty`'s.
    ///
    /// # Errors
    ///
    /// [`ValueError::Malformed`] when there is no next field or its OID is not
    /// `ty`'s; otherwise what `T`'s decoding returns.
    pub fn read<T: FromSql<'a>>(&mut self, ty: &Type) -> Result<T, ValueError> {
        let (oid, value) = self
            .next_raw()
            .ok_or_else(|| ValueError::malformed::<Self>(&self.ty, "too few fields"))??;
        if oid != ty.oid() {
            return Err(ValueError::malformed::<Self>(
                &self.ty,
                "field type differs from the type's description",
            ));
        }
        T::from_sql_checked(ty, Format::Binary, value)
    }

    /// Checks that every field was read and nothing follows the last.
    ///
    /// # Errors
    ///
    /// [`ValueError::Malformed`] otherwise.
    pub fn finish(self) -> Result<(), ValueError> {
        if self.remaining != 0 {
            return Err(ValueError::malformed::<Self>(&self.ty, "too many fields"));
        }
        if !self.raw.is_empty() {
            return Err(ValueError::malformed::<Self>(
                &self.ty,
                "bytes after the last field",
            ));
        }
        Ok(())
    }
}

/// Writes a binary composite value field by field.
///
/// ```
/// use apg_proto::types::{CompositeWriter, Type};
/// use bytes::BytesMut;
///
/// let mut out = BytesMut::new();
/// let mut w = CompositeWriter::new(&mut out);
/// w.field(&7i32, &Type::INT4).unwrap();
/// w.field(&None::<&str>, &Type::TEXT).unwrap();
/// w.finish();
/// assert_eq!(&out[..4], &[0, 0, 0, 2]);
/// ```
#[derive(Debug)]
pub struct CompositeWriter<'a> {
    out: &'a mut BytesMut,
    count_at: usize,
    count: i32,
}

impl<'a> CompositeWriter<'a> {
    /// Starts a composite value at the end of `out`.
    pub fn new(out: &'a mut BytesMut) -> Self {
        let count_at = out.len();
        out.put_i32(0);
        Self {
            out,
            count_at,
            count: 0,
        }
    }

    /// Writes one field of type `ty` (checked against `value`'s Rust type).
    ///
    /// # Errors
    ///
    /// What [`ToSqlChecked::to_sql_checked`](super::ToSqlChecked::to_sql_checked)
    /// returns, or [`ValueError::OutOfRange`] past `i32::MAX` fields or bytes.
    pub fn field<T: ToSql>(&mut self, value: &T, ty: &Type) -> Result<(), ValueError> {
        let too_big = || ValueError::out_of_range::<Self>(ty);
        self.count = self.count.checked_add(1).ok_or_else(too_big)?;
        self.out.put_u32(ty.oid());
        let len_at = self.out.len();
        self.out.put_i32(0);
        let len = match value.to_sql_checked(ty, self.out)? {
            IsNull::Yes => -1,
            IsNull::No => i32::try_from(self.out.len() - len_at - 4).map_err(|_| too_big())?,
        };
        patch_i32(self.out, len_at, len);
        Ok(())
    }

    /// Ends the value: writes the field count into its header.
    pub fn finish(self) {
        patch_i32(self.out, self.count_at, self.count);
    }
}

fn patch_i32(out: &mut BytesMut, at: usize, value: i32) {
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&value.to_be_bytes());
    }
}

fn split_i32(raw: &[u8]) -> Option<(i32, &[u8])> {
    let (head, rest) = raw.split_first_chunk::<4>()?;
    Some((i32::from_be_bytes(*head), rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let mut out = BytesMut::new();
        let mut w = CompositeWriter::new(&mut out);
        w.field(&7i32, &Type::INT4).unwrap();
        w.field(&"seven", &Type::TEXT).unwrap();
        w.field(&None::<i64>, &Type::INT8).unwrap();
        w.finish();
        let mut r = CompositeReader::new(&Type::RECORD, &out).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r.read::<i32>(&Type::INT4), Ok(7));
        assert_eq!(r.read::<String>(&Type::TEXT).as_deref(), Ok("seven"));
        assert_eq!(r.read::<Option<i64>>(&Type::INT8), Ok(None));
        assert!(r.clone().finish().is_ok());
        assert!(r.read::<i32>(&Type::INT4).is_err());
    }

    #[test]
    fn a_field_of_another_type_is_refused() {
        let mut out = BytesMut::new();
        let mut w = CompositeWriter::new(&mut out);
        w.field(&7i32, &Type::INT4).unwrap();
        w.finish();
        let mut r = CompositeReader::new(&Type::RECORD, &out).unwrap();
        assert!(r.read::<i64>(&Type::INT8).is_err());
        // Fewer fields read than declared.
        let r = CompositeReader::new(&Type::RECORD, &out).unwrap();
        assert!(r.finish().is_err());
    }

    #[test]
    fn hostile_counts_and_lengths() {
        // A huge count with no bytes behind it.
        assert!(CompositeReader::new(&Type::RECORD, &[0x7f, 0xff, 0xff, 0xff]).is_err());
        assert!(CompositeReader::new(&Type::RECORD, &[0xff, 0xff, 0xff, 0xff]).is_err());
        // One field claiming more bytes than there are.
        let raw = [0, 0, 0, 1, 0, 0, 0, 23, 0x7f, 0, 0, 0];
        let mut r = CompositeReader::new(&Type::RECORD, &raw).unwrap();
        assert!(r.next_raw().unwrap().is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_are_errors_not_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(mut r) = CompositeReader::new(&Type::RECORD, &raw) {
                while let Some(Ok(_)) = r.next_raw() {}
            }
        }
    }
}
