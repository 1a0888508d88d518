//! Typed bulk loading with binary COPY (`Client::copy_rows`).

use std::sync::Arc;

use apg::{ErrorKind, Runtime, ToSql};

use super::common::{connect, unique_name};

pub async fn copy_rows_loads_typed_rows(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    client
        .batch_execute(
            "CREATE TEMP TABLE bulk (id int4 PRIMARY KEY, name text, score float8, big int8)",
        )
        .await
        .unwrap();
    let rows: Vec<(i32, String, Option<f64>, i64)> = (0..100_000)
        .map(|i| {
            let score = (i % 7 != 0).then(|| f64::from(i) / 2.0);
            (
                i,
                format!("row {i} \"quoted\" ünïcode"),
                score,
                i64::from(i) << 33,
            )
        })
        .collect();
    let copied = client
        .copy_rows(
            "bulk",
            &["id", "name", "score", "big"],
            rows.iter()
                .map(|(id, name, score, big)| [id as &(dyn ToSql + Sync), name, score, big]),
        )
        .await
        .unwrap();
    assert_eq!(copied, 100_000);
    let row = client
        .query_one(
            "SELECT count(*), count(score), sum(id), max(big), \
             min(name) FILTER (WHERE id = 42) FROM bulk",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>(0), 100_000);
    assert_eq!(row.get::<i64, _>(1), 100_000 - 14_286);
    assert_eq!(row.get::<i64, _>(2), 4_999_950_000);
    assert_eq!(row.get::<i64, _>(3), 99_999i64 << 33);
    assert_eq!(row.get::<String, _>(4), "row 42 \"quoted\" ünïcode");
}

pub async fn copy_rows_quotes_names(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    let schema = unique_name("Odd \"schema\"");
    let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
    client
        .batch_execute(&format!(
            "CREATE SCHEMA {quoted}; CREATE TABLE {quoted}.\"My Table\" (\"select\" int4, \"a b\" text)"
        ))
        .await
        .unwrap();
    let table = format!("{schema}.My Table");
    let copied = client
        .copy_rows(
            &table,
            &["select", "a b"],
            [
                [&1i32 as &(dyn ToSql + Sync), &"one"],
                [&2i32, &None::<String>],
            ],
        )
        .await
        .unwrap();
    assert_eq!(copied, 2);
    let n: i64 = client
        .query_scalar(
            &format!("SELECT count(\"a b\") FROM {quoted}.\"My Table\""),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    client
        .batch_execute(&format!("DROP SCHEMA {quoted} CASCADE"))
        .await
        .unwrap();
}

pub async fn copy_rows_failures_insert_nothing(rt: Arc<dyn Runtime>) {
    let client = connect(&rt).await;
    client
        .batch_execute("CREATE TEMP TABLE strict (id int4 PRIMARY KEY, name text NOT NULL)")
        .await
        .unwrap();
    // A value of the wrong Rust type for its column.
    let e = client
        .copy_rows(
            "strict",
            &["id", "name"],
            [[&1i32 as &(dyn ToSql + Sync), &"a"], [&2.5f64, &"b"]],
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    // A row of the wrong length.
    let e = client
        .copy_rows("strict", &["id", "name"], [[&1i32 as &(dyn ToSql + Sync)]])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
    // A constraint the server checks: the whole COPY is rolled back.
    let e = client
        .copy_rows(
            "strict",
            &["id", "name"],
            [[&1i32 as &(dyn ToSql + Sync), &"a"], [&1i32, &"duplicate"]],
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(apg::SqlState::UniqueViolation), "{e}");
    // No such column.
    let e = client
        .copy_rows("strict", &["nope"], [[&1i32 as &(dyn ToSql + Sync)]])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(apg::SqlState::UndefinedColumn), "{e}");
    let n: i64 = client
        .query_scalar("SELECT count(*) FROM strict", &[])
        .await
        .unwrap();
    assert_eq!(n, 0);
}
