//! Value codecs: Rust values to and from PostgreSQL's wire formats. No I/O.
//!
//! [`ToSql`] writes a parameter value in binary format for a Bind message (straight
//! into the send buffer, see [`BindEncoder::value`](crate::message::frontend::BindEncoder::value)).
//! [`FromSql`] reads a column value from a DataRow: in binary format, and in text format
//! for the types where that is trivial.
//!
//! Both traits are strict about types: each implementation says which PostgreSQL types
//! it [`accepts`](FromSql::accepts), and a value of any other type is a
//! [`ValueError::WrongType`], never a reinterpretation of its bytes (an `f64` parameter
//! for an `int8` placeholder would otherwise send IEEE 754 bits the server reads as an
//! integer).
//!
//! Integers convert between any of `int2`, `int4` and `int8`, both ways, checked:
//! widening always works, narrowing fails with [`ValueError::OutOfRange`] when the
//! value does not fit (never truncates). `f64` reads `float4` too and `f32` is also
//! sent as `float8`; neither rounds.
//!
//! | PostgreSQL | Rust | Feature |
//! |---|---|---|
//! | `bool` | `bool` | |
//! | `"char"` | `i8` | |
//! | `int2`, `int4`, `int8` | `i16`, `i32`, `i64` (checked conversions) | |
//! | `oid`, `regclass`, `regtype`, `regproc`, `regprocedure`, `regoper`, `regoperator`, `regconfig`, `regdictionary`, `regnamespace`, `regrole`, `regcollation`, `xid`, `cid` | `u32` | |
//! | `float4` | `f32`, `f64` (read only) | |
//! | `float8` | `f64`, `f32` (sent only) | |
//! | `numeric` | [`Numeric`] | |
//! | `numeric` | `rust_decimal::Decimal` | `rust_decimal` |
//! | `text`, `varchar`, `bpchar`, `name`, `unknown` | `String`, `&str`, `Box<str>`, `Cow<str>` | |
//! | `xml` (and `xml[]`, read in binary); `tsvector`, `tsquery` and their arrays (read only, text format) | `String`, `&str`, `Box<str>`, `Cow<str>` | |
//! | `bytea` | `Vec<u8>`, `&[u8]`, `Box<[u8]>`, `Cow<[u8]>`, `bytes::Bytes` | |
//! | `void` | `()` (read only) | |
//! | `date` | [`Date`] | |
//! | `time` | [`Time`] | |
//! | `timetz` | [`TimeTz`] | |
//! | `timestamp` | [`Timestamp`] | |
//! | `timestamptz` | [`TimestampTz`], `std::time::SystemTime` | `std` for `SystemTime` |
//! | `interval` | [`Interval`] | |
//! | `date`, `time`, `timestamp`, `timestamptz` | `chrono::NaiveDate`, `NaiveTime`, `NaiveDateTime`, `DateTime<Utc>`, `DateTime<FixedOffset>` | `chrono` |
//! | `date`, `time`, `timestamp`, `timestamptz` | `time::Date`, `Time`, `PrimitiveDateTime`, `OffsetDateTime` | `time` |
//! | `uuid` | `uuid::Uuid` | `uuid` |
//! | `json`, `jsonb` | `serde_json::Value`, `Json<T>` (any serde type) | `serde_json` |
//! | `inet`, `cidr` | `std::net::IpAddr` (host addresses), [`IpNetwork`] | |
//! | `macaddr`, `macaddr8` | [`MacAddr`], [`MacAddr8`] | |
//! | `bit`, `varbit` | [`BitString`] | |
//! | `money` | [`Money`] | |
//! | `point`, `line`, `lseg`, `box`, `path`, `polygon`, `circle` | [`Point`], [`Line`], [`LineSegment`], [`PgBox`], [`Path`], [`Polygon`], [`Circle`] | |
//! | `pg_lsn` | [`PgLsn`] | |
//! | `hstore` (extension, found by name) | `BTreeMap<String, Option<String>>`, `HashMap<String, Option<String>>` | `std` for `HashMap` |
//! | arrays of any type above | `Vec<T>`, `&[T]` (one dimension; `Vec<T>` also from a text array whose elements need no backslash escapes), [`Array<T>`] (any) | |
//! | `int4range`, `int8range`, `numrange`, `daterange`, `tsrange`, `tstzrange` | [`Range<T>`] of the element's Rust type | |
//! | `int4multirange`, `int8multirange`, `nummultirange`, `datemultirange`, `tsmultirange`, `tstzmultirange` | [`Multirange<T>`] | |
//! | `record` (anonymous rows) | [`Record`] (fields by position) | |
//! | NULL | `Option<T>` (also as array elements) | |
//!
//! Types created with `CREATE TYPE` (or by an extension) have no fixed OID: a client
//! describes them from the catalog ([`Type::new`], [`Kind`]), and then:
//!
//! | PostgreSQL (described) | Rust |
//! |---|---|
//! | an enum | `String`, `&str`, `Box<str>`, `Cow<str>` (the label), or your own type |
//! | a composite type (a table's row type) | [`Record`] (fields by name or position; binary, or text when the client chose text for a field's type), or your own type over [`CompositeReader`] / [`CompositeWriter`] |
//! | a domain | whatever reads its base type |
//! | an array of any of these (or of a domain) | `Vec<T>`, `&[T]`, [`Array<T>`] of the element's Rust type (`Vec<Record>` for composites) |
//! | a range over any subtype above, its multirange | [`Range<T>`], [`Multirange<T>`] |
//! | an extension's type (`ltree`, `cube`, `vector`) | your own [`FromSql`] / [`ToSql`] accepting `ty.name() == Some("ltree")`; text format unless the client asks otherwise ([`result_format_with`]) |
//!
//! Values are exchanged in binary format; [`result_format`] names the types read in
//! binary (described types included; [`result_format_with`] lets a client choose for
//! extension types). Text format is decoded for `bool`, the integers, `oid`, the
//! floats, the strings, `bytea`, `numeric`, `uuid` and `json`/`jsonb`; `date`, `time`,
//! `timetz`, `timestamp`, `timestamptz` (ISO `DateStyle`) and `interval` (`postgres` or
//! `iso_8601` `IntervalStyle`) as this crate's types; `inet`, `cidr`, `macaddr`,
//! `macaddr8`; `hstore`; composites as [`Record`]; and `xml`, `tsvector`, `tsquery` as
//! strings.
//!
//! Implement the traits for your own types to extend the mapping.

