//! A connection pool: [`Pool`], [`PooledConnection`], [`PoolBuilder`].
//!
//! Acquirers are served first come, first served; a returned connection is reset
//! (transaction rolled back, `UNLISTEN *`, advisory locks released, settings reset)
//! without a round trip of its own; connections that are broken, expired or left
//! mid-request are closed and replaced, never handed out dirty.

// Theory of operation. One mutex guards the pool's `State`: the idle connections,
// the number of connection slots taken (`size`: connections open, in use or being
// made), and a FIFO queue of waiting acquirers. It is never held across an await.
//
// *Hand-off, not wake-and-race.* When a connection comes back, or a slot frees up,
// while acquirers wait, it is given to the first waiter directly (stored under its
// id in `granted`, then its own waker is woken), so nobody overtakes it. A waiter
// whose future is dropped leaves the queue at once, and anything granted to it but
// not yet taken goes to the next waiter: no lost wake-ups.
//
// *Every slot has one owner.* Outside the lock a slot is owned by exactly one value
// whose `Drop` gives it back: a `Permit` (the right to make a connection), a
// `PooledConnection`, an idle entry, or a grant. So dropping an acquire at any
// await point (while connecting, during a health check, in a hook) leaks nothing.
//
// *Reset on release, without a round trip.* A returned connection that is quiet
// (no request in flight, no other handle such as a transaction or a row stream alive,
// not closed) gets its reset query (after a `ROLLBACK` if the last ReadyForQuery said
// it is in a transaction block) *sent* at once; its answer is read later. The next
// user's first request is pipelined behind the reset on the same socket, and the
// reset's answer is checked when it is there (at checkout, or at the next return at
// the latest); a failed reset closes the connection. A connection that is not quiet
// is closed, never handed out dirty. A connection returned without a single byte
// written since it was handed out clean needs no reset at all, and one whose session
// was not seen to change (`crate::session`: only queries, DML and transaction
// control ran) needs at most the `ROLLBACK`.
//
// *Shared connections* (`PoolBuilder::pipeline_depth` above 1). A one-call statement
// that cannot change what others see (`session::sql_is_self_contained`) and would
// otherwise wait joins a `Lease`: a checked-out connection lent to such statements,
// up to the depth at a time, counted under the pool's lock. Joining follows the same
// rule as taking an idle connection (only when nobody waits), and a statement's
// place on a lease is handed to the first waiter if it can share, so the queue stays
// first come, first served: an acquirer that needs a connection of its own stops new
// joins until a lease drains and comes back. The last statement to leave a lease
// returns its connection through the ordinary release. A lease takes no new
// statements once its connection is closed, expired, retired or past `max_queries`,
// so a busy one still drains; nor once its session changed (the driver counts the
// evidence in an atomic the pool reads without the connection's lock), nor while it
// has finished nothing for `STALLED_AFTER` (a slow statement, or one waiting for a
// lock that the next caller may hold).

mod options;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::{poll_fn, Future};
use std::hash::BuildHasherDefault;
use std::ops::Deref;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use apg_proto::connection::{Outcome, Request, Response};
use apg_proto::message::backend::TransactionStatus;
use apg_proto::types::FromSql;

use crate::cancel::race;
use crate::client::{usage_error, Client, Params, Query, ToStatement};
use crate::config::Config;
use crate::error::Error;
use crate::row::Row;
use crate::runtime::Runtime;
use crate::session;
use crate::shared::{noop_waker, Access, IdHasher, Item, Responses};

use options::Options;
pub use options::{PoolBuilder, DEFAULT_RESET_QUERY};

/// Why [`Pool::acquire`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError {
    /// No connection became available within the acquire timeout.
    Timeout,
    /// The pool is closed ([`Pool::close`]).
    Closed,
    /// A new connection could not be made (or its `after_connect` hook failed).
    Connect(Error),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out waiting for a pooled connection"),
            Self::Closed => f.write_str("the pool is closed"),
            Self::Connect(e) => write!(f, "cannot make a pooled connection: {e}"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect(e) => Some(e),
            Self::Timeout | Self::Closed => None,
        }
    }
}

impl From<PoolError> for Error {
    /// [`PoolError::Timeout`] becomes [`ErrorKind::Timeout`](crate::ErrorKind::Timeout),
    /// [`PoolError::Closed`] [`ErrorKind::Closed`](crate::ErrorKind::Closed), and a
    /// connect failure its own error.
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Timeout => Self::timeout("timed out waiting for a pooled connection"),
            PoolError::Closed => Self::closed_by_client("the pool is closed"),
            PoolError::Connect(e) => e,
        }
    }
}

/// Why the pool closed connections, counted in [`PoolStats::closed`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClosedCounts {
    /// The connection was found closed (the server ended it, the socket failed) or
    /// failed its health check.
    pub broken: u64,
    /// Older than the maximum lifetime, or expired by [`Pool::expire_connections`].
    pub expired: u64,
    /// Idle longer than the idle timeout.
    pub idle: u64,
    /// Ran the maximum number of statements ([`PoolBuilder::max_queries`]).
    pub max_queries: u64,
    /// Returned while not quiet (a request in flight because its future was dropped,
    /// a transaction, row stream or COPY still alive), or its reset failed.
    pub dirty: u64,
    /// Rejected by the `before_acquire` or `after_release` hook.
    pub rejected: u64,
    /// Closed with the pool, or returned after it closed.
    pub pool_closed: u64,
}

/// A snapshot of a pool's state and counters ([`Pool::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Connections open or being made.
    pub size: usize,
    /// Connections idle in the pool.
    pub idle: usize,
    /// Connections checked out (or being made for an acquirer).
    pub in_use: usize,
    /// Acquirers waiting for a connection.
    pub waiters: usize,
    /// Successful acquires.
    pub acquires: u64,
    /// Acquires that timed out.
    pub timeouts: u64,
    /// Total time acquirers spent waiting, successful or not: from when an acquire
    /// had to wait (for a connection, a new connection, a health check or a hook) to
    /// its end. An acquire that found an idle connection at once adds nothing.
    pub acquire_wait: Duration,
    /// Connections made.
    pub created: u64,
    /// Returns that sent the reset query (the session was seen to change, or
    /// [`PoolBuilder::always_reset`]).
    pub resets: u64,
    /// Returns that sent a `ROLLBACK` (a transaction was left open).
    pub rollbacks: u64,
    /// One-call statements that ran on a connection already running others
    /// ([`PoolBuilder::pipeline_depth`]); counted in `acquires` too.
    pub shared: u64,
    /// Connections lent to one-call statements that share them, now.
    pub leases: usize,
    /// Connections closed, by reason.
    pub closed: ClosedCounts,
}

