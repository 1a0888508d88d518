//! What a connection's session has accumulated beyond its transactions: settings,
//! `LISTEN`s, advisory locks, cursors held across transactions. A pool resets a
//! returned connection only when something of the kind may have happened, so the
//! common checkout (queries and DML, committed) costs no reset at all.
//!
//! The evidence, gathered as the server answers:
//! - a CommandComplete whose command is not one that leaves the session as it was
//!   (queries, DML, `COPY`, cursor movement, transaction control): `SET`, `LISTEN`,
//!   `DECLARE`, `PREPARE`, `CREATE`, `DO`, `CALL`, ... all count;
//! - any ParameterStatus (a reported setting changed, whatever changed it);
//! - SQL that names advisory-lock functions or `set_config`, which change the session
//!   behind a plain `SELECT` ([`sql_touches_session`], checked when a statement is
//!   prepared, and for each unprepared text).
//!
//! What a function does behind a `SELECT` without reporting it (an advisory lock or a
//! setting changed inside a PL/pgSQL function) cannot be seen here: pools that run
//! such functions reset on every return (`PoolBuilder::always_reset`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::client::Query;
use crate::statement::Statement;

/// Commands whose completion says the session is as it was (transaction control
/// included: what a transaction did is undone by its end, and an open one is rolled
/// back on return anyway).
const SESSION_NEUTRAL: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "COPY",
    "FETCH",
    "MOVE",
    "BEGIN",
    "START TRANSACTION",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "SHOW",
    "EXPLAIN",
    "CLOSE CURSOR",
];

/// Whether a CommandComplete tag (`SELECT 1`, `INSERT 0 5`, `SET`) names a command
/// that leaves the session as it was.
pub(crate) fn tag_is_session_neutral(tag: &[u8]) -> bool {
    SESSION_NEUTRAL.iter().any(|command| {
        tag.strip_prefix(command.as_bytes())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(b" "))
    })
}

/// Whether SQL text calls functions that change the session behind a `SELECT`:
/// advisory locks (`pg_advisory_lock`, `pg_try_advisory_lock`, ...), `set_config`
/// (also behind `UPDATE pg_settings`),
/// `dblink_connect`, or runs SQL of its own (`query_to_xml`, `cursor_to_xml`); or
/// makes a temporary table that completes as a `SELECT`; or spells a name with
/// Unicode escapes (`U&"..."`), which could hide any of these. Case-insensitive; a
/// mention in a comment or string counts too (a needless reset costs less than a
/// missed one).
pub(crate) fn sql_touches_session(sql: &str) -> bool {
    /// Each name, and where its first underscore is: the text is looked at around
    /// its underscores only.
    const NAMES: [(&[u8], usize); 8] = [
        (b"pg_advisory", 2),
        (b"pg_settings", 2),
        (b"pg_try_advisory", 2),
        (b"set_config", 3),
        (b"pg_temp", 2),
        (b"dblink_connect", 6),
        (b"query_to_xml", 5),
        (b"cursor_to_xml", 6),
    ];
    let bytes = sql.as_bytes();
    let named_at = |i: usize| {
        NAMES.iter().any(|(name, offset)| {
            i.checked_sub(*offset)
                .and_then(|start| bytes.get(start..start + name.len()))
                .is_some_and(|text| text.eq_ignore_ascii_case(name))
        })
    };
    let escape_at = |i: usize| i > 0 && bytes[i - 1].eq_ignore_ascii_case(&b'u');
    let temp_at = |i: usize| {
        bytes
            .get(i..i + 4)
            .is_some_and(|word| word.eq_ignore_ascii_case(b"temp"))
    };
    // Short text (the common statement, checked on every shared pool call) in one
    // plain pass; `memchr`'s setup costs more than that below a few cache lines.
    let (named, unicode_escape, mentions_temp) = if bytes.len() < 128 {
        let mut found = (false, false, false);
        for (i, b) in bytes.iter().enumerate() {
            match b {
                b'_' => found.0 |= named_at(i),
                b'&' => found.1 |= escape_at(i),
                b't' | b'T' => found.2 |= temp_at(i),
                _ => {}
            }
        }
        found
    } else {
        (
            memchr::memchr_iter(b'_', bytes).any(named_at),
            memchr::memchr_iter(b'&', bytes).any(escape_at),
            memchr::memchr2_iter(b't', b'T', bytes).any(temp_at),
        )
    };
    if named || unicode_escape {
        return true;
    }
    if !mentions_temp {
        return false;
    }
    // `CREATE TEMP TABLE ... AS` and `SELECT ... INTO [LOCAL | GLOBAL] TEMP t`
    // complete as `SELECT n`. Whatever stands between the words (whitespace, a
    // comment), the words are all there.
    let is = |word: &str, names: &[&str]| names.iter().any(|n| word.eq_ignore_ascii_case(n));
    let (mut temp, mut table_or_into) = (false, false);
    for word in sql.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')) {
        temp |= is(word, &["temp", "temporary"]);
        table_or_into |= is(word, &["table", "into"]);
    }
    temp && table_or_into
}

