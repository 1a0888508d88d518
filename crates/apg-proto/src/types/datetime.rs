//! Date and time types: `date`, `time`, `timetz`, `timestamp`, `timestamptz` and
//! `interval`, as this crate's own [`Date`], [`Time`], [`TimeTz`], [`Timestamp`],
//! [`TimestampTz`] and [`Interval`], and `timestamptz` as [`std::time::SystemTime`].
//!
//! Binary formats count from PostgreSQL's epoch, 2000-01-01 00:00:00 (UTC for
//! `timestamptz`): `date` is days as `i32`, `timestamp`/`timestamptz` microseconds as
//! `i64`, `time` microseconds since midnight as `i64`, `timetz` that plus the zone as
//! `i32` seconds *west* of UTC, `interval` microseconds `i64`, days `i32`, months `i32`.
//! `date` and the timestamps have `infinity` and `-infinity` (the extreme values of
//! their integer).

use core::fmt;

use bytes::{BufMut, BytesMut};

use super::{FromSql, IsNull, ToSql, Type, ValueError};

/// The `N` bytes of a binary value.
fn fixed<T, const N: usize>(ty: &Type, raw: &[u8]) -> Result<[u8; N], ValueError> {
    raw.try_into()
        .map_err(|_| ValueError::malformed::<T>(ty, "wrong length for the type"))
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// Days from 1970-01-01 (the Unix epoch) to 2000-01-01 (PostgreSQL's).
const UNIX_TO_PG_DAYS: i64 = 10_957;

/// Days since 1970-01-01 of a proleptic Gregorian date (year 0 is 1 BC). Howard
/// Hinnant's `days_from_civil`, in `i64` so no year in `i32` overflows.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are small and positive by construction (1..=31, 1..=12).
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Writes an astronomical year PostgreSQL's way: 4 digits at least, `BC` years as
/// `1 - year` with the suffix written by the caller.
fn write_date(f: &mut fmt::Formatter<'_>, days_since_unix: i64) -> Result<bool, fmt::Error> {
    let (year, month, day) = civil_from_days(days_since_unix);
    let bc = year <= 0;
    let year = if bc { 1 - year } else { year };
    write!(f, "{year:04}-{month:02}-{day:02}")?;
    Ok(bc)
}

fn write_time(f: &mut fmt::Formatter<'_>, micros: i64) -> fmt::Result {
    let seconds = micros / MICROS_PER_SECOND;
    let fraction = micros % MICROS_PER_SECOND;
    write!(
        f,
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )?;
    if fraction != 0 {
        let mut digits = 6;
        let mut fraction = fraction;
        while fraction % 10 == 0 {
            fraction /= 10;
            digits -= 1;
        }
        write!(f, ".{fraction:0digits$}")?;
    }
    Ok(())
}

/// A PostgreSQL `date`: a day of the proleptic Gregorian calendar (PostgreSQL's range
/// is 4713 BC to 5874897 AD), or `infinity` / `-infinity`.
///
/// ```
/// use apg_proto::types::Date;
///
/// let d = Date::from_ymd(-43, 3, 15).unwrap(); // 44 BC: year 0 is 1 BC
/// assert_eq!(d.to_string(), "0044-03-15 BC");
/// assert_eq!(Date::from_ymd(2000, 1, 1).unwrap().pg_days(), 0);
/// assert_eq!(Date::INFINITY.to_string(), "infinity");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    /// `infinity`: later than every date.
    pub const INFINITY: Self = Self(i32::MAX);
    /// `-infinity`: earlier than every date.
    pub const NEG_INFINITY: Self = Self(i32::MIN);

    /// The date `days` days after 2000-01-01 (its binary representation).
    pub const fn from_pg_days(days: i32) -> Self {
        Self(days)
    }

    /// Days since 2000-01-01.
    pub const fn pg_days(self) -> i32 {
        self.0
    }

    /// A calendar date; `year` is astronomical (0 is 1 BC, -1 is 2 BC). `None` for an
    /// invalid day or month, or beyond the `i32` day count.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        let year = i64::from(year);
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let days = days_from_civil(year, month, day) - UNIX_TO_PG_DAYS;
        i32::try_from(days)
            .ok()
            .filter(|&d| d != i32::MAX && d != i32::MIN)
            .map(Self)
    }

    /// The (astronomical year, month, day); `None` for the infinities.
    pub fn ymd(self) -> Option<(i32, u32, u32)> {
        if self.is_infinite() {
            return None;
        }
        let (year, month, day) = civil_from_days(i64::from(self.0) + UNIX_TO_PG_DAYS);
        // Every i32 day count is within a few million years.
        Some((i32::try_from(year).ok()?, month, day))
    }

    /// Whether the date is `infinity` or `-infinity`.
    pub const fn is_infinite(self) -> bool {
        self.0 == i32::MAX || self.0 == i32::MIN
    }
}

impl fmt::Display for Date {
    /// PostgreSQL's ISO output: `2024-02-29`, `0044-03-15 BC`, `infinity`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::INFINITY => f.write_str("infinity"),
            Self::NEG_INFINITY => f.write_str("-infinity"),
            Self(days) => {
                if write_date(f, i64::from(days) + UNIX_TO_PG_DAYS)? {
                    f.write_str(" BC")?;
                }
                Ok(())
            }
        }
    }
}

/// A PostgreSQL `time`: microseconds since midnight, `00:00:00` to `24:00:00`
/// inclusive.
///
/// ```
/// use apg_proto::types::Time;
///
/// let t = Time::from_hms_micro(13, 5, 7, 250_000).unwrap();
/// assert_eq!(t.to_string(), "13:05:07.25");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(i64);

impl Time {
    /// Midnight at the start of the day.
    pub const MIDNIGHT: Self = Self(0);
    /// `24:00:00`, which PostgreSQL allows as the end of the day.
    pub const END_OF_DAY: Self = Self(MICROS_PER_DAY);

    /// The time `micros` microseconds after midnight; `None` outside
    /// `0..=86_400_000_000`.
    pub const fn from_micros(micros: i64) -> Option<Self> {
        if micros >= 0 && micros <= MICROS_PER_DAY {
            Some(Self(micros))
        } else {
            None
        }
    }

