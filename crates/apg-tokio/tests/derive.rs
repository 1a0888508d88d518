//! `#[derive(FromRow, ToSql, FromSql)]` and `query_as` against a real server.
//!
//! Enums and composites are recognised by the description of their type the client
//! reads from the catalog; the tests that need it are marked as such. Their types are
//! created in a schema of their own per test (the Rust side names the type, not the
//! schema), so tests run in parallel.

mod support;

use std::future::Future;
use std::sync::Arc;

use apg::{Client, ErrorKind, FromRow, FromSql, Pool, ToSql};

#[allow(unreachable_pub)]
#[path = "../../apg/tests/common/mod.rs"]
mod common;

use common::unique_name;

/// Builds a tokio runtime, connects to the test server and runs `body`.
fn run<F, Fut>(body: F)
where
    F: FnOnce(Arc<dyn apg::Runtime>, Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let (rt, runtime) = support::runtime();
    rt.block_on(async move {
        let client = common::connect(&runtime).await;
        body(runtime, client).await;
    });
}

#[derive(Debug, PartialEq, Default, FromRow)]
struct Audit {
    created_by: String,
    #[apg(default)]
    revision: i32,
}

#[derive(Debug, PartialEq, FromRow)]
#[apg(rename_all = "camelCase")]
struct User {
    user_id: i64,
    #[apg(rename = "mail")]
    email: Option<String>,
    #[apg(flatten)]
    audit: Audit,
    #[apg(default)]
    nick_name: Option<String>,
}

#[derive(Debug, PartialEq, FromRow)]
struct Pair(i32, Option<String>);

/// Generic: the bounds are the fields' own.
#[derive(Debug, PartialEq, FromRow)]
struct Page<T, N> {
    #[apg(flatten)]
    item: T,
    total: N,
}

#[test]
fn from_row_by_name() {
    run(|_, client| async move {
        client
            .batch_execute(
                r#"CREATE TEMP TABLE users ("userId" int8, mail text, created_by text, revision int4);
                   INSERT INTO users VALUES (1, 'a@example.org', 'ada', 3), (2, NULL, 'bob', 1)"#,
            )
            .await
            .unwrap();
        let users: Vec<User> = client
            .query_as("SELECT * FROM users ORDER BY 1", &[])
            .await
            .unwrap();
        assert_eq!(
            users,
            [
                User {
                    user_id: 1,
                    email: Some("a@example.org".into()),
                    audit: Audit {
                        created_by: "ada".into(),
                        revision: 3
                    },
                    nick_name: None,
                },
                User {
                    user_id: 2,
                    email: None,
                    audit: Audit {
                        created_by: "bob".into(),
                        revision: 1
                    },
                    nick_name: None,
                },
            ]
        );

        // `default`: the columns are missing, not NULL.
        let user: User = client
            .query_one_as(
                r#"SELECT 7::int8 AS "userId", NULL::text AS mail, 'eve' AS created_by,
                          'e' AS "nickName""#,
                &[],
            )
            .await
            .unwrap();
        assert_eq!(user.audit.revision, 0);
        assert_eq!(user.nick_name.as_deref(), Some("e"));

        let page: Page<Audit, i64> = client
            .query_one_as("SELECT 'ada' AS created_by, 9::int8 AS total", &[])
            .await
            .unwrap();
        assert_eq!(
            page,
            Page {
                item: Audit {
                    created_by: "ada".into(),
                    revision: 0
                },
                total: 9
            }
        );

        let none: Option<User> = client
            .query_opt_as("SELECT * FROM users WHERE false", &[])
            .await
            .unwrap();
        assert_eq!(none, None);
        let some: Option<Audit> = client
            .query_opt_as(
                "SELECT created_by FROM users WHERE \"userId\" = $1",
                &[&2i64],
            )
            .await
            .unwrap();
        assert_eq!(
            some,
            Some(Audit {
                created_by: "bob".into(),
                revision: 0
            })
        );
    });
}

