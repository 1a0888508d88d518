//! The integration suite, written once and run on every runtime.
//!
//! Each test is an `async fn(Arc<dyn Runtime>)`. A runtime adapter's test file
//! includes this module and instantiates every test for its runtime with
//! [`apg_suite!`], giving it a function that builds the runtime and runs one body to
//! completion:
//!
//! ```ignore
//! #[macro_use]
//! #[path = "../../apg/tests/suite/mod.rs"]
//! mod suite;
//!
//! fn run<F, Fut>(body: F)
//! where
//!     F: FnOnce(Arc<dyn apg::Runtime>) -> Fut,
//!     Fut: Future<Output = ()>,
//! { /* build the runtime, block on body(runtime) */ }
//!
//! apg_suite!(run);
//! ```
//!
//! Tests use temporary tables or unique names, so they can run in parallel.

#![allow(dead_code, unreachable_pub)]

#[path = "../common/mod.rs"]
pub mod common;
mod copy_rows;
mod pool;
mod pool_pipeline;
mod tls;
pub use copy_rows::*;
pub use pool::*;
pub use pool_pipeline::*;
pub use tls::*;

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use apg::config::{Host, TargetSessionAttrs};
use apg::types::Type;
use apg::{
    Client, ErrorKind, IsolationLevel, Runtime, SimpleQueryMessage, SqlState, TransactionOptions,
};
use futures_util::{AsyncWriteExt, StreamExt, TryStreamExt};

use common::{connect, connect_with, test_config, unique_name};

/// Instantiates every test of the suite as a `#[test]` run by `$run`.
#[macro_export]
macro_rules! apg_suite {
    ($run:path) => {
        $crate::apg_suite!(@tests $run;
            connect_and_query,
            query_variants,
            value_types_round_trip,
            type_mismatch_errors,
            server_errors,
            simple_query_and_batch_execute,
            prepare_describes_the_statement,
            concurrent_queries_are_pipelined,
            concurrent_first_use_prepares_once,
            large_batches_are_written_while_tasks_queue_more,
            statement_cache_hits,
            reprepare_after_schema_change,
            reprepare_after_deallocate,
            schema_change_inside_a_transaction,
            cache_disabled_uses_unnamed_statements,
            cache_eviction_closes_statements,
            transaction_commit_and_rollback,
            dropped_transaction_rolls_back,
            savepoints,
            failed_statement_fails_the_transaction,
            transaction_options,
            dropped_futures_leave_the_connection_usable,
            terminated_backend_fails_pending_and_later_requests,
            execute_many_is_atomic,
            query_stream_is_bounded,
            dropped_stream_leaves_the_connection_usable,
            stream_inside_a_transaction,
            connect_timeout_bounds_startup,
            tls_modes,
            tls_certificate_checks,
            tls_channel_binding,
            tls_session_traffic,
            tls_pool,
            tls_revocation_lists,
            tls_protocol_versions,
            tls_without_sni,
            authentication_methods,
            unix_socket,
            close_ends_the_connection,
            clones_share_the_connection,
            startup_settings,
            copy_in_and_out,
            copy_failures_leave_the_connection_usable,
            copy_out_is_bounded,
            cancel_token_cancels,
            cancel_goes_to_the_address_connected_to,
            statement_futures_stay_small,
            command_timeout_cancels,
            pool_many_tasks_share_few_connections,
            pool_dropped_futures_leave_clean_connections,
            pool_acquire_timeout,
            pool_waiters_are_served_in_order,
            pool_close_waits_for_connections,
            pool_expire_connections,
            pool_max_lifetime_and_idle_timeout,
            pool_hooks_run_and_can_reject,
            pool_recovers_after_server_kills,
            pool_reset_on_release,
            pool_reset_only_when_needed,
            pool_health_check,
            pool_pipelines_one_call_statements,
            pool_only_self_contained_statements_share,
            pool_stalled_connections_take_no_statements,
            pool_session_changed_by_a_shared_statement_retires_the_connection,
            pool_sharers_behind_an_acquirer_get_every_place,
            pool_pipelining_keeps_acquirers_in_order,
            pool_shared_connections_are_recycled,
            pool_shared_connections_recover_after_kills,
            pool_dropped_shared_statements_leave_clean_connections,
            copy_rows_loads_typed_rows,
            copy_rows_quotes_names,
            copy_rows_failures_insert_nothing,
            copy_all_formats_100k,
            listen_and_notify_between_connections,
            channel_names_are_quoted,
            dropping_a_listener_unlistens,
            all_notifications_of_the_connection,
            slow_listener_drops_the_oldest,
            listener_ends_with_the_connection,
            notices_reach_the_handler,
            target_session_attrs_on_a_primary,
            unreachable_first_host_is_skipped,
            password_from_the_passfile,
        );
    };
    (@tests $run:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $run(suite::$name);
            }
        )*
    };
}

/// Runs `future`, failing the test if it takes longer than `secs` seconds.
async fn within<F: Future>(rt: &Arc<dyn Runtime>, secs: u64, future: F) -> F::Output {
    let mut future = pin!(future);
    let mut sleep = rt.sleep(Duration::from_secs(secs));
    poll_fn(|cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(v);
        }
        assert!(
            sleep.as_mut().poll(cx).is_pending(),
            "timed out after {secs} s"
        );
        Poll::Pending
    })
    .await
}

/// Polls `future` once.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut *future).poll(cx))).await
}

fn assert_send<T: Send>(_: &T) {}

pub async fn connect_and_query(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    assert!(!client.is_closed());
    assert!(client.server_version().is_some_and(|v| !v.is_empty()));
    assert!(client.server_version_num().is_some_and(|v| v >= 90_000));
    assert!(client.backend_pid().is_some());
    let row = client
        .query_one(
            "SELECT 1::int4 AS one, 'x'::text AS t, NULL::int8 AS n",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.len(), 3);
    assert_eq!(row.get::<i32, _>("one"), 1);
    assert_eq!(row.get::<&str, _>(1), "x");
    assert_eq!(row.get::<Option<i64>, _>("n"), None);
    assert_eq!(row.columns()[2].name(), "n");
    assert_eq!(row.columns()[2].type_(), &Type::INT8);
    let future = client.query("SELECT 1", &[]);
    assert_send(&future);
    drop(future);
}

pub async fn query_variants(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let t = unique_name("variants");
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {t} (id int4 PRIMARY KEY, v text)"
        ))
        .await
        .unwrap();
    let inserted = client
        .execute(
            &format!("INSERT INTO {t} VALUES ($1, $2), ($3, $4), (3, 'c')"),
            &[&1i32, &"a", &2i32, &"b"],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 3);
    let updated = client
        .execute(
            &format!("UPDATE {t} SET v = v || '!' WHERE id >= $1"),
            &[&2i32],
        )
        .await
        .unwrap();
    assert_eq!(updated, 2);
    assert_eq!(
        client
            .execute(&format!("CREATE INDEX ON {t} (v)"), &[])
            .await
            .unwrap(),
        0
    );
    let rows = client
        .query(&format!("SELECT id, v FROM {t} ORDER BY id"), &[])
        .await
        .unwrap();
    let values: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        values,
        [(1, "a".into()), (2, "b!".into()), (3, "c!".into())]
    );
    let select = format!("SELECT v FROM {t} WHERE id = $1");
    assert!(client.query_opt(&select, &[&9i32]).await.unwrap().is_none());
    let row = client.query_opt(&select, &[&1i32]).await.unwrap().unwrap();
    assert_eq!(row.get::<String, _>("v"), "a");
    assert_eq!(
        client
            .query_one(&select, &[&9i32])
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::RowCount
    );
    let all = format!("SELECT v FROM {t}");
    assert_eq!(
        client.query_one(&all, &[]).await.unwrap_err().kind(),
        ErrorKind::RowCount
    );
    assert_eq!(
        client.query_opt(&all, &[]).await.unwrap_err().kind(),
        ErrorKind::RowCount
    );
    let n: i64 = client
        .query_scalar(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .unwrap();
    assert_eq!(n, 3);
    // An empty query string.
    assert_eq!(client.execute("", &[]).await.unwrap(), 0);
    assert!(client.query("", &[]).await.unwrap().is_empty());
}

