//! The pool's shared connections (`PoolBuilder::pipeline_depth`): one-call statements
//! pipelined on a connection, the queue kept in order, busy connections still
//! recycled, recovery after kills, and no dirty connection left by dropped futures.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apg::pool::PoolBuilder;
use apg::{ErrorKind, Pool, Runtime, SimpleQueryMessage, SqlState};
use futures_util::future::{join, join_all};

use super::common::{connect, unique_name};
use super::pool::{backends, eventually, pool_builder, run_for, terminate_backends, Finished, Rng};
use super::within;

/// A pool builder (see `pool_builder`) for `max` connections shared `depth` deep.
fn pipelined(max: usize, depth: usize) -> (PoolBuilder, String) {
    let (builder, name) = pool_builder();
    (builder.max_size(max).pipeline_depth(depth), name)
}

/// `callers` loops running `sql` on `pool` until `stop` is set.
async fn keep_busy(pool: &Pool, stop: &AtomicBool, callers: usize, sql: &str) {
    join_all((0..callers).map(|_| async {
        while !stop.load(Ordering::Relaxed) {
            pool.execute(sql, &[]).await.unwrap();
        }
    }))
    .await;
}

/// `n` statements at once on `pool`, the i-th selecting `i`; their answers in order.
async fn select_at_once(
    rt: &Arc<dyn Runtime>,
    pool: &Pool,
    n: i32,
) -> Vec<Result<i32, apg::Error>> {
    let all = join_all(
        (0..n).map(|i| async move { pool.query_scalar::<i32, _>("SELECT $1::int4", &[&i]).await }),
    );
    within(rt, 30, all).await
}

/// Whether an error is what a statement killed with its connection gives.
fn killed(e: &apg::Error) -> bool {
    matches!(e.kind(), ErrorKind::Closed | ErrorKind::Io)
        || e.code() == Some(SqlState::AdminShutdown)
}

/// Every connection of `pool` (of `size`), taken at once: in no transaction, with
/// its settings as they were.
async fn assert_all_clean(rt: &Arc<dyn Runtime>, pool: &Pool, size: usize) {
    let conns = within(rt, 30, join_all((0..size).map(|_| pool.acquire()))).await;
    for conn in conns {
        let conn = conn.unwrap();
        let work_mem: String = conn.query_scalar("SHOW work_mem", &[]).await.unwrap();
        assert_ne!(work_mem, "3MB");
        // In no transaction block (its start would precede this statement's, which
        // the simple protocol starts with it), holding no advisory lock, listening to
        // nothing.
        let messages = conn
            .simple_query(
                "SELECT now() = statement_timestamp() \
                 AND (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
                      AND pid = pg_backend_pid()) = 0 \
                 AND (SELECT count(*) FROM pg_listening_channels()) = 0",
            )
            .await
            .unwrap();
        let Some(SimpleQueryMessage::Row(row)) = messages.first() else {
            panic!("no row: {messages:?}");
        };
        assert_eq!(row.get(0), Some("t"));
    }
    let stats = pool.stats();
    assert_eq!(stats.leases, 0, "{stats:?}");
}

