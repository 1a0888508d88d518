//! Fixed-width types: `bool`, `"char"`, the integers, `oid` and the floats.
//!
//! Binary format is the value in network byte order (IEEE 754 for the floats); the
//! length must match exactly. Text format is what the type's output function prints.

use super::ty::oid;
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

/// The integer in a binary `int2`, `int4` or `int8` value, widened to `i64`.
fn read_int<T>(ty: &Type, raw: &[u8]) -> Result<i64, ValueError> {
    match ty.oid() {
        oid::INT2 => Ok(i64::from(i16::from_be_bytes(fixed::<T, 2>(ty, raw)?))),
        oid::INT4 => Ok(i64::from(i32::from_be_bytes(fixed::<T, 4>(ty, raw)?))),
        oid::INT8 => Ok(i64::from_be_bytes(fixed::<T, 8>(ty, raw)?)),
        _ => Err(ValueError::wrong_type::<T>(ty)),
    }
}

/// Writes `value` as a binary `int2`, `int4` or `int8`, refusing values the type
/// cannot hold.
fn write_int<T>(value: i64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
    let range = || ValueError::out_of_range::<T>(ty);
    match ty.oid() {
        oid::INT2 => out.put_i16(i16::try_from(value).map_err(|_| range())?),
        oid::INT4 => out.put_i32(i32::try_from(value).map_err(|_| range())?),
        oid::INT8 => out.put_i64(value),
        _ => return Err(ValueError::wrong_type::<T>(ty)),
    }
    Ok(IsNull::No)
}

fn is_int(ty: &Type) -> bool {
    matches!(ty.oid(), oid::INT2 | oid::INT4 | oid::INT8)
}

/// Signed integers: each reads and writes any of `int2`, `int4` and `int8`, checking
/// the range. Widening never fails; narrowing fails with [`ValueError::OutOfRange`]
/// for a value that does not fit (an `i64` of 2^40 for an `int4` parameter, an `int8`
/// column holding 2^40 read as an `i32`), never truncating.
macro_rules! integer {
    ($rust:ty, $pg:ident) => {
        impl ToSql for $rust {
            fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
                write_int::<Self>(i64::from(*self), ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                is_int(ty)
            }

            fn natural_type() -> Type {
                Type::$pg
            }
        }

        impl FromSql<'_> for $rust {
            fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                <$rust>::try_from(read_int::<Self>(ty, raw)?)
                    .map_err(|_| ValueError::out_of_range::<Self>(ty))
            }

            fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                let value: i64 = text::<Self>(ty, raw)?
                    .parse()
                    .map_err(|_| ValueError::malformed::<Self>(ty, "not a decimal integer"))?;
                <$rust>::try_from(value).map_err(|_| ValueError::out_of_range::<Self>(ty))
            }

            fn accepts(ty: &Type) -> bool {
                is_int(ty)
            }
        }
    };
}

integer!(i16, INT2);
integer!(i32, INT4);
integer!(i64, INT8);

/// `"char"`: one byte. Its text form prints non-ASCII bytes as octal escapes, so only
/// binary is decoded.
impl ToSql for i8 {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        out.put_i8(*self);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::CHAR
    }

    fn natural_type() -> Type {
        Type::CHAR
    }
}

impl FromSql<'_> for i8 {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        Ok(Self::from_be_bytes(fixed::<Self, 1>(ty, raw)?))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::CHAR
    }
}

/// The unsigned 32-bit types: `oid`, the `reg*` aliases of `oid` (`regclass`,
/// `regtype`, ...), `xid` and `cid`. Binary is the number; text is decoded only when it
/// is a number (the `reg*` types print names).
fn is_u32(ty: &Type) -> bool {
    matches!(
        ty.oid(),
        oid::OID
            | oid::REGPROC
            | oid::REGPROCEDURE
            | oid::REGOPER
            | oid::REGOPERATOR
            | oid::REGCLASS
            | oid::REGTYPE
            | oid::REGCONFIG
            | oid::REGDICTIONARY
            | oid::REGNAMESPACE
            | oid::REGROLE
            | oid::REGCOLLATION
            | oid::XID
            | oid::CID
    )
}

impl ToSql for u32 {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        out.put_u32(*self);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        is_u32(ty)
    }

    fn natural_type() -> Type {
        Type::OID
    }
}

impl FromSql<'_> for u32 {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        Ok(Self::from_be_bytes(fixed::<Self, 4>(ty, raw)?))
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        text::<Self>(ty, raw)?
            .parse()
            .map_err(|_| ValueError::malformed::<Self>(ty, "not a decimal integer"))
    }

    fn accepts(ty: &Type) -> bool {
        is_u32(ty)
    }
}

