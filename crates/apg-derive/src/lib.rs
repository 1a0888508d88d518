//! Derive macros for [apg](https://docs.rs/apg), the asynchronous PostgreSQL client:
//! [`FromRow`](macro@FromRow) for reading rows into structs, and
//! [`ToSql`](macro@ToSql) / [`FromSql`](macro@FromSql) for PostgreSQL enums, composite
//! types and newtypes.
//!
//! Use them through apg, with its `derive` feature (the runtime crates forward it):
//!
//! ```toml
//! [dependencies]
//! apg = { version = "0.1", features = ["derive"] }
//! ```
//!
//! The generated code names the traits as `::apg::...`. When apg is reachable under
//! another path (re-exported by a crate of yours), say so with
//! `#[apg(crate = "path::to::apg")]` on the type.
//!
//! # Attributes
//!
//! | Attribute | On | Meaning |
//! |---|---|---|
//! | `name = "mood"` | enum, struct | the PostgreSQL type's name, in any schema, or `"app.mood"` for that schema only (default: the Rust name in snake_case) |
//! | `rename_all = "..."` | enum, struct | spell variants or fields as `lowercase`, `UPPERCASE`, `PascalCase`, `camelCase`, `snake_case`, `SCREAMING_SNAKE_CASE`, `kebab-case` or `SCREAMING-KEBAB-CASE` |
//! | `crate = "path"` | enum, struct | the path to the apg crate (default `::apg`) |
//! | `rename = "label"` | variant, field | the label, column or composite field name |
//! | `flatten` | field (`FromRow`) | the field is itself `FromRow`, read from the same row |
//! | `default` | field (`FromRow`) | a missing column gives `Default::default()` |
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod attr;
mod case;
mod from_row;
mod sql;

