//! Types that are not built in, live: enums, composites, domains, user-defined ranges
//! and multiranges looked up in the catalog, `reload_schema_state`, the statement cache
//! off, and an extension's type with a format chosen by `set_type_format`.
//!
//! Each test creates its own types under unique names, so the tests run in parallel.

mod support;

use std::future::Future;
use std::ops::Bound;
use std::sync::atomic::{AtomicU32, Ordering};

use apg::types::{FromSql, IsNull, Kind, Multirange, Range, Record, ToSql, Type, ValueError};
use apg::{Client, Config, ErrorKind, Format};
use bytes::{BufMut, BytesMut};

/// Builds a tokio runtime, connects with `config` changed by `configure`, runs `body`.
fn run_with<C, F, Fut>(configure: C, body: F)
where
    C: FnOnce(&mut Config),
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let (rt, runtime) = support::runtime();
    rt.block_on(async move {
        let server = apg_testkit::server().expect("a PostgreSQL server to test against");
        let mut config: Config = server.url().parse().expect("the test URL parses");
        configure(&mut config);
        let client = Client::connect(&config, runtime)
            .await
            .expect("connect to the test server");
        body(client).await;
    });
}

fn run<F, Fut>(body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    run_with(|_| {}, body);
}

/// A type name no other test (or test process) uses.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn text(client: &Client, sql: &str) -> String {
    client.query_scalar(sql, &[]).await.expect(sql)
}

