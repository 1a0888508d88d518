//! Ranges: `int4range`, `int8range`, `numrange`, `daterange`, `tsrange` and
//! `tstzrange` as [`Range<T>`] of the element's Rust type, and user-defined ranges
//! described by the catalog (`CREATE TYPE floatrange AS RANGE (subtype = float8)`),
//! whose subtype may itself be a domain.
//!
//! Binary format: a flags byte, then each finite bound as `length: i32` and the
//! element's binary value, lower bound first.

use core::ops::Bound;

use bytes::{BufMut, BytesMut};

use super::{accepted_as, FromSql, IsNull, Kind, ToSql, Type, ValueError};

const EMPTY: u8 = 0x01;
const LB_INC: u8 = 0x02;
const UB_INC: u8 = 0x04;
const LB_INF: u8 = 0x08;
const UB_INF: u8 = 0x10;

/// A PostgreSQL range: empty, or between two bounds, each inclusive, exclusive or
/// absent (unbounded).
///
/// The server normalizes discrete ranges (`int4range`, `int8range`, `daterange`) to
/// an inclusive lower and exclusive upper bound: `[1,9]` comes back as `[1,10)`.
///
/// ```
/// use core::ops::Bound;
/// use apg_proto::types::Range;
///
/// let adults: Range<i32> = Range::new(Bound::Included(18), Bound::Unbounded);
/// assert!(!adults.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Range<T> {
    /// The empty range: contains nothing.
    Empty,
    /// The values between the two bounds.
    Bounded {
        /// The lower bound.
        lower: Bound<T>,
        /// The upper bound.
        upper: Bound<T>,
    },
}

impl<T> Range<T> {
    /// The range between `lower` and `upper` (the server makes it empty when the bounds
    /// cross).
    pub const fn new(lower: Bound<T>, upper: Bound<T>) -> Self {
        Self::Bounded { lower, upper }
    }

    /// Whether the range is [`Range::Empty`].
    pub const fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }
}

/// The subtype of a range type (built in, or described by the catalog).
fn element(ty: &Type) -> Option<Type> {
    match ty.kind() {
        Kind::Range(subtype) => Some(subtype),
        _ => None,
    }
}

/// The type `T`'s bounds are read or sent as: the subtype, or its base type when it is
/// a domain `T` does not accept.
fn bound_type(ty: &Type, accepts: impl Fn(&Type) -> bool) -> Option<Type> {
    accepted_as(&element(ty)?, accepts)
}

/// The range type of an element type.
fn range_of(element: &Type) -> Option<Type> {
    [
        Type::INT4_RANGE,
        Type::INT8_RANGE,
        Type::NUM_RANGE,
        Type::DATE_RANGE,
        Type::TS_RANGE,
        Type::TSTZ_RANGE,
    ]
    .into_iter()
    .find(|r| self::element(r).as_ref() == Some(element))
}

fn write_bound<T: ToSql>(
    ty: &Type,
    element: &Type,
    value: &T,
    out: &mut BytesMut,
) -> Result<(), ValueError> {
    let at = out.len();
    out.put_i32(0);
    if value.to_sql(element, out)? == IsNull::Yes {
        return Err(ValueError::Malformed {
            pg_type: ty.clone(),
            rust_type: core::any::type_name::<T>(),
            reason: "a range bound cannot be NULL (use Bound::Unbounded)",
        });
    }
    let len = i32::try_from(out.len() - at - 4).map_err(|_| ValueError::out_of_range::<T>(ty))?;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

impl<T: ToSql> ToSql for Range<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        let element =
            bound_type(ty, T::accepts).ok_or_else(|| ValueError::wrong_type::<Self>(ty))?;
        let Self::Bounded { lower, upper } = self else {
            out.put_u8(EMPTY);
            return Ok(IsNull::No);
        };
        let flags = match lower {
            Bound::Included(_) => LB_INC,
            Bound::Excluded(_) => 0,
            Bound::Unbounded => LB_INF,
        } | match upper {
            Bound::Included(_) => UB_INC,
            Bound::Excluded(_) => 0,
            Bound::Unbounded => UB_INF,
        };
        out.put_u8(flags);
        for bound in [lower, upper] {
            if let Bound::Included(v) | Bound::Excluded(v) = bound {
                write_bound(ty, &element, v, out)?;
            }
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        bound_type(ty, T::accepts).is_some()
    }

    fn natural_type() -> Type {
        range_of(&T::natural_type()).unwrap_or(Type::UNSPECIFIED)
    }
}