/// The text form of a float: decimal, or `NaN`, `Infinity`, `-Infinity`.
fn float_text<T>(ty: &Type, raw: &[u8]) -> Result<f64, ValueError> {
    match text::<T>(ty, raw)? {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        s => s
            .parse()
            .map_err(|_| ValueError::malformed::<T>(ty, "not a number")),
    }
}

/// Floats: binary is the IEEE 754 bits, big-endian; NaN and the infinities are kept.
/// `f32` is sent as `float4` or (exactly) `float8`; `f64` reads `float4` too, since
/// every `float4` is exactly an `f64`, but is sent only as `float8` (rounding it to
/// `float4` would lose digits silently).
impl ToSql for f32 {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        if *ty == Type::FLOAT8 {
            out.put_f64(f64::from(*self));
        } else {
            out.put_f32(*self);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.oid(), oid::FLOAT4 | oid::FLOAT8)
    }

    fn natural_type() -> Type {
        Type::FLOAT4
    }
}

impl FromSql<'_> for f32 {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        Ok(Self::from_be_bytes(fixed::<Self, 4>(ty, raw)?))
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        match text::<Self>(ty, raw)? {
            "NaN" => Ok(Self::NAN),
            "Infinity" => Ok(Self::INFINITY),
            "-Infinity" => Ok(Self::NEG_INFINITY),
            s => s
                .parse()
                .map_err(|_| ValueError::malformed::<Self>(ty, "not a number")),
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::FLOAT4
    }
}

impl ToSql for f64 {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        out.put_f64(*self);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::FLOAT8
    }

    fn natural_type() -> Type {
        Type::FLOAT8
    }
}

impl FromSql<'_> for f64 {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        if *ty == Type::FLOAT4 {
            Ok(Self::from(f32::from_be_bytes(fixed::<Self, 4>(ty, raw)?)))
        } else {
            Ok(Self::from_be_bytes(fixed::<Self, 8>(ty, raw)?))
        }
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        float_text::<Self>(ty, raw)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.oid(), oid::FLOAT4 | oid::FLOAT8)
    }
}