#[test]
fn from_row_errors_name_the_column() {
    run(|_, client| async move {
        let e = client
            .query_one_as::<Audit, _>("SELECT 1 AS revision", &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Column);
        assert!(e.to_string().contains("created_by"), "{e}");

        // NULL for a field that is not an Option.
        let e = client
            .query_one_as::<Audit, _>("SELECT NULL::text AS created_by", &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        let message = format!("{e} {:?}", std::error::Error::source(&e));
        assert!(message.contains("created_by"), "{message}");
        assert!(message.contains("String"), "{message}");

        // A value of another type.
        let e = client
            .query_one_as::<Audit, _>("SELECT 'x' AS created_by, 'y' AS revision", &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        let message = format!("{e} {:?}", std::error::Error::source(&e));
        assert!(message.contains("revision"), "{message}");
        assert!(message.contains("i32"), "{message}");

        // query_one_as still wants exactly one row.
        let e = client
            .query_one_as::<Audit, _>("SELECT 'x' AS created_by WHERE false", &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RowCount);
    });
}

#[test]
fn tuples_and_tuple_structs_by_position() {
    run(|_, client| async move {
        let rows: Vec<(i32, String, Option<i64>)> = client
            .query_as(
                "SELECT i, 'n' || i, NULLIF(i, 2)::int8 FROM generate_series(1, 3) i",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, "n1".to_owned(), Some(1)),
                (2, "n2".to_owned(), None),
                (3, "n3".to_owned(), Some(3))
            ]
        );
        let (one,): (bool,) = client.query_one_as("SELECT true", &[]).await.unwrap();
        assert!(one);
        let wide: (i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32) = client
            .query_one_as("SELECT 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12", &[])
            .await
            .unwrap();
        assert_eq!(wide.11, 12);

        let e = client
            .query_one_as::<(i32, i32), _>("SELECT 1, 2, 3", &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Column);
        let e = client
            .query_one_as::<(i32, i32), _>("SELECT 1", &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Column);

        let pair: Pair = client
            .query_one_as("SELECT 4, NULL::text", &[])
            .await
            .unwrap();
        assert_eq!(pair, Pair(4, None));
    });
}