impl<'a, T: FromSql<'a>> FromSql<'a> for Range<T> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        let malformed = |reason| ValueError::malformed::<Self>(ty, reason);
        let element =
            bound_type(ty, T::accepts).ok_or_else(|| ValueError::wrong_type::<Self>(ty))?;
        let (&flags, mut rest) = raw
            .split_first()
            .ok_or_else(|| malformed("truncated range"))?;
        if flags & EMPTY != 0 {
            return if rest.is_empty() {
                Ok(Self::Empty)
            } else {
                Err(malformed("bytes after an empty range"))
            };
        }
        let mut bound = |infinite: bool, inclusive: bool| -> Result<Bound<T>, ValueError> {
            if infinite {
                return Ok(Bound::Unbounded);
            }
            let (len, tail) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| malformed("truncated range bound"))?;
            let len = usize::try_from(i32::from_be_bytes(*len))
                .map_err(|_| malformed("NULL range bound"))?;
            if len > tail.len() {
                return Err(malformed("truncated range bound"));
            }
            let (value, tail) = tail.split_at(len);
            rest = tail;
            let value = T::from_sql(&element, value)?;
            Ok(if inclusive {
                Bound::Included(value)
            } else {
                Bound::Excluded(value)
            })
        };
        let lower = bound(flags & LB_INF != 0, flags & LB_INC != 0)?;
        let upper = bound(flags & UB_INF != 0, flags & UB_INC != 0)?;
        if !rest.is_empty() {
            return Err(malformed("bytes after the range bounds"));
        }
        Ok(Self::Bounded { lower, upper })
    }

    fn accepts(ty: &Type) -> bool {
        bound_type(ty, T::accepts).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wire_format() {
        let r = Range::new(Bound::Included(1i32), Bound::Excluded(10));
        let raw = encode(&r, &Type::INT4_RANGE).unwrap().unwrap();
        assert_eq!(
            &raw[..],
            &[LB_INC, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 10][..]
        );
        assert_eq!(
            Range::<i32>::from_sql(&Type::INT4_RANGE, &raw),
            Ok(r.clone())
        );
        let empty = encode(&Range::<i64>::Empty, &Type::INT8_RANGE)
            .unwrap()
            .unwrap();
        assert_eq!(&empty[..], &[EMPTY][..]);
        let open = Range::<i64>::new(Bound::Unbounded, Bound::Included(5));
        let raw = encode(&open, &Type::INT8_RANGE).unwrap().unwrap();
        assert_eq!(raw[0], LB_INF | UB_INC);
        assert_eq!(Range::<i64>::from_sql(&Type::INT8_RANGE, &raw), Ok(open));
        assert!(encode(&r, &Type::NUM_RANGE).is_err());
        assert_eq!(<Range<i32> as ToSql>::natural_type(), Type::INT4_RANGE);
        assert!(
            Range::<Option<i32>>::new(Bound::Included(None), Bound::Unbounded)
                .to_sql(&Type::INT4_RANGE, &mut BytesMut::new())
                .is_err()
        );
    }

    #[test]
    fn user_defined_ranges() {
        let floatrange = Type::new(16_700, "floatrange", "public", Kind::Range(Type::FLOAT8));
        let r = Range::new(Bound::Included(1.5f64), Bound::Unbounded);
        let raw = encode(&r, &floatrange).unwrap().unwrap();
        assert_eq!(
            &raw[..],
            &[LB_INC | UB_INF, 0, 0, 0, 8, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0][..]
        );
        assert_eq!(Range::<f64>::from_sql(&floatrange, &raw), Ok(r));
        // Over a domain: the bounds are the base type's.
        let score = Type::new(16_701, "score", "public", Kind::Domain(Type::INT8));
        let scores = Type::new(16_702, "scorerange", "public", Kind::Range(score));
        let r = Range::new(Bound::Included(1i64), Bound::Excluded(5));
        let raw = encode(&r, &scores).unwrap().unwrap();
        assert_eq!(
            Range::<i64>::from_sql_checked(&scores, crate::message::Format::Binary, Some(&raw)),
            Ok(r)
        );
        assert!(encode(&Range::<String>::Empty, &scores).is_err());
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(r) = Range::<i32>::from_sql(&Type::INT4_RANGE, &raw) {
                let again = encode(&r, &Type::INT4_RANGE).unwrap().unwrap();
                prop_assert_eq!(Range::<i32>::from_sql(&Type::INT4_RANGE, &again), Ok(r));
            }
        }
    }
}