pub async fn value_types_round_trip(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let row = client
        .query_one(
            "SELECT $1::bool, $2::int2, $3::int4, $4::int8, $5::float4, $6::float8, \
             $7::text, $8::varchar, $9::bytea, $10::oid, $11::\"char\", $12::int4, $13::text",
            &[
                &true,
                &-2i16,
                &i32::MIN,
                &i64::MAX,
                &1.5f32,
                &f64::NEG_INFINITY,
                &"héllo",
                &String::from("v"),
                &vec![0u8, 1, 255],
                &4_000_000_000u32,
                &i8::try_from(b'x').unwrap(),
                &None::<i32>,
                &Some("s"),
            ],
        )
        .await
        .unwrap();
    assert!(row.get::<bool, _>(0));
    assert_eq!(row.get::<i16, _>(1), -2);
    assert_eq!(row.get::<i32, _>(2), i32::MIN);
    assert_eq!(row.get::<i64, _>(3), i64::MAX);
    assert_eq!(row.get::<f32, _>(4), 1.5);
    assert_eq!(row.get::<f64, _>(5), f64::NEG_INFINITY);
    assert_eq!(row.get::<&str, _>(6), "héllo");
    assert_eq!(row.get::<String, _>(7), "v");
    assert_eq!(row.get::<&[u8], _>(8), [0, 1, 255]);
    assert_eq!(row.get::<Vec<u8>, _>(8), [0, 1, 255]);
    assert_eq!(row.get::<u32, _>(9), 4_000_000_000);
    assert_eq!(row.get::<i8, _>(10), i8::try_from(b'x').unwrap());
    assert_eq!(row.get::<Option<i32>, _>(11), None);
    assert_eq!(row.get::<Option<String>, _>(12).as_deref(), Some("s"));
    // Columns of types without a binary decoder arrive as text, and are not strings.
    let row = client
        .query_one("SELECT '(0,1)'::tid AS n", &[])
        .await
        .unwrap();
    assert_eq!(row.columns()[0].format(), apg::Format::Text);
    assert_eq!(row.raw(0), Some(&b"(0,1)"[..]));
    assert_eq!(
        row.try_get::<String, _>(0).unwrap_err().kind(),
        ErrorKind::Conversion
    );
}

pub async fn type_mismatch_errors(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    // An f64 for an int4 placeholder: refused before anything is sent.
    let e = client.query("SELECT $1::int4", &[&1f64]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion);
    let text = e.to_string();
    assert!(
        text.contains("$1") && text.contains("int4") && text.contains("f64"),
        "{text}"
    );
    // An i64 for an int4 placeholder is narrowed, checked.
    let e = client
        .query("SELECT $1::int4", &[&(1i64 << 40)])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion);
    assert!(e.to_string().contains("out of range"), "{e}");
    // Decoding an int4 column as a String.
    let row = client.query_one("SELECT 1::int4 AS id", &[]).await.unwrap();
    let e = row.try_get::<String, _>("id").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion);
    let text = e.to_string();
    assert!(
        text.contains("id") && text.contains("int4") && text.contains("String"),
        "{text}"
    );
    assert_eq!(row.try_get::<i64, _>(0).unwrap(), 1, "lossless widening");
    assert!(row.try_get::<f64, _>(0).is_err(), "no integer to float");
    // NULL into a non-Option.
    let row = client.query_one("SELECT NULL::int4", &[]).await.unwrap();
    assert_eq!(
        row.try_get::<i32, _>(0).unwrap_err().kind(),
        ErrorKind::Conversion
    );
    // No such column.
    assert_eq!(
        row.try_get::<i32, _>("nope").unwrap_err().kind(),
        ErrorKind::Column
    );
    assert_eq!(
        row.try_get::<i32, _>(5).unwrap_err().kind(),
        ErrorKind::Column
    );
    // Wrong number of parameters.
    let e = client.query("SELECT $1::int4", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage);
    // The connection is fine.
    let v: i32 = client
        .query_scalar("SELECT $1::int4", &[&7i32])
        .await
        .unwrap();
    assert_eq!(v, 7);
}

