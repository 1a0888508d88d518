//! `numeric` as an exact [`Numeric`].
//!
//! Binary format: `ndigits: i16, weight: i16, sign: u16, dscale: u16`, then `ndigits`
//! base-10000 digits as `i16`, most significant first. The value is
//! `sum(digit[i] * 10000^(weight - i))`, printed with `dscale` digits after the
//! decimal point. The sign word is `0x0000` (positive), `0x4000` (negative), `0xC000`
//! (NaN), `0xD000` (+Infinity) or `0xF000` (-Infinity; both PostgreSQL 14+).

use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::{FromSql, IsNull, ToSql, Type, ValueError};

const SIGN_POS: u16 = 0x0000;
const SIGN_NEG: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_PINF: u16 = 0xD000;
const SIGN_NINF: u16 = 0xF000;
/// The largest display scale PostgreSQL stores (`NUMERIC_DSCALE_MAX`).
const MAX_SCALE: u16 = 0x3FFF;
const NBASE: u16 = 10_000;

/// An exact PostgreSQL `numeric`: any finite value PostgreSQL can store (up to 131,072
/// digits before the decimal point and 16,383 after), `NaN`, and `±Infinity`.
///
/// The display scale (the number of digits after the decimal point) is part of the
/// value, as in PostgreSQL: `1.50` prints as `1.50`. Equality and hashing compare the
/// representation, scale included, so `1.50` and `1.5` are different values here
/// (PostgreSQL's `=` would call them equal); `NaN` equals itself.
///
/// ```
/// use apg_proto::types::Numeric;
///
/// let n: Numeric = "-12345678901234567890.0001".parse()?;
/// assert_eq!(n.to_string(), "-12345678901234567890.0001");
/// assert_eq!(n.scale(), Some(4));
/// assert_eq!(i64::try_from(&"42".parse::<Numeric>()?)?, 42);
/// assert_eq!(Numeric::from(7u8).to_string(), "7");
/// # Ok::<(), apg_proto::types::NumericError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Numeric(Repr);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Repr {
    NaN,
    Infinity,
    NegInfinity,
    Finite(Finite),
}

/// A finite value. Invariants: `digits` are each below 10000 and have no leading or
/// trailing zero digit; zero is no digits, weight 0, not negative; no digit lies
/// beyond `scale` decimal places.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Finite {
    negative: bool,
    weight: i16,
    scale: u16,
    digits: Vec<u16>,
}

/// A string that is not a number, or a number outside the range of the target type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumericError(&'static str);

impl fmt::Display for NumericError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NumericError {}

impl Numeric {
    /// Not-a-number.
    pub const NAN: Self = Self(Repr::NaN);
    /// Positive infinity (PostgreSQL 14+).
    pub const INFINITY: Self = Self(Repr::Infinity);
    /// Negative infinity (PostgreSQL 14+).
    pub const NEG_INFINITY: Self = Self(Repr::NegInfinity);
    /// Zero, with no digits after the decimal point.
    pub const ZERO: Self = Self(Repr::Finite(Finite {
        negative: false,
        weight: 0,
        scale: 0,
        digits: Vec::new(),
    }));

    /// Whether the value is `NaN`.
    pub fn is_nan(&self) -> bool {
        matches!(self.0, Repr::NaN)
    }

    /// Whether the value is `Infinity` or `-Infinity`.
    pub fn is_infinite(&self) -> bool {
        matches!(self.0, Repr::Infinity | Repr::NegInfinity)
    }

    /// Whether the value is neither `NaN` nor infinite.
    pub fn is_finite(&self) -> bool {
        matches!(self.0, Repr::Finite(_))
    }

    /// Whether the value is below zero (`-Infinity` included; not `NaN`).
    pub fn is_negative(&self) -> bool {
        match &self.0 {
            Repr::NegInfinity => true,
            Repr::Finite(f) => f.negative,
            Repr::NaN | Repr::Infinity => false,
        }
    }

