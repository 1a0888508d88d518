//! A throwaway PostgreSQL cluster: `initdb` into a private temporary directory,
//! roles for every authentication method, a postmaster on a free port, and
//! cleanup when it is dropped or when the test process goes away.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, DirBuilder, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::fs::{chown, DirBuilderExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::privs::{run_as, RunAs};
use crate::process::{self, has_cwd, is_alive, postmaster_pid, wait_child, wait_until};
use crate::tls::{self, Certificates, TlsSignature};
use crate::users::{AuthMethod, User, CLEARTEXT_PASSWORD, MD5_PASSWORD, SCRAM_PASSWORD, SUPERUSER};
use crate::wire::{Client, Endpoint, Login};
use crate::{bindir, quote_ident, unique_name, url, Error, Row};

/// How long [`ClusterBuilder::start`], [`Cluster::restart`] and
/// [`Cluster::stop`] wait for the server unless told otherwise.
///
/// ```
/// assert_eq!(apg_testkit::DEFAULT_START_TIMEOUT.as_secs(), 30);
/// ```
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);

/// The address the server listens on.
const HOST: &str = "127.0.0.1";

/// How often start-up picks a new port when the chosen one was taken between
/// choosing it and the postmaster binding it.
const PORT_ATTEMPTS: usize = 5;

/// Applies to each statement run through the testkit's client.
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);

/// The testkit's settings file inside the data directory, included from the
/// end of `postgresql.conf` so its values win.
const CONF_FILE: &str = "apg-testkit.conf";

/// Settings the testkit must control itself: it connects through them.
const MANAGED_SETTINGS: [&str; 2] = ["port", "unix_socket_directories"];

/// Variables that would steer the server programs elsewhere (data directory,
/// port) or make them fail (an unknown locale).
const SCRUBBED_ENV: [&str; 12] = [
    "PGDATA",
    "PGPORT",
    "PGHOST",
    "PGHOSTADDR",
    "PGUSER",
    "PGDATABASE",
    "PGOPTIONS",
    "PGPASSWORD",
    "PGSERVICE",
    "PGCTLTIMEOUT",
    "PGTZ",
    "LANGUAGE",
];

/// How [`Cluster::stop_with`] shuts the server down; see
/// <https://www.postgresql.org/docs/current/server-shutdown.html>.
///
/// ```
/// use apg_testkit::StopMode;
/// assert_ne!(StopMode::Fast, StopMode::Immediate);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopMode {
    /// Waits for every client to disconnect (SIGTERM). With connections still
    /// open this runs into the timeout.
    Smart,
    /// Rolls back open transactions and disconnects clients, then shuts down
    /// cleanly (SIGINT). Clients see `57P01 admin_shutdown`.
    Fast,
    /// Quits at once without a checkpoint, like a crash (SIGQUIT); the next
    /// start runs crash recovery. Clients see the connection drop. With the
    /// testkit's `synchronous_commit = off`, the last few hundred milliseconds
    /// of commits may be lost: tests of durability set it `on`.
    Immediate,
}

impl StopMode {
    fn signal(self) -> &'static str {
        match self {
            Self::Smart => "TERM",
            Self::Fast => "INT",
            Self::Immediate => "QUIT",
        }
    }
}

