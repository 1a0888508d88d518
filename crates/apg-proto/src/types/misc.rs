//! Small fixed types: `pg_lsn` as [`PgLsn`], `money` as [`Money`], `bit` and `varbit`
//! as [`BitString`], and `uuid` as `uuid::Uuid` (feature `uuid`).

use super::ty::oid;
use alloc::vec::Vec;
use core::fmt;

use bytes::{BufMut, BytesMut};

use super::{FromSql, IsNull, ToSql, Type, ValueError};

/// A PostgreSQL `pg_lsn`: a position in the write-ahead log.
///
/// ```
/// use apg_proto::types::PgLsn;
///
/// assert_eq!(PgLsn(0x16_B374_D848).to_string(), "16/B374D848");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgLsn(pub u64);

impl fmt::Display for PgLsn {
    /// PostgreSQL's `X/X` form: the high and low 32 bits in upper-case hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

/// A PostgreSQL `money`: an amount in the smallest unit of the server's
/// `lc_monetary` currency (cents for two-decimal currencies). The binary value has no
/// currency or scale: `Money(123)` is `$1.23` under `en_US`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i64);

macro_rules! int64_newtype {
    ($name:ident, $inner:ty, $put:ident, $pg:ident) => {
        impl ToSql for $name {
            fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
                out.$put(self.0);
                Ok(IsNull::No)
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }

            fn natural_type() -> Type {
                Type::$pg
            }
        }

        impl FromSql<'_> for $name {
            fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                raw.try_into()
                    .map(|b| Self(<$inner>::from_be_bytes(b)))
                    .map_err(|_| ValueError::malformed::<Self>(ty, "wrong length for the type"))
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }
        }
    };
}

int64_newtype!(PgLsn, u64, put_u64, PG_LSN);
int64_newtype!(Money, i64, put_i64, MONEY);

/// A PostgreSQL `bit(n)` or `varbit`: a string of bits, first bit first.
///
/// ```
/// use apg_proto::types::BitString;
///
/// let bits = BitString::from_bools([true, false, true]);
/// assert_eq!(bits.to_string(), "101");
/// assert_eq!(bits.get(2), Some(true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BitString {
    len: usize,
    /// Bits packed most significant first; padding bits of the last byte are zero.
    bytes: Vec<u8>,
}

impl BitString {
    /// The bits, in order.
    pub fn from_bools<I: IntoIterator<Item = bool>>(bits: I) -> Self {
        let mut out = Self::default();
        for bit in bits {
            if out.len % 8 == 0 {
                out.bytes.push(0);
            }
            if bit {
                if let Some(last) = out.bytes.last_mut() {
                    *last |= 0x80 >> (out.len % 8);
                }
            }
            out.len += 1;
        }
        out
    }

    /// The first `len` bits of `bytes` (most significant bit first); `None` when
    /// `bytes` is not `len` bits rounded up to whole bytes.
    pub fn from_bytes(len: usize, bytes: &[u8]) -> Option<Self> {
        if bytes.len() != len.div_ceil(8) {
            return None;
        }
        let mut bytes = bytes.to_vec();
        if let (Some(last), 1..=7) = (bytes.last_mut(), len % 8) {
            *last &= 0xff << (8 - len % 8);
        }
        Some(Self { len, bytes })
    }

    /// The number of bits.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bits.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `index`; `None` past the end.
    pub fn get(&self, index: usize) -> Option<bool> {
        if index >= self.len {
            return None;
        }
        self.bytes
            .get(index / 8)
            .map(|b| b & (0x80 >> (index % 8)) != 0)
    }

    /// The bits, in order.
    pub fn iter(&self) -> impl Iterator<Item = bool> + '_ {
        (0..self.len).filter_map(|i| self.get(i))
    }

    /// The packed bytes, most significant bit first, the padding bits zero.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Display for BitString {
    /// `0` and `1` characters, as PostgreSQL prints a bit string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for bit in self.iter() {
            f.write_str(if bit { "1" } else { "0" })?;
        }
        Ok(())
    }
}

