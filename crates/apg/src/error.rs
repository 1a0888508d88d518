//! [`Error`], the one error type of apg, and [`DbError`], an error reported by the
//! server.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;

use apg_proto::message::backend::ErrorFields;
use apg_proto::types::ValueError;

use crate::sqlstate::SqlState;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server reported an error for the request ([`Error::as_db_error`]). The
    /// connection is still usable.
    Db,
    /// The connection is closed: lost, ended by the server (a `FATAL` error such as
    /// `pg_terminate_backend`), or closed by the client. Every request still pending and
    /// every later one fails with this kind; [`Error::source`] says why.
    Closed,
    /// A time limit ran out: `connect_timeout`, or `command_timeout` (the statement
    /// was then cancelled; [`Error::as_db_error`] gives the server's report).
    Timeout,
    /// The configuration cannot be used (no user name, an unsupported setting).
    Config,
    /// TLS failed: required but refused or not built in, a certificate that does not
    /// verify, unreadable certificate files, a failed handshake.
    Tls,
    /// Authentication failed on the client side (an unsupported method, a missing
    /// password, a SCRAM verification failure, channel binding unavailable). A wrong
    /// password is reported by the server: [`ErrorKind::Db`] (SQLSTATE 28P01).
    Auth,
    /// A parameter or column value could not be converted between Rust and PostgreSQL.
    Conversion,
    /// No column with the requested name or index.
    Column,
    /// A query expected to return one row returned none or several.
    RowCount,
    /// The request was not run: an earlier request of the same pipeline (sync group)
    /// failed, and the server skipped this one.
    Aborted,
    /// The transaction was rolled back, because a statement in it failed.
    TransactionRolledBack,
    /// The server sent something that violates the protocol; the connection is closed.
    Protocol,
    /// An I/O error while connecting.
    Io,
    /// The API was used in a way that cannot work (the wrong number of parameters, a
    /// statement of another connection).
    Usage,
}