pub async fn server_errors(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let e = client.query("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Db);
    assert_eq!(e.code(), Some(SqlState::DivisionByZero));
    assert!(e.to_string().starts_with("ERROR:  division by zero"), "{e}");
    let t = unique_name("errors");
    client
        .batch_execute(&format!("CREATE TEMP TABLE {t} (id int4 PRIMARY KEY)"))
        .await
        .unwrap();
    client
        .execute(&format!("INSERT INTO {t} VALUES (1)"), &[])
        .await
        .unwrap();
    let e = client
        .execute(&format!("INSERT INTO {t} VALUES (1)"), &[])
        .await
        .unwrap_err();
    let db = e.as_db_error().unwrap();
    assert_eq!(db.code(), SqlState::UniqueViolation);
    assert_eq!(db.severity(), "ERROR");
    assert_eq!(db.table(), Some(t.as_str()));
    assert!(db.constraint().is_some());
    assert!(db.detail().is_some_and(|d| d.contains("(id)=(1)")));
    assert!(
        e.to_string()
            .contains("\nDETAIL:  Key (id)=(1) already exists."),
        "{e}"
    );
    // A syntax error reports its position.
    let e = client.query("SELECT FROM WHERE", &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(SqlState::SyntaxError));
    assert!(e.as_db_error().unwrap().position().is_some());
    let v: i32 = client.query_scalar("SELECT 2", &[]).await.unwrap();
    assert_eq!(v, 2);
}

pub async fn simple_query_and_batch_execute(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let t = unique_name("simple");
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {t} (id int4, v text); INSERT INTO {t} VALUES (1, 'a'), (2, NULL)"
        ))
        .await
        .unwrap();
    let messages = client
        .simple_query(&format!(
            "SELECT id, v FROM {t} ORDER BY id; DELETE FROM {t} WHERE id = 2"
        ))
        .await
        .unwrap();
    assert_eq!(messages.len(), 4, "{messages:?}");
    let SimpleQueryMessage::Row(first) = &messages[0] else {
        panic!("{messages:?}");
    };
    assert_eq!(first.get(0), Some("1"));
    assert_eq!(first.get("v"), Some("a"));
    assert_eq!(first.columns()[1].name(), "v");
    let SimpleQueryMessage::Row(second) = &messages[1] else {
        panic!("{messages:?}");
    };
    assert_eq!(second.get("v"), None);
    assert!(matches!(
        &messages[2],
        SimpleQueryMessage::CommandComplete { tag, rows: Some(2) } if tag == "SELECT 2"
    ));
    assert!(matches!(
        &messages[3],
        SimpleQueryMessage::CommandComplete { rows: Some(1), .. }
    ));
    // A failing statement rolls back the statements before it in the same string.
    let e = client
        .batch_execute(&format!("INSERT INTO {t} VALUES (3, 'c'); SELECT 1/0"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(SqlState::DivisionByZero));
    let n: i64 = client
        .query_scalar(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .unwrap();
    assert_eq!(n, 1);
}

pub async fn prepare_describes_the_statement(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let stmt = client
        .prepare("SELECT $1::int4 + 1 AS a, $2::text AS b")
        .await
        .unwrap();
    assert_eq!(stmt.params(), [Type::INT4, Type::TEXT]);
    let columns: Vec<(&str, &Type)> = stmt
        .columns()
        .iter()
        .map(|c| (c.name(), c.type_()))
        .collect();
    assert_eq!(columns, [("a", &Type::INT4), ("b", &Type::TEXT)]);
    let row = client.query_one(&stmt, &[&41i32, &"x"]).await.unwrap();
    assert_eq!(row.get::<i32, _>("a"), 42);
    let again = client
        .prepare("SELECT $1::int4 + 1 AS a, $2::text AS b")
        .await
        .unwrap();
    assert_eq!(again.params(), stmt.params());
    let e = client.prepare("SELEC 1").await.unwrap_err();
    assert_eq!(e.code(), Some(SqlState::SyntaxError));
    // A statement of another connection is refused.
    let other = connect(&rt).await;
    assert_eq!(
        other.query(&stmt, &[&1i32, &"y"]).await.unwrap_err().kind(),
        ErrorKind::Usage
    );
}

pub async fn concurrent_queries_are_pipelined(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let sql = "SELECT $1::int4 * 2";
    client.prepare(sql).await.unwrap();
    let before = client.__stats();
    let queries = (0..1000i32).map(|i| {
        let client = client.clone();
        async move {
            let v: i32 = client.query_scalar(sql, &[&i]).await.unwrap();
            assert_eq!(v, i * 2);
        }
    });
    within(&rt, 60, futures_util::future::join_all(queries)).await;
    let after = client.__stats();
    let writes = after.writes - before.writes;
    // How many writes the driver needs depends on scheduling (it runs on another thread
    // while the queries are encoded: typically 10-150 on a busy machine, more under heavy
    // load), so the test checks what pipelining means instead: many queries on the wire
    // at once, and fewer writes than queries.
    assert!(writes < 1000, "1000 queries took {writes} writes");
    // Without pipelining there is never more than one. How many more depends on how
    // fast the server answers while the rest are encoded (usually hundreds).
    assert!(
        after.max_in_flight >= 4,
        "at most {} queries were in flight at once",
        after.max_in_flight
    );
    assert_eq!(after.statements_prepared, before.statements_prepared);
}

/// Thousands of tasks queue requests of 2 KiB at once, megabytes in all: the batch is
/// written in pieces as it grows (by the queuing tasks) and as the socket drains (by
/// the driver), and every answer reaches its task.
pub async fn large_batches_are_written_while_tasks_queue_more(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let sql = "SELECT length($1::text) + $2::int4";
    client.prepare(sql).await.unwrap();
    let before = client.__stats();
    let text = "x".repeat(2048);
    let queries = (0..3000i32).map(|i| {
        let (client, text) = (client.clone(), &text);
        async move {
            let v: i32 = client.query_scalar(sql, &[text, &i]).await.unwrap();
            assert_eq!(v, 2048 + i);
        }
    });
    within(&rt, 60, futures_util::future::join_all(queries)).await;
    let writes = client.__stats().writes - before.writes;
    assert!(writes > 1, "6 MB of requests in {writes} write");
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 1", &[])
            .await
            .unwrap(),
        1
    );
}

pub async fn concurrent_first_use_prepares_once(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let sql = "SELECT $1::int4 * 3";
    let queries = (0..200i32).map(|i| {
        let client = client.clone();
        async move {
            let v: i32 = client.query_scalar(sql, &[&i]).await.unwrap();
            assert_eq!(v, i * 3);
        }
    });
    within(&rt, 60, futures_util::future::join_all(queries)).await;
    assert_eq!(client.__stats().statements_prepared, 1);
    assert_eq!(prepared_count(&client, sql).await, 1);
}

async fn prepared_count(client: &Client, sql: &str) -> i64 {
    client
        .query_scalar(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
            &[&sql],
        )
        .await
        .unwrap()
}

pub async fn statement_cache_hits(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let sql = "SELECT $1::int4 + 100";
    let before = client.__stats().statements_prepared;
    for i in 0..5i32 {
        let v: i32 = client.query_scalar(sql, &[&i]).await.unwrap();
        assert_eq!(v, i + 100);
    }
    assert_eq!(client.__stats().statements_prepared - before, 1);
    assert_eq!(prepared_count(&client, sql).await, 1);
}

pub async fn reprepare_after_schema_change(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let t = unique_name("reprepare");
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {t} (a int4); INSERT INTO {t} VALUES (1)"
        ))
        .await
        .unwrap();
    let select = format!("SELECT * FROM {t}");
    let rows = client.query(&select, &[]).await.unwrap();
    assert_eq!(rows[0].len(), 1);
    let prepared = client.__stats().statements_prepared;
    client
        .batch_execute(&format!("ALTER TABLE {t} ADD COLUMN b text DEFAULT 'x'"))
        .await
        .unwrap();
    let rows = client.query(&select, &[]).await.unwrap();
    assert_eq!(rows[0].len(), 2);
    assert_eq!(rows[0].get::<&str, _>("b"), "x");
    assert_eq!(client.__stats().statements_prepared, prepared + 1);
    // The stale statement was closed on the server.
    let rows = client.query(&select, &[]).await.unwrap();
    assert_eq!(rows[0].len(), 2);
    assert_eq!(prepared_count(&client, &select).await, 1);
}

pub async fn reprepare_after_deallocate(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let sql = "SELECT $1::int8 - 1";
    assert_eq!(
        client.query_scalar::<i64, _>(sql, &[&5i64]).await.unwrap(),
        4
    );
    client.batch_execute("DEALLOCATE ALL").await.unwrap();
    assert_eq!(
        client.query_scalar::<i64, _>(sql, &[&6i64]).await.unwrap(),
        5
    );
    client.batch_execute("DEALLOCATE ALL").await.unwrap();
    assert_eq!(
        client
            .execute_many(sql, &[&[&1i64], &[&2i64]])
            .await
            .unwrap(),
        2
    );
}

pub async fn schema_change_inside_a_transaction(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let t = unique_name("txschema");
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {t} (a int4); INSERT INTO {t} VALUES (1)"
        ))
        .await
        .unwrap();
    let select = format!("SELECT * FROM {t}");
    client.query(&select, &[]).await.unwrap();
    let tx = client.transaction().await.unwrap();
    tx.batch_execute(&format!("ALTER TABLE {t} ADD COLUMN b int4"))
        .await
        .unwrap();
    // Inside a transaction block the error cannot be healed: the block is aborted.
    let e = tx.query(&select, &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(SqlState::FeatureNotSupported));
    let e = tx.commit().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TransactionRolledBack);
    // Rolled back: the column is gone again, and the statement is prepared afresh.
    let rows = client.query(&select, &[]).await.unwrap();
    assert_eq!(rows[0].len(), 1);
}

