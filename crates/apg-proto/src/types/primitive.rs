//! Fixed-width types: `bool`, `"char"`, the integers, `oid` and the floats.
//!
//! Binary format is the value in network byte order (IEEE 754 for the floats); the
//! length must match exactly. Text format is what the type's output function prints.

use bytes::{BufMut, BytesMut};

use super::{FromSql, IsNull, ToSql, Type, ValueError};

/// The text of a value, which for these types must be ASCII.
fn text<'a, T>(ty: &Type, raw: &'a [u8]) -> Result<&'a str, ValueError> {
    core::str::from_utf8(raw).map_err(|_| ValueError::malformed::<T>(ty, "text is not UTF-8"))
}

/// The `N` bytes of a binary value.
fn fixed<T, const N: usize>(ty: &Type, raw: &[u8]) -> Result<[u8; N], ValueError> {
    raw.try_into()
        .map_err(|_| ValueError::malformed::<T>(ty, "wrong length for the type"))
}

impl ToSql for bool {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        out.put_u8(u8::from(*self));
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::BOOL
    }

    fn natural_type() -> Type {
        Type::BOOL
    }
}

impl FromSql<'_> for bool {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let [b] = fixed::<Self, 1>(ty, raw)?;
        Ok(b != 0)
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        match raw {
            b"t" => Ok(true),
            b"f" => Ok(false),
            _ => Err(ValueError::malformed::<Self>(ty, "expected t or f")),
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::BOOL
    }
}

/// Integer-like types: binary is big-endian of the type's width; text is decimal.
macro_rules! integer {
    ($rust:ty, $pg:ident, $put:ident, $text:expr) => {
        impl ToSql for $rust {
            fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
                out.$put(*self);
                Ok(IsNull::No)
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }

            fn natural_type() -> Type {
                Type::$pg
            }
        }

        impl FromSql<'_> for $rust {
            fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                Ok(<$rust>::from_be_bytes(fixed::<
                    Self,
                    { core::mem::size_of::<$rust>() },
                >(ty, raw)?))
            }

            fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                if !$text {
                    return Err(ValueError::TextFormatUnsupported {
                        pg_type: ty.clone(),
                        rust_type: core::any::type_name::<Self>(),
                    });
                }
                text::<Self>(ty, raw)?
                    .parse()
                    .map_err(|_| ValueError::malformed::<Self>(ty, "not a decimal integer"))
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }
        }
    };
}

// `"char"` prints non-ASCII bytes as octal escapes: its text form is not a number.
integer!(i8, CHAR, put_i8, false);
integer!(i16, INT2, put_i16, true);
integer!(i32, INT4, put_i32, true);
integer!(i64, INT8, put_i64, true);
integer!(u32, OID, put_u32, true);

/// Floats: binary is the IEEE 754 bits, big-endian; text also spells the specials
/// `NaN`, `Infinity` and `-Infinity`.
macro_rules! float {
    ($rust:ty, $pg:ident, $put:ident) => {
        impl ToSql for $rust {
            fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
                out.$put(*self);
                Ok(IsNull::No)
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }

            fn natural_type() -> Type {
                Type::$pg
            }
        }

        impl FromSql<'_> for $rust {
            fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                Ok(<$rust>::from_be_bytes(fixed::<
                    Self,
                    { core::mem::size_of::<$rust>() },
                >(ty, raw)?))
            }

            fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                match text::<Self>(ty, raw)? {
                    "NaN" => Ok(<$rust>::NAN),
                    "Infinity" => Ok(<$rust>::INFINITY),
                    "-Infinity" => Ok(<$rust>::NEG_INFINITY),
                    s => s
                        .parse()
                        .map_err(|_| ValueError::malformed::<Self>(ty, "not a number")),
                }
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }
        }
    };
}

