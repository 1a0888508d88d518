//! [`FromRow`]: a row as a Rust value (a tuple, or a struct with
//! `#[derive(FromRow)]`), and the `query_as` family that returns them.

use apg_proto::types::FromSql;

use crate::client::{Client, Params, ToStatement};
use crate::error::Error;
use crate::pool::Pool;
use crate::row::Row;
use crate::transaction::Transaction;

/// A Rust value built from a whole [`Row`].
///
/// Implemented for tuples of up to 12 [`FromSql`] types, read by position (the row must
/// have exactly as many columns), and by `#[derive(FromRow)]` (feature `derive`) for
/// structs, read by column name.
///
/// ```no_run
/// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
/// let pairs: Vec<(i32, String)> = client
///     .query_as("SELECT id, name FROM users ORDER BY id", &[])
///     .await?;
/// # Ok(()) }
/// ```
///
/// By hand, with [`Row::try_get`]:
///
/// ```
/// use apg::{Error, FromRow, Row};
///
/// struct User {
///     id: i64,
///     name: Option<String>,
/// }
///
/// impl FromRow for User {
///     fn from_row(row: &Row) -> Result<Self, Error> {
///         Ok(Self { id: row.try_get("id")?, name: row.try_get("name")? })
///     }
/// }
/// ```
pub trait FromRow: Sized {
    /// Builds the value from `row`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Column`](crate::ErrorKind::Column) for a column the row lacks;
    /// [`ErrorKind::Conversion`](crate::ErrorKind::Conversion) for a value that does not
    /// convert (as [`Row::try_get`]).
    fn from_row(row: &Row) -> Result<Self, Error>;
}

macro_rules! tuple_from_row {
    ($len:literal: $($t:ident $i:tt),+) => {
        impl<$($t),+> FromRow for ($($t,)+)
        where
            $($t: for<'a> FromSql<'a>,)+
        {
            fn from_row(row: &Row) -> Result<Self, Error> {
                // A tuple is read by position: a row of another width is a query that
                // does not match the tuple, not something to truncate or pad.
                if row.len() != $len {
                    return Err(Error::column(format!(
                        "the row has {} columns, a tuple of {} expected",
                        row.len(),
                        $len
                    )));
                }
                Ok(($(row.try_get::<$t, usize>($i)?,)+))
            }
        }
    };
}

tuple_from_row!(1: T0 0);
tuple_from_row!(2: T0 0, T1 1);
tuple_from_row!(3: T0 0, T1 1, T2 2);
tuple_from_row!(4: T0 0, T1 1, T2 2, T3 3);
tuple_from_row!(5: T0 0, T1 1, T2 2, T3 3, T4 4);
tuple_from_row!(6: T0 0, T1 1, T2 2, T3 3, T4 4, T5 5);
tuple_from_row!(7: T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6);
tuple_from_row!(8: T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7);
tuple_from_row!(9: T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8);
tuple_from_row!(10: T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9);
tuple_from_row!(11: T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10);
tuple_from_row!(12: T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11);

/// Every row as `T`.
fn all<T: FromRow>(rows: &[Row]) -> Result<Vec<T>, Error> {
    rows.iter().map(T::from_row).collect()
}

/// The row, if there is one, as `T`.
fn optional<T: FromRow>(row: Option<Row>) -> Result<Option<T>, Error> {
    row.as_ref().map(T::from_row).transpose()
}

impl Client {
    /// [`query`](Self::query), each row read as a `T` ([`FromRow`]: a tuple, or a
    /// struct deriving it).
    ///
    /// ```no_run
    /// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
    /// let names: Vec<(i64, String)> = client
    ///     .query_as("SELECT id, name FROM users WHERE active = $1", &[&true])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query), and [`FromRow::from_row`]'s.
    pub async fn query_as<T: FromRow, S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Vec<T>, Error> {
        all(&self.query(statement, params).await?)
    }

    /// [`query_one`](Self::query_one), the row read as a `T`.
    ///
    /// # Errors
    ///
    /// As [`query_one`](Self::query_one), and [`FromRow::from_row`]'s.
    pub async fn query_one_as<T: FromRow, S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<T, Error> {
        T::from_row(&self.query_one(statement, params).await?)
    }

    /// [`query_opt`](Self::query_opt), the row (if any) read as a `T`.
    ///
    /// # Errors
    ///
    /// As [`query_opt`](Self::query_opt), and [`FromRow::from_row`]'s.
    pub async fn query_opt_as<T: FromRow, S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Option<T>, Error> {
        optional(self.query_opt(statement, params).await?)
    }
}