    /// The number of digits after the decimal point; `None` for `NaN` and infinities.
    pub fn scale(&self) -> Option<u16> {
        match &self.0 {
            Repr::Finite(f) => Some(f.scale),
            _ => None,
        }
    }

    /// The nearest `f64` (lossy: `f64` holds about 17 significant digits; values beyond
    /// its range become infinities, values too small for it zero). `NaN` and the
    /// infinities map to their `f64` counterparts.
    pub fn to_f64(&self) -> f64 {
        match &self.0 {
            Repr::NaN => f64::NAN,
            Repr::Infinity => f64::INFINITY,
            Repr::NegInfinity => f64::NEG_INFINITY,
            // The decimal text is exact, and parsing it rounds correctly. It cannot
            // fail: the text is digits, at most one point and a sign.
            Repr::Finite(_) => self.to_string().parse().unwrap_or(f64::NAN),
        }
    }

    /// A finite value from its sign and magnitude.
    fn from_u128(negative: bool, mut magnitude: u128) -> Self {
        let mut digits = Vec::new();
        while magnitude > 0 {
            // The remainder is below 10000, so it fits a u16.
            digits.push(u16::try_from(magnitude % u128::from(NBASE)).unwrap_or(0));
            magnitude /= u128::from(NBASE);
        }
        digits.reverse();
        let weight = i16::try_from(digits.len()).unwrap_or(1) - 1;
        Self(Repr::Finite(Finite::normalized(
            negative, weight, 0, digits,
        )))
    }

    /// The sign and integer magnitude of a finite integral value.
    fn to_u128(&self) -> Result<(bool, u128), NumericError> {
        let Repr::Finite(f) = &self.0 else {
            return Err(NumericError("NaN or infinite numeric is not an integer"));
        };
        let integral_groups = usize::try_from(i32::from(f.weight) + 1).unwrap_or(0);
        if f.digits.len() > integral_groups {
            return Err(NumericError("numeric has a fractional part"));
        }
        let mut magnitude: u128 = 0;
        for i in 0..integral_groups {
            let digit = f.digits.get(i).copied().unwrap_or(0);
            magnitude = magnitude
                .checked_mul(u128::from(NBASE))
                .and_then(|m| m.checked_add(u128::from(digit)))
                .ok_or(NumericError("numeric out of range for the integer type"))?;
        }
        Ok((f.negative, magnitude))
    }

    fn read(raw: &[u8]) -> Result<Self, &'static str> {
        let word = |i: usize| -> Result<u16, &'static str> {
            match raw.get(i..i + 2) {
                Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
                _ => Err("truncated value"),
            }
        };
        let ndigits = i16::from_be_bytes(word(0)?.to_be_bytes());
        let weight = i16::from_be_bytes(word(2)?.to_be_bytes());
        let sign = word(4)?;
        let scale = word(6)?;
        let ndigits = usize::try_from(ndigits).map_err(|_| "negative digit count")?;
        if raw.len() != 8 + 2 * ndigits {
            return Err("length does not match the digit count");
        }
        let negative = match sign {
            SIGN_POS => false,
            SIGN_NEG => true,
            SIGN_NAN => return Ok(Self::NAN),
            SIGN_PINF => return Ok(Self::INFINITY),
            SIGN_NINF => return Ok(Self::NEG_INFINITY),
            _ => return Err("invalid sign"),
        };
        if scale > MAX_SCALE {
            return Err("invalid display scale");
        }
        let mut digits = Vec::with_capacity(ndigits);
        for i in 0..ndigits {
            let digit = word(8 + 2 * i)?;
            if digit >= NBASE {
                return Err("digit out of range");
            }
            digits.push(digit);
        }
        let finite = Finite::normalized(negative, weight, scale, digits);
        if !finite.fits_scale() {
            return Err("digits beyond the display scale");
        }
        Ok(Self(Repr::Finite(finite)))
    }
}