    /// A time of day; `None` for a field out of range (24:00:00 is allowed).
    pub fn from_hms_micro(hour: u32, minute: u32, second: u32, micro: u32) -> Option<Self> {
        if minute > 59 || second > 59 || micro > 999_999 {
            return None;
        }
        let micros = ((i64::from(hour) * 60 + i64::from(minute)) * 60 + i64::from(second))
            * MICROS_PER_SECOND
            + i64::from(micro);
        Self::from_micros(micros)
    }

    /// Microseconds since midnight.
    pub const fn micros(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Time {
    /// PostgreSQL's output: `13:05:07`, with the fraction only when non-zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_time(f, self.0)
    }
}

/// A PostgreSQL `timetz`: a time of day with a UTC offset.
///
/// ```
/// use apg_proto::types::{Time, TimeTz};
///
/// let t = TimeTz::new(Time::from_hms_micro(9, 30, 0, 0).unwrap(), 5 * 3600 + 1800).unwrap();
/// assert_eq!(t.to_string(), "09:30:00+05:30");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeTz {
    time: Time,
    offset: i32,
}

/// PostgreSQL's limit on a time zone offset (`TZDISP_LIMIT`): 15:59:59.
const MAX_OFFSET: i32 = 15 * 3600 + 59 * 60 + 59;

impl TimeTz {
    /// A time at `utc_offset_seconds` east of UTC (negative west); `None` beyond
    /// ±15:59:59, PostgreSQL's limit.
    pub const fn new(time: Time, utc_offset_seconds: i32) -> Option<Self> {
        if utc_offset_seconds < -MAX_OFFSET || utc_offset_seconds > MAX_OFFSET {
            None
        } else {
            Some(Self {
                time,
                offset: utc_offset_seconds,
            })
        }
    }

    /// The local time.
    pub const fn time(self) -> Time {
        self.time
    }

    /// Seconds east of UTC.
    pub const fn utc_offset_seconds(self) -> i32 {
        self.offset
    }
}

impl fmt::Display for TimeTz {
    /// PostgreSQL's output: `09:30:00+05:30`, `23:00:00-08`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_time(f, self.time.0)?;
        let sign = if self.offset < 0 { '-' } else { '+' };
        let abs = self.offset.unsigned_abs();
        write!(f, "{sign}{:02}", abs / 3600)?;
        if abs % 3600 != 0 {
            write!(f, ":{:02}", abs / 60 % 60)?;
            if abs % 60 != 0 {
                write!(f, ":{:02}", abs % 60)?;
            }
        }
        Ok(())
    }
}

macro_rules! timestamp {
    ($(#[$doc:meta])* $name:ident, $pg:ident, $suffix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i64);

        impl $name {
            /// `infinity`: later than every timestamp.
            pub const INFINITY: Self = Self(i64::MAX);
            /// `-infinity`: earlier than every timestamp.
            pub const NEG_INFINITY: Self = Self(i64::MIN);

            /// The timestamp `micros` microseconds after 2000-01-01 00:00:00 (its
            /// binary representation).
            pub const fn from_pg_micros(micros: i64) -> Self {
                Self(micros)
            }

            /// Microseconds since 2000-01-01 00:00:00.
            pub const fn pg_micros(self) -> i64 {
                self.0
            }

            /// The timestamp `micros` microseconds after 1970-01-01 00:00:00; `None`
            /// when that overflows.
            pub const fn from_unix_micros(micros: i64) -> Option<Self> {
                match micros.checked_sub(UNIX_TO_PG_DAYS * MICROS_PER_DAY) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }

            /// Microseconds since 1970-01-01 00:00:00; `None` for the infinities and
            /// on overflow.
            pub const fn unix_micros(self) -> Option<i64> {
                if self.is_infinite() {
                    return None;
                }
                self.0.checked_add(UNIX_TO_PG_DAYS * MICROS_PER_DAY)
            }

            /// A date at a time of day; `None` for an infinite date or on overflow.
            pub fn new(date: Date, time: Time) -> Option<Self> {
                if date.is_infinite() {
                    return None;
                }
                i64::from(date.0)
                    .checked_mul(MICROS_PER_DAY)
                    .and_then(|d| d.checked_add(time.0))
                    .filter(|&v| v != i64::MAX && v != i64::MIN)
                    .map(Self)
            }

            /// The date and time of day; `None` for the infinities.
            pub fn date_time(self) -> Option<(Date, Time)> {
                if self.is_infinite() {
                    return None;
                }
                let days = self.0.div_euclid(MICROS_PER_DAY);
                // |i64::MAX / MICROS_PER_DAY| is far below i32::MAX.
                let days = i32::try_from(days).ok()?;
                Some((Date(days), Time(self.0.rem_euclid(MICROS_PER_DAY))))
            }

            /// Whether the timestamp is `infinity` or `-infinity`.
            pub const fn is_infinite(self) -> bool {
                self.0 == i64::MAX || self.0 == i64::MIN
            }
        }

        impl fmt::Display for $name {
            /// PostgreSQL's ISO output
            #[doc = concat!("(`2024-02-29 13:05:07.25", $suffix, "`, `infinity`).")]
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.date_time() {
                    None if self.0 > 0 => f.write_str("infinity"),
                    None => f.write_str("-infinity"),
                    Some((date, time)) => {
                        let bc = write_date(f, i64::from(date.0) + UNIX_TO_PG_DAYS)?;
                        f.write_str(" ")?;
                        write_time(f, time.0)?;
                        f.write_str($suffix)?;
                        if bc {
                            f.write_str(" BC")?;
                        }
                        Ok(())
                    }
                }
            }
        }

        impl ToSql for $name {
            fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
                out.put_i64(self.0);
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
            fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                from_text(ty, raw)
            }

            fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                Ok(Self(i64::from_be_bytes(fixed::<Self, 8>(ty, raw)?)))
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }
        }
    };
}

