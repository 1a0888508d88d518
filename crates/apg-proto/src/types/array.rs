//! Arrays of any supported element type: one-dimensional as `Vec<T>` and `&[T]`, any
//! dimension as [`Array<T>`]; `Option<T>` elements for NULLs.
//!
//! Binary format: `ndim: i32`, `has_nulls: i32`, `element_oid: u32`, then per
//! dimension `length: i32, lower_bound: i32`, then each element as `length: i32`
//! (`-1` for NULL) and its bytes, last dimension varying fastest.

use alloc::vec::Vec;

use bytes::{BufMut, BytesMut};

use super::{accepted_as, FromSql, IsNull, ToSql, Type, ValueError};

/// PostgreSQL's limit on array dimensions (`MAXDIM`).
const MAX_DIMS: usize = 6;

/// One dimension of an [`Array`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dimension {
    /// The number of elements along the dimension.
    pub len: i32,
    /// The index of the first element (PostgreSQL's default is 1).
    pub lower_bound: i32,
}

/// A PostgreSQL array of any number of dimensions, with its lower bounds.
///
/// ```
/// use apg_proto::types::{Array, Dimension};
///
/// // '{{1,2,3},{4,5,6}}': 2 rows of 3.
/// let a = Array::from_parts(
///     vec![1, 2, 3, 4, 5, 6],
///     vec![Dimension { len: 2, lower_bound: 1 }, Dimension { len: 3, lower_bound: 1 }],
/// )
/// .unwrap();
/// assert_eq!(a.elements()[4], 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Array<T> {
    dims: Vec<Dimension>,
    elements: Vec<T>,
}

impl<T> Array<T> {
    /// A one-dimensional array with lower bound 1 (empty for no elements).
    pub fn from_vec(elements: Vec<T>) -> Self {
        let dims = match i32::try_from(elements.len()) {
            Ok(0) | Err(_) => Vec::new(),
            Ok(len) => alloc::vec![Dimension {
                len,
                lower_bound: 1,
            }],
        };
        Self { dims, elements }
    }

    /// Elements in row-major order (last dimension fastest) and the dimensions;
    /// `None` when the element count is not the product of the lengths, a length is
    /// negative, or there are more than 6 dimensions (PostgreSQL's limit). An empty
    /// array has no dimensions.
    pub fn from_parts(elements: Vec<T>, dims: Vec<Dimension>) -> Option<Self> {
        (element_count(&dims)? == elements.len() && dims.len() <= MAX_DIMS)
            .then_some(Self { dims, elements })
    }

    /// The dimensions; empty for an empty array.
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    /// The elements in row-major order (last dimension fastest).
    pub fn elements(&self) -> &[T] {
        &self.elements
    }

    /// The elements, in row-major order.
    pub fn into_elements(self) -> Vec<T> {
        self.elements
    }
}

/// The number of elements `dims` hold; `None` for a negative length or overflow.
fn element_count(dims: &[Dimension]) -> Option<usize> {
    if dims.is_empty() {
        return Some(0);
    }
    dims.iter()
        .try_fold(1usize, |n, d| n.checked_mul(usize::try_from(d.len).ok()?))
}

fn accepts_array(ty: &Type, accepts_element: impl Fn(&Type) -> bool) -> bool {
    ty.element()
        .is_some_and(|e| accepted_as(&e, accepts_element).is_some())
}

/// The array's declared element type (its OID is the one in the value's header) and
/// the type its elements are read or sent as by `T` (the base type of a domain `T`
/// does not accept itself).
fn element_types(ty: &Type, accepts_element: impl Fn(&Type) -> bool) -> Option<(Type, Type)> {
    let declared = ty.element()?;
    let as_ = accepted_as(&declared, accepts_element)?;
    Some((declared, as_))
}

