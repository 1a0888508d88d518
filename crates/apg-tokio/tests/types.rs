//! Live round trips of the value codecs against a real server: each value is echoed
//! (`SELECT $1::type`) and its text form compared with PostgreSQL's own output.

mod support;

use std::fmt::Debug;
use std::future::Future;

use apg::types::{FromSql, ToSql};
use apg::{Client, Config, ErrorKind};

/// Builds a tokio runtime, connects to the test server and runs `body`.
fn run<F, Fut>(body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let (rt, runtime) = support::runtime();
    rt.block_on(async move {
        let server = apg_testkit::server().expect("a PostgreSQL server to test against");
        let config: Config = server.url().parse().expect("the test URL parses");
        let client = Client::connect(&config, runtime)
            .await
            .expect("connect to the test server");
        body(client).await;
    });
}

/// Sends `value` as `ty`, reads it back, and checks PostgreSQL prints it as `text`.
async fn echo<T>(client: &Client, ty: &str, value: T, text: &str)
where
    T: ToSql + for<'a> FromSql<'a> + PartialEq + Debug + Sync,
{
    let row = client
        .query_one(&format!("SELECT $1::{ty}, $1::{ty}::text"), &[&value])
        .await
        .unwrap_or_else(|e| panic!("{ty} {value:?}: {e}"));
    assert_eq!(row.get::<T, _>(0), value, "{ty} echo");
    assert_eq!(row.get::<&str, _>(1), text, "{ty} text of {value:?}");
}

