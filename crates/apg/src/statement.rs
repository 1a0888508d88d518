//! Prepared statements ([`Statement`], [`Column`]) and the per-connection statement
//! cache.
//!
//! The cache is an LRU keyed by SQL text. A statement leaves the server when it is
//! evicted *and* no [`Statement`] handle refers to it any more: the last handle's drop
//! queues a Close, which goes out in front of the next extended-protocol request (no
//! round trip of its own).

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Weak};

use apg_proto::message::backend::FieldDescription;
use apg_proto::message::Format;
use apg_proto::types::Type;

use crate::introspect::TypeCache;
use crate::shared::Shared;

/// A column of a query's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    name: String,
    type_: Type,
    table_oid: u32,
    column_id: i16,
    format: Format,
}

impl Column {
    pub(crate) fn from_field(field: FieldDescription, format: Option<Format>) -> Self {
        Self {
            name: field.name,
            type_: Type::from_oid(field.type_oid),
            table_oid: field.table_oid,
            column_id: field.column_id,
            format: format.unwrap_or(field.format),
        }
    }

    /// The column with its type described by the catalog (same OID).
    pub(crate) fn with_type(&self, type_: Type) -> Self {
        Self {
            type_,
            ..self.clone()
        }
    }

    /// The column's name (or alias).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column's type.
    pub fn type_(&self) -> &Type {
        &self.type_
    }

    /// The OID of the table the column comes from, if it is a table column.
    pub fn table_oid(&self) -> Option<u32> {
        (self.table_oid != 0).then_some(self.table_oid)
    }

    /// The column's attribute number in that table, if it is a table column.
    pub fn column_id(&self) -> Option<i16> {
        (self.column_id != 0).then_some(self.column_id)
    }

    /// The format the column's values arrive in.
    pub fn format(&self) -> Format {
        self.format
    }
}

/// A prepared statement: its parameter types and result columns.
///
/// Cheap to clone. Pass it instead of SQL text to run it without looking it up.
#[derive(Clone)]
pub struct Statement(Arc<Inner>);

struct Inner {
    shared: Weak<Shared>,
    /// The server-side name; empty for the unnamed statement (statement cache off),
    /// which is parsed again with every execution.
    name: String,
    sql: Arc<str>,
    params: Vec<Type>,
    columns: Arc<[Column]>,
    result_formats: Vec<Format>,
    /// The SQL calls functions that change the session (see [`crate::session`]).
    touches_session: bool,
}

impl Statement {
    pub(crate) fn new(
        shared: &Arc<Shared>,
        name: String,
        sql: Arc<str>,
        params: Vec<Type>,
        fields: Vec<FieldDescription>,
        types: &TypeCache,
    ) -> Self {
        // Types not built in come described from the connection's type cache.
        let params = params.iter().map(|t| types.resolve(t.oid())).collect();
        // Binary for what apg decodes from binary; text otherwise, which a custom
        // `FromSql::from_sql_text` can still read; what the user chose for a type
        // (`Client::set_type_format`) first.
        let columns: Arc<[Column]> = fields
            .into_iter()
            .map(|f| {
                let type_ = types.resolve(f.type_oid);
                let format = apg_proto::types::result_format_with(&type_, &|t| types.format_of(t));
                Column::from_field(f, Some(format)).with_type(type_)
            })
            .collect();
        let result_formats = compact_formats(&columns);
        let touches_session = crate::session::sql_touches_session(&sql);
        Self(Arc::new(Inner {
            shared: Arc::downgrade(shared),
            name,
            touches_session,
            sql,
            params,
            columns,
            result_formats,
        }))
    }

    /// The parameter types, in order (`$1`, `$2`, ...).
    pub fn params(&self) -> &[Type] {
        &self.0.params
    }

    /// The result columns; empty for a statement that returns no rows.
    pub fn columns(&self) -> &[Column] {
        &self.0.columns
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.0.sql
    }

    pub(crate) fn sql_arc(&self) -> &Arc<str> {
        &self.0.sql
    }

    pub(crate) fn name(&self) -> &str {
        &self.0.name
    }

    pub(crate) fn is_unnamed(&self) -> bool {
        self.0.name.is_empty()
    }

    pub(crate) fn columns_arc(&self) -> &Arc<[Column]> {
        &self.0.columns
    }

    /// Whether running the statement may change the session beyond its
    /// transaction (advisory locks, `set_config`).
    pub(crate) fn touches_session(&self) -> bool {
        self.0.touches_session
    }

    pub(crate) fn result_formats(&self) -> &[Format] {
        &self.0.result_formats
    }

    /// Whether the statement belongs to this connection.
    pub(crate) fn belongs_to(&self, shared: &Arc<Shared>) -> bool {
        std::ptr::eq(self.0.shared.as_ptr(), Arc::as_ptr(shared))
    }
}

impl fmt::Debug for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statement")
            .field("name", &self.0.name)
            .field("sql", &self.0.sql)
            .field("params", &self.0.params)
            .field("columns", &self.0.columns)
            .finish()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        if let Some(shared) = self.shared.upgrade() {
            shared.queue_close(std::mem::take(&mut self.name));
        }
    }
}