pub async fn pool_pipelines_one_call_statements(rt: Arc<dyn Runtime>) {
    let (builder, name) = pipelined(2, 4);
    let pool = builder.build(Arc::clone(&rt)).unwrap();
    let admin = connect(&rt).await;
    let finished = Arc::new(AtomicUsize::new(0));
    let correct = Arc::new(AtomicUsize::new(0));
    let peak_leases = Arc::new(AtomicUsize::new(0));
    const TASKS: i64 = 100;
    for task in 0..TASKS {
        let pool = pool.clone();
        let done = Finished(Arc::clone(&finished));
        let correct = Arc::clone(&correct);
        let peak_leases = Arc::clone(&peak_leases);
        rt.spawn(Box::pin(async move {
            let _done = done;
            for i in 0..20i64 {
                let ok = match i % 10 {
                    // A failing statement fails alone: those sharing its connection
                    // are not in its transaction.
                    3 => {
                        let e = pool
                            .query_scalar::<i32, _>("SELECT 1 / $1::int4", &[&0i32])
                            .await
                            .unwrap_err();
                        e.code() == Some(SqlState::DivisionByZero)
                    }
                    // One that changes the session takes a connection of its own,
                    // which is reset before anyone else has it.
                    7 if task % 10 == 0 => {
                        let set: String = pool
                            .query_scalar("SELECT set_config('work_mem', '3MB', false)", &[])
                            .await
                            .unwrap();
                        set == "3MB"
                    }
                    // So does a session setting read back through `SHOW`, which
                    // shares: nobody sees another's setting.
                    5 => {
                        let work_mem: String =
                            pool.query_scalar("SHOW work_mem", &[]).await.unwrap();
                        work_mem != "3MB"
                    }
                    _ => {
                        let n: i64 = pool
                            .query_scalar("SELECT $1::int8 + $2::int8", &[&task, &i])
                            .await
                            .unwrap();
                        n == task + i
                    }
                };
                if ok {
                    correct.fetch_add(1, Ordering::Relaxed);
                }
                peak_leases.fetch_max(pool.stats().leases, Ordering::Relaxed);
            }
        }));
    }
    let mut most = 0;
    let start = Instant::now();
    while finished.load(Ordering::SeqCst) < TASKS as usize {
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        most = most.max(backends(&admin, &name).await);
        rt.sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(correct.load(Ordering::Relaxed), 2_000);
    let stats = pool.stats();
    assert!(most <= 2, "{most} server connections");
    assert!(
        stats.size <= 2 && stats.created <= 2 + stats.closed.dirty,
        "{stats:?}"
    );
    assert_eq!(stats.acquires, 2_000);
    // 100 tasks on 2 connections: statements did share them.
    assert!(stats.shared > 0, "{stats:?}");
    assert!(peak_leases.load(Ordering::Relaxed) >= 1);
    assert!(
        stats.resets >= 1,
        "the set_config connections were reset: {stats:?}"
    );
    assert_eq!((stats.in_use, stats.waiters, stats.leases), (0, 0, 0));
    assert_all_clean(&rt, &pool, 2).await;
}

pub async fn pool_only_self_contained_statements_share(rt: Arc<dyn Runtime>) {
    // `always_reset` says functions change the session unseen: nothing shares.
    let (builder, _) = pipelined(1, 4);
    let pool = builder.always_reset(true).build(Arc::clone(&rt)).unwrap();
    let answers = select_at_once(&rt, &pool, 20).await;
    assert!(answers.into_iter().all(|a| a.is_ok()));
    assert_eq!(pool.stats().shared, 0);

    // `UPDATE pg_settings` changes a setting behind DML: it takes a connection of
    // its own, which is reset before anyone else has it.
    let (builder, _) = pipelined(1, 4);
    let pool = builder.build(Arc::clone(&rt)).unwrap();
    let stop = AtomicBool::new(false);
    let load = keep_busy(&pool, &stop, 2, "SELECT 1");
    let check = async {
        eventually(&rt, 20, || pool.stats().leases == 1).await;
        for _ in 0..5 {
            pool.execute(
                "UPDATE pg_settings SET setting = '3MB' WHERE name = 'work_mem'",
                &[],
            )
            .await
            .unwrap();
            let work_mem: String = pool.query_scalar("SHOW work_mem", &[]).await.unwrap();
            assert_ne!(work_mem, "3MB");
        }
        stop.store(true, Ordering::Relaxed);
    };
    within(&rt, 60, join(load, check)).await;
    assert!(pool.stats().resets >= 5, "{:?}", pool.stats());
}

/// A caller holding a lock in a transaction of its own, whose next statement would
/// queue behind another waiting for that lock: the connection that stalls takes no
/// new statements, so the caller waits for a connection (and times out) as it would
/// without sharing, instead of waiting for ever.
pub async fn pool_stalled_connections_take_no_statements(rt: Arc<dyn Runtime>) {
    let admin = connect(&rt).await;
    let t = unique_name("stall");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {t} (id int PRIMARY KEY, v int); INSERT INTO {t} VALUES (1, 0)"
        ))
        .await
        .unwrap();
    let (builder, _) = pipelined(2, 4);
    let pool = builder
        .acquire_timeout(Some(Duration::from_secs(2)))
        .build(Arc::clone(&rt))
        .unwrap();
    let holder = pool.acquire().await.unwrap();
    let tx = holder.transaction().await.unwrap();
    tx.execute(&format!("UPDATE {t} SET v = 1 WHERE id = 1"), &[])
        .await
        .unwrap();
    let update = format!("UPDATE {t} SET v = 2 WHERE id = 1");
    let blocked = pool.execute(&update, &[]);
    let holder_side = async {
        eventually(&rt, 20, || pool.stats().leases == 1).await;
        rt.sleep(Duration::from_millis(100)).await;
        let start = Instant::now();
        let e = within(&rt, 20, pool.query_scalar::<i32, _>("SELECT 1", &[]))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
        assert!(start.elapsed() >= Duration::from_secs(2));
        assert_eq!(pool.stats().shared, 0);
        tx.commit().await.unwrap();
    };
    let (updated, ()) = within(&rt, 60, join(blocked, holder_side)).await;
    assert_eq!(updated.unwrap(), 1);
    drop(holder);
    admin
        .batch_execute(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
}

