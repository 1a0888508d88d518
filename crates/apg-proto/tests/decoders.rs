//! Every value decoder of apg-proto on hostile bytes: the table the `value_decoders`
//! fuzz target runs, driven by proptest so it runs in every test run. Inputs are
//! arbitrary bytes, and valid values (binary, encoded by the crate's own `ToSql`,
//! and PostgreSQL's text output) cut short, extended, or with bytes changed: the
//! length and count fields in them are where decoders used to trust their input.
//! Errors only: no panic, no allocation the input's size does not justify.

mod value_decoders;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Bound;
use std::path::PathBuf;

use apg_proto::message::Format;
use apg_proto::types::{
    Array, BitString, Circle, Date, Dimension, Interval, IpNetwork, IsNull, Line, LineSegment,
    MacAddr, MacAddr8, Money, Numeric, Path, PgBox, PgLsn, Point, Polygon, Range, Time, TimeTz,
    Timestamp, TimestampTz, ToSql,
};
use bytes::BytesMut;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use value_decoders::{cases, run, Case};

/// Values whose binary encodings seed the mutations: each case uses those its type
/// accepts.
fn values() -> Vec<Box<dyn ToSql + Sync>> {
    let numeric = |s: &str| s.parse::<Numeric>().expect("a numeric literal");
    let date = Date::from_ymd(2024, 2, 29).expect("a date");
    let time = Time::from_hms_micro(13, 5, 7, 250_000).expect("a time");
    let point = Point { x: 1.5, y: -2.0 };
    #[cfg_attr(not(any(feature = "uuid", feature = "serde_json")), allow(unused_mut))]
    let mut values: Vec<Box<dyn ToSql + Sync>> = vec![
        Box::new(true),
        Box::new(0x41i8),
        Box::new(-7i64),
        Box::new(u32::MAX),
        Box::new(1.5f32),
        Box::new(-0.1f64),
        Box::new(numeric("-12345.6789e-3")),
        Box::new(numeric("NaN")),
        Box::new("héllo"),
        Box::new(b"\0\xff".as_slice()),
        Box::new(date),
        Box::new(Date::INFINITY),
        Box::new(time),
        Box::new(TimeTz::new(time, -3600).expect("a timetz")),
        Box::new(Timestamp::new(date, time).expect("a timestamp")),
        Box::new(TimestampTz::from_pg_micros(-1)),
        Box::new(Interval::new(14, -3, 14_706_500_000)),
        Box::new(IpNetwork::new(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 0)), 16).expect("a net")),
        Box::new(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        Box::new(MacAddr([1, 2, 3, 4, 5, 6])),
        Box::new(MacAddr8([1, 2, 3, 4, 5, 6, 7, 8])),
        Box::new(BitString::from_bools([true, false, true])),
        Box::new(Money(-1234)),
        Box::new(PgLsn(0x1_0000_0010)),
        Box::new(point),
        Box::new(Line {
            a: 1.0,
            b: 2.0,
            c: 3.0,
        }),
        Box::new(LineSegment {
            start: point,
            end: point,
        }),
        Box::new(PgBox {
            high: point,
            low: point,
        }),
        Box::new(Path {
            closed: true,
            points: vec![point, point],
        }),
        Box::new(Polygon {
            points: vec![point, point, point],
        }),
        Box::new(Circle {
            center: point,
            radius: 2.0,
        }),
        Box::new(vec![Some(1i32), None, Some(3)]),
        Box::new(vec![Some("a"), None, Some("ü")]),
        Box::new(vec![numeric("1.5"), numeric("-Infinity")]),
        Box::new(vec![Interval::new(1, 2, 3)]),
        Box::new(vec![point]),
        Box::new(
            Array::from_parts(
                vec![1i64, 2, 3, 4, 5, 6],
                vec![
                    Dimension {
                        len: 2,
                        lower_bound: 0,
                    },
                    Dimension {
                        len: 3,
                        lower_bound: 1,
                    },
                ],
            )
            .expect("a 2x3 array"),
        ),
        Box::new(Range::new(Bound::Included(1i32), Bound::Excluded(10))),
        Box::new(Range::new(Bound::Unbounded, Bound::Included(5i64))),
        Box::new(Range::<i32>::Empty),
        Box::new(Range::new(
            Bound::Included(numeric("1.5")),
            Bound::Unbounded,
        )),
        Box::new(Range::new(Bound::Included(date), Bound::Excluded(date))),
        Box::new(Range::new(
            Bound::Included(TimestampTz::from_pg_micros(0)),
            Bound::Excluded(TimestampTz::INFINITY),
        )),
        Box::new(BTreeMap::from([
            ("a".to_string(), Some("1".to_string())),
            ("b".to_string(), None),
        ])),
    ];
    #[cfg(feature = "uuid")]
    values.push(Box::new(uuid::Uuid::from_u128(0x0123_4567_89ab_cdef)));
    #[cfg(feature = "serde_json")]
    values.push(Box::new(serde_json::json!({"a": [1, 2], "b": null})));
    values
}

/// PostgreSQL's text output for the types decoded from text, tried on every case.
const TEXTS: &[&str] = &[
    "t",
    "-7",
    "4294967295",
    "1.5e10",
    "-12.345",
    "NaN",
    "héllo",
    "\\x00ff",
    "2024-02-29",
    "13:05:07.25",
    "2024-02-29 13:05:07.25+05:30",
    "0044-03-15 00:00:00 BC",
    "1 year 2 mons -3 days +04:05:06.5",
    "P1Y2M3DT4H5M6.5S",
    "\"a\"=>\"1\", \"b\"=>NULL",
    "01234567-89ab-cdef-0123-456789abcdef",
    "{\"a\": [1, 2]}",
    "'a' & 'b'",
];