/// Options for a new [`Cluster`].
///
/// ```no_run
/// use apg_testkit::Cluster;
/// use std::time::Duration;
///
/// let cluster = Cluster::builder()
///     .setting("max_prepared_transactions", "10")
///     .setting("log_statement", "all")
///     .hba_line("host all apg_md5 10.0.0.0/8 reject")
///     .start_timeout(Duration::from_secs(60))
///     .start()?;
/// assert_eq!(cluster.query("SHOW max_prepared_transactions")?[0][0].as_deref(), Some("10"));
/// # Ok::<(), apg_testkit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    bindir: Option<PathBuf>,
    settings: Vec<(String, String)>,
    hba_lines: Vec<String>,
    initdb_args: Vec<OsString>,
    temp_dir: Option<PathBuf>,
    start_timeout: Duration,
    tls: bool,
    tls_signature: TlsSignature,
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClusterBuilder {
    /// Default options: binaries found as described on [`Cluster`], the
    /// settings listed there, a 30 s start timeout.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::ClusterBuilder::new().start()?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn new() -> Self {
        Self {
            bindir: None,
            settings: Vec::new(),
            hba_lines: Vec::new(),
            initdb_args: Vec::new(),
            temp_dir: None,
            start_timeout: DEFAULT_START_TIMEOUT,
            tls: true,
            tls_signature: TlsSignature::EcdsaP256Sha256,
        }
    }

    /// The signature algorithm of the TLS certificates (default ECDSA P-256 with
    /// SHA-256), for channel-binding tests.
    ///
    /// ```no_run
    /// use apg_testkit::{Cluster, TlsSignature};
    /// let cluster = Cluster::builder().tls_signature(TlsSignature::Ed25519).start()?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn tls_signature(mut self, signature: TlsSignature) -> Self {
        self.tls_signature = signature;
        self
    }

    /// Whether the server accepts TLS (`ssl = on`, the default): with certificates
    /// from a throwaway authority ([`Cluster::ca_cert_path`]) and the TLS-only roles
    /// [`TLS_USER`](crate::TLS_USER) and [`CERT_USER`](crate::CERT_USER). `false`
    /// gives a server that answers `N` to every SSLRequest.
    ///
    /// ```no_run
    /// let plain = apg_testkit::Cluster::builder().tls(false).start()?;
    /// assert!(plain.ca_cert_path().is_none());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Uses the server programs in `dir` instead of searching (it also wins
    /// over `APG_TEST_PG_BINDIR`).
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::builder()
    ///     .bindir("/opt/pg/18/bin")
    ///     .start()?;
    /// assert!(cluster.server_version_num() >= 180000);
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn bindir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bindir = Some(dir.into());
        self
    }

    /// Adds a `postgresql.conf` setting; later calls win over earlier ones and
    /// over the testkit's defaults. `port` and `unix_socket_directories` are
    /// managed by the testkit and rejected at [`start`](Self::start).
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::builder()
    ///     .setting("max_connections", "500")
    ///     .start()?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// Adds a `pg_hba.conf` line *before* the testkit's own lines, so it takes
    /// precedence (the first matching line wins).
    ///
    /// ```no_run
    /// // Make the trust role unusable over TCP.
    /// let cluster = apg_testkit::Cluster::builder()
    ///     .hba_line("host all apg_trust 127.0.0.1/32 reject")
    ///     .start()?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn hba_line(mut self, line: impl Into<String>) -> Self {
        self.hba_lines.push(line.into());
        self
    }

    /// Passes an extra argument to `initdb`, e.g. `--data-checksums`.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::builder()
    ///     .initdb_arg("--data-checksums")
    ///     .start()?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn initdb_arg(mut self, arg: impl Into<OsString>) -> Self {
        self.initdb_args.push(arg.into());
        self
    }

    /// Creates the cluster's directory under `dir` instead of the system's
    /// temporary directory. When the tests run as root, the unprivileged server
    /// user must be able to reach it.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::builder().temp_dir("/dev/shm").start()?;
    /// assert!(cluster.data_dir().starts_with("/dev/shm"));
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.temp_dir = Some(dir.into());
        self
    }

    /// How long to wait for the server to accept connections, and for it to
    /// stop in [`Cluster::stop`] and [`Cluster::restart`].
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::builder()
    ///     .start_timeout(std::time::Duration::from_secs(90))
    ///     .start()?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Creates and starts the cluster.
    ///
    /// # Errors
    ///
    /// [`Error::BinariesNotFound`] when no PostgreSQL is installed,
    /// [`Error::InvalidInput`] for a rejected setting or `pg_hba.conf` line,
    /// [`Error::Command`] when `initdb` or the role set-up fails, and
    /// [`Error::Server`] (with the log's tail) when the server does not come up.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::builder().start()?;
    /// cluster.execute("CREATE TABLE t (x int)")?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn start(self) -> Result<Cluster, Error> {
        self.validate()?;
        let bindir = bindir::find(self.bindir.as_deref())?;
        let run_as = run_as()?;
        let root = make_root(self.temp_dir.as_deref(), run_as.as_ref())?;
        let mut cluster = Cluster {
            data_dir: root.join("data"),
            socket_dir: root.join("sock"),
            log_path: root.join("postgres.log"),
            root,
            bindir,
            run_as,
            port: 0,
            version_num: 0,
            version: String::new(),
            start_timeout: self.start_timeout,
            tls: self.tls,
            postmaster: Mutex::new(None),
            watchdog: Mutex::new(None),
        };
        // From here on, dropping `cluster` on an error removes what exists so far.
        let watchdog = process::spawn_watchdog(
            &cluster.root,
            &process::WatchedServer {
                work_dir: &cluster.data_dir,
                pid_file: "postmaster.pid",
                signal: "QUIT",
                grace_tenths: 100,
            },
        )?;
        *lock(&cluster.watchdog) = Some(watchdog);
        cluster.init(&self)?;
        cluster.first_start(&self)?;
        Ok(cluster)
    }

    fn validate(&self) -> Result<(), Error> {
        for (name, value) in &self.settings {
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
            if !valid_name {
                return Err(Error::InvalidInput(format!(
                    "{name:?} is not a setting name"
                )));
            }
            if MANAGED_SETTINGS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(Error::InvalidInput(format!(
                    "{name} is chosen by apg-testkit and cannot be set"
                )));
            }
            if value.contains(['\n', '\r', '\0']) {
                return Err(Error::InvalidInput(format!(
                    "the value of {name} contains a line break or NUL"
                )));
            }
        }
        for line in &self.hba_lines {
            if line.contains(['\n', '\r', '\0']) {
                return Err(Error::InvalidInput(format!(
                    "pg_hba.conf line {line:?} contains a line break or NUL"
                )));
            }
        }
        Ok(())
    }
}

/// A PostgreSQL server of its own, in a private temporary directory.
///
/// [`Cluster::start`] (or [`Cluster::builder`]) creates one for a single test
/// and [`Cluster::shared`] returns one per test process. Both:
///
/// * find `initdb`, `postgres` and `pg_ctl` in `APG_TEST_PG_BINDIR`, else on
///   `PATH`, else via `pg_config --bindir`, else in the highest
///   `/usr/lib/postgresql/*/bin` (or `/usr/pgsql-*/bin`);
/// * when the process runs as root, run the server as the `postgres` user
///   (created as the system user `apg-testkit` when missing), since PostgreSQL
///   refuses to run as root;
/// * `initdb` with `-U postgres -E UTF8 --locale=C --no-sync`, create the roles
///   of [`AuthMethod`] and write a `pg_hba.conf` for them;
/// * listen on a free port of `127.0.0.1` and on a Unix socket in a private
///   directory, with `max_connections = 200`, `shared_buffers = 32MB`,
///   `fsync`, `synchronous_commit` and `full_page_writes` off and
///   `timezone = 'UTC'`;
/// * clean up after themselves: dropping a `Cluster` stops its postmaster and
///   deletes its directory, and a small watchdog process does the same once
///   the test process has exited (the shared cluster is never dropped) or was
///   killed.
///
/// The superuser `postgres` logs in with `trust` over both the socket and TCP,
/// including replication connections (for standby tests). Other roles that
/// tests create authenticate with `scram-sha-256`.
///
/// ```no_run
/// use apg_testkit::Cluster;
///
/// let cluster = Cluster::start()?;
/// let db = cluster.create_database()?;
/// cluster.execute_in(&db, "CREATE TABLE t (id int PRIMARY KEY)")?;
/// println!("connect to {}", cluster.url_for(&db));
/// // Dropping `cluster` stops the server and deletes its files.
/// # Ok::<(), apg_testkit::Error>(())
/// ```
pub struct Cluster {
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    bindir: PathBuf,
    run_as: Option<RunAs>,
    port: u16,
    version_num: u32,
    version: String,
    start_timeout: Duration,
    tls: bool,
    /// The postmaster when this process started it (so it can be reaped);
    /// `None` when stopped or started by someone else through `pg_ctl`.
    postmaster: Mutex<Option<Child>>,
    watchdog: Mutex<Option<Child>>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("version", &self.version)
            .field("port", &self.port)
            .field("data_dir", &self.data_dir)
            .field("bindir", &self.bindir)
            .field("run_as", &self.run_as.as_ref().map(|u| &u.name))
            .finish_non_exhaustive()
    }
}

