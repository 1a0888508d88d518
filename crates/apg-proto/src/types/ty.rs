//! [`Type`]: a PostgreSQL data type, as the protocol names it (by OID), and what the
//! catalog says about types that are not built in ([`Kind`], [`Field`]).

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::hash::{Hash, Hasher};

use crate::message::Oid;

/// A PostgreSQL data type.
///
/// The protocol identifies types by OID: parameter types in ParameterDescription, column
/// types in RowDescription. Built-in types have fixed OIDs (the constants below); types
/// created with `CREATE TYPE` (enums, composites, domains) get theirs at creation, so
/// they differ between databases.
///
/// A type that is not built in carries what the catalog (`pg_type`, `pg_enum`,
/// `pg_attribute`, `pg_range`) says about it once the client has looked it up: its
/// name, schema and [`Kind`] ([`Type::new`]). Until then it is only an OID.
///
/// Two `Type`s are equal when their OIDs are: a described type equals its bare OID.
/// Cloning is cheap (a described type is reference-counted).
///
/// ```
/// use apg_proto::types::{Kind, Type};
///
/// let mood = Type::new(16_390, "mood", "public", Kind::Enum(["sad", "ok", "happy"].map(String::from).into()));
/// assert_eq!(mood.name(), Some("mood"));
/// assert_eq!(mood, Type::from_oid(16_390));
/// assert!(matches!(mood.kind(), Kind::Enum(labels) if labels.len() == 3));
/// assert!(matches!(Type::INT4_ARRAY.kind(), Kind::Array(e) if e == Type::INT4));
/// ```
#[derive(Clone)]
pub struct Type(Inner);

#[derive(Clone)]
enum Inner {
    Oid(Oid),
    Described(Arc<Described>),
}

struct Described {
    oid: Oid,
    name: String,
    schema: String,
    kind: Kind,
}

/// What kind of type a [`Type`] is: `pg_type.typtype`, with what each kind refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A base type: a built-in scalar, or an extension's type (`vector`, `ltree`,
    /// `hstore`). Also what a type not looked up yet reports.
    Simple,
    /// A pseudo-type (`record`, `void`, `anyelement`).
    Pseudo,
    /// An enum, with its labels in sort order.
    Enum(Arc<[String]>),
    /// An array of the element type.
    Array(Type),
    /// A range over the subtype.
    Range(Type),
    /// A multirange of the range type.
    Multirange(Type),
    /// A domain over the base type: values travel as the base type's.
    Domain(Type),
    /// A composite type (`CREATE TYPE ... AS (...)`, a table's row type), with its
    /// fields in order (dropped columns left out).
    Composite(Arc<[Field]>),
}

/// A field of a composite type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    name: String,
    type_: Type,
}

impl Field {
    /// A field called `name` of type `type_`.
    pub fn new(name: impl Into<String>, type_: Type) -> Self {
        Self {
            name: name.into(),
            type_,
        }
    }

    /// The field's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The field's type.
    pub fn type_(&self) -> &Type {
        &self.type_
    }
}

impl PartialEq for Type {
    fn eq(&self, other: &Self) -> bool {
        self.oid() == other.oid()
    }
}

impl Eq for Type {}

impl Hash for Type {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.oid().hash(state);
    }
}

impl fmt::Debug for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Oid(oid) => match builtin_name(*oid) {
                Some(name) => write!(f, "Type({name})"),
                None => write!(f, "Type(oid {oid})"),
            },
            Inner::Described(d) => f
                .debug_struct("Type")
                .field("oid", &d.oid)
                .field("name", &d.name)
                .field("schema", &d.schema)
                .field("kind", &d.kind)
                .finish(),
        }
    }
}