#[test]
fn query_as_in_transactions_and_pools() {
    run(|runtime, client| async move {
        let tx = client.transaction().await.unwrap();
        let rows: Vec<(i64,)> = tx.query_as("SELECT 5::int8", &[]).await.unwrap();
        assert_eq!(rows, [(5,)]);
        let one: (String,) = tx.query_one_as("SELECT 'a'", &[]).await.unwrap();
        assert_eq!(one.0, "a");
        let none: Option<(i32,)> = tx.query_opt_as("SELECT 1 WHERE false", &[]).await.unwrap();
        assert_eq!(none, None);
        tx.rollback().await.unwrap();

        let pool = Pool::builder(common::test_config())
            .max_size(1)
            .build(runtime)
            .unwrap();
        let rows: Vec<Pair> = pool
            .query_as("SELECT 1, 'x' UNION ALL SELECT 2, NULL ORDER BY 1", &[])
            .await
            .unwrap();
        assert_eq!(rows, [Pair(1, Some("x".into())), Pair(2, None)]);
        let pair: Pair = pool.query_one_as("SELECT 3, 'y'", &[]).await.unwrap();
        assert_eq!(pair, Pair(3, Some("y".into())));
        let none: Option<Pair> = pool
            .query_opt_as("SELECT 3, 'y' WHERE false", &[])
            .await
            .unwrap();
        assert_eq!(none, None);
        // Through a pooled connection, which is a Client.
        let conn = pool.acquire().await.unwrap();
        let rows: Vec<(i32,)> = conn.query_as("SELECT 9", &[]).await.unwrap();
        assert_eq!(rows, [(9,)]);
        drop(conn);
        pool.close().await;
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSql, FromSql)]
struct UserId(i64);

#[derive(Debug, PartialEq, FromRow)]
struct Account {
    id: UserId,
    owner: Option<UserId>,
}

#[test]
fn newtypes_are_their_inner_type() {
    run(|_, client| async move {
        let id: UserId = client
            .query_scalar("SELECT $1::int8 + 1", &[&UserId(41)])
            .await
            .unwrap();
        assert_eq!(id, UserId(42));
        let account: Account = client
            .query_one_as("SELECT 1::int8 AS id, NULL::int8 AS owner", &[])
            .await
            .unwrap();
        assert_eq!(
            account,
            Account {
                id: UserId(1),
                owner: None
            }
        );
        let e = client
            .query_scalar::<UserId, _>("SELECT 'x'::text", &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
    });
}

#[test]
fn newtypes_without_the_statement_cache() {
    run(|runtime, _| async move {
        // Parameters then go with their natural type: the newtype's field's.
        let mut config = common::test_config();
        config.statement_cache_capacity = 0;
        let client = common::connect_with(&runtime, config).await;
        let (id, ty): (UserId, String) = client
            .query_one_as("SELECT $1, pg_typeof($1)::text", &[&UserId(7)])
            .await
            .unwrap();
        assert_eq!((id, ty.as_str()), (UserId(7), "bigint"));
    });
}

#[test]
fn newtypes_over_a_domain() {
    run(|_, client| async move {
        let domain = unique_name("user_id");
        let table = unique_name("accounts");
        client
            .batch_execute(&format!(
                "CREATE DOMAIN {domain} AS int8 CHECK (VALUE > 0);
                 CREATE TEMP TABLE {table} (id {domain});
                 INSERT INTO {table} VALUES (5)"
            ))
            .await
            .unwrap();
        // Columns of a domain type arrive as the base type.
        let ids: Vec<(UserId,)> = client
            .query_as(&format!("SELECT id FROM {table}"), &[])
            .await
            .unwrap();
        assert_eq!(ids, [(UserId(5),)]);
        let id: UserId = client
            .query_scalar(&format!("SELECT 3::{domain}"), &[])
            .await
            .unwrap();
        assert_eq!(id, UserId(3));
        client
            .batch_execute(&format!("DROP TABLE {table}; DROP DOMAIN {domain}"))
            .await
            .unwrap();
    });
}

#[test]
fn newtype_parameters_of_a_domain_type() {
    run(|_, client| async move {
        // A parameter of a domain type is described with the domain's OID: sending to
        // it needs the domain's base type from the catalog.
        let domain = unique_name("user_id");
        let table = unique_name("accounts");
        client
            .batch_execute(&format!(
                "CREATE DOMAIN {domain} AS int8 CHECK (VALUE > 0);
                 CREATE TEMP TABLE {table} (id {domain})"
            ))
            .await
            .unwrap();
        client
            .execute(&format!("INSERT INTO {table} VALUES ($1)"), &[&UserId(5)])
            .await
            .unwrap();
        let id: UserId = client
            .query_scalar(&format!("SELECT $1::{domain}"), &[&UserId(6)])
            .await
            .unwrap();
        assert_eq!(id, UserId(6));
        // The domain's constraint is the server's to check.
        let e = client
            .execute(&format!("INSERT INTO {table} VALUES ($1)"), &[&UserId(-1)])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Db);
        client
            .batch_execute(&format!("DROP TABLE {table}; DROP DOMAIN {domain}"))
            .await
            .unwrap();
    });
}

/// A schema of its own for a test's types; dropped with them at the end.
async fn schema(client: &Client, types: &str) -> String {
    let schema = unique_name("derive");
    client
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema}, public; {types}"
        ))
        .await
        .unwrap();
    schema
}

