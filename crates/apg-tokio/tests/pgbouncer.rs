//! apg through PgBouncer (Debian's 1.18 in CI): transaction pooling with the statement
//! cache off (`statement_cache_capacity = 0`: unnamed statements only), session pooling
//! with the default cache, and what transaction pooling does to cached statements.
//!
//! Each test starts its own PgBouncer (a fraction of a second) with a pool of
//! [`apg_testkit::DEFAULT_POOL_SIZE`] server connections, so concurrent clients share
//! and swap them. The tests skip themselves, with a note, where PgBouncer is not
//! installed.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apg::{Client, Config, SqlState};
use apg_testkit::{Cluster, PgBouncer, PoolMode};
use futures_util::StreamExt;

/// Starts PgBouncer in `mode` and a tokio runtime, and runs `body` with them; `None`
/// (after a note) when PgBouncer is not installed.
fn with_bouncer<F, Fut>(mode: PoolMode, body: F)
where
    F: FnOnce(Arc<dyn apg::Runtime>, Arc<PgBouncer>) -> Fut,
    Fut: Future<Output = ()>,
{
    if !PgBouncer::is_installed() {
        eprintln!("skipped: PgBouncer is not installed (apt-get install pgbouncer)");
        return;
    }
    let cluster = Cluster::shared().expect("a PostgreSQL cluster");
    let bouncer = Arc::new(PgBouncer::start(cluster, mode).expect("PgBouncer starts"));
    let (rt, runtime) = support::runtime();
    rt.block_on(body(runtime, bouncer));
}

fn config(bouncer: &PgBouncer, cache: usize) -> Config {
    let mut config: Config = bouncer.url().parse().expect("the URL parses");
    config.connect_timeout = Some(Duration::from_secs(10));
    config.statement_cache_capacity = cache;
    config
}

async fn connect(rt: &Arc<dyn apg::Runtime>, bouncer: &PgBouncer, cache: usize) -> Client {
    Client::connect(&config(bouncer, cache), Arc::clone(rt))
        .await
        .expect("connect through PgBouncer")
}

/// A table name no other test uses; a real table, since temporary tables do not
/// survive transaction pooling.
fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

// ---- transaction pooling, statement cache off ------------------------------------------

#[test]
fn url_parameter_turns_the_cache_off() {
    with_bouncer(PoolMode::Transaction, |rt, bouncer| async move {
        let url = format!("{}?statement_cache_capacity=0", bouncer.url());
        let config: Config = url.parse().unwrap();
        assert_eq!(config.statement_cache_capacity, 0);
        let client = Client::connect(&config, rt).await.unwrap();
        for i in 0..20i32 {
            let n: i32 = client
                .query_scalar("SELECT $1::int4 * 2", &[&i])
                .await
                .unwrap();
            assert_eq!(n, i * 2);
        }
    });
}

#[test]
fn concurrent_queries_from_several_clients_share_server_connections() {
    with_bouncer(PoolMode::Transaction, |rt, bouncer| async move {
        let mut clients = Vec::new();
        for _ in 0..4 {
            clients.push(connect(&rt, &bouncer, 0).await);
        }
        let clients_for_stats = clients.clone();
        let mut tasks = Vec::new();
        for (c, client) in clients.iter().enumerate() {
            for t in 0..4i64 {
                let client = client.clone();
                tasks.push(tokio::spawn(async move {
                    let mut pids = std::collections::HashSet::new();
                    for i in 0..50i64 {
                        let key = (i64::try_from(c).unwrap() * 1000 + t * 100) + i;
                        let text = format!("c{c} t{t} i{i}");
                        // Parameters of several types, and two result shapes, so a
                        // statement or portal mixed up between clients would show.
                        let row = client
                            .query_one(
                                "SELECT $1::int8 + 1, $2::text || '!', pg_backend_pid()",
                                &[&key, &text],
                            )
                            .await
                            .unwrap();
                        assert_eq!(row.get::<i64, _>(0), key + 1);
                        assert_eq!(row.get::<&str, _>(1), format!("{text}!"));
                        pids.insert(row.get::<i32, _>(2));
                        let rows = client
                            .query("SELECT g FROM generate_series(1, $1::int4) g", &[&3i32])
                            .await
                            .unwrap();
                        let got: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
                        assert_eq!(got, [1, 2, 3]);
                    }
                    pids
                }));
            }
        }
        let mut pids = std::collections::HashSet::new();
        for task in tasks {
            pids.extend(task.await.unwrap());
        }
        for client in &clients_for_stats {
            let stats = client.__stats();
            assert_eq!(stats.statements_prepared, 0, "{stats:?}");
            assert!(stats.unnamed_parses >= 400, "{stats:?}");
        }
        // Sixteen tasks on four clients ran on the pool's few server connections.
        assert!(
            pids.len() <= usize::try_from(apg_testkit::DEFAULT_POOL_SIZE).unwrap(),
            "{pids:?}"
        );
    });
}

