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
        self.query_opt(statement, params)
            .await?
            .as_ref()
            .map(T::from_row)
            .transpose()
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
        self.query_opt(statement, params)
            .await?
            .as_ref()
            .map(T::from_row)
            .transpose()
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
        self.query_opt(statement, params)
            .await?
            .as_ref()
            .map(T::from_row)
            .transpose()
    }
}