timestamp!(
    /// A PostgreSQL `timestamp` (without time zone): microseconds since 2000-01-01
    /// 00:00:00, or `infinity` / `-infinity`.
    ///
    /// ```
    /// use apg_proto::types::{Date, Time, Timestamp};
    ///
    /// let ts = Timestamp::new(Date::from_ymd(1999, 12, 31).unwrap(), Time::MIDNIGHT).unwrap();
    /// assert_eq!(ts.pg_micros(), -86_400_000_000);
    /// assert_eq!(ts.to_string(), "1999-12-31 00:00:00");
    /// ```
    Timestamp,
    TIMESTAMP,
    ""
);

timestamp!(
    /// A PostgreSQL `timestamptz`: an instant, as microseconds since 2000-01-01
    /// 00:00:00 UTC, or `infinity` / `-infinity`. The server converts to and from the
    /// session's `TimeZone` only in text; the value itself has no zone.
    TimestampTz,
    TIMESTAMPTZ,
    "+00"
);

/// A PostgreSQL `interval`: months, days and microseconds, kept apart as PostgreSQL
/// keeps them (a month is not a fixed number of days, nor a day of hours across a
/// daylight saving change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    /// Months (and years, as 12 months).
    pub months: i32,
    /// Days.
    pub days: i32,
    /// Microseconds (hours, minutes, seconds).
    pub microseconds: i64,
}

impl Interval {
    /// An interval of `months`, `days` and `microseconds`.
    pub const fn new(months: i32, days: i32, microseconds: i64) -> Self {
        Self {
            months,
            days,
            microseconds,
        }
    }
}

impl Interval {
    /// `infinity` (PostgreSQL 17 and later): every field at its maximum.
    pub const INFINITY: Self = Self::new(i32::MAX, i32::MAX, i64::MAX);
    /// `-infinity` (PostgreSQL 17 and later): every field at its minimum.
    pub const NEG_INFINITY: Self = Self::new(i32::MIN, i32::MIN, i64::MIN);
}

impl fmt::Display for Interval {
    /// PostgreSQL's output in its default `IntervalStyle`, `postgres`:
    /// `1 year 2 mons 3 days 04:05:06.5`, `-00:00:01`, `00:00:00`.
    ///
    /// ```
    /// use apg_proto::types::Interval;
    ///
    /// let iv = Interval::new(14, 3, 14_706_500_000);
    /// assert_eq!(iv.to_string(), "1 year 2 mons 3 days 04:05:06.5");
    /// assert_eq!(Interval::new(0, -1, 3_600_000_000).to_string(), "-1 days +01:00:00");
    /// assert_eq!("P1Y2M3DT4H5M6.5S".parse::<Interval>(), Ok(iv));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // PostgreSQL's EncodeInterval (INTSTYLE_POSTGRES), field by field: each
        // part carries its own sign, and a positive part after a negative one is
        // written with `+`.
        if *self == Self::INFINITY {
            return f.write_str("infinity");
        }
        if *self == Self::NEG_INFINITY {
            return f.write_str("-infinity");
        }
        let mut is_zero = true;
        let mut is_before = false;
        let mut part = |f: &mut fmt::Formatter<'_>, value: i32, unit: &str| -> fmt::Result {
            if value == 0 {
                return Ok(());
            }
            let space = if is_zero { "" } else { " " };
            let plus = if is_before && value > 0 { "+" } else { "" };
            let s = if value == 1 { "" } else { "s" };
            write!(f, "{space}{plus}{value} {unit}{s}")?;
            is_before = value < 0;
            is_zero = false;
            Ok(())
        };
        part(f, self.months / 12, "year")?;
        part(f, self.months % 12, "mon")?;
        part(f, self.days, "day")?;
        let micros = self.microseconds;
        if is_zero || micros != 0 {
            let space = if is_zero { "" } else { " " };
            let sign = if micros < 0 {
                "-"
            } else if is_before {
                "+"
            } else {
                ""
            };
            let abs = micros.unsigned_abs();
            let micros_per_second = MICROS_PER_SECOND.unsigned_abs();
            let seconds = abs / micros_per_second;
            write!(
                f,
                "{space}{sign}{:02}:{:02}:{:02}",
                seconds / 3600,
                seconds / 60 % 60,
                seconds % 60
            )?;
            write_fraction(f, abs % micros_per_second)?;
        }
        Ok(())
    }
}

/// Writes `.ffffff` without trailing zeros, nothing for 0.
fn write_fraction(f: &mut fmt::Formatter<'_>, micros: u64) -> fmt::Result {
    if micros == 0 {
        return Ok(());
    }
    let mut digits = 6;
    let mut fraction = micros;
    while fraction % 10 == 0 {
        fraction /= 10;
        digits -= 1;
    }
    write!(f, ".{fraction:0digits$}")
}

/// A date, time or interval could not be parsed from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError(&'static str);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} text", self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ParseError {}