async fn drop_schema(client: &Client, schema: &str) {
    client
        .batch_execute(&format!("RESET search_path; DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSql, FromSql)]
#[apg(name = "mood", rename_all = "lowercase")]
enum Mood {
    Sad,
    Ok,
    #[apg(rename = "very happy")]
    VeryHappy,
}

#[derive(Debug, PartialEq, FromRow)]
struct Person {
    name: String,
    mood: Option<Mood>,
}

#[test]
fn enums() {
    run(|_, client| async move {
        let schema = schema(
            &client,
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'very happy');
             CREATE TABLE people (name text, mood mood)",
        )
        .await;
        for mood in [Mood::Sad, Mood::Ok, Mood::VeryHappy] {
            let back: Mood = client
                .query_scalar("SELECT $1::mood", &[&mood])
                .await
                .unwrap();
            assert_eq!(back, mood);
        }
        client
            .execute(
                "INSERT INTO people VALUES ('ada', $1), ('bob', NULL)",
                &[&Mood::VeryHappy],
            )
            .await
            .unwrap();
        let people: Vec<Person> = client
            .query_as("SELECT name, mood FROM people ORDER BY name", &[])
            .await
            .unwrap();
        assert_eq!(
            people,
            [
                Person {
                    name: "ada".into(),
                    mood: Some(Mood::VeryHappy)
                },
                Person {
                    name: "bob".into(),
                    mood: None
                },
            ]
        );
        let label: String = client
            .query_scalar("SELECT $1::mood::text", &[&Mood::Sad])
            .await
            .unwrap();
        assert_eq!(label, "sad");
        let all: Vec<Mood> = client
            .query_scalar("SELECT enum_range(NULL::mood)", &[])
            .await
            .unwrap();
        assert_eq!(all, [Mood::Sad, Mood::Ok, Mood::VeryHappy]);
        let moods: Vec<Mood> = client
            .query_scalar("SELECT $1::mood[]", &[&vec![Mood::Ok, Mood::Sad]])
            .await
            .unwrap();
        assert_eq!(moods, [Mood::Ok, Mood::Sad]);

        // A label the Rust enum does not know: an error naming it.
        client
            .batch_execute("ALTER TYPE mood ADD VALUE 'angry'")
            .await
            .unwrap();
        let e = client
            .query_scalar::<Mood, _>("SELECT 'angry'::mood", &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        let message = format!("{e} {:?}", std::error::Error::source(&e));
        assert!(message.contains("angry"), "{message}");
        drop_schema(&client, &schema).await;
    });
}

#[test]
fn enums_without_the_statement_cache() {
    run(|runtime, _| async move {
        // Without prepared statements a parameter goes with its natural type:
        // unspecified for an enum, so that the server infers it.
        let mut config = common::test_config();
        config.statement_cache_capacity = 0;
        let client = common::connect_with(&runtime, config).await;
        let schema = schema(
            &client,
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'very happy')",
        )
        .await;
        let back: Mood = client
            .query_scalar("SELECT $1::mood", &[&Mood::Ok])
            .await
            .unwrap();
        assert_eq!(back, Mood::Ok);
        drop_schema(&client, &schema).await;
    });
}

#[derive(Debug, Clone, PartialEq, ToSql, FromSql)]
#[apg(name = "labelled_point")]
struct LabelledPoint {
    x: i32,
    y: i32,
    label: Option<String>,
}

#[test]
fn enums_and_composites_sent_without_the_statement_cache() {
    run(|runtime, _| async move {
        // A value that cannot name its type has the statement described first, even
        // with the cache off: a composite's fields then go in the type's order.
        let mut config = common::test_config();
        config.statement_cache_capacity = 0;
        let client = common::connect_with(&runtime, config).await;
        let schema = schema(
            &client,
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'very happy');
             CREATE TYPE labelled_point AS (x int4, y int4, label text)",
        )
        .await;
        let text: String = client
            .query_scalar("SELECT $1::mood::text", &[&Mood::VeryHappy])
            .await
            .unwrap();
        assert_eq!(text, "very happy");
        let point = LabelledPoint {
            x: 1,
            y: -2,
            label: None,
        };
        let text: String = client
            .query_scalar("SELECT $1::labelled_point::text", &[&point])
            .await
            .unwrap();
        assert_eq!(text, "(1,-2,)");
        // Declared in another order than the type's: still by name.
        let swapped = SwappedPoint {
            label: Some("p".into()),
            y: -2,
            x: 1,
        };
        let text: String = client
            .query_scalar("SELECT $1::labelled_point::text", &[&swapped])
            .await
            .unwrap();
        assert_eq!(text, "(1,-2,p)");
        // Arrays of them, and through execute_many.
        let points = vec![swapped.clone(), swapped];
        let text: String = client
            .query_scalar("SELECT $1::labelled_point[]::text", &[&points])
            .await
            .unwrap();
        assert_eq!(text, r#"{"(1,-2,p)","(1,-2,p)"}"#);
        client
            .batch_execute("CREATE TEMP TABLE swapped (p labelled_point)")
            .await
            .unwrap();
        let first = SwappedPoint {
            label: None,
            y: 5,
            x: 4,
        };
        client
            .execute_many("INSERT INTO swapped VALUES ($1)", &[&[&first], &[&first]])
            .await
            .unwrap();
        let text: String = client
            .query_scalar("SELECT string_agg(p::text, ' ') FROM swapped", &[])
            .await
            .unwrap();
        assert_eq!(text, "(4,5,) (4,5,)");
        drop_schema(&client, &schema).await;
    });
}

#[derive(Debug, Clone, PartialEq, ToSql, FromSql)]
#[apg(name = "labelled_point")]
struct SwappedPoint {
    label: Option<String>,
    y: i32,
    x: i32,
}

#[derive(Debug, Clone, PartialEq, ToSql, FromSql)]
#[apg(name = "address")]
struct Address {
    city: String,
    street: String,
    #[apg(rename = "zip")]
    postal_code: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, ToSql, FromSql)]
#[apg(name = "contact")]
struct Contact {
    name: String,
    home: Option<Address>,
    mood: Mood,
}

#[test]
fn composites() {
    run(|_, client| async move {
        let schema = schema(
            &client,
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'very happy');
             CREATE TYPE address AS (street text, city text, zip int4);
             CREATE TYPE contact AS (name text, home address, mood mood);
             CREATE TYPE address_without_zip AS (street text, city text)",
        )
        .await;
        let home = Address {
            city: "Oslo".into(),
            street: "Main St".into(),
            postal_code: Some(150),
        };
        let back: Address = client
            .query_scalar("SELECT $1::address", &[&home])
            .await
            .unwrap();
        assert_eq!(back, home);
        let text: String = client
            .query_scalar("SELECT $1::address::text", &[&home])
            .await
            .unwrap();
        assert_eq!(text, "(\"Main St\",Oslo,150)");
        let zip: Option<i32> = client
            .query_scalar("SELECT ($1::address).zip", &[&home])
            .await
            .unwrap();
        assert_eq!(zip, Some(150));

        // From SQL: NULL fields, a nested composite, an enum inside.
        let contact: Contact = client
            .query_scalar(
                "SELECT ROW('ada', ROW('Main St', 'Oslo', NULL)::address, 'ok')::contact",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            contact,
            Contact {
                name: "ada".into(),
                home: Some(Address {
                    postal_code: None,
                    ..home.clone()
                }),
                mood: Mood::Ok,
            }
        );
        let round: Contact = client
            .query_scalar("SELECT $1::contact", &[&contact])
            .await
            .unwrap();
        assert_eq!(round, contact);
        let homeless = Contact {
            home: None,
            ..contact.clone()
        };
        let round: Contact = client
            .query_scalar("SELECT $1::contact", &[&homeless])
            .await
            .unwrap();
        assert_eq!(round, homeless);

        // Arrays of composites.
        let all: Vec<Address> = client
            .query_scalar("SELECT $1::address[]", &[&vec![home.clone(), home.clone()]])
            .await
            .unwrap();
        assert_eq!(all.len(), 2);

        // A composite whose fields differ from the struct's: an error naming the field.
        let e = client
            .query_scalar::<Address, _>("SELECT ROW('Main St', 'Oslo')::address_without_zip", &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        drop_schema(&client, &schema).await;
    });
}

#[derive(Debug, Clone, PartialEq, ToSql, FromSql)]
#[apg(name = "address_without_zip")]
struct ShortAddress {
    street: String,
    city: String,
}

#[test]
fn composite_field_mismatches() {
    run(|_, client| async move {
        let schema = schema(
            &client,
            "CREATE TYPE address_without_zip AS (street text, city int4)",
        )
        .await;
        let value = ShortAddress {
            street: "Main St".into(),
            city: "Oslo".into(),
        };
        let e = client
            .query_scalar::<String, _>("SELECT $1::address_without_zip::text", &[&value])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        let message = format!("{e} {:?}", std::error::Error::source(&e));
        assert!(message.contains("city"), "{message}");
        drop_schema(&client, &schema).await;
    });
}