/// Whether a statement may run pipelined on one connection with other callers'
/// statements (`PoolBuilder::pipeline_depth`): a query or DML, by its first word
/// (`SELECT`, `VALUES`, `TABLE`, `WITH`, `INSERT`, `UPDATE`, `DELETE`, `MERGE`,
/// `SHOW`), that names no session function ([`sql_touches_session`]). Such a statement
/// can neither open a transaction block nor leave anything in the session for the
/// others to see. Everything else (transaction control, `SET`, `LISTEN`, DDL, `CALL`,
/// `DO`, text that starts with a comment) is refused.
pub(crate) fn sql_is_self_contained(sql: &str) -> bool {
    const FIRST_WORDS: [&[u8]; 9] = [
        b"SELECT", b"VALUES", b"TABLE", b"WITH", b"INSERT", b"UPDATE", b"DELETE", b"MERGE", b"SHOW",
    ];
    let bytes = sql.as_bytes();
    let Some(start) = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != b'(')
    else {
        return false;
    };
    let rest = &bytes[start..];
    let end = rest
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let first = &rest[..end];
    FIRST_WORDS.iter().any(|w| first.eq_ignore_ascii_case(w)) && !sql_touches_session(sql)
}

/// [`sql_touches_session`] for a statement about to run: a prepared statement's
/// answer was found once, when it was prepared.
pub(crate) fn query_touches_session(query: Query<'_>, statement: Option<&Statement>) -> bool {
    match (statement, query) {
        (Some(s), _) | (None, Query::Statement(s)) => s.touches_session(),
        (None, Query::Sql(sql)) => sql_touches_session(sql),
    }
}

/// The session-state evidence of one connection, fed by the driver as responses
/// arrive.
#[derive(Debug, Default)]
pub(crate) struct SessionTracker {
    changed: bool,
    /// Every piece of evidence counted, and the connection closing: readable without
    /// the connection's lock ([`changes`](Self::changes)), so a pool sharing the
    /// connection sees a change as soon as the driver does.
    /// A pool's reset in flight: what answers it (its own `RESET ALL`, the
    /// ParameterStatus that reports settings going back) is no evidence.
    quiet_until: Option<u64>,
    /// Statements completed, the pool's resets left out.
    statements: u64,
    changes: Arc<AtomicU64>,
}

impl SessionTracker {
    /// A CommandComplete with `tag` arrived.
    pub(crate) fn command_complete(&mut self, tag: &[u8]) {
        if self.quiet_until.is_some() {
            return;
        }
        self.statements += 1;
        if !tag_is_session_neutral(tag) {
            self.note_change();
        }
    }

    /// The server reported a setting's new value.
    pub(crate) fn parameter_status(&mut self) {
        if self.quiet_until.is_none() {
            self.note_change();
        }
    }

    /// Request `id` (its [`RequestId::get`](apg_proto::connection::RequestId::get))
    /// is complete.
    pub(crate) fn request_done(&mut self, id: u64) {
        if self.quiet_until == Some(id) {
            self.quiet_until = None;
        }
    }

    /// Evidence from the client side (SQL naming session functions, a `LISTEN`).
    pub(crate) fn mark_changed(&mut self) {
        self.note_change();
    }

    /// The connection closed: counted with the changes, for the same readers.
    pub(crate) fn closed(&self) {
        self.changes.fetch_add(1, Ordering::Relaxed);
    }

    fn note_change(&mut self) {
        self.changed = true;
        self.changes.fetch_add(1, Ordering::Relaxed);
    }