/// `void`, what a function returning nothing returns, as `()`.
impl FromSql<'_> for () {
    fn from_sql(_ty: &Type, _raw: &[u8]) -> Result<Self, ValueError> {
        Ok(())
    }

    fn from_sql_text(_ty: &Type, _raw: &[u8]) -> Result<Self, ValueError> {
        Ok(())
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, ValueError> {
        // `SELECT f()` of a void function is a NULL-free empty value, but a void
        // column can also be NULL (`SELECT NULL::void`): both are "nothing".
        Ok(())
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::VOID
    }
}

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
            Err(ValueError::OutOfRange { .. })
        ));
        assert!(matches!(
            text::<i8>(&Type::CHAR, b"a"),
            Err(ValueError::TextFormatUnsupported { .. })
        ));
    }

    #[test]
    fn integers_widen_and_narrow_checked() {
        // Widening never fails.
        assert_eq!(binary::<i64>(&Type::INT2, &[0xff, 0xfe]), Ok(-2));
        assert_eq!(binary::<i32>(&Type::INT2, &[0x80, 0]), Ok(-32768));
        assert_eq!(
            encode(&1i16, &Type::INT8).unwrap().as_deref(),
            Some(&[0, 0, 0, 0, 0, 0, 0, 1][..])
        );
        // Narrowing is checked both ways.
        assert_eq!(
            encode(&-5i64, &Type::INT2).unwrap().as_deref(),
            Some(&[0xff, 0xfb][..])
        );
        let e = encode(&(1i64 << 40), &Type::INT4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "value out of range: PostgreSQL type int4 and Rust type i64 cannot both hold it"
        );
        assert_eq!(
            encode(&70_000i32, &Type::INT2),
            Err(ValueError::out_of_range::<i32>(&Type::INT2))
        );
        assert_eq!(
            binary::<i16>(&Type::INT4, &[0, 0, 0x7f, 0xff]),
            Ok(i16::MAX)
        );
        assert_eq!(
            binary::<i16>(&Type::INT4, &[0, 1, 0, 0]),
            Err(ValueError::out_of_range::<i16>(&Type::INT4))
        );
        assert_eq!(
            binary::<i32>(&Type::INT8, &[0, 0, 1, 0, 0, 0, 0, 0]),
            Err(ValueError::out_of_range::<i32>(&Type::INT8))
        );
        assert_eq!(
            text::<i16>(&Type::INT8, b"70000"),
            Err(ValueError::out_of_range::<i16>(&Type::INT8))
        );
        // The length must match the column type, not the Rust type.
        assert!(matches!(
            binary::<i64>(&Type::INT4, &[0, 0, 0, 0, 0, 0, 0, 1]),
            Err(ValueError::Malformed { .. })
        ));
        // Integers are not oids or floats.
        assert!(matches!(
            encode(&1i32, &Type::OID),
            Err(ValueError::WrongType { .. })
        ));
        assert!(matches!(
            binary::<i64>(&Type::FLOAT8, &[0; 8]),
            Err(ValueError::WrongType { .. })
        ));
    }

    #[test]
    fn oid_and_reg_types_are_u32() {
        for ty in [
            Type::OID,
            Type::REGCLASS,
            Type::REGTYPE,
            Type::XID,
            Type::REGROLE,
        ] {
            assert_eq!(
                encode(&4_000_000_000u32, &ty).unwrap().as_deref(),
                Some(&4_000_000_000u32.to_be_bytes()[..])
            );
            assert_eq!(binary::<u32>(&ty, &[0, 0, 4, 0]), Ok(1024));
        }
        assert_eq!(text::<u32>(&Type::OID, b"4294967295"), Ok(u32::MAX));
        assert!(matches!(
            text::<u32>(&Type::REGCLASS, b"pg_class"),
            Err(ValueError::Malformed { .. })
        ));
        assert!(matches!(
            encode(&1u32, &Type::INT4),
            Err(ValueError::WrongType { .. })
        ));
    }

    #[test]
    fn void_is_unit() {
        assert_eq!(binary::<()>(&Type::VOID, &[]), Ok(()));
        assert_eq!(
            <()>::from_sql_checked(&Type::VOID, Format::Binary, None),
            Ok(())
        );
        assert!(binary::<()>(&Type::INT4, &[]).is_err());
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
        // float4 widens to f64 exactly; f32 is sent as float8 exactly; f64 is not
        // rounded to float4.
        assert_eq!(binary::<f64>(&Type::FLOAT4, &[0x3f, 0xc0, 0, 0]), Ok(1.5));
        assert_eq!(
            encode(&1.5f32, &Type::FLOAT8).unwrap().as_deref(),
            Some(&[0x3f, 0xf8, 0, 0, 0, 0, 0, 0][..])
        );
        assert!(matches!(
            encode(&1.5f64, &Type::FLOAT4),
            Err(ValueError::WrongType { .. })
        ));
        assert!(matches!(
            binary::<f32>(&Type::FLOAT8, &[0; 8]),
            Err(ValueError::WrongType { .. })
        ));
        assert!(binary::<f64>(&Type::FLOAT8, &f64::NAN.to_be_bytes())
            .unwrap()
            .is_nan());
    }

    proptest::proptest! {
        #[test]
        fn integers_round_trip_or_refuse(v in proptest::prelude::any::<i64>()) {
            for (ty, fits) in [
                (Type::INT2, i16::try_from(v).is_ok()),
                (Type::INT4, i32::try_from(v).is_ok()),
                (Type::INT8, true),
            ] {
                match encode(&v, &ty) {
                    Ok(Some(raw)) => {
                        proptest::prop_assert!(fits);
                        proptest::prop_assert_eq!(binary::<i64>(&ty, &raw), Ok(v));
                        let narrow = binary::<i16>(&ty, &raw);
                        proptest::prop_assert_eq!(narrow.is_ok(), i16::try_from(v).is_ok());
                    }
                    Ok(None) => proptest::prop_assert!(false, "NULL"),
                    Err(e) => {
                        proptest::prop_assert!(!fits);
                        proptest::prop_assert_eq!(e, ValueError::out_of_range::<i64>(&ty));
                    }
                }
            }
        }

        #[test]
        fn floats_round_trip_bit_exact(bits in proptest::prelude::any::<u64>()) {
            let v = f64::from_bits(bits);
            let raw = encode(&v, &Type::FLOAT8).unwrap().unwrap();
            proptest::prop_assert_eq!(binary::<f64>(&Type::FLOAT8, &raw).map(f64::to_bits), Ok(bits));
        }

        #[test]
        fn decoders_never_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..10)) {
            for ty in [Type::INT2, Type::INT4, Type::INT8, Type::FLOAT4, Type::FLOAT8] {
                let _ = binary::<i64>(&ty, &raw);
                let _ = binary::<i16>(&ty, &raw);
                let _ = binary::<f64>(&ty, &raw);
                let _ = text::<i32>(&ty, &raw);
                let _ = text::<f64>(&ty, &raw);
            }
        }
    }
}
