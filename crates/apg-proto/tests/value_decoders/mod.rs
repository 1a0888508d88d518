//! Every `FromSql` implementation of apg-proto, as a table of (PostgreSQL type, Rust
//! type) cases that decode arbitrary bytes: shared by the `decoders` test (proptest)
//! and the `value_decoders` fuzz target, which includes this file by path.
//!
//! A decoded value is also formatted (`Debug`, and `Display` where the type has
//! one), as formatting a hostile value is where a panic could hide too.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::{Debug, Display};
use std::net::IpAddr;
use std::time::SystemTime;

use apg_proto::message::Format;
use apg_proto::types::{
    Array, BitString, Circle, CompositeReader, Date, Field, FromSql, Interval, IpNetwork, Kind,
    Line, LineSegment, MacAddr, MacAddr8, Money, Multirange, Numeric, Path, PgBox, PgLsn, Point,
    Polygon, Range, Record, Time, TimeTz, Timestamp, TimestampTz, Type, ValueError,
};

/// One (PostgreSQL type, Rust type) combination.
pub(crate) struct Case {
    /// `pg type as Rust type`, for failure messages.
    pub(crate) name: &'static str,
    /// The PostgreSQL type the bytes are said to be.
    pub(crate) ty: Type,
    /// Decodes a value (`None` is NULL) in a format, checking the type first as the
    /// client does, and formats the result.
    pub(crate) decode: fn(&Type, Format, Option<&[u8]>),
}

/// Formats a decoded value with `Debug`.
pub(crate) fn debug<T: Debug>(result: Result<T, ValueError>) {
    match result {
        Ok(value) => drop(format!("{value:?}")),
        Err(e) => drop(e.to_string()),
    }
}

/// Formats a decoded value with `Debug` and `Display`.
pub(crate) fn display<T: Debug + Display>(result: Result<T, ValueError>) {
    match result {
        Ok(value) => drop(format!("{value:?} {value}")),
        Err(e) => drop(e.to_string()),
    }
}

