//! Types that are not built in: looked up in the catalog once per connection.
//!
//! Theory of operation. The server names types by OID; built-in OIDs are fixed and
//! known to [`apg_proto::types::Type`], but enums, composites, domains, user-defined
//! ranges and extension types get theirs when they are created. When a statement is
//! described (or, with the statement cache off, when a result arrives) and it uses an
//! OID that is neither built in nor in the connection's [`TypeCache`], the client asks
//! the catalog about all such OIDs and everything they refer to (element types, domain
//! base types, range subtypes, multirange ranges, composite field types, recursively),
//! in one round trip: a recursive query over `pg_type`, `pg_namespace`, `pg_enum`,
//! `pg_attribute` and `pg_range`. The answer is turned into described [`Type`]s bottom
//! up and cached.
//!
//! The lookup runs as an unnamed statement with all-binary results (one round trip, no
//! statement cache, no prepare claim, so it cannot wait on the statement being
//! prepared); its own columns and parameter are built-in types, so it never needs a
//! lookup itself. It runs with the caller's access to the connection (a row stream
//! holding the connection looks its types up through its own gate). If it fails, the
//! statement that needed it fails with that error.
//!
//! [`Client::reload_schema_state`](crate::Client::reload_schema_state) empties the
//! cache (after `ALTER TYPE`), and [`Client::set_type_format`](crate::Client::set_type_format)
//! records result formats chosen for types by name.

use std::collections::{HashMap, HashSet};

use apg_proto::message::{Format, Oid};
use apg_proto::types::{Field, Kind, Type};

use crate::client::{Client, Keep, Query};
use crate::error::Error;
use crate::shared::Access;

/// The connection's knowledge of types that are not built in.
#[derive(Debug, Default)]
pub(crate) struct TypeCache {
    types: HashMap<Oid, Type>,
    /// Result formats chosen by the user, keyed by type name, plain (`ltree`) or
    /// schema-qualified (`public.ltree`).
    formats: HashMap<String, Format>,
}

/// Whether `oid` needs no lookup: a built-in type, or "unspecified".
fn is_builtin(oid: Oid) -> bool {
    oid == 0 || Type::from_oid(oid).name().is_some()
}

impl TypeCache {
    /// The type with this OID: built in, described, or (not looked up) a bare OID.
    pub(crate) fn resolve(&self, oid: Oid) -> Type {
        match self.types.get(&oid) {
            Some(ty) => ty.clone(),
            None => Type::from_oid(oid),
        }
    }

    /// Whether `oid` is built in or described already.
    pub(crate) fn knows(&self, oid: Oid) -> bool {
        is_builtin(oid) || self.types.contains_key(&oid)
    }

    /// The result format the user chose for `ty`, if any.
    pub(crate) fn format_of(&self, ty: &Type) -> Option<Format> {
        if self.formats.is_empty() {
            return None;
        }
        let name = ty.name()?;
        if let Some(format) = self.formats.get(name) {
            return Some(*format);
        }
        let schema = ty.schema()?;
        self.formats.get(&format!("{schema}.{name}")).copied()
    }

    /// Records the result format for the type called `name`.
    pub(crate) fn set_format(&mut self, name: &str, format: Format) {
        self.formats.insert(name.to_owned(), format);
    }

    /// Forgets every described type (the result formats stay).
    pub(crate) fn clear_types(&mut self) {
        self.types.clear();
    }
}

/// One row of the catalog query: what `pg_type` and its neighbours say about a type.
#[derive(Debug)]
struct Described {
    name: String,
    schema: String,
    /// `pg_type.typtype`: `b`ase, `c`omposite, `d`omain, `e`num, `p`seudo, `r`ange,
    /// `m`ultirange.
    typtype: String,
    /// The element of a true array type, else 0.
    element: Oid,
    /// The base type of a domain, else 0.
    base: Oid,
    /// The subtype of a range type, else 0.
    subtype: Oid,
    /// The range type of a multirange type, else 0.
    range: Oid,
    labels: Vec<String>,
    field_names: Vec<String>,
    field_types: Vec<Oid>,
}