#[test]
fn enums_are_strings() {
    run(|client| async move {
        let mood = unique("mood");
        client
            .batch_execute(&format!(
                "CREATE TYPE {mood} AS ENUM ('sad', 'ok', 'happy')"
            ))
            .await
            .unwrap();
        let sql = format!(
            "SELECT 'ok'::{mood} AS m, ARRAY['sad', 'happy']::{mood}[] AS ms, \
             NULL::{mood} AS n"
        );
        let row = client.query_one(&sql, &[]).await.unwrap();
        assert_eq!(row.get::<String, _>("m"), "ok");
        assert_eq!(row.get::<&str, _>("m"), "ok");
        assert_eq!(row.get::<Vec<String>, _>("ms"), ["sad", "happy"]);
        assert_eq!(row.get::<Option<String>, _>("n"), None);
        let ty = row.columns()[0].type_();
        assert_eq!(ty.name(), Some(mood.as_str()));
        assert_eq!(ty.schema(), Some("public"));
        match ty.kind() {
            Kind::Enum(labels) => assert_eq!(&*labels, ["sad", "ok", "happy"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(row.columns()[0].format(), Format::Binary);
        assert_eq!(row.columns()[1].format(), Format::Binary);
        // The server's own rendering of the same values.
        assert_eq!(
            text(
                &client,
                &format!("SELECT ARRAY['sad', 'happy']::{mood}[]::text")
            )
            .await,
            "{sad,happy}"
        );
        // Parameters of an enum type: a string, and an array of strings.
        let statement = client
            .prepare(&format!(
                "SELECT $1::{mood}::text, $2::{mood}[]::text, $1 = 'happy'::{mood}"
            ))
            .await
            .unwrap();
        assert_eq!(statement.params()[0].name(), Some(mood.as_str()));
        let row = client
            .query_one(&statement, &[&"happy", &vec!["ok".to_string()]])
            .await
            .unwrap();
        assert_eq!(row.get::<&str, _>(0), "happy");
        assert_eq!(row.get::<&str, _>(1), "{ok}");
        assert!(row.get::<bool, _>(2));
        // A label that does not exist is the server's error.
        let e = client
            .query_one(&statement, &[&"angry", &Vec::<String>::new()])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Db);
    });
}

#[test]
fn composites_are_records() {
    run(|client| async move {
        let address = unique("address");
        let person = unique("person");
        client
            .batch_execute(&format!(
                "CREATE TYPE {address} AS (street text, zip int4); \
                 CREATE TYPE {person} AS (name text, home {address}, past {address}[])"
            ))
            .await
            .unwrap();
        let value = format!(
            "ROW('ann', ROW('Main St', 12345)::{address}, \
             ARRAY[ROW(NULL, 1)::{address}, ROW('Elm', NULL)::{address}])::{person}"
        );
        let row = client
            .query_one(&format!("SELECT {value} AS p, ({value})::text"), &[])
            .await
            .unwrap();
        assert_eq!(row.columns()[0].format(), Format::Binary);
        let p: Record = row.get("p");
        assert_eq!(p.len(), 3);
        assert_eq!(p.field_name(0), Some("name"));
        assert_eq!(p.get::<&str, _>("name"), Ok("ann"));
        let home: Record = p.get("home").unwrap();
        assert_eq!(home.get::<&str, _>("street"), Ok("Main St"));
        assert_eq!(home.get::<i32, _>("zip"), Ok(12_345));
        let past: Vec<Record> = p.get("past").unwrap();
        assert_eq!(past.len(), 2);
        assert_eq!(past[0].get::<Option<String>, _>("street"), Ok(None));
        assert_eq!(past[0].get::<i32, _>(1), Ok(1));
        assert_eq!(past[1].get::<&str, _>(0), Ok("Elm"));
        assert_eq!(past[1].get::<Option<i32>, _>("zip"), Ok(None));
        assert_eq!(
            row.get::<&str, _>(1),
            "(ann,\"(\"\"Main St\"\",12345)\",\"{\"\"(,1)\"\",\"\"(Elm,)\"\"}\")"
        );
        // An anonymous record: fields by position, typed by the value.
        let r: Record = client
            .query_scalar("SELECT ROW(7, 'x'::text, NULL::int8)", &[])
            .await
            .unwrap();
        assert_eq!(r.get::<i32, _>(0), Ok(7));
        assert_eq!(r.get::<&str, _>(1), Ok("x"));
        assert_eq!(r.get::<Option<i64>, _>(2), Ok(None));
        assert_eq!(r.field_name(0), None);
        // A record sent as a parameter of its type, built from the described type.
        let statement = client
            .prepare(&format!("SELECT $1::{address}::text"))
            .await
            .unwrap();
        let ty = statement.params()[0].clone();
        let sent = Record::from_values(&ty, &[&"Oak", &None::<i32>]).unwrap();
        let echoed: String = client.query_scalar(&statement, &[&sent]).await.unwrap();
        assert_eq!(echoed, "(Oak,)");
        // A table's row type is a composite type too.
        let table = unique("tbl");
        client
            .batch_execute(&format!(
                "CREATE TEMP TABLE {table} (id int4, tags text[]); \
                 INSERT INTO {table} VALUES (1, '{{a,b}}')"
            ))
            .await
            .unwrap();
        let r: Record = client
            .query_scalar(&format!("SELECT t FROM {table} t"), &[])
            .await
            .unwrap();
        assert_eq!(
            r.get::<Vec<String>, _>("tags"),
            Ok(vec!["a".into(), "b".into()])
        );
    });
}

#[test]
fn domains_travel_as_their_base_type() {
    run(|client| async move {
        let posint = unique("posint");
        let email = unique("email");
        client
            .batch_execute(&format!(
                "CREATE DOMAIN {posint} AS int4 CHECK (VALUE > 0); \
                 CREATE DOMAIN {email} AS text CHECK (VALUE LIKE '%@%')"
            ))
            .await
            .unwrap();
        let row = client
            .query_one(
                &format!(
                    "SELECT 5::{posint}, 'a@b'::{email}, ARRAY[1, 2]::{posint}[], \
                     ARRAY[1, 2]::{posint}[]::text"
                ),
                &[],
            )
            .await
            .unwrap();
        // The server reports a domain column as its base type; an array of a domain
        // is a type of its own, described with the domain as its element.
        assert_eq!(row.columns()[0].type_(), &Type::INT4);
        let element = row.columns()[2].type_().element().unwrap();
        assert_eq!(element.name(), Some(posint.as_str()));
        assert_eq!(element.domain_base(), Some(&Type::INT4));
        assert_eq!(row.get::<i32, _>(0), 5);
        assert_eq!(row.get::<i64, _>(0), 5);
        assert_eq!(row.get::<&str, _>(1), "a@b");
        assert_eq!(row.get::<Vec<i32>, _>(2), [1, 2]);
        assert_eq!(row.get::<&str, _>(3), "{1,2}");
        // Parameters of domain types.
        let statement = client
            .prepare(&format!("SELECT $1::{posint} + 1, $2::{email}"))
            .await
            .unwrap();
        assert_eq!(statement.params()[0].domain_base(), Some(&Type::INT4));
        let row = client
            .query_one(&statement, &[&41i32, &"x@y"])
            .await
            .unwrap();
        assert_eq!(row.get::<i32, _>(0), 42);
        assert_eq!(row.get::<&str, _>(1), "x@y");
        // The domain's check is the server's.
        let e = client
            .query_one(&statement, &[&-1i32, &"x@y"])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Db);
        let e = client
            .query_one(&statement, &[&"1", &"x@y"])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
    });
}

#[test]
fn ranges_and_multiranges() {
    run(|client| async move {
        let floatrange = unique("floatrange");
        let floatmulti = unique("floatmulti");
        if client.server_version_num().unwrap_or(0) < 140_000 {
            // No multiranges before PostgreSQL 14: a user-defined range alone.
            client
                .batch_execute(&format!(
                    "CREATE TYPE {floatrange} AS RANGE (subtype = float8)"
                ))
                .await
                .unwrap();
            let row = client
                .query_one(
                    &format!("SELECT '[1.5,2.5)'::{floatrange}, $1::{floatrange}::text"),
                    &[&Range::new(Bound::Excluded(0.25f64), Bound::Unbounded)],
                )
                .await
                .unwrap();
            assert_eq!(
                row.get::<Range<f64>, _>(0),
                Range::new(Bound::Included(1.5), Bound::Excluded(2.5))
            );
            assert_eq!(row.get::<&str, _>(1), "(0.25,)");
            return;
        }
        client
            .batch_execute(&format!(
                "CREATE TYPE {floatrange} AS RANGE (subtype = float8, \
                 multirange_type_name = {floatmulti})"
            ))
            .await
            .unwrap();
        let row = client
            .query_one(
                &format!(
                    "SELECT '[1.5,2.5)'::{floatrange}, '{{[1,2), [3,)}}'::{floatmulti}, \
                     '{{[1,3), [5,7]}}'::int4multirange, '{{}}'::datemultirange, \
                     '{{[1,2), [3,)}}'::{floatmulti}::text"
                ),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            row.get::<Range<f64>, _>(0),
            Range::new(Bound::Included(1.5), Bound::Excluded(2.5))
        );
        assert_eq!(
            row.get::<Multirange<f64>, _>(1),
            Multirange::new(vec![
                Range::new(Bound::Included(1.0), Bound::Excluded(2.0)),
                Range::new(Bound::Included(3.0), Bound::Unbounded),
            ])
        );
        assert_eq!(
            row.get::<Multirange<i32>, _>(2),
            Multirange::new(vec![
                Range::new(Bound::Included(1), Bound::Excluded(3)),
                Range::new(Bound::Included(5), Bound::Excluded(8)),
            ])
        );
        assert!(row.get::<Multirange<apg::types::Date>, _>(3).is_empty());
        assert_eq!(row.get::<&str, _>(4), "{[1,2),[3,)}");
        // Both directions: the server normalizes what it receives.
        let sent = Multirange::new(vec![
            Range::new(Bound::Included(5i64), Bound::Excluded(7)),
            Range::new(Bound::Included(1), Bound::Excluded(3)),
            Range::new(Bound::Included(2), Bound::Excluded(4)),
        ]);
        let row = client
            .query_one(
                &format!(
                    "SELECT $1::int8multirange::text, $2::{floatmulti}, $3::{floatrange}::text"
                ),
                &[
                    &sent,
                    &Multirange::new(vec![Range::new(Bound::Unbounded, Bound::Included(0.5f64))]),
                    &Range::new(Bound::Excluded(0.25f64), Bound::Unbounded),
                ],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<&str, _>(0), "{[1,4),[5,7)}");
        assert_eq!(
            row.get::<Multirange<f64>, _>(1),
            Multirange::new(vec![Range::new(Bound::Unbounded, Bound::Included(0.5))])
        );
        assert_eq!(row.get::<&str, _>(2), "(0.25,)");
    });
}

#[test]
fn reload_schema_state_sees_altered_types() {
    run(|client| async move {
        let mood = unique("mood");
        let pair = unique("pair");
        let table = unique("pairs");
        client
            .batch_execute(&format!(
                "CREATE TYPE {mood} AS ENUM ('sad'); \
                 CREATE TYPE {pair} AS (a int4, b int4); \
                 CREATE TABLE {table} (v {pair}); \
                 INSERT INTO {table} VALUES (ROW(1, 2))"
            ))
            .await
            .unwrap();
        let labels = |s: &apg::Statement| match s.columns()[0].type_().kind() {
            Kind::Enum(labels) => labels.len(),
            other => panic!("{other:?}"),
        };
        let enum_sql = format!("SELECT 'sad'::{mood}");
        let statement = client.prepare(&enum_sql).await.unwrap();
        assert_eq!(labels(&statement), 1);
        client
            .batch_execute(&format!("ALTER TYPE {mood} ADD VALUE 'happy'"))
            .await
            .unwrap();
        // Still what the connection learned before.
        assert_eq!(labels(&client.prepare(&enum_sql).await.unwrap()), 1);
        client.reload_schema_state();
        assert_eq!(labels(&client.prepare(&enum_sql).await.unwrap()), 2);
        let happy: String = client
            .query_scalar(&format!("SELECT 'happy'::{mood}"), &[])
            .await
            .unwrap();
        assert_eq!(happy, "happy");

        let select = format!("SELECT v FROM {table}");
        let r: Record = client.query_scalar(&select, &[]).await.unwrap();
        assert_eq!(r.len(), 2);
        client
            .batch_execute(&format!("ALTER TYPE {pair} ADD ATTRIBUTE c text"))
            .await
            .unwrap();
        // The value now has a field the old description lacks.
        let stale = client.query_scalar::<Record, _>(&select, &[]).await;
        assert_eq!(stale.unwrap_err().kind(), ErrorKind::Conversion);
        client.reload_schema_state();
        let r: Record = client.query_scalar(&select, &[]).await.unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r.field_name(2), Some("c"));
        assert_eq!(r.get::<i32, _>("b"), Ok(2));
        assert_eq!(r.get::<Option<String>, _>("c"), Ok(None));
        client
            .batch_execute(&format!("DROP TABLE {table}"))
            .await
            .unwrap();
    });
}

