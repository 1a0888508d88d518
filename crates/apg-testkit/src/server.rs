//! The one entry point tests and examples call: the shared cluster, or the
//! external server named by the environment.

use std::env;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::cluster::drop_database_sql;
use crate::url::{self, ConnInfo};
use crate::wire::{Client, Endpoint, Login};
use crate::{quote_ident, unique_name, AuthMethod, Cluster, Error, Row, User};

/// The variable naming an external server; it wins over `DATABASE_URL`.
///
/// ```
/// assert_eq!(apg_testkit::URL_ENV, "APG_TEST_URL");
/// ```
pub const URL_ENV: &str = "APG_TEST_URL";

/// The conventional variable, honoured when [`URL_ENV`] is not set.
const DATABASE_URL_ENV: &str = "DATABASE_URL";

const QUERY_TIMEOUT: Duration = Duration::from_secs(120);

/// The server tests should use: [`Cluster::shared`], or the server named by
/// `APG_TEST_URL` (else `DATABASE_URL`) when one of them is set and not empty.
///
/// The choice is made once per process.
///
/// # Errors
///
/// Whatever [`Cluster::shared`] returns, or [`Error::InvalidInput`] when the
/// URL cannot be parsed. Later calls return the same error.
///
/// ```no_run
/// let server = apg_testkit::server()?;
/// println!("testing against {}", server.url());
/// # Ok::<(), apg_testkit::Error>(())
/// ```
pub fn server() -> Result<&'static Server, Error> {
    static SERVER: OnceLock<Result<Server, Error>> = OnceLock::new();
    SERVER
        .get_or_init(|| match external_url() {
            Some(url) => Server::from_url(&url),
            None => Cluster::shared().map(|cluster| Server {
                kind: Kind::Cluster(cluster),
            }),
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The external server's connection string from `APG_TEST_URL` or
/// `DATABASE_URL`, if either is set and not blank.
///
/// ```
/// if let Some(url) = apg_testkit::external_url() {
///     println!("not starting servers; using {url}");
/// }
/// ```
pub fn external_url() -> Option<String> {
    [URL_ENV, DATABASE_URL_ENV]
        .into_iter()
        .filter_map(|var| env::var(var).ok())
        .find(|value| !value.trim().is_empty())
}

/// A server to test against: a testkit [`Cluster`] or an external server.
///
/// Obtained from [`server()`]; [`Server::from_url`] wraps any connection string.
/// Accessors that only make sense for a cluster return `None` for an external
/// server, so tests can skip what they cannot do there.
///
/// ```no_run
/// let server = apg_testkit::server()?;
/// let Some(cluster) = server.cluster() else {
///     eprintln!("skipped: needs a testkit cluster");
///     return Ok(());
/// };
/// # Ok::<(), apg_testkit::Error>(())
/// ```
pub struct Server {
    kind: Kind,
}

enum Kind {
    Cluster(&'static Cluster),
    External {
        url: String,
        info: ConnInfo,
        version_num: OnceLock<u32>,
    },
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Cluster(c) => f.debug_tuple("Server::Cluster").field(c).finish(),
            Kind::External { info, .. } => f
                .debug_struct("Server::External")
                .field("host", &info.host)
                .field("port", &info.port)
                .field("user", &info.user)
                .field("dbname", &info.dbname)
                .finish_non_exhaustive(),
        }
    }
}

impl Server {
    /// Wraps an existing server's connection string (a `postgres://` URL or a
    /// `key=value` list). Nothing is checked or connected yet.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the string cannot be parsed.
    ///
    /// ```
    /// let server = apg_testkit::Server::from_url("postgres://app:secret@db.internal:6432/app")?;
    /// assert_eq!((server.host(), server.port()), ("db.internal", 6432));
    /// assert!(server.cluster().is_none());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self, Error> {
        Ok(Self {
            kind: Kind::External {
                url: url.to_owned(),
                info: url::parse(url)?,
                version_num: OnceLock::new(),
            },
        })
    }

    /// The testkit cluster, `None` for an external server.
    ///
    /// ```no_run
    /// if let Some(cluster) = apg_testkit::server()?.cluster() {
    ///     println!("log: {}", cluster.log_path().display());
    /// }
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn cluster(&self) -> Option<&'static Cluster> {
        match &self.kind {
            Kind::Cluster(c) => Some(c),
            Kind::External { .. } => None,
        }
    }

    /// Whether this is an external server (from `APG_TEST_URL`/`DATABASE_URL`).
    ///
    /// ```no_run
    /// if apg_testkit::server()?.is_external() {
    ///     return Ok(()); // this test needs to restart the server
    /// }
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn is_external(&self) -> bool {
        self.cluster().is_none()
    }

    /// The superuser URL for database `postgres` of a cluster, or the external
    /// URL exactly as given.
    ///
    /// ```no_run
    /// let url = apg_testkit::server()?.url();
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn url(&self) -> String {
        match &self.kind {
            Kind::Cluster(c) => c.url(),
            Kind::External { url, .. } => url.clone(),
        }
    }

    /// The same URL with database `db`; everything else is kept.
    ///
    /// ```
    /// let server = apg_testkit::Server::from_url("postgres://u@h:1/a?sslmode=disable")?;
    /// assert_eq!(server.url_for("b"), "postgres://u@h:1/b?sslmode=disable");
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn url_for(&self, db: &str) -> String {
        match &self.kind {
            Kind::Cluster(c) => c.url_for(db),
            Kind::External { url, .. } => url::with_database(url, db),
        }
    }

    /// The host: `127.0.0.1` for a cluster; for an external server its (first)
    /// host name, address or socket directory.
    ///
    /// ```no_run
    /// let server = apg_testkit::server()?;
    /// let addr = format!("{}:{}", server.host(), server.port());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn host(&self) -> &str {
        match &self.kind {
            Kind::Cluster(c) => c.host(),
            Kind::External { info, .. } => &info.host,
        }
    }

    /// The TCP port (5432 when an external URL names none).
    ///
    /// ```no_run
    /// let port = apg_testkit::server()?.port();
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn port(&self) -> u16 {
        match &self.kind {
            Kind::Cluster(c) => c.port(),
            Kind::External { info, .. } => info.port,
        }
    }

    /// The cluster's Unix socket directory, `None` for an external server.
    ///
    /// ```no_run
    /// if let Some(dir) = apg_testkit::server()?.socket_dir() {
    ///     println!("socket in {}", dir.display());
    /// }
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn socket_dir(&self) -> Option<&Path> {
        self.cluster().map(Cluster::socket_dir)
    }

    /// The cluster's data directory, `None` for an external server.
    ///
    /// ```no_run
    /// let data_dir = apg_testkit::server()?.data_dir();
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn data_dir(&self) -> Option<&Path> {
        self.cluster().map(Cluster::data_dir)
    }

    /// The certificate authority of the cluster's TLS certificate (PEM), for
    /// `sslrootcert`; `None` for an external server or a cluster without TLS.
    ///
    /// ```no_run
    /// if let Some(ca) = apg_testkit::server()?.ca_cert() {
    ///     println!("sslrootcert={}", ca.display());
    /// }
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn ca_cert(&self) -> Option<PathBuf> {
        self.cluster().and_then(|c| c.ca_cert_path())
    }

    /// The cluster's server programs directory, `None` for an external server.
    ///
    /// ```no_run
    /// let bindir: Option<std::path::PathBuf> =
    ///     apg_testkit::server()?.bindir().map(|d| d.to_path_buf());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn bindir(&self) -> Option<&Path> {
        self.cluster().map(Cluster::bindir)
    }

    /// The cluster's login role for `method`; `None` for an external server,
    /// which has no such roles.
    ///
    /// ```no_run
    /// use apg_testkit::AuthMethod;
    ///
    /// let Some(user) = apg_testkit::server()?.user(AuthMethod::Md5) else {
    ///     return Ok(()); // external server: skip
    /// };
    /// println!("{}", user.url());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn user(&self, method: AuthMethod) -> Option<User> {
        self.cluster().map(|c| c.user(method))
    }

    /// `server_version_num`, e.g. `150018` (asked once for an external server).
    ///
    /// # Errors
    ///
    /// For an external server, when it cannot be reached or queried.
    ///
    /// ```no_run
    /// let version = apg_testkit::server()?.server_version_num()?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn server_version_num(&self) -> Result<u32, Error> {
        match &self.kind {
            Kind::Cluster(c) => Ok(c.server_version_num()),
            Kind::External { version_num, .. } => {
                if let Some(v) = version_num.get() {
                    return Ok(*v);
                }
                let rows = self.query("SHOW server_version_num")?;
                let v = rows
                    .first()
                    .and_then(|r| r.first())
                    .and_then(|v| v.as_deref())
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| {
                        Error::Protocol(format!("unexpected server_version_num: {rows:?}"))
                    })?;
                Ok(*version_num.get_or_init(|| v))
            }
        }
    }

    /// Runs `sql` in the default database (`postgres` for a cluster, the URL's
    /// for an external server) as the superuser or the URL's user.
    ///
    /// # Errors
    ///
    /// [`Error::Db`] when the server rejects a statement; [`Error::Unsupported`]
    /// when the external URL requires TLS or an authentication method other
    /// than trust, password, md5 or SCRAM-SHA-256.
    ///
    /// ```no_run
    /// apg_testkit::server()?.execute("SET client_min_messages = warning")?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn execute(&self, sql: &str) -> Result<(), Error> {
        self.query(sql).map(drop)
    }

    /// Runs `sql` in database `db`.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    ///
    /// ```no_run
    /// let server = apg_testkit::server()?;
    /// let db = server.create_database()?;
    /// server.execute_in(&db, "CREATE EXTENSION IF NOT EXISTS pgcrypto")?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn execute_in(&self, db: &str, sql: &str) -> Result<(), Error> {
        self.query_in(db, sql).map(drop)
    }

    /// Runs `sql` in the default database and returns its rows as text.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    ///
    /// ```no_run
    /// let rows = apg_testkit::server()?.query("SELECT count(*) FROM pg_stat_activity")?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn query(&self, sql: &str) -> Result<Vec<Row>, Error> {
        match &self.kind {
            Kind::Cluster(c) => c.query(sql),
            Kind::External { info, .. } => external_query(info, &info.dbname, sql),
        }
    }

    /// Runs `sql` in database `db` and returns its rows as text.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    ///
    /// ```no_run
    /// let server = apg_testkit::server()?;
    /// let db = server.create_database()?;
    /// let rows = server.query_in(&db, "SELECT current_database()")?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn query_in(&self, db: &str, sql: &str) -> Result<Vec<Row>, Error> {
        match &self.kind {
            Kind::Cluster(c) => c.query_in(db, sql),
            Kind::External { info, .. } => external_query(info, db, sql),
        }
    }

    /// Creates a fresh, uniquely named database and returns its name.
    ///
    /// On an external server the URL's user needs `CREATEDB`, and the database
    /// stays until dropped ([`drop_database`](Self::drop_database)); a
    /// cluster's databases vanish with the cluster.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    ///
    /// ```no_run
    /// let server = apg_testkit::server()?;
    /// let db = server.create_database()?;
    /// let url = server.url_for(&db);
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn create_database(&self) -> Result<String, Error> {
        match &self.kind {
            Kind::Cluster(c) => c.create_database(),
            Kind::External { .. } => {
                let name = unique_name("apg_test");
                self.execute(&format!("CREATE DATABASE {}", quote_ident(&name)))?;
                Ok(name)
            }
        }
    }

    /// Drops database `name` if it exists (forcing sessions out on 13+).
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    ///
    /// ```no_run
    /// let server = apg_testkit::server()?;
    /// let db = server.create_database()?;
    /// server.drop_database(&db)?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn drop_database(&self, name: &str) -> Result<(), Error> {
        match &self.kind {
            Kind::Cluster(c) => c.drop_database(name),
            Kind::External { .. } => {
                let version = self.server_version_num()?;
                self.execute(&drop_database_sql(name, version))
            }
        }
    }
}

fn external_query(info: &ConnInfo, db: &str, sql: &str) -> Result<Vec<Row>, Error> {
    if info.requires_tls() {
        return Err(Error::Unsupported(format!(
            "sslmode={} for the testkit's own statements (it has no TLS); \
             point APG_TEST_URL at a server reachable without TLS",
            info.sslmode.as_deref().unwrap_or_default()
        )));
    }
    let endpoint = if info.host.starts_with('/') {
        Endpoint::Unix(PathBuf::from(&info.host).join(format!(".s.PGSQL.{}", info.port)))
    } else {
        Endpoint::Tcp {
            host: info.host.clone(),
            port: info.port,
        }
    };
    let mut client = Client::connect(&Login {
        endpoint: &endpoint,
        user: &info.user,
        password: info.password.as_deref(),
        database: db,
        timeout: QUERY_TIMEOUT,
    })?;
    let rows = client.simple_query(sql)?;
    client.close();
    Ok(rows)
}