fn write_array<T: ToSql>(
    ty: &Type,
    dims: &[Dimension],
    elements: &[T],
    out: &mut BytesMut,
) -> Result<IsNull, ValueError> {
    let (declared, element_type) =
        element_types(ty, T::accepts).ok_or_else(|| ValueError::wrong_type::<T>(ty))?;
    let range = || ValueError::out_of_range::<T>(ty);
    out.put_i32(i32::try_from(dims.len()).map_err(|_| range())?);
    let has_nulls_at = out.len();
    out.put_i32(0);
    out.put_u32(declared.oid());
    for d in dims {
        out.put_i32(d.len);
        out.put_i32(d.lower_bound);
    }
    let mut has_nulls = false;
    for element in elements {
        let length_at = out.len();
        out.put_i32(0);
        match element.to_sql(&element_type, out)? {
            IsNull::Yes => {
                has_nulls = true;
                out[length_at..length_at + 4].copy_from_slice(&(-1i32).to_be_bytes());
            }
            IsNull::No => {
                let len = out.len() - length_at - 4;
                let len = i32::try_from(len).map_err(|_| range())?;
                out[length_at..length_at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
    if has_nulls {
        out[has_nulls_at..has_nulls_at + 4].copy_from_slice(&1i32.to_be_bytes());
    }
    Ok(IsNull::No)
}

/// Splits the front of a value.
fn take<T, const N: usize>(ty: &Type, raw: &mut &[u8]) -> Result<[u8; N], ValueError> {
    let (head, rest) = raw
        .split_first_chunk::<N>()
        .ok_or_else(|| ValueError::malformed::<T>(ty, "truncated array"))?;
    *raw = rest;
    Ok(*head)
}

fn read_array<'a, T: FromSql<'a>>(ty: &Type, raw: &'a [u8]) -> Result<Array<T>, ValueError> {
    let malformed = |reason| ValueError::malformed::<T>(ty, reason);
    let (declared, element_type) =
        element_types(ty, T::accepts).ok_or_else(|| ValueError::wrong_type::<T>(ty))?;
    let mut raw = raw;
    let ndim = i32::from_be_bytes(take::<T, 4>(ty, &mut raw)?);
    let ndim = usize::try_from(ndim)
        .ok()
        .filter(|&n| n <= MAX_DIMS)
        .ok_or_else(|| malformed("invalid number of dimensions"))?;
    let _has_nulls = take::<T, 4>(ty, &mut raw)?;
    let oid = u32::from_be_bytes(take::<T, 4>(ty, &mut raw)?);
    if oid != declared.oid() {
        return Err(malformed("element type does not match the array type"));
    }
    let mut dims = Vec::with_capacity(ndim);
    for _ in 0..ndim {
        dims.push(Dimension {
            len: i32::from_be_bytes(take::<T, 4>(ty, &mut raw)?),
            lower_bound: i32::from_be_bytes(take::<T, 4>(ty, &mut raw)?),
        });
    }
    let count = element_count(&dims).ok_or_else(|| malformed("invalid dimension length"))?;
    // Each element takes at least its 4-byte length: a count beyond that is a lie,
    // refused before allocating for it.
    if count > raw.len() / 4 {
        return Err(malformed("more elements than data"));
    }
    let mut elements = Vec::with_capacity(count);
    for _ in 0..count {
        let len = i32::from_be_bytes(take::<T, 4>(ty, &mut raw)?);
        if len < 0 {
            elements.push(T::from_sql_null(&element_type)?);
            continue;
        }
        let len = usize::try_from(len).map_err(|_| malformed("invalid element length"))?;
        if len > raw.len() {
            return Err(malformed("truncated array element"));
        }
        let (value, rest) = raw.split_at(len);
        raw = rest;
        elements.push(T::from_sql(&element_type, value)?);
    }
    if !raw.is_empty() {
        return Err(malformed("trailing bytes after the elements"));
    }
    // An empty array is sent with no dimensions; a zero-length dimension is not.
    if count == 0 {
        dims.clear();
    }
    Ok(Array { dims, elements })
}

impl<T: ToSql> ToSql for Array<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        write_array(ty, &self.dims, &self.elements, out)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }

    fn natural_type() -> Type {
        T::natural_type().array().unwrap_or(Type::UNSPECIFIED)
    }
}

impl<'a, T: FromSql<'a>> FromSql<'a> for Array<T> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        read_array(ty, raw)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }
}

/// A one-dimensional array (lower bound 1).
impl<T: ToSql> ToSql for &[T] {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        let dims = match i32::try_from(self.len()) {
            Ok(0) => Vec::new(),
            Ok(len) => alloc::vec![Dimension {
                len,
                lower_bound: 1,
            }],
            Err(_) => return Err(ValueError::out_of_range::<Self>(ty)),
        };
        write_array(ty, &dims, self, out)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }

    fn natural_type() -> Type {
        T::natural_type().array().unwrap_or(Type::UNSPECIFIED)
    }
}