pub async fn cache_disabled_uses_unnamed_statements(rt: Arc<dyn Runtime>) {
    let mut config = test_config();
    config.statement_cache_capacity = 0;
    let client = connect_with(&rt, config).await;
    let sql = "SELECT $1::int8 + $2, $3::text || 'b'";
    for i in 0..3i64 {
        let row = client.query_one(sql, &[&i, &1i64, &"a"]).await.unwrap();
        assert_eq!(row.get::<i64, _>(0), i + 1);
        assert_eq!(row.get::<&str, _>(1), "ab");
    }
    let stats = client.__stats();
    assert_eq!(stats.statements_prepared, 0);
    assert_eq!(stats.unnamed_parses, 3);
    let named: i64 = client
        .query_scalar("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .unwrap();
    assert_eq!(named, 0);
    // The unnamed statement still checks the parameter types it declared.
    let e = client
        .query("SELECT $1::int4", &[&"not a number"])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Db);
    let stmt = client.prepare("SELECT $1::int4 AS v").await.unwrap();
    assert_eq!(stmt.params(), [Type::INT4]);
    assert_eq!(
        client
            .query_one(&stmt, &[&3i32])
            .await
            .unwrap()
            .get::<i32, _>("v"),
        3
    );
    let t = unique_name("unnamed");
    client
        .batch_execute(&format!("CREATE TEMP TABLE {t} (id int8 PRIMARY KEY)"))
        .await
        .unwrap();
    let insert = format!("INSERT INTO {t} VALUES ($1)");
    assert_eq!(
        client
            .execute_many(&insert, &[&[&1i64], &[&2i64]])
            .await
            .unwrap(),
        2
    );
    let mut stream = client
        .query_stream_with_fetch_size(&format!("SELECT id FROM {t} ORDER BY id"), &[], 1)
        .await
        .unwrap();
    let mut ids = Vec::new();
    while let Some(row) = stream.next().await {
        ids.push(row.unwrap().get::<i64, _>(0));
    }
    assert_eq!(ids, [1, 2]);
}

pub async fn cache_eviction_closes_statements(rt: Arc<dyn Runtime>) {
    let mut config = test_config();
    config.statement_cache_capacity = 2;
    let client = connect_with(&rt, config).await;
    for i in 0..6i32 {
        let sql = format!("SELECT {i} + $1::int4");
        assert_eq!(
            client.query_scalar::<i32, _>(&sql, &[&1i32]).await.unwrap(),
            i + 1
        );
    }
    let named: i64 = client
        .query_scalar("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .unwrap();
    // The two cached, plus this count query's own statement (which evicted one whose
    // Close goes out with the next request).
    assert!(named <= 3, "{named} statements left on the server");
}

pub async fn transaction_commit_and_rollback(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let t = unique_name("tx");
    client
        .batch_execute(&format!("CREATE TABLE {t} (id int4)"))
        .await
        .unwrap();
    let count = format!("SELECT count(*) FROM {t}");
    let tx = client.transaction().await.unwrap();
    tx.execute(&format!("INSERT INTO {t} VALUES (1)"), &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let tx = client.transaction().await.unwrap();
    tx.execute(&format!("INSERT INTO {t} VALUES (2)"), &[])
        .await
        .unwrap();
    assert_eq!(tx.query_scalar::<i64, _>(&count, &[]).await.unwrap(), 2);
    tx.rollback().await.unwrap();
    // Another connection sees only the committed row.
    let other = connect(&rt).await;
    assert_eq!(other.query_scalar::<i64, _>(&count, &[]).await.unwrap(), 1);
    other
        .batch_execute(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
}

pub async fn dropped_transaction_rolls_back(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let t = unique_name("txdrop");
    client
        .batch_execute(&format!("CREATE TEMP TABLE {t} (id int4)"))
        .await
        .unwrap();
    let count = format!("SELECT count(*) FROM {t}");
    {
        let tx = client.transaction().await.unwrap();
        tx.execute(&format!("INSERT INTO {t} VALUES (1)"), &[])
            .await
            .unwrap();
    }
    // Same session: an open transaction would still see its own row.
    assert_eq!(client.query_scalar::<i64, _>(&count, &[]).await.unwrap(), 0);
    // A `transaction()` future dropped after BEGIN went out.
    for _ in 0..3 {
        let mut begin = Box::pin(client.transaction());
        let _ = poll_once(&mut begin).await;
        drop(begin);
        client
            .execute(&format!("INSERT INTO {t} VALUES (2)"), &[])
            .await
            .unwrap();
        let open: bool = client
            // The INSERT above assigned a transaction id if it ran inside a block.
            .query_scalar("SELECT txid_current_if_assigned() IS NOT NULL", &[])
            .await
            .unwrap();
        assert!(!open, "the connection was left inside a transaction");
    }
    // The inserts above were not swallowed by a transaction either.
    assert_eq!(client.query_scalar::<i64, _>(&count, &[]).await.unwrap(), 3);
}

pub async fn savepoints(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let t = unique_name("sp");
    client
        .batch_execute(&format!("CREATE TEMP TABLE {t} (id int4)"))
        .await
        .unwrap();
    let insert = format!("INSERT INTO {t} VALUES ($1)");
    let ids =
        format!("SELECT coalesce(array_to_string(array_agg(id ORDER BY id), ','), '') FROM {t}");
    let mut tx = client.transaction().await.unwrap();
    tx.execute(&insert, &[&1i32]).await.unwrap();
    {
        let sp = tx.savepoint("first").await.unwrap();
        sp.execute(&insert, &[&2i32]).await.unwrap();
        sp.rollback().await.unwrap();
    }
    {
        let mut nested = tx.transaction().await.unwrap();
        nested.execute(&insert, &[&3i32]).await.unwrap();
        {
            let deeper = nested.transaction().await.unwrap();
            deeper.execute(&insert, &[&4i32]).await.unwrap();
            // Dropped: rolled back to its savepoint.
        }
        nested.commit().await.unwrap();
    }
    {
        let failing = tx.savepoint("failing").await.unwrap();
        failing.execute("SELECT 1/0", &[]).await.unwrap_err();
        assert!(failing.is_failed());
        let e = failing.commit().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TransactionRolledBack);
        assert_eq!(e.code(), Some(SqlState::DivisionByZero));
    }
    // The outer transaction is usable again after its savepoint was rolled back.
    assert_eq!(
        tx.query_scalar::<String, _>(&ids, &[]).await.unwrap(),
        "1,3"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        client.query_scalar::<String, _>(&ids, &[]).await.unwrap(),
        "1,3"
    );
}

pub async fn failed_statement_fails_the_transaction(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let t = unique_name("txfail");
    client
        .batch_execute(&format!("CREATE TEMP TABLE {t} (id int4)"))
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    tx.execute(&format!("INSERT INTO {t} VALUES (1)"), &[])
        .await
        .unwrap();
    let e = tx.query("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(SqlState::DivisionByZero));
    let e = tx.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(SqlState::InFailedSqlTransaction));
    let e = tx.commit().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TransactionRolledBack);
    assert_eq!(e.code(), Some(SqlState::DivisionByZero));
    let n: i64 = client
        .query_scalar(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .unwrap();
    assert_eq!(n, 0);
    // A failure through another handle: COMMIT answers ROLLBACK.
    let tx = client.transaction().await.unwrap();
    client.query("SELECT 1/0", &[]).await.unwrap_err();
    let e = tx.commit().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TransactionRolledBack);
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 5", &[])
            .await
            .unwrap(),
        5
    );
}

pub async fn transaction_options(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let tx = client
        .transaction_with(
            TransactionOptions::new()
                .isolation(IsolationLevel::Serializable)
                .read_only(true)
                .deferrable(true),
        )
        .await
        .unwrap();
    let level: String = tx
        .query_scalar("SELECT current_setting('transaction_isolation')", &[])
        .await
        .unwrap();
    assert_eq!(level, "serializable");
    let e = tx
        .execute("CREATE TEMP TABLE never (id int4)", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(SqlState::ReadOnlySqlTransaction));
    tx.rollback().await.unwrap();
    let level: String = client
        .query_scalar("SELECT current_setting('transaction_isolation')", &[])
        .await
        .unwrap();
    assert_eq!(level, "read committed");
}