/// The catalog query: everything about the OIDs in `$1` and the types they refer to.
/// `pg_range.rngmultitypid` exists from PostgreSQL 14 on.
fn catalog_query(server_version: u32) -> String {
    let (multirange_ref, multirange_col) = if server_version >= 140_000 {
        (
            "UNION ALL SELECT g.rngtypid FROM pg_catalog.pg_range g WHERE g.rngmultitypid = t.oid",
            "COALESCE((SELECT g.rngtypid FROM pg_catalog.pg_range g \
             WHERE g.rngmultitypid = t.oid), 0::pg_catalog.oid)",
        )
    } else {
        ("", "0::pg_catalog.oid")
    };
    format!(
        "WITH RECURSIVE wanted(oid) AS ( \
           SELECT pg_catalog.unnest($1::pg_catalog.oid[]) \
           UNION \
           SELECT r.ref FROM wanted w \
           JOIN pg_catalog.pg_type t ON t.oid = w.oid \
           CROSS JOIN LATERAL ( \
             SELECT t.typelem WHERE t.typlen = -1 AND t.typelem <> 0 \
             UNION ALL SELECT t.typbasetype WHERE t.typtype = 'd' \
             UNION ALL SELECT g.rngsubtype FROM pg_catalog.pg_range g WHERE g.rngtypid = t.oid \
             {multirange_ref} \
             UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a \
               WHERE t.typrelid <> 0 AND a.attrelid = t.typrelid \
               AND a.attnum > 0 AND NOT a.attisdropped \
           ) AS r(ref) \
         ) \
         SELECT t.oid, t.typname::pg_catalog.text, n.nspname::pg_catalog.text, \
           t.typtype::pg_catalog.text, \
           CASE WHEN t.typlen = -1 AND t.typelem <> 0 THEN t.typelem ELSE 0::pg_catalog.oid END, \
           t.typbasetype, \
           COALESCE((SELECT g.rngsubtype FROM pg_catalog.pg_range g \
             WHERE g.rngtypid = t.oid), 0::pg_catalog.oid), \
           {multirange_col}, \
           ARRAY(SELECT e.enumlabel::pg_catalog.text FROM pg_catalog.pg_enum e \
             WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), \
           ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_attribute a \
             WHERE t.typrelid <> 0 AND a.attrelid = t.typrelid \
             AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), \
           ARRAY(SELECT a.atttypid FROM pg_catalog.pg_attribute a \
             WHERE t.typrelid <> 0 AND a.attrelid = t.typrelid \
             AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) \
         FROM wanted w \
         JOIN pg_catalog.pg_type t ON t.oid = w.oid \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"
    )
}

/// How deeply described types nest at most.
const MAX_DEPTH: usize = 32;

/// Builds the described type `oid` from the catalog's rows, the types it refers to
/// first, and caches it. `building` cuts cycles a (corrupt or racing) catalog answer
/// could make; `depth` bounds the nesting (a chain of thousands of domains, which any
/// user can create, would otherwise overflow the stack here and in every recursive
/// walk of the type later): past [`MAX_DEPTH`], a type is known by its OID only.
fn build(
    oid: Oid,
    rows: &HashMap<Oid, Described>,
    cache: &mut HashMap<Oid, Type>,
    building: &mut HashSet<Oid>,
    depth: usize,
) -> Type {
    if is_builtin(oid) {
        return Type::from_oid(oid);
    }
    if let Some(ty) = cache.get(&oid) {
        return ty.clone();
    }
    if depth > MAX_DEPTH {
        return Type::from_oid(oid);
    }
    let Some(row) = rows.get(&oid) else {
        // Gone from the catalog (dropped meanwhile): known by its OID only.
        return Type::from_oid(oid);
    };
    if !building.insert(oid) {
        return Type::from_oid(oid);
    }
    let mut refer = |oid: Oid| build(oid, rows, cache, building, depth + 1);
    let kind = match row.typtype.as_str() {
        "e" => Kind::Enum(row.labels.clone().into()),
        "c" => Kind::Composite(
            row.field_names
                .iter()
                .zip(&row.field_types)
                .map(|(name, &oid)| Field::new(name.clone(), refer(oid)))
                .collect(),
        ),
        "d" => Kind::Domain(refer(row.base)),
        "r" => Kind::Range(refer(row.subtype)),
        "m" => Kind::Multirange(refer(row.range)),
        "p" => Kind::Pseudo,
        _ if row.element != 0 => Kind::Array(refer(row.element)),
        _ => Kind::Simple,
    };
    building.remove(&oid);
    let ty = Type::new(oid, row.name.clone(), row.schema.clone(), kind);
    cache.insert(oid, ty.clone());
    ty
}