/// A one-dimensional array (lower bound 1).
impl<T: ToSql> ToSql for Vec<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        self.as_slice().to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }

    fn natural_type() -> Type {
        T::natural_type().array().unwrap_or(Type::UNSPECIFIED)
    }
}

/// An empty or one-dimensional array, whatever its lower bound; a multi-dimensional
/// array is an error (read an [`Array`]).
impl<'a, T: FromSql<'a>> FromSql<'a> for Vec<T> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        let array = read_array::<T>(ty, raw)?;
        if array.dims.len() > 1 {
            return Err(ValueError::malformed::<Self>(
                ty,
                "multi-dimensional array (read an Array)",
            ));
        }
        Ok(array.elements)
    }

    /// A one-dimensional array in text format (`{a,"b c",NULL}`), as the server sends
    /// arrays of types read in text (`tsvector[]`, an extension's type). Elements are
    /// read in place, so one that needed backslash escapes (it contained `"` or `\`)
    /// is refused: read such arrays in binary.
    fn from_sql_text(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        let (_, element_type) =
            element_types(ty, T::accepts).ok_or_else(|| ValueError::wrong_type::<T>(ty))?;
        text_elements::<T>(ty, raw)?
            .into_iter()
            .map(|element| match element {
                None => T::from_sql_null(&element_type),
                Some(text) => T::from_sql_text(&element_type, text),
            })
            .collect()
    }

    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }
}

