//! The value codecs without a server: decoding a 1,000-row result of (int8, text,
//! float8, timestamptz, numeric, uuid, int4[]) from DataRow messages in a byte buffer,
//! each value read with `FromSql` as the client reads it, and encoding the same rows
//! as 1,000 Bind messages with `BindEncoder` and `ToSql`, as the client writes them.
//!
//! `cargo bench --manifest-path benches/Cargo.toml --bench codec`

use std::hint::black_box;

use apg_proto::message::backend::{BackendMessage, DataRow};
use apg_proto::message::frontend::BindEncoder;
use apg_proto::message::{split_frame, Format, Message};
use apg_proto::types::{FromSql, IsNull, Numeric, TimestampTz, ToSql, Type};
use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const ROWS: usize = 1_000;

/// The result's column types, in order.
const TYPES: [Type; 7] = [
    Type::INT8,
    Type::TEXT,
    Type::FLOAT8,
    Type::TIMESTAMPTZ,
    Type::NUMERIC,
    Type::UUID,
    Type::INT4_ARRAY,
];

/// One row's values, as a program holds them.
struct Row {
    id: i64,
    name: String,
    score: f64,
    at: TimestampTz,
    amount: Numeric,
    key: uuid::Uuid,
    tags: Vec<i32>,
}

fn rows() -> Vec<Row> {
    (0..ROWS)
        .map(|i| {
            let n = i64::try_from(i).expect("few rows");
            Row {
                id: n * 1_000_003,
                name: format!("customer number {i}"),
                score: n as f64 * 1.25,
                at: TimestampTz::from_pg_micros(780_000_000_000_000 + n * 1_000_017),
                amount: format!("{}.{:02}", n * 37, i % 100)
                    .parse()
                    .expect("a numeric literal"),
                key: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0000_0000_0000_0000 + i as u128),
                tags: (0..i32::try_from(i % 5 + 1).expect("small")).collect(),
            }
        })
        .collect()
}

impl Row {
    fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.id,
            &self.name,
            &self.score,
            &self.at,
            &self.amount,
            &self.key,
            &self.tags,
        ]
    }
}

/// The result as the server sends it: 1,000 DataRow messages, binary format.
fn result_bytes(rows: &[Row]) -> Bytes {
    let mut out = BytesMut::new();
    for row in rows {
        let values: Vec<Vec<u8>> = row
            .params()
            .iter()
            .zip(&TYPES)
            .map(|(value, ty)| {
                let mut buf = BytesMut::new();
                let is_null = value.to_sql_checked(ty, &mut buf).expect("encodes");
                assert_eq!(is_null, IsNull::No);
                buf.to_vec()
            })
            .collect();
        DataRow::from_fields(values.iter().map(|v| Some(v.as_slice())))
            .expect("a row")
            .encode(&mut out)
            .expect("encodes");
    }
    out.freeze()
}

/// Splits and decodes every DataRow, handing each to `read`.
fn for_each_row(mut buf: BytesMut, mut read: impl FnMut(&DataRow)) {
    while let Some(frame) = split_frame(&mut buf, usize::MAX).expect("a frame") {
        match BackendMessage::decode(frame).expect("a message") {
            BackendMessage::DataRow(row) => read(&row),
            other => panic!("unexpected {}", other.name()),
        }
    }
}

fn get<'a, T: FromSql<'a>>(ty: &Type, value: Option<&'a [u8]>) -> T {
    T::from_sql_checked(ty, Format::Binary, value).expect("decodes")
}

fn decode(c: &mut Criterion) {
    let rows = rows();
    let bytes = result_bytes(&rows);
    let mut group = c.benchmark_group("decode_1000_rows");
    group.throughput(Throughput::Elements(ROWS as u64));
    let input = || BytesMut::from(&bytes[..]);

    group.bench_function("frames_only", |b| {
        b.iter_batched(
            input,
            |buf| {
                for_each_row(buf, |row| {
                    for value in row {
                        black_box(value);
                    }
                })
            },
            BatchSize::LargeInput,
        )
    });

    group.bench_function("str", |b| {
        b.iter_batched(
            input,
            |buf| {
                for_each_row(buf, |row| {
                    let mut v = row.iter();
                    let mut next = || v.next().expect("7 columns");
                    black_box(get::<i64>(&TYPES[0], next()));
                    black_box(get::<&str>(&TYPES[1], next()));
                    black_box(get::<f64>(&TYPES[2], next()));
                    black_box(get::<TimestampTz>(&TYPES[3], next()));
                    black_box(get::<Numeric>(&TYPES[4], next()));
                    black_box(get::<uuid::Uuid>(&TYPES[5], next()));
                    black_box(get::<Vec<i32>>(&TYPES[6], next()));
                })
            },
            BatchSize::LargeInput,
        )
    });

    group.bench_function("string_chrono", |b| {
        b.iter_batched(
            input,
            |buf| {
                for_each_row(buf, |row| {
                    let mut v = row.iter();
                    let mut next = || v.next().expect("7 columns");
                    black_box(get::<i64>(&TYPES[0], next()));
                    black_box(get::<String>(&TYPES[1], next()));
                    black_box(get::<f64>(&TYPES[2], next()));
                    black_box(get::<chrono::DateTime<chrono::Utc>>(&TYPES[3], next()));
                    black_box(get::<Numeric>(&TYPES[4], next()));
                    black_box(get::<uuid::Uuid>(&TYPES[5], next()));
                    black_box(get::<Vec<i32>>(&TYPES[6], next()));
                })
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();

    // Each column alone (over the whole result), for the cost per value.
    let mut group = c.benchmark_group("decode_1000_values");
    group.throughput(Throughput::Elements(ROWS as u64));
    macro_rules! column {
        ($name:literal, $col:literal, $rust:ty) => {
            group.bench_function($name, |b| {
                b.iter_batched(
                    input,
                    |buf| {
                        for_each_row(buf, |row| {
                            let value = row.get($col).expect("7 columns");
                            black_box(get::<$rust>(&TYPES[$col], value));
                        })
                    },
                    BatchSize::LargeInput,
                )
            });
        };
    }
    column!("int8_i64", 0, i64);
    column!("text_str", 1, &str);
    column!("text_string", 1, String);
    column!("float8_f64", 2, f64);
    column!("timestamptz", 3, TimestampTz);
    column!("timestamptz_chrono", 3, chrono::DateTime<chrono::Utc>);
    column!("numeric", 4, Numeric);
    column!("uuid", 5, uuid::Uuid);
    column!("int4_array_vec", 6, Vec<i32>);
    group.finish();
}

fn encode(c: &mut Criterion) {
    let rows = rows();
    let mut group = c.benchmark_group("encode_1000_binds");
    group.throughput(Throughput::Elements(ROWS as u64));
    let mut buf = BytesMut::with_capacity(256 * 1024);
    group.bench_function("bind_encoder", |b| {
        b.iter(|| {
            buf.clear();
            for row in &rows {
                let mut enc =
                    BindEncoder::begin(&mut buf, "", "s1", &[Format::Binary], 7).expect("begin");
                for (value, ty) in row.params().iter().zip(&TYPES) {
                    enc = enc
                        .value_or_null(|out| {
                            value
                                .to_sql_checked(ty, out)
                                .map(|n| n == IsNull::Yes)
                                .map_err(|_| apg_proto::EncodeError::InvalidValue {
                                    message: "Bind",
                                    field: "parameter value",
                                })
                        })
                        .expect("a value");
                }
                enc.finish(&[Format::Binary]).expect("finish");
            }
            black_box(buf.len());
        })
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
