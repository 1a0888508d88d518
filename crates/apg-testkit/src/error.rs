//! The testkit's error type.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong while finding, starting, using or stopping a server.
///
/// `Error` is `Clone` because the shared cluster caches the outcome of its one
/// start-up attempt: every test of a process then sees the same failure at once
/// instead of each retrying a start that takes up to the start timeout.
///
/// ```
/// let err = apg_testkit::Error::Unsupported("TLS".into());
/// assert_eq!(err.to_string(), "not supported by apg-testkit: TLS");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// No directory holding `initdb`, `postgres` and `pg_ctl` was found.
    ///
    /// The message says what to install or which variable to set.
    BinariesNotFound {
        /// Every directory that was looked at, in search order.
        searched: Vec<PathBuf>,
        /// Set when `APG_TEST_PG_BINDIR` (or the builder) named a directory that
        /// lacks one of the programs: then nothing else is searched.
        explicit: Option<PathBuf>,
    },
    /// An operating-system call failed.
    Io {
        /// What the testkit was doing.
        context: String,
        /// The underlying error.
        source: Arc<io::Error>,
    },
    /// A helper program (`initdb`, `postgres --single`, `useradd`, ...) failed.
    Command {
        /// The command line, for copy and paste.
        command: String,
        /// How it ended (`exit status: 1`, `signal: 9`).
        status: String,
        /// Its standard output and error.
        output: String,
    },
    /// The server did not start, stopped unexpectedly, or did not stop in time.
    Server {
        /// What went wrong.
        message: String,
        /// The last lines of the server log, which usually say why.
        log_tail: String,
    },
    /// The server answered a statement with an `ErrorResponse`.
    Db(DbError),
    /// The server sent bytes the testkit's small client does not understand.
    Protocol(String),
    /// The request needs something the testkit does not do (TLS, GSSAPI, an
    /// external server's data directory, ...).
    Unsupported(String),
    /// An argument was rejected before anything was run (a setting name with a
    /// newline, SQL with a NUL byte, an unparsable connection URL, ...).
    InvalidInput(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source: Arc::new(source),
        }
    }

    /// The server's error, when the failure was an `ErrorResponse`.
    ///
    /// ```no_run
    /// let server = apg_testkit::server()?;
    /// let err = server.execute("SELECT * FROM no_such_table").unwrap_err();
    /// assert_eq!(err.db_error().map(|e| e.code.as_str()), Some("42P01"));
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn db_error(&self) -> Option<&DbError> {
        match self {
            Self::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BinariesNotFound {
                explicit: Some(dir),
                ..
            } => write!(
                f,
                "{} does not contain initdb, postgres and pg_ctl (it was named by \
                 APG_TEST_PG_BINDIR or ClusterBuilder::bindir)",
                dir.display()
            ),
            Self::BinariesNotFound { searched, .. } => {
                write!(
                    f,
                    "PostgreSQL server programs (initdb, postgres, pg_ctl) not found; \
                     install them (Debian/Ubuntu: `apt-get install postgresql`, \
                     Fedora: `dnf install postgresql-server`, macOS: `brew install postgresql`), \
                     or set APG_TEST_PG_BINDIR to the directory holding them, \
                     or set APG_TEST_URL (or DATABASE_URL) to use a running server; searched:"
                )?;
                if searched.is_empty() {
                    f.write_str(" nothing")?;
                }
                for dir in searched {
                    write!(f, " {}", dir.display())?;
                }
                Ok(())
            }
            Self::Io { context, source } => write!(f, "{context}: {source}"),
            Self::Command {
                command,
                status,
                output,
            } => {
                write!(f, "`{command}` failed ({status})")?;
                if !output.trim().is_empty() {
                    write!(f, ":\n{}", output.trim_end())?;
                }
                Ok(())
            }
            Self::Server { message, log_tail } => {
                f.write_str(message)?;
                if !log_tail.trim().is_empty() {
                    write!(
                        f,
                        "\n--- server log (last lines) ---\n{}",
                        log_tail.trim_end()
                    )?;
                }
                Ok(())
            }
            Self::Db(e) => fmt::Display::fmt(e, f),
            Self::Protocol(m) => write!(f, "unexpected data from the server: {m}"),
            Self::Unsupported(m) => write!(f, "not supported by apg-testkit: {m}"),
            Self::InvalidInput(m) => write!(f, "invalid input: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(&**source),
            Self::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

/// The fields of a PostgreSQL `ErrorResponse` that tests usually look at.
///
/// See <https://www.postgresql.org/docs/current/protocol-error-fields.html>.
///
/// ```no_run
/// let server = apg_testkit::server()?;
/// match server.execute("SELECT 1/0") {
///     Err(apg_testkit::Error::Db(e)) => assert_eq!(e.code, "22012"),
///     other => panic!("expected a division by zero, got {other:?}"),
/// }
/// # Ok::<(), apg_testkit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbError {
    /// `ERROR`, `FATAL` or `PANIC` (the non-localized `V` field when present).
    pub severity: String,
    /// The SQLSTATE code, e.g. `42P01`.
    pub code: String,
    /// The primary message.
    pub message: String,
    /// The optional detail message.
    pub detail: Option<String>,
    /// The optional hint.
    pub hint: Option<String>,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.code, self.message)?;
        if let Some(d) = &self.detail {
            write!(f, " (detail: {d})")?;
        }
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for DbError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_say_what_to_do() {
        let err = Error::BinariesNotFound {
            searched: vec![PathBuf::from("/usr/bin")],
            explicit: None,
        };
        let text = err.to_string();
        for hint in [
            "apt-get install postgresql",
            "APG_TEST_PG_BINDIR",
            "APG_TEST_URL",
            "/usr/bin",
        ] {
            assert!(text.contains(hint), "{hint} missing from {text}");
        }
    }

    #[test]
    fn server_errors_show_the_log() {
        let err = Error::Server {
            message: "postgres exited during start-up".into(),
            log_tail: "FATAL:  bad setting\n".into(),
        };
        assert_eq!(
            err.to_string(),
            "postgres exited during start-up\n--- server log (last lines) ---\nFATAL:  bad setting"
        );
    }
}