macro_rules! builtin_types {
    ($($(#[$doc:meta])* $name:ident = $oid:literal, $sql:literal;)*) => {
        impl Type {
            $(
                $(#[$doc])*
                pub const $name: Self = Self(Inner::Oid($oid));
            )*
        }

        /// The OIDs of the built-in types, for `match`ing on [`Type::oid`].
        #[allow(dead_code)]
        pub(crate) mod oid {
            use crate::message::Oid;
            $(pub(crate) const $name: Oid = $oid;)*
        }

        /// The SQL name of a built-in type, as `pg_type.typname` spells it.
        const fn builtin_name(oid: Oid) -> Option<&'static str> {
            match oid {
                $($oid => Some($sql),)*
                _ => None,
            }
        }
    };
}

builtin_types! {
    /// `bool`.
    BOOL = 16, "bool";
    /// `bytea`: a byte string.
    BYTEA = 17, "bytea";
    /// `"char"`: a single byte (not `char(n)`, which is `bpchar`).
    CHAR = 18, "char";
    /// `name`: an identifier (63 bytes at most).
    NAME = 19, "name";
    /// `int8` (`bigint`).
    INT8 = 20, "int8";
    /// `int2` (`smallint`).
    INT2 = 21, "int2";
    /// `int2vector`.
    INT2_VECTOR = 22, "int2vector";
    /// `int4` (`integer`).
    INT4 = 23, "int4";
    /// `regproc`.
    REGPROC = 24, "regproc";
    /// `text`.
    TEXT = 25, "text";
    /// `oid`: an object identifier.
    OID = 26, "oid";
    /// `tid`: a tuple identifier.
    TID = 27, "tid";
    /// `xid`: a transaction identifier.
    XID = 28, "xid";
    /// `cid`: a command identifier.
    CID = 29, "cid";
    /// `oidvector`.
    OID_VECTOR = 30, "oidvector";
    /// `json`.
    JSON = 114, "json";
    /// `xml`.
    XML = 142, "xml";
    /// `pg_node_tree`.
    PG_NODE_TREE = 194, "pg_node_tree";
    /// `point`.
    POINT = 600, "point";
    /// `lseg`.
    LSEG = 601, "lseg";
    /// `path`.
    PATH = 602, "path";
    /// `box`.
    BOX = 603, "box";
    /// `polygon`.
    POLYGON = 604, "polygon";
    /// `line`.
    LINE = 628, "line";
    /// `cidr`.
    CIDR = 650, "cidr";
    /// `float4` (`real`).
    FLOAT4 = 700, "float4";
    /// `float8` (`double precision`).
    FLOAT8 = 701, "float8";
    /// `unknown`: an untyped literal.
    UNKNOWN = 705, "unknown";
    /// `circle`.
    CIRCLE = 718, "circle";
    /// `macaddr8`.
    MACADDR8 = 774, "macaddr8";
    /// `money`.
    MONEY = 790, "money";
    /// `macaddr`.
    MACADDR = 829, "macaddr";
    /// `inet`.
    INET = 869, "inet";
    /// `bool[]`.
    BOOL_ARRAY = 1000, "_bool";
    /// `bytea[]`.
    BYTEA_ARRAY = 1001, "_bytea";
    /// `int2[]`.
    INT2_ARRAY = 1005, "_int2";
    /// `int4[]`.
    INT4_ARRAY = 1007, "_int4";
    /// `text[]`.
    TEXT_ARRAY = 1009, "_text";
    /// `varchar[]`.
    VARCHAR_ARRAY = 1015, "_varchar";
    /// `int8[]`.
    INT8_ARRAY = 1016, "_int8";
    /// `float4[]`.
    FLOAT4_ARRAY = 1021, "_float4";
    /// `float8[]`.
    FLOAT8_ARRAY = 1022, "_float8";
    /// `aclitem`.
    ACLITEM = 1033, "aclitem";
    /// `bpchar`: `char(n)`, blank-padded.
    BPCHAR = 1042, "bpchar";
    /// `varchar`.
    VARCHAR = 1043, "varchar";
    /// `date`.
    DATE = 1082, "date";
    /// `time`.
    TIME = 1083, "time";
    /// `timestamp` (without time zone).
    TIMESTAMP = 1114, "timestamp";
    /// `timestamptz`.
    TIMESTAMPTZ = 1184, "timestamptz";
    /// `interval`.
    INTERVAL = 1186, "interval";
    /// `timetz`.
    TIMETZ = 1266, "timetz";
    /// `bit`.
    BIT = 1560, "bit";
    /// `varbit`.
    VARBIT = 1562, "varbit";
    /// `numeric`.
    NUMERIC = 1700, "numeric";
    /// `refcursor`.
    REFCURSOR = 1790, "refcursor";
    /// `regprocedure`.
    REGPROCEDURE = 2202, "regprocedure";
    /// `regoper`.
    REGOPER = 2203, "regoper";
    /// `regoperator`.
    REGOPERATOR = 2204, "regoperator";
    /// `regclass`.
    REGCLASS = 2205, "regclass";
    /// `regtype`.
    REGTYPE = 2206, "regtype";
    /// `record`: an anonymous row.
    RECORD = 2249, "record";
    /// `cstring`.
    CSTRING = 2275, "cstring";
    /// `any`.
    ANY = 2276, "any";
    /// `void`: what a function returning nothing returns.
    VOID = 2278, "void";
    /// `uuid`.
    UUID = 2950, "uuid";
    /// `pg_lsn`.
    PG_LSN = 3220, "pg_lsn";
    /// `tsvector`.
    TSVECTOR = 3614, "tsvector";
    /// `tsquery`.
    TSQUERY = 3615, "tsquery";
    /// `regconfig`.
    REGCONFIG = 3734, "regconfig";
    /// `regdictionary`.
    REGDICTIONARY = 3769, "regdictionary";
    /// `jsonb`.
    JSONB = 3802, "jsonb";
    /// `int4range`.
    INT4_RANGE = 3904, "int4range";
    /// `numrange`.
    NUM_RANGE = 3906, "numrange";
    /// `tsrange`.
    TS_RANGE = 3908, "tsrange";
    /// `tstzrange`.
    TSTZ_RANGE = 3910, "tstzrange";
    /// `daterange`.
    DATE_RANGE = 3912, "daterange";
    /// `int8range`.
    INT8_RANGE = 3926, "int8range";
    /// `jsonpath`.
    JSONPATH = 4072, "jsonpath";
    /// `regnamespace`.
    REGNAMESPACE = 4089, "regnamespace";
    /// `regrole`.
    REGROLE = 4096, "regrole";
    /// `regcollation`.
    REGCOLLATION = 4191, "regcollation";
    /// `xid8`.
    XID8 = 5069, "xid8";
    /// `char[]`.
    CHAR_ARRAY = 1002, "_char";
    /// `name[]`.
    NAME_ARRAY = 1003, "_name";
    /// `regproc[]`.
    REGPROC_ARRAY = 1008, "_regproc";
    /// `oid[]`.
    OID_ARRAY = 1028, "_oid";
    /// `tid[]`.
    TID_ARRAY = 1010, "_tid";
    /// `xid[]`.
    XID_ARRAY = 1011, "_xid";
    /// `cid[]`.
    CID_ARRAY = 1012, "_cid";
    /// `json[]`.
    JSON_ARRAY = 199, "_json";
    /// `xml[]`.
    XML_ARRAY = 143, "_xml";
    /// `point[]`.
    POINT_ARRAY = 1017, "_point";
    /// `lseg[]`.
    LSEG_ARRAY = 1018, "_lseg";
    /// `path[]`.
    PATH_ARRAY = 1019, "_path";
    /// `box[]`.
    BOX_ARRAY = 1020, "_box";
    /// `polygon[]`.
    POLYGON_ARRAY = 1027, "_polygon";
    /// `line[]`.
    LINE_ARRAY = 629, "_line";
    /// `cidr[]`.
    CIDR_ARRAY = 651, "_cidr";
    /// `circle[]`.
    CIRCLE_ARRAY = 719, "_circle";
    /// `macaddr8[]`.
    MACADDR8_ARRAY = 775, "_macaddr8";
    /// `money[]`.
    MONEY_ARRAY = 791, "_money";
    /// `macaddr[]`.
    MACADDR_ARRAY = 1040, "_macaddr";
    /// `inet[]`.
    INET_ARRAY = 1041, "_inet";
    /// `bpchar[]`.
    BPCHAR_ARRAY = 1014, "_bpchar";
    /// `date[]`.
    DATE_ARRAY = 1182, "_date";
    /// `time[]`.
    TIME_ARRAY = 1183, "_time";
    /// `timestamp[]`.
    TIMESTAMP_ARRAY = 1115, "_timestamp";
    /// `timestamptz[]`.
    TIMESTAMPTZ_ARRAY = 1185, "_timestamptz";
    /// `interval[]`.
    INTERVAL_ARRAY = 1187, "_interval";
    /// `timetz[]`.
    TIMETZ_ARRAY = 1270, "_timetz";
    /// `bit[]`.
    BIT_ARRAY = 1561, "_bit";
    /// `varbit[]`.
    VARBIT_ARRAY = 1563, "_varbit";
    /// `numeric[]`.
    NUMERIC_ARRAY = 1231, "_numeric";
    /// `refcursor[]`.
    REFCURSOR_ARRAY = 2201, "_refcursor";
    /// `regprocedure[]`.
    REGPROCEDURE_ARRAY = 2207, "_regprocedure";
    /// `regoper[]`.
    REGOPER_ARRAY = 2208, "_regoper";
    /// `regoperator[]`.
    REGOPERATOR_ARRAY = 2209, "_regoperator";
    /// `regclass[]`.
    REGCLASS_ARRAY = 2210, "_regclass";
    /// `regtype[]`.
    REGTYPE_ARRAY = 2211, "_regtype";
    /// `record[]`.
    RECORD_ARRAY = 2287, "_record";
    /// `cstring[]`.
    CSTRING_ARRAY = 1263, "_cstring";
    /// `uuid[]`.
    UUID_ARRAY = 2951, "_uuid";
    /// `pg_lsn[]`.
    PG_LSN_ARRAY = 3221, "_pg_lsn";
    /// `regconfig[]`.
    REGCONFIG_ARRAY = 3735, "_regconfig";
    /// `regdictionary[]`.
    REGDICTIONARY_ARRAY = 3770, "_regdictionary";
    /// `jsonb[]`.
    JSONB_ARRAY = 3807, "_jsonb";
    /// `int4range[]`.
    INT4_RANGE_ARRAY = 3905, "_int4range";
    /// `numrange[]`.
    NUM_RANGE_ARRAY = 3907, "_numrange";
    /// `tsrange[]`.
    TS_RANGE_ARRAY = 3909, "_tsrange";
    /// `tstzrange[]`.
    TSTZ_RANGE_ARRAY = 3911, "_tstzrange";
    /// `daterange[]`.
    DATE_RANGE_ARRAY = 3913, "_daterange";
    /// `int8range[]`.
    INT8_RANGE_ARRAY = 3927, "_int8range";
    /// `jsonpath[]`.
    JSONPATH_ARRAY = 4073, "_jsonpath";
    /// `regnamespace[]`.
    REGNAMESPACE_ARRAY = 4090, "_regnamespace";
    /// `regrole[]`.
    REGROLE_ARRAY = 4097, "_regrole";
    /// `regcollation[]`.
    REGCOLLATION_ARRAY = 4192, "_regcollation";
    /// `xid8[]`.
    XID8_ARRAY = 271, "_xid8";
    /// `tsvector[]`.
    TSVECTOR_ARRAY = 3643, "_tsvector";
    /// `tsquery[]`.
    TSQUERY_ARRAY = 3645, "_tsquery";
    /// `int4multirange` (PostgreSQL 14 and later).
    INT4_MULTIRANGE = 4451, "int4multirange";
    /// `nummultirange`.
    NUM_MULTIRANGE = 4532, "nummultirange";
    /// `tsmultirange`.
    TS_MULTIRANGE = 4533, "tsmultirange";
    /// `tstzmultirange`.
    TSTZ_MULTIRANGE = 4534, "tstzmultirange";
    /// `datemultirange`.
    DATE_MULTIRANGE = 4535, "datemultirange";
    /// `int8multirange`.
    INT8_MULTIRANGE = 4536, "int8multirange";
    /// `int4multirange[]`.
    INT4_MULTIRANGE_ARRAY = 6150, "_int4multirange";
    /// `nummultirange[]`.
    NUM_MULTIRANGE_ARRAY = 6151, "_nummultirange";
    /// `tsmultirange[]`.
    TS_MULTIRANGE_ARRAY = 6152, "_tsmultirange";
    /// `tstzmultirange[]`.
    TSTZ_MULTIRANGE_ARRAY = 6153, "_tstzmultirange";
    /// `datemultirange[]`.
    DATE_MULTIRANGE_ARRAY = 6155, "_datemultirange";
    /// `int8multirange[]`.
    INT8_MULTIRANGE_ARRAY = 6157, "_int8multirange";
}

/// (array type, element type) of the built-in array types, sorted by array type.
const ARRAYS: &[(Oid, Oid)] = &[
    (143, 142),
    (199, 114),
    (271, 5069),
    (629, 628),
    (651, 650),
    (719, 718),
    (775, 774),
    (791, 790),
    (1000, 16),
    (1001, 17),
    (1002, 18),
    (1003, 19),
    (1005, 21),
    (1007, 23),
    (1008, 24),
    (1009, 25),
    (1010, 27),
    (1011, 28),
    (1012, 29),
    (1014, 1042),
    (1015, 1043),
    (1016, 20),
    (1017, 600),
    (1018, 601),
    (1019, 602),
    (1020, 603),
    (1021, 700),
    (1022, 701),
    (1027, 604),
    (1028, 26),
    (1040, 829),
    (1041, 869),
    (1115, 1114),
    (1182, 1082),
    (1183, 1083),
    (1185, 1184),
    (1187, 1186),
    (1231, 1700),
    (1263, 2275),
    (1270, 1266),
    (1561, 1560),
    (1563, 1562),
    (2201, 1790),
    (2207, 2202),
    (2208, 2203),
    (2209, 2204),
    (2210, 2205),
    (2211, 2206),
    (2287, 2249),
    (2951, 2950),
    (3221, 3220),
    (3643, 3614),
    (3645, 3615),
    (3735, 3734),
    (3770, 3769),
    (3807, 3802),
    (3905, 3904),
    (3907, 3906),
    (3909, 3908),
    (3911, 3910),
    (3913, 3912),
    (3927, 3926),
    (4073, 4072),
    (4090, 4089),
    (4097, 4096),
    (4192, 4191),
    (6150, 4451),
    (6151, 4532),
    (6152, 4533),
    (6153, 4534),
    (6155, 4535),
    (6157, 4536),
];

impl Type {
    /// OID 0: no type given. In a Parse message it lets the server infer the
    /// parameter's type.
    pub const UNSPECIFIED: Self = Self(Inner::Oid(0));

    /// The type with this OID.
    pub const fn from_oid(oid: Oid) -> Self {
        Self(Inner::Oid(oid))
    }

    /// A type described by the catalog: its OID, `pg_type.typname`, the name of its
    /// schema, and its kind. Clients build these when they look up a type they do not
    /// know by OID.
    pub fn new(oid: Oid, name: impl Into<String>, schema: impl Into<String>, kind: Kind) -> Self {
        Self(Inner::Described(Arc::new(Described {
            oid,
            name: name.into(),
            schema: schema.into(),
            kind,
        })))
    }

    /// The type's OID.
    pub fn oid(&self) -> Oid {
        match &self.0 {
            Inner::Oid(oid) => *oid,
            Inner::Described(d) => d.oid,
        }
    }

    /// The element type of an array type (`int4` for `int4[]`); `None` for other types.
    pub fn element(&self) -> Option<Self> {
        match &self.0 {
            Inner::Oid(oid) => builtin_element(*oid).map(Self::from_oid),
            Inner::Described(d) => match &d.kind {
                Kind::Array(element) => Some(element.clone()),
                _ => None,
            },
        }
    }

    /// The built-in array type of a built-in type (`int4[]` for `int4`); `None`
    /// when there is none.
    pub fn array(&self) -> Option<Self> {
        let oid = self.oid();
        ARRAYS
            .iter()
            .find(|(_, element)| *element == oid)
            .map(|&(array, _)| Self::from_oid(array))
    }

    /// The type's SQL name, as `pg_type.typname` spells it (`int4`, `text`, `_int4`
    /// for `int4[]`, `mood` for a described enum); `None` for a type known only by
    /// an OID this crate does not know.
    pub fn name(&self) -> Option<&str> {
        match &self.0 {
            Inner::Oid(oid) => builtin_name(*oid),
            Inner::Described(d) => Some(&d.name),
        }
    }

    /// The schema the type lives in: `pg_catalog` for built-in types, `None` for a
    /// type known only by an unknown OID.
    pub fn schema(&self) -> Option<&str> {
        match &self.0 {
            Inner::Oid(oid) => builtin_name(*oid).map(|_| "pg_catalog"),
            Inner::Described(d) => Some(&d.schema),
        }
    }

    /// What kind of type this is. Built-in arrays, ranges and multiranges report
    /// their element, subtype or range type; other built-in types are
    /// [`Kind::Simple`], and so is a type known only by an unknown OID.
    pub fn kind(&self) -> Kind {
        match &self.0 {
            Inner::Described(d) => d.kind.clone(),
            Inner::Oid(oid) => {
                if let Some(element) = builtin_element(*oid) {
                    Kind::Array(Self::from_oid(element))
                } else if let Some(subtype) = builtin_range_subtype(*oid) {
                    Kind::Range(Self::from_oid(subtype))
                } else if let Some(range) = builtin_multirange_range(*oid) {
                    Kind::Multirange(Self::from_oid(range))
                } else if matches!(*oid, 2249 | 2278 | 2283 | 2776 | 2277) {
                    // record, void, anyelement, anynonarray, anyarray
                    Kind::Pseudo
                } else {
                    Kind::Simple
                }
            }
        }
    }

    /// The base type of a domain, `None` for other types. Values of a domain are
    /// sent and received as values of its base type.
    pub fn domain_base(&self) -> Option<&Self> {
        match &self.0 {
            Inner::Described(d) => match &d.kind {
                Kind::Domain(base) => Some(base),
                _ => None,
            },
            Inner::Oid(_) => None,
        }
    }

    /// Whether the catalog's description of the type is attached ([`Type::new`]).
    pub fn is_described(&self) -> bool {
        matches!(self.0, Inner::Described(_))
    }
}

/// The element of a built-in array type. A binary search: it runs for every array
/// value decoded.
fn builtin_element(oid: Oid) -> Option<Oid> {
    ARRAYS
        .binary_search_by_key(&oid, |&(array, _)| array)
        .ok()
        .and_then(|i| ARRAYS.get(i))
        .map(|&(_, element)| element)
}

/// The subtype of a built-in range type.
const fn builtin_range_subtype(oid: Oid) -> Option<Oid> {
    match oid {
        3904 => Some(23),   // int4range
        3906 => Some(1700), // numrange
        3908 => Some(1114), // tsrange
        3910 => Some(1184), // tstzrange
        3912 => Some(1082), // daterange
        3926 => Some(20),   // int8range
        _ => None,
    }
}

/// The range type of a built-in multirange type (PostgreSQL 14 and later).
const fn builtin_multirange_range(oid: Oid) -> Option<Oid> {
    match oid {
        4451 => Some(3904), // int4multirange
        4532 => Some(3906), // nummultirange
        4533 => Some(3908), // tsmultirange
        4534 => Some(3910), // tstzmultirange
        4535 => Some(3912), // datemultirange
        4536 => Some(3926), // int8multirange
        _ => None,
    }
}

impl fmt::Display for Type {
    /// The type's SQL name, or `oid N` for a type not known by OID.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None if *self == Self::UNSPECIFIED => f.write_str("unspecified"),
            None => write!(f, "oid {}", self.oid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn names() {
        assert_eq!(Type::INT4.oid(), 23);
        assert_eq!(Type::from_oid(23), Type::INT4);
        assert_eq!(Type::INT4.to_string(), "int4");
        assert_eq!(Type::INT4_ARRAY.to_string(), "_int4");
        assert_eq!(Type::from_oid(16_385).to_string(), "oid 16385");
        assert_eq!(Type::UNSPECIFIED.to_string(), "unspecified");
        assert_eq!(Type::from_oid(16_385).name(), None);
        assert_eq!(Type::INT4_ARRAY.element(), Some(Type::INT4));
        assert_eq!(Type::NUMERIC.array(), Some(Type::NUMERIC_ARRAY));
        assert_eq!(Type::NUMERIC_ARRAY.to_string(), "_numeric");
        assert_eq!(Type::INT4.element(), None);
        assert_eq!(Type::INT4_ARRAY.array(), None);
    }

    #[test]
    fn arrays_are_sorted_for_binary_search() {
        assert!(ARRAYS.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)));
        for &(array, element) in ARRAYS {
            assert_eq!(
                Type::from_oid(array).element(),
                Some(Type::from_oid(element))
            );
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(Type::INT4.kind(), Kind::Simple);
        assert_eq!(Type::INT4_RANGE.kind(), Kind::Range(Type::INT4));
        assert_eq!(
            Type::INT8_MULTIRANGE.kind(),
            Kind::Multirange(Type::INT8_RANGE)
        );
        assert_eq!(Type::RECORD.kind(), Kind::Pseudo);
        let email = Type::new(16_400, "email", "public", Kind::Domain(Type::TEXT));
        assert_eq!(email.domain_base(), Some(&Type::TEXT));
        assert_eq!(email.schema(), Some("public"));
        assert_eq!(email.to_string(), "email");
        assert!(email.is_described() && !Type::TEXT.is_described());
        assert_eq!(Type::TEXT.schema(), Some("pg_catalog"));
        let emails = Type::new(16_399, "_email", "public", Kind::Array(email.clone()));
        assert_eq!(emails.element(), Some(email));
    }
}