#[test]
fn with_the_statement_cache_off() {
    run_with(
        |config| config.statement_cache_capacity = 0,
        |client| async move {
            let mood = unique("mood");
            let address = unique("address");
            client
                .batch_execute(&format!(
                    "CREATE TYPE {mood} AS ENUM ('sad', 'happy'); \
                     CREATE TYPE {address} AS (street text, zip int4)"
                ))
                .await
                .unwrap();
            let rows = client
                .query(
                    &format!(
                        "SELECT 'happy'::{mood} AS m, ROW('Main', n)::{address} AS a \
                         FROM generate_series(1, 2) n"
                    ),
                    &[],
                )
                .await
                .unwrap();
            assert_eq!(rows.len(), 2);
            for (i, row) in rows.iter().enumerate() {
                assert_eq!(row.columns()[0].type_().name(), Some(mood.as_str()));
                assert_eq!(row.get::<&str, _>("m"), "happy");
                let a: Record = row.get("a");
                assert_eq!(a.get::<&str, _>("street"), Ok("Main"));
                assert_eq!(a.get::<i64, _>("zip"), Ok(i as i64 + 1));
            }
            assert!(std::ptr::eq(
                rows[0].columns().as_ptr(),
                rows[1].columns().as_ptr()
            ));
            // A single row (kept without a vector) is described as well.
            let row = client
                .query_one(&format!("SELECT 'sad'::{mood} AS m"), &[])
                .await
                .unwrap();
            assert_eq!(row.columns()[0].type_().name(), Some(mood.as_str()));
            assert_eq!(row.get::<&str, _>("m"), "sad");
            // Prepared with the cache off: the statement's types are described too.
            let statement = client.prepare(&format!("SELECT $1::{mood}")).await.unwrap();
            let m: String = client.query_scalar(&statement, &[&"sad"]).await.unwrap();
            assert_eq!(m, "sad");
            // Its result formats apply: a type read in text stays text.
            let statement = client
                .prepare("SELECT 'a b'::tsvector, 1::int4")
                .await
                .unwrap();
            let row = client.query_one(&statement, &[]).await.unwrap();
            assert_eq!(row.columns()[0].format(), Format::Text);
            assert_eq!(row.raw(0), Some(&b"'a' 'b'"[..]));
            assert_eq!(row.get::<i32, _>(1), 1);
            // A row stream's columns are described too.
            let sql = format!("SELECT 'sad'::{mood} AS m FROM generate_series(1, 3)");
            let mut stream = client.query_stream(sql.as_str(), &[]).await.unwrap();
            let mut moods = Vec::new();
            while let Some(row) = futures_util::StreamExt::next(&mut stream).await {
                moods.push(row.unwrap().get::<String, _>("m"));
            }
            assert_eq!(moods, ["sad"; 3]);
            assert_eq!(client.__stats().statements_prepared, 0);
        },
    );
}