impl Client {
    /// Makes sure every OID in `oids` is built in or described in the connection's
    /// type cache, asking the catalog about the others in one round trip.
    pub(crate) async fn describe_types(
        &self,
        oids: impl IntoIterator<Item = Oid>,
        access: Access,
    ) -> Result<(), Error> {
        let unknown: Vec<Oid> = {
            let st = self.shared().lock();
            let mut seen = HashSet::new();
            oids.into_iter()
                .filter(|&oid| !st.types.knows(oid) && seen.insert(oid))
                .collect()
        };
        if unknown.is_empty() {
            return Ok(());
        }
        let sql = catalog_query(self.server_version_num().unwrap_or(0));
        // Boxed: rare, and a statement's future would otherwise carry this one.
        let out = Box::pin(self.attempt_unnamed(Query::Sql(&sql), &[&unknown], Keep::Rows, access))
            .await?;
        let mut rows = HashMap::with_capacity(out.rows.len());
        for row in &out.rows {
            let oid: Oid = row.try_get(0)?;
            rows.insert(
                oid,
                Described {
                    name: row.try_get(1)?,
                    schema: row.try_get(2)?,
                    typtype: row.try_get(3)?,
                    element: row.try_get(4)?,
                    base: row.try_get(5)?,
                    subtype: row.try_get(6)?,
                    range: row.try_get(7)?,
                    labels: row.try_get(8)?,
                    field_names: row.try_get(9)?,
                    field_types: row.try_get(10)?,
                },
            );
        }
        let mut st = self.shared().lock();
        let mut building = HashSet::new();
        for oid in unknown {
            build(oid, &rows, &mut st.types.types, &mut building, 0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(typtype: &str) -> Described {
        Described {
            name: "t".into(),
            schema: "public".into(),
            typtype: typtype.into(),
            element: 0,
            base: 0,
            subtype: 0,
            range: 0,
            labels: Vec::new(),
            field_names: Vec::new(),
            field_types: Vec::new(),
        }
    }

    #[test]
    fn types_are_built_bottom_up() {
        let mut rows = HashMap::new();
        rows.insert(
            16_390,
            Described {
                labels: vec!["a".into(), "b".into()],
                ..row("e")
            },
        );
        rows.insert(
            16_389,
            Described {
                element: 16_390,
                ..row("b")
            },
        );
        rows.insert(
            16_400,
            Described {
                field_names: vec!["m".into(), "n".into()],
                field_types: vec![16_389, 23],
                ..row("c")
            },
        );
        let mut cache = HashMap::new();
        let ty = build(16_400, &rows, &mut cache, &mut HashSet::new(), 0);
        let Kind::Composite(fields) = ty.kind() else {
            panic!("{ty:?}")
        };
        assert_eq!(fields[0].name(), "m");
        assert!(
            matches!(fields[0].type_().kind(), Kind::Array(e) if matches!(e.kind(), Kind::Enum(l) if l.len() == 2))
        );
        assert_eq!(fields[1].type_(), &Type::INT4);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn cycles_and_missing_rows_end() {
        let mut rows = HashMap::new();
        rows.insert(
            16_500,
            Described {
                base: 16_501,
                ..row("d")
            },
        );
        rows.insert(
            16_501,
            Described {
                base: 16_500,
                ..row("d")
            },
        );
        let ty = build(16_500, &rows, &mut HashMap::new(), &mut HashSet::new(), 0);
        assert!(ty.is_described());
        let missing = build(16_999, &rows, &mut HashMap::new(), &mut HashSet::new(), 0);
        assert!(!missing.is_described());
    }

    #[test]
    fn nesting_is_bounded() {
        // 10,000 domains, each over the next: built to a bounded depth, no overflow.
        let rows: HashMap<Oid, Described> = (20_000..30_000)
            .map(|oid| {
                (
                    oid,
                    Described {
                        base: oid + 1,
                        ..row("d")
                    },
                )
            })
            .collect();
        let mut ty = build(20_000, &rows, &mut HashMap::new(), &mut HashSet::new(), 0);
        let mut depth = 0;
        while let Some(base) = ty.domain_base().cloned() {
            ty = base;
            depth += 1;
        }
        assert!((30..=40).contains(&depth), "{depth}");
        assert!(!ty.is_described());
    }

    #[test]
    fn the_query_fits_the_server_version() {
        assert!(catalog_query(150_000).contains("rngmultitypid"));
        assert!(!catalog_query(130_000).contains("rngmultitypid"));
    }

    #[test]
    fn formats_by_plain_or_qualified_name() {
        let mut cache = TypeCache::default();
        let ltree = Type::new(16_600, "ltree", "public", Kind::Simple);
        let cube = Type::new(16_601, "cube", "ext", Kind::Simple);
        assert_eq!(cache.format_of(&ltree), None);
        cache.set_format("ltree", Format::Binary);
        cache.set_format("ext.cube", Format::Binary);
        assert_eq!(cache.format_of(&ltree), Some(Format::Binary));
        assert_eq!(cache.format_of(&cube), Some(Format::Binary));
        assert_eq!(cache.format_of(&Type::INT4), None);
        assert!(cache.knows(23) && !cache.knows(16_600));
    }
}