pub async fn dropped_futures_leave_the_connection_usable(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let sql = "SELECT $1::int4, pg_sleep(0.002)";
    for i in 0..60i32 {
        let params: [&(dyn apg::ToSql + Sync); 1] = [&i];
        let mut query = Box::pin(client.query(sql, &params));
        for _ in 0..(i % 5) {
            if poll_once(&mut query).await.is_ready() {
                break;
            }
            rt.sleep(Duration::from_millis(1)).await;
        }
        drop(query);
        if i % 7 == 0 {
            let mut stream = Box::pin(client.query_stream_with_fetch_size(
                "SELECT g FROM generate_series(1, 50) g",
                &[],
                5,
            ));
            let _ = poll_once(&mut stream).await;
            drop(stream);
        }
        let v: i32 = within(
            &rt,
            30,
            client.query_scalar("SELECT $1::int4 + 1000", &[&i]),
        )
        .await
        .unwrap();
        assert_eq!(v, i + 1000);
    }
}

pub async fn terminated_backend_fails_pending_and_later_requests(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let admin = connect(&rt).await;
    let pid = client.backend_pid().unwrap();
    client.prepare("SELECT pg_sleep(60)").await.unwrap();
    let mut pending = Box::pin(client.query("SELECT pg_sleep(60)", &[]));
    assert!(poll_once(&mut pending).await.is_pending());
    // Let the query reach the server.
    rt.sleep(Duration::from_millis(100)).await;
    let killed: bool = admin
        .query_scalar(
            "SELECT pg_terminate_backend($1::int4)",
            &[&i32::try_from(pid).unwrap()],
        )
        .await
        .unwrap();
    assert!(killed);
    let started = Instant::now();
    let e = within(&rt, 20, pending).await.unwrap_err();
    assert!(e.is_closed(), "{e:?}");
    assert_eq!(e.code(), Some(SqlState::AdminShutdown));
    assert!(started.elapsed() < Duration::from_secs(20));
    let e = within(&rt, 20, client.query("SELECT 1", &[]))
        .await
        .unwrap_err();
    assert!(e.is_closed(), "{e:?}");
    assert_eq!(e.code(), Some(SqlState::AdminShutdown));
    assert!(client.is_closed());
    let e = client.clone().transaction().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
}

pub async fn execute_many_is_atomic(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let t = unique_name("many");
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {t} (id int4 PRIMARY KEY, v text)"
        ))
        .await
        .unwrap();
    let insert = format!("INSERT INTO {t} VALUES ($1, $2)");
    let count = format!("SELECT count(*) FROM {t}");
    let e = client
        .execute_many(&insert, &[&[&1i32, &"a"], &[&2i32, &"b"], &[&1i32, &"c"]])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(SqlState::UniqueViolation));
    assert_eq!(client.query_scalar::<i64, _>(&count, &[]).await.unwrap(), 0);
    // A conversion error is found before anything is sent.
    let e = client
        .execute_many(&insert, &[&[&1i32, &"a"], &[&2f64, &"b"]])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion);
    let ids: Vec<i32> = (1..=200).collect();
    let params: Vec<[&(dyn apg::ToSql + Sync); 2]> =
        ids.iter().map(|id| [id as _, &"v" as _]).collect();
    let sets: Vec<&[&(dyn apg::ToSql + Sync)]> = params.iter().map(|p| &p[..]).collect();
    let n = client.execute_many(&insert, &sets).await.unwrap();
    assert_eq!(n, 200);
    assert_eq!(
        client.query_scalar::<i64, _>(&count, &[]).await.unwrap(),
        200
    );
}

pub async fn query_stream_is_bounded(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let fetch = 1000;
    let mut stream = client
        .query_stream_with_fetch_size(
            "SELECT g, repeat('x', 100) FROM generate_series(1, $1::int4) g",
            &[&100_000i32],
            fetch,
        )
        .await
        .unwrap();
    let mut n = 0i64;
    let mut sum = 0i64;
    while let Some(row) = within(&rt, 60, stream.next()).await {
        let row = row.unwrap();
        n += 1;
        sum += i64::from(row.get::<i32, _>(0));
    }
    assert_eq!(n, 100_000);
    assert_eq!(sum, 100_000 * 100_001 / 2);
    assert_eq!(stream.rows_affected(), Some(100_000));
    drop(stream);
    let queued = client.__stats().max_queued_responses;
    assert!(
        queued <= 2 * usize::try_from(fetch).unwrap() + 16,
        "{queued} responses buffered for one request"
    );
    // The connection is usable afterwards, and not in a transaction.
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 3", &[])
            .await
            .unwrap(),
        3
    );
    // Errors while streaming come through the stream.
    let mut stream = client
        .query_stream_with_fetch_size("SELECT 10 / (5 - g) FROM generate_series(1, 10) g", &[], 2)
        .await
        .unwrap();
    let mut results = Vec::new();
    while let Some(r) = stream.next().await {
        results.push(r.map(|row| row.get::<i32, _>(0)));
    }
    assert!(matches!(results.last(), Some(Err(e)) if e.code() == Some(SqlState::DivisionByZero)));
    drop(stream);
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 4", &[])
            .await
            .unwrap(),
        4
    );
}

pub async fn dropped_stream_leaves_the_connection_usable(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    for take in [0usize, 1, 5, 10, 11, 25] {
        let mut stream = client
            .query_stream_with_fetch_size("SELECT g FROM generate_series(1, 20) g", &[], 5)
            .await
            .unwrap();
        for expected in 1..=take.min(20) {
            let row = stream.next().await.unwrap().unwrap();
            assert_eq!(row.get::<i32, _>(0), i32::try_from(expected).unwrap());
        }
        // Other requests wait for the stream; dropping it lets them through.
        let other = client.clone();
        let mut waiting =
            Box::pin(async move { other.query_scalar::<i32, _>("SELECT 7", &[]).await });
        assert!(poll_once(&mut waiting).await.is_pending());
        drop(stream);
        assert_eq!(within(&rt, 20, waiting).await.unwrap(), 7);
    }
}

pub async fn stream_inside_a_transaction(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let tx = client.transaction().await.unwrap();
    let mut a = tx
        .query_stream("SELECT g FROM generate_series(1, 600) g", &[])
        .await
        .unwrap();
    let mut b = tx
        .query_stream("SELECT -g FROM generate_series(1, 600) g", &[])
        .await
        .unwrap();
    let mut sum = 0i64;
    for i in 1..=600i64 {
        let x = a.next().await.unwrap().unwrap().get::<i32, _>(0);
        let y = b.next().await.unwrap().unwrap().get::<i32, _>(0);
        assert_eq!(i64::from(x), i);
        assert_eq!(i64::from(y), -i);
        if i % 100 == 0 {
            // Other requests interleave with the streams.
            sum += tx
                .query_scalar::<i64, _>("SELECT $1::int8", &[&i])
                .await
                .unwrap();
        }
    }
    assert!(a.next().await.is_none());
    assert!(b.next().await.is_none());
    assert_eq!(sum, 2100);
    tx.commit().await.unwrap();
}

pub async fn connect_timeout_bounds_startup(rt: Arc<dyn Runtime>) {
    // Accepts connections (the kernel does) but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = test_config();
    config.hosts = vec![Host::Tcp("127.0.0.1".into())];
    config.ports = vec![port];
    config.connect_timeout = Some(Duration::from_millis(300));
    let started = Instant::now();
    let e = within(&rt, 10, Client::connect(&config, Arc::clone(&rt)))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A host that times out is skipped for the next one.
    let mut config = test_config();
    let good = config.hosts.clone();
    let good_port = config.ports[0];
    config.hosts = vec![Host::Tcp("127.0.0.1".into()), good[0].clone()];
    config.ports = vec![port, good_port];
    config.connect_timeout = Some(Duration::from_millis(300));
    let client = Client::connect(&config, Arc::clone(&rt)).await.unwrap();
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 1", &[])
            .await
            .unwrap(),
        1
    );
    drop(listener);
}