#[test]
fn inside_a_transaction_and_a_wrong_rust_type() {
    run(|client| async move {
        let mood = unique("mood");
        let tx = client.transaction().await.unwrap();
        // A type created in the open transaction is looked up inside it.
        tx.batch_execute(&format!("CREATE TYPE {mood} AS ENUM ('sad', 'happy')"))
            .await
            .unwrap();
        let row = tx
            .query_one(&format!("SELECT 'sad'::{mood} AS feeling"), &[])
            .await
            .unwrap();
        assert_eq!(row.get::<&str, _>(0), "sad");
        let e = row.try_get::<i32, _>("feeling").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        let message = e.to_string();
        for part in ["feeling", mood.as_str(), "i32"] {
            assert!(message.contains(part), "{message:?} names {part}");
        }
        tx.rollback().await.unwrap();

        // In an aborted transaction a statement using a new type fails with the
        // server's error; nothing waits on the lookup.
        let other = unique("mood");
        let tx = client.transaction().await.unwrap();
        tx.batch_execute(&format!("CREATE TYPE {other} AS ENUM ('a')"))
            .await
            .unwrap();
        assert!(tx.batch_execute("SELECT 1/0").await.is_err());
        let e = tx
            .query_one(&format!("SELECT 'a'::{other}"), &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Db);
        tx.rollback().await.unwrap();
        assert_eq!(
            client
                .query_scalar::<i32, _>("SELECT 1", &[])
                .await
                .unwrap(),
            1
        );
    });
}

