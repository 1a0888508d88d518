//! A tour of apg on tokio: connect, query with parameters, a transaction, a pipelined
//! burst of concurrent queries, COPY in and out, LISTEN/NOTIFY and notices.
//!
//! ```text
//! cargo run -p apg-tokio --example quickstart
//! DATABASE_URL=postgres://user:password@host/db cargo run -p apg-tokio --example quickstart
//! ```
//!
//! Without `DATABASE_URL`, a throwaway PostgreSQL cluster is started from the
//! installed server binaries (apg-testkit) and removed again at exit.

use std::error::Error;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use futures_util::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            println!("DATABASE_URL is not set: starting a throwaway cluster");
            apg_testkit::server()?.url()
        }
    };

    // Connect. The URL may also be a libpq `key=value` string.
    let client = apg_tokio::connect(&url).await?;
    println!(
        "connected: PostgreSQL {}, backend pid {}",
        client.server_version().unwrap_or_default(),
        client.backend_pid().unwrap_or_default()
    );

    // A query with parameters: values travel separately from the SQL text.
    let row = client
        .query_one(
            "SELECT $1::text || ', ' || $2::text AS greeting, $3::int8 * 2 AS doubled",
            &[&"hello", &"world", &21i64],
        )
        .await?;
    println!(
        "query: greeting = {:?}, doubled = {}",
        row.get::<String, _>("greeting"),
        row.get::<i64, _>("doubled")
    );

    // A transaction: committed explicitly, rolled back when dropped (or on error).
    client
        .batch_execute(
            "CREATE TEMP TABLE accounts (name text PRIMARY KEY, balance int8 NOT NULL);
             INSERT INTO accounts VALUES ('alice', 100), ('bob', 0)",
        )
        .await?;
    let tx = client.transaction().await?;
    tx.execute(
        "UPDATE accounts SET balance = balance - $1 WHERE name = 'alice'",
        &[&30i64],
    )
    .await?;
    tx.execute(
        "UPDATE accounts SET balance = balance + $1 WHERE name = 'bob'",
        &[&30i64],
    )
    .await?;
    tx.commit().await?;
    {
        let tx = client.transaction().await?;
        tx.execute("DELETE FROM accounts", &[]).await?;
        // Dropped without commit: the DELETE is rolled back.
    }
    let balances: Vec<(String, i64)> = client
        .query("SELECT name, balance FROM accounts ORDER BY name", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    println!("transaction: balances after a transfer of 30 = {balances:?}");

    // A pipelined burst: concurrent queries on one connection share writes and
    // round trips instead of waiting for each other.
    let started = Instant::now();
    let burst = (0..1000i32).map(|i| {
        let client = client.clone();
        async move {
            client
                .query_scalar::<i32, _>("SELECT $1::int4 * 2", &[&i])
                .await
        }
    });
    let results = join_all(burst).await;
    let sum: i64 = results
        .into_iter()
        .map(|r| r.map(i64::from))
        .sum::<Result<i64, _>>()?;
    println!(
        "pipelining: 1,000 concurrent queries in {:.1?} (sum of results {sum})",
        started.elapsed()
    );

    // COPY in (any bytes in the COPY format), then out as a stream of chunks.
    client
        .batch_execute("CREATE TEMP TABLE points (x int4, y int4)")
        .await?;
    let mut copy = client
        .copy_in("COPY points (x, y) FROM STDIN (FORMAT csv)")
        .await?;
    for x in 0..10_000 {
        copy.write(format!("{x},{}\n", x * x).as_bytes()).await?;
    }
    let copied = copy.finish().await?;
    let mut out = client
        .copy_out("COPY (SELECT x, y FROM points WHERE x < 3 ORDER BY x) TO STDOUT (FORMAT csv)")
        .await?;
    let mut text = Vec::new();
    while let Some(chunk) = out.try_next().await? {
        text.extend_from_slice(&chunk);
    }
    println!(
        "COPY: {copied} rows in; out: {:?}",
        String::from_utf8_lossy(&text)
    );

    // LISTEN/NOTIFY between two connections; notices to a handler.
    let mut listener = client.listen("quickstart events").await?;
    let other = apg_tokio::connect(&url).await?;
    other
        .execute(
            "SELECT pg_notify('quickstart events', $1)",
            &[&"it's a \"payload\" ✓"],
        )
        .await?;
    match tokio::time::timeout(Duration::from_secs(10), listener.recv()).await {
        Ok(Some(n)) => println!(
            "LISTEN/NOTIFY: {:?} from pid {}: {:?}",
            n.channel, n.process_id, n.payload
        ),
        _ => println!("LISTEN/NOTIFY: no notification within 10 s"),
    }
    client.set_notice_handler(|notice| {
        println!("notice: {}: {}", notice.severity(), notice.message());
    });
    client
        .batch_execute("DO $$ BEGIN RAISE NOTICE 'hello from the server'; END $$")
        .await?;

    other.close().await;
    client.close().await;
    println!("closed");
    Ok(())
}