/// A function that changes a reported setting behind a plain `SELECT` shares, but
/// the change is seen as soon as the server reports it: the connection takes no
/// more statements and is reset before anyone else has it. Also when the
/// connection's `after_connect` hook changed the session first.
pub async fn pool_session_changed_by_a_shared_statement_retires_the_connection(
    rt: Arc<dyn Runtime>,
) {
    let admin = connect(&rt).await;
    let f = unique_name("tokyo");
    admin
        .batch_execute(&format!(
            "CREATE FUNCTION {f}() RETURNS text LANGUAGE sql \
             AS $$ SELECT set_config('TimeZone', 'Asia/Tokyo', false) $$"
        ))
        .await
        .unwrap();
    let (builder, _) = pipelined(1, 4);
    let pool = builder
        .after_connect(|client| async move {
            client.batch_execute("SET statement_timeout = '60s'").await
        })
        .build(Arc::clone(&rt))
        .unwrap();
    let change = format!("SELECT {f}()");
    let stop = AtomicBool::new(false);
    let load = keep_busy(&pool, &stop, 2, "SELECT 1");
    let check = async {
        eventually(&rt, 20, || pool.stats().leases == 1).await;
        let shared = pool.stats().shared;
        for _ in 0..5 {
            let zone: String = pool.query_scalar(&change, &[]).await.unwrap();
            assert_eq!(zone, "Asia/Tokyo");
            let zone: String = pool.query_scalar("SHOW TimeZone", &[]).await.unwrap();
            assert_ne!(
                zone, "Asia/Tokyo",
                "read after the change, on a reset session"
            );
        }
        assert!(pool.stats().shared > shared, "{:?}", pool.stats());
        stop.store(true, Ordering::Relaxed);
    };
    within(&rt, 60, join(load, check)).await;
    assert!(pool.stats().resets >= 5, "{:?}", pool.stats());
    admin
        .batch_execute(&format!("DROP FUNCTION {f}()"))
        .await
        .unwrap();
}

/// Places freed on a lease while an acquirer that needs a connection of its own
/// waits are given to the sharers behind it once it is served.
pub async fn pool_sharers_behind_an_acquirer_get_every_place(rt: Arc<dyn Runtime>) {
    let (builder, _) = pipelined(2, 4);
    let pool = builder.build(Arc::clone(&rt)).unwrap();
    let stop = AtomicBool::new(false);
    // Twelve callers, eight places: four always wait.
    let load = keep_busy(&pool, &stop, 12, "SELECT pg_sleep(0.01)");
    let exclusive = async {
        eventually(&rt, 20, || pool.stats().leases == 2).await;
        let conn = within(&rt, 20, pool.acquire()).await.unwrap();
        rt.sleep(Duration::from_millis(100)).await;
        drop(conn);
        // Both connections shared again, four statements each.
        eventually(&rt, 20, || {
            let s = pool.stats();
            s.leases == 2 && s.waiters <= 4
        })
        .await;
        // The median of samples: a scheduling hiccup on a loaded machine can stall a
        // connection for a moment (see `STALLED_AFTER`), places lost would not.
        let start = Instant::now();
        let mut samples = Vec::new();
        while start.elapsed() < Duration::from_millis(300) {
            samples.push(pool.stats().waiters);
            rt.sleep(Duration::from_millis(5)).await;
        }
        stop.store(true, Ordering::Relaxed);
        samples.sort_unstable();
        samples[samples.len() / 2]
    };
    let (_, median) = within(&rt, 60, join(load, exclusive)).await;
    assert!(median <= 4, "{median} waiting with places free");
}