/// Reads the value of `sql` (a literal of PostgreSQL's) as `T`.
async fn read<T>(client: &Client, sql: &str) -> T
where
    T: for<'a> FromSql<'a>,
{
    client
        .query_scalar(&format!("SELECT {sql}"), &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn integers_widen_and_narrow_checked() {
    run(|client| async move {
        echo(&client, "int2", i16::MIN, "-32768").await;
        echo(&client, "int2", i16::MAX, "32767").await;
        echo(&client, "int4", i32::MIN, "-2147483648").await;
        echo(&client, "int8", i64::MIN, "-9223372036854775808").await;
        echo(&client, "int8", i64::MAX, "9223372036854775807").await;
        // Widening both ways.
        echo(&client, "int8", -7i16, "-7").await;
        echo(&client, "int2", 12i64, "12").await;
        assert_eq!(
            read::<i64>(&client, "2147483647::int4").await,
            2_147_483_647
        );
        // Narrowing out of range is an error, before sending or after reading.
        let e = client
            .query("SELECT $1::int4", &[&(1i64 << 40)])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        assert!(e.to_string().contains("out of range"), "{e}");
        let row = client.query_one("SELECT 40000::int4", &[]).await.unwrap();
        assert_eq!(
            row.try_get::<i16, _>(0).unwrap_err().kind(),
            ErrorKind::Conversion
        );
        assert_eq!(row.get::<i32, _>(0), 40_000);
    });
}

#[test]
fn oids_floats_and_strings() {
    run(|client| async move {
        echo(&client, "oid", u32::MAX, "4294967295").await;
        assert_eq!(read::<u32>(&client, "'pg_class'::regclass").await, 1259);
        assert_eq!(read::<u32>(&client, "'int4'::regtype").await, 23);
        assert_eq!(read::<u32>(&client, "'1234'::xid").await, 1234);
        echo(&client, "float8", f64::INFINITY, "Infinity").await;
        echo(&client, "float8", f64::NEG_INFINITY, "-Infinity").await;
        echo(
            &client,
            "float8",
            f64::MIN_POSITIVE,
            "2.2250738585072014e-308",
        )
        .await;
        echo(&client, "float4", f32::MAX, "3.4028235e+38").await;
        echo(&client, "float8", 1.5f32 as f64, "1.5").await;
        let nan: f64 = client
            .query_scalar("SELECT $1::float8", &[&f64::NAN])
            .await
            .unwrap();
        assert!(nan.is_nan());
        assert!(read::<f32>(&client, "'NaN'::float4").await.is_nan());
        assert_eq!(read::<f64>(&client, "1.25::float4").await, 1.25);
        echo(&client, "\"char\"", 0x41i8, "A").await;
        echo(&client, "name", String::from("pg_class"), "pg_class").await;
        // bpchar to text drops the padding.
        echo(&client, "char(3)", String::from("ab "), "ab").await;
        echo(&client, "varchar", Box::<str>::from("é"), "é").await;
        let row = client
            .query_one(
                "SELECT $1::text",
                &[&std::borrow::Cow::<str>::Borrowed("x")],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<std::borrow::Cow<'_, str>, _>(0), "x");
        echo(
            &client,
            "bytea",
            bytes::Bytes::from_static(b"\0\xff"),
            "\\x00ff",
        )
        .await;
        let () = read(&client, "pg_sleep(0)").await;
        assert_eq!(read::<String>(&client, "'lit'").await, "lit");
    });
}

#[test]
fn numeric_is_exact() {
    use apg::types::Numeric;
    run(|client| async move {
        let big = format!("-{}.{}", "9".repeat(1000), "1".repeat(300));
        let tiny = format!("0.{}1", "0".repeat(16_000));
        for s in [
            "0",
            "0.000",
            "1.50",
            "-12345678901234567890.0001",
            "10000",
            "0.0001",
            "NaN",
            big.as_str(),
            tiny.as_str(),
        ] {
            let value: Numeric = s.parse().unwrap();
            echo(&client, "numeric", value, s).await;
        }
        // ±Infinity exists from PostgreSQL 14.
        if client.server_version_num().unwrap_or(0) >= 140_000 {
            echo(&client, "numeric", Numeric::INFINITY, "Infinity").await;
            echo(&client, "numeric", Numeric::NEG_INFINITY, "-Infinity").await;
        }
        // The server's own values, as computed by it.
        let third: Numeric = read(&client, "1::numeric / 3").await;
        assert_eq!(third.to_string(), "0.33333333333333333333");
        // Its scale differs between server versions (16 made integer powers exact):
        // compared with the server's own text.
        let power: Numeric = read(&client, "2::numeric ^ 200").await;
        let text: String = read(&client, "(2::numeric ^ 200)::text").await;
        assert_eq!(power.to_string(), text);
        assert!(text.starts_with("1606938044258990275541962092341162602522202993782792835301376"));
        let e: Numeric = read(&client, "'1.5e-3'::numeric").await;
        assert_eq!(e.to_string(), "0.0015");
        assert_eq!(
            i64::try_from(&read::<Numeric>(&client, "2::numeric ^ 62").await),
            Ok(1 << 62)
        );
    });
}

#[test]
fn rust_decimal_is_numeric() {
    use rust_decimal::Decimal;
    run(|client| async move {
        for s in [
            "0",
            "1.50",
            "-79228162514264337593543950335",
            "0.0000000000000000000000000001",
        ] {
            echo(&client, "numeric", s.parse::<Decimal>().unwrap(), s).await;
        }
        let row = client
            .query_one("SELECT 'NaN'::numeric, 1e40::numeric", &[])
            .await
            .unwrap();
        assert_eq!(
            row.try_get::<Decimal, _>(0).unwrap_err().kind(),
            ErrorKind::Conversion
        );
        assert_eq!(
            row.try_get::<Decimal, _>(1).unwrap_err().kind(),
            ErrorKind::Conversion
        );
    });
}

#[test]
fn dates_and_times() {
    use apg::types::{Date, Interval, Time, TimeTz, Timestamp, TimestampTz};
    run(|client| async move {
        client.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
        let date = |y, m, d| Date::from_ymd(y, m, d).unwrap();
        let time = |h, m, s, us| Time::from_hms_micro(h, m, s, us).unwrap();
        for (value, text) in [
            (date(2000, 1, 1), "2000-01-01"),
            (date(2024, 2, 29), "2024-02-29"),
            (date(1, 1, 1), "0001-01-01"),
            (date(0, 12, 31), "0001-12-31 BC"),
            (date(-4712, 1, 1), "4713-01-01 BC"),
            (date(10_000, 1, 1), "10000-01-01"),
            (date(5_874_897, 12, 31), "5874897-12-31"),
            (Date::INFINITY, "infinity"),
            (Date::NEG_INFINITY, "-infinity"),
        ] {
            assert_eq!(value.to_string(), text);
            echo(&client, "date", value, text).await;
        }
        for (value, text) in [
            (Time::MIDNIGHT, "00:00:00"),
            (time(23, 59, 59, 999_999), "23:59:59.999999"),
            (Time::END_OF_DAY, "24:00:00"),
        ] {
            assert_eq!(value.to_string(), text);
            echo(&client, "time", value, text).await;
        }
        for (value, text) in [
            (
                TimeTz::new(time(9, 30, 0, 0), 19_800).unwrap(),
                "09:30:00+05:30",
            ),
            (
                TimeTz::new(time(1, 2, 3, 400_000), -28_800).unwrap(),
                "01:02:03.4-08",
            ),
        ] {
            assert_eq!(value.to_string(), text);
            echo(&client, "timetz", value, text).await;
        }
        let ts = |d, t| Timestamp::new(d, t).unwrap();
        for (value, text) in [
            (
                ts(date(2024, 2, 29), time(13, 5, 7, 250_000)),
                "2024-02-29 13:05:07.25",
            ),
            (
                ts(date(-99, 6, 1), Time::MIDNIGHT),
                "0100-06-01 00:00:00 BC",
            ),
            (
                ts(date(12_345, 6, 7), time(1, 2, 3, 4)),
                "12345-06-07 01:02:03.000004",
            ),
            (Timestamp::INFINITY, "infinity"),
            (Timestamp::NEG_INFINITY, "-infinity"),
        ] {
            assert_eq!(value.to_string(), text);
            echo(&client, "timestamp", value, text).await;
        }
        for (value, text) in [
            (
                TimestampTz::from_unix_micros(0).unwrap(),
                "1970-01-01 00:00:00+00",
            ),
            (
                TimestampTz::from_pg_micros(-1),
                "1999-12-31 23:59:59.999999+00",
            ),
            (TimestampTz::NEG_INFINITY, "-infinity"),
        ] {
            assert_eq!(value.to_string(), text);
            echo(&client, "timestamptz", value, text).await;
        }
        // The session's time zone changes the text, not the instant.
        let at: TimestampTz = read(&client, "'2024-01-01 12:00:00+05'::timestamptz").await;
        assert_eq!(at.to_string(), "2024-01-01 07:00:00+00");
        echo(
            &client,
            "interval",
            Interval::new(14, -3, 3_600_000_001),
            "1 year 2 mons -3 days +01:00:00.000001",
        )
        .await;
        let now: std::time::SystemTime = read(&client, "now()").await;
        let skew = now
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_else(|e| e.duration());
        assert!(skew < std::time::Duration::from_secs(60));
        let epoch = std::time::UNIX_EPOCH;
        echo(&client, "timestamptz", epoch, "1970-01-01 00:00:00+00").await;
        let row = client
            .query_one("SELECT 'infinity'::timestamptz", &[])
            .await
            .unwrap();
        assert_eq!(
            row.try_get::<std::time::SystemTime, _>(0)
                .unwrap_err()
                .kind(),
            ErrorKind::Conversion
        );
    });
}

#[test]
fn chrono_and_time_types() {
    run(|client| async move {
        client.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
        let d = chrono::NaiveDate::from_ymd_opt(-99, 6, 1).unwrap();
        echo(&client, "date", d, "0100-06-01 BC").await;
        let d = chrono::NaiveDate::from_ymd_opt(12_345, 6, 7).unwrap();
        echo(&client, "date", d, "12345-06-07").await;
        let t = chrono::NaiveTime::from_hms_micro_opt(1, 2, 3, 4).unwrap();
        echo(&client, "time", t, "01:02:03.000004").await;
        let dt = d.and_time(t);
        echo(&client, "timestamp", dt, "12345-06-07 01:02:03.000004").await;
        echo(
            &client,
            "timestamptz",
            dt.and_utc(),
            "12345-06-07 01:02:03.000004+00",
        )
        .await;
        let fixed = dt
            .and_utc()
            .with_timezone(&chrono::FixedOffset::east_opt(0).unwrap());
        echo(
            &client,
            "timestamptz",
            fixed,
            "12345-06-07 01:02:03.000004+00",
        )
        .await;
        let row = client
            .query_one(
                "SELECT 'infinity'::date, '24:00'::time, '-infinity'::timestamp",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            row.try_get::<chrono::NaiveDate, _>(0).unwrap_err().kind(),
            ErrorKind::Conversion
        );
        assert_eq!(
            row.try_get::<chrono::NaiveTime, _>(1).unwrap_err().kind(),
            ErrorKind::Conversion
        );
        assert_eq!(
            row.try_get::<chrono::NaiveDateTime, _>(2)
                .unwrap_err()
                .kind(),
            ErrorKind::Conversion
        );

        use time::Month;
        let d = time::Date::from_calendar_date(-4712, Month::January, 1).unwrap();
        echo(&client, "date", d, "4713-01-01 BC").await;
        let t = time::Time::from_hms_micro(23, 59, 59, 999_999).unwrap();
        echo(&client, "time", t, "23:59:59.999999").await;
        let dt = time::PrimitiveDateTime::new(
            time::Date::from_calendar_date(9999, Month::December, 31).unwrap(),
            t,
        );
        echo(&client, "timestamp", dt, "9999-12-31 23:59:59.999999").await;
        echo(
            &client,
            "timestamptz",
            dt.assume_utc(),
            "9999-12-31 23:59:59.999999+00",
        )
        .await;
        let e = client
            .query_one("SELECT '10000-01-01'::date", &[])
            .await
            .unwrap()
            .try_get::<time::Date, _>(0)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        assert!(e.to_string().contains("out of range"), "{e}");
    });
}

#[test]
fn network_json_and_other_types() {
    use apg::types::{
        BitString, Circle, IpNetwork, Json, Line, LineSegment, MacAddr, MacAddr8, Money, Path,
        PgBox, PgLsn, Point, Polygon,
    };
    use std::net::IpAddr;
    run(|client| async move {
        let u = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        echo(&client, "uuid", u, "01234567-89ab-cdef-0123-456789abcdef").await;

        let v = serde_json::json!({"a": [1, "x", null], "b": {"c": 1.5}});
        echo(
            &client,
            "jsonb",
            v.clone(),
            r#"{"a": [1, "x", null], "b": {"c": 1.5}}"#,
        )
        .await;
        echo(&client, "json", v, r#"{"a":[1,"x",null],"b":{"c":1.5}}"#).await;
        echo(&client, "jsonb", Json(vec![1, 2]), "[1, 2]").await;

        let host: IpAddr = "192.168.0.1".parse().unwrap();
        // `inet::text` always prints the prefix.
        echo(&client, "inet", host, "192.168.0.1/32").await;
        let host6: IpAddr = "2001:db8::1".parse().unwrap();
        echo(&client, "inet", host6, "2001:db8::1/128").await;
        let net = IpNetwork::new("10.1.0.0".parse().unwrap(), 16).unwrap();
        echo(&client, "cidr", net, "10.1.0.0/16").await;
        let in_net = IpNetwork::new(host, 24).unwrap();
        echo(&client, "inet", in_net, "192.168.0.1/24").await;
        let row = client
            .query_one("SELECT '10.0.0.0/8'::cidr", &[])
            .await
            .unwrap();
        assert_eq!(
            row.try_get::<IpAddr, _>(0).unwrap_err().kind(),
            ErrorKind::Conversion
        );

        echo(
            &client,
            "macaddr",
            MacAddr([8, 0, 0x2b, 1, 2, 3]),
            "08:00:2b:01:02:03",
        )
        .await;
        echo(
            &client,
            "macaddr8",
            MacAddr8([8, 0, 0x2b, 1, 2, 3, 4, 5]),
            "08:00:2b:01:02:03:04:05",
        )
        .await;
        let bits =
            BitString::from_bools([true, false, true, true, false, false, false, false, true]);
        echo(&client, "varbit", bits.clone(), "101100001").await;
        echo(&client, "bit(9)", bits, "101100001").await;
        echo(&client, "varbit", BitString::default(), "").await;
        echo(&client, "pg_lsn", PgLsn(0x16_B374_D848), "16/B374D848").await;
        let cents: Money = read(&client, "'12.34'::numeric::money").await;
        assert_eq!(cents, Money(1234));
        let m: Money = client
            .query_scalar("SELECT $1::money", &[&Money(-5)])
            .await
            .unwrap();
        assert_eq!(m, Money(-5));

        let p = Point { x: 1.5, y: -2.0 };
        let q = Point { x: 3.0, y: 4.0 };
        echo(&client, "point", p, "(1.5,-2)").await;
        echo(
            &client,
            "line",
            Line {
                a: 1.0,
                b: -1.0,
                c: 0.0,
            },
            "{1,-1,0}",
        )
        .await;
        echo(
            &client,
            "lseg",
            LineSegment { start: p, end: q },
            "[(1.5,-2),(3,4)]",
        )
        .await;
        echo(&client, "box", PgBox { high: q, low: p }, "(3,4),(1.5,-2)").await;
        echo(
            &client,
            "circle",
            Circle {
                center: p,
                radius: 2.0,
            },
            "<(1.5,-2),2>",
        )
        .await;
        echo(
            &client,
            "path",
            Path {
                closed: false,
                points: vec![p, q],
            },
            "[(1.5,-2),(3,4)]",
        )
        .await;
        echo(
            &client,
            "path",
            Path {
                closed: true,
                points: vec![p, q],
            },
            "((1.5,-2),(3,4))",
        )
        .await;
        echo(
            &client,
            "polygon",
            Polygon {
                points: vec![p, q, p],
            },
            "((1.5,-2),(3,4),(1.5,-2))",
        )
        .await;
    });
}

#[test]
fn arrays() {
    use apg::types::{Array, Date, Dimension, Numeric};
    run(|client| async move {
        echo(
            &client,
            "int4[]",
            vec![i32::MIN, 0, i32::MAX],
            "{-2147483648,0,2147483647}",
        )
        .await;
        echo(&client, "int8[]", Vec::<i64>::new(), "{}").await;
        echo(
            &client,
            "text[]",
            vec![Some("a b".to_string()), None, Some("\"".to_string())],
            r#"{"a b",NULL,"\""}"#,
        )
        .await;
        echo(&client, "bool[]", vec![true, false], "{t,f}").await;
        echo(
            &client,
            "float8[]",
            vec![f64::INFINITY, 1.5],
            "{Infinity,1.5}",
        )
        .await;
        echo(&client, "bytea[]", vec![vec![0u8, 255]], r#"{"\\x00ff"}"#).await;
        let numbers: Vec<Numeric> = vec!["1.50".parse().unwrap(), Numeric::NAN];
        echo(&client, "numeric[]", numbers, "{1.50,NaN}").await;
        echo(
            &client,
            "date[]",
            vec![Date::INFINITY, Date::from_pg_days(0)],
            "{infinity,2000-01-01}",
        )
        .await;
        // A slice parameter.
        let v: Vec<i16> = client
            .query_scalar("SELECT $1::int2[]", &[&&[1i16, 2][..]])
            .await
            .unwrap();
        assert_eq!(v, [1, 2]);
        // Three dimensions with lower bounds, as the server builds them.
        let a: Array<i32> = read(&client, "'[0:1][1:1][-1:0]={{{1,2}},{{3,4}}}'::int4[]").await;
        assert_eq!(
            a.dimensions(),
            [
                Dimension {
                    len: 2,
                    lower_bound: 0
                },
                Dimension {
                    len: 1,
                    lower_bound: 1
                },
                Dimension {
                    len: 2,
                    lower_bound: -1
                },
            ]
        );
        assert_eq!(a.elements(), [1, 2, 3, 4]);
        echo(&client, "int4[]", a, "[0:1][1:1][-1:0]={{{1,2}},{{3,4}}}").await;
        let nested = Array::from_parts(
            vec![Some(1i64), None, Some(3), None],
            vec![
                Dimension {
                    len: 2,
                    lower_bound: 1,
                },
                Dimension {
                    len: 2,
                    lower_bound: 1,
                },
            ],
        )
        .unwrap();
        echo(&client, "int8[]", nested, "{{1,NULL},{3,NULL}}").await;
        echo(&client, "int4[]", Array::<i32>::from_vec(vec![]), "{}").await;
        // A multi-dimensional array is not a Vec; NULL elements need Option.
        let row = client
            .query_one("SELECT '{{1}}'::int4[], '{1,NULL}'::int4[]", &[])
            .await
            .unwrap();
        assert_eq!(
            row.try_get::<Vec<i32>, _>(0).unwrap_err().kind(),
            ErrorKind::Conversion
        );
        assert_eq!(
            row.try_get::<Vec<i32>, _>(1).unwrap_err().kind(),
            ErrorKind::Conversion
        );
        assert_eq!(row.get::<Vec<Option<i32>>, _>(1), [Some(1), None]);
        // Element types are checked.
        let e = client
            .query("SELECT $1::int4[]", &[&vec!["x"]])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
    });
}

#[test]
fn ranges() {
    use apg::types::{Date, Numeric, Range, Timestamp, TimestampTz};
    use std::ops::Bound::{Excluded, Included, Unbounded};
    run(|client| async move {
        client.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
        echo(
            &client,
            "int4range",
            Range::new(Included(1i32), Excluded(10)),
            "[1,10)",
        )
        .await;
        echo(&client, "int4range", Range::<i32>::Empty, "empty").await;
        echo(
            &client,
            "int8range",
            Range::new(Unbounded, Excluded(i64::MAX)),
            "(,9223372036854775807)",
        )
        .await;
        echo(
            &client,
            "int8range",
            Range::<i64>::new(Unbounded, Unbounded),
            "(,)",
        )
        .await;
        let n = |s: &str| s.parse::<Numeric>().unwrap();
        echo(
            &client,
            "numrange",
            Range::new(Excluded(n("0.5")), Included(n("1.50"))),
            "(0.5,1.50]",
        )
        .await;
        echo(
            &client,
            "daterange",
            Range::new(Included(Date::from_pg_days(0)), Unbounded),
            "[2000-01-01,)",
        )
        .await;
        echo(
            &client,
            "tsrange",
            Range::new(
                Included(Timestamp::from_pg_micros(0)),
                Included(Timestamp::INFINITY),
            ),
            "[\"2000-01-01 00:00:00\",infinity]",
        )
        .await;
        echo(
            &client,
            "tstzrange",
            Range::new(
                Excluded(TimestampTz::NEG_INFINITY),
                Excluded(TimestampTz::from_pg_micros(1)),
            ),
            "(-infinity,\"2000-01-01 00:00:00.000001+00\")",
        )
        .await;
        // The server canonicalizes discrete ranges and empties crossed bounds.
        let r: Range<i32> = client
            .query_scalar(
                "SELECT $1::int4range",
                &[&Range::new(Excluded(1i32), Included(9))],
            )
            .await
            .unwrap();
        assert_eq!(r, Range::new(Included(2), Excluded(10)));
        let r: Range<i32> = read(&client, "int4range(5, 5)").await;
        assert!(r.is_empty());
        // Arrays of ranges.
        echo(
            &client,
            "int4range[]",
            vec![Range::<i32>::Empty, Range::new(Included(1), Excluded(2))],
            "{empty,\"[1,2)\"}",
        )
        .await;
    });
}

#[test]
fn hstore_round_trips() {
    use std::collections::{BTreeMap, HashMap};

    let server = apg_testkit::server().expect("a PostgreSQL server to test against");
    // An extension of its own database, so its OID and objects stay out of the way
    // of the other tests.
    let Some(cluster) = server.cluster() else {
        return;
    };
    let db = cluster.create_database().expect("create a database");
    cluster
        .execute_in(&db, "CREATE EXTENSION hstore")
        .expect("CREATE EXTENSION hstore");
    let url = server.url_for(&db);
    let (rt, runtime) = support::runtime();
    rt.block_on(async move {
        let config: Config = url.parse().expect("the test URL parses");
        let client = Client::connect(&config, runtime).await.expect("connect");
        let map = |pairs: &[(&str, Option<&str>)]| -> BTreeMap<String, Option<String>> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(String::from)))
                .collect()
        };
        echo(&client, "hstore", map(&[]), "").await;
        echo(
            &client,
            "hstore",
            map(&[("a", Some("1")), ("b", None), ("", Some(""))]),
            r#"""=>"", "a"=>"1", "b"=>NULL"#,
        )
        .await;
        echo(
            &client,
            "hstore",
            map(&[("clé \"q\"", Some("väl\\ue ✓")), ("n", Some("NULL"))]),
            r#""n"=>"NULL", "clé \"q\""=>"väl\\ue ✓""#,
        )
        .await;
        let hashed: HashMap<String, Option<String>> = client
            .query_scalar(r#"SELECT 'k=>v, "x y"=>NULL'::hstore"#, &[])
            .await
            .expect("read as HashMap");
        assert_eq!(
            hashed,
            HashMap::from([("k".into(), Some("v".into())), ("x y".into(), None)])
        );
    });
    drop(rt);
    let _ = cluster.drop_database(&db);
}

#[test]
fn xml_and_text_search_types() {
    run(|client| async move {
        echo(
            &client,
            "xml",
            String::from("<a b=\"é\">x</a>"),
            "<a b=\"é\">x</a>",
        )
        .await;
        assert_eq!(
            read::<String>(&client, "'a fat cat'::tsvector").await,
            "'a' 'cat' 'fat'"
        );
        assert_eq!(
            read::<String>(&client, "to_tsquery('simple', 'fat & !rat')").await,
            "'fat' & !'rat'"
        );
        let row = client
            .query_one("SELECT 'x y'::tsvector, '<r/>'::xml", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<&str, _>(0), "'x' 'y'");
        assert_eq!(row.get::<&str, _>(1), "<r/>");
        // xml[] is sent as an array of xml texts.
        let row = client
            .query_one("SELECT $1::xml[]::text", &[&vec!["<a/>", "<b>t</b>"]])
            .await
            .unwrap();
        assert_eq!(row.get::<&str, _>(0), "{<a/>,<b>t</b>}");
        // xml is read in binary (its text), so xml[] is readable, declarations and
        // attributes in quotes included.
        let row = client
            .query_one(
                "SELECT ARRAY['<a x=\"1\"/>', '<?xml version=\"1.0\"?><b>é</b>']::xml[],                  '<?xml version=\"1.0\"?><c/>'::xml,                  '<?xml version=\"1.0\"?><c/>'::xml::text",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.columns()[0].format(), apg::Format::Binary);
        let xmls: Vec<String> = row.get(0);
        assert_eq!(xmls[0], r#"<a x="1"/>"#);
        assert!(xmls[1].ends_with("<b>é</b>"), "{}", xmls[1]);
        // In binary the server leaves out a declaration that says no more than
        // version 1.0 (`xml_send`); the text output keeps it.
        assert_eq!(row.get::<&str, _>(1), "<c/>");
        assert_eq!(row.get::<&str, _>(2), r#"<?xml version="1.0"?><c/>"#);
        // tsvector[] and tsquery[] come as text arrays.
        let row = client
            .query_one(
                "SELECT ARRAY['a b'::tsvector, NULL, 'c'::tsvector], \
                 ARRAY[to_tsquery('simple', 'x & y')]",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.columns()[0].format(), apg::Format::Text);
        assert_eq!(
            row.get::<Vec<Option<String>>, _>(0),
            [Some("'a' 'b'".to_owned()), None, Some("'c'".to_owned())]
        );
        assert_eq!(row.get::<Vec<&str>, _>(1), ["'x' & 'y'"]);
        // tsvector's binary format is not text: a string is not sent as one.
        let e = client
            .query("SELECT $1::tsvector", &[&"a b"])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        // Malformed xml is the server's error, not garbage stored.
        assert!(client.query("SELECT $1::xml", &[&"<a>"]).await.is_err());
    });
}

#[test]
fn interval_text_matches_the_server() {
    use apg::types::{Date, Interval, Time, TimeTz, Timestamp, TimestampTz};

    run(|client| async move {
        // The extremes print only from PostgreSQL 15 (older servers report "interval
        // out of range" in the text output).
        let extremes = client.server_version_num().unwrap_or(0) >= 150_000;
        let edges: Vec<Interval> = [
            Interval::new(0, 0, 0),
            Interval::new(0, 0, -1_000_000),
            Interval::new(14, 3, 14_706_500_000),
            Interval::new(-14, 0, 0),
            Interval::new(0, -1, 3_600_000_000),
            Interval::new(-1, 2, -1),
            Interval::new(12, -3, 0),
            Interval::new(0, 0, 90_000_000_000),
            Interval::new(1, 1, 1),
            Interval::new(i32::MAX, i32::MAX, i64::MAX - 1),
            Interval::new(i32::MIN + 1, i32::MIN + 1, i64::MIN + 1),
            Interval::new(-11, 0, 59_999_999),
        ]
        .into_iter()
        .filter(|iv| extremes || iv.months.unsigned_abs() < 1_000_000)
        .collect();
        for &iv in &edges {
            echo(&client, "interval", iv, &iv.to_string()).await;
        }
        client
            .execute("SET intervalstyle = iso_8601", &[])
            .await
            .unwrap();
        for &iv in &edges {
            let text: String = client
                .query_scalar("SELECT $1::interval::text", &[&iv])
                .await
                .unwrap();
            assert_eq!(text.parse::<Interval>(), Ok(iv), "{text}");
        }
        client.execute("RESET intervalstyle", &[]).await.unwrap();
        // The other types' ISO output parses back to the value sent.
        client
            .execute("SET timezone = 'Asia/Kolkata'", &[])
            .await
            .unwrap();
        for micros in [0, -1, 1_234_567_890_123, -63_000_000_000_000_000] {
            let ts = Timestamp::from_pg_micros(micros);
            let tz = TimestampTz::from_pg_micros(micros);
            let row = client
                .query_one(
                    "SELECT $1::timestamp::text, $2::timestamptz::text",
                    &[&ts, &tz],
                )
                .await
                .unwrap();
            assert_eq!(row.get::<&str, _>(0).parse(), Ok(ts));
            assert_eq!(
                row.get::<&str, _>(1).parse(),
                Ok(tz),
                "{}",
                row.get::<&str, _>(1)
            );
        }
        let date: String = client
            .query_scalar("SELECT '0044-03-15 BC'::date::text", &[])
            .await
            .unwrap();
        assert_eq!(date.parse(), Ok(Date::from_ymd(-43, 3, 15).unwrap()));
        let t = TimeTz::new(
            Time::from_hms_micro(9, 30, 0, 5).unwrap(),
            -(3 * 3600 + 1800),
        )
        .unwrap();
        let text: String = client
            .query_scalar("SELECT $1::timetz::text", &[&t])
            .await
            .unwrap();
        assert_eq!(text.parse(), Ok(t), "{text}");
    });
}