macro_rules! cases {
    ($($ty:expr => $rust:ty, $touch:ident;)*) => {
        vec![$(Case {
            name: concat!(stringify!($ty), " as ", stringify!($rust)),
            ty: $ty,
            decode: |ty, format, raw| $touch(<$rust as FromSql<'_>>::from_sql_checked(ty, format, raw)),
        },)*]
    };
}

/// `hstore`, as the catalog describes it (its OID varies between databases).
pub(crate) fn hstore() -> Type {
    Type::new(16_400, "hstore", "public", Kind::Simple)
}

/// A composite `(street text, zip int4)`, as the catalog describes it.
fn address() -> Type {
    Type::new(
        16_402,
        "address",
        "public",
        Kind::Composite(
            vec![
                Field::new("street", Type::TEXT),
                Field::new("zip", Type::INT4),
            ]
            .into(),
        ),
    )
}

/// An enum, and an array of it.
fn mood() -> Type {
    Type::new(
        16_403,
        "mood",
        "public",
        Kind::Enum(vec!["sad".to_owned(), "ok".to_owned()].into()),
    )
}

fn moods() -> Type {
    Type::new(16_404, "_mood", "public", Kind::Array(mood()))
}

/// Reads every field of a decoded record, by position, as text and as raw bytes.
fn record(result: Result<Record, ValueError>) {
    let Ok(record) = result else { return };
    drop(format!("{record:?}"));
    for i in 0..record.len() {
        let _ = record.get::<Option<&str>, _>(i);
        let _ = record.get::<Option<i32>, _>(i);
        let _ = record.raw(i);
    }
}

/// A domain over `int4`, read through its base type.
fn int4_domain() -> Type {
    Type::new(16_401, "positive", "public", Kind::Domain(Type::INT4))
}

/// Reads every field of a composite value as the client's composite support does.
fn composite(ty: &Type, _format: Format, raw: Option<&[u8]>) {
    let Some(raw) = raw else { return };
    let Ok(mut fields) = CompositeReader::new(ty, raw) else {
        return;
    };
    let _ = fields.len();
    while let Some(field) = fields.next_raw() {
        if field.is_err() {
            return;
        }
    }
    let _ = fields.finish();
}

/// The table. Its order is part of the fuzz corpus's meaning (the first bytes pick a
/// case): add new cases at the end.
pub(crate) fn cases() -> Vec<Case> {
    let mut cases = cases! {
        Type::BOOL => bool, debug;
        Type::CHAR => i8, debug;
        Type::INT2 => i16, debug;
        Type::INT4 => i32, debug;
        Type::INT8 => i64, debug;
        Type::INT4 => i16, debug;
        Type::INT8 => i32, debug;
        Type::INT2 => i64, debug;
        Type::OID => u32, debug;
        Type::REGCLASS => u32, debug;
        Type::XID => u32, debug;
        Type::FLOAT4 => f32, debug;
        Type::FLOAT8 => f64, debug;
        Type::FLOAT4 => f64, debug;
        Type::NUMERIC => Numeric, display;
        Type::TEXT => String, debug;
        Type::VARCHAR => &str, debug;
        Type::NAME => Box<str>, debug;
        Type::BPCHAR => Cow<'_, str>, debug;
        Type::XML => String, debug;
        Type::TSVECTOR => &str, debug;
        Type::TSQUERY => String, debug;
        Type::BYTEA => Vec<u8>, debug;
        Type::BYTEA => &[u8], debug;
        Type::BYTEA => Box<[u8]>, debug;
        Type::BYTEA => Cow<'_, [u8]>, debug;
        Type::BYTEA => bytes::Bytes, debug;
        Type::VOID => (), debug;
        Type::DATE => Date, display;
        Type::TIME => Time, display;
        Type::TIMETZ => TimeTz, display;
        Type::TIMESTAMP => Timestamp, display;
        Type::TIMESTAMPTZ => TimestampTz, display;
        Type::TIMESTAMPTZ => SystemTime, debug;
        Type::INTERVAL => Interval, display;
        Type::INET => IpAddr, display;
        Type::INET => IpNetwork, display;
        Type::CIDR => IpNetwork, display;
        Type::MACADDR => MacAddr, display;
        Type::MACADDR8 => MacAddr8, display;
        Type::BIT => BitString, display;
        Type::VARBIT => BitString, display;
        Type::MONEY => Money, debug;
        Type::PG_LSN => PgLsn, display;
        Type::POINT => Point, debug;
        Type::LINE => Line, debug;
        Type::LSEG => LineSegment, debug;
        Type::BOX => PgBox, debug;
        Type::PATH => Path, debug;
        Type::POLYGON => Polygon, debug;
        Type::CIRCLE => Circle, debug;
        Type::INT4_ARRAY => Vec<i32>, debug;
        Type::INT4_ARRAY => Vec<Option<i32>>, debug;
        Type::INT8_ARRAY => Array<Option<i64>>, debug;
        Type::TEXT_ARRAY => Vec<Option<String>>, debug;
        Type::TEXT_ARRAY => Vec<&str>, debug;
        Type::BYTEA_ARRAY => Array<&[u8]>, debug;
        Type::NUMERIC_ARRAY => Vec<Option<Numeric>>, debug;
        Type::TIMESTAMPTZ_ARRAY => Array<TimestampTz>, debug;
        Type::INTERVAL_ARRAY => Vec<Interval>, debug;
        Type::POINT_ARRAY => Vec<Point>, debug;
        Type::INT4_RANGE => Range<i32>, debug;
        Type::INT8_RANGE => Range<i64>, debug;
        Type::NUM_RANGE => Range<Numeric>, debug;
        Type::DATE_RANGE => Range<Date>, debug;
        Type::TS_RANGE => Range<Timestamp>, debug;
        Type::TSTZ_RANGE => Range<TimestampTz>, debug;
        hstore() => BTreeMap<String, Option<String>>, debug;
        hstore() => HashMap<String, Option<String>>, debug;
        int4_domain() => i32, debug;
        Type::INT4 => Option<i32>, debug;
        Type::TEXT => Option<&str>, debug;
        Type::RECORD => Record, record;
        address() => Record, record;
        Type::RECORD_ARRAY => Vec<Record>, debug;
        Type::INT4_MULTIRANGE => Multirange<i32>, debug;
        Type::TSTZ_MULTIRANGE => Multirange<TimestampTz>, debug;
        mood() => String, debug;
        moods() => Vec<&str>, debug;
    };
    cases.push(Case {
        name: "record as CompositeReader",
        ty: Type::RECORD,
        decode: composite,
    });
    #[cfg(feature = "rust_decimal")]
    cases.extend(cases! {
        Type::NUMERIC => rust_decimal::Decimal, display;
        Type::NUM_RANGE => Range<rust_decimal::Decimal>, debug;
    });
    #[cfg(feature = "uuid")]
    cases.extend(cases! {
        Type::UUID => uuid::Uuid, display;
        Type::UUID_ARRAY => Vec<uuid::Uuid>, debug;
    });
    #[cfg(feature = "chrono")]
    cases.extend(cases! {
        Type::DATE => chrono::NaiveDate, display;
        Type::TIME => chrono::NaiveTime, display;
        Type::TIMESTAMP => chrono::NaiveDateTime, display;
        Type::TIMESTAMPTZ => chrono::DateTime<chrono::Utc>, display;
        Type::TIMESTAMPTZ => chrono::DateTime<chrono::FixedOffset>, display;
        Type::TSTZ_RANGE => Range<chrono::DateTime<chrono::Utc>>, debug;
    });
    #[cfg(feature = "time")]
    cases.extend(cases! {
        Type::DATE => time::Date, display;
        Type::TIME => time::Time, display;
        Type::TIMESTAMP => time::PrimitiveDateTime, display;
        Type::TIMESTAMPTZ => time::OffsetDateTime, display;
    });
    #[cfg(feature = "serde_json")]
    cases.extend(cases! {
        Type::JSON => serde_json::Value, display;
        Type::JSONB => serde_json::Value, display;
        Type::JSONB => apg_proto::types::Json<BTreeMap<String, Vec<i64>>>, debug;
        Type::JSONB_ARRAY => Vec<serde_json::Value>, debug;
    });
    cases
}

/// Decodes `data` as the fuzz target does: the first two bytes pick the case, the
/// third the format (low bit: text) and whether the value is NULL (bit 1); the rest
/// is the value.
pub(crate) fn run(cases: &[Case], data: &[u8]) {
    let [hi, lo, flags, raw @ ..] = data else {
        return;
    };
    let index = usize::from(u16::from_be_bytes([*hi, *lo])) % cases.len();
    let case = &cases[index];
    let format = if flags & 1 == 0 {
        Format::Binary
    } else {
        Format::Text
    };
    let raw = (flags & 2 == 0).then_some(raw);
    (case.decode)(&case.ty, format, raw);
}