pub async fn authentication_methods(rt: Arc<dyn Runtime>) {
    use apg_testkit::AuthMethod;
    for method in [AuthMethod::Md5, AuthMethod::Scram, AuthMethod::Password] {
        // An external server (APG_TEST_URL) has no such roles.
        let Some(user) = common::test_server().user(method) else {
            return;
        };
        let mut config = test_config();
        config.user = Some(user.name().into());
        config.password = user.password().map(|p| p.as_bytes().to_vec());
        config.dbname = Some("postgres".into());
        let client = Client::connect(&config, Arc::clone(&rt))
            .await
            .unwrap_or_else(|e| panic!("{method:?}: {e}"));
        let who: String = client
            .query_scalar("SELECT current_user::text", &[])
            .await
            .unwrap();
        assert_eq!(who, user.name());
        config.password = Some(b"wrong".to_vec());
        let e = Client::connect(&config, Arc::clone(&rt)).await.unwrap_err();
        assert_eq!(e.code(), Some(SqlState::InvalidPassword), "{method:?}: {e}");
    }
}

pub async fn unix_socket(rt: Arc<dyn Runtime>) {
    let Some(dir) = common::socket_dir() else {
        return;
    };
    let mut config = test_config();
    config.hosts = vec![Host::Unix(dir)];
    let client = connect_with(&rt, config).await;
    let addr: Option<String> = client
        .query_scalar("SELECT inet_client_addr()::text", &[])
        .await
        .unwrap();
    assert_eq!(addr, None);
}

pub async fn close_ends_the_connection(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let clone = client.clone();
    within(&rt, 20, client.close()).await;
    assert!(client.is_closed());
    assert!(clone.is_closed());
    let e = clone.query("SELECT 1", &[]).await.unwrap_err();
    assert!(e.is_closed());
    // Closing twice is fine.
    within(&rt, 20, client.close()).await;
}

pub async fn clones_share_the_connection(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let clone = client.clone();
    assert_eq!(client.backend_pid(), clone.backend_pid());
    let pid = client.backend_pid().unwrap();
    drop(client);
    let v: i32 = clone
        .query_scalar("SELECT pg_backend_pid()", &[])
        .await
        .unwrap();
    assert_eq!(u32::try_from(v).unwrap(), pid);
}

pub async fn startup_settings(rt: Arc<dyn Runtime>) {
    let mut config = test_config();
    config.application_name = Some("apg suite".into());
    config.options = Some("-c statement_timeout=12345".into());
    config.server_settings = vec![("search_path".into(), "pg_catalog".into())];
    let client = connect_with(&rt, config).await;
    assert_eq!(
        client.server_parameter("application_name").as_deref(),
        Some("apg suite")
    );
    let timeout: String = client
        .query_scalar("SELECT current_setting('statement_timeout')", &[])
        .await
        .unwrap();
    assert_eq!(timeout, "12345ms");
    let path: String = client
        .query_scalar("SELECT current_setting('search_path')", &[])
        .await
        .unwrap();
    assert_eq!(path, "pg_catalog");
}

pub async fn copy_in_and_out(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let t = unique_name("copy");
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {t} (id int4 PRIMARY KEY, name text)"
        ))
        .await
        .unwrap();
    let mut copy = client
        .copy_in(&format!("COPY {t} (id, name) FROM STDIN (FORMAT csv)"))
        .await
        .unwrap();
    for chunk in (1..=10_000).collect::<Vec<i32>>().chunks(700) {
        let text: String = chunk.iter().map(|i| format!("{i},name {i}\n")).collect();
        // Rows split at arbitrary points are fine.
        let (a, b) = text.as_bytes().split_at(text.len() / 3);
        copy.write(a).await.unwrap();
        copy.write(b).await.unwrap();
    }
    assert_eq!(copy.finish().await.unwrap(), 10_000);
    // As a futures-io writer.
    let mut copy = client
        .copy_in(&format!("COPY {t} (id, name) FROM STDIN"))
        .await
        .unwrap();
    copy.write_all(b"10001\tlast\n").await.unwrap();
    copy.flush().await.unwrap();
    assert_eq!(copy.finish().await.unwrap(), 1);
    let n: i64 = client
        .query_scalar(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .unwrap();
    assert_eq!(n, 10_001);
    let mut out = client
        .copy_out(&format!(
            "COPY (SELECT id, name FROM {t} ORDER BY id) TO STDOUT (FORMAT csv)"
        ))
        .await
        .unwrap();
    let mut lines = 0;
    let mut first = None;
    while let Some(chunk) = out.try_next().await.unwrap() {
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        first.get_or_insert(chunk);
    }
    assert_eq!(lines, 10_001);
    assert_eq!(first.as_deref(), Some(&b"1,name 1\n"[..]));
    assert_eq!(out.rows(), Some(10_001));
}

pub async fn copy_failures_leave_the_connection_usable(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let t = unique_name("copyfail");
    client
        .batch_execute(&format!("CREATE TEMP TABLE {t} (id int4)"))
        .await
        .unwrap();
    let count = format!("SELECT count(*) FROM {t}");
    // Bad data: the server's error comes from finish, nothing is copied.
    let mut copy = client
        .copy_in(&format!("COPY {t} FROM STDIN"))
        .await
        .unwrap();
    copy.write(b"1\nnot a number\n2\n").await.unwrap();
    let e = copy.finish().await.unwrap_err();
    assert_eq!(e.code(), Some(SqlState::InvalidTextRepresentation));
    assert_eq!(client.query_scalar::<i64, _>(&count, &[]).await.unwrap(), 0);
    // Aborted.
    let mut copy = client
        .copy_in(&format!("COPY {t} FROM STDIN"))
        .await
        .unwrap();
    copy.write(b"1\n").await.unwrap();
    copy.abort("changed my mind").await.unwrap();
    assert_eq!(client.query_scalar::<i64, _>(&count, &[]).await.unwrap(), 0);
    // Dropped unfinished.
    let mut copy = client
        .copy_in(&format!("COPY {t} FROM STDIN"))
        .await
        .unwrap();
    copy.write(b"1\n").await.unwrap();
    drop(copy);
    assert_eq!(client.query_scalar::<i64, _>(&count, &[]).await.unwrap(), 0);
    // Not a COPY at all, or a failing one.
    let e = client.copy_in("SELECT 1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage);
    let e = client
        .copy_in("COPY no_such_table FROM STDIN")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(SqlState::UndefinedTable));
    let mut out = client
        .copy_out("COPY no_such_table TO STDOUT")
        .await
        .unwrap();
    let e = out.next().await.unwrap().unwrap_err();
    assert_eq!(e.code(), Some(SqlState::UndefinedTable));
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 8", &[])
            .await
            .unwrap(),
        8
    );
    // A copy-out dropped early.
    let mut out = client
        .copy_out("COPY (SELECT g FROM generate_series(1, 100000) g) TO STDOUT")
        .await
        .unwrap();
    out.next().await.unwrap().unwrap();
    drop(out);
    assert_eq!(
        within(&rt, 30, client.query_scalar::<i32, _>("SELECT 9", &[]))
            .await
            .unwrap(),
        9
    );
}