impl Finite {
    /// Strips leading and trailing zero digits (adjusting the weight); zero loses its
    /// sign and weight.
    fn normalized(negative: bool, mut weight: i16, scale: u16, mut digits: Vec<u16>) -> Self {
        let leading = digits.iter().take_while(|&&d| d == 0).count();
        if leading == digits.len() {
            return Self {
                negative: false,
                weight: 0,
                scale,
                digits: Vec::new(),
            };
        }
        digits.drain(..leading);
        // `leading` is below the digit count, itself below 2^15.
        weight = weight.saturating_sub(i16::try_from(leading).unwrap_or(i16::MAX));
        while digits.last() == Some(&0) {
            digits.pop();
        }
        Self {
            negative,
            weight,
            scale,
            digits,
        }
    }

    /// Whether every digit lies within `scale` decimal places.
    fn fits_scale(&self) -> bool {
        let Some(len) = i32::try_from(self.digits.len()).ok() else {
            return false;
        };
        // The last digit covers decimal places up to 4 * (len - 1 - weight); its
        // trailing decimal zeros may lie beyond the scale.
        let last_group = len - 1 - i32::from(self.weight);
        if last_group <= 0 {
            return true;
        }
        let Some(&last) = self.digits.last() else {
            return true;
        };
        let mut trailing_zeros = 0;
        let mut d = last;
        while d % 10 == 0 && trailing_zeros < 3 {
            d /= 10;
            trailing_zeros += 1;
        }
        4 * last_group - trailing_zeros <= i32::from(self.scale)
    }

    /// Base-10000 digit `i` counted from the most significant (index 0 has weight
    /// `weight`); zero outside the stored digits.
    fn digit(&self, index: i32) -> u16 {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.digits.get(i))
            .copied()
            .unwrap_or(0)
    }
}

impl fmt::Display for Numeric {
    /// PostgreSQL's text output: `NaN`, `Infinity`, `-Infinity`, or plain decimal with
    /// exactly [`scale`](Self::scale) digits after the point.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = match &self.0 {
            Repr::NaN => return f.write_str("NaN"),
            Repr::Infinity => return f.write_str("Infinity"),
            Repr::NegInfinity => return f.write_str("-Infinity"),
            Repr::Finite(v) => v,
        };
        if v.negative {
            f.write_str("-")?;
        }
        if v.weight < 0 {
            f.write_str("0")?;
        } else {
            write!(f, "{}", v.digit(0))?;
            for i in 1..=i32::from(v.weight) {
                write!(f, "{:04}", v.digit(i))?;
            }
        }
        if v.scale > 0 {
            f.write_str(".")?;
            let mut remaining = usize::from(v.scale);
            let mut index = i32::from(v.weight) + 1;
            while remaining > 0 {
                let g = v.digit(index);
                let take = remaining.min(4);
                for d in [g / 1000, g / 100 % 10, g / 10 % 10, g % 10]
                    .into_iter()
                    .take(take)
                {
                    write!(f, "{d}")?;
                }
                remaining -= take;
                index += 1;
            }
        }
        Ok(())
    }
}

impl FromStr for Numeric {
    type Err = NumericError;