enum StartError {
    /// Another process bound the port first; worth another try on a new port.
    PortTaken(Error),
    Failed(Error),
}

impl Cluster {
    /// Starts a new cluster with default options.
    ///
    /// Unlike [`server()`](crate::server) this ignores `APG_TEST_URL` and
    /// `DATABASE_URL`: asking for a cluster of one's own means wanting one.
    /// Tests that must not start servers can check
    /// [`external_url()`](crate::external_url) first.
    ///
    /// # Errors
    ///
    /// As [`ClusterBuilder::start`].
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::start()?;
    /// cluster.stop()?; // test what clients do when the server goes away
    /// cluster.restart()?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn start() -> Result<Self, Error> {
        ClusterBuilder::new().start()
    }

    /// Options for a new cluster.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::builder().setting("wal_level", "logical").start()?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::new()
    }

    /// The cluster shared by all tests of this process, started on first use.
    ///
    /// It is never dropped (statics are not); its watchdog stops it and deletes
    /// its directory about a second after the process exits. Tests that stop,
    /// restart or reconfigure the server should use a [`Cluster::start`] of
    /// their own, since other tests run against the shared one concurrently.
    /// When starting fails, every later call returns the same error at once.
    ///
    /// # Errors
    ///
    /// As [`ClusterBuilder::start`].
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let db = cluster.create_database()?; // isolate this test's tables
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn shared() -> Result<&'static Self, Error> {
        static SHARED: OnceLock<Result<Cluster, Error>> = OnceLock::new();
        SHARED
            .get_or_init(Self::start)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The address the server listens on, always `127.0.0.1`.
    ///
    /// ```no_run
    /// assert_eq!(apg_testkit::Cluster::shared()?.host(), "127.0.0.1");
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port, also part of the Unix socket's name. It stays the same
    /// across [`restart`](Self::restart).
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let addr = (cluster.host(), cluster.port());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the Unix socket `.s.PGSQL.<port>`.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let socket = cluster.socket_dir().join(format!(".s.PGSQL.{}", cluster.port()));
    /// assert!(socket.exists());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The data directory (`PGDATA`).
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// assert!(cluster.data_dir().join("PG_VERSION").exists());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directory of the server programs in use.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let psql = cluster.bindir().join("psql"); // absent in minimal builds
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The server log (the postmaster's standard error).
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// println!("server log: {}", cluster.log_path().display());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The server log so far.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::builder().setting("log_connections", "on").start()?;
    /// cluster.execute("SELECT 1")?;
    /// assert!(cluster.read_log()?.contains("connection authorized"));
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn read_log(&self) -> Result<String, Error> {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| Error::io(format!("reading {}", self.log_path.display()), e))
    }

    /// `server_version_num`, e.g. `150018` for 15.18.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// if cluster.server_version_num() < 140000 {
    ///     return Ok(()); // feature needs PostgreSQL 14
    /// }
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn server_version_num(&self) -> u32 {
        self.version_num
    }

    /// `server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    ///
    /// ```no_run
    /// println!("{}", apg_testkit::Cluster::shared()?.server_version());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn server_version(&self) -> &str {
        &self.version
    }

    /// The superuser's TCP URL for database `postgres`:
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    ///
    /// ```no_run
    /// let url = apg_testkit::Cluster::shared()?.url();
    /// assert!(url.starts_with("postgres://postgres@127.0.0.1:"));
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// The superuser's TCP URL for database `db`.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let url = cluster.url_for(&cluster.create_database()?);
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn url_for(&self, db: &str) -> String {
        url::build(SUPERUSER, None, HOST, self.port, db)
    }

    /// The superuser's Unix-socket URL for database `db`, in libpq's form
    /// `postgres://postgres@/db?host=<socket dir>&port=<port>`.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let url = cluster.socket_url_for("postgres");
    /// assert!(url.contains("?host=/"));
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn socket_url_for(&self, db: &str) -> String {
        url::build_socket(SUPERUSER, &self.socket_dir, self.port, db)
    }

    /// The login role for `method`, with its password and URLs.
    ///
    /// ```no_run
    /// use apg_testkit::AuthMethod;
    ///
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// for method in AuthMethod::ALL {
    ///     let user = cluster.user(method);
    ///     println!("{method}: {}", user.url());
    /// }
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn user(&self, method: AuthMethod) -> User {
        User::new(method, HOST, self.port)
    }

    /// The postmaster's process id, `None` when it is not running.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::start()?;
    /// let pid = cluster.pid().expect("running");
    /// cluster.stop()?;
    /// assert_eq!(cluster.pid(), None);
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn pid(&self) -> Option<u32> {
        postmaster_pid(&self.data_dir).filter(|pid| is_alive(*pid) && has_cwd(*pid, &self.data_dir))
    }

    /// Whether the postmaster is running.
    ///
    /// ```no_run
    /// assert!(apg_testkit::Cluster::shared()?.is_running());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    /// Runs `sql` (one or more statements) as the superuser in database
    /// `postgres`.
    ///
    /// # Errors
    ///
    /// [`Error::Db`] when the server rejects a statement, [`Error::Io`] when it
    /// cannot be reached.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// cluster.execute("CREATE ROLE tester LOGIN PASSWORD 'pw'; GRANT pg_monitor TO tester")?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn execute(&self, sql: &str) -> Result<(), Error> {
        self.execute_in("postgres", sql)
    }

    /// Runs `sql` as the superuser in database `db`.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let db = cluster.create_database()?;
    /// cluster.execute_in(&db, "CREATE TABLE items (id int)")?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn execute_in(&self, db: &str, sql: &str) -> Result<(), Error> {
        self.query_in(db, sql).map(drop)
    }

    /// Runs `sql` as the superuser in database `postgres` and returns the rows
    /// of all its statements as text (`None` for NULL).
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let rows = cluster.query("SELECT 1, NULL::text")?;
    /// assert_eq!(rows, vec![vec![Some("1".to_string()), None]]);
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn query(&self, sql: &str) -> Result<Vec<Row>, Error> {
        self.query_in("postgres", sql)
    }

    /// Runs `sql` as the superuser in database `db` and returns the rows.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let db = cluster.create_database()?;
    /// let rows = cluster.query_in(&db, "SELECT current_database()")?;
    /// assert_eq!(rows[0][0].as_deref(), Some(db.as_str()));
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn query_in(&self, db: &str, sql: &str) -> Result<Vec<Row>, Error> {
        // The Unix socket keeps working whatever `listen_addresses` says.
        let endpoint = Endpoint::Unix(self.socket_path());
        let mut client = Client::connect(&Login {
            endpoint: &endpoint,
            user: SUPERUSER,
            password: None,
            database: db,
            timeout: QUERY_TIMEOUT,
        })?;
        let rows = client.simple_query(sql)?;
        client.close();
        Ok(rows)
    }

    /// Creates a fresh database with a unique name, owned by the superuser, and
    /// returns its name.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let a = cluster.create_database()?;
    /// let b = cluster.create_database()?;
    /// assert_ne!(a, b);
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn create_database(&self) -> Result<String, Error> {
        self.create_database_owned_by(SUPERUSER)
    }

    /// Creates a fresh database owned by `owner` and returns its name. The
    /// owner may create tables in its `public` schema (which PostgreSQL 15+
    /// otherwise denies to non-superusers).
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute), e.g. when `owner` does not exist.
    ///
    /// ```no_run
    /// use apg_testkit::AuthMethod;
    ///
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let user = cluster.user(AuthMethod::Scram);
    /// let db = cluster.create_database_owned_by(user.name())?;
    /// // Connect to user.url_for(&db) and create tables there.
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn create_database_owned_by(&self, owner: &str) -> Result<String, Error> {
        let name = unique_name("apg_test");
        self.execute(&format!(
            "CREATE DATABASE {} OWNER {}",
            quote_ident(&name),
            quote_ident(owner)
        ))?;
        Ok(name)
    }

    /// Drops database `name` if it exists, disconnecting its sessions first
    /// (PostgreSQL 13+; older servers fail while sessions remain).
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let db = cluster.create_database()?;
    /// cluster.drop_database(&db)?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn drop_database(&self, name: &str) -> Result<(), Error> {
        self.execute(&drop_database_sql(name, self.version_num))
    }

    /// Runs `pg_ctl` with `args` as the server's user, with `PGDATA` set to this
    /// cluster, and returns its output.
    ///
    /// For the usual cases prefer [`stop`](Self::stop) and
    /// [`restart`](Self::restart), which keep track of the postmaster. When
    /// starting through here, pass `-l` with [`log_path`](Self::log_path) so the
    /// server log lands in the usual place.
    ///
    /// # Errors
    ///
    /// [`Error::Command`] (with the output) when `pg_ctl` exits unsuccessfully.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::start()?;
    /// let out = cluster.pg_ctl(["status"])?;
    /// assert!(String::from_utf8_lossy(&out.stdout).contains("server is running"));
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn pg_ctl<I, S>(&self, args: I) -> Result<Output, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let _serialised = lock(&self.postmaster);
        // Files rather than pipes: a postmaster started by `pg_ctl start`
        // without `-l` inherits them and would keep a pipe open forever.
        let out_path = self.root.join("pg_ctl.stdout");
        let err_path = self.root.join("pg_ctl.stderr");
        let create = |p: &Path| {
            File::create(p).map_err(|e| Error::io(format!("creating {}", p.display()), e))
        };
        let mut cmd = self.command("pg_ctl");
        cmd.args(args)
            .env("PGDATA", &self.data_dir)
            .stdin(Stdio::null())
            .stdout(create(&out_path)?)
            .stderr(create(&err_path)?);
        let status = cmd
            .status()
            .map_err(|e| Error::io(format!("running `{}`", process::describe(&cmd)), e))?;
        let read =
            |p: &Path| fs::read(p).map_err(|e| Error::io(format!("reading {}", p.display()), e));
        let output = Output {
            status,
            stdout: read(&out_path)?,
            stderr: read(&err_path)?,
        };
        if status.success() {
            Ok(output)
        } else {
            Err(process::command_failed(&cmd, &output))
        }
    }

    /// Stops the server with [`StopMode::Fast`] and waits until it is gone.
    /// Does nothing when it is not running.
    ///
    /// # Errors
    ///
    /// [`Error::Server`] when it did not stop within the start timeout (it is
    /// then killed).
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::start()?;
    /// cluster.stop()?;
    /// assert!(cluster.execute("SELECT 1").is_err());
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn stop(&self) -> Result<(), Error> {
        self.stop_with(StopMode::Fast)
    }

    /// Stops the server in the given mode and waits until it is gone.
    ///
    /// # Errors
    ///
    /// As [`stop`](Self::stop).
    ///
    /// ```no_run
    /// use apg_testkit::StopMode;
    ///
    /// let cluster = apg_testkit::Cluster::start()?;
    /// cluster.stop_with(StopMode::Immediate)?; // as if the server crashed
    /// cluster.restart()?; // runs crash recovery
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn stop_with(&self, mode: StopMode) -> Result<(), Error> {
        let mut postmaster = lock(&self.postmaster);
        self.stop_locked(&mut postmaster, mode)
    }

    /// Stops the server if it is running ([`StopMode::Fast`]), then starts it
    /// again on the same port and waits until it accepts connections.
    ///
    /// # Errors
    ///
    /// As [`stop`](Self::stop), and [`Error::Server`] (with the log's tail)
    /// when the server does not come back, e.g. because another process took
    /// the port meanwhile.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::start()?;
    /// cluster.execute("ALTER SYSTEM SET max_connections = 300")?;
    /// cluster.restart()?; // needed for settings that require a restart
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn restart(&self) -> Result<(), Error> {
        let mut postmaster = lock(&self.postmaster);
        self.stop_locked(&mut postmaster, StopMode::Fast)?;
        match self.spawn_and_wait() {
            Ok(child) => {
                *postmaster = Some(child);
                Ok(())
            }
            Err(StartError::PortTaken(e) | StartError::Failed(e)) => Err(e),
        }
    }

    /// Makes the server re-read its configuration files (SIGHUP), e.g. after
    /// `ALTER SYSTEM`. Returns before the server has applied them; the effect
    /// shows in new sessions a moment later.
    ///
    /// # Errors
    ///
    /// [`Error::Server`] when the server is not running.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::start()?;
    /// cluster.execute("ALTER SYSTEM SET log_min_duration_statement = 0")?;
    /// cluster.reload()?;
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn reload(&self) -> Result<(), Error> {
        let pid = self.pid().ok_or_else(|| Error::Server {
            message: "cannot reload: the server is not running".into(),
            log_tail: String::new(),
        })?;
        process::signal(pid, "HUP")
    }

    fn socket_path(&self) -> PathBuf {
        self.socket_dir.join(format!(".s.PGSQL.{}", self.port))
    }

    /// A command for one of the server programs, run as the server's user in
    /// the cluster's directory with a neutral environment.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        cmd.current_dir(&self.root).env("LC_ALL", "C");
        for var in SCRUBBED_ENV {
            cmd.env_remove(var);
        }
        if let Some(user) = &self.run_as {
            user.apply(&mut cmd);
        }
        cmd
    }

    /// Gives a file or directory the testkit created to the server's user.
    fn hand_over(&self, path: &Path) -> Result<(), Error> {
        match &self.run_as {
            Some(user) => chown(path, Some(user.uid), Some(user.gid))
                .map_err(|e| Error::io(format!("chown {} to {}", path.display(), user.name), e)),
            None => Ok(()),
        }
    }

    fn write_file(&self, path: &Path, contents: &str) -> Result<(), Error> {
        fs::write(path, contents)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        self.hand_over(path)
    }

    fn init(&mut self, options: &ClusterBuilder) -> Result<(), Error> {
        // Fails early, with a message naming the user, when the unprivileged
        // user cannot execute the programs (e.g. unpacked under /root).
        let mut check = self.command("postgres");
        check.arg("-V");
        process::run(&mut check).map_err(|e| match &self.run_as {
            Some(user) => Error::Unsupported(format!(
                "user {} cannot run {}; make that directory and its parents readable \
                 and searchable for it ({e})",
                user.name,
                self.bindir.join("postgres").display()
            )),
            None => e,
        })?;

        let socket_len = self.socket_dir.join(".s.PGSQL.65535").as_os_str().len();
        if socket_len > 100 {
            return Err(Error::InvalidInput(format!(
                "the Unix socket path under {} would be {socket_len} bytes, over the \
                 platform limit; use a shorter TMPDIR or ClusterBuilder::temp_dir",
                self.root.display()
            )));
        }
        DirBuilder::new()
            .mode(0o700)
            .create(&self.socket_dir)
            .map_err(|e| Error::io(format!("creating {}", self.socket_dir.display()), e))?;
        self.hand_over(&self.socket_dir)?;

        let mut initdb = self.command("initdb");
        initdb
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-U", SUPERUSER, "--auth=trust", "--no-sync", "-E", "UTF8"])
            .arg("--locale=C")
            .args(&options.initdb_args);
        process::run(&mut initdb)?;

        self.write_file(
            &self.data_dir.join("pg_hba.conf"),
            &hba_conf(&options.hba_lines, self.tls),
        )?;
        let main_conf = self.data_dir.join("postgresql.conf");
        let mut conf = fs::read_to_string(&main_conf)
            .map_err(|e| Error::io(format!("reading {}", main_conf.display()), e))?;
        conf.push_str(&format!(
            "\n# apg-testkit: its settings live in {CONF_FILE}\ninclude '{CONF_FILE}'\n"
        ));
        self.write_file(&main_conf, &conf)?;
        self.port = free_port()?;
        if self.tls {
            self.write_certificates(options.tls_signature)?;
        }
        self.write_conf(options)?;
        self.create_roles()
    }

    /// Creates the login roles in single-user mode, before the postmaster
    /// runs, so no client and no password exchange is needed.
    fn create_roles(&self) -> Result<(), Error> {
        let script = self.root.join("setup.sql");
        self.write_file(&script, &setup_sql())?;
        let input = File::open(&script)
            .map_err(|e| Error::io(format!("opening {}", script.display()), e))?;
        let mut single = self.command("postgres");
        single
            .arg("--single")
            .arg("-D")
            .arg(&self.data_dir)
            // Turns the first ERROR into FATAL, so a failure ends the run with
            // a non-zero status instead of being skipped.
            .args(["-c", "exit_on_error=on", "postgres"])
            .stdin(input);
        let output = process::run(&mut single)?;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        if text.contains("ERROR:") || text.contains("FATAL:") {
            return Err(Error::Command {
                command: process::describe(&single),
                status: output.status.to_string(),
                output: text,
            });
        }
        Ok(())
    }

    /// Server certificate and key in the data directory (the key readable by the
    /// server's user only, as the server demands), the authority's certificate there
    /// (for client certificates) and beside it for clients, with the client
    /// certificate of [`CERT_USER`](crate::CERT_USER).
    fn write_certificates(&self, signature: TlsSignature) -> Result<(), Error> {
        use std::os::unix::fs::PermissionsExt;
        let certs = Certificates::generate(signature)?;
        let files = [
            (self.data_dir.join("server.crt"), &certs.server_cert),
            (self.data_dir.join("server.key"), &certs.server_key),
            (self.data_dir.join("ca.crt"), &certs.ca_cert),
            (self.root.join("ca.crt"), &certs.ca_cert),
            (self.root.join("client.crt"), &certs.client_cert),
            (self.root.join("client.key"), &certs.client_key),
        ];
        for (path, contents) in files {
            fs::write(&path, contents)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io(format!("chmod {}", path.display()), e))?;
            if path.starts_with(&self.data_dir) {
                self.hand_over(&path)?;
            }
        }
        Ok(())
    }

    /// The PEM certificate of the authority that signed the server's certificate
    /// (for `sslrootcert`); `None` for a cluster without TLS.
    ///
    /// ```no_run
    /// let cluster = apg_testkit::Cluster::shared()?;
    /// let url = format!(
    ///     "{}?sslmode=verify-full&sslrootcert={}",
    ///     cluster.url().replace("127.0.0.1", "localhost"),
    ///     cluster.ca_cert_path().unwrap().display()
    /// );
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn ca_cert_path(&self) -> Option<PathBuf> {
        self.tls.then(|| self.root.join("ca.crt"))
    }

    /// The client certificate and key (PEM) of [`CERT_USER`](crate::CERT_USER), for
    /// `sslcert` and `sslkey`; `None` for a cluster without TLS.
    ///
    /// ```no_run
    /// let (cert, key) = apg_testkit::Cluster::shared()?.client_cert().unwrap();
    /// # Ok::<(), apg_testkit::Error>(())
    /// ```
    pub fn client_cert(&self) -> Option<(PathBuf, PathBuf)> {
        self.tls
            .then(|| (self.root.join("client.crt"), self.root.join("client.key")))
    }

    fn write_conf(&self, options: &ClusterBuilder) -> Result<(), Error> {
        let mut conf = String::from("# Written by apg-testkit; later lines win.\n");
        let socket_dir = self.socket_dir.to_string_lossy();
        let port = self.port.to_string();
        let defaults = [
            ("listen_addresses", HOST),
            ("port", port.as_str()),
            ("unix_socket_directories", &*socket_dir),
            ("max_connections", "200"),
            ("shared_buffers", "32MB"),
            ("fsync", "off"),
            ("synchronous_commit", "off"),
            ("full_page_writes", "off"),
            ("timezone", "UTC"),
        ];
        let tls: &[(&str, &str)] = if self.tls {
            &[
                ("ssl", "on"),
                ("ssl_cert_file", "server.crt"),
                ("ssl_key_file", "server.key"),
                ("ssl_ca_file", "ca.crt"),
            ]
        } else {
            &[]
        };
        let extra = options
            .settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        for (name, value) in defaults.into_iter().chain(tls.iter().copied()).chain(extra) {
            conf.push_str(&format!("{name} = '{}'\n", value.replace('\'', "''")));
        }
        self.write_file(&self.data_dir.join(CONF_FILE), &conf)
    }

    fn first_start(&mut self, options: &ClusterBuilder) -> Result<(), Error> {
        let mut attempt = 0;
        let child = loop {
            match self.spawn_and_wait() {
                Ok(child) => break child,
                Err(StartError::PortTaken(e)) => {
                    attempt += 1;
                    if attempt >= PORT_ATTEMPTS {
                        return Err(e);
                    }
                    self.port = free_port()?;
                    self.write_conf(options)?;
                }
                Err(StartError::Failed(e)) => return Err(e),
            }
        };
        *lock(&self.postmaster) = Some(child);
        let rows = self.query(
            "SELECT current_setting('server_version_num'), current_setting('server_version')",
        )?;
        let (num, version) = match rows.first().map(Vec::as_slice) {
            Some([Some(num), Some(version)]) => (num.parse().ok(), version.clone()),
            _ => (None, String::new()),
        };
        self.version_num = num.ok_or_else(|| {
            Error::Protocol(format!("unexpected answer to the version query: {rows:?}"))
        })?;
        self.version = version;
        Ok(())
    }

    fn spawn_and_wait(&self) -> Result<Child, StartError> {
        let log_start = fs::metadata(&self.log_path).map_or(0, |m| m.len());
        let mut child = self.spawn_postmaster().map_err(StartError::Failed)?;
        match self.wait_ready(&mut child, log_start) {
            Ok(()) => Ok(child),
            Err(e) => {
                if matches!(child.try_wait(), Ok(None)) {
                    let _ = process::signal(child.id(), "QUIT");
                    if !wait_child(&mut child, Duration::from_secs(10)) {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                }
                Err(e)
            }
        }
    }

    fn spawn_postmaster(&self) -> Result<Child, Error> {
        let open = || {
            File::options()
                .create(true)
                .append(true)
                .open(&self.log_path)
                .map_err(|e| Error::io(format!("opening {}", self.log_path.display()), e))
        };
        let log = open()?;
        self.hand_over(&self.log_path)?;
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(open()?)
            .stderr(log)
            // Its own process group: a Ctrl-C meant for the test run reaches
            // the test process, not the server, which the watchdog then stops
            // in an orderly way.
            .process_group(0);
        cmd.spawn()
            .map_err(|e| Error::io(format!("starting `{}`", process::describe(&cmd)), e))
    }

    /// Waits until the server accepts a session on its Unix socket.
    ///
    /// The socket lives in a private directory, so a session there is with
    /// this postmaster and no other process that may have grabbed the TCP
    /// port; and PostgreSQL creates it only after binding TCP, so its presence
    /// also means TCP is up.
    fn wait_ready(&self, child: &mut Child, log_start: u64) -> Result<(), StartError> {
        let deadline = Instant::now() + self.start_timeout;
        let endpoint = Endpoint::Unix(self.socket_path());
        loop {
            match child.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    let log = self.log_since(log_start);
                    let error = Error::Server {
                        message: format!("postgres exited during start-up ({status})"),
                        log_tail: tail(&log, 30),
                    };
                    return Err(if log.contains("Address already in use") {
                        StartError::PortTaken(error)
                    } else {
                        StartError::Failed(error)
                    });
                }
                Err(e) => return Err(StartError::Failed(Error::io("waiting for postgres", e))),
            }
            let login = Login {
                endpoint: &endpoint,
                user: SUPERUSER,
                password: None,
                database: "postgres",
                timeout: Duration::from_secs(5),
            };
            if let Ok(client) = Client::connect(&login) {
                client.close();
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StartError::Failed(Error::Server {
                    message: format!(
                        "postgres did not accept connections within {:?}",
                        self.start_timeout
                    ),
                    log_tail: tail(&self.log_since(log_start), 30),
                }));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_since(&self, offset: u64) -> String {
        let mut text = Vec::new();
        let read = File::open(&self.log_path).and_then(|mut f| {
            f.seek(SeekFrom::Start(offset))?;
            f.read_to_end(&mut text)
        });
        match read {
            Ok(_) => String::from_utf8_lossy(&text).into_owned(),
            Err(e) => format!("(cannot read {}: {e})", self.log_path.display()),
        }
    }

    fn stop_locked(&self, postmaster: &mut Option<Child>, mode: StopMode) -> Result<(), Error> {
        // Forget our child if it already exited (e.g. stopped through pg_ctl).
        if let Some(child) = postmaster {
            if !matches!(child.try_wait(), Ok(None)) {
                *postmaster = None;
            }
        }
        let child_pid = postmaster.as_ref().map(Child::id);
        let running = postmaster_pid(&self.data_dir).filter(|pid| {
            is_alive(*pid) && (child_pid == Some(*pid) || has_cwd(*pid, &self.data_dir))
        });
        let Some(pid) = running else {
            // No live postmaster owns the data directory. A child of ours
            // without a pid file never got far enough to serve anyone.
            if let Some(mut child) = postmaster.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            return Ok(());
        };
        if let Err(e) = process::signal(pid, mode.signal()) {
            // It may have exited between the check and the signal.
            if is_alive(pid) {
                return Err(e);
            }
        }
        let mut gone = |timeout: Duration| match postmaster.as_mut() {
            Some(child) if child_pid == Some(pid) => wait_child(child, timeout),
            _ => wait_until(timeout, || !is_alive(pid)),
        };
        let stopped = gone(self.start_timeout);
        if !stopped {
            let _ = process::signal(pid, "KILL");
            gone(Duration::from_secs(5));
        }
        *postmaster = None;
        if stopped {
            return Ok(());
        }
        Err(Error::Server {
            message: format!(
                "postgres (pid {pid}) did not stop within {:?} in {mode:?} mode and was killed",
                self.start_timeout
            ),
            log_tail: tail(&self.log_since(0), 30),
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut postmaster = self
            .postmaster
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let _ = self.stop_locked(&mut postmaster, StopMode::Immediate);
        if fs::remove_dir_all(&self.root).is_err() && self.root.exists() {
            // A server process may still have been writing a file.
            thread::sleep(Duration::from_millis(200));
            let _ = fs::remove_dir_all(&self.root);
        }
        let watchdog = self
            .watchdog
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut watchdog) = watchdog {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves nothing half-updated
    // that matters here; keep going rather than poisoning every later test.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let skip = all.len().saturating_sub(lines);
    all.into_iter().skip(skip).collect::<Vec<_>>().join("\n")
}

/// A port that was free a moment ago. The postmaster may still lose it to
/// another process before binding; start-up then retries with a new one.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((HOST, 0))
        .map_err(|e| Error::io("finding a free port on 127.0.0.1", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("finding a free port on 127.0.0.1", e))
}

/// Creates the cluster's private directory (mode 0700, owned by the server's
/// user), canonicalised so the watchdog can compare it with `/proc/<pid>/cwd`.
fn make_root(base: Option<&Path>, run_as: Option<&RunAs>) -> Result<PathBuf, Error> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let explicit = base.is_some();
    let base = base.map_or_else(env::temp_dir, Path::to_path_buf);
    let mut base = fs::canonicalize(&base)
        .map_err(|e| Error::io(format!("resolving {}", base.display()), e))?;
    if let Some(user) = run_as {
        if !reachable(&base, user) {
            let tmp = PathBuf::from("/tmp");
            if explicit || !reachable(&tmp, user) {
                return Err(Error::Unsupported(format!(
                    "user {} cannot reach {}; pick a directory every user can enter \
                     (TMPDIR or ClusterBuilder::temp_dir)",
                    user.name,
                    base.display()
                )));
            }
            base = tmp;
        }
    }
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("apg-testkit-{}-{n}", std::process::id()));
        match DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                if let Some(user) = run_as {
                    chown(&dir, Some(user.uid), Some(user.gid)).map_err(|e| {
                        let _ = fs::remove_dir(&dir);
                        Error::io(format!("chown {} to {}", dir.display(), user.name), e)
                    })?;
                }
                return Ok(dir);
            }
            // Left behind by an earlier process with the same id.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::io(
                    format!("creating a directory in {}", base.display()),
                    e,
                ))
            }
        }
    }
}