pub async fn pool_pipelining_keeps_acquirers_in_order(rt: Arc<dyn Runtime>) {
    let (builder, _) = pipelined(1, 4);
    let pool = builder
        .acquire_timeout(Some(Duration::from_secs(20)))
        .build(Arc::clone(&rt))
        .unwrap();
    let stop = AtomicBool::new(false);
    let statements = AtomicUsize::new(0);
    // Eight callers on one connection at a depth of four: some always wait.
    let load = join_all((0..8).map(|_| async {
        while !stop.load(Ordering::Relaxed) {
            pool.execute("SELECT pg_sleep(0.001)", &[]).await.unwrap();
            statements.fetch_add(1, Ordering::Relaxed);
        }
    }));
    let exclusive = async {
        rt.sleep(Duration::from_millis(100)).await;
        for _ in 0..3 {
            // An acquirer that needs the connection to itself gets it in its turn:
            // the lease drains instead of taking newcomers.
            let conn = within(&rt, 20, pool.acquire()).await.unwrap();
            assert_eq!(pool.stats().leases, 0);
            let tx = conn.transaction().await.unwrap();
            tx.batch_execute("SET LOCAL work_mem = '3MB'")
                .await
                .unwrap();
            rt.sleep(Duration::from_millis(20)).await;
            tx.commit().await.unwrap();
            drop(conn);
            rt.sleep(Duration::from_millis(50)).await;
        }
        stop.store(true, Ordering::Relaxed);
    };
    within(&rt, 60, join(load, exclusive)).await;
    let stats = pool.stats();
    assert!(statements.load(Ordering::Relaxed) > 8, "{stats:?}");
    assert!(stats.shared > 0, "{stats:?}");
    assert_eq!(stats.timeouts, 0, "{stats:?}");
    assert_eq!((stats.size, stats.created), (1, 1), "{stats:?}");
    assert_all_clean(&rt, &pool, 1).await;
}

pub async fn pool_shared_connections_are_recycled(rt: Arc<dyn Runtime>) {
    // max_queries: a connection that stays busy is still retired, by taking no
    // more statements once it has run its share.
    let (builder, _) = pipelined(2, 4);
    let pool = builder
        .max_queries(Some(40))
        .build(Arc::clone(&rt))
        .unwrap();
    let answers = AtomicUsize::new(0);
    within(
        &rt,
        60,
        join_all((0..8i32).map(|t| {
            let (pool, answers) = (&pool, &answers);
            async move {
                for i in 0..50i32 {
                    let v: i32 = pool
                        .query_scalar("SELECT $1::int4", &[&(t * 100 + i)])
                        .await
                        .unwrap();
                    assert_eq!(v, t * 100 + i);
                    answers.fetch_add(1, Ordering::Relaxed);
                }
            }
        })),
    )
    .await;
    assert_eq!(answers.load(Ordering::Relaxed), 400);
    let stats = pool.stats();
    // 400 statements, at most 40 (and a depth more) per connection.
    assert!(stats.closed.max_queries >= 8, "{stats:?}");
    assert!(stats.shared > 0, "{stats:?}");

    // expire_connections while every connection is busy: each is retired as it
    // drains, and new ones take over.
    let (builder, _) = pipelined(2, 4);
    let pool = builder.build(Arc::clone(&rt)).unwrap();
    let stop = AtomicBool::new(false);
    let load = keep_busy(&pool, &stop, 16, "SELECT 1");
    let expire = async {
        eventually(&rt, 20, || pool.stats().leases == 2).await;
        let created = pool.stats().created;
        pool.expire_connections();
        eventually(&rt, 20, || {
            let s = pool.stats();
            s.closed.expired >= 2 && s.created >= created + 2
        })
        .await;
        stop.store(true, Ordering::Relaxed);
    };
    within(&rt, 60, join(load, expire)).await;

    // A short lifetime: busy connections expire too.
    let (builder, _) = pipelined(2, 4);
    let pool = builder
        .max_lifetime(Some(Duration::from_millis(100)))
        .lifetime_jitter(Duration::ZERO)
        .build(Arc::clone(&rt))
        .unwrap();
    let stop = AtomicBool::new(false);
    let load = keep_busy(&pool, &stop, 16, "SELECT 1");
    let watch = async {
        eventually(&rt, 20, || pool.stats().closed.expired >= 4).await;
        stop.store(true, Ordering::Relaxed);
    };
    within(&rt, 60, join(load, watch)).await;
    assert!(pool.stats().size <= 2);
}

