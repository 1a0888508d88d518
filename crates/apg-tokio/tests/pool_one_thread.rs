//! The pool on a single-threaded executor, where a task that never yields stops
//! everything: acquire timeouts, which one background task enforces for all waiters,
//! must end every waiter, and leave the pool usable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use apg::{Pool, PoolError};

#[allow(unreachable_pub)]
#[path = "../../apg/tests/common/mod.rs"]
mod common;

/// Runs `body` on a current-thread tokio runtime.
fn on_one_thread<F: std::future::Future<Output = ()>>(
    body: impl FnOnce(Arc<dyn apg::Runtime>) -> F,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let runtime: Arc<dyn apg::Runtime> =
        Arc::new(apg_tokio::TokioRuntime::new(rt.handle().clone()));
    rt.block_on(body(runtime));
}

#[test]
fn acquire_timeouts_on_one_thread() {
    on_one_thread(|runtime| async move {
        let pool = Pool::builder(common::test_config())
            .max_size(1)
            .acquire_timeout(Some(Duration::from_millis(100)))
            .build(runtime)
            .unwrap();
        let held = pool.acquire().await.unwrap();
        let start = Instant::now();
        let waiting = futures_util::future::join_all((0..3).map(|_| pool.acquire()));
        let results = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("every waiter ends");
        assert!(start.elapsed() >= Duration::from_millis(100));
        for r in results {
            assert!(matches!(r, Err(PoolError::Timeout)), "{r:?}");
        }
        assert_eq!(pool.stats().timeouts, 3);
        assert_eq!(pool.stats().waiters, 0);
        // Later waiters are timed too, and the pool still hands out its connection.
        let late = tokio::time::timeout(Duration::from_secs(10), pool.acquire())
            .await
            .expect("the late waiter ends");
        assert!(matches!(late, Err(PoolError::Timeout)), "{late:?}");
        drop(held);
        let conn = pool.acquire().await.unwrap();
        assert_eq!(
            conn.query_scalar::<i32, _>("SELECT 1", &[]).await.unwrap(),
            1
        );
    });
}

#[test]
fn pipelined_statements_on_one_thread() {
    on_one_thread(|runtime| async move {
        let pool = Pool::builder(common::test_config())
            .max_size(2)
            .pipeline_depth(4)
            .build(runtime)
            .unwrap();
        // Sixty-four statements at once from one task: eight run, two connections
        // of four; the rest wait their turn and take the places as they free up.
        let all = futures_util::future::join_all((0..64i32).map(|i| {
            let pool = &pool;
            async move { pool.query_scalar::<i32, _>("SELECT $1::int4", &[&i]).await }
        }));
        let results = tokio::time::timeout(Duration::from_secs(30), all)
            .await
            .expect("every statement ends");
        for (i, r) in (0..64i32).zip(results) {
            assert_eq!(r.unwrap(), i);
        }
        let stats = pool.stats();
        assert!(stats.shared >= 56, "{stats:?}");
        assert_eq!(
            (stats.size, stats.leases, stats.waiters),
            (2, 0, 0),
            "{stats:?}"
        );
    });
}