#[derive(Debug, Clone, Copy)]
enum Reason {
    Broken,
    Expired,
    Idle,
    MaxQueries,
    Dirty,
    Rejected,
    PoolClosed,
}

/// A connection owned by the pool, with what the pool knows about it.
struct Conn {
    client: Client,
    expires: Option<Instant>,
    generation: u64,
}

/// What a returned connection's state says, read under one lock.
struct Session {
    /// Requests sent and not yet answered.
    in_flight: usize,
    /// A transaction block is open (or failed): a `ROLLBACK` is due.
    rollback: bool,
    /// The session was seen to change beyond its transactions.
    changed: bool,
    /// Statements run on the connection.
    statements: u64,
    /// The connection is closed.
    closed: bool,
    /// Writes to the socket so far (see [`PooledConnection::writes`]).
    writes: u64,
}

/// An idle connection.
struct IdleConn {
    conn: Conn,
    since: Instant,
    /// The reset sent when it was returned, whose answer is not read yet.
    reset: Option<Responses>,
}

/// What a waiter was given.
enum Grant {
    Idle(IdleConn),
    /// A slot: the right to make a new connection.
    Open,
    /// A place on a shared connection.
    Join(Arc<Lease>),
}

/// A checked-out connection lent to one-call statements that run pipelined on it.
/// Dropping the last reference returns the connection to the pool.
struct Lease {
    pooled: PooledConnection,
    /// The connection's count of session changes when lent: any further change (a
    /// function that set a reported parameter, a request dropped unanswered) or the
    /// connection closing moves it.
    changes_at_lend: u64,
}

impl Lease {
    /// The session changed, or the connection closed, since it was lent.
    fn spoiled(&self) -> bool {
        self.pooled.shared().session_changes() != self.changes_at_lend
    }
}

/// A shared connection that has finished no statement for this long is running
/// something slow, or waiting for a lock (perhaps one its next statement's caller
/// holds): it takes no new statements meanwhile.
const STALLED_AFTER: Duration = Duration::from_millis(25);

/// A lease, as the pool's state keeps it.
struct LeaseEntry {
    lease: Arc<Lease>,
    /// Statements on it, or granted to waiters.
    users: usize,
    /// Statements it may still take before `max_queries` ([`u64::MAX`]: no limit).
    joins_left: u64,
    generation: u64,
    expires: Option<Instant>,
    /// When it was lent, or a statement on it last ended.
    progress: Instant,
}

struct State {
    /// Most recently returned at the back: acquires take from the back (warm
    /// connections), the idle timeout trims from the front.
    idle: VecDeque<IdleConn>,
    size: usize,
    /// Slots taken by the background task to make `min_idle` connections.
    opening: usize,
    waiting: VecDeque<Waiting>,
    leases: Vec<LeaseEntry>,
    /// The acquire-timeout task, parked while nobody waits.
    sweeper: Option<Waker>,
    /// Keyed by waiter ids, which the pool numbers itself: no flooding to fear,
    /// so no SipHash on every hand-off.
    granted: HashMap<u64, Grant, BuildHasherDefault<IdHasher>>,
    next_waiter: u64,
    closed: bool,
    close_waiters: Vec<Waker>,
    generation: u64,
}

#[derive(Default)]
struct Counters {
    acquires: AtomicU64,
    timeouts: AtomicU64,
    wait_nanos: AtomicU64,
    created: AtomicU64,
    resets: AtomicU64,
    rollbacks: AtomicU64,
    shared: AtomicU64,
    closed: [AtomicU64; 7],
}

struct Inner {
    config: Config,
    runtime: Arc<dyn Runtime>,
    options: Options,
    state: Mutex<State>,
    counters: Counters,
    /// `State::closed` and `State::generation`, readable without the lock: a return
    /// checks them before sending a reset to a connection that is to be closed.
    closed_now: AtomicBool,
    generation_now: AtomicU64,
}

/// A pool of connections to one database, shared by cloning (cheap).
///
/// [`acquire`](Self::acquire) checks a connection out; it returns to the pool when
/// the [`PooledConnection`] is dropped, after a reset (see [`PoolBuilder::reset_query`]).
/// [`query`](Self::query), [`execute`](Self::execute) and the other one-call methods
/// acquire, run and release.
///
/// ```no_run
/// # async fn f(config: apg::Config, runtime: std::sync::Arc<dyn apg::Runtime>) -> Result<(), apg::Error> {
/// let pool = apg::Pool::builder(config).max_size(8).build(runtime)?;
/// let n: i64 = pool.query_scalar("SELECT $1::int8 * 2", &[&21i64]).await?;
/// assert_eq!(n, 42);
///
/// let conn = pool.acquire().await?;
/// let tx = conn.transaction().await?;
/// tx.execute("UPDATE accounts SET balance = balance - 1 WHERE id = $1", &[&1i32]).await?;
/// tx.commit().await?;
/// drop(conn); // back to the pool
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every critical section leaves the state consistent before anything can panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// When a connection made now expires: the lifetime minus a random part of the jitter.
fn expiry(options: &Options) -> Option<Instant> {
    let lifetime = options.max_lifetime?;
    let jitter = nanos(options.lifetime_jitter.min(lifetime));
    // Without random numbers every connection simply gets the full lifetime.
    let cut = match getrandom::u64() {
        Ok(r) if jitter > 0 => r % jitter,
        _ => 0,
    };
    Some(Instant::now() + lifetime - Duration::from_nanos(cut))
}

/// Reads what has arrived of a reset's answer: `Some(true)` if it succeeded,
/// `Some(false)` if it failed, `None` if it is still in flight.
fn reset_result(reset: &mut Responses) -> Option<bool> {
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut failed = false;
    loop {
        match reset.poll_next(&mut cx) {
            Poll::Ready(Item::Response(Response::Error(_))) => failed = true,
            Poll::Ready(Item::Response(_)) => {}
            Poll::Ready(Item::Done(outcome)) => {
                return Some(!failed && outcome == Outcome::Success)
            }
            Poll::Pending => return None,
        }
    }
}

impl Pool {
    /// Settings for a pool of connections made with `config`; see [`PoolBuilder`].
    pub fn builder(config: Config) -> PoolBuilder {
        PoolBuilder::new(config)
    }

