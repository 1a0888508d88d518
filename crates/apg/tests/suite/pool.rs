//! The connection pool: fairness, bounded size, cancellation safety, reset, expiry,
//! hooks, self-healing after server-side kills, close.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use apg::pool::PoolBuilder;
use apg::{Client, ErrorKind, Pool, PoolError, Runtime};
use futures_util::future::join_all;

use super::common::{connect, test_config, unique_name};
use super::{poll_once, within};

/// A pool builder whose connections carry a unique `application_name`, returned with
/// it so `pg_stat_activity` can be filtered by it.
pub(super) fn pool_builder() -> (PoolBuilder, String) {
    let name = unique_name("pool");
    let mut config = test_config();
    config.application_name = Some(name.clone());
    (Pool::builder(config), name)
}

/// Server connections with `application_name = name`, seen from `admin`.
pub(super) async fn backends(admin: &Client, name: &str) -> i64 {
    admin
        .query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .unwrap()
}

/// Ends, from `admin`, every server connection with `application_name = name`.
pub(super) async fn terminate_backends(admin: &Client, name: &str) {
    admin
        .query_scalar::<i64, _>(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1) k",
            &[&name],
        )
        .await
        .unwrap();
}

/// Polls `future` for at most `limit`, then drops it wherever it is.
pub(super) async fn run_for<F: Future>(rt: &Arc<dyn Runtime>, limit: Duration, future: F) {
    let mut future = pin!(future);
    let mut sleep = rt.sleep(limit);
    poll_fn(|cx| {
        if future.as_mut().poll(cx).is_ready() || sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        Poll::Pending
    })
    .await;
}

/// A small deterministic generator (xorshift), so failures replay.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Waits until `check` holds, for at most `secs` seconds.
pub(super) async fn eventually(rt: &Arc<dyn Runtime>, secs: u64, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "condition not reached in {secs} s"
        );
        rt.sleep(Duration::from_millis(10)).await;
    }
}