/// An `ltree` label path, read in the format `set_type_format` chose: binary is a
/// version byte (1) then the path's text; text is the path.
#[derive(Debug, PartialEq)]
struct LabelPath(String);

impl LabelPath {
    fn parse(ty: &Type, text: &[u8]) -> Result<Self, ValueError> {
        std::str::from_utf8(text)
            .map(|p| Self(p.to_owned()))
            .map_err(|_| ValueError::malformed::<Self>(ty, "not UTF-8"))
    }
}

impl FromSql<'_> for LabelPath {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        match raw.split_first() {
            Some((1, path)) => Self::parse(ty, path),
            _ => Err(ValueError::malformed::<Self>(ty, "unknown ltree version")),
        }
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        Self::parse(ty, raw)
    }

    fn accepts(ty: &Type) -> bool {
        ty.name() == Some("ltree")
    }
}

impl ToSql for LabelPath {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        out.put_u8(1);
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        ty.name() == Some("ltree")
    }

    fn natural_type() -> Type {
        Type::UNSPECIFIED
    }
}

#[test]
fn extension_types_with_a_chosen_format() {
    let server = apg_testkit::server().expect("a PostgreSQL server to test against");
    // A database of its own: extensions are per database, and parallel tests must not
    // race to create it.
    let db = server.create_database().expect("a database for the test");
    let url = server.url_for(&db);
    run_with(
        |config| *config = url.parse().expect("the test URL parses"),
        |client| async move {
            client
                .batch_execute(
                    "CREATE EXTENSION IF NOT EXISTS ltree; \
                     CREATE TYPE tagged AS (id int4, path ltree)",
                )
                .await
                .unwrap();
            let sql = "SELECT subpath($1, 1), ARRAY['a.b', 'c']::ltree[], $1::text, \
                       ROW(7, 'p.q')::tagged";
            // Unchosen: text.
            let row = client
                .query_one(sql, &[&LabelPath("x.y.z".into())])
                .await
                .unwrap();
            assert_eq!(row.columns()[0].format(), Format::Text);
            assert_eq!(row.columns()[0].type_().name(), Some("ltree"));
            assert_eq!(row.get::<LabelPath, _>(0), LabelPath("y.z".into()));
            assert_eq!(row.get::<&str, _>(2), "x.y.z");
            // A composite is read in binary (`record_send` sends every field type in
            // binary), unless text was chosen for a field's type.
            assert_eq!(row.columns()[3].format(), Format::Binary);
            let tagged: Record = row.get(3);
            assert_eq!(tagged.get::<i32, _>("id"), Ok(7));
            assert_eq!(
                tagged.get::<LabelPath, _>("path"),
                Ok(LabelPath("p.q".into()))
            );
            // Chosen (schema-qualified): binary, for arrays of it too.
            client.set_type_format("public.ltree", Format::Binary);
            let row = client
                .query_one(sql, &[&LabelPath("x.y.z".into())])
                .await
                .unwrap();
            assert_eq!(row.columns()[0].format(), Format::Binary);
            assert_eq!(row.columns()[1].format(), Format::Binary);
            assert_eq!(row.get::<LabelPath, _>(0), LabelPath("y.z".into()));
            assert_eq!(
                row.get::<Vec<LabelPath>, _>(1),
                [LabelPath("a.b".into()), LabelPath("c".into())]
            );
            assert_eq!(row.columns()[3].format(), Format::Binary);
            let tagged: Record = row.get(3);
            assert_eq!(
                tagged.get::<LabelPath, _>("path"),
                Ok(LabelPath("p.q".into()))
            );
            // Text chosen: the composite holding it is read in text too.
            client.set_type_format("ltree", Format::Text);
            let row = client
                .query_one(sql, &[&LabelPath("x.y.z".into())])
                .await
                .unwrap();
            assert_eq!(row.columns()[0].format(), Format::Text);
            assert_eq!(row.columns()[3].format(), Format::Text);
            let tagged: Record = row.get(3);
            assert_eq!(tagged.get::<i32, _>("id"), Ok(7));
            assert_eq!(
                tagged.get::<LabelPath, _>("path"),
                Ok(LabelPath("p.q".into()))
            );
        },
    );
    server.drop_database(&db).expect("drop the test database");
}