use alloc::boxed::Box;
use core::fmt;

use bytes::BytesMut;

use crate::message::Format;

mod array;
mod bytea;
#[cfg(feature = "chrono")]
mod chrono_impls;
mod composite;
mod datetime;
mod geo;
mod hstore;
#[cfg(feature = "serde_json")]
mod json;
mod misc;
mod multirange;
mod network;
mod numeric;
mod primitive;
mod range;
mod record;
mod string;
#[cfg(feature = "time")]
mod time_impls;
mod ty;

pub use array::{Array, Dimension};
pub use composite::{CompositeReader, CompositeWriter, RawField};
pub use datetime::{Date, Interval, ParseError, Time, TimeTz, Timestamp, TimestampTz};
pub use geo::{Circle, Line, LineSegment, Path, PgBox, Point, Polygon};
#[cfg(feature = "serde_json")]
pub use json::Json;
pub use misc::{BitString, Money, PgLsn};
pub use multirange::Multirange;
pub use network::{IpNetwork, MacAddr, MacAddr8};
pub use numeric::{Numeric, NumericError};
pub use range::Range;
pub use record::{Record, RecordIndex};
pub use ty::{Field, Kind, Type};

/// Whether a value written by [`ToSql::to_sql`] is NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsNull {
    /// The value is SQL NULL: nothing was written.
    Yes,
    /// The value was written.
    No,
}