/// A cursor over ASCII text, for the parsers below.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn eat(&mut self, byte: u8) -> bool {
        match self.0 {
            [b, rest @ ..] if *b == byte => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    fn skip_spaces(&mut self) -> bool {
        let before = self.0.len();
        while self.eat(b' ') {}
        self.0.len() != before
    }

    /// `-1` after a `-`, `1` after a `+` or nothing.
    fn sign(&mut self) -> i64 {
        if self.eat(b'-') {
            -1
        } else {
            self.eat(b'+');
            1
        }
    }

    /// One or more decimal digits, and how many there were; `None` for none or on
    /// overflow.
    fn number(&mut self) -> Option<(i64, usize)> {
        let len = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        let (digits, rest) = self.0.split_at(len);
        self.0 = rest;
        let value = digits.iter().try_fold(0i64, |acc, d| {
            acc.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        })?;
        Some((value, len))
    }

    /// Exactly `n` digits.
    fn fixed(&mut self, n: usize) -> Option<i64> {
        self.number().filter(|&(_, len)| len == n).map(|(v, _)| v)
    }

    /// `.ffffff` (1 to 6 digits) as microseconds; 0 when there is no `.`.
    fn fraction(&mut self) -> Option<i64> {
        if !self.eat(b'.') {
            return Some(0);
        }
        let (value, len) = self.number()?;
        let scale = [0, 100_000, 10_000, 1_000, 100, 10, 1].get(len)?;
        value.checked_mul(*scale)
    }

    /// A run of ASCII letters.
    fn word(&mut self) -> &[u8] {
        let len = self
            .0
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let (word, rest) = self.0.split_at(len);
        self.0 = rest;
        word
    }

    /// A UTC offset as PostgreSQL prints it, `+HH[:MM[:SS]]` or `-...`, in seconds
    /// east of UTC; `None` beyond its limit of 15:59:59.
    fn utc_offset(&mut self) -> Option<i64> {
        let sign = match self.0.first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return None,
        };
        self.sign();
        let mut offset = self.fixed(2)? * 3600;
        if self.eat(b':') {
            offset += self.fixed(2).filter(|&m| m < 60)? * 60;
            if self.eat(b':') {
                offset += self.fixed(2).filter(|&s| s < 60)?;
            }
        }
        (offset <= i64::from(MAX_OFFSET)).then_some(sign * offset)
    }

    /// A time of day, `HH:MM:SS[.ffffff]`, as microseconds.
    fn time(&mut self) -> Option<i64> {
        let hours = self.fixed(2)?;
        // A time of day always has its seconds.
        if self.0.get(3) != Some(&b':') {
            return None;
        }
        i64::try_from(self.time_after_hours(hours)?).ok()
    }

    /// `:MM[:SS[.ffffff]]` after `hours` hours, as unsigned microseconds; in `i128`,
    /// as the magnitude of the most negative interval does not fit `i64`.
    fn time_after_hours(&mut self, hours: i64) -> Option<i128> {
        if !self.eat(b':') {
            return None;
        }
        let minutes = self.fixed(2).filter(|&m| m < 60)?;
        // `HH:MM` alone is valid interval input; the server always prints seconds.
        let (seconds, fraction) = if self.eat(b':') {
            (self.fixed(2).filter(|&s| s < 60)?, self.fraction()?)
        } else {
            (0, 0)
        };
        Some(
            i128::from(hours) * i128::from(3600 * MICROS_PER_SECOND)
                + i128::from((minutes * 60 + seconds) * MICROS_PER_SECOND + fraction),
        )
    }
}

/// Accumulates an interval's fields, checked.
#[derive(Default)]
struct IntervalParts {
    months: i32,
    days: i32,
    micros: i64,
}

impl IntervalParts {
    fn add_months(&mut self, n: i64, per: i64) -> Option<()> {
        let n = i32::try_from(n.checked_mul(per)?).ok()?;
        self.months = self.months.checked_add(n)?;
        Some(())
    }

    fn add_days(&mut self, n: i64, per: i64) -> Option<()> {
        let n = i32::try_from(n.checked_mul(per)?).ok()?;
        self.days = self.days.checked_add(n)?;
        Some(())
    }

    fn add_micros(&mut self, n: i64) -> Option<()> {
        self.micros = self.micros.checked_add(n)?;
        Some(())
    }

    fn finish(self) -> Interval {
        Interval::new(self.months, self.days, self.micros)
    }
}

/// `postgres` style: `[+-]N unit ...` then `[+-]H:MM:SS[.f]`.
fn parse_postgres_interval(text: &[u8]) -> Option<Interval> {
    let mut c = Cursor(text);
    let mut parts = IntervalParts::default();
    let mut any = false;
    let mut had_time = false;
    loop {
        c.skip_spaces();
        if c.0.is_empty() {
            break;
        }
        if had_time {
            // The time of day comes last.
            return None;
        }
        any = true;
        let sign = c.sign();
        let (n, _) = c.number()?;
        if c.0.first() == Some(&b':') {
            let micros = c.time_after_hours(n)?;
            parts.add_micros(i64::try_from(i128::from(sign) * micros).ok()?)?;
            had_time = true;
            continue;
        }
        let n = sign.checked_mul(n)?;
        c.skip_spaces();
        match c.word().to_ascii_lowercase().as_slice() {
            b"year" | b"years" => parts.add_months(n, 12)?,
            b"mon" | b"mons" | b"month" | b"months" => parts.add_months(n, 1)?,
            b"week" | b"weeks" => parts.add_days(n, 7)?,
            b"day" | b"days" => parts.add_days(n, 1)?,
            b"hour" | b"hours" => parts.add_micros(n.checked_mul(3600 * MICROS_PER_SECOND)?)?,
            b"min" | b"mins" | b"minute" | b"minutes" => {
                parts.add_micros(n.checked_mul(60 * MICROS_PER_SECOND)?)?;
            }
            b"sec" | b"secs" | b"second" | b"seconds" => {
                parts.add_micros(n.checked_mul(MICROS_PER_SECOND)?)?;
            }
            _ => return None,
        }
    }
    any.then(|| parts.finish())
}

/// ISO 8601 with designators: `P1Y2M3W4DT5H6M7.5S`, each number signed; only the
/// seconds may have a fraction.
fn parse_iso_interval(text: &[u8]) -> Option<Interval> {
    let mut c = Cursor(text.strip_prefix(b"P")?);
    let mut parts = IntervalParts::default();
    let mut any = false;
    let mut in_time = false;
    while !c.0.is_empty() {
        if !in_time && c.eat(b'T') {
            in_time = true;
            continue;
        }
        let sign = c.sign();
        let (n, _) = c.number()?;
        let fraction = if in_time && c.0.first() == Some(&b'.') {
            c.fraction()?
        } else {
            0
        };
        let n = sign.checked_mul(n)?;
        let (designator, rest) = c.0.split_first()?;
        c.0 = rest;
        let designator = *designator;
        if fraction != 0 && designator != b'S' {
            return None;
        }
        match (in_time, designator) {
            (false, b'Y') => parts.add_months(n, 12)?,
            (false, b'M') => parts.add_months(n, 1)?,
            (false, b'W') => parts.add_days(n, 7)?,
            (false, b'D') => parts.add_days(n, 1)?,
            (true, b'H') => parts.add_micros(n.checked_mul(3600 * MICROS_PER_SECOND)?)?,
            (true, b'M') => parts.add_micros(n.checked_mul(60 * MICROS_PER_SECOND)?)?,
            (true, b'S') => parts.add_micros(
                n.checked_mul(MICROS_PER_SECOND)?
                    .checked_add(sign * fraction)?,
            )?,
            _ => return None,
        }
        any = true;
    }
    any.then(|| parts.finish())
}

