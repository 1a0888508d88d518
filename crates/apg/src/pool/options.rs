//! [`PoolBuilder`]: the pool's settings.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::client::Client;
use crate::config::Config;
use crate::error::Error;
use crate::runtime::{BoxFuture, Runtime};

use super::Pool;

/// A hook run on every new connection; an error fails the connection.
pub(crate) type ConnectHook =
    Arc<dyn Fn(Client) -> BoxFuture<'static, Result<(), Error>> + Send + Sync>;

/// A hook that accepts (`true`) or rejects (`false`) a connection.
pub(crate) type CheckHook = Arc<dyn Fn(Client) -> BoxFuture<'static, bool> + Send + Sync>;

/// The reset run on a connection returned to the pool, unless replaced with
/// [`PoolBuilder::reset_query`]: cursors closed, `UNLISTEN *`, advisory locks
/// released, settings reset, temporary tables dropped. Like asyncpg's, it keeps
/// prepared statements, so the statement cache stays valid (`DISCARD ALL` would drop
/// them).
pub const DEFAULT_RESET_QUERY: &str =
    "CLOSE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); RESET ALL; DISCARD TEMP";

/// Settings of a [`Pool`], resolved.
#[derive(Clone)]
pub(crate) struct Options {
    pub(crate) min_idle: usize,
    pub(crate) max_size: usize,
    pub(crate) acquire_timeout: Option<Duration>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) lifetime_jitter: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_queries: Option<u64>,
    pub(crate) pipeline_depth: usize,
    pub(crate) always_reset: bool,
    pub(crate) health_check_after: Option<Duration>,
    pub(crate) reset_query: String,
    pub(crate) after_connect: Option<ConnectHook>,
    pub(crate) before_acquire: Option<CheckHook>,
    pub(crate) after_release: Option<CheckHook>,
}

impl Options {
    /// How often the background task trims and refills the pool: often enough for
    /// the shortest configured duration to be honoured within a quarter of it.
    pub(crate) fn tick(&self) -> Duration {
        let mut tick = Duration::from_secs(1);
        for d in [self.idle_timeout, self.max_lifetime].into_iter().flatten() {
            tick = tick.min(d / 4);
        }
        tick.max(Duration::from_millis(5))
    }
}

/// Builds a [`Pool`]: `Pool::builder(config).max_size(16).build(runtime)`.
///
/// ```no_run
/// # fn f(config: apg::Config, runtime: std::sync::Arc<dyn apg::Runtime>) -> Result<(), apg::Error> {
/// use std::time::Duration;
///
/// let pool = apg::Pool::builder(config)
///     .max_size(16)
///     .min_idle(2)
///     .acquire_timeout(Some(Duration::from_secs(5)))
///     .after_connect(|client| async move { client.batch_execute("SET TIME ZONE 'UTC'").await })
///     .build(runtime)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PoolBuilder {
    pub(crate) config: Config,
    pub(crate) options: Options,
}

impl fmt::Debug for PoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("min_idle", &self.options.min_idle)
            .field("max_size", &self.options.max_size)
            .field("acquire_timeout", &self.options.acquire_timeout)
            .field("max_lifetime", &self.options.max_lifetime)
            .field("idle_timeout", &self.options.idle_timeout)
            .field("pipeline_depth", &self.options.pipeline_depth)
            .finish_non_exhaustive()
    }
}