/// The binary samples of a case: every value its type accepts, encoded.
fn binary_samples(case: &Case, values: &[Box<dyn ToSql + Sync>]) -> Vec<Vec<u8>> {
    let mut samples = Vec::new();
    for value in values {
        let mut out = BytesMut::new();
        if let Ok(IsNull::No) = value.to_sql_checked(&case.ty, &mut out) {
            samples.push(out.to_vec());
        }
    }
    samples
}

/// Changes to a sample: cut it at a position, set bytes, append bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Set(usize, u8),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        // Extremes of length fields are the interesting values.
        (
            any::<usize>(),
            prop_oneof![
                Just(0x00u8),
                Just(0x7f),
                Just(0x80),
                Just(0xff),
                any::<u8>()
            ]
        )
            .prop_map(|(at, byte)| Mutation::Set(at, byte)),
        proptest::collection::vec(any::<u8>(), 1..8).prop_map(Mutation::Append),
    ]
}

fn mutate(mut raw: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Truncate(at) => raw.truncate(at % (raw.len() + 1)),
            Mutation::Set(at, byte) => {
                if !raw.is_empty() {
                    let at = at % raw.len();
                    raw[at] = *byte;
                }
            }
            Mutation::Append(bytes) => raw.extend_from_slice(bytes),
        }
    }
    raw
}

/// A few hundred inputs per case: enough for CI, while the fuzz target runs longer.
const CASES_PER_DECODER: u32 = 256;

#[test]
fn every_decoder_survives_hostile_bytes() {
    let values = values();
    for case in cases() {
        let mut samples: Vec<(Format, Vec<u8>)> = binary_samples(&case, &values)
            .into_iter()
            .map(|raw| (Format::Binary, raw))
            .collect();
        samples.extend(TEXTS.iter().map(|t| (Format::Text, t.as_bytes().to_vec())));
        let mut runner = TestRunner::new(Config {
            cases: CASES_PER_DECODER,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = prop_oneof![
            // Arbitrary bytes in either format.
            (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..48))
                .prop_map(|(text, raw)| (if text { Format::Text } else { Format::Binary }, raw)),
            // A valid value, damaged.
            (
                0..samples.len(),
                proptest::collection::vec(mutation(), 0..4)
            )
                .prop_map(move |(i, mutations)| (
                    samples[i].0,
                    mutate(samples[i].1.clone(), &mutations)
                )),
        ];
        runner
            .run(&strategy, |(format, raw)| {
                (case.decode)(&case.ty, format, Some(&raw));
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        (case.decode)(&case.ty, Format::Binary, None);
    }
}

#[test]
fn every_case_decodes_a_valid_value() {
    // The table is only as good as the samples reaching past the first length check:
    // every case with a binary sample decodes it.
    let values = values();
    let mut covered = 0;
    for case in cases() {
        for raw in binary_samples(&case, &values) {
            (case.decode)(&case.ty, Format::Binary, Some(&raw));
            covered += 1;
        }
    }
    assert!(covered > 60, "{covered} samples");
}

#[test]
fn the_fuzz_input_layout_picks_cases() {
    let cases = cases();
    // Short inputs and every selector wrap around the table without a panic.
    run(&cases, &[]);
    run(&cases, &[0xff, 0xff, 0xff]);
    for index in 0..cases.len() {
        let [hi, lo] = u16::try_from(index).expect("a small table").to_be_bytes();
        run(&cases, &[hi, lo, 0, 0, 0, 0, 7]);
        run(&cases, &[hi, lo, 1, b'7']);
        run(&cases, &[hi, lo, 2]);
    }
}

/// Writes the fuzz target's seed corpus: every binary sample and text, under each
/// case's selector. `cargo test -p apg-proto --all-features --test decoders --
/// --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes fuzz/corpus/value_decoders"]
fn write_fuzz_seeds() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/value_decoders");
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    let values = values();
    for (index, case) in cases().iter().enumerate() {
        let selector = u16::try_from(index).expect("a small table").to_be_bytes();
        let mut seeds: Vec<(u8, Vec<u8>)> = binary_samples(case, &values)
            .into_iter()
            .map(|raw| (0, raw))
            .collect();
        if seeds.is_empty() {
            seeds.push((0, Vec::new()));
        }
        for (n, (flags, raw)) in seeds.iter().enumerate() {
            let mut seed = selector.to_vec();
            seed.push(*flags);
            seed.extend_from_slice(raw);
            std::fs::write(dir.join(format!("seed-{index:03}-bin-{n}")), seed)
                .expect("write a seed");
        }
    }
    for (n, text) in TEXTS.iter().enumerate() {
        // Text seeds under the first case that decodes text of that shape is up to
        // the fuzzer; give each one the selector of case n.
        let mut seed = u16::try_from(n)
            .expect("a small table")
            .to_be_bytes()
            .to_vec();
        seed.push(1);
        seed.extend_from_slice(text.as_bytes());
        std::fs::write(dir.join(format!("seed-text-{n:02}")), seed).expect("write a seed");
    }
}