impl core::str::FromStr for Interval {
    type Err = ParseError;

    /// PostgreSQL's `postgres` style (`1 year 2 mons -3 days +04:05:06.5`, also
    /// with `weeks`, `hours`, `mins` and `secs`), ISO 8601 with designators
    /// (`P1Y2M3DT4H5M6.5S`, PostgreSQL's `iso_8601` style), and `infinity` /
    /// `-infinity`. Out of range fields are errors.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim().as_bytes();
        match text {
            b"infinity" => return Ok(Self::INFINITY),
            b"-infinity" => return Ok(Self::NEG_INFINITY),
            _ => {}
        }
        if text.first() == Some(&b'P') {
            parse_iso_interval(text)
        } else {
            parse_postgres_interval(text)
        }
        .ok_or(ParseError("interval"))
    }
}

/// `YYYY-MM-DD` (4 digits or more for the year), the year as written (before `BC`
/// is applied).
fn parse_ymd(c: &mut Cursor<'_>) -> Option<(i64, u32, u32)> {
    let (year, len) = c.number()?;
    if len < 4 || !c.eat(b'-') {
        return None;
    }
    let month = u32::try_from(c.fixed(2)?).ok()?;
    if !c.eat(b'-') {
        return None;
    }
    let day = u32::try_from(c.fixed(2)?).ok()?;
    Some((year, month, day))
}

/// A parsed year with its era (` BC` at the end of the text) applied.
fn date_of(year: i64, month: u32, day: u32, bc: bool) -> Option<Date> {
    if year == 0 {
        return None;
    }
    let year = if bc { 1 - year } else { year };
    Date::from_ymd(i32::try_from(year).ok()?, month, day)
}

/// Strips a trailing ` BC`.
fn strip_bc(text: &[u8]) -> (&[u8], bool) {
    match text.strip_suffix(b" BC") {
        Some(rest) => (rest, true),
        None => (text, false),
    }
}

impl core::str::FromStr for Date {
    type Err = ParseError;

    /// PostgreSQL's ISO output (`2024-02-29`, `0044-03-15 BC`, `infinity`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = ParseError("date");
        match s.as_bytes() {
            b"infinity" => return Ok(Self::INFINITY),
            b"-infinity" => return Ok(Self::NEG_INFINITY),
            _ => {}
        }
        let (text, bc) = strip_bc(s.as_bytes());
        let mut c = Cursor(text);
        let (year, month, day) = parse_ymd(&mut c).ok_or(err)?;
        if !c.0.is_empty() {
            return Err(err);
        }
        date_of(year, month, day, bc).ok_or(err)
    }
}

impl core::str::FromStr for Time {
    type Err = ParseError;

    /// `HH:MM:SS[.ffffff]`, as PostgreSQL prints a `time`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut c = Cursor(s.as_bytes());
        c.time()
            .filter(|_| c.0.is_empty())
            .and_then(Self::from_micros)
            .ok_or(ParseError("time"))
    }
}

impl core::str::FromStr for TimeTz {
    type Err = ParseError;

    /// `HH:MM:SS[.ffffff]` and the UTC offset, as PostgreSQL prints a `timetz`:
    /// `09:30:00+05:30`, `23:00:00-08`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut c = Cursor(s.as_bytes());
        let time = c.time().and_then(Time::from_micros);
        let offset = c.utc_offset().filter(|_| c.0.is_empty());
        time.zip(offset)
            .and_then(|(time, offset)| Self::new(time, i32::try_from(offset).ok()?))
            .ok_or(ParseError("timetz"))
    }
}

/// `YYYY-MM-DD HH:MM:SS[.f]` and whatever follows (the zone, for `timestamptz`),
/// as microseconds since 2000-01-01 of the local time.
fn parse_timestamp<'a>(text: &'a [u8], bc: bool) -> Option<(i64, Cursor<'a>)> {
    let mut c = Cursor(text);
    let (year, month, day) = parse_ymd(&mut c)?;
    if !c.eat(b' ') && !c.eat(b'T') {
        return None;
    }
    let time = Time::from_micros(c.time()?)?;
    let date = date_of(year, month, day, bc)?;
    let ts = Timestamp::new(date, time)?;
    Some((ts.0, c))
}

impl core::str::FromStr for Timestamp {
    type Err = ParseError;

    /// PostgreSQL's ISO output: `2024-02-29 13:05:07.25`, `... BC`, `infinity`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = ParseError("timestamp");
        match s.as_bytes() {
            b"infinity" => return Ok(Self::INFINITY),
            b"-infinity" => return Ok(Self::NEG_INFINITY),
            _ => {}
        }
        let (text, bc) = strip_bc(s.as_bytes());
        match parse_timestamp(text, bc) {
            Some((micros, rest)) if rest.0.is_empty() => Ok(Self(micros)),
            _ => Err(err),
        }
    }
}

impl core::str::FromStr for TimestampTz {
    type Err = ParseError;

    /// PostgreSQL's ISO output in any session time zone: `2024-02-29
    /// 13:05:07.25+05:30`, `... -08 BC`, `infinity` (the offset is applied: the
    /// value is the instant).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = ParseError("timestamptz");
        match s.as_bytes() {
            b"infinity" => return Ok(Self::INFINITY),
            b"-infinity" => return Ok(Self::NEG_INFINITY),
            _ => {}
        }
        let (text, bc) = strip_bc(s.as_bytes());
        let (local, mut c) = parse_timestamp(text, bc).ok_or(err)?;
        let offset = c.utc_offset().filter(|_| c.0.is_empty()).ok_or(err)?;
        local
            .checked_sub(offset * MICROS_PER_SECOND)
            .map(Self)
            .filter(|t| !t.is_infinite())
            .ok_or(err)
    }
}

/// Decodes PostgreSQL's text output with the type's `FromStr`.
fn from_text<T: core::str::FromStr>(ty: &Type, raw: &[u8]) -> Result<T, ValueError> {
    core::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ValueError::malformed::<T>(ty, "invalid text for the type"))
}

impl ToSql for Date {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        out.put_i32(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }

    fn natural_type() -> Type {
        Type::DATE
    }
}

impl FromSql<'_> for Date {
    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        from_text(ty, raw)
    }

    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        Ok(Self(i32::from_be_bytes(fixed::<Self, 4>(ty, raw)?)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }
}

impl ToSql for Time {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        out.put_i64(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIME
    }

    fn natural_type() -> Type {
        Type::TIME
    }
}

impl FromSql<'_> for Time {
    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        from_text(ty, raw)
    }

    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        Self::from_micros(i64::from_be_bytes(fixed::<Self, 8>(ty, raw)?))
            .ok_or_else(|| ValueError::malformed::<Self>(ty, "time of day out of range"))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIME
    }
}

impl ToSql for TimeTz {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        out.put_i64(self.time.0);
        // The wire counts seconds west of UTC.
        out.put_i32(-self.offset);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMETZ
    }

    fn natural_type() -> Type {
        Type::TIMETZ
    }
}

impl FromSql<'_> for TimeTz {
    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        from_text(ty, raw)
    }

    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let raw = fixed::<Self, 12>(ty, raw)?;
        let (time, zone) = raw.split_at(8);
        let time = Time::from_sql(&Type::TIME, time)
            .map_err(|_| ValueError::malformed::<Self>(ty, "time of day out of range"))?;
        let zone = i32::from_be_bytes(fixed::<Self, 4>(ty, zone)?);
        zone.checked_neg()
            .and_then(|offset| Self::new(time, offset))
            .ok_or_else(|| ValueError::malformed::<Self>(ty, "time zone offset out of range"))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMETZ
    }
}

impl ToSql for Interval {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        out.put_i64(self.microseconds);
        out.put_i32(self.days);
        out.put_i32(self.months);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }

    fn natural_type() -> Type {
        Type::INTERVAL
    }
}

impl FromSql<'_> for Interval {
    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        from_text(ty, raw)
    }

    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let raw = fixed::<Self, 16>(ty, raw)?;
        let (micros, rest) = raw.split_at(8);
        let (days, months) = rest.split_at(4);
        Ok(Self {
            microseconds: i64::from_be_bytes(fixed::<Self, 8>(ty, micros)?),
            days: i32::from_be_bytes(fixed::<Self, 4>(ty, days)?),
            months: i32::from_be_bytes(fixed::<Self, 4>(ty, months)?),
        })
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

/// `timestamptz` as an instant. Reading fails with [`ValueError::OutOfRange`] for the
/// infinities; sub-microsecond digits are truncated when writing.
#[cfg(feature = "std")]
mod system_time {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use bytes::BytesMut;

    use super::{FromSql, IsNull, TimestampTz, ToSql, Type, ValueError};

    impl ToSql for SystemTime {
        fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
            let range = || ValueError::out_of_range::<Self>(ty);
            let micros = match self.duration_since(UNIX_EPOCH) {
                Ok(after) => i64::try_from(after.as_micros()).map_err(|_| range())?,
                Err(before) => {
                    // Round toward the past, as the value is before the epoch.
                    let d = before.duration();
                    let micros = i64::try_from(d.as_micros()).map_err(|_| range())?;
                    let partial = i64::from(d.subsec_nanos() % 1000 != 0);
                    -micros - partial
                }
            };
            TimestampTz::from_unix_micros(micros)
                .filter(|t| !t.is_infinite())
                .ok_or_else(range)?
                .to_sql(ty, out)
        }

        fn accepts(ty: &Type) -> bool {
            *ty == Type::TIMESTAMPTZ
        }

