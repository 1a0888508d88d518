//! Typed bulk loading: rows of Rust values into a table through binary COPY, the fastest
//! way to insert many rows (asyncpg's `copy_records_to_table`).
//!
//! The column types come from the table itself (a prepared `SELECT` of the columns,
//! cached like any statement), each value is encoded with its [`ToSql`](crate::ToSql)
//! binary codec, and the rows stream to the server in PostgreSQL's binary COPY format:
//!
//! ```text
//! "PGCOPY\n\xff\r\n\0"  Int32 flags (0)  Int32 header extension length (0)
//! per row:    Int16 field count, then per field Int32 length (-1 = NULL) + bytes
//! trailer:    Int16 -1
//! ```

use apg_proto::types::{IsNull, Type};
use bytes::{BufMut, BytesMut};

use crate::client::{Client, Params};
use crate::error::Error;
use crate::ident::quote_ident;

/// The binary COPY signature, flags and header extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Encoded rows are handed to the COPY in chunks of about this size.
const CHUNK: usize = 64 * 1024;

impl Client {
    /// Inserts `rows` into `table` (`columns`, in order) with binary COPY, and returns the
    /// number of rows copied.
    ///
    /// `table` may be schema-qualified (`"app.items"`): each dot-separated part is quoted
    /// as an identifier, as are the column names, so they are never read as SQL. Each row
    /// holds one value per column, encoded for the column's type; a value of the wrong
    /// type, or a row of the wrong length, aborts the COPY: nothing is inserted.
    ///
    /// ```no_run
    /// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
    /// let rows: Vec<(i32, String)> = (0..10_000).map(|i| (i, format!("item {i}"))).collect();
    /// let copied = client
    ///     .copy_rows("items", &["id", "name"], rows.iter().map(|(id, name)| [id as _, name as _]))
    ///     .await?;
    /// assert_eq!(copied, 10_000);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The server's error (no such table or column, a constraint violated: the COPY is
    /// rolled back); [`ErrorKind::Conversion`](crate::ErrorKind::Conversion) for a value
    /// its column's type cannot take; [`ErrorKind::Usage`](crate::ErrorKind::Usage) for a
    /// row whose length differs from `columns`.
    pub async fn copy_rows<'p, I, R>(
        &self,
        table: &str,
        columns: &[&str],
        rows: I,
    ) -> Result<u64, Error>
    where
        I: IntoIterator<Item = R>,
        R: AsRef<Params<'p>>,
    {
        let target = table
            .split('.')
            .map(quote_ident)
            .collect::<Vec<_>>()
            .join(".");
        let column_list = columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let types: Vec<Type> = self
            .prepare(&format!("SELECT {column_list} FROM {target}"))
            .await?
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        let mut copy = self
            .copy_in(&format!(
                "COPY {target} ({column_list}) FROM STDIN (FORMAT binary)"
            ))
            .await?;
        let field_count = i16::try_from(types.len())
            .map_err(|_| Error::usage("COPY of more than 32767 columns"))?;

        let mut buf = BytesMut::with_capacity(CHUNK + CHUNK / 4);
        buf.put_slice(HEADER);
        for (n, row) in rows.into_iter().enumerate() {
            if let Err(e) = encode_row(&mut buf, n, row.as_ref(), columns, &types, field_count) {
                copy.abort("invalid row").await.ok();
                return Err(e);
            }
            if buf.len() >= CHUNK {
                copy.write(&buf).await?;
                buf.clear();
            }
        }
        buf.put_i16(-1);
        copy.write(&buf).await?;
        copy.finish().await
    }
}

/// Appends one row: the field count, then each value with its length (-1 for NULL).
fn encode_row(
    buf: &mut BytesMut,
    n: usize,
    row: &Params<'_>,
    columns: &[&str],
    types: &[Type],
    field_count: i16,
) -> Result<(), Error> {
    if row.len() != types.len() {
        return Err(Error::usage(format!(
            "row {n} has {} values for {} columns",
            row.len(),
            types.len()
        )));
    }
    buf.put_i16(field_count);
    for ((value, ty), column) in row.iter().zip(types).zip(columns) {
        let len_at = buf.len();
        buf.put_i32(0);
        match value.to_sql_checked(ty, buf) {
            Ok(IsNull::No) => {
                let len = i32::try_from(buf.len() - len_at - 4).map_err(|_| {
                    Error::usage(format!("row {n}, column {column}: value over 2 GiB"))
                })?;
                buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            }
            Ok(IsNull::Yes) => {
                buf.truncate(len_at);
                buf.put_i32(-1);
            }
            Err(e) => {
                return Err(Error::conversion(
                    format!("cannot copy row {n}, column {column}"),
                    e,
                ))
            }
        }
    }
    Ok(())
}
