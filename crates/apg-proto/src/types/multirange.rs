//! Multiranges (PostgreSQL 14 and later): the built-in `int4multirange`,
//! `int8multirange`, `nummultirange`, `datemultirange`, `tsmultirange`,
//! `tstzmultirange`, and those of user-defined ranges, as [`Multirange<T>`].
//!
//! Binary format: `count: i32`, then per range `length: i32` and the range's binary
//! value (see [`Range`]).

use alloc::vec::Vec;

use bytes::{BufMut, BytesMut};

use super::{FromSql, IsNull, Kind, Range, ToSql, Type, ValueError};

/// A PostgreSQL multirange: a list of non-overlapping, non-adjacent ranges, in order.
///
/// The server normalizes what it receives: overlapping or adjacent ranges are merged,
/// empty ones dropped, the rest sorted. `{}` is the empty multirange.
///
/// ```
/// use core::ops::Bound;
/// use apg_proto::types::{Multirange, Range};
///
/// // '{[1,3), [5,)}'
/// let m = Multirange::new(vec![
///     Range::new(Bound::Included(1i32), Bound::Excluded(3)),
///     Range::new(Bound::Included(5), Bound::Unbounded),
/// ]);
/// assert_eq!(m.ranges().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Multirange<T> {
    ranges: Vec<Range<T>>,
}

impl<T> Multirange<T> {
    /// A multirange of `ranges`.
    pub const fn new(ranges: Vec<Range<T>>) -> Self {
        Self { ranges }
    }

    /// The ranges, in order.
    pub fn ranges(&self) -> &[Range<T>] {
        &self.ranges
    }

    /// The ranges.
    pub fn into_ranges(self) -> Vec<Range<T>> {
        self.ranges
    }

    /// Whether the multirange holds no range (`{}`).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

impl<T> From<Vec<Range<T>>> for Multirange<T> {
    fn from(ranges: Vec<Range<T>>) -> Self {
        Self { ranges }
    }
}

/// The range type of a multirange type (built in, or described by the catalog).
fn range_type(ty: &Type) -> Option<Type> {
    match ty.kind() {
        Kind::Multirange(range) => Some(range),
        _ => None,
    }
}

/// The built-in multirange type of a built-in range type.
fn multirange_of(range: &Type) -> Option<Type> {
    [
        Type::INT4_MULTIRANGE,
        Type::INT8_MULTIRANGE,
        Type::NUM_MULTIRANGE,
        Type::DATE_MULTIRANGE,
        Type::TS_MULTIRANGE,
        Type::TSTZ_MULTIRANGE,
    ]
    .into_iter()
    .find(|m| range_type(m).as_ref() == Some(range))
}

impl<T: ToSql> ToSql for Multirange<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        let range = range_type(ty).ok_or_else(|| ValueError::wrong_type::<Self>(ty))?;
        let too_big = || ValueError::out_of_range::<Self>(ty);
        out.put_i32(i32::try_from(self.ranges.len()).map_err(|_| too_big())?);
        for r in &self.ranges {
            let at = out.len();
            out.put_i32(0);
            // A range is never NULL: `Range::to_sql` always writes a value.
            r.to_sql(&range, out)?;
            let len = i32::try_from(out.len() - at - 4).map_err(|_| too_big())?;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        range_type(ty).is_some_and(|r| <Range<T> as ToSql>::accepts(&r))
    }

    fn natural_type() -> Type {
        multirange_of(&<Range<T> as ToSql>::natural_type()).unwrap_or(Type::UNSPECIFIED)
    }
}