        fn natural_type() -> Type {
            Type::TIMESTAMPTZ
        }
    }

    impl FromSql<'_> for SystemTime {
        fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
            let range = || ValueError::out_of_range::<Self>(ty);
            let micros = TimestampTz::from_sql(ty, raw)?
                .unix_micros()
                .ok_or_else(range)?;
            let magnitude = Duration::from_micros(micros.unsigned_abs());
            if micros >= 0 {
                UNIX_EPOCH.checked_add(magnitude)
            } else {
                UNIX_EPOCH.checked_sub(magnitude)
            }
            .ok_or_else(range)
        }

        fn accepts(ty: &Type) -> bool {
            *ty == Type::TIMESTAMPTZ
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use crate::message::Format;
    use alloc::string::ToString;
    use proptest::prelude::*;

    fn decode<'a, T: FromSql<'a>>(ty: &Type, raw: &'a [u8]) -> Result<T, ValueError> {
        T::from_sql_checked(ty, Format::Binary, Some(raw))
    }

    #[test]
    fn dates() {
        assert_eq!(Date::from_ymd(2000, 1, 1), Some(Date(0)));
        assert_eq!(Date::from_ymd(1970, 1, 1), Some(Date(-10_957)));
        assert_eq!(
            Date::from_ymd(2024, 2, 29).unwrap().to_string(),
            "2024-02-29"
        );
        assert_eq!(Date::from_ymd(2023, 2, 29), None);
        assert_eq!(Date::from_ymd(1, 1, 1).unwrap().to_string(), "0001-01-01");
        assert_eq!(
            Date::from_ymd(0, 12, 31).unwrap().to_string(),
            "0001-12-31 BC"
        );
        assert_eq!(
            Date::from_ymd(-4712, 1, 1).unwrap().to_string(),
            "4713-01-01 BC"
        );
        assert_eq!(
            Date::from_ymd(5_874_897, 12, 31).unwrap().to_string(),
            "5874897-12-31"
        );
        assert_eq!(Date::NEG_INFINITY.to_string(), "-infinity");
        assert_eq!(Date::INFINITY.ymd(), None);
        assert_eq!(
            encode(&Date(-1), &Type::DATE).unwrap().as_deref(),
            Some(&[0xff; 4][..])
        );
        assert_eq!(
            decode::<Date>(&Type::DATE, &[0x7f, 0xff, 0xff, 0xff]),
            Ok(Date::INFINITY)
        );
        assert!(decode::<Date>(&Type::DATE, &[0; 3]).is_err());
    }

    #[test]
    fn times() {
        assert_eq!(Time::END_OF_DAY.to_string(), "24:00:00");
        assert_eq!(Time::from_hms_micro(24, 0, 0, 1), None);
        assert_eq!(
            Time::from_hms_micro(0, 0, 0, 1).unwrap().to_string(),
            "00:00:00.000001"
        );
        assert!(decode::<Time>(&Type::TIME, &(MICROS_PER_DAY + 1).to_be_bytes()).is_err());
        let t = TimeTz::new(Time::MIDNIGHT, -8 * 3600).unwrap();
        assert_eq!(t.to_string(), "00:00:00-08");
        let raw = encode(&t, &Type::TIMETZ).unwrap().unwrap();
        assert_eq!(&raw[8..], &(8 * 3600i32).to_be_bytes());
        assert_eq!(decode::<TimeTz>(&Type::TIMETZ, &raw), Ok(t));
        assert_eq!(TimeTz::new(Time::MIDNIGHT, 16 * 3600), None);
    }

    #[test]
    fn timestamps() {
        let ts = Timestamp::new(
            Date::from_ymd(2024, 2, 29).unwrap(),
            Time::from_hms_micro(13, 5, 7, 250_000).unwrap(),
        )
        .unwrap();
        assert_eq!(ts.to_string(), "2024-02-29 13:05:07.25");
        assert_eq!(
            Timestamp::from_pg_micros(-1).to_string(),
            "1999-12-31 23:59:59.999999"
        );
        let bc = Timestamp::new(Date::from_ymd(-99, 6, 1).unwrap(), Time::MIDNIGHT).unwrap();
        assert_eq!(bc.to_string(), "0100-06-01 00:00:00 BC");
        assert_eq!(
            TimestampTz::from_unix_micros(0).unwrap().to_string(),
            "1970-01-01 00:00:00+00"
        );
        assert_eq!(TimestampTz::NEG_INFINITY.to_string(), "-infinity");
        assert_eq!(Timestamp::INFINITY.to_string(), "infinity");
        assert!(matches!(
            encode(&ts, &Type::TIMESTAMPTZ),
            Err(ValueError::WrongType { .. })
        ));
        let iv = Interval::new(14, -3, 1);
        let raw = encode(&iv, &Type::INTERVAL).unwrap().unwrap();
        assert_eq!(decode::<Interval>(&Type::INTERVAL, &raw), Ok(iv));
    }

    #[cfg(feature = "std")]
    #[test]
    fn system_time() {
        use std::time::{Duration, SystemTime, UNIX_EPOCH};
        let t = UNIX_EPOCH - Duration::from_nanos(1500);
        let raw = encode(&t, &Type::TIMESTAMPTZ).unwrap().unwrap();
        assert_eq!(
            decode::<SystemTime>(&Type::TIMESTAMPTZ, &raw),
            Ok(UNIX_EPOCH - Duration::from_micros(2))
        );
        assert!(matches!(
            decode::<SystemTime>(&Type::TIMESTAMPTZ, &i64::MAX.to_be_bytes()),
            Err(ValueError::OutOfRange { .. })
        ));
    }

    #[test]
    fn interval_postgres_style() {
        let cases: &[(Interval, &str)] = &[
            (Interval::new(0, 0, 0), "00:00:00"),
            (Interval::new(0, 0, -1_000_000), "-00:00:01"),
            (
                Interval::new(14, 3, 14_706_500_000),
                "1 year 2 mons 3 days 04:05:06.5",
            ),
            (Interval::new(1, 1, 0), "1 mon 1 day"),
            (Interval::new(-14, 0, 0), "-1 years -2 mons"),
            (Interval::new(0, -1, 3_600_000_000), "-1 days +01:00:00"),
            (Interval::new(-1, 2, -1), "-1 mons +2 days -00:00:00.000001"),
            (Interval::new(12, -3, 0), "1 year -3 days"),
            (Interval::new(0, 0, 90_000_000_000), "25:00:00"),
            (
                Interval::new(i32::MAX, i32::MAX, i64::MAX - 1),
                "178956970 years 7 mons 2147483647 days 2562047788:00:54.775806",
            ),
            (
                Interval::new(i32::MIN, 0, i64::MIN),
                "-178956970 years -8 mons -2562047788:00:54.775808",
            ),
            (Interval::INFINITY, "infinity"),
            (Interval::NEG_INFINITY, "-infinity"),
        ];
        for (iv, text) in cases {
            assert_eq!(iv.to_string(), *text);
            assert_eq!(text.parse::<Interval>(), Ok(*iv), "{text}");
            assert_eq!(
                Interval::from_sql_checked(&Type::INTERVAL, Format::Text, Some(text.as_bytes())),
                Ok(*iv)
            );
        }
        assert_eq!(
            "2 weeks 1 hour 3 mins".parse(),
            Ok(Interval::new(0, 14, 3_780_000_000))
        );
        assert_eq!("01:02".parse(), Ok(Interval::new(0, 0, 3_720_000_000)));
        for bad in [
            "",
            "1",
            "1 fortnight",
            "00:00:00 1 day",
            "1:2:3",
            "1 day 00:60:00",
            "2147483648 days",
            "178956971 years",
            "00:00:00.1234567",
        ] {
            assert_eq!(
                bad.parse::<Interval>(),
                Err(ParseError("interval")),
                "{bad}"
            );
        }
    }

    #[test]
    fn interval_iso_8601() {
        let cases: &[(&str, Interval)] = &[
            ("P1Y2M3DT4H5M6.5S", Interval::new(14, 3, 14_706_500_000)),
            ("PT0S", Interval::new(0, 0, 0)),
            (
                "P-1Y-2M3DT-4H-5M-6.5S",
                Interval::new(-14, 3, -14_706_500_000),
            ),
            ("P2W", Interval::new(0, 14, 0)),
            ("PT1M", Interval::new(0, 0, 60_000_000)),
            ("P1M", Interval::new(1, 0, 0)),
        ];
        for (text, iv) in cases {
            assert_eq!(text.parse::<Interval>(), Ok(*iv), "{text}");
        }
        for bad in ["P", "PT", "P1", "P1H", "PT1D", "P1.5Y", "P1Y2Y3", "PT1.S"] {
            assert!(bad.parse::<Interval>().is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_and_times_from_text() {
        assert_eq!(
            "2024-02-29".parse(),
            Ok(Date::from_ymd(2024, 2, 29).unwrap())
        );
        assert_eq!(
            "0044-03-15 BC".parse(),
            Ok(Date::from_ymd(-43, 3, 15).unwrap())
        );
        assert_eq!(
            "5874897-12-31".parse(),
            Ok(Date::from_ymd(5_874_897, 12, 31).unwrap())
        );
        assert_eq!("-infinity".parse(), Ok(Date::NEG_INFINITY));
        for bad in [
            "2023-02-29",
            "24-01-01",
            "0000-01-01",
            "2024-1-01",
            "2024-01-01 ",
            "2024-01-01 AD",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert_eq!(
            "13:05:07.25".parse(),
            Ok(Time::from_hms_micro(13, 5, 7, 250_000).unwrap())
        );
        assert_eq!("24:00:00".parse(), Ok(Time::END_OF_DAY));
        for bad in ["24:00:01", "1:00:00", "12:00", "12:00:00.", "12:60:00"] {
            assert!(bad.parse::<Time>().is_err(), "{bad}");
        }
        let t = TimeTz::new(Time::from_hms_micro(9, 30, 0, 5).unwrap(), 5 * 3600 + 1800).unwrap();
        assert_eq!(t.to_string().parse(), Ok(t));
        assert_eq!(
            "23:00:00-08".parse(),
            Ok(TimeTz::new(Time::from_hms_micro(23, 0, 0, 0).unwrap(), -8 * 3600).unwrap())
        );
        for bad in [
            "23:00:00",
            "23:00:00+16",
            "23:00:00+1",
            "23:00:00+01:00:00:00",
        ] {
            assert!(bad.parse::<TimeTz>().is_err(), "{bad}");
        }
        assert_eq!(
            TimeTz::from_sql_checked(&Type::TIMETZ, Format::Text, Some(b"09:30:00.000005+05:30")),
            Ok(t)
        );
        let ts = Timestamp::new(
            Date::from_ymd(2024, 2, 29).unwrap(),
            Time::from_hms_micro(13, 5, 7, 250_000).unwrap(),
        )
        .unwrap();
        assert_eq!("2024-02-29 13:05:07.25".parse(), Ok(ts));
        assert_eq!("infinity".parse(), Ok(Timestamp::INFINITY));
        let bc = Timestamp::new(Date::from_ymd(-99, 6, 1).unwrap(), Time::MIDNIGHT).unwrap();
        assert_eq!("0100-06-01 00:00:00 BC".parse(), Ok(bc));
        let utc = TimestampTz::from_pg_micros(ts.pg_micros());
        assert_eq!("2024-02-29 13:05:07.25+00".parse(), Ok(utc));
        assert_eq!("2024-02-29 18:35:07.25+05:30".parse(), Ok(utc));
        assert_eq!("2024-02-29 05:05:07.25-08".parse(), Ok(utc));
        assert_eq!("2024-02-29 13:05:17.25+00:00:10".parse(), Ok(utc));
        assert_eq!(
            "0100-06-01 00:00:00+00 BC".parse(),
            Ok(TimestampTz::from_pg_micros(bc.pg_micros()))
        );
        for bad in [
            "2024-02-29 13:05:07",
            "2024-02-29 13:05:07+16",
            "2024-02-29 13:05:07+1",
            "2024-02-29+00",
        ] {
            assert!(bad.parse::<TimestampTz>().is_err(), "{bad}");
        }
        assert_eq!(
            TimestampTz::from_sql_checked(
                &Type::TIMESTAMPTZ,
                Format::Text,
                Some(b"2024-02-29 13:05:07.25+00")
            ),
            Ok(utc)
        );
        assert_eq!(
            Date::from_sql_checked(&Type::DATE, Format::Text, Some(b"infinity")),
            Ok(Date::INFINITY)
        );
        assert!(matches!(
            Time::from_sql_checked(&Type::TIME, Format::Text, Some(b"\xff")),
            Err(ValueError::Malformed { .. })
        ));
    }

    proptest! {
        #[test]
        fn interval_text_round_trips(months in any::<i32>(), days in any::<i32>(), micros in any::<i64>()) {
            let iv = Interval::new(months, days, micros);
            prop_assert_eq!(iv.to_string().parse::<Interval>(), Ok(iv));
        }

        #[test]
        fn timestamp_text_round_trips(micros in any::<i64>()) {
            let ts = Timestamp::from_pg_micros(micros);
            // Beyond PostgreSQL's range the date's year can need more than i32.
            if let Some((date, _)) = ts.date_time().filter(|(d, _)| d.ymd().is_some()) {
                prop_assert_eq!(ts.to_string().parse::<Timestamp>(), Ok(ts));
                let tz = TimestampTz::from_pg_micros(micros);
                prop_assert_eq!(tz.to_string().parse::<TimestampTz>(), Ok(tz));
                prop_assert_eq!(date.to_string().parse::<Date>(), Ok(date));
            }
        }

        #[test]
        fn text_parsers_never_panic(s in "\\PC{0,40}") {
            let _ = s.parse::<Interval>();
            let _ = s.parse::<Date>();
            let _ = s.parse::<Time>();
            let _ = s.parse::<TimeTz>();
            let _ = s.parse::<Timestamp>();
            let _ = s.parse::<TimestampTz>();
        }

        #[test]
        fn civil_round_trips(days in -2_500_000_000i64..2_500_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!(d >= 1 && d <= days_in_month(y, m));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn decoders_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..20)) {
            let _ = decode::<Date>(&Type::DATE, &raw).map(|d| d.to_string());
            let _ = decode::<Time>(&Type::TIME, &raw).map(|d| d.to_string());
            let _ = decode::<TimeTz>(&Type::TIMETZ, &raw).map(|d| d.to_string());
            let _ = decode::<Timestamp>(&Type::TIMESTAMP, &raw).map(|d| d.to_string());
            let _ = decode::<TimestampTz>(&Type::TIMESTAMPTZ, &raw).map(|d| d.to_string());
            let _ = decode::<Interval>(&Type::INTERVAL, &raw);
        }
    }
}