/// Counts a spawned task as finished, also when it panics.
pub(super) struct Finished(pub(super) Arc<AtomicUsize>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub async fn pool_many_tasks_share_few_connections(rt: Arc<dyn Runtime>) {
    let (builder, name) = pool_builder();
    let pool = builder.max_size(8).build(Arc::clone(&rt)).unwrap();
    let admin = connect(&rt).await;
    let finished = Arc::new(AtomicUsize::new(0));
    let correct = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    for task in 0..1000i64 {
        let pool = pool.clone();
        let done = Finished(Arc::clone(&finished));
        let correct = Arc::clone(&correct);
        let peak = Arc::clone(&peak);
        rt.spawn(Box::pin(async move {
            let _done = done;
            for i in 0..10i64 {
                let n: i64 = pool
                    .query_scalar("SELECT $1::int8 + $2::int8", &[&task, &i])
                    .await
                    .unwrap();
                if n == task + i {
                    correct.fetch_add(1, Ordering::Relaxed);
                }
                peak.fetch_max(pool.stats().size, Ordering::Relaxed);
            }
        }));
    }
    // Sample the server side while the load runs.
    let mut most = 0;
    let start = Instant::now();
    while finished.load(Ordering::SeqCst) < 1000 {
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        most = most.max(backends(&admin, &name).await);
        rt.sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(correct.load(Ordering::Relaxed), 10_000);
    let stats = pool.stats();
    assert!(most <= 8, "{most} server connections");
    assert!(peak.load(Ordering::Relaxed) <= 8);
    assert!(stats.size <= 8, "{stats:?}");
    assert!(stats.created <= 8, "{stats:?}");
    assert_eq!(stats.acquires, 10_000);
    assert_eq!(stats.waiters, 0);
    assert_eq!(stats.in_use, 0);
    assert!(backends(&admin, &name).await <= 8);
    pool.close().await;
    assert_eq!(pool.stats().size, 0);
}

pub async fn pool_dropped_futures_leave_clean_connections(rt: Arc<dyn Runtime>) {
    let (builder, name) = pool_builder();
    let pool = builder.max_size(4).build(Arc::clone(&rt)).unwrap();
    // Connected first: on a loaded machine a connect (TLS, SCRAM) can outlast every
    // window below. Replacements for the connections closed dirty are still made
    // (and dropped) within them.
    drop(within(&rt, 30, join_all((0..4).map(|_| pool.acquire()))).await);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for i in 0..300u64 {
        let limit = Duration::from_micros(rng.below(8000));
        let channel = format!("ch_{}", i % 7);
        let key = i64::try_from(i).unwrap();
        match rng.below(4) {
            0 => run_for(&rt, limit, pool.acquire()).await,
            1 => run_for(&rt, limit, pool.query("SELECT pg_sleep(0.001)", &[])).await,
            2 => {
                run_for(&rt, limit, async {
                    let conn = pool.acquire().await.unwrap();
                    conn.batch_execute(&format!("BEGIN; LISTEN {channel}"))
                        .await
                        .unwrap();
                    conn.query("SELECT pg_advisory_lock($1::int8)", &[&key])
                        .await
                        .unwrap();
                    conn.batch_execute("SET work_mem = '7MB'").await.unwrap();
                })
                .await;
            }
            _ => {
                run_for(&rt, limit, async {
                    let conn = pool.acquire().await.unwrap();
                    let tx = conn.transaction().await.unwrap();
                    tx.execute("SELECT pg_advisory_xact_lock($1::int8)", &[&key])
                        .await
                        .unwrap();
                    tx.batch_execute(&format!("LISTEN {channel}"))
                        .await
                        .unwrap();
                    std::future::pending::<()>().await;
                })
                .await;
            }
        }
    }
    // Every connection, taken at once: none in a transaction, listening, holding a
    // lock or carrying a setting.
    let conns = within(&rt, 30, join_all((0..4).map(|_| pool.acquire()))).await;
    let admin = connect(&rt).await;
    let stats = pool.stats();
    assert_eq!(stats.in_use, 4, "{stats:?}");
    for conn in conns {
        let conn = conn.unwrap();
        let listening: i64 = conn
            .query_scalar("SELECT count(*) FROM pg_listening_channels()", &[])
            .await
            .unwrap();
        assert_eq!(listening, 0);
        let locks: i64 = conn
            .query_scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(locks, 0);
        let work_mem: String = conn.query_scalar("SHOW work_mem", &[]).await.unwrap();
        assert_ne!(work_mem, "7MB");
        let in_tx: i64 = admin
            .query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
                 AND state LIKE 'idle in transaction%'",
                &[&name],
            )
            .await
            .unwrap();
        assert_eq!(in_tx, 0);
    }
    let stats = pool.stats();
    assert!(stats.size <= 4, "{stats:?}");
    assert_eq!(stats.waiters, 0);
    // Both paths were taken: connections reused after a reset, and dirty ones closed.
    assert!(stats.closed.dirty > 0, "{stats:?}");
    assert!(stats.acquires > stats.created, "{stats:?}");
}

pub async fn pool_acquire_timeout(rt: Arc<dyn Runtime>) {
    let (builder, _) = pool_builder();
    let pool = builder
        .max_size(1)
        .acquire_timeout(Some(Duration::from_millis(100)))
        .build(Arc::clone(&rt))
        .unwrap();
    let held = pool.acquire().await.unwrap();
    let started = Instant::now();
    let e = within(&rt, 10, pool.acquire()).await.unwrap_err();
    assert!(matches!(e, PoolError::Timeout), "{e:?}");
    assert!(started.elapsed() >= Duration::from_millis(90));
    let e = within(&rt, 10, pool.query("SELECT 1", &[]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(pool.stats().timeouts, 2);
    assert_eq!(pool.stats().waiters, 0);
    // A waiter gets the connection when it is returned.
    let mut waiting = Box::pin(pool.acquire());
    assert!(poll_once(&mut waiting).await.is_pending());
    assert_eq!(pool.stats().waiters, 1);
    drop(held);
    let conn = within(&rt, 10, waiting).await.unwrap();
    assert_eq!(
        conn.query_scalar::<i32, _>("SELECT 1", &[]).await.unwrap(),
        1
    );
}

pub async fn pool_waiters_are_served_in_order(rt: Arc<dyn Runtime>) {
    let (builder, _) = pool_builder();
    let pool = builder.max_size(1).build(Arc::clone(&rt)).unwrap();
    let held = pool.acquire().await.unwrap();
    let mut first = Box::pin(pool.acquire());
    let mut second = Box::pin(pool.acquire());
    let mut third = Box::pin(pool.acquire());
    assert!(poll_once(&mut first).await.is_pending());
    assert!(poll_once(&mut second).await.is_pending());
    assert!(poll_once(&mut third).await.is_pending());
    // The second gives up: its place goes, and the connection is not lost.
    drop(second);
    drop(held);
    let conn = within(&rt, 10, &mut first).await.unwrap();
    assert!(poll_once(&mut third).await.is_pending());
    drop(conn);
    let conn = within(&rt, 10, third).await.unwrap();
    // A waiter dropped after the connection was handed to it passes it on.
    let mut fourth = Box::pin(pool.acquire());
    let mut fifth = Box::pin(pool.acquire());
    assert!(poll_once(&mut fourth).await.is_pending());
    assert!(poll_once(&mut fifth).await.is_pending());
    drop(conn);
    drop(fourth);
    within(&rt, 10, fifth).await.unwrap();
    assert_eq!(pool.stats().waiters, 0);
}

pub async fn pool_close_waits_for_connections(rt: Arc<dyn Runtime>) {
    let (builder, name) = pool_builder();
    let pool = builder.max_size(3).build(Arc::clone(&rt)).unwrap();
    let a = pool.acquire().await.unwrap();
    let b = pool.acquire().await.unwrap();
    let c = pool.acquire().await.unwrap();
    let mut waiting = Box::pin(pool.acquire());
    assert!(poll_once(&mut waiting).await.is_pending());
    drop(c);
    let c = within(&rt, 10, &mut waiting).await.unwrap();
    let mut waiting = Box::pin(pool.acquire());
    assert!(poll_once(&mut waiting).await.is_pending());
    drop(c);
    let mut closing = Box::pin(pool.close());
    assert!(poll_once(&mut closing).await.is_pending());
    assert!(pool.is_closed());
    // A waiter given the connection before the close still gets the closed error.
    assert!(matches!(
        within(&rt, 10, waiting).await,
        Err(PoolError::Closed)
    ));
    assert!(matches!(pool.acquire().await, Err(PoolError::Closed)));
    let e = pool.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    // Checked-out connections still work until returned.
    assert_eq!(a.query_scalar::<i32, _>("SELECT 1", &[]).await.unwrap(), 1);
    drop(a);
    assert!(poll_once(&mut closing).await.is_pending());
    drop(b);
    within(&rt, 10, closing).await;
    let stats = pool.stats();
    assert_eq!(stats.size, 0);
    assert_eq!(stats.closed.pool_closed, 3);
    let admin = connect(&rt).await;
    let start = Instant::now();
    while backends(&admin, &name).await > 0 {
        assert!(start.elapsed() < Duration::from_secs(10));
        rt.sleep(Duration::from_millis(10)).await;
    }
}

pub async fn pool_expire_connections(rt: Arc<dyn Runtime>) {
    let (builder, _) = pool_builder();
    let pool = builder.max_size(2).build(Arc::clone(&rt)).unwrap();
    let out = pool.acquire().await.unwrap();
    let idle = pool.acquire().await.unwrap();
    let (out_pid, idle_pid) = (out.backend_pid(), idle.backend_pid());
    drop(idle);
    pool.expire_connections();
    assert_eq!(pool.stats().closed.expired, 1);
    drop(out);
    assert_eq!(pool.stats().closed.expired, 2);
    let a = pool.acquire().await.unwrap();
    let b = pool.acquire().await.unwrap();
    for pid in [a.backend_pid(), b.backend_pid()] {
        assert_ne!(pid, out_pid);
        assert_ne!(pid, idle_pid);
    }
    assert_eq!(pool.stats().created, 4);

    // max_queries: a connection is closed once it has run 3 statements.
    let (builder, _) = pool_builder();
    let pool = builder
        .max_size(1)
        .max_queries(Some(3))
        .build(Arc::clone(&rt))
        .unwrap();
    let conn = pool.acquire().await.unwrap();
    let first = conn.backend_pid();
    conn.batch_execute("SELECT 1; SELECT 2").await.unwrap();
    drop(conn);
    let conn = pool.acquire().await.unwrap();
    assert_eq!(conn.backend_pid(), first, "2 statements so far");
    // An unused checkout counts nothing.
    drop(conn);
    let conn = pool.acquire().await.unwrap();
    assert_eq!(conn.backend_pid(), first);
    assert_eq!(
        conn.query_scalar::<i32, _>("SELECT 3", &[]).await.unwrap(),
        3
    );
    drop(conn);
    assert_ne!(pool.acquire().await.unwrap().backend_pid(), first);
    assert_eq!(pool.stats().closed.max_queries, 1);

    // A detached connection leaves the pool and stays open.
    let client = pool.acquire().await.unwrap().detach();
    assert_eq!(pool.stats().size, 0);
    let other = pool.acquire().await.unwrap();
    assert_ne!(other.backend_pid(), client.backend_pid());
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 1", &[])
            .await
            .unwrap(),
        1
    );
}

pub async fn pool_max_lifetime_and_idle_timeout(rt: Arc<dyn Runtime>) {
    // Lifetime: a connection older than it is replaced at the next checkout.
    let (builder, _) = pool_builder();
    let pool = builder
        .max_size(2)
        .max_lifetime(Some(Duration::from_millis(150)))
        .lifetime_jitter(Duration::from_millis(50))
        .idle_timeout(None)
        .build(Arc::clone(&rt))
        .unwrap();
    let first = pool.acquire().await.unwrap().backend_pid();
    assert_eq!(pool.acquire().await.unwrap().backend_pid(), first);
    rt.sleep(Duration::from_millis(200)).await;
    let second = pool.acquire().await.unwrap().backend_pid();
    assert_ne!(second, first);
    assert!(pool.stats().closed.expired >= 1);

    // Idle timeout: idle connections beyond min_idle are closed in the background.
    let (builder, _) = pool_builder();
    let pool = builder
        .max_size(4)
        .min_idle(1)
        .idle_timeout(Some(Duration::from_millis(100)))
        .build(Arc::clone(&rt))
        .unwrap();
    let conns = join_all((0..3).map(|_| pool.acquire())).await;
    drop(conns);
    eventually(&rt, 10, || {
        let s = pool.stats();
        s.closed.idle >= 2 && s.idle == 1 && s.size == 1
    })
    .await;
    // min_idle is kept warm.
    let conn = pool.acquire().await.unwrap();
    eventually(&rt, 10, || pool.stats().idle == 1).await;
    drop(conn);
}

pub async fn pool_hooks_run_and_can_reject(rt: Arc<dyn Runtime>) {
    let connects = Arc::new(AtomicUsize::new(0));
    let checks = Arc::new(AtomicUsize::new(0));
    let releases = Arc::new(AtomicUsize::new(0));
    let (builder, _) = pool_builder();
    let (c, k, r) = (
        Arc::clone(&connects),
        Arc::clone(&checks),
        Arc::clone(&releases),
    );
    let pool = builder
        .max_size(2)
        .after_connect(move |client| {
            c.fetch_add(1, Ordering::SeqCst);
            async move { client.batch_execute("SELECT 1").await }
        })
        // Rejects every other idle connection.
        .before_acquire(move |_| {
            let n = k.fetch_add(1, Ordering::SeqCst);
            async move { n % 2 == 1 }
        })
        // Rejects the third release.
        .after_release(move |client| {
            let n = r.fetch_add(1, Ordering::SeqCst);
            async move { n != 2 && !client.is_closed() }
        })
        .build(Arc::clone(&rt))
        .unwrap();
    drop(pool.acquire().await.unwrap());
    assert_eq!(connects.load(Ordering::SeqCst), 1);
    eventually(&rt, 10, || pool.stats().idle == 1).await;
    // Check 0 rejects the idle connection: a new one is made.
    drop(pool.acquire().await.unwrap());
    assert_eq!(checks.load(Ordering::SeqCst), 1);
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    assert_eq!(pool.stats().closed.rejected, 1);
    eventually(&rt, 10, || pool.stats().idle == 1).await;
    // Check 1 accepts it.
    drop(pool.acquire().await.unwrap());
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    // The third release was rejected.
    eventually(&rt, 10, || pool.stats().closed.rejected == 2).await;
    assert_eq!(releases.load(Ordering::SeqCst), 3);
    assert_eq!(pool.stats().size, 0);

    // A failing after_connect fails the acquire and frees the slot.
    let (builder, _) = pool_builder();
    let pool = builder
        .max_size(1)
        .after_connect(|client| async move { client.batch_execute("SELECT 1/0").await })
        .build(Arc::clone(&rt))
        .unwrap();
    for _ in 0..2 {
        match pool.acquire().await {
            Err(PoolError::Connect(e)) => assert!(e.as_db_error().is_some(), "{e:?}"),
            other => panic!("expected a connect error, got {other:?}"),
        }
    }
    assert_eq!(pool.stats().size, 0);
}

pub async fn pool_recovers_after_server_kills(rt: Arc<dyn Runtime>) {
    let (builder, name) = pool_builder();
    let pool = builder
        .max_size(4)
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build(Arc::clone(&rt))
        .unwrap();
    let admin = connect(&rt).await;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let failures = AtomicUsize::new(0);
    let successes = AtomicUsize::new(0);
    let load = join_all((0..40).map(|_| async {
        while !stop.load(Ordering::Relaxed) {
            match pool.query_scalar::<i32, _>("SELECT 1", &[]).await {
                Ok(_) => successes.fetch_add(1, Ordering::Relaxed),
                Err(e) => {
                    // Killed mid-query, or while a replacement was starting up.
                    assert!(
                        matches!(e.kind(), ErrorKind::Closed | ErrorKind::Io)
                            || e.code() == Some(apg::SqlState::AdminShutdown),
                        "{e:?}"
                    );
                    failures.fetch_add(1, Ordering::Relaxed)
                }
            };
        }
    }));
    let killer = async {
        rt.sleep(Duration::from_millis(100)).await;
        for _ in 0..3 {
            terminate_backends(&admin, &name).await;
            rt.sleep(Duration::from_millis(100)).await;
        }
        stop.store(true, Ordering::Relaxed);
    };
    within(&rt, 60, futures_util::future::join(load, killer)).await;
    assert!(successes.load(Ordering::Relaxed) > 0);
    // Every dead connection was replaced: the pool works, and is not larger.
    for _ in 0..20 {
        assert_eq!(
            within(&rt, 20, pool.query_scalar::<i32, _>("SELECT 1", &[]))
                .await
                .unwrap(),
            1
        );
    }
    let stats = pool.stats();
    assert!(stats.size <= 4, "{stats:?}");
    assert!(stats.closed.broken + stats.closed.dirty >= 1, "{stats:?}");
    assert!(backends(&admin, &name).await <= 4);
}

pub async fn pool_reset_on_release(rt: Arc<dyn Runtime>) {
    let (builder, _) = pool_builder();
    let pool = builder.max_size(1).build(Arc::clone(&rt)).unwrap();
    let t = unique_name("reset");
    // A connection returned unused needs no reset: nothing is sent.
    let conn = pool.acquire().await.unwrap();
    let writes = conn.__stats().writes;
    drop(conn);
    let conn = pool.acquire().await.unwrap();
    assert_eq!(conn.__stats().writes, writes);
    let pid = conn.backend_pid();
    conn.prepare("SELECT $1::int4 + 1").await.unwrap();
    conn.batch_execute("SET work_mem = '7MB'; LISTEN reset_test; SELECT pg_advisory_lock(4242)")
        .await
        .unwrap();
    conn.batch_execute("CREATE TEMP TABLE reset_me (id int)")
        .await
        .unwrap();
    conn.batch_execute(&format!("BEGIN; CREATE TABLE {t} (id int)"))
        .await
        .unwrap();
    drop(conn);

    let conn = pool.acquire().await.unwrap();
    assert_eq!(conn.backend_pid(), pid, "the same connection, reset");
    let work_mem: String = conn.query_scalar("SHOW work_mem", &[]).await.unwrap();
    assert_ne!(work_mem, "7MB");
    let listening: i64 = conn
        .query_scalar("SELECT count(*) FROM pg_listening_channels()", &[])
        .await
        .unwrap();
    assert_eq!(listening, 0);
    let locks: i64 = conn
        .query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(locks, 0);
    let tables: i64 = conn
        .query_scalar(
            "SELECT count(*) FROM pg_class WHERE relname = $1",
            &[&t.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(tables, 0, "the open transaction was rolled back");
    let temp_tables: i64 = conn
        .query_scalar(
            "SELECT count(*) FROM pg_class WHERE relname = 'reset_me' AND relpersistence = 't'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(temp_tables, 0, "temporary tables are dropped");
    // Prepared statements survive the reset: the cache is still valid.
    let prepared = conn.__stats().statements_prepared;
    assert_eq!(
        conn.query_scalar::<i32, _>("SELECT $1::int4 + 1", &[&1i32])
            .await
            .unwrap(),
        2
    );
    assert_eq!(conn.__stats().statements_prepared, prepared);

    // A failed transaction block is rolled back too.
    conn.batch_execute("BEGIN").await.unwrap();
    assert!(conn.batch_execute("SELECT 1/0").await.is_err());
    drop(conn);
    let conn = pool.acquire().await.unwrap();
    assert_eq!(conn.backend_pid(), pid);
    assert_eq!(
        conn.query_scalar::<i32, _>("SELECT 1", &[]).await.unwrap(),
        1
    );

    // A connection returned with a transaction handle alive is closed, not reused.
    let tx = conn.transaction().await.unwrap();
    drop(conn);
    drop(tx);
    let conn = pool.acquire().await.unwrap();
    assert_ne!(conn.backend_pid(), pid);
    assert_eq!(pool.stats().closed.dirty, 1);

    // A custom reset query.
    let (builder, _) = pool_builder();
    let pool = builder
        .max_size(1)
        .reset_query("DISCARD ALL")
        .build(Arc::clone(&rt))
        .unwrap();
    let conn = pool.acquire().await.unwrap();
    let pid = conn.backend_pid();
    conn.batch_execute("CREATE TEMP TABLE discard_me (id int); BEGIN")
        .await
        .unwrap();
    drop(conn);
    let conn = pool.acquire().await.unwrap();
    // DISCARD ALL ran after the ROLLBACK, outside any transaction block.
    assert_eq!(conn.backend_pid(), pid);
    let tables: i64 = conn
        .query_scalar(
            "SELECT count(*) FROM pg_class WHERE relname = 'discard_me' AND relpersistence = 't' \
             AND pg_table_is_visible(oid)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(tables, 0);
}

/// The reset runs only after what can outlive a transaction, each kind on its own;
/// queries, DML and transactions cost none.
pub async fn pool_reset_only_when_needed(rt: Arc<dyn Runtime>) {
    let (builder, _) = pool_builder();
    let pool = builder.max_size(1).build(Arc::clone(&rt)).unwrap();
    let t = unique_name("noreset");
    let setup = pool.acquire().await.unwrap();
    let pid = setup.backend_pid();
    setup
        .batch_execute(&format!("CREATE TABLE {t} (id int)"))
        .await
        .unwrap();
    drop(setup);
    let resets = pool.stats().resets;
    assert_eq!(resets, 1, "CREATE TABLE counts as a change");

    // Queries, DML, COPY and committed or rolled back transactions: no reset.
    let conn = pool.acquire().await.unwrap();
    conn.query_scalar::<i32, _>("SELECT $1::int4", &[&1i32])
        .await
        .unwrap();
    conn.execute(&format!("INSERT INTO {t} VALUES (1)") as &str, &[])
        .await
        .unwrap();
    conn.batch_execute(&format!("BEGIN; UPDATE {t} SET id = 2; COMMIT"))
        .await
        .unwrap();
    let tx = conn.transaction().await.unwrap();
    tx.execute(&format!("DELETE FROM {t}") as &str, &[])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    drop(conn);
    assert_eq!(pool.stats().resets, resets, "nothing to reset");
    assert_eq!(pool.stats().rollbacks, 0);

    // Each of these alone is undone, and counted as one reset.
    let cases: [(&str, &str); 6] = [
        ("SET work_mem = '7MB'", "SELECT current_setting('work_mem') <> '7MB'"),
        (
            "SELECT set_config('work_mem', '9MB', false)",
            "SELECT current_setting('work_mem') <> '9MB'",
        ),
        ("LISTEN reset_only_when_needed", "SELECT count(*) = 0 FROM pg_listening_channels()"),
        (
            "SELECT pg_advisory_lock(4243)",
            "SELECT count(*) = 0 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
        ),
        (
            "BEGIN; DECLARE held CURSOR WITH HOLD FOR SELECT 1; COMMIT",
            "SELECT count(*) = 0 FROM pg_cursors WHERE name = 'held'",
        ),
        ("SET application_name = 'changed'", "SELECT current_setting('application_name') <> 'changed'"),
    ];
    for (i, (change, check)) in cases.iter().enumerate() {
        let conn = pool.acquire().await.unwrap();
        assert_eq!(conn.backend_pid(), pid);
        if i % 2 == 0 {
            conn.batch_execute(change).await.unwrap();
        } else {
            // Through the extended protocol and the statement cache too.
            for statement in change.split("; ") {
                conn.execute(statement, &[]).await.unwrap();
            }
        }
        drop(conn);
        let conn = pool.acquire().await.unwrap();
        assert_eq!(conn.backend_pid(), pid);
        let undone: bool = conn.query_scalar(*check, &[]).await.unwrap();
        assert!(undone, "{change}: not undone");
        drop(conn);
        assert_eq!(pool.stats().resets, resets + 1 + i as u64, "{change}");
    }
    let resets = pool.stats().resets;

    // An open transaction gets a ROLLBACK, and no reset unless needed.
    let conn = pool.acquire().await.unwrap();
    conn.batch_execute(&format!("BEGIN; INSERT INTO {t} VALUES (3)"))
        .await
        .unwrap();
    drop(conn);
    let conn = pool.acquire().await.unwrap();
    let rows: i64 = conn
        .query_scalar(&format!("SELECT count(*) FROM {t}") as &str, &[])
        .await
        .unwrap();
    assert_eq!(rows, 1, "only the committed row");
    conn.batch_execute(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
    drop(conn);
    let stats = pool.stats();
    assert_eq!(stats.rollbacks, 1);
    assert_eq!(stats.resets, resets + 1, "DROP TABLE counts as a change");

    // A statement whose future was dropped: its answer is discarded unseen, so the
    // session counts as changed.
    let conn = pool.acquire().await.unwrap();
    run_for(
        &rt,
        Duration::from_millis(50),
        conn.batch_execute("SELECT pg_sleep(0.3); SET work_mem = '11MB'"),
    )
    .await;
    // This waits behind it: nothing is in flight when the connection is returned.
    assert_eq!(
        conn.query_scalar::<i32, _>("SELECT 1", &[]).await.unwrap(),
        1
    );
    drop(conn);
    let conn = pool.acquire().await.unwrap();
    assert_eq!(conn.backend_pid(), pid);
    let undone: bool = conn
        .query_scalar("SELECT current_setting('work_mem') <> '11MB'", &[])
        .await
        .unwrap();
    assert!(undone, "the dropped statement's SET was not undone");
    drop(conn);

    // always_reset: every return that sent anything.
    let (builder, _) = pool_builder();
    let pool = builder
        .max_size(1)
        .always_reset(true)
        .build(Arc::clone(&rt))
        .unwrap();
    for _ in 0..2 {
        let conn = pool.acquire().await.unwrap();
        conn.query_scalar::<i32, _>("SELECT 1", &[]).await.unwrap();
    }
    assert_eq!(pool.stats().resets, 2);
}

pub async fn pool_health_check(rt: Arc<dyn Runtime>) {
    let (builder, _) = pool_builder();
    let pool = builder
        .max_size(1)
        .health_check_after(Some(Duration::from_millis(20)))
        .build(Arc::clone(&rt))
        .unwrap();
    let conn = pool.acquire().await.unwrap();
    let (pid, writes) = (conn.backend_pid(), conn.__stats().writes);
    drop(conn);
    // Idle briefly: handed out as is.
    let conn = pool.acquire().await.unwrap();
    assert_eq!(conn.__stats().writes, writes);
    drop(conn);
    // Idle past the threshold: checked with a round trip first.
    rt.sleep(Duration::from_millis(40)).await;
    let conn = pool.acquire().await.unwrap();
    assert_eq!(conn.backend_pid(), pid);
    assert!(conn.__stats().writes > writes);
    assert_eq!(pool.stats().closed, apg::pool::ClosedCounts::default());
}