/// Whether `user` may search every directory from `/` down to `dir`.
fn reachable(dir: &Path, user: &RunAs) -> bool {
    dir.ancestors().all(|d| {
        fs::metadata(d).is_ok_and(|m| {
            let bit = if m.uid() == user.uid {
                0o100
            } else if m.gid() == user.gid {
                0o010
            } else {
                0o001
            };
            m.mode() & bit != 0
        })
    })
}

/// `pg_hba.conf`: the caller's lines first, then one set of lines per role.
/// The first matching line wins, so order matters: per-role lines come before
/// the catch-all, which makes any other role authenticate with SCRAM.
fn hba_conf(extra: &[String], tls: bool) -> String {
    let mut conf = String::from(
        "# Written by apg-testkit. The first matching line wins.\n\
         # TYPE  DATABASE     USER           ADDRESS         METHOD\n",
    );
    for line in extra {
        conf.push_str(line);
        conf.push('\n');
    }
    if tls {
        // The TLS-only roles, before the catch-all line would let them in.
        for line in tls::hba_lines() {
            conf.push_str(&line);
            conf.push('\n');
        }
    }
    let mut add = |database: &str, user: &str, method: &str| {
        conf.push_str(&format!(
            "local   {database:<12} {user:<14}                 {method}\n"
        ));
        for address in ["127.0.0.1/32", "::1/128"] {
            conf.push_str(&format!(
                "host    {database:<12} {user:<14} {address:<15} {method}\n"
            ));
        }
    };
    add("all", SUPERUSER, "trust");
    add("replication", SUPERUSER, "trust");
    for method in AuthMethod::ALL {
        add("all", method.role(), method.hba_name());
    }
    add("all", "all", "scram-sha-256");
    conf
}

