//! `time` types (feature `time`): `Date` as `date`, `Time` as `time`,
//! `PrimitiveDateTime` as `timestamp`, `OffsetDateTime` as `timestamptz`.
//!
//! Reading fails with [`ValueError::OutOfRange`] for `infinity`, `-infinity`,
//! `24:00:00` and years outside -9999..=9999 (the `time` crate's range without its
//! `large-dates` feature); writing truncates sub-microsecond digits. An
//! `OffsetDateTime` is sent as its instant and read back at UTC (`timestamptz` stores
//! no zone).

use ::time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};
use bytes::BytesMut;

use super::{FromSql, IsNull, Timestamp, TimestampTz, ToSql, Type, ValueError};

/// The Julian day number of 2000-01-01.
const PG_EPOCH_JULIAN_DAY: i32 = 2_451_545;

fn pg_micros<T>(ty: &Type, instant: OffsetDateTime) -> Result<i64, ValueError> {
    let unix = (instant - OffsetDateTime::UNIX_EPOCH).whole_microseconds();
    i64::try_from(unix)
        .ok()
        .and_then(TimestampTz::from_unix_micros)
        .map(TimestampTz::pg_micros)
        .ok_or_else(|| ValueError::out_of_range::<T>(ty))
}

fn instant<T>(ty: &Type, unix_micros: Option<i64>) -> Result<OffsetDateTime, ValueError> {
    unix_micros
        .and_then(|m| OffsetDateTime::UNIX_EPOCH.checked_add(Duration::microseconds(m)))
        .ok_or_else(|| ValueError::out_of_range::<T>(ty))
}

impl ToSql for Date {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        super::Date::from_pg_days(self.to_julian_day() - PG_EPOCH_JULIAN_DAY).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }

    fn natural_type() -> Type {
        Type::DATE
    }
}

impl FromSql<'_> for Date {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let date = super::Date::from_sql(ty, raw)?;
        let range = || ValueError::out_of_range::<Self>(ty);
        if date.is_infinite() {
            return Err(range());
        }
        date.pg_days()
            .checked_add(PG_EPOCH_JULIAN_DAY)
            .and_then(|day| Self::from_julian_day(day).ok())
            .ok_or_else(range)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }
}

impl ToSql for Time {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        let (h, m, s, us) = self.as_hms_micro();
        super::Time::from_hms_micro(u32::from(h), u32::from(m), u32::from(s), us)
            .ok_or_else(|| ValueError::out_of_range::<Self>(ty))?
            .to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIME
    }

    fn natural_type() -> Type {
        Type::TIME
    }
}

impl FromSql<'_> for Time {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let micros = super::Time::from_sql(ty, raw)?.micros();
        let seconds = micros / 1_000_000;
        let part = |v: i64| u8::try_from(v).ok();
        part(seconds / 3600)
            .zip(part(seconds / 60 % 60))
            .zip(part(seconds % 60))
            .zip(u32::try_from(micros % 1_000_000).ok())
            .and_then(|(((h, m), s), us)| Self::from_hms_micro(h, m, s, us).ok())
            .ok_or_else(|| ValueError::out_of_range::<Self>(ty))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIME
    }
}

impl ToSql for PrimitiveDateTime {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        Timestamp::from_pg_micros(pg_micros::<Self>(ty, self.assume_utc())?).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMP
    }

    fn natural_type() -> Type {
        Type::TIMESTAMP
    }
}

impl FromSql<'_> for PrimitiveDateTime {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let t = instant::<Self>(ty, Timestamp::from_sql(ty, raw)?.unix_micros())?;
        Ok(Self::new(t.date(), t.time()))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMP
    }
}

impl ToSql for OffsetDateTime {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        TimestampTz::from_pg_micros(pg_micros::<Self>(ty, *self)?).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    fn natural_type() -> Type {
        Type::TIMESTAMPTZ
    }
}

impl FromSql<'_> for OffsetDateTime {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        instant::<Self>(ty, TimestampTz::from_sql(ty, raw)?.unix_micros())
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use crate::message::Format;
    use ::time::{Month, UtcOffset};

    fn round_trip<T: ToSql + for<'a> FromSql<'a>>(value: &T, ty: &Type) -> Result<T, ValueError> {
        let raw = encode(value, ty)?.unwrap_or_default();
        T::from_sql_checked(ty, Format::Binary, Some(&raw))
    }

    #[test]
    fn time_round_trips() {
        let d = Date::from_calendar_date(-9999, Month::January, 1).unwrap();
        assert_eq!(round_trip(&d, &Type::DATE), Ok(d));
        let epoch = Date::from_calendar_date(2000, Month::January, 1).unwrap();
        assert_eq!(
            encode(&epoch, &Type::DATE).unwrap().as_deref(),
            Some(&[0; 4][..])
        );
        let t = Time::from_hms_micro(23, 59, 59, 999_999).unwrap();
        assert_eq!(round_trip(&t, &Type::TIME), Ok(t));
        let dt = PrimitiveDateTime::new(d, t);
        assert_eq!(round_trip(&dt, &Type::TIMESTAMP), Ok(dt));
        let odt = dt.assume_offset(UtcOffset::from_hms(5, 30, 0).unwrap());
        let back = round_trip(&odt, &Type::TIMESTAMPTZ).unwrap();
        assert_eq!(back, odt);
        assert_eq!(back.offset(), UtcOffset::UTC);
        // Year 10000 and the infinities are beyond the time crate.
        for raw in [i32::MAX.to_be_bytes(), 3_000_000i32.to_be_bytes()] {
            assert!(matches!(
                Date::from_sql(&Type::DATE, &raw),
                Err(ValueError::OutOfRange { .. })
            ));
        }
        assert!(matches!(
            Time::from_sql(&Type::TIME, &86_400_000_000i64.to_be_bytes()),
            Err(ValueError::OutOfRange { .. })
        ));
        assert!(matches!(
            OffsetDateTime::from_sql(&Type::TIMESTAMPTZ, &i64::MAX.to_be_bytes()),
            Err(ValueError::OutOfRange { .. })
        ));
    }
}
