//! PgBouncer in front of a [`Cluster`], for testing clients through a pooler.
//!
//! PgBouncer is not part of PostgreSQL: tests that need it start one with
//! [`PgBouncer::start`], which finds the `pgbouncer` binary (`APG_TEST_PGBOUNCER`,
//! `PATH`, `/usr/sbin/pgbouncer`); [`PgBouncer::is_installed`] lets tests skip
//! themselves with a note where it is missing.

use std::env;
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{chown, DirBuilderExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::privs::{run_as, RunAs};
use crate::process::{self, is_alive, signal, wait_child};
use crate::wire::{Client, Endpoint, Login};
use crate::{Cluster, Error, Row, SUPERUSER};

/// Environment variable naming the `pgbouncer` binary to use.
pub const PGBOUNCER_ENV: &str = "APG_TEST_PGBOUNCER";

const HOST: &str = "127.0.0.1";
/// Server connections per database/user pair: small, so that concurrent
/// transactions from different clients share and swap server connections.
pub const DEFAULT_POOL_SIZE: u32 = 2;
const START_TIMEOUT: Duration = Duration::from_secs(20);
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Start-up attempts: another process may take the chosen port first.
const ATTEMPTS: u32 = 5;

/// How PgBouncer assigns server connections to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// A client keeps one server connection until it disconnects; every
    /// feature works.
    Session,
    /// A client holds a server connection only for the duration of a
    /// transaction; session state (named prepared statements in PgBouncer
    /// before 1.21, `SET`, `LISTEN`, ...) does not carry over.
    Transaction,
}

impl PoolMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Transaction => "transaction",
        }
    }
}

/// Options for [`PgBouncer`]: [`PgBouncer::builder`].
///
/// ```no_run
/// use apg_testkit::{Cluster, PgBouncer, PoolMode};
///
/// // Room for the whole integration suite's connections in session pooling.
/// let bouncer = PgBouncer::builder(PoolMode::Session)
///     .pool_size(50)
///     .start(Cluster::shared()?)?;
/// # Ok::<(), apg_testkit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PgBouncerBuilder {
    mode: PoolMode,
    pool_size: u32,
}

impl PgBouncerBuilder {
    /// Server connections per database and user (`default_pool_size`);
    /// [`DEFAULT_POOL_SIZE`] unless set. At least 1.
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// Starts PgBouncer in front of `cluster` and waits until it answers
    /// queries.
    ///
    /// # Errors
    ///
    /// As [`PgBouncer::start`].
    pub fn start(self, cluster: &Cluster) -> Result<PgBouncer, Error> {
        PgBouncer::start_with(cluster, &self)
    }
}

/// A running PgBouncer in front of a [`Cluster`], stopped when dropped.
///
/// It listens on a free port of `127.0.0.1` with `auth_type = trust` for the
/// superuser `postgres`, forwards every database name to the cluster, and
/// keeps at most [`DEFAULT_POOL_SIZE`] server connections per database and
/// user (see [`PgBouncer::builder`] for more). Like the cluster, it runs as an unprivileged user when the tests run
/// as root, and a watchdog stops it if the test process dies without dropping
/// it.
///
/// ```no_run
/// use apg_testkit::{Cluster, PgBouncer, PoolMode};
///
/// let cluster = Cluster::shared()?;
/// let bouncer = PgBouncer::start(cluster, PoolMode::Transaction)?;
/// let url = bouncer.url(); // postgres://postgres@127.0.0.1:<port>/postgres
/// assert_eq!(bouncer.query("SELECT 1")?[0][0].as_deref(), Some("1"));
/// # Ok::<(), apg_testkit::Error>(())
/// ```
#[derive(Debug)]
pub struct PgBouncer {
    root: PathBuf,
    port: u16,
    mode: PoolMode,
    pool_size: u32,
    child: Option<Child>,
    watchdog: Option<Child>,
}

impl PgBouncer {
    /// Starts PgBouncer in front of `cluster` with the given pool mode and
    /// waits until it answers queries.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when no `pgbouncer` binary is installed (see
    /// [`is_installed`](Self::is_installed)),
    /// [`Error::Server`] (with its log's tail) when it does not come up, and
    /// [`Error::Io`] for file system failures.
    pub fn start(cluster: &Cluster, mode: PoolMode) -> Result<Self, Error> {
        Self::builder(mode).start(cluster)
    }

