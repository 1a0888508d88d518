//! [`Type`]: a PostgreSQL data type, as the protocol names it (by OID).

use core::fmt;

use crate::message::Oid;

/// A PostgreSQL data type.
///
/// The protocol identifies types by OID: parameter types in ParameterDescription, column
/// types in RowDescription. Built-in types have fixed OIDs (the constants below); types
/// created with `CREATE TYPE` (enums, composites, domains) get theirs at creation, so
/// they differ between databases.
///
/// The representation is private so that later versions can attach what they learn
/// about a non-built-in type (its kind, its fields, its element type) without changing
/// the signatures of [`ToSql`](super::ToSql) and [`FromSql`](super::FromSql).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Type(Inner);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Inner {
    Oid(Oid),
}

macro_rules! builtin_types {
    ($($(#[$doc:meta])* $name:ident = $oid:literal, $sql:literal;)*) => {
        impl Type {
            $(
                $(#[$doc])*
                pub const $name: Self = Self(Inner::Oid($oid));
            )*
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
}

/// (array type, element type) of the built-in array types.
const ARRAYS: &[(Oid, Oid)] = &[
    (1000, 16),
    (1001, 17),
    (1002, 18),
    (1003, 19),
    (1005, 21),
    (1007, 23),
    (1008, 24),
    (1009, 25),
    (1028, 26),
    (1010, 27),
    (1011, 28),
    (1012, 29),
    (199, 114),
    (143, 142),
    (1017, 600),
    (1018, 601),
    (1019, 602),
    (1020, 603),
    (1027, 604),
    (629, 628),
    (651, 650),
    (1021, 700),
    (1022, 701),
    (719, 718),
    (775, 774),
    (791, 790),
    (1040, 829),
    (1041, 869),
    (1014, 1042),
    (1015, 1043),
    (1016, 20),
    (1182, 1082),
    (1183, 1083),
    (1115, 1114),
    (1185, 1184),
    (1187, 1186),
    (1270, 1266),
    (1561, 1560),
    (1563, 1562),
    (1231, 1700),
    (2201, 1790),
    (2207, 2202),
    (2208, 2203),
    (2209, 2204),
    (2210, 2205),
    (2211, 2206),
    (2287, 2249),
    (1263, 2275),
    (2951, 2950),
    (3221, 3220),
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
    (271, 5069),
];

impl Type {
    /// OID 0: no type given. In a Parse message it lets the server infer the
    /// parameter's type.
    pub const UNSPECIFIED: Self = Self(Inner::Oid(0));

    /// The type with this OID.
    pub const fn from_oid(oid: Oid) -> Self {
        Self(Inner::Oid(oid))
    }

    /// The type's OID.
    pub const fn oid(&self) -> Oid {
        match self.0 {
            Inner::Oid(oid) => oid,
        }
    }

    /// The element type of a built-in array type (`int4` for `int4[]`); `None` for
    /// other types.
    pub fn element(&self) -> Option<Self> {
        let oid = self.oid();
        ARRAYS
            .iter()
            .find(|(array, _)| *array == oid)
            .map(|&(_, element)| Self::from_oid(element))
    }

    /// The built-in array type of this element type (`int4[]` for `int4`); `None`
    /// when there is none.
    pub fn array(&self) -> Option<Self> {
        let oid = self.oid();
        ARRAYS
            .iter()
            .find(|(_, element)| *element == oid)
            .map(|&(array, _)| Self::from_oid(array))
    }

    /// The SQL name of a built-in type (`int4`, `text`, `_int4` for `int4[]`); `None`
    /// for types this crate does not know by OID.
    pub const fn name(&self) -> Option<&'static str> {
        builtin_name(self.oid())
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
}