impl PoolBuilder {
    /// Settings for a pool of connections made with `config`: at most 10 connections,
    /// none kept warm, a 30 s acquire timeout, a 30 min lifetime (with up to 10% of
    /// random jitter), a 10 min idle timeout, a health check for connections idle
    /// longer than 30 s, and [`DEFAULT_RESET_QUERY`].
    pub fn new(config: Config) -> Self {
        Self {
            config,
            options: Options {
                min_idle: 0,
                max_size: 10,
                acquire_timeout: Some(Duration::from_secs(30)),
                connect_timeout: None,
                max_lifetime: Some(Duration::from_secs(30 * 60)),
                lifetime_jitter: Duration::from_secs(3 * 60),
                idle_timeout: Some(Duration::from_secs(10 * 60)),
                max_queries: None,
                pipeline_depth: 1,
                always_reset: false,
                health_check_after: Some(Duration::from_secs(30)),
                reset_query: DEFAULT_RESET_QUERY.to_owned(),
                after_connect: None,
                before_acquire: None,
                after_release: None,
            },
        }
    }

    /// Connections the background task keeps open and idle (at most `max_size`).
    pub fn min_idle(mut self, n: usize) -> Self {
        self.options.min_idle = n;
        self
    }

    /// The most connections open at once, idle and in use (at least 1).
    pub fn max_size(mut self, n: usize) -> Self {
        self.options.max_size = n;
        self
    }

    /// How long [`Pool::acquire`] waits, including making a new connection, before it
    /// fails with [`PoolError::Timeout`](super::PoolError::Timeout). `None`: forever.
    pub fn acquire_timeout(mut self, limit: Option<Duration>) -> Self {
        self.options.acquire_timeout = limit;
        self
    }

    /// A limit for making one connection (start-up and authentication), on top of
    /// the configuration's own `connect_timeout`.
    pub fn connect_timeout(mut self, limit: Option<Duration>) -> Self {
        self.options.connect_timeout = limit;
        self
    }

    /// Connections older than this are closed (when idle or on return) and replaced.
    /// A random part of [`lifetime_jitter`](Self::lifetime_jitter) is subtracted per
    /// connection, so connections made together do not all expire together.
    pub fn max_lifetime(mut self, limit: Option<Duration>) -> Self {
        self.options.max_lifetime = limit;
        self.options.lifetime_jitter = limit.map_or(Duration::ZERO, |l| l / 10);
        self
    }

    /// The most [`max_lifetime`](Self::max_lifetime) is shortened by, at random, per
    /// connection (set after `max_lifetime`; it defaults to a tenth of it).
    pub fn lifetime_jitter(mut self, jitter: Duration) -> Self {
        self.options.lifetime_jitter = jitter;
        self
    }

    /// Connections idle longer than this are closed, as long as `min_idle` remain.
    pub fn idle_timeout(mut self, limit: Option<Duration>) -> Self {
        self.options.idle_timeout = limit;
        self
    }

    /// A connection that has run this many statements (each completed statement
    /// counts: a query, each row set of [`Client::execute_many`], each statement of a
    /// simple query, the pool's health checks and `after_connect` statements; the
    /// pool's resets do not) is closed when it is returned, like
    /// asyncpg's `max_queries`: bounds what a long-lived session accumulates on the
    /// server (memory of cached plans, catalog caches).
    pub fn max_queries(mut self, n: Option<u64>) -> Self {
        self.options.max_queries = n;
        self
    }