/// Role set-up for single-user mode, where each line is one statement.
///
/// `password_encryption` is set explicitly before each password: an `md5`
/// line in `pg_hba.conf` only does MD5 when the stored password is an MD5 hash
/// (otherwise the server silently switches to SCRAM), and the default differs
/// between versions (`md5` before 14, `scram-sha-256` since).
fn setup_sql() -> String {
    let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
    [
        format!("CREATE ROLE {} LOGIN", AuthMethod::Trust.role()),
        "SET password_encryption = 'scram-sha-256'".to_owned(),
        format!(
            "CREATE ROLE {} LOGIN PASSWORD {}",
            AuthMethod::Password.role(),
            literal(CLEARTEXT_PASSWORD)
        ),
        format!(
            "CREATE ROLE {} LOGIN PASSWORD {}",
            AuthMethod::Scram.role(),
            literal(SCRAM_PASSWORD)
        ),
        format!(
            "CREATE ROLE {} LOGIN PASSWORD {}",
            tls::TLS_USER,
            literal(tls::TLS_PASSWORD)
        ),
        format!("CREATE ROLE {} LOGIN", tls::CERT_USER),
        "SET password_encryption = 'md5'".to_owned(),
        format!(
            "CREATE ROLE {} LOGIN PASSWORD {}",
            AuthMethod::Md5.role(),
            literal(MD5_PASSWORD)
        ),
    ]
    .iter()
    .map(|statement| format!("{statement}\n"))
    .collect()
}