/// The elements of a one-dimensional text array, as slices of `raw` (`None` for
/// NULL). Bounded by `raw`: at most one element per byte.
fn text_elements<'a, T>(ty: &Type, raw: &'a [u8]) -> Result<Vec<Option<&'a [u8]>>, ValueError> {
    let malformed = |reason| ValueError::malformed::<T>(ty, reason);
    // `[0:2]={...}`: lower bounds other than 1 are printed before the braces.
    let body = match raw.first() {
        Some(b'[') => {
            let eq = raw
                .iter()
                .position(|&b| b == b'=')
                .ok_or_else(|| malformed("text array dimensions without '='"))?;
            raw.get(eq + 1..).unwrap_or_default()
        }
        _ => raw,
    };
    let inner = body
        .strip_prefix(b"{")
        .and_then(|b| b.strip_suffix(b"}"))
        .ok_or_else(|| malformed("text array not in braces"))?;
    let mut elements = Vec::new();
    if inner.iter().all(u8::is_ascii_whitespace) {
        return Ok(elements);
    }
    let mut rest = inner;
    loop {
        let trimmed = rest.trim_ascii_start();
        let (element, after) = match trimmed.first() {
            Some(b'{') => {
                return Err(malformed(
                    "multi-dimensional text array (read an Array in binary)",
                ))
            }
            Some(b'"') => {
                let quoted = trimmed.get(1..).unwrap_or_default();
                let end = quoted
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\')
                    .ok_or_else(|| malformed("unterminated quoted element"))?;
                if quoted.get(end) == Some(&b'\\') {
                    return Err(malformed(
                        "escaped element in a text array (read it in binary)",
                    ));
                }
                let after = quoted.get(end + 1..).unwrap_or_default().trim_ascii_start();
                (Some(quoted.get(..end).unwrap_or_default()), after)
            }
            _ => {
                let end = trimmed
                    .iter()
                    .position(|&b| b == b',')
                    .unwrap_or(trimmed.len());
                let word = trimmed.get(..end).unwrap_or_default().trim_ascii_end();
                if word.is_empty() || word.iter().any(|&b| b == b'"' || b == b'{' || b == b'}') {
                    return Err(malformed("invalid text array element"));
                }
                let value = (!word.eq_ignore_ascii_case(b"NULL")).then_some(word);
                (value, trimmed.get(end..).unwrap_or_default())
            }
        };
        elements.push(element);
        match after.split_first() {
            None => return Ok(elements),
            Some((b',', tail)) => rest = tail,
            Some(_) => return Err(malformed("text array elements not separated by commas")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use crate::message::Format;
    use alloc::string::String;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn text_arrays() {
        let text = |raw: &[u8]| Vec::<Option<String>>::from_sql_text(&Type::TEXT_ARRAY, raw);
        assert_eq!(text(b"{}"), Ok(vec![]));
        assert_eq!(
            text(br#"{a,"b c",NULL,"NULL", d }"#),
            Ok(vec![
                Some("a".into()),
                Some("b c".into()),
                None,
                Some("NULL".into()),
                Some("d".into())
            ])
        );
        assert_eq!(
            Vec::<i32>::from_sql_text(&Type::INT4_ARRAY, b"[0:1]={1,2}"),
            Ok(vec![1, 2])
        );
        for bad in [
            &b""[..],
            b"{",
            b"{1,2",
            b"{{1},{2}}",
            br#"{"a\"b"}"#,
            br#"{"a}"#,
            b"{a,,b}",
            b"{a b\"}",
            b"[0:1]{1}",
        ] {
            assert!(text(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn one_dimension() {
        let raw = encode(&vec![1i32, 2], &Type::INT4_ARRAY).unwrap().unwrap();
        assert_eq!(
            &raw[..],
            &[
                0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 2, 0, 0, 0, 1, //
                0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2
            ][..]
        );
        assert_eq!(
            Vec::<i32>::from_sql(&Type::INT4_ARRAY, &raw),
            Ok(vec![1, 2])
        );
        // i64 elements widen from int4.
        assert_eq!(
            Vec::<i64>::from_sql(&Type::INT4_ARRAY, &raw),
            Ok(vec![1, 2])
        );
        let with_null = vec![Some(String::from("a")), None];
        let raw = encode(&with_null, &Type::TEXT_ARRAY).unwrap().unwrap();
        assert_eq!(&raw[4..8], &[0, 0, 0, 1]);
        assert_eq!(
            Vec::<Option<String>>::from_sql(&Type::TEXT_ARRAY, &raw),
            Ok(with_null)
        );
        assert!(matches!(
            Vec::<String>::from_sql(&Type::TEXT_ARRAY, &raw),
            Err(ValueError::UnexpectedNull { .. })
        ));
        let empty: Vec<i32> = Vec::new();
        let raw = encode(&empty, &Type::INT4_ARRAY).unwrap().unwrap();
        assert_eq!(&raw[..], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23][..]);
        assert_eq!(Vec::<i32>::from_sql(&Type::INT4_ARRAY, &raw), Ok(empty));
    }

    #[test]
    fn arrays_of_described_types() {
        use super::super::Kind;
        let mood = Type::new(
            16_390,
            "mood",
            "public",
            Kind::Enum(["sad", "happy"].map(String::from).into()),
        );
        let moods = Type::new(16_389, "_mood", "public", Kind::Array(mood));
        let raw = encode(&vec!["sad", "happy"], &moods).unwrap().unwrap();
        assert_eq!(
            &raw[..24],
            &[
                0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0x06, 0, 0, 0, 2, 0, 0, 0, 1, //
                0, 0, 0, 3
            ][..]
        );
        assert_eq!(
            Vec::<String>::from_sql(&moods, &raw),
            Ok(vec![String::from("sad"), String::from("happy")])
        );
        // A domain array: the header names the domain, values are the base type's.
        let positive = Type::new(16_500, "positive", "public", Kind::Domain(Type::INT4));
        let positives = Type::new(16_499, "_positive", "public", Kind::Array(positive));
        let raw = encode(&vec![7i32], &positives).unwrap().unwrap();
        assert_eq!(
            &raw[..],
            &[
                0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0x74, 0, 0, 0, 1, 0, 0, 0, 1, //
                0, 0, 0, 4, 0, 0, 0, 7
            ][..]
        );
        assert_eq!(
            Vec::<i64>::from_sql_checked(&positives, Format::Binary, Some(&raw)),
            Ok(vec![7])
        );
        assert!(Vec::<String>::from_sql_checked(&positives, Format::Binary, Some(&raw)).is_err());
    }

    #[test]
    fn types_are_checked() {
        assert!(encode(&vec![1i32], &Type::TEXT_ARRAY).is_err());
        assert!(encode(&vec![1i32], &Type::INT4).is_err());
        assert_eq!(<Vec<i32> as ToSql>::natural_type(), Type::INT4_ARRAY);
        let raw = encode(&vec![1i32], &Type::INT4_ARRAY).unwrap().unwrap();
        // The element OID in the value must match the column's.
        let mut wrong = raw.to_vec();
        wrong[11] = 20;
        assert!(Vec::<i32>::from_sql(&Type::INT4_ARRAY, &wrong).is_err());
        assert!(matches!(
            Vec::<i32>::from_sql_checked(&Type::TEXT_ARRAY, Format::Binary, Some(&raw)),
            Err(ValueError::WrongType { .. })
        ));
    }

    #[test]
    fn several_dimensions() {
        let dims = vec![
            Dimension {
                len: 2,
                lower_bound: 0,
            },
            Dimension {
                len: 1,
                lower_bound: 1,
            },
            Dimension {
                len: 2,
                lower_bound: -3,
            },
        ];
        let a = Array::from_parts(vec![1i16, 2, 3, 4], dims).unwrap();
        let raw = encode(&a, &Type::INT2_ARRAY).unwrap().unwrap();
        assert_eq!(Array::<i16>::from_sql(&Type::INT2_ARRAY, &raw), Ok(a));
        assert!(Vec::<i16>::from_sql(&Type::INT2_ARRAY, &raw).is_err());
        assert!(Array::from_parts(
            vec![1],
            vec![Dimension {
                len: 2,
                lower_bound: 1
            }]
        )
        .is_none());
        assert!(Array::<i32>::from_parts(vec![], vec![]).is_some());
    }

    #[test]
    fn lying_headers_are_refused() {
        // 2^31 - 1 elements announced, none present.
        let raw = [
            0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1,
        ];
        assert!(Vec::<i32>::from_sql(&Type::INT4_ARRAY, &raw).is_err());
        // Dimensions whose product overflows.
        let mut raw = vec![0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 23];
        for _ in 0..6 {
            raw.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1]);
        }
        assert!(Array::<i32>::from_sql(&Type::INT4_ARRAY, &raw).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(v in proptest::collection::vec(proptest::option::of(any::<i64>()), 0..20)) {
            let raw = encode(&v, &Type::INT8_ARRAY).unwrap().unwrap();
            prop_assert_eq!(Vec::<Option<i64>>::from_sql(&Type::INT8_ARRAY, &raw), Ok(v));
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Array::<Option<i32>>::from_sql(&Type::INT4_ARRAY, &raw);
            let _ = Vec::<Option<String>>::from_sql(&Type::TEXT_ARRAY, &raw);
        }

        #[test]
        fn decoding_valid_headers_never_panics(
            dims in proptest::collection::vec((0i32..4, -2i32..3), 0..4),
            tail in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut raw = vec![];
            raw.extend_from_slice(&i32::try_from(dims.len()).unwrap().to_be_bytes());
            raw.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 23]);
            for (len, lower) in dims {
                raw.extend_from_slice(&len.to_be_bytes());
                raw.extend_from_slice(&lower.to_be_bytes());
            }
            raw.extend_from_slice(&tail);
            let _ = Array::<Option<i32>>::from_sql(&Type::INT4_ARRAY, &raw);
        }
    }
}