    /// Reads what PostgreSQL's `numeric` input reads: an optional sign, decimal digits
    /// with an optional point, an optional exponent (`1.5e3`), or `NaN`, `Infinity`,
    /// `inf` (any case, with a sign for the infinities); surrounding whitespace is
    /// ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (negative, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if s.eq_ignore_ascii_case("nan") {
            return Ok(Self::NAN);
        }
        if body.eq_ignore_ascii_case("infinity") || body.eq_ignore_ascii_case("inf") {
            return Ok(if negative {
                Self::NEG_INFINITY
            } else {
                Self::INFINITY
            });
        }
        let invalid = NumericError("invalid numeric syntax");
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(at) => (&body[..at], Some(&body[at + 1..])),
            None => (body, None),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
            None => (mantissa, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid);
        }
        if !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return Err(invalid);
        }
        let exponent: i64 = match exponent {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                // More digits than this is out of range anyway; refusing early keeps
                // the arithmetic below from overflowing.
                if digits.is_empty()
                    || digits.len() > 9
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(NumericError("invalid or out-of-range numeric exponent"));
                }
                e.parse().map_err(|_| invalid.clone())?
            }
        };
        let out_of_range = NumericError("numeric value out of range");
        let digits: Vec<u8> = int_part
            .bytes()
            .chain(frac_part.bytes())
            .map(|b| b - b'0')
            .collect();
        let frac_len = i64::try_from(frac_part.len()).map_err(|_| out_of_range.clone())?;
        let scale = (frac_len - exponent).max(0);
        let scale = u16::try_from(scale)
            .ok()
            .filter(|&s| s <= MAX_SCALE)
            .ok_or_else(|| out_of_range.clone())?;
        // Decimal digit i has the power of ten `point - 1 - i`.
        let point = i64::try_from(int_part.len()).map_err(|_| out_of_range.clone())? + exponent;
        let len = i64::try_from(digits.len()).map_err(|_| out_of_range.clone())?;
        let Some(first_nonzero) = digits.iter().position(|&d| d != 0) else {
            return Ok(Self(Repr::Finite(Finite::normalized(
                false,
                0,
                scale,
                Vec::new(),
            ))));
        };
        let first_nonzero = i64::try_from(first_nonzero).map_err(|_| out_of_range.clone())?;
        let high = (point - 1 - first_nonzero).div_euclid(4);
        let low = (point - len).div_euclid(4);
        let weight = i16::try_from(high).map_err(|_| out_of_range.clone())?;
        let groups = usize::try_from(high - low + 1).map_err(|_| out_of_range.clone())?;
        let mut out = alloc::vec![0u16; groups];
        for (i, &d) in digits
            .iter()
            .enumerate()
            .skip(usize::try_from(first_nonzero).unwrap_or(0))
        {
            let i = i64::try_from(i).map_err(|_| out_of_range.clone())?;
            let power = point - 1 - i;
            let group =
                usize::try_from(high - power.div_euclid(4)).map_err(|_| out_of_range.clone())?;
            let place = u32::try_from(power.rem_euclid(4)).unwrap_or(0);
            if let Some(slot) = out.get_mut(group) {
                *slot += u16::from(d) * 10u16.pow(place);
            }
        }
        Ok(Self(Repr::Finite(Finite::normalized(
            negative, weight, scale, out,
        ))))
    }
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Numeric {
            fn from(value: $t) -> Self {
                #[allow(unused_comparisons)]
                let negative = value < 0;
                Self::from_u128(negative, value.unsigned_abs_u128())
            }
        }

        impl TryFrom<&Numeric> for $t {
            type Error = NumericError;

            /// Exact: fails for a fractional value, `NaN`, infinities, and values out
            /// of the integer's range.
            fn try_from(value: &Numeric) -> Result<Self, Self::Error> {
                let range = NumericError("numeric out of range for the integer type");
                let (negative, magnitude) = value.to_u128()?;
                if negative {
                    let magnitude = i128::try_from(magnitude).map_err(|_| range.clone())?;
                    <$t>::try_from(-magnitude).map_err(|_| range)
                } else {
                    <$t>::try_from(magnitude).map_err(|_| range)
                }
            }
        }

        impl TryFrom<Numeric> for $t {
            type Error = NumericError;

            fn try_from(value: Numeric) -> Result<Self, Self::Error> {
                <$t>::try_from(&value)
            }
        }
    )*};
}

/// `unsigned_abs` into `u128` for every integer type.
trait UnsignedAbs {
    fn unsigned_abs_u128(self) -> u128;
}

macro_rules! unsigned_abs {
    (signed $($t:ty),*) => {$(
        impl UnsignedAbs for $t {
            fn unsigned_abs_u128(self) -> u128 {
                u128::from(self.unsigned_abs())
            }
        }
    )*};
    (unsigned $($t:ty),*) => {$(
        impl UnsignedAbs for $t {
            fn unsigned_abs_u128(self) -> u128 {
                u128::from(self)
            }
        }
    )*};
}