impl ToSql for BitString {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        let len = i32::try_from(self.len).map_err(|_| ValueError::out_of_range::<Self>(ty))?;
        out.put_i32(len);
        out.put_slice(&self.bytes);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.oid(), oid::BIT | oid::VARBIT)
    }

    fn natural_type() -> Type {
        Type::VARBIT
    }
}

impl FromSql<'_> for BitString {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let malformed = |reason| ValueError::malformed::<Self>(ty, reason);
        let (len, bytes) = raw
            .split_first_chunk::<4>()
            .ok_or_else(|| malformed("truncated value"))?;
        let len = usize::try_from(i32::from_be_bytes(*len))
            .map_err(|_| malformed("negative bit count"))?;
        Self::from_bytes(len, bytes).ok_or_else(|| malformed("bit count does not match the data"))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.oid(), oid::BIT | oid::VARBIT)
    }
}

/// `uuid::Uuid` as `uuid`: 16 bytes.
#[cfg(feature = "uuid")]
mod uuid_impl {
    use bytes::{BufMut, BytesMut};
    use uuid::Uuid;

    use super::{FromSql, IsNull, ToSql, Type, ValueError};

    impl ToSql for Uuid {
        fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
            out.put_slice(self.as_bytes());
            Ok(IsNull::No)
        }

        fn accepts(ty: &Type) -> bool {
            *ty == Type::UUID
        }

        fn natural_type() -> Type {
            Type::UUID
        }
    }

    impl FromSql<'_> for Uuid {
        fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
            Self::from_slice(raw)
                .map_err(|_| ValueError::malformed::<Self>(ty, "wrong length for the type"))
        }

        fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
            Self::try_parse_ascii(raw).map_err(|_| ValueError::malformed::<Self>(ty, "not a UUID"))
        }

        fn accepts(ty: &Type) -> bool {
            *ty == Type::UUID
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use alloc::string::ToString;
    use proptest::prelude::*;

    #[test]
    fn lsn_and_money() {
        let raw = encode(&PgLsn(0x16_B374_D848), &Type::PG_LSN)
            .unwrap()
            .unwrap();
        assert_eq!(
            PgLsn::from_sql(&Type::PG_LSN, &raw),
            Ok(PgLsn(0x16_B374_D848))
        );
        assert_eq!(
            encode(&Money(-1), &Type::MONEY).unwrap().as_deref(),
            Some(&[0xff; 8][..])
        );
        assert!(Money::from_sql(&Type::MONEY, &[0; 4]).is_err());
    }

    #[test]
    fn bit_strings() {
        let bits =
            BitString::from_bools([true, false, true, true, false, false, false, false, true]);
        assert_eq!(bits.to_string(), "101100001");
        assert_eq!(
            encode(&bits, &Type::VARBIT).unwrap().as_deref(),
            Some(&[0, 0, 0, 9, 0xb0, 0x80][..])
        );
        // Padding bits are cleared.
        assert_eq!(
            BitString::from_sql(&Type::BIT, &[0, 0, 0, 9, 0xb0, 0xff]),
            Ok(bits)
        );
        assert_eq!(
            BitString::from_sql(&Type::BIT, &[0, 0, 0, 0]),
            Ok(BitString::default())
        );
        for bad in [&[0, 0, 0, 9, 1][..], &[0xff, 0xff, 0xff, 0xff], &[0, 0]] {
            assert!(BitString::from_sql(&Type::VARBIT, bad).is_err());
        }
    }

    #[cfg(feature = "uuid")]
    #[test]
    fn uuids() {
        let u = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let raw = encode(&u, &Type::UUID).unwrap().unwrap();
        assert_eq!(uuid::Uuid::from_sql(&Type::UUID, &raw), Ok(u));
        assert!(uuid::Uuid::from_sql(&Type::UUID, &raw[1..]).is_err());
    }

    proptest! {
        #[test]
        fn decoders_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..24)) {
            if let Ok(bits) = BitString::from_sql(&Type::VARBIT, &raw) {
                let again = encode(&bits, &Type::VARBIT).unwrap().unwrap();
                prop_assert_eq!(BitString::from_sql(&Type::VARBIT, &again), Ok(bits));
            }
            let _ = PgLsn::from_sql(&Type::PG_LSN, &raw);
            let _ = Money::from_sql(&Type::MONEY, &raw);
        }
    }
}
