//! `chrono` types (feature `chrono`): `NaiveDate` as `date`, `NaiveTime` as `time`,
//! `NaiveDateTime` as `timestamp`, `DateTime<Utc>` and `DateTime<FixedOffset>` as
//! `timestamptz`.
//!
//! Reading fails with [`ValueError::OutOfRange`] for `infinity`, `-infinity`,
//! `24:00:00` and dates beyond chrono's range (years ±262,142); writing truncates
//! sub-microsecond digits (PostgreSQL stores microseconds) and fails for values beyond
//! PostgreSQL's range only on the server. A `DateTime<FixedOffset>` is sent as its
//! instant and read back at offset `+00:00` (`timestamptz` stores no zone).

use bytes::BytesMut;
use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use super::{Date, FromSql, IsNull, Time, Timestamp, TimestampTz, ToSql, Type, ValueError};

fn pg_epoch() -> NaiveDate {
    // 2000-01-01 is within chrono's range.
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The Unix microseconds of `micros` since PostgreSQL's epoch, as a chrono instant.
fn instant<T>(ty: &Type, unix_micros: Option<i64>) -> Result<DateTime<Utc>, ValueError> {
    unix_micros
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .ok_or_else(|| ValueError::out_of_range::<T>(ty))
}

fn pg_micros<T>(ty: &Type, instant: &DateTime<Utc>) -> Result<i64, ValueError> {
    TimestampTz::from_unix_micros(instant.timestamp_micros())
        .map(TimestampTz::pg_micros)
        .ok_or_else(|| ValueError::out_of_range::<T>(ty))
}

impl ToSql for NaiveDate {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        let days = self.signed_duration_since(pg_epoch()).num_days();
        let days = i32::try_from(days).map_err(|_| ValueError::out_of_range::<Self>(ty))?;
        Date::from_pg_days(days).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }

    fn natural_type() -> Type {
        Type::DATE
    }
}

impl FromSql<'_> for NaiveDate {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let date = Date::from_sql(ty, raw)?;
        let range = || ValueError::out_of_range::<Self>(ty);
        if date.is_infinite() {
            return Err(range());
        }
        let days = date.pg_days();
        let offset = Days::new(u64::from(days.unsigned_abs()));
        if days >= 0 {
            pg_epoch().checked_add_days(offset)
        } else {
            pg_epoch().checked_sub_days(offset)
        }
        .ok_or_else(range)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }
}

impl ToSql for NaiveTime {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        // A leap second (nanosecond >= 10^9) past 23:59:59 is beyond 24:00:00.
        let micros = i64::from(self.num_seconds_from_midnight()) * 1_000_000
            + i64::from(self.nanosecond() / 1000);
        Time::from_micros(micros)
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

impl FromSql<'_> for NaiveTime {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let micros = Time::from_sql(ty, raw)?.micros();
        let seconds = u32::try_from(micros / 1_000_000).ok();
        let nanos = u32::try_from(micros % 1_000_000 * 1000).ok();
        seconds
            .zip(nanos)
            .and_then(|(s, n)| Self::from_num_seconds_from_midnight_opt(s, n))
            .filter(|_| micros < 86_400_000_000)
            .ok_or_else(|| ValueError::out_of_range::<Self>(ty))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIME
    }
}

impl ToSql for NaiveDateTime {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        let micros = pg_micros::<Self>(ty, &self.and_utc())?;
        Timestamp::from_pg_micros(micros).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMP
    }

    fn natural_type() -> Type {
        Type::TIMESTAMP
    }
}

impl FromSql<'_> for NaiveDateTime {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let ts = Timestamp::from_sql(ty, raw)?;
        instant::<Self>(ty, ts.unix_micros()).map(|t| t.naive_utc())
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMP
    }
}

impl ToSql for DateTime<Utc> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        let micros = pg_micros::<Self>(ty, self)?;
        TimestampTz::from_pg_micros(micros).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    fn natural_type() -> Type {
        Type::TIMESTAMPTZ
    }
}

impl FromSql<'_> for DateTime<Utc> {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        instant::<Self>(ty, TimestampTz::from_sql(ty, raw)?.unix_micros())
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

impl ToSql for DateTime<FixedOffset> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        self.to_utc().to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    fn natural_type() -> Type {
        Type::TIMESTAMPTZ
    }
}

impl FromSql<'_> for DateTime<FixedOffset> {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        DateTime::<Utc>::from_sql(ty, raw).map(|t| t.fixed_offset())
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

    fn round_trip<T: ToSql + for<'a> FromSql<'a>>(value: &T, ty: &Type) -> Result<T, ValueError> {
        let raw = encode(value, ty)?.unwrap_or_default();
        T::from_sql_checked(ty, Format::Binary, Some(&raw))
    }

    #[test]
    fn chrono_round_trips() {
        let d = NaiveDate::from_ymd_opt(-500, 3, 1).unwrap();
        assert_eq!(round_trip(&d, &Type::DATE), Ok(d));
        assert_eq!(
            encode(&pg_epoch(), &Type::DATE).unwrap().as_deref(),
            Some(&[0; 4][..])
        );
        let t = NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap();
        assert_eq!(round_trip(&t, &Type::TIME), Ok(t));
        let dt = d.and_time(t);
        assert_eq!(round_trip(&dt, &Type::TIMESTAMP), Ok(dt));
        let utc = dt.and_utc();
        assert_eq!(round_trip(&utc, &Type::TIMESTAMPTZ), Ok(utc));
        let fixed = utc.with_timezone(&FixedOffset::east_opt(3600).unwrap());
        assert_eq!(round_trip(&fixed, &Type::TIMESTAMPTZ), Ok(fixed));
        // Beyond chrono, or infinite.
        for raw in [i32::MAX.to_be_bytes(), 200_000_000i32.to_be_bytes()] {
            assert!(matches!(
                NaiveDate::from_sql(&Type::DATE, &raw),
                Err(ValueError::OutOfRange { .. })
            ));
        }
        assert!(matches!(
            NaiveTime::from_sql(&Type::TIME, &86_400_000_000i64.to_be_bytes()),
            Err(ValueError::OutOfRange { .. })
        ));
        assert!(matches!(
            DateTime::<Utc>::from_sql(&Type::TIMESTAMPTZ, &i64::MIN.to_be_bytes()),
            Err(ValueError::OutOfRange { .. })
        ));
    }
}