unsigned_abs!(signed i8, i16, i32, i64, i128);
unsigned_abs!(unsigned u8, u16, u32, u64, u128);
from_integer!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128);

impl TryFrom<f64> for Numeric {
    type Error = NumericError;

    /// The exact decimal value of Rust's shortest round-trip text of `value` (so `0.1`
    /// becomes `0.1`, not the binary fraction's 55 digits). `NaN` and the infinities
    /// map to their `numeric` counterparts. Fails only for values needing more than
    /// 16,383 digits after the point (below about 1e-16383, impossible for `f64`).
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        if value.is_nan() {
            Ok(Self::NAN)
        } else if value.is_infinite() {
            Ok(if value > 0.0 {
                Self::INFINITY
            } else {
                Self::NEG_INFINITY
            })
        } else {
            value.to_string().parse()
        }
    }
}

impl ToSql for Numeric {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        let (sign, v) = match &self.0 {
            Repr::NaN => (SIGN_NAN, None),
            Repr::Infinity => (SIGN_PINF, None),
            Repr::NegInfinity => (SIGN_NINF, None),
            Repr::Finite(v) => (if v.negative { SIGN_NEG } else { SIGN_POS }, Some(v)),
        };
        let Some(v) = v else {
            out.put_slice(&[0, 0, 0, 0]);
            out.put_u16(sign);
            out.put_u16(0);
            return Ok(IsNull::No);
        };
        // At most 131,072 + 16,383 decimal digits, so the digit count fits an i16.
        let ndigits = i16::try_from(v.digits.len())
            .map_err(|_| ValueError::out_of_range::<Self>(&Type::NUMERIC))?;
        out.reserve(8 + 2 * v.digits.len());
        out.put_i16(ndigits);
        out.put_i16(v.weight);
        out.put_u16(sign);
        out.put_u16(v.scale);
        for &d in &v.digits {
            out.put_u16(d);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    fn natural_type() -> Type {
        Type::NUMERIC
    }
}

impl FromSql<'_> for Numeric {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        Self::read(raw).map_err(|reason| ValueError::malformed::<Self>(ty, reason))
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        core::str::from_utf8(raw)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ValueError::malformed::<Self>(ty, "not a numeric"))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// `rust_decimal::Decimal` as `numeric`. Reading fails with
/// [`ValueError::OutOfRange`] for `NaN`, infinities, and values `Decimal` cannot hold
/// exactly (more than 28 digits after the point, or beyond about 7.9e28).
#[cfg(feature = "rust_decimal")]
mod decimal {
    use alloc::string::ToString;

    use bytes::BytesMut;
    use rust_decimal::Decimal;

    use super::{FromSql, IsNull, Numeric, ToSql, Type, ValueError};

    impl From<Decimal> for Numeric {
        fn from(value: Decimal) -> Self {
            // Decimal prints plain digits with its scale, which always parse.
            value.to_string().parse().unwrap_or(Self::NAN)
        }
    }

    impl TryFrom<&Numeric> for Decimal {
        type Error = super::NumericError;

        fn try_from(value: &Numeric) -> Result<Self, Self::Error> {
            if !value.is_finite() {
                return Err(super::NumericError(
                    "NaN or infinite numeric is not a Decimal",
                ));
            }
            Self::from_str_exact(&value.to_string())
                .map_err(|_| super::NumericError("numeric out of range for Decimal"))
        }
    }

    impl ToSql for Decimal {
        fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
            Numeric::from(*self).to_sql(ty, out)
        }

        fn accepts(ty: &Type) -> bool {
            *ty == Type::NUMERIC
        }