    pub(crate) fn start(config: Config, options: Options, runtime: Arc<dyn Runtime>) -> Self {
        let inner = Arc::new(Inner {
            config,
            runtime,
            options,
            state: Mutex::new(State {
                idle: VecDeque::new(),
                size: 0,
                opening: 0,
                waiting: VecDeque::new(),
                leases: Vec::new(),
                sweeper: None,
                granted: HashMap::default(),
                next_waiter: 0,
                closed: false,
                close_waiters: Vec::new(),
                generation: 0,
            }),
            counters: Counters::default(),
            closed_now: AtomicBool::new(false),
            generation_now: AtomicU64::new(0),
        });
        spawn_maintenance(&inner);
        if inner.options.acquire_timeout.is_some() {
            spawn_sweeper(&inner);
        }
        Self { inner }
    }

    /// Checks a connection out: an idle one if there is one, else a new one if the
    /// pool is below its maximum size, else the first one returned. Acquirers are
    /// served in the order they asked.
    ///
    /// # Errors
    ///
    /// [`PoolError::Timeout`] when the acquire timeout elapses first,
    /// [`PoolError::Closed`] when the pool is closed, [`PoolError::Connect`] when a
    /// new connection cannot be made.
    pub async fn acquire(&self) -> Result<PooledConnection, PoolError> {
        // The clock is read only if the acquire has to wait: most do not.
        let mut waiting_since = None;
        let result = self.inner.acquire(&mut waiting_since).await;
        self.inner.count_acquire(waiting_since, &result);
        result
    }

    /// A connection for one statement: a place on a shared one if the pool
    /// pipelines and the statement allows it, else one of its own.
    async fn one_call(&self, query: Query<'_>) -> Result<OneCall, PoolError> {
        let options = &self.inner.options;
        // `always_reset` says functions change the session unseen: nothing shares.
        let shares = options.pipeline_depth > 1
            && !options.always_reset
            && matches!(query, Query::Sql(sql) if session::sql_is_self_contained(sql));
        if !shares {
            return self.acquire().await.map(OneCall::Own);
        }
        let mut waiting_since = None;
        let result = self.inner.share(&mut waiting_since).await;
        self.inner.count_acquire(waiting_since, &result);
        result
    }

    /// Acquires a connection, runs [`Client::query`] and releases the connection.
    ///
    /// # Errors
    ///
    /// The acquire's error (converted, see [`PoolError`]) or the query's.
    pub async fn query<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, Error> {
        self.one_call(statement.query())
            .await?
            .query(statement, params)
            .await
    }

    /// Acquires a connection, runs [`Client::query_one`] and releases the connection.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query).
    pub async fn query_one<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Row, Error> {
        self.one_call(statement.query())
            .await?
            .query_one(statement, params)
            .await
    }

    /// Acquires a connection, runs [`Client::query_opt`] and releases the connection.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query).
    pub async fn query_opt<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Option<Row>, Error> {
        self.one_call(statement.query())
            .await?
            .query_opt(statement, params)
            .await
    }