#[test]
fn concurrent_first_uses_and_row_streams() {
    use futures_util::StreamExt;

    run(|client| async move {
        let mood = unique("mood");
        let shape = unique("shape");
        client
            .batch_execute(&format!(
                "CREATE TYPE {mood} AS ENUM ('sad', 'happy'); \
                 CREATE TYPE {shape} AS ENUM ('round', 'square')"
            ))
            .await
            .unwrap();
        // Pipelined first uses of statements that each need a lookup.
        let a = format!("SELECT 'sad'::{mood}, 'round'::{shape}");
        let b = format!("SELECT ARRAY['square']::{shape}[], 'happy'::{mood}");
        let (ra, rb) = futures_util::join!(client.query_one(&a, &[]), client.query_one(&b, &[]));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.get::<&str, _>(1), "round");
        assert_eq!(rb.get::<Vec<String>, _>(0), ["square"]);
        assert_eq!(rb.get::<&str, _>(1), "happy");
        // A row stream holds the connection while it runs; its statement's types are
        // looked up first.
        let fresh = unique("fresh");
        client
            .batch_execute(&format!("CREATE TYPE {fresh} AS ENUM ('x', 'y')"))
            .await
            .unwrap();
        let stream = client
            .query_stream_with_fetch_size(
                &format!(
                    "SELECT (ARRAY['x', 'y']::{fresh}[])[1 + n % 2] FROM generate_series(0, 5) n"
                ),
                &[],
                2,
            )
            .await
            .unwrap();
        let labels: Vec<String> = stream
            .map(|row| row.unwrap().get::<String, _>(0))
            .collect()
            .await;
        assert_eq!(labels, ["x", "y", "x", "y", "x", "y"]);
    });
}

#[test]
fn a_failed_lookup_fails_the_statement() {
    let server = apg_testkit::server().expect("a PostgreSQL server to test against");
    let Some(user) = server.user(apg_testkit::AuthMethod::Trust) else {
        eprintln!("skipped: needs a testkit cluster");
        return;
    };
    // A database where the catalog of enum labels cannot be read by ordinary users:
    // the lookup fails, and so does the statement that needed it.
    let db = server
        .cluster()
        .expect("a testkit cluster")
        .create_database_owned_by(user.name())
        .expect("a database for the test");
    server
        .execute_in(&db, "REVOKE SELECT ON pg_catalog.pg_enum FROM PUBLIC")
        .expect("revoke");
    let url = user.url_for(&db);
    run_with(
        |config| *config = url.parse().expect("the test URL parses"),
        |client| async move {
            client
                .batch_execute("CREATE TYPE mood AS ENUM ('sad')")
                .await
                .unwrap();
            let e = client
                .query_one("SELECT 'sad'::mood", &[])
                .await
                .unwrap_err();
            assert_eq!(
                e.as_db_error().map(apg::DbError::code),
                Some(apg::SqlState::InsufficientPrivilege),
                "{e}"
            );
            // Nothing is left half done: the connection goes on.
            assert_eq!(
                client
                    .query_scalar::<i32, _>("SELECT 1", &[])
                    .await
                    .unwrap(),
                1
            );
        },
    );
    server.drop_database(&db).expect("drop the test database");
}