#[test]
fn execute_many_and_a_transaction() {
    with_bouncer(PoolMode::Transaction, |rt, bouncer| async move {
        let client = connect(&rt, &bouncer, 0).await;
        let other = connect(&rt, &bouncer, 0).await;
        let table = unique_name("apg_bouncer_tx");
        client
            .batch_execute(&format!(
                "CREATE TABLE {table} (id int PRIMARY KEY, name text)"
            ))
            .await
            .unwrap();
        let n = client
            .execute_many(
                &format!("INSERT INTO {table} (id, name) VALUES ($1, $2)"),
                &[&[&1i32, &"ann"], &[&2i32, &"bob"], &[&3i32, &"cy"]],
            )
            .await
            .unwrap();
        assert_eq!(n, 3);

        // Meanwhile the other client keeps the pool busy.
        let busy = {
            let other = other.clone();
            tokio::spawn(async move {
                for i in 0..100i32 {
                    let n: i32 = other.query_scalar("SELECT $1::int4", &[&i]).await.unwrap();
                    assert_eq!(n, i);
                }
            })
        };
        let tx = client.transaction().await.unwrap();
        tx.execute(
            &format!("UPDATE {table} SET name = upper(name) WHERE id = $1"),
            &[&1i32],
        )
        .await
        .unwrap();
        tx.execute_many(
            &format!("INSERT INTO {table} (id, name) VALUES ($1, $2)"),
            &[&[&4i32, &"dee"], &[&5i32, &"eve"]],
        )
        .await
        .unwrap();
        // One server connection for the whole transaction.
        let pid: i32 = tx
            .query_scalar("SELECT pg_backend_pid()", &[])
            .await
            .unwrap();
        for _ in 0..5 {
            let again: i32 = tx
                .query_scalar("SELECT pg_backend_pid()", &[])
                .await
                .unwrap();
            assert_eq!(again, pid);
        }
        // Not visible elsewhere before the commit.
        let count: i64 = other
            .query_scalar(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap();
        assert_eq!(count, 3);
        tx.commit().await.unwrap();
        busy.await.unwrap();
        let count: i64 = other
            .query_scalar(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap();
        assert_eq!(count, 5);

        // A rolled-back transaction leaves nothing behind.
        let tx = client.transaction().await.unwrap();
        tx.execute(&format!("DELETE FROM {table}"), &[])
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        let name: String = client
            .query_scalar(&format!("SELECT name FROM {table} WHERE id = $1"), &[&1i32])
            .await
            .unwrap();
        assert_eq!(name, "ANN");
        client
            .batch_execute(&format!("DROP TABLE {table}"))
            .await
            .unwrap();
    });
}

#[test]
fn errors_leave_the_connection_usable() {
    with_bouncer(PoolMode::Transaction, |rt, bouncer| async move {
        let client = connect(&rt, &bouncer, 0).await;
        for i in 0..5i32 {
            let err = client
                .query_one("SELECT 1 / $1::int4", &[&0i32])
                .await
                .unwrap_err();
            assert_eq!(err.code(), Some(SqlState::DivisionByZero), "{err}");
            let err = client
                .query("SELECT * FROM apg_bouncer_no_such_table", &[])
                .await
                .unwrap_err();
            assert_eq!(err.code(), Some(SqlState::UndefinedTable), "{err}");
            // A parse error: the unnamed statement never existed.
            let err = client.query("SELEC 1", &[]).await.unwrap_err();
            assert_eq!(err.code(), Some(SqlState::SyntaxError), "{err}");
            let n: i32 = client.query_scalar("SELECT $1::int4", &[&i]).await.unwrap();
            assert_eq!(n, i);
        }
        // An error inside a transaction aborts it; the next one works.
        let tx = client.transaction().await.unwrap();
        assert!(tx.query("SELECT 1 / 0", &[]).await.is_err());
        let err = tx.query("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(err.code(), Some(SqlState::InFailedSqlTransaction), "{err}");
        tx.rollback().await.unwrap();
        let tx = client.transaction().await.unwrap();
        let n: i32 = tx.query_scalar("SELECT $1::int4", &[&7i32]).await.unwrap();
        assert_eq!(n, 7);
        tx.commit().await.unwrap();
    });
}

#[test]
fn cancel_goes_through_pgbouncer() {
    with_bouncer(PoolMode::Transaction, |rt, bouncer| async move {
        let client = connect(&rt, &bouncer, 0).await;
        // PgBouncer hands out its own key and forwards the request to the server
        // connection the client is using at that moment.
        let token = client.cancel_token().expect("a cancel key");
        let slow = {
            let client = client.clone();
            tokio::spawn(async move { client.query("SELECT pg_sleep(30)", &[]).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel().await.unwrap();
        let err = tokio::time::timeout(Duration::from_secs(10), slow)
            .await
            .expect("cancelled within 10 s")
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code(), Some(SqlState::QueryCanceled), "{err}");
        let n: i32 = client
            .query_scalar("SELECT $1::int4", &[&1i32])
            .await
            .unwrap();
        assert_eq!(n, 1);
    });
}

#[test]
fn pgbouncer_own_errors_are_reported() {
    with_bouncer(PoolMode::Transaction, |rt, bouncer| async move {
        // PgBouncer itself refuses a user missing from its auth file; its errors lack
        // the non-localized severity field.
        let mut config = config(&bouncer, 0);
        config.user = Some("apg_bouncer_nobody".to_owned());
        let err = Client::connect(&config, Arc::clone(&rt))
            .await
            .expect_err("an unknown user is refused");
        let db = err.as_db_error().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(db.severity(), "FATAL", "{err:?}");
        // 1.18 reports it as a protocol violation.
        assert_eq!(db.code(), SqlState::ProtocolViolation, "{err:?}");
        assert!(db.message().contains("authentication failed"), "{err:?}");
        // And a database the server does not have.
        let mut config = self::config(&bouncer, 0);
        config.dbname = Some("apg_bouncer_no_such_db".to_owned());
        let err = Client::connect(&config, rt)
            .await
            .expect_err("an unknown database is refused");
        let db = err.as_db_error().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(db.severity(), "FATAL", "{err:?}");
        assert!(db.message().contains("does not exist"), "{err:?}");
    });
}

#[test]
fn startup_settings_are_refused_clearly() {
    with_bouncer(PoolMode::Transaction, |rt, bouncer| async move {
        // PgBouncer 1.18 forwards only the parameters it tracks; `options` and other
        // settings fail the connection rather than being dropped silently.
        let mut config = config(&bouncer, 0);
        config.options = Some("-c statement_timeout=12345".to_owned());
        let err = Client::connect(&config, rt)
            .await
            .expect_err("options are refused");
        let db = err.as_db_error().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(db.code(), SqlState::ProtocolViolation, "{err:?}");
        assert!(
            db.message().contains("unsupported startup parameter"),
            "{err:?}"
        );
    });
}

/// Runs `steps` on one client while three others keep the pool's server connections
/// busy, and checks every answer the others get (a stray response would shift them).
async fn copy_under_load<F, Fut>(rt: &Arc<dyn apg::Runtime>, bouncer: &PgBouncer, steps: F)
where
    F: Fn(Client, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let client = connect(rt, bouncer, 0).await;
    let t = unique_name("apg_bouncer_copy");
    client
        .batch_execute(&format!("CREATE TABLE {t} (id int4)"))
        .await
        .unwrap();
    let mut busy = Vec::new();
    for _ in 0..3 {
        let other = connect(rt, bouncer, 0).await;
        busy.push(tokio::spawn(async move {
            for i in 0..200i32 {
                let n: i32 = other.query_scalar("SELECT $1::int4", &[&i]).await.unwrap();
                assert_eq!(n, i, "another client's answer");
            }
        }));
    }
    for round in 0..10 {
        tokio::time::timeout(Duration::from_secs(10), steps(client.clone(), t.clone()))
            .await
            .unwrap_or_else(|_| panic!("round {round} hung"));
    }
    for task in busy {
        task.await.unwrap();
    }
    client
        .batch_execute(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
}

#[test]
fn copy_failures_under_load() {
    with_bouncer(PoolMode::Transaction, |rt, bouncer| async move {
        copy_under_load(&rt, &bouncer, |client, t| async move {
            // Bad data: the error comes from finish.
            let mut copy = client
                .copy_in(&format!("COPY {t} FROM STDIN"))
                .await
                .unwrap();
            copy.write(b"1\nnot a number\n2\n").await.unwrap();
            let e = copy.finish().await.unwrap_err();
            assert_eq!(e.code(), Some(SqlState::InvalidTextRepresentation));
            // Aborted.
            let mut copy = client
                .copy_in(&format!("COPY {t} FROM STDIN"))
                .await
                .unwrap();
            copy.write(b"1\n").await.unwrap();
            copy.abort("changed my mind").await.unwrap();
            // No such table.
            let e = client
                .copy_in("COPY apg_bouncer_no_such_table FROM STDIN")
                .await
                .unwrap_err();
            assert_eq!(e.code(), Some(SqlState::UndefinedTable));
            let count: i64 = client
                .query_scalar(&format!("SELECT count(*) FROM {t}"), &[])
                .await
                .unwrap();
            assert_eq!(count, 0);
        })
        .await;
    });
}

/// Dropping an unfinished `CopyInWriter` (unlike `abort`, which waits for the answer)
/// sends its CopyFail while other requests are waiting behind the COPY. Those used to
/// be written right behind the CopyFail, and PgBouncer 1.18 in transaction pooling
/// then gave other clients answers that were not theirs. The core now holds them until
/// the COPY's ReadyForQuery.
#[test]
fn dropped_copy_under_load() {
    with_bouncer(PoolMode::Transaction, |rt, bouncer| async move {
        copy_under_load(&rt, &bouncer, |client, t| async move {
            let mut copy = client
                .copy_in(&format!("COPY {t} FROM STDIN"))
                .await
                .unwrap();
            copy.write(b"1\n").await.unwrap();
            drop(copy);
            let count: i64 = client
                .query_scalar(&format!("SELECT count(*) FROM {t}"), &[])
                .await
                .unwrap();
            assert_eq!(count, 0);
        })
        .await;
    });
}

#[test]
fn query_stream_inside_a_transaction() {
    with_bouncer(PoolMode::Transaction, |rt, bouncer| async move {
        let client = connect(&rt, &bouncer, 0).await;
        let other = connect(&rt, &bouncer, 0).await;
        let tx = client.transaction().await.unwrap();
        // More rows than one fetch, so the portal is resumed several times.
        let mut stream = tx
            .query_stream(
                "SELECT g, g::text FROM generate_series(1, $1::int4) g",
                &[&1000i32],
            )
            .await
            .unwrap();
        let mut expected = 1;
        while let Some(row) = stream.next().await {
            let row = row.unwrap();
            assert_eq!(row.get::<i32, _>(0), expected);
            assert_eq!(row.get::<&str, _>(1), expected.to_string());
            if expected % 300 == 0 {
                // Other clients keep working on the other server connection.
                let n: i32 = other
                    .query_scalar("SELECT $1::int4", &[&expected])
                    .await
                    .unwrap();
                assert_eq!(n, expected);
            }
            expected += 1;
        }
        assert_eq!(expected, 1001);
        drop(stream);
        tx.commit().await.unwrap();
    });
}

// ---- session pooling, default statement cache ------------------------------------------

#[test]
fn session_pooling_with_the_statement_cache() {
    with_bouncer(PoolMode::Session, |rt, bouncer| async move {
        let client = connect(&rt, &bouncer, 256).await;
        let sql = "SELECT $1::int4 + $2::int4";
        for i in 0..20i32 {
            let n: i32 = client.query_scalar(sql, &[&i, &1i32]).await.unwrap();
            assert_eq!(n, i + 1);
        }
        // Prepared once, then taken from the cache.
        let statement = client.prepare(sql).await.unwrap();
        let n: i32 = client
            .query_scalar(&statement, &[&40i32, &2i32])
            .await
            .unwrap();
        assert_eq!(n, 42);
        assert_eq!(client.__stats().statements_prepared, 1);
        // Session state survives: SET and temporary tables.
        client
            .batch_execute("SET application_name = 'apg_bouncer'; CREATE TEMP TABLE t (x int)")
            .await
            .unwrap();
        client
            .execute_many("INSERT INTO t VALUES ($1)", &[&[&1i32], &[&2i32]])
            .await
            .unwrap();
        let sum: i64 = client
            .query_scalar("SELECT sum(x) FROM t", &[])
            .await
            .unwrap();
        assert_eq!(sum, 3);
        let name: String = client
            .query_scalar("SELECT current_setting('application_name')", &[])
            .await
            .unwrap();
        assert_eq!(name, "apg_bouncer");
    });
}

#[test]
fn session_pooling_listen_notify() {
    with_bouncer(PoolMode::Session, |rt, bouncer| async move {
        let listening = connect(&rt, &bouncer, 256).await;
        let notifying = connect(&rt, &bouncer, 256).await;
        let channel = unique_name("apg_bouncer_chan");
        let mut listener = listening.listen(&channel).await.unwrap();
        for i in 0..3 {
            let payload = format!("hello {i}");
            notifying
                .execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
                .await
                .unwrap();
            let note = tokio::time::timeout(Duration::from_secs(10), listener.recv())
                .await
                .expect("a notification within 10 s")
                .expect("the connection is open");
            assert_eq!(note.channel, channel);
            assert_eq!(note.payload, payload);
        }
    });
}

// ---- transaction pooling, default statement cache: what breaks -------------------------

/// PgBouncer 1.18 does not track protocol-level prepared statements: a statement cached
/// on one server connection is unknown on the next. Outside a transaction apg heals this
/// by preparing again; inside a transaction that landed on another server connection
/// the server's error aborts the transaction, and apg must report it (never run
/// another statement or return wrong rows).
#[test]
fn transaction_pooling_with_the_cache_fails_cleanly() {
    with_bouncer(PoolMode::Transaction, |rt, bouncer| async move {
        let cached = connect(&rt, &bouncer, 256).await;
        let holder = connect(&rt, &bouncer, 0).await;
        let sql = "SELECT $1::int4 * 3";
        // Prepared (and cached) on the one server connection that exists so far.
        let n: i32 = cached.query_scalar(sql, &[&1i32]).await.unwrap();
        assert_eq!(n, 3);
        let first: i32 = cached
            .query_scalar("SELECT pg_backend_pid()", &[])
            .await
            .unwrap();

        // Another client's transaction takes that server connection (PgBouncer hands
        // out the most recently used one first) and keeps it.
        let held = holder.transaction().await.unwrap();
        let held_pid: i32 = held
            .query_scalar("SELECT pg_backend_pid()", &[])
            .await
            .unwrap();
        assert_eq!(
            held_pid, first,
            "PgBouncer reused the idle server connection"
        );

        // Outside a transaction, the statement is prepared again on whichever server
        // connection runs it: correct results.
        let prepared = cached.__stats().statements_prepared;
        for i in 0..5i32 {
            let n: i32 = cached.query_scalar(sql, &[&i]).await.unwrap();
            assert_eq!(n, i * 3);
        }
        assert!(cached.__stats().statements_prepared > prepared);
        held.commit().await.unwrap();

        // A fresh client caches a statement, then uses it inside a transaction on
        // another server connection: a clear server error, no rows.
        let fresh = connect(&rt, &bouncer, 256).await;
        let sql = "SELECT $1::int4 * 5";
        let n: i32 = fresh.query_scalar(sql, &[&1i32]).await.unwrap();
        assert_eq!(n, 5);
        let pid: i32 = fresh
            .query_scalar("SELECT pg_backend_pid()", &[])
            .await
            .unwrap();
        let held = holder.transaction().await.unwrap();
        let held_pid: i32 = held
            .query_scalar("SELECT pg_backend_pid()", &[])
            .await
            .unwrap();
        assert_eq!(held_pid, pid, "PgBouncer reused the idle server connection");
        let prepared = fresh.__stats().statements_prepared;
        let tx = fresh.transaction().await.unwrap();
        let result = tx.query(sql, &[&2i32]).await;
        let err = result.expect_err("the cached statement is not on this server connection");
        assert_eq!(
            err.code(),
            Some(SqlState::InvalidSqlStatementName),
            "{err:?}"
        );
        // Not prepared again inside the failed transaction.
        assert_eq!(fresh.__stats().statements_prepared, prepared);
        assert!(tx.is_failed());
        tx.rollback().await.unwrap();
        held.commit().await.unwrap();
        // The connection stays usable, and the statement heals outside a transaction.
        let n: i32 = fresh.query_scalar(sql, &[&4i32]).await.unwrap();
        assert_eq!(n, 20);
    });
}