pub async fn copy_out_is_bounded(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let mut out = client
        .copy_out("COPY (SELECT g, repeat('y', 50) FROM generate_series(1, 300000) g) TO STDOUT")
        .await
        .unwrap();
    let mut rows = 0u64;
    while let Some(chunk) = within(&rt, 60, out.next()).await {
        chunk.unwrap();
        rows += 1;
        if rows % 50_000 == 0 {
            // A slow consumer: the driver must stop reading meanwhile.
            rt.sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(rows, 300_000);
    let queued = client.__stats().max_queued_responses;
    assert!(queued < 20_000, "{queued} chunks buffered");
}

/// Thousands of statements may be in flight at once: each future's state is memory
/// the executor touches. Rare paths (preparing, re-preparing, catalog lookups, cancel
/// connections) are boxed to keep it small.
pub async fn statement_futures_stay_small(rt: Arc<dyn Runtime>) {
    fn size<F>(_: &F) -> usize {
        size_of::<F>()
    }
    let client = connect(&rt).await;
    let one = client.query_one("SELECT 1", &[]);
    let execute = client.execute("SELECT 1", &[]);
    let sizes = [size(&one), size(&execute)];
    drop((one, execute));
    assert!(sizes.iter().all(|&s| s <= 1600), "{sizes:?} bytes");
}

/// A name may resolve to several servers: the cancel request goes to the address the
/// session is connected to, not to the name again.
pub async fn cancel_goes_to_the_address_connected_to(rt: Arc<dyn Runtime>) {
    let mut config = test_config();
    if config.hosts != [Host::Tcp("127.0.0.1".into())] {
        // Another server than the throwaway cluster: its names are unknown here.
        return;
    }
    config.hosts = vec![Host::Tcp("localhost".into())];
    let client = connect_with(&rt, config).await;
    let token = client.cancel_token().unwrap();
    let seen = format!("{token:?}");
    assert!(
        seen.contains("127.0.0.1") && !seen.contains("localhost"),
        "{seen}"
    );
    within(&rt, 10, token.cancel()).await.unwrap();
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 1", &[])
            .await
            .unwrap(),
        1
    );
}

pub async fn cancel_token_cancels(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let token = client.cancel_token().unwrap();
    // Prepared beforehand, so that the first poll sends the execution itself.
    client.prepare("SELECT pg_sleep(30)").await.unwrap();
    let mut slow = Box::pin(client.query("SELECT pg_sleep(30)", &[]));
    assert!(poll_once(&mut slow).await.is_pending());
    rt.sleep(Duration::from_millis(200)).await;
    within(&rt, 10, token.cancel()).await.unwrap();
    let e = within(&rt, 10, slow).await.unwrap_err();
    assert_eq!(e.code(), Some(SqlState::QueryCanceled));
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 1", &[])
            .await
            .unwrap(),
        1
    );
    // Cancelling an idle connection does nothing.
    token.cancel().await.unwrap();
    rt.sleep(Duration::from_millis(50)).await;
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 2", &[])
            .await
            .unwrap(),
        2
    );
}

pub async fn command_timeout_cancels(rt: Arc<dyn Runtime>) {
    let mut config = test_config();
    config.command_timeout = Some(Duration::from_millis(300));
    let client = connect_with(&rt, config).await;
    let started = Instant::now();
    let e = within(&rt, 20, client.query("SELECT pg_sleep(20)", &[]))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert_eq!(e.code(), Some(SqlState::QueryCanceled));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 1", &[])
            .await
            .unwrap(),
        1
    );
    // Statements that end around the deadline: the late cancel must not hit the next
    // request.
    for i in 0..20u32 {
        let sleep = format!("SELECT pg_sleep({})", 0.29 + f64::from(i % 5) * 0.005);
        let _ = within(&rt, 20, client.execute(&sleep, &[])).await;
        let v: i32 = within(&rt, 20, client.query_scalar("SELECT $1::int4", &[&7i32]))
            .await
            .unwrap();
        assert_eq!(v, 7);
    }
}