/// A value could not be converted between Rust and PostgreSQL.
///
/// The caller (the async client) adds which parameter or column it was.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueError {
    /// The Rust type does not represent the PostgreSQL type (decoding an `int4` column
    /// as a `String`, an `i64` for an `int4` parameter).
    WrongType {
        /// The PostgreSQL type.
        pg_type: Type,
        /// The Rust type, as [`core::any::type_name`] spells it.
        rust_type: &'static str,
    },
    /// A NULL value for a Rust type that cannot hold NULL (use `Option<T>`).
    UnexpectedNull {
        /// The PostgreSQL type.
        pg_type: Type,
        /// The Rust type.
        rust_type: &'static str,
    },
    /// The column arrived in text format and the Rust type only decodes binary.
    TextFormatUnsupported {
        /// The PostgreSQL type.
        pg_type: Type,
        /// The Rust type.
        rust_type: &'static str,
    },
    /// The bytes are not a valid value of the type (a wrong length, invalid UTF-8, ...).
    Malformed {
        /// The PostgreSQL type.
        pg_type: Type,
        /// The Rust type.
        rust_type: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The value cannot be represented in the other side's type (out of range, too
    /// long).
    OutOfRange {
        /// The PostgreSQL type.
        pg_type: Type,
        /// The Rust type.
        rust_type: &'static str,
    },
    /// An error from an implementation outside this crate.
    Custom(Box<str>),
    /// A [`Record`] has no field of that name or position.
    NoSuchField {
        /// The record's type.
        pg_type: Type,
        /// The name or position asked for.
        field: Box<str>,
    },
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType { pg_type, rust_type } => write!(
                f,
                "PostgreSQL type {pg_type} and Rust type {rust_type} are not compatible"
            ),
            Self::UnexpectedNull { pg_type, rust_type } => write!(
                f,
                "NULL {pg_type} value cannot be held by Rust type {rust_type} (use Option)"
            ),
            Self::TextFormatUnsupported { pg_type, rust_type } => write!(
                f,
                "Rust type {rust_type} cannot decode {pg_type} values in text format"
            ),
            Self::Malformed {
                pg_type,
                rust_type,
                reason,
            } => write!(
                f,
                "invalid {pg_type} value for Rust type {rust_type}: {reason}"
            ),
            Self::OutOfRange { pg_type, rust_type } => write!(
                f,
                "value out of range: PostgreSQL type {pg_type} and Rust type {rust_type} \
                 cannot both hold it"
            ),
            Self::Custom(message) => f.write_str(message),
            Self::NoSuchField { pg_type, field } => {
                write!(f, "{pg_type} value has no field {field}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ValueError {}

impl ValueError {
    /// [`ValueError::WrongType`] for Rust type `T`.
    pub fn wrong_type<T: ?Sized>(pg_type: &Type) -> Self {
        Self::WrongType {
            pg_type: pg_type.clone(),
            rust_type: core::any::type_name::<T>(),
        }
    }

    /// [`ValueError::OutOfRange`] for Rust type `T`.
    pub fn out_of_range<T: ?Sized>(pg_type: &Type) -> Self {
        Self::OutOfRange {
            pg_type: pg_type.clone(),
            rust_type: core::any::type_name::<T>(),
        }
    }

    /// [`ValueError::Malformed`] for Rust type `T`.
    pub fn malformed<T: ?Sized>(pg_type: &Type, reason: &'static str) -> Self {
        Self::Malformed {
            pg_type: pg_type.clone(),
            rust_type: core::any::type_name::<T>(),
            reason,
        }
    }
}

/// A Rust value that can be sent as a parameter, in binary format.
///
/// Implementations write the value with [`to_sql`](Self::to_sql), say which types they
/// [`accept`](Self::accepts), and name the type they are sent as when the server is not
/// asked ([`natural_type`](Self::natural_type)). Callers go through
/// [`ToSqlChecked::to_sql_checked`], which checks the type first and works on
/// `dyn ToSql`.
///
/// ```
/// use apg_proto::types::{IsNull, ToSql, Type, ValueError};
/// use bytes::{BufMut, BytesMut};
///
/// /// A user id, stored as int8.
/// struct UserId(i64);
///
/// impl ToSql for UserId {
///     fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
///         self.0.to_sql(ty, out)
///     }
///     fn accepts(ty: &Type) -> bool {
///         *ty == Type::INT8
///     }
///     fn natural_type() -> Type {
///         Type::INT8
///     }
/// }
/// ```
pub trait ToSql: ToSqlChecked {
    /// Appends the value in binary format to `out` (or nothing, returning
    /// [`IsNull::Yes`], for NULL). Only called for a type [`accepts`](Self::accepts)
    /// returned `true` for.
    ///
    /// # Errors
    ///
    /// A [`ValueError`] when the value cannot be represented in `ty`.
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError>;

    /// Whether values of this Rust type can be sent as `ty`.
    fn accepts(ty: &Type) -> bool
    where
        Self: Sized;

    /// The type this Rust type is sent as when the statement's parameter types are not
    /// known beforehand (a statement prepared in the same round trip as its execution).
    fn natural_type() -> Type
    where
        Self: Sized;
}

/// The object-safe face of [`ToSql`]: implemented for every `ToSql` type, so parameter
/// lists can be `&[&(dyn ToSql + Sync)]`. Do not implement it yourself.
pub trait ToSqlChecked {
    /// Checks that the value's Rust type accepts `ty`, then writes it.
    ///
    /// # Errors
    ///
    /// [`ValueError::WrongType`] when it does not; otherwise what
    /// [`ToSql::to_sql`] returns.
    fn to_sql_checked(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError>;

    /// [`ToSql::natural_type`] of the value's Rust type.
    fn value_natural_type(&self) -> Type;

    /// The value's Rust type name, for error messages.
    fn rust_type_name(&self) -> &'static str;
}

impl<T: ToSql> ToSqlChecked for T {
    fn to_sql_checked(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        if !T::accepts(ty) {
            // A domain's values travel as its base type's.
            return match ty.domain_base() {
                Some(base) => self.to_sql_checked(base, out),
                None => Err(ValueError::wrong_type::<T>(ty)),
            };
        }
        self.to_sql(ty, out)
    }

    fn value_natural_type(&self) -> Type {
        T::natural_type()
    }

    fn rust_type_name(&self) -> &'static str {
        core::any::type_name::<T>()
    }
}

/// A Rust value that can be read from a column value.
///
/// `'a` is the lifetime of the row the value is read from, so `&'a str` and `&'a [u8]`
/// borrow from it without copying.
pub trait FromSql<'a>: Sized {
    /// Decodes a non-NULL value in binary format.
    ///
    /// # Errors
    ///
    /// A [`ValueError`] when the bytes are not a valid value.
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError>;

    /// Decodes a non-NULL value in text format. The default refuses: implement it
    /// where the text form is trivial to read.
    ///
    /// # Errors
    ///
    /// A [`ValueError`] when the bytes are not a valid value, or text is not supported.
    fn from_sql_text(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        let _ = raw;
        Err(ValueError::TextFormatUnsupported {
            pg_type: ty.clone(),
            rust_type: core::any::type_name::<Self>(),
        })
    }

    /// The value for SQL NULL. The default refuses; `Option<T>` returns `None`.
    ///
    /// # Errors
    ///
    /// [`ValueError::UnexpectedNull`] by default.
    fn from_sql_null(ty: &Type) -> Result<Self, ValueError> {
        Err(ValueError::UnexpectedNull {
            pg_type: ty.clone(),
            rust_type: core::any::type_name::<Self>(),
        })
    }

    /// Whether values of `ty` can be read into this Rust type.
    fn accepts(ty: &Type) -> bool;

    /// Checks the type, then decodes `raw` (`None` is NULL) in `format`. A value of a
    /// domain the Rust type does not accept is decoded as the domain's base type.
    ///
    /// # Errors
    ///
    /// [`ValueError::WrongType`] when the type is not accepted; otherwise what the
    /// decoding method returns.
    fn from_sql_checked(
        ty: &Type,
        format: Format,
        raw: Option<&'a [u8]>,
    ) -> Result<Self, ValueError> {
        if !Self::accepts(ty) {
            return match ty.domain_base() {
                Some(base) => Self::from_sql_checked(base, format, raw),
                None => Err(ValueError::wrong_type::<Self>(ty)),
            };
        }
        match (raw, format) {
            (None, _) => Self::from_sql_null(ty),
            (Some(raw), Format::Binary) => Self::from_sql(ty, raw),
            (Some(raw), Format::Text) => Self::from_sql_text(ty, raw),
        }
    }
}

/// The built-in types this module decodes from binary (arrays, ranges and domains of
/// them follow their element, subtype or base type).
const BINARY: &[Type] = &[
    Type::VOID,
    // `xml_send` is the text in the client encoding (UTF-8 here), less a declaration
    // that says no more than version 1.0: read as a string in binary, so that
    // `xml[]` is readable too.
    Type::XML,
    Type::NUMERIC,
    Type::DATE,
    Type::TIME,
    Type::TIMETZ,
    Type::TIMESTAMP,
    Type::TIMESTAMPTZ,
    Type::INTERVAL,
    Type::UUID,
    Type::JSON,
    Type::JSONB,
    Type::INET,
    Type::CIDR,
    Type::MACADDR,
    Type::MACADDR8,
    Type::BIT,
    Type::VARBIT,
    Type::MONEY,
    Type::POINT,
    Type::LINE,
    Type::LSEG,
    Type::BOX,
    Type::PATH,
    Type::POLYGON,
    Type::CIRCLE,
    Type::PG_LSN,
    Type::REGPROC,
    Type::REGPROCEDURE,
    Type::REGOPER,
    Type::REGOPERATOR,
    Type::REGCLASS,
    Type::REGTYPE,
    Type::REGCONFIG,
    Type::REGDICTIONARY,
    Type::REGNAMESPACE,
    Type::REGROLE,
    Type::REGCOLLATION,
    Type::XID,
    Type::CID,
    Type::BOOL,
    Type::BYTEA,
    Type::CHAR,
    Type::NAME,
    Type::INT8,
    Type::INT2,
    Type::INT4,
    Type::TEXT,
    Type::OID,
    Type::FLOAT4,
    Type::FLOAT8,
    Type::UNKNOWN,
    Type::BPCHAR,
    Type::VARCHAR,
    // Anonymous rows: read as a `Record`, whose fields each say their type.
    Type::RECORD,
];

/// The result format a client should request for a column of type `ty`: binary for the
/// types this module decodes from binary, text otherwise (a text value can at least be
/// read by a custom [`FromSql::from_sql_text`]).
///
/// Types described by the catalog ([`Type::new`]): an enum is binary (its label's
/// text); a domain follows its base type, an array its element, a range its subtype, a
/// multirange its range; a composite is binary when all its fields are, else text
/// (a [`Record`] reads both); any other type, an extension's `vector` or `ltree`, is
/// text. See
/// [`result_format_with`] to choose the format of such types.
pub fn result_format(ty: &Type) -> Format {
    result_format_with(ty, &|_| None)
}

/// [`result_format`], asking `custom` first for `ty` and for every type it refers to
/// (element, base type, subtype, range, composite fields): `Some(format)` decides for
/// that type. This is how a client lets its user choose the format of an extension's
/// type, for which the user's own [`FromSql`] implementation reads that format.
///
/// ```
/// use apg_proto::message::Format;
/// use apg_proto::types::{result_format, result_format_with, Kind, Type};
///
/// let ltree = Type::new(16_600, "ltree", "public", Kind::Simple);
/// let ltrees = Type::new(16_601, "_ltree", "public", Kind::Array(ltree.clone()));
/// assert_eq!(result_format(&ltrees), Format::Text);
/// let binary_ltree = |t: &Type| (t.name() == Some("ltree")).then_some(Format::Binary);
/// assert_eq!(result_format_with(&ltrees, &binary_ltree), Format::Binary);
/// ```
pub fn result_format_with(ty: &Type, custom: &dyn Fn(&Type) -> Option<Format>) -> Format {
    let mut budget = MAX_VISITS;
    format_at(ty, custom, 0, &mut budget)
}

/// Descriptions come from the server: bounds on nesting and on the types visited keep
/// a hostile or cyclic one (or composites reusing composites, `c2 = (c1, c1)`, ...,
/// which double at each level) from costing without end.
const MAX_DEPTH: usize = 32;
const MAX_VISITS: usize = 10_000;

fn format_at(
    ty: &Type,
    custom: &dyn Fn(&Type) -> Option<Format>,
    depth: usize,
    budget: &mut usize,
) -> Format {
    if depth > MAX_DEPTH || *budget == 0 {
        return Format::Text;
    }
    *budget -= 1;
    if let Some(format) = custom(ty) {
        return format;
    }
    if BINARY.contains(ty) {
        return Format::Binary;
    }
    match ty.kind() {
        Kind::Array(inner) | Kind::Domain(inner) | Kind::Range(inner) | Kind::Multirange(inner) => {
            format_at(&inner, custom, depth + 1, budget)
        }
        Kind::Enum(_) => Format::Binary,
        // Binary (`record_send` works for every field type with a send function, and
        // derived types read binary), unless text was chosen for a field's type.
        Kind::Composite(fields) => {
            if fields
                .iter()
                .any(|f| chooses_text(f.type_(), custom, depth + 1, budget))
            {
                Format::Text
            } else {
                Format::Binary
            }
        }
        _ => Format::Text,
    }
}

/// Whether the client chose text for `ty` or a type inside it.
fn chooses_text(
    ty: &Type,
    custom: &dyn Fn(&Type) -> Option<Format>,
    depth: usize,
    budget: &mut usize,
) -> bool {
    if depth > MAX_DEPTH || *budget == 0 {
        return true;
    }
    *budget -= 1;
    if let Some(format) = custom(ty) {
        return format == Format::Text;
    }
    match ty.kind() {
        Kind::Array(inner) | Kind::Domain(inner) | Kind::Range(inner) | Kind::Multirange(inner) => {
            chooses_text(&inner, custom, depth + 1, budget)
        }
        Kind::Composite(fields) => fields
            .iter()
            .any(|f| chooses_text(f.type_(), custom, depth + 1, budget)),
        _ => false,
    }
}

/// The type a Rust type whose `accepts` is given reads or sends values of `ty` as:
/// `ty` itself, or the base type of the domain `ty` (domains over domains followed).
/// `None` when neither is accepted.
pub(crate) fn accepted_as(ty: &Type, accepts: impl Fn(&Type) -> bool) -> Option<Type> {
    // Domains nest only as deep as the catalog says; the bound guards against a
    // description that loops.
    let mut ty = ty.clone();
    for _ in 0..32 {
        if accepts(&ty) {
            return Some(ty);
        }
        ty = ty.domain_base()?.clone();
    }
    None
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        match self {
            Some(value) => value.to_sql(ty, out),
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(ty: &Type) -> bool {
        T::accepts(ty)
    }

    fn natural_type() -> Type {
        T::natural_type()
    }
}

impl<T: ToSql> ToSql for &T {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        (**self).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        T::accepts(ty)
    }

    fn natural_type() -> Type {
        T::natural_type()
    }
}

impl<'a, T: FromSql<'a>> FromSql<'a> for Option<T> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        T::from_sql(ty, raw).map(Some)
    }

    fn from_sql_text(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        T::from_sql_text(ty, raw).map(Some)
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, ValueError> {
        Ok(None)
    }

    fn accepts(ty: &Type) -> bool {
        T::accepts(ty)
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    /// Encodes `value` as `ty`, checking the type.
    pub(crate) fn encode<T: ToSql>(value: &T, ty: &Type) -> Result<Option<BytesMut>, ValueError> {
        let mut out = BytesMut::new();
        match value.to_sql_checked(ty, &mut out)? {
            IsNull::Yes => {
                assert!(out.is_empty(), "NULL must write nothing");
                Ok(None)
            }
            IsNull::No => Ok(Some(out)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::encode;
    use super::*;
    use alloc::string::{String, ToString};

    #[test]
    fn option_is_null_or_the_inner_value() {
        assert_eq!(encode(&None::<i32>, &Type::INT4), Ok(None));
        assert_eq!(
            encode(&Some(7i32), &Type::INT4).unwrap().as_deref(),
            Some(&[0, 0, 0, 7][..])
        );
        assert_eq!(
            Option::<i32>::from_sql_checked(&Type::INT4, Format::Binary, None),
            Ok(None)
        );
        assert_eq!(
            Option::<i32>::from_sql_checked(&Type::INT4, Format::Binary, Some(&[0, 0, 0, 7])),
            Ok(Some(7))
        );
        // NULL of the wrong type is still the wrong type.
        assert!(matches!(
            Option::<String>::from_sql_checked(&Type::INT4, Format::Binary, None),
            Err(ValueError::WrongType { .. })
        ));
    }

    #[test]
    fn null_needs_option() {
        let e = i32::from_sql_checked(&Type::INT4, Format::Binary, None).unwrap_err();
        assert_eq!(
            e,
            ValueError::UnexpectedNull {
                pg_type: Type::INT4,
                rust_type: "i32"
            }
        );
        assert_eq!(
            e.to_string(),
            "NULL int4 value cannot be held by Rust type i32 (use Option)"
        );
    }

    #[test]
    fn wrong_types_are_refused_before_encoding() {
        let mut out = BytesMut::new();
        let e = 5i64.to_sql_checked(&Type::TEXT, &mut out).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PostgreSQL type text and Rust type i64 are not compatible"
        );
        assert!(out.is_empty());
        let value: &(dyn ToSql + Sync) = &"text";
        assert!(value.to_sql_checked(&Type::INT4, &mut out).is_err());
        assert_eq!(value.value_natural_type(), Type::TEXT);
        assert_eq!(value.rust_type_name(), "&str");
    }

    #[test]
    fn domains_travel_as_their_base_type() {
        let positive = Type::new(16_500, "positive", "public", Kind::Domain(Type::INT4));
        let nested = Type::new(16_501, "small", "public", Kind::Domain(positive.clone()));
        assert_eq!(
            encode(&7i32, &nested).unwrap().as_deref(),
            Some(&[0, 0, 0, 7][..])
        );
        assert_eq!(
            i64::from_sql_checked(&nested, Format::Binary, Some(&[0, 0, 0, 7])),
            Ok(7)
        );
        assert!(matches!(
            String::from_sql_checked(&positive, Format::Binary, Some(&[0, 0, 0, 7])),
            Err(ValueError::WrongType { .. })
        ));
        assert_eq!(result_format(&nested), Format::Binary);
    }

    #[test]
    fn result_formats() {
        assert_eq!(result_format(&Type::INT4), Format::Binary);
        assert_eq!(result_format(&Type::NUMERIC), Format::Binary);
        assert_eq!(result_format(&Type::TSVECTOR), Format::Text);
        assert_eq!(result_format(&Type::NUMERIC_ARRAY), Format::Binary);
        assert_eq!(result_format(&Type::XML_ARRAY), Format::Binary);
        assert_eq!(result_format(&Type::TSVECTOR_ARRAY), Format::Text);
        assert_eq!(result_format(&Type::from_oid(99_999)), Format::Text);
        assert_eq!(result_format(&Type::RECORD), Format::Binary);
        assert_eq!(result_format(&Type::INT4_MULTIRANGE), Format::Binary);
    }

    #[test]
    fn result_formats_of_described_types() {
        let text = |labels: &[&str]| -> alloc::sync::Arc<[String]> {
            labels.iter().map(|l| String::from(*l)).collect()
        };
        let mood = Type::new(16_390, "mood", "public", Kind::Enum(text(&["a"])));
        let ltree = Type::new(16_600, "ltree", "public", Kind::Simple);
        let moods = Type::new(16_389, "_mood", "public", Kind::Array(mood.clone()));
        let floatrange = Type::new(16_700, "floatrange", "public", Kind::Range(Type::FLOAT8));
        let multi = Type::new(
            16_703,
            "floatmultirange",
            "public",
            Kind::Multirange(floatrange.clone()),
        );
        let fields = |types: &[&Type]| -> alloc::sync::Arc<[Field]> {
            types
                .iter()
                .map(|t| Field::new("f", (*t).clone()))
                .collect()
        };
        let plain = Type::new(
            16_800,
            "plain",
            "public",
            Kind::Composite(fields(&[&Type::INT4, &mood, &moods])),
        );
        let with_ltree = Type::new(
            16_801,
            "tagged",
            "public",
            Kind::Composite(fields(&[&Type::INT4, &ltree])),
        );
        for binary in [&mood, &moods, &floatrange, &multi, &plain] {
            assert_eq!(result_format(binary), Format::Binary, "{binary:?}");
        }
        assert_eq!(result_format(&ltree), Format::Text);
        // A composite is read in binary (`record_send` sends any field type), unless
        // text was chosen for a field's type.
        assert_eq!(result_format(&with_ltree), Format::Binary);
        let custom = |t: &Type| (t.name() == Some("ltree")).then_some(Format::Text);
        assert_eq!(result_format_with(&with_ltree, &custom), Format::Text);
        let text_mood = |t: &Type| (*t == Type::from_oid(16_390)).then_some(Format::Text);
        assert_eq!(result_format_with(&moods, &text_mood), Format::Text);
    }
}
