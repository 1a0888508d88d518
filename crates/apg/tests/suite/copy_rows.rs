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

/// COPY in and out in text, CSV and binary, 100,000 rows each way.
pub async fn copy_all_formats_100k(rt: Arc<dyn Runtime>) {
    use futures_util::TryStreamExt;

    const N: i32 = 100_000;
    let client = connect(&rt).await;
    let t = unique_name("formats");
    client
        .batch_execute(&format!("CREATE TEMP TABLE {t} (id int4, name text)"))
        .await
        .unwrap();
    for (format, separator) in [("text", '\t'), ("csv", ',')] {
        let mut copy = client
            .copy_in(&format!("COPY {t} FROM STDIN (FORMAT {format})"))
            .await
            .unwrap();
        let data: String = (0..N).map(|i| format!("{i}{separator}n{i}\n")).collect();
        for chunk in data.as_bytes().chunks(100_003) {
            copy.write(chunk).await.unwrap();
        }
        assert_eq!(copy.finish().await.unwrap(), 100_000, "{format}");
    }
    let rows: Vec<(i32, String)> = (0..N).map(|i| (i, format!("n{i}"))).collect();
    let copied = client
        .copy_rows(
            &t,
            &["id", "name"],
            rows.iter()
                .map(|(id, name)| [id as &(dyn ToSql + Sync), name]),
        )
        .await
        .unwrap();
    assert_eq!(copied, 100_000);

    for format in ["text", "csv"] {
        let out = client
            .copy_out(&format!("COPY {t} TO STDOUT (FORMAT {format})"))
            .await
            .unwrap();
        let lines: usize = out
            .map_ok(|chunk| chunk.iter().filter(|b| **b == b'\n').count())
            .try_fold(0, |sum, n| async move { Ok(sum + n) })
            .await
            .unwrap();
        assert_eq!(lines, 300_000, "{format}");
    }
    // Binary: the header, then tuples of (Int16 fields, (Int32 length, bytes)*), then -1.
    let mut out = client
        .copy_out(&format!("COPY {t} TO STDOUT (FORMAT binary)"))
        .await
        .unwrap();
    let mut data = Vec::new();
    while let Some(chunk) = out.try_next().await.unwrap() {
        data.extend_from_slice(&chunk);
    }
    assert_eq!(&data[..11], b"PGCOPY\n\xff\r\n\0");
    let mut at = 19;
    let mut tuples = 0;
    let mut id_sum = 0i64;
    loop {
        let fields = i16::from_be_bytes([data[at], data[at + 1]]);
        at += 2;
        if fields == -1 {
            break;
        }
        assert_eq!(fields, 2);
        for field in 0..2 {
            let len = i32::from_be_bytes(data[at..at + 4].try_into().unwrap());
            at += 4;
            let len = usize::try_from(len).unwrap();
            if field == 0 {
                id_sum += i64::from(i32::from_be_bytes(data[at..at + 4].try_into().unwrap()));
            }
            at += len;
        }
        tuples += 1;
    }
    assert_eq!(at, data.len());
    assert_eq!(tuples, 300_000);
    assert_eq!(id_sum, 3 * (i64::from(N) * i64::from(N - 1) / 2));
}