/// The channels `client` listens on, as the server reports them.
async fn listening_channels(client: &Client) -> Vec<String> {
    client
        .query("SELECT pg_listening_channels()", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

pub async fn listen_and_notify_between_connections(rt: Arc<dyn Runtime>) {
    let listening = connect(&rt).await;
    let notifying = connect(&rt).await;
    let channel = unique_name("jobs");
    let mut listener = listening.listen(&channel).await.unwrap();
    assert_eq!(listener.channel(), Some(channel.as_str()));
    let payloads = [
        "plain",
        "it's \"quoted\" 'twice'",
        "unicode: żółw 🐢 ∑",
        "",
        "multi\nline; DROP TABLE x; --",
    ];
    for payload in payloads {
        notifying
            .execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
            .await
            .unwrap();
    }
    let pid = notifying.backend_pid().unwrap();
    for payload in payloads {
        let n = within(&rt, 10, listener.recv()).await.unwrap();
        assert_eq!(n.channel, channel);
        assert_eq!(n.payload, payload);
        assert_eq!(i64::from(n.process_id), i64::from(pid));
    }
    // Also as a Stream, and the connection keeps answering queries meanwhile.
    notifying
        .batch_execute(&format!("NOTIFY {channel}, 'via NOTIFY'"))
        .await
        .unwrap();
    let n = within(&rt, 10, listener.next()).await.unwrap();
    assert_eq!(n.payload, "via NOTIFY");
    assert_eq!(
        listening
            .query_scalar::<i32, _>("SELECT 1", &[])
            .await
            .unwrap(),
        1
    );
    assert!(listener.try_recv().is_none());
    assert_eq!(listener.dropped(), 0);
}

pub async fn channel_names_are_quoted(rt: Arc<dyn Runtime>) {
    let listening = connect(&rt).await;
    let notifying = connect(&rt).await;
    let mut listeners = Vec::new();
    for base in ["Mixed Case", "quo\"te", "ünï; SELECT"] {
        let channel = unique_name(base);
        let mut listener = listening.listen(&channel).await.unwrap();
        assert!(listening_channels(&listening).await.contains(&channel));
        notifying
            .execute("SELECT pg_notify($1, 'x')", &[&channel])
            .await
            .unwrap();
        let n = within(&rt, 10, listener.recv()).await.unwrap();
        assert_eq!(n.channel, channel);
        listeners.push(listener);
    }
    for bad in ["", "nul\0byte", &"x".repeat(64)] {
        let e = listening.listen(bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage, "{bad:?}");
    }
    // Nothing was left subscribed by the refused names.
    assert_eq!(listening_channels(&listening).await.len(), 3);
}

pub async fn dropping_a_listener_unlistens(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let channel = unique_name("drop");
    let first = client.listen(&channel).await.unwrap();
    let second = client.listen(&channel).await.unwrap();
    drop(first);
    // Another listener still uses the channel.
    assert_eq!(
        listening_channels(&client).await,
        std::slice::from_ref(&channel)
    );
    drop(second);
    // UNLISTEN went out ahead of this query.
    assert!(listening_channels(&client).await.is_empty());
    // Listening again works.
    let mut again = client.listen(&channel).await.unwrap();
    client
        .execute("SELECT pg_notify($1, 'back')", &[&channel])
        .await
        .unwrap();
    assert_eq!(within(&rt, 10, again.recv()).await.unwrap().payload, "back");
    // Dropped while a row stream holds the connection: sent once it is released.
    let stream = client
        .query_stream("SELECT generate_series(1, 10)", &[])
        .await
        .unwrap();
    drop(again);
    let rows: Vec<_> = stream.try_collect().await.unwrap();
    assert_eq!(rows.len(), 10);
    within(&rt, 10, async {
        while !listening_channels(&client).await.is_empty() {
            rt.sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

pub async fn all_notifications_of_the_connection(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let mut all = client.notifications();
    assert_eq!(all.channel(), None);
    let a = unique_name("all_a");
    let b = unique_name("all_b");
    // Subscribed with plain SQL: still delivered.
    client
        .batch_execute(&format!("LISTEN {a}; LISTEN {b}"))
        .await
        .unwrap();
    client
        .batch_execute(&format!("NOTIFY {a}, '1'; NOTIFY {b}, '2'"))
        .await
        .unwrap();
    // A session's own notifications arrive before its query completes.
    let got: Vec<_> = [all.try_recv(), all.try_recv()]
        .into_iter()
        .flatten()
        .map(|n| (n.channel, n.payload))
        .collect();
    assert_eq!(got, [(a, "1".to_owned()), (b, "2".to_owned())]);
    assert!(all.try_recv().is_none());
}

pub async fn slow_listener_drops_the_oldest(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let channel = unique_name("slow");
    let mut listener = client.listen(&channel).await.unwrap();
    let total = apg::LISTENER_CAPACITY + 100;
    let total_i32 = i32::try_from(total).unwrap();
    client
        .execute(
            "SELECT pg_notify($1, g::text) FROM generate_series(1, $2) g",
            &[&channel, &total_i32],
        )
        .await
        .unwrap();
    assert_eq!(listener.dropped(), 100);
    let mut received = Vec::new();
    while let Some(n) = listener.try_recv() {
        received.push(n.payload.parse::<usize>().unwrap());
    }
    assert_eq!(received, (101..=total).collect::<Vec<_>>());
    // The connection was never held up.
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 1", &[])
            .await
            .unwrap(),
        1
    );
}

pub async fn listener_ends_with_the_connection(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let channel = unique_name("end");
    let mut listener = client.listen(&channel).await.unwrap();
    client
        .execute("SELECT pg_notify($1, 'last')", &[&channel])
        .await
        .unwrap();
    client.close().await;
    // Queued notifications are still read, then the stream ends.
    assert_eq!(
        within(&rt, 10, listener.recv()).await.unwrap().payload,
        "last"
    );
    assert!(within(&rt, 10, listener.recv()).await.is_none());
    let e = client.listen(&channel).await.unwrap_err();
    assert!(e.is_closed(), "{e:?}");
}

pub async fn notices_reach_the_handler(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    // Without a handler, notices are dropped.
    client
        .batch_execute("DO $$ BEGIN RAISE NOTICE 'unheard'; END $$")
        .await
        .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    client.set_notice_handler(move |notice| {
        sink.lock()
            .unwrap()
            .push((notice.severity().to_owned(), notice.message().to_owned()));
    });
    client
        .batch_execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END $$")
        .await
        .unwrap();
    client.batch_execute("COMMIT").await.unwrap();
    let got = seen.lock().unwrap().clone();
    assert_eq!(
        got,
        [
            ("NOTICE".to_owned(), "hello 42".to_owned()),
            ("WARNING".to_owned(), "careful".to_owned()),
            (
                "WARNING".to_owned(),
                "there is no transaction in progress".to_owned()
            ),
        ]
    );
    client.clear_notice_handler();
    client
        .batch_execute("DO $$ BEGIN RAISE NOTICE 'unheard again'; END $$")
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 3);
}

pub async fn target_session_attrs_on_a_primary(rt: Arc<dyn Runtime>) {
    // The test server is a primary that accepts writes.
    for attrs in [
        TargetSessionAttrs::Any,
        TargetSessionAttrs::ReadWrite,
        TargetSessionAttrs::Primary,
        TargetSessionAttrs::PreferStandby,
    ] {
        let mut config = test_config();
        config.target_session_attrs = attrs;
        let client = within(&rt, 20, Client::connect(&config, Arc::clone(&rt)))
            .await
            .unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
        assert_eq!(
            client
                .query_scalar::<i32, _>("SELECT 1", &[])
                .await
                .unwrap(),
            1
        );
    }
    for (attrs, why) in [
        (TargetSessionAttrs::Standby, "not in hot standby"),
        (TargetSessionAttrs::ReadOnly, "read-write"),
    ] {
        let mut config = test_config();
        config.target_session_attrs = attrs;
        let e = within(&rt, 20, Client::connect(&config, Arc::clone(&rt)))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{attrs:?}: {e}");
        let shown = e.to_string();
        assert!(
            shown.contains(attrs.as_str()) && shown.contains(why),
            "{shown}"
        );
    }
    // A session made read-only by its settings is not read-write.
    let mut config = test_config();
    config
        .server_settings
        .push(("default_transaction_read_only".into(), "on".into()));
    config.target_session_attrs = TargetSessionAttrs::ReadOnly;
    within(&rt, 20, Client::connect(&config, Arc::clone(&rt)))
        .await
        .unwrap();
    config.target_session_attrs = TargetSessionAttrs::ReadWrite;
    let e = within(&rt, 20, Client::connect(&config, Arc::clone(&rt)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
}

pub async fn unreachable_first_host_is_skipped(rt: Arc<dyn Runtime>) {
    let config = test_config();
    let (Some(Host::Tcp(host)), Some(&port)) = (config.hosts.first(), config.ports.first()) else {
        return;
    };
    // Bind then drop to find a port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut multi = config.clone();
    multi.hosts = vec![Host::Tcp("127.0.0.1".into()), Host::Tcp(host.clone())];
    multi.ports = vec![dead, port];
    let client = within(&rt, 20, Client::connect(&multi, Arc::clone(&rt)))
        .await
        .unwrap();
    assert_eq!(
        client
            .query_scalar::<i32, _>("SELECT 1", &[])
            .await
            .unwrap(),
        1
    );
    // Only unreachable hosts: the last host's I/O error.
    multi.hosts.truncate(1);
    multi.ports.truncate(1);
    let e = within(&rt, 20, Client::connect(&multi, Arc::clone(&rt)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    // A refused session ends the attempt: the good second host is not tried.
    if let Some(user) = common::test_server().user(apg_testkit::AuthMethod::Scram) {
        let mut refused = config.clone();
        refused.hosts = vec![Host::Tcp(host.clone()), Host::Tcp(host.clone())];
        refused.ports = vec![port, port];
        refused.user = Some(user.name().into());
        refused.password = Some(b"wrong".to_vec());
        refused.dbname = Some("postgres".into());
        let e = within(&rt, 20, Client::connect(&refused, Arc::clone(&rt)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(SqlState::InvalidPassword), "{e}");
    }
}

pub async fn password_from_the_passfile(rt: Arc<dyn Runtime>) {
    use apg_testkit::AuthMethod;
    let Some(user) = common::test_server().user(AuthMethod::Scram) else {
        return;
    };
    let Some(password) = user.password() else {
        return;
    };
    let dir = std::env::temp_dir().join(unique_name("apg-passfile"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pgpass");
    // Escapes as the file format wants them; a wildcard line for everything.
    let escaped = password.replace('\\', "\\\\").replace(':', "\\:");
    std::fs::write(&path, format!("*:*:*:{}:{escaped}\n", user.name())).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut config = test_config();
    config.user = Some(user.name().into());
    config.password = None;
    config.dbname = Some("postgres".into());
    config.passfile = Some(path.clone());
    let client = within(&rt, 20, Client::connect(&config, Arc::clone(&rt)))
        .await
        .unwrap();
    let who: String = client
        .query_scalar("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(who, user.name());
    // A configured password wins over the file.
    config.password = Some(b"wrong".to_vec());
    let e = within(&rt, 20, Client::connect(&config, Arc::clone(&rt)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(SqlState::InvalidPassword), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