    /// The counter of changes (and the close), shared.
    pub(crate) fn changes(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.changes)
    }

    /// A reset was sent as request `id`, with nothing else in flight before it: it
    /// undoes everything so far, and what answers it is not evidence.
    pub(crate) fn reset_sent(&mut self, id: u64) {
        self.changed = false;
        self.quiet_until = Some(id);
    }

    /// Whether the session may hold state a reset must undo.
    pub(crate) fn changed(&self) -> bool {
        self.changed
    }

    /// Statements completed on the connection, resets left out.
    pub(crate) fn statements(&self) -> u64 {
        self.statements
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_tags() {
        for tag in [
            "SELECT 1",
            "INSERT 0 5",
            "UPDATE 0",
            "DELETE 3",
            "MERGE 1",
            "COPY 10",
            "FETCH 5",
            "MOVE 1",
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "START TRANSACTION",
            "SAVEPOINT",
            "RELEASE",
            "SHOW",
            "CLOSE CURSOR",
            "CLOSE CURSOR ALL",
        ] {
            assert!(tag_is_session_neutral(tag.as_bytes()), "{tag}");
        }
        for tag in [
            "SET",
            "RESET",
            "LISTEN",
            "DECLARE CURSOR",
            "PREPARE",
            "CREATE TABLE",
            "DO",
            "CALL",
            "DISCARD ALL",
            "SELECTX",
            "",
        ] {
            assert!(!tag_is_session_neutral(tag.as_bytes()), "{tag}");
        }
    }

    #[test]
    fn session_functions_in_sql() {
        assert!(sql_touches_session("SELECT pg_advisory_lock(1)"));
        assert!(sql_touches_session("select PG_TRY_ADVISORY_LOCK($1)"));
        assert!(sql_touches_session(
            "SELECT set_config('search_path', 'x', false)"
        ));
        assert!(sql_touches_session("CREATE TEMP TABLE t AS SELECT 1"));
        assert!(sql_touches_session("select 1 into temp t"));
        assert!(sql_touches_session("SELECT 1 INTO TEMP\nt"));
        assert!(sql_touches_session("CREATE TEMP\n  TABLE t AS SELECT 1"));
        assert!(sql_touches_session("CREATE TABLE pg_temp.t AS SELECT 1"));
        assert!(sql_touches_session("SELECT 1 AS a INTO LOCAL TEMP t"));
        assert!(sql_touches_session("SELECT 1 AS a INTO GLOBAL TEMPORARY t"));
        assert!(sql_touches_session("SELECT 1 AS a INTO/**/TEMP t"));
        assert!(sql_touches_session("CREATE TEMP/* x */TABLE t AS SELECT 1"));
        assert!(sql_touches_session(r#"SELECT 1 INTO U&"pg\005Ftemp".t"#));
        assert!(sql_touches_session(
            r#"SELECT U&"set\005Fconfig"('search_path', 'x', false)"#
        ));
        assert!(sql_touches_session(
            "SELECT query_to_xml('select 1', true, false, '')"
        ));
        assert!(sql_touches_session(
            "SELECT dblink_connect('c', 'dbname=x')"
        ));
        // Underscores at either end of the text.
        assert!(!sql_touches_session("_select _ from t where x = 'pg_'"));
        assert!(!sql_touches_session("INSERT INTO temperatures VALUES (1)"));
        assert!(!sql_touches_session(
            "SELECT a_b, _c FROM t_ WHERE d & 1 = 0"
        ));
        assert!(!sql_touches_session("SELECT 1 INTO t"));
        // Long text takes the other path: the same answers.
        let padding = " ".repeat(200);
        for (sql, touches) in [
            ("SELECT pg_advisory_lock(1)", true),
            (r#"SELECT U&"set\005Fconfig"('x', 'y', false)"#, true),
            ("SELECT 1 INTO TEMP t", true),
            ("SELECT a_b FROM temperatures", false),
        ] {
            assert_eq!(
                sql_touches_session(&format!("{padding}{sql}")),
                touches,
                "{sql}"
            );
            assert_eq!(
                sql_touches_session(&format!("{sql}{padding}")),
                touches,
                "{sql}"
            );
        }
        assert!(!sql_touches_session("SELECT $1::int4"));
        assert!(!sql_touches_session(""));
    }

    #[test]
    fn self_contained_statements() {
        for sql in [
            "SELECT $1::int4",
            "  select 1",
            "(SELECT 1) UNION (SELECT 2)",
            "WITH t AS (DELETE FROM x RETURNING *) SELECT * FROM t",
            "insert into temperatures values (1)",
            "UPDATE t SET a = 1",
            "DELETE FROM t",
            "VALUES (1)",
            "TABLE t",
            "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
            "SHOW work_mem",
            "SELECT * FROM t FOR UPDATE",
        ] {
            assert!(sql_is_self_contained(sql), "{sql}");
        }
        for sql in [
            "",
            "   ",
            "BEGIN",
            "COMMIT",
            "SET work_mem = '1MB'",
            "LISTEN ch",
            "CREATE TABLE t (a int)",
            "CALL p()",
            "DO $$ BEGIN END $$",
            "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
            "PREPARE p AS SELECT 1",
            "-- a comment\nSELECT 1",
            "/* a comment */ SELECT 1",
            "SELECTED",
            "SELECT pg_advisory_lock(1)",
            "SELECT set_config('search_path', 'x', false)",
            "SELECT 1 INTO TEMP t",
            "LOCK TABLE t",
        ] {
            assert!(!sql_is_self_contained(sql), "{sql}");
        }
    }

    #[test]
    fn a_reset_clears_and_its_own_answers_are_ignored() {
        let mut t = SessionTracker::default();
        t.command_complete(b"SELECT 1");
        assert!(!t.changed());
        t.command_complete(b"SET");
        assert!(t.changed());
        let reset = 7;
        t.reset_sent(reset);
        assert!(!t.changed());
        t.command_complete(b"RESET");
        t.parameter_status();
        assert!(!t.changed());
        t.request_done(6);
        t.parameter_status();
        assert!(!t.changed(), "still the reset's answer");
        t.request_done(reset);
        t.parameter_status();
        assert!(t.changed());
        assert_eq!(t.statements(), 2);
    }
}