        fn natural_type() -> Type {
            Type::NUMERIC
        }
    }

    impl FromSql<'_> for Decimal {
        fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
            let numeric = Numeric::from_sql(ty, raw)?;
            Self::try_from(&numeric).map_err(|_| ValueError::out_of_range::<Self>(ty))
        }

        fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
            let numeric = Numeric::from_sql_text(ty, raw)?;
            Self::try_from(&numeric).map_err(|_| ValueError::out_of_range::<Self>(ty))
        }

        fn accepts(ty: &Type) -> bool {
            *ty == Type::NUMERIC
        }
    }

    #[cfg(test)]
    mod tests {
        use super::super::super::test_util::encode;
        use super::*;
        use crate::message::Format;

        #[test]
        fn decimal_round_trips() {
            for s in [
                "0",
                "1.50",
                "-79228162514264337593543950335",
                "0.0000000000000000000000000001",
            ] {
                let d: Decimal = s.parse().unwrap();
                let raw = encode(&d, &Type::NUMERIC).unwrap().unwrap();
                assert_eq!(
                    Numeric::from_sql(&Type::NUMERIC, &raw).unwrap().to_string(),
                    s
                );
                let back = Decimal::from_sql_checked(&Type::NUMERIC, Format::Binary, Some(&raw));
                assert_eq!(back.map(|d| d.to_string()), Ok(s.to_string()));
            }
            for s in ["NaN", "1e40", "0.00000000000000000000000000001"] {
                let raw = encode(&s.parse::<Numeric>().unwrap(), &Type::NUMERIC)
                    .unwrap()
                    .unwrap();
                assert!(matches!(
                    Decimal::from_sql(&Type::NUMERIC, &raw),
                    Err(ValueError::OutOfRange { .. })
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use crate::message::Format;
    use proptest::prelude::*;

    fn n(s: &str) -> Numeric {
        s.parse().unwrap()
    }

    fn round_trip(value: &Numeric) -> Numeric {
        let raw = encode(value, &Type::NUMERIC).unwrap().unwrap();
        Numeric::from_sql_checked(&Type::NUMERIC, Format::Binary, Some(&raw)).unwrap()
    }

    #[test]
    fn wire_format() {
        // 12345.678: digits 1, 2345, 6780; weight 1; scale 3.
        assert_eq!(
            encode(&n("12345.678"), &Type::NUMERIC).unwrap().as_deref(),
            Some(&[0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c][..])
        );
        // -0.0001: one digit 1 at weight -1.
        assert_eq!(
            encode(&n("-0.0001"), &Type::NUMERIC).unwrap().as_deref(),
            Some(&[0, 1, 0xff, 0xff, 0x40, 0, 0, 4, 0, 1][..])
        );
        assert_eq!(
            encode(&n("0.00"), &Type::NUMERIC).unwrap().as_deref(),
            Some(&[0, 0, 0, 0, 0, 0, 0, 2][..])
        );
        assert_eq!(
            encode(&Numeric::NEG_INFINITY, &Type::NUMERIC)
                .unwrap()
                .as_deref(),
            Some(&[0, 0, 0, 0, 0xf0, 0, 0, 0][..])
        );
    }

    #[test]
    fn text_forms() {
        for s in [
            "0",
            "0.00",
            "1",
            "-1",
            "10000",
            "123456789.000000001",
            "-0.5",
            "0.0001",
            "99999999999999999999999999999999999999",
            "NaN",
            "Infinity",
            "-Infinity",
        ] {
            assert_eq!(n(s).to_string(), s);
            assert_eq!(round_trip(&n(s)), n(s));
        }
        assert_eq!(n("-0").to_string(), "0");
        assert_eq!(n("1.5e3").to_string(), "1500");
        assert_eq!(n("1.5e-3").to_string(), "0.0015");
        assert_eq!(n("12e-1").to_string(), "1.2");
        assert_eq!(n(".5").to_string(), "0.5");
        assert_eq!(n("5.").to_string(), "5");
        assert_eq!(n(" +inf ").to_string(), "Infinity");
        assert!(n("nan").is_nan());
        for bad in [
            "",
            "-",
            ".",
            "1.2.3",
            "1e",
            "e5",
            "0x10",
            "1e9999999999",
            "1e-20000",
        ] {
            assert!(bad.parse::<Numeric>().is_err(), "{bad}");
        }
        let big = "9".repeat(1000);
        assert_eq!(n(&big).to_string(), big);
        let tiny = alloc::format!("0.{}1", "0".repeat(16_381));
        assert_eq!(round_trip(&n(&tiny)).to_string(), tiny);
    }

    #[test]
    fn conversions() {
        assert_eq!(Numeric::from(i64::MIN).to_string(), "-9223372036854775808");
        assert_eq!(Numeric::from(u128::MAX).to_string(), u128::MAX.to_string());
        assert_eq!(i64::try_from(&n("-9223372036854775808")), Ok(i64::MIN));
        assert!(i64::try_from(&n("9223372036854775808")).is_err());
        assert!(i32::try_from(&n("1.5")).is_err());
        assert_eq!(i32::try_from(&n("2.000")), Ok(2));
        assert!(u8::try_from(&n("-1")).is_err());
        assert!(i32::try_from(&Numeric::NAN).is_err());
        assert!(u128::try_from(&n(&"9".repeat(50))).is_err());
        assert_eq!(n("0.1").to_f64(), 0.1);
        assert_eq!(n(&"9".repeat(400)).to_f64(), f64::INFINITY);
        assert_eq!(Numeric::try_from(0.1f64).unwrap().to_string(), "0.1");
        assert_eq!(
            Numeric::try_from(-2.5e-10f64).unwrap().to_string(),
            "-0.00000000025"
        );
        assert!(Numeric::try_from(f64::NAN).unwrap().is_nan());
    }

    #[test]
    fn malformed_binary() {
        for raw in [
            &[][..],
            &[0, 1, 0, 0, 0, 0, 0, 0][..],             // missing digit
            &[0xff, 0xff, 0, 0, 0, 0, 0, 0][..],       // negative count
            &[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10][..], // digit 10000
            &[0, 0, 0, 0, 0x12, 0x34, 0, 0][..],       // sign
            &[0, 1, 0xff, 0xff, 0, 0, 0, 0, 0, 1][..], // 0.0001 with scale 0
            &[0, 0, 0, 0, 0, 0, 0x40, 0][..],          // scale beyond the maximum
        ] {
            assert!(matches!(
                Numeric::from_sql_checked(&Type::NUMERIC, Format::Binary, Some(raw)),
                Err(ValueError::Malformed { .. })
            ));
        }
        // Zero digits and a non-zero weight decode as zero.
        assert_eq!(
            Numeric::from_sql_checked(
                &Type::NUMERIC,
                Format::Binary,
                Some(&[0, 2, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0])
            ),
            Ok(Numeric::ZERO)
        );
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(value) = Numeric::from_sql_checked(&Type::NUMERIC, Format::Binary, Some(&raw)) {
                prop_assert_eq!(&round_trip(&value), &value);
                prop_assert_eq!(n(&value.to_string()), value);
            }
        }

        #[test]
        fn decimal_text_round_trips(
            negative in any::<bool>(),
            int in "[1-9][0-9]{0,40}|0",
            frac in "[0-9]{0,40}",
        ) {
            let sign = if negative && (int != "0" || frac.contains(|c| c != '0')) { "-" } else { "" };
            let s = if frac.is_empty() {
                alloc::format!("{sign}{int}")
            } else {
                alloc::format!("{sign}{int}.{frac}")
            };
            let value = n(&s);
            prop_assert_eq!(value.to_string(), s);
            prop_assert_eq!(round_trip(&value), value);
        }

        #[test]
        fn integers_round_trip(v in any::<i64>()) {
            let value = Numeric::from(v);
            prop_assert_eq!(value.to_string(), v.to_string());
            prop_assert_eq!(i64::try_from(&round_trip(&value)), Ok(v));
        }
    }
}