pub async fn pool_shared_connections_recover_after_kills(rt: Arc<dyn Runtime>) {
    let (builder, name) = pipelined(3, 4);
    let pool = builder
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build(Arc::clone(&rt))
        .unwrap();
    let admin = connect(&rt).await;
    let stop = AtomicBool::new(false);
    let failures = AtomicUsize::new(0);
    let successes = AtomicUsize::new(0);
    let load = join_all((0..40).map(|_| async {
        while !stop.load(Ordering::Relaxed) {
            match pool.query_scalar::<i32, _>("SELECT 1", &[]).await {
                Ok(_) => successes.fetch_add(1, Ordering::Relaxed),
                Err(e) => {
                    assert!(killed(&e), "{e:?}");
                    failures.fetch_add(1, Ordering::Relaxed)
                }
            };
        }
    }));
    let killer = async {
        eventually(&rt, 20, || pool.stats().leases == 3).await;
        for _ in 0..3 {
            terminate_backends(&admin, &name).await;
            rt.sleep(Duration::from_millis(100)).await;
        }
        stop.store(true, Ordering::Relaxed);
    };
    within(&rt, 60, join(load, killer)).await;
    assert!(successes.load(Ordering::Relaxed) > 0);
    assert!(failures.load(Ordering::Relaxed) > 0);
    // The dead connections were dropped: statements succeed, on at most 3.
    let answers = within(
        &rt,
        20,
        join_all((0..20).map(|_| pool.query_scalar::<i32, _>("SELECT 1", &[]))),
    )
    .await;
    assert!(answers.into_iter().all(|a| a.unwrap() == 1));
    let stats = pool.stats();
    assert!(stats.size <= 3, "{stats:?}");
    assert!(stats.closed.broken + stats.closed.dirty >= 3, "{stats:?}");
    assert!(backends(&admin, &name).await <= 3);
}

pub async fn pool_dropped_shared_statements_leave_clean_connections(rt: Arc<dyn Runtime>) {
    let (builder, _) = pipelined(2, 3);
    let pool = builder.build(Arc::clone(&rt)).unwrap();
    // Connected first, as in `pool_dropped_futures_leave_clean_connections`.
    drop(within(&rt, 30, join_all((0..2).map(|_| pool.acquire()))).await);
    let mut rng = Rng(0x5eed_0000_9999_0002);
    for round in 0..150u64 {
        // Several statements at once, each dropped after a random time: while
        // waiting for a place, queued behind others, or with its answer in flight.
        let limits: Vec<Duration> = (0..6)
            .map(|_| Duration::from_micros(rng.below(6000)))
            .collect();
        let pool = &pool;
        join_all(limits.into_iter().enumerate().map(|(k, limit)| {
            let rt = &rt;
            async move {
                let call = async {
                    if (round + k as u64) % 3 == 0 {
                        pool.query("SELECT pg_sleep(0.001)", &[]).await.map(drop)
                    } else {
                        pool.query_scalar::<i32, _>("SELECT $1::int4", &[&1i32])
                            .await
                            .map(drop)
                    }
                };
                run_for(rt, limit, call).await;
            }
        }))
        .await;
    }
    let stats = pool.stats();
    assert!(stats.size <= 2, "{stats:?}");
    eventually(&rt, 10, || {
        let s = pool.stats();
        s.leases == 0 && s.in_use == 0
    })
    .await;
    assert_all_clean(&rt, &pool, 2).await;
    // And the pool still answers, every statement.
    let answers = select_at_once(&rt, &pool, 12).await;
    for (i, a) in answers.into_iter().enumerate() {
        assert_eq!(a.unwrap(), i32::try_from(i).unwrap());
    }
    // Shared, at the latest by these twelve on two connections three deep.
    assert!(pool.stats().shared > 0, "{:?}", pool.stats());
}