/// The Bind result-format list for `columns`: one code for all when they agree (none
/// at all for all-text), one per column otherwise.
pub(crate) fn compact_formats(columns: &[Column]) -> Vec<Format> {
    let mut formats = columns.iter().map(Column::format);
    match formats.next() {
        None => Vec::new(),
        Some(first) if formats.all(|f| f == first) => match first {
            Format::Text => Vec::new(),
            Format::Binary => vec![Format::Binary],
        },
        Some(_) => columns.iter().map(Column::format).collect(),
    }
}

/// Hashes SQL texts for the statement cache, a word at a time (multiply and rotate, as
/// rustc's FxHash), instead of SipHash: the cache is looked up on every query, and
/// SipHash costs more than the rest of the lookup. SipHash's flooding resistance buys
/// nothing here: the cache holds at most its capacity, so even texts chosen to collide
/// cost a lookup no more than a scan of that many entries.
#[derive(Default, Clone, Copy)]
pub(crate) struct SqlHasher(u64);

impl SqlHasher {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for SqlHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The per-connection LRU of prepared statements, keyed by SQL text.
#[derive(Debug)]
pub(crate) struct StatementCache {
    capacity: usize,
    entries: HashMap<Arc<str>, Entry, BuildHasherDefault<SqlHasher>>,
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    statement: Statement,
    last_used: u64,
}

impl StatementCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::default(),
            clock: 0,
        }
    }

    /// Whether statements are cached (capacity above 0). When not, every query uses
    /// the unnamed statement.
    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub(crate) fn get(&mut self, sql: &str) -> Option<Statement> {
        self.clock += 1;
        let entry = self.entries.get_mut(sql)?;
        entry.last_used = self.clock;
        Some(entry.statement.clone())
    }

    /// Caches `statement`, evicting the least recently used one when full. A statement
    /// already cached for the same SQL (prepared concurrently) is kept.
    pub(crate) fn insert(&mut self, statement: &Statement) {
        if !self.enabled() || self.entries.contains_key(statement.sql()) {
            return;
        }
        if self.entries.len() >= self.capacity {
            // A linear scan: it only runs on a miss, which costs a round trip anyway.
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| Arc::clone(k));
            if let Some(key) = oldest {
                self.entries.remove(&key);
            }
        }
        self.clock += 1;
        self.entries.insert(
            Arc::clone(statement.sql_arc()),
            Entry {
                statement: statement.clone(),
                last_used: self.clock,
            },
        );
    }

    /// Evicts `statement` if it is the one cached for its SQL.
    pub(crate) fn evict(&mut self, statement: &Statement) {
        let same = self
            .entries
            .get(statement.sql())
            .is_some_and(|e| Arc::ptr_eq(&e.statement.0, &statement.0));
        if same {
            self.entries.remove(statement.sql());
        }
    }

    /// Empties the cache, returning the statements so the caller drops them (queuing
    /// their Close) after unlocking.
    pub(crate) fn take_all(&mut self) -> Vec<Statement> {
        self.entries.drain().map(|(_, e)| e.statement).collect()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(type_: Type, format: Format) -> Column {
        Column {
            name: "c".into(),
            type_,
            table_oid: 0,
            column_id: 0,
            format,
        }
    }

    #[test]
    fn result_formats_are_compact() {
        assert!(compact_formats(&[]).is_empty());
        let bin = column(Type::INT4, Format::Binary);
        let text = column(Type::NUMERIC, Format::Text);
        assert_eq!(
            compact_formats(&[bin.clone(), bin.clone()]),
            [Format::Binary]
        );
        assert!(compact_formats(std::slice::from_ref(&text)).is_empty());
        assert_eq!(
            compact_formats(&[bin, text]),
            [Format::Binary, Format::Text]
        );
    }

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let shared = Weak::new();
        let stmt = |sql: &str| {
            Statement(Arc::new(Inner {
                shared: Weak::clone(&shared),
                name: String::new(),
                sql: sql.into(),
                params: Vec::new(),
                columns: Arc::new([]),
                result_formats: Vec::new(),
                touches_session: false,
            }))
        };
        let mut cache = StatementCache::new(2);
        cache.insert(&stmt("a"));
        cache.insert(&stmt("b"));
        assert!(cache.get("a").is_some());
        cache.insert(&stmt("c"));
        assert_eq!(cache.len(), 2);
        assert!(cache.get("b").is_none());
        assert!(cache.get("a").is_some());
        let c = cache.get("c").unwrap();
        cache.evict(&stmt("c"));
        assert!(
            cache.get("c").is_some(),
            "another statement for the SQL is kept"
        );
        cache.evict(&c);
        assert!(cache.get("c").is_none());
        let mut off = StatementCache::new(0);
        off.insert(&stmt("a"));
        assert!(!off.enabled());
        assert!(off.get("a").is_none());
    }
}