/// An error of apg: a server error, a closed connection, a conversion failure, ...
///
/// Match on [`kind`](Self::kind) or use the predicates; [`as_db_error`](Self::as_db_error)
/// gives every field of a server error.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    db: Option<DbError>,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(Inner {
            kind,
            message: message.into(),
            db: None,
            source: None,
        }))
    }

    fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.0.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn db(error: DbError) -> Self {
        Self(Box::new(Inner {
            kind: ErrorKind::Db,
            message: Cow::Borrowed(""),
            db: Some(error),
            source: None,
        }))
    }

    /// A closed connection, with the reason shared by every request that fails with it.
    pub(crate) fn closed(cause: Option<Arc<Self>>) -> Self {
        let mut e = Self::new(ErrorKind::Closed, "connection closed");
        e.0.source = cause.map(|c| c as Arc<dyn StdError + Send + Sync>);
        e
    }

    /// The cause of a connection the client ended.
    pub(crate) fn closed_by_client(reason: &'static str) -> Self {
        Self::new(ErrorKind::Closed, reason)
    }

    pub(crate) fn timeout(what: &'static str) -> Self {
        Self::new(ErrorKind::Timeout, what)
    }

    /// `command_timeout` elapsed and the statement was cancelled (`cause`: the
    /// server's 57014 error).
    pub(crate) fn command_timeout(cause: DbError) -> Self {
        let mut e = Self::new(
            ErrorKind::Timeout,
            "command_timeout elapsed: the statement was cancelled",
        );
        e.0.db = Some(cause);
        e
    }

    pub(crate) fn config(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Config, reason)
    }

    pub(crate) fn tls(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Tls, reason)
    }

    /// A TLS failure with its cause (a rustls or file error).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn tls_caused(
        reason: impl Into<Cow<'static, str>>,
        cause: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::new(ErrorKind::Tls, reason).with_source(cause)
    }

    pub(crate) fn conversion(context: String, error: ValueError) -> Self {
        Self::new(ErrorKind::Conversion, context).with_source(error)
    }

    pub(crate) fn column(message: String) -> Self {
        Self::new(ErrorKind::Column, message)
    }

    pub(crate) fn row_count(message: &'static str) -> Self {
        Self::new(ErrorKind::RowCount, message)
    }

    pub(crate) fn aborted() -> Self {
        Self::new(
            ErrorKind::Aborted,
            "request skipped because an earlier request of its pipeline failed",
        )
    }

    pub(crate) fn rolled_back(cause: Option<DbError>) -> Self {
        let mut e = Self::new(
            ErrorKind::TransactionRolledBack,
            "transaction rolled back because a statement in it failed",
        );
        e.0.db = cause;
        e
    }

    pub(crate) fn protocol(error: apg_proto::Error) -> Self {
        Self::new(ErrorKind::Protocol, "protocol error").with_source(error)
    }

    pub(crate) fn io(context: impl Into<Cow<'static, str>>, error: io::Error) -> Self {
        Self::new(ErrorKind::Io, context).with_source(error)
    }

    pub(crate) fn usage(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// An error of the protocol core that ended a connection, as the cause of
    /// [`ErrorKind::Closed`] errors.
    pub(crate) fn from_core(error: apg_proto::Error) -> Self {
        match error {
            apg_proto::Error::Db(db) => Self::db(DbError::new(db)),
            apg_proto::Error::ConnectionLost => Self::new(
                ErrorKind::Closed,
                "server closed the connection unexpectedly",
            ),
            apg_proto::Error::Terminated => {
                Self::new(ErrorKind::Closed, "connection closed by the client")
            }
            apg_proto::Error::Config { reason } => Self::config(reason),
            apg_proto::Error::TlsRefused => Self::tls("TLS is required but the server refused it"),
            e @ apg_proto::Error::SslRequestRejected => {
                Self::new(ErrorKind::Tls, "TLS negotiation failed").with_source(e)
            }
            e @ (apg_proto::Error::Auth(_)
            | apg_proto::Error::UnsupportedAuthentication { .. }
            | apg_proto::Error::PasswordRequired
            | apg_proto::Error::AuthRequirementFailed { .. }
            | apg_proto::Error::ChannelBindingRequired { .. }) => {
                Self::new(ErrorKind::Auth, "authentication failed").with_source(e)
            }
            other @ (apg_proto::Error::Protocol(_) | apg_proto::Error::UnexpectedCopyIn) => {
                Self::protocol(other)
            }
            other => Self::new(ErrorKind::Usage, "connection failed").with_source(other),
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// Whether the connection is closed (lost, ended by the server, or closed by the
    /// client): it will accept no more requests.
    pub fn is_closed(&self) -> bool {
        self.0.kind == ErrorKind::Closed
    }

    /// Whether a time limit ran out.
    pub fn is_timeout(&self) -> bool {
        self.0.kind == ErrorKind::Timeout
    }

    /// Whether a value could not be converted between Rust and PostgreSQL.
    pub fn is_conversion(&self) -> bool {
        self.0.kind == ErrorKind::Conversion
    }

    /// The server's error, if the server reported one: for [`ErrorKind::Db`], for a
    /// rolled-back transaction, and for a connection the server closed with a `FATAL`
    /// error.
    pub fn as_db_error(&self) -> Option<&DbError> {
        if let Some(db) = &self.0.db {
            return Some(db);
        }
        let source: &(dyn StdError + 'static) = self.0.source.as_deref()?;
        source.downcast_ref::<Self>()?.as_db_error()
    }

    /// The SQLSTATE code of the server's error, if any.
    pub fn code(&self) -> Option<SqlState> {
        self.as_db_error().map(DbError::code)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind);
        if !self.0.message.is_empty() {
            d.field("message", &self.0.message);
        }
        if let Some(db) = &self.0.db {
            d.field("db", db);
        }
        if let Some(source) = &self.0.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.kind == ErrorKind::Db {
            if let Some(db) = &self.0.db {
                return fmt::Display::fmt(db, f);
            }
        }
        f.write_str(&self.0.message)?;
        // The cause of a closed connection or failed conversion is what the reader
        // needs; it is also available through `source()`.
        match (&self.0.db, &self.0.source) {
            (Some(db), _) => write!(f, ": {}", db.message()),
            (None, Some(source)) => write!(f, ": {source}"),
            (None, None) => Ok(()),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        if let Some(db) = &self.0.db {
            if self.0.kind != ErrorKind::Db {
                return Some(db);
            }
        }
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match e.kind() {
            ErrorKind::Closed => io::ErrorKind::ConnectionAborted,
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::Config | ErrorKind::Usage => io::ErrorKind::InvalidInput,
            ErrorKind::Conversion | ErrorKind::Protocol => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        Self::new(kind, e)
    }
}

/// An error (or notice) reported by the server: every field of its ErrorResponse.
///
/// `Display` shows it the way `psql` does:
///
/// ```text
/// ERROR:  duplicate key value violates unique constraint "t_pkey"
/// DETAIL:  Key (id)=(1) already exists.
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DbError {
    inner: apg_proto::DbError,
    code: SqlState,
}

impl DbError {
    pub(crate) fn new(inner: apg_proto::DbError) -> Self {
        let code = SqlState::from_code(inner.code());
        Self { inner, code }
    }

    /// Every field as received, including codes without an accessor here.
    pub fn fields(&self) -> &ErrorFields {
        self.inner.fields()
    }

    /// The severity: `ERROR`, `FATAL` or `PANIC` (`WARNING`, `NOTICE`, ... for a notice),
    /// not localized where the server says it.
    pub fn severity(&self) -> &str {
        self.inner.severity()
    }

    /// The SQLSTATE code.
    pub fn code(&self) -> SqlState {
        self.code
    }

    /// The primary message.
    pub fn message(&self) -> &str {
        self.inner.message()
    }

    /// The detail message (`DETAIL:`), if any.
    pub fn detail(&self) -> Option<&str> {
        self.fields().detail()
    }

    /// The hint (`HINT:`), if any.
    pub fn hint(&self) -> Option<&str> {
        self.fields().hint()
    }

    /// The position of the error in the query string, in characters from 1.
    pub fn position(&self) -> Option<u32> {
        self.fields().position()
    }

    /// The position of the error in an internally generated query
    /// ([`internal_query`](Self::internal_query)).
    pub fn internal_position(&self) -> Option<u32> {
        self.fields().internal_position()
    }

    /// The internally generated query that failed (for example in a PL/pgSQL
    /// function).
    pub fn internal_query(&self) -> Option<&str> {
        self.fields().internal_query()
    }

    /// The context (`CONTEXT:`): a call stack of PL functions or similar.
    pub fn where_(&self) -> Option<&str> {
        self.fields().where_()
    }

    /// The schema of the object the error is about.
    pub fn schema(&self) -> Option<&str> {
        self.fields().schema()
    }

    /// The table the error is about.
    pub fn table(&self) -> Option<&str> {
        self.fields().table()
    }

    /// The column the error is about.
    pub fn column(&self) -> Option<&str> {
        self.fields().column()
    }

    /// The data type the error is about.
    pub fn data_type(&self) -> Option<&str> {
        self.fields().data_type()
    }

    /// The constraint the error is about.
    pub fn constraint(&self) -> Option<&str> {
        self.fields().constraint()
    }

    /// The server source file that reported the error.
    pub fn file(&self) -> Option<&str> {
        self.fields().file()
    }

    /// The line in [`file`](Self::file).
    pub fn line(&self) -> Option<u32> {
        self.fields().line()
    }

    /// The server source routine that reported the error.
    pub fn routine(&self) -> Option<&str> {
        self.fields().routine()
    }

    /// Whether the server ended the session with this error (`FATAL`, `PANIC`).
    pub fn is_fatal(&self) -> bool {
        self.inner.is_fatal()
    }
}

impl fmt::Debug for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbError")
            .field("severity", &self.severity())
            .field("code", &self.code)
            .field("message", &self.message())
            .field("detail", &self.detail())
            .field("hint", &self.hint())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:  {}", self.severity(), self.message())?;
        if let Some(detail) = self.detail() {
            write!(f, "\nDETAIL:  {detail}")?;
        }
        if let Some(hint) = self.hint() {
            write!(f, "\nHINT:  {hint}")?;
        }
        if let Some(context) = self.where_() {
            write!(f, "\nCONTEXT:  {context}")?;
        }
        Ok(())
    }
}

impl StdError for DbError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(fields: &[(u8, &str)]) -> DbError {
        DbError::new(apg_proto::DbError::new(
            fields.iter().map(|&(c, v)| (c, v)).collect(),
        ))
    }

    #[test]
    fn displays_like_psql() {
        let e = db_error(&[
            (b'S', "ERROR"),
            (b'V', "ERROR"),
            (b'C', "23505"),
            (
                b'M',
                "duplicate key value violates unique constraint \"t_pkey\"",
            ),
            (b'D', "Key (id)=(1) already exists."),
            (b'H', "Try another id."),
        ]);
        assert_eq!(
            e.to_string(),
            "ERROR:  duplicate key value violates unique constraint \"t_pkey\"\n\
             DETAIL:  Key (id)=(1) already exists.\n\
             HINT:  Try another id."
        );
        assert_eq!(e.code(), SqlState::UniqueViolation);
        let err = Error::db(e.clone());
        assert_eq!(err.kind(), ErrorKind::Db);
        assert_eq!(err.to_string(), e.to_string());
        assert_eq!(err.code(), Some(SqlState::UniqueViolation));
        assert!(err.source().is_none());
    }

    #[test]
    fn closed_errors_carry_their_cause() {
        let fatal = db_error(&[
            (b'S', "FATAL"),
            (b'C', "57P01"),
            (b'M', "terminating connection due to administrator command"),
        ]);
        let cause = Arc::new(Error::db(fatal));
        let err = Error::closed(Some(cause));
        assert!(err.is_closed());
        assert_eq!(err.code(), Some(SqlState::AdminShutdown));
        assert!(err.as_db_error().is_some_and(DbError::is_fatal));
        assert_eq!(
            err.to_string(),
            "connection closed: FATAL:  terminating connection due to administrator command"
        );
        assert!(err.source().is_some());
        let plain = Error::closed(None);
        assert_eq!(plain.to_string(), "connection closed");
        assert!(plain.as_db_error().is_none());
    }
}