float!(f32, FLOAT4, put_f32);
float!(f64, FLOAT8, put_f64);

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use crate::message::Format;

    fn binary<'a, T: FromSql<'a>>(ty: &Type, raw: &'a [u8]) -> Result<T, ValueError> {
        T::from_sql_checked(ty, Format::Binary, Some(raw))
    }

    fn text<'a, T: FromSql<'a>>(ty: &Type, raw: &'a [u8]) -> Result<T, ValueError> {
        T::from_sql_checked(ty, Format::Text, Some(raw))
    }

    #[test]
    fn bool_both_formats() {
        assert_eq!(
            encode(&true, &Type::BOOL).unwrap().as_deref(),
            Some(&[1][..])
        );
        assert_eq!(
            encode(&false, &Type::BOOL).unwrap().as_deref(),
            Some(&[0][..])
        );
        assert_eq!(binary::<bool>(&Type::BOOL, &[1]), Ok(true));
        assert_eq!(binary::<bool>(&Type::BOOL, &[0]), Ok(false));
        assert_eq!(text::<bool>(&Type::BOOL, b"t"), Ok(true));
        assert_eq!(text::<bool>(&Type::BOOL, b"f"), Ok(false));
        assert!(matches!(
            text::<bool>(&Type::BOOL, b"yes"),
            Err(ValueError::Malformed { .. })
        ));
        assert!(matches!(
            binary::<bool>(&Type::BOOL, &[1, 0]),
            Err(ValueError::Malformed { .. })
        ));
    }

    #[test]
    fn integers_are_big_endian_and_exact_width() {
        // int2 0x0102, int4 -2, int8 2^40, oid 4294967295.
        assert_eq!(
            encode(&0x0102i16, &Type::INT2).unwrap().as_deref(),
            Some(&[1, 2][..])
        );
        assert_eq!(
            encode(&-2i32, &Type::INT4).unwrap().as_deref(),
            Some(&[0xff, 0xff, 0xff, 0xfe][..])
        );
        assert_eq!(
            encode(&(1i64 << 40), &Type::INT8).unwrap().as_deref(),
            Some(&[0, 0, 1, 0, 0, 0, 0, 0][..])
        );
        assert_eq!(binary::<i16>(&Type::INT2, &[1, 2]), Ok(0x0102));
        assert_eq!(
            binary::<i32>(&Type::INT4, &[0xff, 0xff, 0xff, 0xfe]),
            Ok(-2)
        );
        assert_eq!(
            binary::<i64>(&Type::INT8, &[0, 0, 1, 0, 0, 0, 0, 0]),
            Ok(1 << 40)
        );
        assert_eq!(binary::<u32>(&Type::OID, &[0xff; 4]), Ok(u32::MAX));
        assert_eq!(binary::<i8>(&Type::CHAR, b"a"), Ok(0x61));
        // A 4-byte value is not an int8, whatever it holds.
        assert!(matches!(
            binary::<i64>(&Type::INT8, &[0, 0, 0, 1]),
            Err(ValueError::Malformed { .. })
        ));
        assert_eq!(text::<i32>(&Type::INT4, b"-42"), Ok(-42));
        assert_eq!(
            text::<i64>(&Type::INT8, b"9223372036854775807"),
            Ok(i64::MAX)
        );
        assert!(matches!(
            text::<i16>(&Type::INT2, b"70000"),
            Err(ValueError::Malformed { .. })
        ));
        assert!(matches!(
            text::<i8>(&Type::CHAR, b"a"),
            Err(ValueError::TextFormatUnsupported { .. })
        ));
    }

    #[test]
    fn integers_do_not_widen_or_narrow() {
        assert!(matches!(
            binary::<i64>(&Type::INT4, &[0, 0, 0, 1]),
            Err(ValueError::WrongType { .. })
        ));
        assert!(matches!(
            encode(&1i32, &Type::INT8),
            Err(ValueError::WrongType { .. })
        ));
    }

    #[test]
    fn floats_both_formats() {
        assert_eq!(
            encode(&1.5f64, &Type::FLOAT8).unwrap().as_deref(),
            Some(&[0x3f, 0xf8, 0, 0, 0, 0, 0, 0][..])
        );
        assert_eq!(
            encode(&1.5f32, &Type::FLOAT4).unwrap().as_deref(),
            Some(&[0x3f, 0xc0, 0, 0][..])
        );
        assert_eq!(binary::<f32>(&Type::FLOAT4, &[0x3f, 0xc0, 0, 0]), Ok(1.5));
        assert_eq!(text::<f64>(&Type::FLOAT8, b"0.1"), Ok(0.1));
        assert_eq!(
            text::<f64>(&Type::FLOAT8, b"-Infinity"),
            Ok(f64::NEG_INFINITY)
        );
        assert!(text::<f32>(&Type::FLOAT4, b"NaN").unwrap().is_nan());
        assert!(matches!(
            binary::<f64>(&Type::FLOAT4, &[0; 4]),
            Err(ValueError::WrongType { .. })
        ));
    }
}