/// Reads a struct from a [`Row`](https://docs.rs/apg/latest/apg/struct.Row.html):
/// implements `apg::FromRow`.
///
/// A struct with named fields reads each field from the column of the same name (see
/// `rename`, `rename_all`), with the field's [`FromSql`](macro@FromSql) type; a tuple
/// struct reads its fields by position. `Option<T>` fields take NULL. Errors name the
/// column and the Rust type (they are `Row::try_get`'s).
///
/// ```
/// use apg::FromRow;
///
/// #[derive(FromRow)]
/// struct Audit {
///     created_by: String,
///     #[apg(default)] // a missing column is 0
///     revision: i32,
/// }
///
/// #[derive(FromRow)]
/// #[apg(rename_all = "camelCase")]
/// struct User {
///     user_id: i64,                 // column "userId"
///     #[apg(rename = "mail")]
///     email: Option<String>,        // column "mail", NULL is None
///     #[apg(flatten)]
///     audit: Audit,                 // columns "created_by" and "revision" of the same row
/// }
///
/// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
/// let users: Vec<User> = client
///     .query_as(r#"SELECT id AS "userId", mail, created_by FROM users"#, &[])
///     .await?;
/// # Ok(()) }
/// ```
///
/// A column the row lacks is an error (unless the field has `default`), and so is a
/// value that does not convert. Only structs derive `FromRow`:
///
/// ```compile_fail
/// #[derive(apg::FromRow)]
/// enum NotAStruct { A, B }
/// ```
#[proc_macro_derive(FromRow, attributes(apg))]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    from_row::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Sends a Rust type as a parameter: implements `apg::types::ToSql` for a PostgreSQL
/// enum, a composite type or a newtype.
///
/// **Enums** of unit variants map to `CREATE TYPE ... AS ENUM`: each variant is the
/// label of the same name (`rename`, `rename_all` to spell it otherwise), and the type
/// is found by its name (`name`, by default the Rust name in snake_case).
///
/// ```
/// use apg::{FromSql, ToSql};
///
/// // CREATE TYPE mood AS ENUM ('sad', 'ok', 'very happy')
/// #[derive(Debug, PartialEq, ToSql, FromSql)]
/// #[apg(name = "mood", rename_all = "lowercase")]
/// enum Mood {
///     Sad,
///     Ok,
///     #[apg(rename = "very happy")]
///     VeryHappy,
/// }
/// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
/// client.execute("UPDATE people SET mood = $1 WHERE id = 1", &[&Mood::VeryHappy]).await?;
/// # Ok(()) }
/// ```
///
/// **Structs with named fields** map to composite types (`CREATE TYPE ... AS (...)`):
/// each field to the composite's field of the same name, whatever the order; the
/// composite must have exactly the struct's fields (an `Option` field takes NULL).
/// Values are written in the composite's field order, each field checked against its
/// declared type.
///
/// ```
/// use apg::{FromSql, ToSql};
///
/// // CREATE TYPE address AS (street text, city text, zip int4)
/// #[derive(Debug, ToSql, FromSql)]
/// struct Address {
///     city: String,
///     street: String,
///     #[apg(rename = "zip")]
///     postal_code: Option<i32>,
/// }
/// ```
///
/// **Tuple structs with one field** are their field's type, in every respect (also for
/// a domain over that type):
///
/// ```
/// use apg::{FromSql, ToSql};
///
/// #[derive(Debug, Clone, Copy, PartialEq, ToSql, FromSql)]
/// struct UserId(i64);
/// ```
///
/// Enums and composites are recognised by their name and kind, which the client learns
/// from the catalog. Their natural type is "unspecified" (their OIDs differ between
/// databases): the client then has the statement's parameter types described before
/// sending, also with the statement cache off. A composite value sent as an
/// undescribed type is refused, since the order of the type's fields is unknown.
///
/// Other shapes are compile errors:
///
/// ```compile_fail
/// #[derive(apg::ToSql)]
/// enum Shape { Circle(f64), Square(f64) }
/// ```
#[proc_macro_derive(ToSql, attributes(apg))]
pub fn derive_to_sql(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    sql::expand(&input, sql::Direction::To)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Reads a Rust type from a column value: implements `apg::types::FromSql` for a
/// PostgreSQL enum, a composite type or a newtype.
///
/// The mapping and the attributes are [`ToSql`](macro@ToSql)'s. An enum label without
/// a variant, and a composite whose fields differ from the struct's, are errors that
/// name the label or field; never a panic.
///
/// ```
/// use apg::FromSql;
///
/// #[derive(FromSql)]
/// #[apg(name = "inventory_item")]
/// struct Item<'a> {
///     name: &'a str, // borrowed from the row
///     count: i32,
/// }
/// ```
#[proc_macro_derive(FromSql, attributes(apg))]
pub fn derive_from_sql(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    sql::expand(&input, sql::Direction::From)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[cfg(test)]
mod tests {
    use super::{from_row, sql};

    type Expand = fn(&syn::DeriveInput) -> syn::Result<proc_macro2::TokenStream>;

    fn error(
        expand: fn(&syn::DeriveInput) -> syn::Result<proc_macro2::TokenStream>,
        src: &str,
    ) -> String {
        let input: syn::DeriveInput = syn::parse_str(src).unwrap();
        match expand(&input) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(e) => e.to_string(),
        }
    }

    fn to_sql(input: &syn::DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
        sql::expand(input, sql::Direction::To)
    }

    fn from_sql(input: &syn::DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
        sql::expand(input, sql::Direction::From)
    }

    #[test]
    fn unsupported_shapes_are_compile_errors() {
        let cases: &[(Expand, &str, &str)] = &[
            (to_sql, "enum E { A(i32), B }", "only unit variants"),
            (from_sql, "enum E { A { x: i32 } }", "only unit variants"),
            (to_sql, "enum E {}", "at least one variant"),
            (to_sql, "enum E<T> { A }", "without generic parameters"),
            (to_sql, "struct S(i32, i32);", "tuple struct with one field"),
            (to_sql, "struct S;", "tuple struct with one field"),
            (to_sql, "struct S {}", "at least one field"),
            (to_sql, "union U { a: i32 }", "union"),
            (
                from_sql,
                "struct S<'a, 'b>(&'a &'b str);",
                "at most one lifetime",
            ),
            (from_row::expand, "enum E { A }", "structs only"),
            (from_row::expand, "struct S;", "unit struct"),
            (from_row::expand, "struct S<'a> { a: &'a str }", "lifetime"),
        ];
        for (expand, src, expected) in cases {
            let e = error(*expand, src);
            assert!(e.contains(expected), "{src}: {e}");
        }
    }

    #[test]
    fn bad_attributes_are_compile_errors() {
        let cases: &[(Expand, &str, &str)] = &[
            (to_sql, "#[apg(nmae = \"x\")] enum E { A }", "unknown apg attribute `nmae`"),
            (to_sql, "#[apg(name = \"x\", name = \"y\")] enum E { A }", "duplicate"),
            (to_sql, "#[apg(name = \"\")] enum E { A }", "cannot be empty"),
            (to_sql, "#[apg(rename_all = \"Title\")] enum E { A }", "expected one of: lowercase"),
            (to_sql, "enum E { #[apg(flatten)] A }", "unknown apg attribute `flatten`"),
            (to_sql, "enum E { #[apg(rename = \"a\")] A, B2 }", ""),
            (to_sql, "enum E { #[apg(rename = \"B\")] A, B }", "two variants have the label \"B\""),
            (to_sql, "struct S { #[apg(flatten)] a: i32 }", "apply to FromRow"),
            (to_sql, "struct S { #[apg(rename = \"b\")] a: i32, b: i32 }", "two fields"),
            (to_sql, "#[apg(name = \"n\")] struct S(i32);", "does not apply"),
            (to_sql, "struct S(#[apg(rename = \"x\")] i32);", "no apg attributes"),
            (from_row::expand, "struct S { #[apg(flatten, rename = \"x\")] a: A }", "exclude each other"),
            (from_row::expand, "struct S { #[apg(flatten, default)] a: A }", "exclude each other"),
            (from_row::expand, "struct S { #[apg(skip)] a: i32 }", "unknown apg attribute `skip`"),
            (from_row::expand, "struct S(#[apg(default)] i32);", "by position"),
            (from_row::expand, "#[apg(rename_all = \"UPPERCASE\")] struct S { a: i32, #[apg(rename = \"A\")] b: i32 }", "two fields read column \"A\""),
            (from_row::expand, "#[apg(crate = \"not a path\")] struct S { a: i32 }", "unexpected token"),
        ];
        for (expand, src, expected) in cases {
            let input: syn::DeriveInput = syn::parse_str(src).unwrap();
            match (expand(&input), *expected) {
                (Ok(_), "") => {}
                (Ok(tokens), _) => panic!("{src}: expected an error, got {tokens}"),
                (Err(e), _) => assert!(
                    !expected.is_empty() && e.to_string().contains(expected),
                    "{src}: {e}"
                ),
            }
        }
    }
}