/// `DROP DATABASE`, with `WITH (FORCE)` where the server has it (13+).
pub(crate) fn drop_database_sql(name: &str, version_num: u32) -> String {
    let force = if version_num >= 130_000 {
        " WITH (FORCE)"
    } else {
        ""
    };
    format!("DROP DATABASE IF EXISTS {}{force}", quote_ident(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hba_lines_come_in_order() {
        let conf = hba_conf(&["host all all 10.0.0.0/8 reject".to_owned()], true);
        let lines: Vec<&str> = conf.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines[0], "host all all 10.0.0.0/8 reject");
        let position = |needle: &str| {
            lines
                .iter()
                .position(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == needle)
                .unwrap_or_else(|| panic!("{needle:?} missing from\n{conf}"))
        };
        let md5 = position("host all apg_md5 127.0.0.1/32 md5");
        position("local all apg_md5 md5");
        position("host all apg_md5 ::1/128 md5");
        position("local all postgres trust");
        position("host replication postgres 127.0.0.1/32 trust");
        position("host all apg_password ::1/128 password");
        position("local all apg_scram scram-sha-256");
        let catch_all = position("host all all 127.0.0.1/32 scram-sha-256");
        assert!(md5 < catch_all);
    }

    #[test]
    fn setup_sets_md5_right_before_the_md5_role() {
        let sql = setup_sql();
        let lines: Vec<&str> = sql.lines().collect();
        let md5 = lines.iter().position(|l| l.contains("apg_md5")).unwrap();
        assert_eq!(lines[md5 - 1], "SET password_encryption = 'md5'");
        assert!(lines.iter().all(|l| !l.is_empty()));
    }

    #[test]
    fn rejects_bad_options() {
        let bad = [
            ClusterBuilder::new().setting("port", "5432"),
            ClusterBuilder::new().setting("Unix_Socket_Directories", "/tmp"),
            ClusterBuilder::new().setting("a b", "1"),
            ClusterBuilder::new().setting("work_mem", "1MB\nfsync = on"),
            ClusterBuilder::new().hba_line("local all all trust\nhost all all 0.0.0.0/0 trust"),
        ];
        for builder in bad {
            assert!(
                matches!(builder.validate(), Err(Error::InvalidInput(_))),
                "{builder:?}"
            );
        }
        ClusterBuilder::new()
            .setting("work_mem", "it's")
            .validate()
            .unwrap();
    }

    #[test]
    fn drop_database_uses_force_where_available() {
        assert_eq!(
            drop_database_sql("a\"b", 150_000),
            "DROP DATABASE IF EXISTS \"a\"\"b\" WITH (FORCE)"
        );
        assert_eq!(
            drop_database_sql("x", 120_022),
            "DROP DATABASE IF EXISTS \"x\""
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