    /// How many one-call statements may run pipelined on one connection once every
    /// connection is in use: 1, the default, gives each statement a connection of its
    /// own (0 counts as 1).
    ///
    /// With a depth above 1, a call of [`Pool::query`], [`Pool::execute`] and the
    /// like that would wait for a connection instead joins the connection running
    /// the fewest statements. Its statement goes out behind theirs, often in the same
    /// socket write, and their answers come back together: fewer system calls and
    /// wake-ups per statement, for the client and for the server, and no wait for a
    /// connection to come back. Connections are still opened up to `max_size` before
    /// any is shared.
    ///
    /// Only SQL text that cannot change what the others see shares a connection: a
    /// query or DML (its first word `SELECT`, `VALUES`, `TABLE`, `WITH`, `INSERT`,
    /// `UPDATE`, `DELETE`, `MERGE` or `SHOW`) that does not name `set_config`,
    /// advisory-lock functions, `dblink_connect`, `query_to_xml` or a temporary
    /// table. Each runs in its own implicit transaction, so an error in one leaves
    /// the others as they were. Anything else, a prepared
    /// [`Statement`](crate::Statement), and [`Pool::acquire`] take a connection of
    /// their own, in the same first-come queue. A function called from a shared
    /// statement that changes the session anyway is seen as soon as the server
    /// reports it, if it changed a reported setting (`TimeZone`,
    /// `application_name`, ...): the connection then takes no more statements and is
    /// reset before it is used again (statements already queued on it run on the
    /// changed session). Other changes made inside functions are not seen; with
    /// [`always_reset`](Self::always_reset), which says such functions run, nothing
    /// shares.
    ///
    /// The price: a statement waits for those ahead of it on its connection. To
    /// keep one slow statement from holding up quick ones, a connection that has
    /// finished no statement for 25 ms takes no new ones until it does: whatever
    /// runs there is slow, or waits for a lock, perhaps one held by the caller that
    /// would queue behind it (a transaction open on a connection of its own). Such
    /// callers wait for a connection as they would without sharing. With a
    /// `command_timeout`, the cancel of a timed-out statement can also hit one queued
    /// right behind it (a cancel names the session, not the statement: see
    /// [`CancelToken`](crate::CancelToken)). It suits a load of short statements.
    ///
    /// ```no_run
    /// # fn f(config: apg::Config, runtime: std::sync::Arc<dyn apg::Runtime>) -> Result<(), apg::Error> {
    /// let pool = apg::Pool::builder(config)
    ///     .max_size(8)
    ///     .pipeline_depth(4) // up to 32 statements in flight
    ///     .build(runtime)?;
    /// # Ok(()) }
    /// ```
    pub fn pipeline_depth(mut self, depth: usize) -> Self {
        self.options.pipeline_depth = depth.max(1);
        self
    }

    /// A connection idle longer than this is checked with a round trip (`SELECT 1`)
    /// before it is handed out; a failed check replaces it. `None`: never.
    pub fn health_check_after(mut self, idle: Option<Duration>) -> Self {
        self.options.health_check_after = idle;
        self
    }

    /// The statements (simple protocol) run on a connection returned to the pool, in
    /// front of its next user's first request (no round trip of its own). A
    /// `ROLLBACK` is sent in front (pipelined, as a request of its own) when the
    /// connection is in a transaction block.
    /// An empty string disables the reset (the `ROLLBACK` still runs when needed).
    ///
    /// The reset runs only when the connection saw something that can outlive a
    /// transaction: a command other than queries, DML, `COPY`, cursor movement and
    /// transaction control (`SET`, `LISTEN`, `DECLARE`, `PREPARE`, `DO`, `CALL`,
    /// DDL, ...), a changed reported setting, or SQL calling advisory-lock
    /// functions or `set_config`. See [`always_reset`](Self::always_reset) for
    /// functions that change the session unseen.
    pub fn reset_query(mut self, sql: impl Into<String>) -> Self {
        self.options.reset_query = sql.into();
        self
    }

    /// Runs the reset on every return that sent anything, whether or not the
    /// connection was seen to change its session. For applications whose functions
    /// take advisory locks or change settings behind a plain `SELECT` (a
    /// PL/pgSQL function calling `pg_advisory_lock`), which the client cannot see.
    /// Off by default.
    pub fn always_reset(mut self, always: bool) -> Self {
        self.options.always_reset = always;
        self
    }

