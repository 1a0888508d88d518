//! `bytea` as `Vec<u8>`, `&[u8]`, `Box<[u8]>`, `Cow<[u8]>` and [`bytes::Bytes`].
//!
//! Binary format is the bytes themselves. Text format is the `hex` output format
//! (`\x` then two hex digits per byte), the server default since PostgreSQL 9.0.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use super::{FromSql, IsNull, ToSql, Type, ValueError};

impl ToSql for &[u8] {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        out.put_slice(self);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    fn natural_type() -> Type {
        Type::BYTEA
    }
}

impl ToSql for Vec<u8> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        self.as_slice().to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    fn natural_type() -> Type {
        Type::BYTEA
    }
}

impl<'a> FromSql<'a> for &'a [u8] {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        Ok(raw)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }
}

impl FromSql<'_> for Vec<u8> {
    fn from_sql(_ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        Ok(raw.to_vec())
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let malformed = |reason| ValueError::malformed::<Self>(ty, reason);
        let hex = raw
            .strip_prefix(b"\\x")
            .ok_or_else(|| malformed("not in hex format"))?;
        if hex.len() % 2 != 0 {
            return Err(malformed("odd number of hex digits"));
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(malformed("invalid hex digit")),
        };
        hex.chunks_exact(2)
            .map(|pair| match pair {
                [hi, lo] => Ok(digit(*hi)? << 4 | digit(*lo)?),
                _ => Err(malformed("odd number of hex digits")),
            })
            .collect()
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }
}

/// Owned byte containers: written like `&[u8]`, read like `Vec<u8>` (both formats).
macro_rules! owned_bytes {
    ($($rust:ty),*) => {$(
        impl ToSql for $rust {
            fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
                (&self[..]).to_sql(ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::BYTEA
            }

            fn natural_type() -> Type {
                Type::BYTEA
            }
        }

        impl FromSql<'_> for $rust {
            fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                Vec::<u8>::from_sql(ty, raw).map(Self::from)
            }

            fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                Vec::<u8>::from_sql_text(ty, raw).map(Self::from)
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::BYTEA
            }
        }
    )*};
}

owned_bytes!(Box<[u8]>, Bytes);

impl ToSql for Cow<'_, [u8]> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        (&**self).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    fn natural_type() -> Type {
        Type::BYTEA
    }
}

/// Borrows from the row in binary format; owns the decoded bytes in text format.
impl<'a> FromSql<'a> for Cow<'a, [u8]> {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        Ok(Cow::Borrowed(raw))
    }

    fn from_sql_text(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        Vec::<u8>::from_sql_text(ty, raw).map(Cow::Owned)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use crate::message::Format;
    use alloc::vec;

    #[test]
    fn bytea_both_formats() {
        assert_eq!(
            encode(&vec![0u8, 255], &Type::BYTEA).unwrap().as_deref(),
            Some(&[0, 255][..])
        );
        assert_eq!(
            <&[u8]>::from_sql_checked(&Type::BYTEA, Format::Binary, Some(&[1, 2])),
            Ok(&[1u8, 2][..])
        );
        assert_eq!(
            Vec::<u8>::from_sql_checked(&Type::BYTEA, Format::Text, Some(b"\\x00fFa0")),
            Ok(vec![0, 255, 0xa0])
        );
        for bad in [&b"\\x0"[..], b"\\xzz", b"abc"] {
            assert!(matches!(
                Vec::<u8>::from_sql_checked(&Type::BYTEA, Format::Text, Some(bad)),
                Err(ValueError::Malformed { .. })
            ));
        }
        assert_eq!(
            encode(&Bytes::from_static(b"ab"), &Type::BYTEA)
                .unwrap()
                .as_deref(),
            Some(&b"ab"[..])
        );
        assert_eq!(
            Bytes::from_sql_checked(&Type::BYTEA, Format::Text, Some(b"\\x6162")),
            Ok(Bytes::from_static(b"ab"))
        );
        assert_eq!(
            Box::<[u8]>::from_sql_checked(&Type::BYTEA, Format::Binary, Some(b"ab")),
            Ok(Box::from(&b"ab"[..]))
        );
        assert_eq!(
            Cow::<[u8]>::from_sql_checked(&Type::BYTEA, Format::Binary, Some(b"ab")),
            Ok(Cow::Borrowed(&b"ab"[..]))
        );
        assert!(matches!(
            Vec::<u8>::from_sql_checked(&Type::TEXT, Format::Binary, Some(b"x")),
            Err(ValueError::WrongType { .. })
        ));
    }
}