impl<'a, T: FromSql<'a>> FromSql<'a> for Multirange<T> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        let malformed = |reason| ValueError::malformed::<Self>(ty, reason);
        let range = range_type(ty).ok_or_else(|| ValueError::wrong_type::<Self>(ty))?;
        let (count, mut rest) = raw
            .split_first_chunk::<4>()
            .ok_or_else(|| malformed("truncated multirange"))?;
        let count = usize::try_from(i32::from_be_bytes(*count))
            .map_err(|_| malformed("negative range count"))?;
        // Each range takes at least its length and a flags byte: a count beyond that
        // is refused before allocating for it.
        if count > rest.len() / 5 {
            return Err(malformed("more ranges than bytes"));
        }
        let mut ranges = Vec::with_capacity(count);
        for _ in 0..count {
            let (len, tail) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| malformed("truncated multirange"))?;
            let len = usize::try_from(i32::from_be_bytes(*len))
                .map_err(|_| malformed("NULL or negative range length"))?;
            if len > tail.len() {
                return Err(malformed("range longer than the value"));
            }
            let (value, tail) = tail.split_at(len);
            rest = tail;
            ranges.push(Range::<T>::from_sql(&range, value)?);
        }
        if !rest.is_empty() {
            return Err(malformed("bytes after the last range"));
        }
        Ok(Self { ranges })
    }

    fn accepts(ty: &Type) -> bool {
        range_type(ty).is_some_and(|r| <Range<T> as FromSql<'a>>::accepts(&r))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use core::ops::Bound;
    use proptest::prelude::*;

    #[test]
    fn wire_format() {
        let m = Multirange::new(alloc::vec![
            Range::new(Bound::Included(1i32), Bound::Excluded(3)),
            Range::Empty,
        ]);
        let raw = encode(&m, &Type::INT4_MULTIRANGE).unwrap().unwrap();
        assert_eq!(
            &raw[..],
            &[
                0, 0, 0, 2, // two ranges
                0, 0, 0, 17, 0x02, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 3, // [1,3)
                0, 0, 0, 1, 0x01, // empty
            ][..]
        );
        assert_eq!(
            Multirange::<i32>::from_sql(&Type::INT4_MULTIRANGE, &raw),
            Ok(m)
        );
        let empty = encode(&Multirange::<i64>::default(), &Type::INT8_MULTIRANGE)
            .unwrap()
            .unwrap();
        assert_eq!(&empty[..], &[0, 0, 0, 0][..]);
        assert_eq!(
            <Multirange<i64> as ToSql>::natural_type(),
            Type::INT8_MULTIRANGE
        );
        assert!(encode(&Multirange::<i32>::default(), &Type::INT8_RANGE).is_err());
        assert!(encode(&Multirange::<i32>::default(), &Type::NUM_MULTIRANGE).is_err());
    }

    #[test]
    fn user_defined_multiranges() {
        let floatrange = Type::new(16_700, "floatrange", "public", Kind::Range(Type::FLOAT8));
        let floatmulti = Type::new(
            16_703,
            "floatmultirange",
            "public",
            Kind::Multirange(floatrange),
        );
        let m = Multirange::new(alloc::vec![Range::new(
            Bound::Unbounded,
            Bound::Included(2.0f64)
        )]);
        let raw = encode(&m, &floatmulti).unwrap().unwrap();
        assert_eq!(&raw[..8], &[0, 0, 0, 1, 0, 0, 0, 13][..]);
        assert_eq!(Multirange::<f64>::from_sql(&floatmulti, &raw), Ok(m));
    }

    #[test]
    fn hostile_counts_and_lengths() {
        let ty = Type::INT4_MULTIRANGE;
        assert!(Multirange::<i32>::from_sql(&ty, &[0x7f, 0xff, 0xff, 0xff]).is_err());
        assert!(Multirange::<i32>::from_sql(&ty, &[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(Multirange::<i32>::from_sql(&ty, &[0, 0, 0, 1, 0x7f, 0, 0, 0, 1]).is_err());
        assert!(
            Multirange::<i32>::from_sql(&ty, &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 1]).is_err()
        );
        assert!(Multirange::<i32>::from_sql(&ty, &[0, 0, 0, 0, 1]).is_err());
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(m) = Multirange::<i32>::from_sql(&Type::INT4_MULTIRANGE, &raw) {
                let again = encode(&m, &Type::INT4_MULTIRANGE).unwrap().unwrap();
                prop_assert_eq!(Multirange::<i32>::from_sql(&Type::INT4_MULTIRANGE, &again), Ok(m));
            }
        }
    }
}