    /// Acquires a connection, runs [`Client::query_scalar`] and releases the
    /// connection.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query).
    pub async fn query_scalar<T, S>(&self, statement: &S, params: &Params<'_>) -> Result<T, Error>
    where
        T: for<'a> FromSql<'a>,
        S: ToStatement + ?Sized,
    {
        self.one_call(statement.query())
            .await?
            .query_scalar(statement, params)
            .await
    }

    /// Acquires a connection, runs [`Client::execute`] and releases the connection.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query).
    pub async fn execute<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<u64, Error> {
        self.one_call(statement.query())
            .await?
            .execute(statement, params)
            .await
    }

    /// Closes the pool: acquires fail with [`PoolError::Closed`] from now on, idle
    /// connections are closed at once, and checked-out ones when they are returned.
    /// Completes when every connection is closed.
    pub async fn close(&self) {
        let (idle, waiters) = {
            let mut st = lock(&self.inner.state);
            st.closed = true;
            self.inner.closed_now.store(true, Ordering::Relaxed);
            let idle: Vec<IdleConn> = st.idle.drain(..).collect();
            st.size -= idle.len();
            let mut waiters: Vec<Waker> = st.waiting.iter().map(|w| w.waker.clone()).collect();
            waiters.extend(st.sweeper.take());
            (idle, waiters)
        };
        for w in waiters {
            w.wake();
        }
        for i in idle {
            self.inner.count(Reason::PoolClosed);
            i.conn.client.close().await;
        }
        poll_fn(|cx| {
            let mut st = lock(&self.inner.state);
            if st.size == 0 {
                Poll::Ready(())
            } else {
                st.close_waiters.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        lock(&self.inner.state).closed
    }

    /// Retires every connection open now: idle ones are closed at once, checked-out
    /// ones when they are returned. New connections replace them as needed (after a
    /// failover, a password rotation, a change of server settings).
    pub fn expire_connections(&self) {
        let idle: Vec<IdleConn> = {
            let mut st = lock(&self.inner.state);
            st.generation += 1;
            self.inner
                .generation_now
                .store(st.generation, Ordering::Relaxed);
            st.idle.drain(..).collect()
        };
        for i in idle {
            self.inner.discard(i.conn, Reason::Expired);
        }
    }

    /// The pool's size, idle and waiting counts, and counters.
    pub fn stats(&self) -> PoolStats {
        let c = &self.inner.counters;
        let get = |i: usize| c.closed[i].load(Ordering::Relaxed);
        let st = lock(&self.inner.state);
        PoolStats {
            size: st.size,
            idle: st.idle.len(),
            in_use: st.size.saturating_sub(st.idle.len() + st.opening),
            waiters: st.waiting.len(),
            acquires: c.acquires.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            acquire_wait: Duration::from_nanos(c.wait_nanos.load(Ordering::Relaxed)),
            created: c.created.load(Ordering::Relaxed),
            resets: c.resets.load(Ordering::Relaxed),
            rollbacks: c.rollbacks.load(Ordering::Relaxed),
            shared: c.shared.load(Ordering::Relaxed),
            leases: st.leases.len(),
            closed: ClosedCounts {
                broken: get(Reason::Broken as usize),
                expired: get(Reason::Expired as usize),
                idle: get(Reason::Idle as usize),
                max_queries: get(Reason::MaxQueries as usize),
                dirty: get(Reason::Dirty as usize),
                rejected: get(Reason::Rejected as usize),
                pool_closed: get(Reason::PoolClosed as usize),
            },
        }
    }
}

/// The background task: trims expired and long-idle connections and keeps `min_idle`
/// connections open, retrying failed connects with exponential backoff. It ends when
/// the pool is closed or dropped.
fn spawn_maintenance(inner: &Arc<Inner>) {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let runtime = Arc::clone(&inner.runtime);
    let tick = inner.options.tick();
    let task = async move {
        let mut backoff: Option<Duration> = None;
        loop {
            {
                let Some(inner) = weak.upgrade() else { return };
                if lock(&inner.state).closed {
                    return;
                }
                inner.trim();
                backoff = match inner.fill().await {
                    Ok(()) => None,
                    Err(_) => Some(backoff.map_or(Duration::from_millis(50), |b| {
                        (b * 2).min(Duration::from_secs(5))
                    })),
                };
            }
            runtime.sleep(backoff.unwrap_or(tick)).await;
        }
    };
    inner.runtime.spawn(Box::pin(task));
}

/// The acquire timeout, for every waiter with one timer: the task sleeps until the
/// earliest deadline in the queue, wakes the waiters past theirs (each then leaves
/// the queue with [`PoolError::Timeout`]), and parks while nobody waits. A timer per
/// acquire would cost more than the rest of a checkout. It ends with the pool.
fn spawn_sweeper(inner: &Arc<Inner>) {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let runtime = Arc::clone(&inner.runtime);
    let task = async move {
        loop {
            let (next, seen) = {
                let Some(inner) = weak.upgrade() else { return };
                let st = lock(&inner.state);
                if st.closed {
                    return;
                }
                // Waiters are numbered in order of arrival: a later number means a
                // waiter this scan has not seen.
                let seen = st.next_waiter;
                let now = Instant::now();
                let mut next: Option<Instant> = None;
                let mut expired = Vec::new();
                for w in &st.waiting {
                    match w.deadline {
                        Some(d) if d <= now => expired.push(w.waker.clone()),
                        Some(d) => next = Some(next.map_or(d, |n| n.min(d))),
                        None => {}
                    }
                }
                drop(st);
                for w in expired {
                    w.wake();
                }
                (next.map(|d| d.saturating_duration_since(now)), seen)
            };
            match next {
                Some(wait) => runtime.sleep(wait).await,
                // Park until a new waiter arrives (or the pool goes). Waiters already
                // past their deadline but not yet gone are not a reason to look
                // again: they were woken, and leave when they run.
                None => {
                    poll_fn(|cx| {
                        let Some(inner) = weak.upgrade() else {
                            return Poll::Ready(());
                        };
                        let mut st = lock(&inner.state);
                        if st.closed || st.next_waiter != seen {
                            return Poll::Ready(());
                        }
                        st.sweeper = Some(cx.waker().clone());
                        Poll::Pending
                    })
                    .await;
                }
            }
        }
    };
    inner.runtime.spawn(Box::pin(task));
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The sweeper holds the pool weakly: wake it to see that it is gone.
        let sweeper = lock(&self.state).sweeper.take();
        if let Some(sweeper) = sweeper {
            sweeper.wake();
        }
    }
}

impl Inner {
    fn count(&self, reason: Reason) {
        self.counters.closed[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Closes a connection and gives its slot back.
    fn discard(self: &Arc<Self>, conn: Conn, reason: Reason) {
        // Dropping the last handle sends Terminate.
        drop(conn);
        self.free_slot();
        // Counted last: whoever sees the count sees the slot free too.
        self.count(reason);
    }

    /// A slot was given up: hand it to the first waiter, if any.
    fn free_slot(&self) {
        let mut st = lock(&self.state);
        st.size = st.size.saturating_sub(1);
        let mut wake: Vec<Waker> = self.hand_off_slot(&mut st).into_iter().collect();
        if !wake.is_empty() {
            self.serve_sharers(&mut st, &mut wake);
        }
        if st.closed && st.size == 0 {
            wake.append(&mut st.close_waiters);
        }
        drop(st);
        for w in wake {
            w.wake();
        }
    }

    /// Gives a free slot to the first waiter; returns its waker.
    fn hand_off_slot(&self, st: &mut State) -> Option<Waker> {
        if st.closed || st.size >= self.options.max_size {
            return None;
        }
        let Waiting { id, waker, .. } = st.waiting.pop_front()?;
        st.size += 1;
        st.granted.insert(id, Grant::Open);
        Some(waker)
    }

    /// Puts a connection in the idle list, or gives it to the first waiter.
    fn put_idle(self: &Arc<Self>, idle: IdleConn) {
        let mut st = lock(&self.state);
        if st.closed {
            drop(st);
            return self.discard(idle.conn, Reason::PoolClosed);
        }
        if idle.conn.generation != st.generation {
            drop(st);
            return self.discard(idle.conn, Reason::Expired);
        }
        match st.waiting.pop_front() {
            Some(Waiting { id, waker, .. }) => {
                st.granted.insert(id, Grant::Idle(idle));
                let mut wake = vec![waker];
                self.serve_sharers(&mut st, &mut wake);
                drop(st);
                for w in wake {
                    w.wake();
                }
            }
            None => st.idle.push_back(idle),
        }
    }

    /// Waits for an idle connection or a slot, first come first served, until
    /// the acquire timeout (enforced by the sweeper task, which wakes waiters past
    /// their deadline). Sets `waiting_since` when it has to wait.
    /// `shares`: the acquirer runs one self-contained statement and can take a place
    /// on a shared connection.
    async fn grant(
        self: &Arc<Self>,
        waiting_since: &mut Option<Instant>,
        shares: bool,
    ) -> Result<Grant, PoolError> {
        let mut deadline = None;
        let mut waiter = Waiter {
            inner: Arc::clone(self),
            id: None,
        };
        poll_fn(|cx| {
            let mut st = lock(&self.state);
            if st.closed {
                return Poll::Ready(Err(PoolError::Closed));
            }
            if let Some(id) = waiter.id {
                if let Some(grant) = st.granted.remove(&id) {
                    waiter.id = None;
                    return Poll::Ready(Ok(grant));
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    // Leaves the queue through the waiter's Drop.
                    return Poll::Ready(Err(PoolError::Timeout));
                }
                if let Some(w) = st.waiting.iter_mut().find(|w| w.id == id) {
                    if !w.waker.will_wake(cx.waker()) {
                        w.waker = cx.waker().clone();
                    }
                }
                return Poll::Pending;
            }
            // Only when nobody waits: a newcomer never overtakes a waiter.
            if st.waiting.is_empty() {
                if let Some(idle) = st.idle.pop_back() {
                    return Poll::Ready(Ok(Grant::Idle(idle)));
                }
                if st.size < self.options.max_size {
                    st.size += 1;
                    return Poll::Ready(Ok(Grant::Open));
                }
                if shares {
                    if let Some(lease) = self.join(&mut st) {
                        return Poll::Ready(Ok(Grant::Join(lease)));
                    }
                }
            }
            let since = *waiting_since.get_or_insert_with(Instant::now);
            deadline = self.deadline(since);
            let id = st.next_waiter;
            st.next_waiter += 1;
            st.waiting.push_back(Waiting {
                id,
                waker: cx.waker().clone(),
                deadline,
                shares,
            });
            waiter.id = Some(id);
            // The sweeper parks while nobody waits: it has a deadline to watch now.
            let sweeper = if deadline.is_some() {
                st.sweeper.take()
            } else {
                None
            };
            drop(st);
            if let Some(sweeper) = sweeper {
                sweeper.wake();
            }
            Poll::Pending
        })
        .await
    }

    async fn acquire(
        self: &Arc<Self>,
        waiting_since: &mut Option<Instant>,
    ) -> Result<PooledConnection, PoolError> {
        let grant = self.grant(waiting_since, false).await?;
        self.take(grant, waiting_since).await
    }

    /// A place on a shared connection for one self-contained statement: on one
    /// already lent, or on a connection checked out now and lent from here on.
    async fn share(
        self: &Arc<Self>,
        waiting_since: &mut Option<Instant>,
    ) -> Result<OneCall, PoolError> {
        loop {
            let lease = match self.grant(waiting_since, true).await? {
                Grant::Join(lease) => lease,
                grant => {
                    let pooled = self.take(grant, waiting_since).await?;
                    return Ok(self.lend(pooled));
                }
            };
            // The session may have changed between the grant and now (a place handed
            // on by another task): then the statement waits for another connection.
            if lease.spoiled() {
                self.leave(lease);
                continue;
            }
            self.counters.shared.fetch_add(1, Ordering::Relaxed);
            return Ok(OneCall::Shared(Share {
                inner: Arc::clone(self),
                lease: Some(lease),
            }));
        }
    }

    /// Turns a grant into a connection of the caller's own: makes one, or checks
    /// an idle one (and makes one in its place if it fails the check).
    async fn take(
        self: &Arc<Self>,
        mut grant: Grant,
        waiting_since: &mut Option<Instant>,
    ) -> Result<PooledConnection, PoolError> {
        loop {
            match grant {
                // Only acquirers that share are given places on shared connections.
                Grant::Join(lease) => {
                    debug_assert!(false, "a place on a shared connection for an acquirer");
                    self.leave(lease);
                    grant = self.grant(waiting_since, false).await?;
                }
                Grant::Open => {
                    let permit = Permit {
                        inner: Some(Arc::clone(self)),
                    };
                    // Boxed: connecting is rare, and its large future would otherwise
                    // make every acquire's future that large.
                    let conn = self
                        .until(waiting_since, Box::pin(self.open()))
                        .await?
                        .map_err(PoolError::Connect)?;
                    let mut pooled = PooledConnection {
                        inner: Arc::clone(self),
                        conn: Some(conn),
                        reset: None,
                        writes: None,
                        discard: false,
                    };
                    pooled.writes = pooled.untouched_mark();
                    permit.disarm();
                    if lock(&self.state).closed {
                        // Dropping it returns it to the closed pool, which closes it.
                        return Err(PoolError::Closed);
                    }
                    return Ok(pooled);
                }
                Grant::Idle(idle) => match self.until(waiting_since, self.check_out(idle)).await? {
                    Ok(pooled) => return Ok(pooled),
                    // The slot of the connection just closed is ours to refill.
                    Err(()) => grant = Grant::Open,
                },
            }
        }
    }

    /// Counts an acquire's outcome and wait.
    fn count_acquire<T>(&self, waiting_since: Option<Instant>, result: &Result<T, PoolError>) {
        let c = &self.counters;
        if let Some(since) = waiting_since {
            c.wait_nanos
                .fetch_add(nanos(since.elapsed()), Ordering::Relaxed);
        }
        match result {
            Ok(_) => c.acquires.fetch_add(1, Ordering::Relaxed),
            Err(PoolError::Timeout) => c.timeouts.fetch_add(1, Ordering::Relaxed),
            Err(_) => 0,
        };
    }

    /// Lends a connection just checked out to one statement (the caller's) and
    /// more to come; gives places on it to waiters at the front that share.
    ///
    /// A connection whose reset is still in flight is not lent (the caller runs
    /// alone) until the reset's answer is checked at its return, or its failure
    /// would reach every statement on it; nor is one closed or in a transaction.
    fn lend(self: &Arc<Self>, pooled: PooledConnection) -> OneCall {
        let (generation, expires) = match &pooled.conn {
            Some(conn) => (conn.generation, conn.expires),
            None => return OneCall::Own(pooled),
        };
        let (statements, changes_at_lend, alone) = {
            let st = pooled.shared().lock();
            (
                st.session.statements(),
                pooled.shared().session_changes(),
                st.is_closed() || st.conn.transaction_status() != TransactionStatus::Idle,
            )
        };
        if alone || pooled.reset.is_some() {
            return OneCall::Own(pooled);
        }
        let joins_left = match self.options.max_queries {
            Some(max) => max.saturating_sub(statements),
            None => u64::MAX,
        };
        let lease = Arc::new(Lease {
            pooled,
            changes_at_lend,
        });
        let mut wake = Vec::new();
        {
            let mut st = lock(&self.state);
            st.leases.push(LeaseEntry {
                lease: Arc::clone(&lease),
                users: 1,
                joins_left: joins_left.saturating_sub(1),
                generation,
                expires,
                progress: Instant::now(),
            });
            self.serve_sharers(&mut st, &mut wake);
        }
        for w in wake {
            w.wake();
        }
        OneCall::Shared(Share {
            inner: Arc::clone(self),
            lease: Some(lease),
        })
    }

    /// Gives places on leases to the waiters at the front of the queue that share,
    /// while leases have room: called wherever the front of the queue may change.
    /// A waiter that needs a connection of its own stops it, so nobody overtakes it.
    fn serve_sharers(&self, st: &mut State, wake: &mut Vec<Waker>) {
        while st.waiting.front().is_some_and(|w| w.shares) {
            let Some(lease) = self.join(st) else { break };
            if let Some(w) = st.waiting.pop_front() {
                st.granted.insert(w.id, Grant::Join(lease));
                wake.push(w.waker);
            }
        }
    }

    /// Whether a lease can take one more statement now.
    fn joinable(&self, entry: &LeaseEntry, st: &State, now: &mut Option<Instant>) -> bool {
        if st.closed || entry.joins_left == 0 || entry.generation != st.generation {
            return false;
        }
        if entry.lease.spoiled() {
            return false;
        }
        let now = *now.get_or_insert_with(Instant::now);
        entry.expires.map_or(true, |e| now < e)
            && now.saturating_duration_since(entry.progress) < STALLED_AFTER
    }

    /// A place on the lease running the fewest statements, below the depth.
    fn join(&self, st: &mut State) -> Option<Arc<Lease>> {
        let mut now = None;
        let mut best: Option<usize> = None;
        for (i, entry) in st.leases.iter().enumerate() {
            if entry.users < self.options.pipeline_depth
                && best.map_or(true, |b| entry.users < st.leases[b].users)
                && self.joinable(entry, st, &mut now)
            {
                best = Some(i);
            }
        }
        let entry = &mut st.leases[best?];
        entry.users += 1;
        entry.joins_left = entry.joins_left.saturating_sub(1);
        Some(Arc::clone(&entry.lease))
    }

    /// A statement left a lease: its place goes to the first waiter if that one
    /// shares; the last to leave returns the connection.
    fn leave(self: &Arc<Self>, lease: Arc<Lease>) {
        let mut wake = Vec::new();
        let now = Instant::now();
        let removed = {
            let mut st = lock(&self.state);
            let Some(i) = st.leases.iter().position(|e| Arc::ptr_eq(&e.lease, &lease)) else {
                // Not lent (cannot happen): dropping the last reference returns it.
                return;
            };
            let entry = &mut st.leases[i];
            entry.users -= 1;
            entry.progress = now;
            // `join` removes no lease: `i` still names this one.
            self.serve_sharers(&mut st, &mut wake);
            (st.leases[i].users == 0).then(|| st.leases.swap_remove(i))
        };
        for w in wake {
            w.wake();
        }
        // The last references, when the lease was removed: the connection goes back
        // through the ordinary release, outside the lock.
        drop(removed);
        drop(lease);
    }

    /// Runs `future` until the acquire timeout, counted from `waiting_since` (set
    /// now if the acquire has not waited yet): [`PoolError::Timeout`] after it. A
    /// future that completes at once (a checkout with no health check or hook to wait
    /// for) costs neither a clock reading nor a timer.
    async fn until<F: Future>(
        &self,
        waiting_since: &mut Option<Instant>,
        future: F,
    ) -> Result<F::Output, PoolError> {
        let mut future = pin!(future);
        let first = poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
        if let Poll::Ready(output) = first {
            return Ok(output);
        }
        let since = *waiting_since.get_or_insert_with(Instant::now);
        let Some(deadline) = self.deadline(since) else {
            return Ok(future.await);
        };
        let limit = deadline.saturating_duration_since(Instant::now());
        race(&*self.runtime, limit, future)
            .await
            .ok_or(PoolError::Timeout)
    }

    /// When an acquire that began waiting at `since` times out: never without an
    /// acquire timeout, or with one too long to add.
    fn deadline(&self, since: Instant) -> Option<Instant> {
        since.checked_add(self.options.acquire_timeout?)
    }

    /// Makes a new connection and runs the `after_connect` hook. The caller owns the
    /// slot.
    async fn open(&self) -> Result<Conn, Error> {
        let connect = Client::connect(&self.config, Arc::clone(&self.runtime));
        let client = match self.options.connect_timeout {
            Some(limit) => race(&*self.runtime, limit, connect)
                .await
                .unwrap_or_else(|| Err(Error::timeout("the pool's connect_timeout elapsed")))?,
            None => connect.await?,
        };
        if let Some(hook) = &self.options.after_connect {
            hook(client.clone()).await?;
        }
        self.counters.created.fetch_add(1, Ordering::Relaxed);
        let generation = lock(&self.state).generation;
        Ok(Conn {
            client,
            expires: expiry(&self.options),
            generation,
        })
    }

    /// Checks an idle connection before handing it out. `Err` means it was closed and
    /// its slot is the caller's.
    async fn check_out(self: &Arc<Self>, idle: IdleConn) -> Result<PooledConnection, ()> {
        let IdleConn {
            conn,
            since,
            mut reset,
        } = idle;
        // Closed if this future is dropped mid-check.
        let mut pooled = PooledConnection {
            inner: Arc::clone(self),
            conn: Some(conn),
            reset: None,
            writes: None,
            discard: true,
        };
        let mut mark = None;
        let verdict = self.verdict(&pooled, &mut reset, since, &mut mark).await;
        match verdict {
            None => {
                pooled.discard = false;
                pooled.reset = reset;
                pooled.writes = match mark {
                    Some(writes) if pooled.reset.is_none() => Some(writes),
                    _ => pooled.untouched_mark(),
                };
                Ok(pooled)
            }
            Some(reason) => {
                if let Some(conn) = pooled.conn.take() {
                    self.count(reason);
                    drop(conn);
                }
                Err(())
            }
        }
    }

    /// Why an idle connection cannot be handed out, if it cannot. Sets `mark` to the
    /// connection's write count when nothing was sent during the checks.
    async fn verdict(
        &self,
        pooled: &PooledConnection,
        reset: &mut Option<Responses>,
        since: Instant,
        mark: &mut Option<u64>,
    ) -> Option<Reason> {
        let conn = pooled.conn.as_ref()?;
        if let Some(r) = reset {
            match reset_result(r) {
                Some(true) => *reset = None,
                Some(false) => return Some(Reason::Dirty),
                None => {}
            }
        }
        // The driver reads even while the connection is idle, so a FATAL (e.g. from
        // pg_terminate_backend) or EOF has already closed it: no round trip needed.
        let (closed, writes) = {
            let st = conn.client.shared().lock();
            (st.is_closed(), st.stats.writes)
        };
        if closed {
            return Some(Reason::Broken);
        }
        *mark = Some(writes);
        // The generation was checked when the connection went idle (`put_idle`), and
        // `expire_connections` closes idle ones at once.
        let now = Instant::now();
        if conn.expires.is_some_and(|e| now >= e) {
            return Some(Reason::Expired);
        }
        if self
            .options
            .health_check_after
            .is_some_and(|after| now.saturating_duration_since(since) >= after)
        {
            *mark = None;
            // Boxed, as the connect path in `acquire`: rare, and large.
            if Box::pin(conn.client.batch_execute("SELECT 1"))
                .await
                .is_err()
            {
                return Some(Reason::Broken);
            }
            // The health check ran behind the reset: its answer is complete now.
            if let Some(r) = reset {
                match reset_result(r) {
                    Some(true) => *reset = None,
                    _ => return Some(Reason::Dirty),
                }
            }
        }
        if let Some(hook) = &self.options.before_acquire {
            *mark = None;
            if !hook(conn.client.clone()).await {
                return Some(Reason::Rejected);
            }
        }
        None
    }

    /// Takes back a connection: closes it, or sends its reset and keeps it.
    /// `clean_mark`: the connection's write count when it was handed out clean (see
    /// [`PooledConnection::writes`]); if nothing was written since, it needs no reset.
    fn release(
        self: &Arc<Self>,
        conn: Conn,
        reset: Option<Responses>,
        discard: bool,
        clean_mark: Option<u64>,
    ) {
        if discard {
            return self.discard(conn, Reason::Dirty);
        }
        // No reset for a connection about to be closed (`put_idle` checks again,
        // under the lock).
        if self.closed_now.load(Ordering::Relaxed) {
            return self.discard(conn, Reason::PoolClosed);
        }
        if conn.generation != self.generation_now.load(Ordering::Relaxed) {
            return self.discard(conn, Reason::Expired);
        }
        let session = {
            let st = conn.client.shared().lock();
            Session {
                in_flight: st.conn.in_flight(),
                rollback: st.conn.transaction_status() != TransactionStatus::Idle,
                changed: st.session.changed(),
                statements: st.session.statements(),
                closed: st.is_closed(),
                writes: st.stats.writes,
            }
        };
        let untouched = clean_mark == Some(session.writes);
        let now = Instant::now();
        let mut reset = match self.reusable(&conn, reset, &session, now) {
            Ok(pending) => pending,
            Err(reason) => return self.discard(conn, reason),
        };
        let Session {
            rollback, changed, ..
        } = session;
        let sql = self.options.reset_query.as_str();
        let run_reset = !sql.trim().is_empty() && (changed || self.options.always_reset);
        if reset.is_none() && !untouched && (rollback || run_reset) {
            let shared = conn.client.shared();
            let sent = shared.submit_now(Access::Normal, |st| {
                let mut last = None;
                // ROLLBACK goes alone: in one Query message with the reset, the reset
                // would run in an implicit transaction block, where `DISCARD ALL`
                // cannot.
                if rollback {
                    let id = st
                        .conn
                        .send(Request::query("ROLLBACK"))
                        .map_err(|e| usage_error(shared, e))?;
                    last = Some(id);
                }
                if run_reset {
                    // The reset's result says enough: it runs only after the ROLLBACK.
                    if let Some(id) = last.take() {
                        st.conn.discard(id);
                    }
                    let id = st
                        .conn
                        .send(Request::query(sql))
                        .map_err(|e| usage_error(shared, e))?;
                    last = Some(id);
                }
                Ok(last.map(|id| {
                    // Nothing else is in flight (`reusable`): this undoes it all.
                    st.session.reset_sent(id.get());
                    st.register(id);
                    Responses::new(Arc::clone(shared), id)
                }))
            });
            match sent {
                Ok(r) => {
                    if rollback {
                        self.counters.rollbacks.fetch_add(1, Ordering::Relaxed);
                    }
                    if run_reset {
                        self.counters.resets.fetch_add(1, Ordering::Relaxed);
                    }
                    reset = r;
                }
                Err(_) => return self.discard(conn, Reason::Broken),
            }
        }
        let idle = IdleConn {
            conn,
            since: now,
            reset,
        };
        match &self.options.after_release {
            None => self.put_idle(idle),
            Some(hook) => {
                let hook = Arc::clone(hook);
                let inner = Arc::clone(self);
                // Drop cannot wait: the hook runs in the background, owning the slot.
                self.runtime.spawn(Box::pin(async move {
                    let slot = Slot {
                        inner: Arc::clone(&inner),
                        idle: Some(idle),
                    };
                    let keep = match &slot.idle {
                        Some(i) => hook(i.conn.client.clone()).await,
                        None => false,
                    };
                    slot.finish(keep);
                }));
            }
        }
    }

    /// Whether a returned connection can be kept: `Err` says why not; `Ok(Some(_))`
    /// is the previous reset, still in flight and nothing sent after it, which
    /// serves as this return's reset too.
    fn reusable(
        &self,
        conn: &Conn,
        reset: Option<Responses>,
        session: &Session,
        now: Instant,
    ) -> Result<Option<Responses>, Reason> {
        // The previous reset went out before everything this user sent.
        let mut pending = None;
        if let Some(mut r) = reset {
            match reset_result(&mut r) {
                Some(false) => return Err(Reason::Dirty),
                Some(true) => {}
                None => pending = Some(r),
            }
        }
        // A closed pool or an expired generation is seen by `put_idle`, under the lock
        // it takes anyway.
        if session.closed {
            return Err(Reason::Broken);
        }
        let client = &conn.client;
        // Another handle (a Transaction, RowStream, COPY writer or a clone) still
        // uses the connection, or a request is in flight because its future was
        // dropped: its state cannot be known without waiting. The previous reset
        // may still be in flight if nothing was sent after it (nothing sent later
        // can complete before it).
        if Arc::strong_count(&client.handle) > 1
            || session.in_flight > usize::from(pending.is_some())
        {
            return Err(Reason::Dirty);
        }
        if conn.expires.is_some_and(|e| now >= e) {
            return Err(Reason::Expired);
        }
        if self
            .options
            .max_queries
            .is_some_and(|max| session.statements >= max)
        {
            return Err(Reason::MaxQueries);
        }
        Ok(pending)
    }

    /// Closes idle connections past their lifetime, or idle too long beyond
    /// `min_idle`.
    fn trim(self: &Arc<Self>) {
        let now = Instant::now();
        let mut out = Vec::new();
        {
            let mut st = lock(&self.state);
            let generation = st.generation;
            let mut kept = VecDeque::with_capacity(st.idle.len());
            let mut idle_left = st.idle.len();
            for i in st.idle.drain(..) {
                let expired =
                    i.conn.generation != generation || i.conn.expires.is_some_and(|e| now >= e);
                let idled = idle_left > self.options.min_idle
                    && self
                        .options
                        .idle_timeout
                        .is_some_and(|t| now.duration_since(i.since) >= t);
                if expired || idled || i.conn.client.is_closed() {
                    idle_left -= 1;
                    let reason = if i.conn.client.is_closed() {
                        Reason::Broken
                    } else if expired {
                        Reason::Expired
                    } else {
                        Reason::Idle
                    };
                    out.push((i.conn, reason));
                } else {
                    kept.push_back(i);
                }
            }
            st.idle = kept;
        }
        for (conn, reason) in out {
            self.discard(conn, reason);
        }
    }

    /// Opens connections until `min_idle` are idle (or the pool is full).
    async fn fill(self: &Arc<Self>) -> Result<(), Error> {
        loop {
            {
                let mut st = lock(&self.state);
                if st.closed
                    || st.idle.len() + st.opening >= self.options.min_idle
                    || st.size >= self.options.max_size
                {
                    return Ok(());
                }
                st.size += 1;
                st.opening += 1;
            }
            let opening = Opening {
                inner: Some(Arc::clone(self)),
            };
            let result = self.open().await;
            match result {
                Ok(conn) => {
                    // The new connection keeps the slot.
                    opening.disarm();
                    self.put_idle(IdleConn {
                        conn,
                        since: Instant::now(),
                        reset: None,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A slot taken by the background task to make a connection: given back on drop
/// unless the connection was made.
struct Opening {
    inner: Option<Arc<Inner>>,
}

impl Opening {
    fn disarm(mut self) {
        if let Some(inner) = self.inner.take() {
            let mut st = lock(&inner.state);
            st.opening = st.opening.saturating_sub(1);
        }
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            {
                let mut st = lock(&inner.state);
                st.opening = st.opening.saturating_sub(1);
            }
            inner.free_slot();
        }
    }
}

/// The right to make a connection (a slot): given back on drop unless disarmed.
struct Permit {
    inner: Option<Arc<Inner>>,
}

impl Permit {
    fn disarm(mut self) {
        self.inner = None;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.free_slot();
        }
    }
}

/// A connection waiting for its `after_release` hook: closed if the hook's task is
/// dropped (the runtime shut down).
struct Slot {
    inner: Arc<Inner>,
    idle: Option<IdleConn>,
}

impl Slot {
    fn finish(mut self, keep: bool) {
        if let Some(idle) = self.idle.take() {
            if keep {
                self.inner.put_idle(idle);
            } else {
                self.inner.discard(idle.conn, Reason::Rejected);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(idle) = self.idle.take() {
            self.inner.discard(idle.conn, Reason::PoolClosed);
        }
    }
}

/// A place in the queue of acquirers: leaving it (on drop) passes on whatever was
/// granted to it.
struct Waiter {
    inner: Arc<Inner>,
    id: Option<u64>,
}

/// An acquirer in the queue.
struct Waiting {
    id: u64,
    waker: Waker,
    /// When its acquire times out.
    deadline: Option<Instant>,
    /// It can take a place on a shared connection.
    shares: bool,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let mut wake = Vec::new();
        let grant = {
            let mut st = lock(&self.inner.state);
            st.waiting.retain(|w| w.id != id);
            // Sharers it stood in front of may have places now.
            self.inner.serve_sharers(&mut st, &mut wake);
            st.granted.remove(&id)
        };
        for w in wake {
            w.wake();
        }
        match grant {
            Some(Grant::Idle(idle)) => self.inner.put_idle(idle),
            Some(Grant::Open) => self.inner.free_slot(),
            Some(Grant::Join(lease)) => self.inner.leave(lease),
            None => {}
        }
    }
}

/// A connection checked out of a [`Pool`]: use it as a [`Client`] (through `Deref`);
/// dropping it returns it to the pool.
///
/// Do not keep clones of the client, transactions or row streams beyond it: a
/// connection returned while another handle still uses it is closed, not reused.
pub struct PooledConnection {
    inner: Arc<Inner>,
    conn: Option<Conn>,
    /// The reset sent at the last return, still in flight when checked out.
    reset: Option<Responses>,
    /// The connection's socket write count when handed out with no reset in flight:
    /// if it is unchanged on return, nothing was sent and no reset is needed.
    writes: Option<u64>,
    /// Close instead of returning (set while the connection is being checked).
    discard: bool,
}

impl fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledConnection")
            .field("client", &self.conn.as_ref().map(|c| &c.client))
            .finish_non_exhaustive()
    }
}

impl PooledConnection {
    fn untouched_mark(&self) -> Option<u64> {
        match (&self.conn, &self.reset) {
            (Some(conn), None) => Some(conn.client.shared().lock().stats.writes),
            _ => None,
        }
    }

    /// The connection.
    pub fn client(&self) -> &Client {
        self
    }

    /// Takes the connection out of the pool for good: the pool makes another one in
    /// its place when needed.
    pub fn detach(mut self) -> Client {
        let conn = self.conn.take();
        self.inner.free_slot();
        match conn {
            Some(conn) => conn.client,
            // `conn` is only taken by `detach` and `drop`, which consume the value.
            None => unreachable!("a checked-out connection always holds its client"),
        }
    }
}

impl Deref for PooledConnection {
    type Target = Client;

    fn deref(&self) -> &Client {
        match &self.conn {
            Some(conn) => &conn.client,
            // `conn` is only taken by `detach` and `drop`, which consume the value.
            None => unreachable!("a checked-out connection always holds its client"),
        }
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.inner
                .release(conn, self.reset.take(), self.discard, self.writes);
        }
    }
}

/// A place on a shared connection, for one statement: leaving it (on drop) lets the
/// next statement in, or returns the connection when it was the last.
struct Share {
    inner: Arc<Inner>,
    lease: Option<Arc<Lease>>,
}

impl Drop for Share {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            self.inner.leave(lease);
        }
    }
}

/// The connection a one-call method runs its statement on.
enum OneCall {
    Own(PooledConnection),
    Shared(Share),
}

impl Deref for OneCall {
    type Target = Client;

    fn deref(&self) -> &Client {
        match self {
            Self::Own(pooled) => pooled,
            Self::Shared(Share {
                lease: Some(lease), ..
            }) => &lease.pooled,
            // `lease` is only taken by `drop`.
            Self::Shared(Share { lease: None, .. }) => {
                unreachable!("a place on a shared connection always holds its lease")
            }
        }
    }
}