    /// Options beyond the pool mode, such as the pool size.
    pub fn builder(mode: PoolMode) -> PgBouncerBuilder {
        PgBouncerBuilder {
            mode,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }

    fn start_with(cluster: &Cluster, options: &PgBouncerBuilder) -> Result<Self, Error> {
        let binary = find_binary()?;
        let run_as = run_as()?;
        let root = make_root(run_as.as_ref())?;
        let mut bouncer = Self {
            root,
            port: 0,
            mode: options.mode,
            pool_size: options.pool_size,
            child: None,
            watchdog: None,
        };
        let run_dir = bouncer.run_dir();
        create_owned(&run_dir, run_as.as_ref())?;
        bouncer.watchdog = Some(process::spawn_watchdog(
            &bouncer.root,
            &process::WatchedServer {
                work_dir: &run_dir,
                pid_file: "pgbouncer.pid",
                // PgBouncer 1.18 ignores SIGQUIT; SIGTERM is its immediate shutdown.
                signal: "TERM",
                grace_tenths: 50,
            },
        )?);
        let mut attempt = 1;
        loop {
            match bouncer.try_start(&binary, cluster, run_as.as_ref()) {
                Ok(()) => return Ok(bouncer),
                // Another process bound the port between our check and PgBouncer's
                // bind: try a new port. Anything else will not get better.
                Err(err) if attempt < ATTEMPTS && bouncer.port_was_taken() => {
                    drop(err);
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Whether a `pgbouncer` binary can be found, so tests can skip
    /// themselves with a note instead of failing where it is not installed.
    ///
    /// ```no_run
    /// if !apg_testkit::PgBouncer::is_installed() {
    ///     eprintln!("skipped: PgBouncer is not installed");
    ///     return;
    /// }
    /// ```
    pub fn is_installed() -> bool {
        find_binary().is_ok()
    }

    fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("pgbouncer.log")
    }

    fn try_start(
        &mut self,
        binary: &Path,
        cluster: &Cluster,
        run_as: Option<&RunAs>,
    ) -> Result<(), Error> {
        let port = free_port()?;
        // A fresh log per attempt, so that `port_was_taken` reads this one only.
        match fs::remove_file(self.log_path()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(Error::io(
                    format!("removing {}", self.log_path().display()),
                    e,
                ))
            }
            _ => {}
        }
        let ini = self.root.join("pgbouncer.ini");
        let userlist = self.root.join("userlist.txt");
        // With `trust`, PgBouncer still only admits users listed here.
        fs::write(&userlist, format!("\"{SUPERUSER}\" \"\"\n"))
            .map_err(|e| Error::io(format!("writing {}", userlist.display()), e))?;
        fs::write(
            &ini,
            ini_text(
                cluster,
                port,
                self.mode,
                self.pool_size,
                &userlist,
                &self.log_path(),
                &self.run_dir().join("pgbouncer.pid"),
            ),
        )
        .map_err(|e| Error::io(format!("writing {}", ini.display()), e))?;
        for file in [&ini, &userlist] {
            if let Some(user) = run_as {
                chown(file, Some(user.uid), Some(user.gid))
                    .map_err(|e| Error::io(format!("chown {}", file.display()), e))?;
            }
        }
        let mut cmd = Command::new(binary);
        cmd.arg(&ini)
            .current_dir(self.run_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(user) = run_as {
            user.apply(&mut cmd);
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", binary.display()), e))?;
        self.port = port;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if !matches!(child.try_wait(), Ok(None)) {
                    self.child = None;
                    return Err(self.server_error("PgBouncer exited during start-up"));
                }
            }
            let reply = self.query("SELECT 1");
            if reply.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(self.server_error(&format!(
                    "PgBouncer did not accept queries within {START_TIMEOUT:?}"
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn port_was_taken(&self) -> bool {
        fs::read_to_string(self.log_path()).is_ok_and(|log| log.contains("in use"))
    }

    fn server_error(&self, message: &str) -> Error {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let skip = lines.len().saturating_sub(30);
        Error::Server {
            message: message.to_owned(),
            log_tail: lines.into_iter().skip(skip).collect::<Vec<_>>().join("\n"),
        }
    }

    /// The port PgBouncer listens on (on `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pool mode it was started with.
    pub fn pool_mode(&self) -> PoolMode {
        self.mode
    }

    /// A URL for the superuser and database `postgres` through PgBouncer.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// A URL for the superuser and database `db` through PgBouncer.
    pub fn url_for(&self, db: &str) -> String {
        crate::url::build(SUPERUSER, None, HOST, self.port, db)
    }

    /// PgBouncer's log so far.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the log cannot be read.
    pub fn read_log(&self) -> Result<String, Error> {
        let path = self.log_path();
        fs::read_to_string(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
    }

    /// Runs `sql` through PgBouncer as the superuser in database `postgres`,
    /// using the testkit's own client (simple query protocol).
    ///
    /// # Errors
    ///
    /// [`Error::Db`] when the server (or PgBouncer) rejects it, [`Error::Io`]
    /// when PgBouncer cannot be reached.
    pub fn query(&self, sql: &str) -> Result<Vec<Row>, Error> {
        let endpoint = Endpoint::Tcp {
            host: HOST.to_owned(),
            port: self.port,
        };
        let mut client = Client::connect(&Login {
            endpoint: &endpoint,
            user: SUPERUSER,
            password: None,
            database: "postgres",
            timeout: QUERY_TIMEOUT,
        })?;
        let rows = client.simple_query(sql)?;
        client.close();
        Ok(rows)
    }

    /// The PgBouncer process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child
            .as_ref()
            .map(Child::id)
            .filter(|pid| is_alive(*pid))
    }

    /// Whether the PgBouncer process is running.
    pub fn is_running(&self) -> bool {
        self.child.as_ref().is_some_and(|c| is_alive(c.id()))
    }

    /// Stops the process: SIGINT would wait for clients, so SIGTERM
    /// (immediate shutdown), then SIGKILL if it lingers.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The child may run as another user, which `Child::kill` can
            // signal too since we are root in that case; SIGTERM first so
            // it removes its pid file.
            let _ = signal(child.id(), "TERM");
            if !wait_child(&mut child, Duration::from_secs(5)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.root);
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

fn ini_text(
    cluster: &Cluster,
    port: u16,
    mode: PoolMode,
    pool_size: u32,
    userlist: &Path,
    log: &Path,
    pidfile: &Path,
) -> String {
    format!(
        "; Written by apg-testkit.\n\
         [databases]\n\
         * = host={host} port={server_port}\n\
         \n\
         [pgbouncer]\n\
         listen_addr = {HOST}\n\
         listen_port = {port}\n\
         ; No Unix socket: its default directory (/tmp) is shared.\n\
         unix_socket_dir =\n\
         auth_type = trust\n\
         auth_file = {userlist}\n\
         admin_users = {SUPERUSER}\n\
         pool_mode = {mode}\n\
         default_pool_size = {pool_size}\n\
         max_client_conn = 200\n\
         ; Clients queue for a server connection rather than fail quickly.\n\
         query_wait_timeout = 60\n\
         ; PgBouncer refuses start-up parameters it does not know. Only this\n\
         ; harmless one (sent by many drivers) is dropped: ignoring `options` or\n\
         ; settings would lose them silently instead of failing clearly.\n\
         ignore_startup_parameters = extra_float_digits\n\
         logfile = {log}\n\
         pidfile = {pidfile}\n",
        host = cluster.host(),
        server_port = cluster.port(),
        mode = mode.as_str(),
        userlist = userlist.display(),
        log = log.display(),
        pidfile = pidfile.display(),
    )
}

/// The `pgbouncer` binary: `APG_TEST_PGBOUNCER`, else `PATH`, else the
/// usual install locations.
fn find_binary() -> Result<PathBuf, Error> {
    if let Some(path) = env::var_os(PGBOUNCER_ENV) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(Error::Unsupported(format!(
            "{PGBOUNCER_ENV}={} is not a pgbouncer executable",
            path.display()
        )));
    }
    let mut candidates: Vec<PathBuf> = env::var_os("PATH")
        .map(|p| env::split_paths(&p).map(|d| d.join("pgbouncer")).collect())
        .unwrap_or_default();
    candidates.push(PathBuf::from("/usr/sbin/pgbouncer"));
    candidates.push(PathBuf::from("/usr/local/bin/pgbouncer"));
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        Error::Unsupported(format!(
            "PgBouncer is not installed (looked in {PGBOUNCER_ENV}, PATH, /usr/sbin and \
             /usr/local/bin); install it (Debian/Ubuntu: apt-get install pgbouncer) or \
             set {PGBOUNCER_ENV}"
        ))
    })
}

fn free_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind((HOST, 0))
        .map_err(|e| Error::io("finding a free port on 127.0.0.1", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("finding a free port on 127.0.0.1", e))
}

/// A private directory under `/tmp` (which every user can reach, unlike a
/// root-only `TMPDIR`), owned by the user PgBouncer runs as.
fn make_root(run_as: Option<&RunAs>) -> Result<PathBuf, Error> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = if run_as.is_some() {
        PathBuf::from("/tmp")
    } else {
        env::temp_dir()
    };
    let base = fs::canonicalize(&base)
        .map_err(|e| Error::io(format!("resolving {}", base.display()), e))?;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("apg-testkit-pgbouncer-{}-{n}", std::process::id()));
        match create_owned(&dir, run_as) {
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {}
            other => return other.map(|()| dir),
        }
    }
}

fn create_owned(dir: &Path, run_as: Option<&RunAs>) -> Result<(), Error> {
    DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    if let Some(user) = run_as {
        chown(dir, Some(user.uid), Some(user.gid))
            .map_err(|e| Error::io(format!("chown {} to {}", dir.display(), user.name), e))?;
    }
    Ok(())
}