impl Transaction<'_> {
    /// [`Client::query_as`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::query_as`].
    pub async fn query_as<T: FromRow, S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Vec<T>, Error> {
        // Through the transaction's own `query`, which records a failure.
        all(&self.query(statement, params).await?)
    }

    /// [`Client::query_one_as`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::query_one_as`].
    pub async fn query_one_as<T: FromRow, S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<T, Error> {
        T::from_row(&self.query_one(statement, params).await?)
    }

    /// [`Client::query_opt_as`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::query_opt_as`].
    pub async fn query_opt_as<T: FromRow, S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Option<T>, Error> {
        optional(self.query_opt(statement, params).await?)
    }
}

impl Pool {
    /// Acquires a connection, runs [`Client::query_as`] and releases the connection.
    ///
    /// # Errors
    ///
    /// The acquire's error or the query's.
    pub async fn query_as<T: FromRow, S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Vec<T>, Error> {
        all(&self.query(statement, params).await?)
    }

    /// Acquires a connection, runs [`Client::query_one_as`] and releases the
    /// connection.
    ///
    /// # Errors
    ///
    /// The acquire's error or the query's.
    pub async fn query_one_as<T: FromRow, S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<T, Error> {
        T::from_row(&self.query_one(statement, params).await?)
    }

    /// Acquires a connection, runs [`Client::query_opt_as`] and releases the
    /// connection.
    ///
    /// # Errors
    ///
    /// The acquire's error or the query's.
    pub async fn query_opt_as<T: FromRow, S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Option<T>, Error> {
        optional(self.query_opt(statement, params).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use apg_proto::message::backend::{DataRow, FieldDescription};
    use apg_proto::message::Format;
    use apg_proto::types::Type;

    use super::*;
    use crate::statement::Column;
    use crate::ErrorKind;

    /// A row of binary values: (name, type, value).
    fn row(values: &[(&str, Type, Option<&[u8]>)]) -> Row {
        let columns: Arc<[Column]> = values
            .iter()
            .map(|(name, ty, _)| {
                Column::from_field(
                    FieldDescription {
                        name: (*name).to_owned(),
                        table_oid: 0,
                        column_id: 0,
                        type_oid: ty.oid(),
                        type_size: -1,
                        type_modifier: -1,
                        format: Format::Binary,
                    },
                    Some(Format::Binary),
                )
            })
            .collect();
        let data = DataRow::from_fields(values.iter().map(|(_, _, v)| *v)).unwrap();
        Row::new(columns, data)
    }

    #[test]
    fn tuples_by_position() {
        let r = row(&[
            ("a", Type::INT4, Some(&[0, 0, 0, 7])),
            ("b", Type::TEXT, Some(b"x")),
            ("c", Type::INT8, None),
        ]);
        assert_eq!(
            <(i32, String, Option<i64>)>::from_row(&r).unwrap(),
            (7, "x".to_owned(), None)
        );
        // Integers widen as in Row::try_get.
        assert_eq!(
            <(i64, String, Option<i32>)>::from_row(&r).unwrap(),
            (7, "x".to_owned(), None)
        );
    }

    #[test]
    fn a_row_of_another_width_is_an_error() {
        let r = row(&[
            ("a", Type::INT4, Some(&[0, 0, 0, 7])),
            ("b", Type::TEXT, None),
        ]);
        for e in [
            <(i32,)>::from_row(&r).unwrap_err(),
            <(i32, Option<String>, i32)>::from_row(&r).unwrap_err(),
        ] {
            assert_eq!(e.kind(), ErrorKind::Column);
            assert!(e.to_string().contains("2 columns"), "{e}");
        }
    }

    #[test]
    fn conversion_errors_name_the_column() {
        let r = row(&[
            ("a", Type::INT4, Some(&[0, 0, 0, 7])),
            ("b", Type::TEXT, None),
        ]);
        let e = <(i32, String)>::from_row(&r).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        assert!(e.to_string().contains("\"b\""), "{e}");
        let e = <(String, Option<String>)>::from_row(&r).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        assert!(e.to_string().contains("\"a\""), "{e}");
    }

    #[test]
    fn twelve_columns() {
        let values: Vec<[u8; 4]> = (0..12i32).map(i32::to_be_bytes).collect();
        let cells: Vec<(&str, Type, Option<&[u8]>)> = values
            .iter()
            .map(|v| ("n", Type::INT4, Some(&v[..])))
            .collect();
        let r = row(&cells);
        type Twelve = (i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i64);
        let t = Twelve::from_row(&r).unwrap();
        assert_eq!((t.0, t.11), (0, 11));
    }
}