    /// Runs on every new connection before it is used (session settings, type
    /// registration). An error fails the connection: the acquire that made it gets
    /// the error.
    ///
    /// The default reset's `RESET ALL` undoes `SET` commands run here at the first
    /// return; settings meant to last belong in
    /// [`Config::server_settings`](crate::Config::server_settings) (sent at start-up,
    /// they are what `RESET ALL` returns to).
    pub fn after_connect<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Client) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.options.after_connect = Some(Arc::new(move |c| Box::pin(hook(c))));
        self
    }

    /// Runs before an idle connection is handed out; `false` closes it (the acquire
    /// goes on with another connection).
    pub fn before_acquire<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Client) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        self.options.before_acquire = Some(Arc::new(move |c| Box::pin(hook(c))));
        self
    }

    /// Runs when a connection is returned (after its reset was sent), in a background
    /// task; `false` closes it instead of keeping it.
    pub fn after_release<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Client) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        self.options.after_release = Some(Arc::new(move |c| Box::pin(hook(c))));
        self
    }

    /// Makes the pool and starts its background task on `runtime`. Connections are
    /// made when needed (and `min_idle` of them in the background).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when `max_size` is 0 or
    /// `min_idle` exceeds it.
    pub fn build(self, runtime: Arc<dyn Runtime>) -> Result<Pool, Error> {
        if self.options.max_size == 0 {
            return Err(Error::config("the pool's max_size must be at least 1"));
        }
        if self.options.min_idle > self.options.max_size {
            return Err(Error::config("the pool's min_idle exceeds its max_size"));
        }
        Ok(Pool::start(self.config, self.options, runtime))
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    #[cfg(unix)]
    use std::path::PathBuf;
    use std::time::Instant;

    use super::*;
    use crate::runtime::{AsyncStream, TcpOptions};

    /// A runtime that cannot do anything: enough for checks made before any I/O.
    #[derive(Debug)]
    struct NoRuntime;

    impl Runtime for NoRuntime {
        fn connect_tcp(
            &self,
            _: String,
            _: u16,
            _: TcpOptions,
        ) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>> {
            Box::pin(async { Err(io::ErrorKind::Unsupported.into()) })
        }

        #[cfg(unix)]
        fn connect_unix(&self, _: PathBuf) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>> {
            Box::pin(async { Err(io::ErrorKind::Unsupported.into()) })
        }

        fn spawn(&self, _: BoxFuture<'static, ()>) {}

        fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
            Box::pin(std::future::pending())
        }
    }

    #[test]
    fn invalid_sizes_are_config_errors() {
        let rt: Arc<dyn Runtime> = Arc::new(NoRuntime);
        let e = PoolBuilder::new(Config::new())
            .max_size(0)
            .build(Arc::clone(&rt))
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        let e = PoolBuilder::new(Config::new())
            .max_size(2)
            .min_idle(3)
            .build(Arc::clone(&rt))
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        let pool = PoolBuilder::new(Config::new())
            .max_size(2)
            .min_idle(2)
            .build(rt)
            .unwrap();
        assert_eq!(pool.stats().size, 0);
    }

    #[test]
    fn tick_follows_the_shortest_duration() {
        let b = PoolBuilder::new(Config::new());
        assert_eq!(b.options.tick(), Duration::from_secs(1));
        let b = b
            .idle_timeout(Some(Duration::from_millis(200)))
            .max_lifetime(Some(Duration::from_secs(60)));
        assert_eq!(b.options.tick(), Duration::from_millis(50));
        let b = b.idle_timeout(Some(Duration::ZERO));
        assert_eq!(b.options.tick(), Duration::from_millis(5));
    }

    #[test]
    fn lifetime_jitter_only_shortens() {
        let b = PoolBuilder::new(Config::new()).max_lifetime(Some(Duration::from_secs(100)));
        assert_eq!(b.options.lifetime_jitter, Duration::from_secs(10));
        for _ in 0..100 {
            let before = Instant::now();
            let expires = super::super::expiry(&b.options).unwrap();
            let left = expires - before;
            assert!(left <= Duration::from_secs(100), "{left:?}");
            assert!(left >= Duration::from_secs(89), "{left:?}");
        }
        let b = b.max_lifetime(None);
        assert!(super::super::expiry(&b.options).is_none());
    }
}
