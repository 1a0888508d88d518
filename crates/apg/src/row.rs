//! Result rows: [`Row`] (extended protocol, typed access) and [`SimpleRow`] (simple
//! protocol, text).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use apg_proto::message::backend::DataRow;
use apg_proto::types::{FromSql, Type};

use crate::error::Error;
use crate::statement::Column;

mod sealed {
    pub trait Sealed {}
}

/// A column index: a position (`usize`, from 0) or a name (`&str`).
pub trait RowIndex: sealed::Sealed + fmt::Display {
    /// The position of the column in `names`, if there is one.
    #[doc(hidden)]
    fn position<'a>(&self, names: impl Iterator<Item = &'a str>) -> Option<usize>;
}

impl sealed::Sealed for usize {}

impl RowIndex for usize {
    fn position<'a>(&self, names: impl Iterator<Item = &'a str>) -> Option<usize> {
        (*self < names.count()).then_some(*self)
    }
}

impl sealed::Sealed for str {}

impl RowIndex for str {
    fn position<'a>(&self, mut names: impl Iterator<Item = &'a Self>) -> Option<usize> {
        names.position(|n| n == self)
    }
}

impl<T: RowIndex + ?Sized> sealed::Sealed for &T {}

impl<T: RowIndex + ?Sized> RowIndex for &T {
    fn position<'a>(&self, names: impl Iterator<Item = &'a str>) -> Option<usize> {
        (**self).position(names)
    }
}

/// The positions of a row's values in its buffer, computed once so that reading a
/// column does not walk the columns before it.
/// Rows with at least this many values get a table of where each value lies; narrower
/// ones (the common case) are walked on access, which costs less than allocating a
/// table for every row.
const INDEXED_FROM: usize = 9;

/// A row's values: the DataRow (a slice of the receive buffer) and, for wide rows, the
/// position of each value in it.
#[derive(Clone)]
struct Fields {
    data: DataRow,
    ranges: Option<Box<[Option<Range<usize>>]>>,
}

impl Fields {
    fn new(data: DataRow) -> Self {
        let ranges = (data.len() >= INDEXED_FROM).then(|| data.ranges().collect());
        Self { data, ranges }
    }

    fn len(&self) -> usize {
        self.data.len()
    }

    /// Value `index`: `None` when there is no such value, `Some(None)` for NULL.
    fn get(&self, index: usize) -> Option<Option<&[u8]>> {
        match &self.ranges {
            Some(ranges) => {
                let range = ranges.get(index)?.clone();
                Some(range.map(|r| self.data.buffer().get(r).unwrap_or_default()))
            }
            None => self.data.get(index),
        }
    }
}

/// One row of a query's result.
#[derive(Clone)]
pub struct Row {
    columns: Arc<[Column]>,
    fields: Fields,
}

impl Row {
    pub(crate) fn new(columns: Arc<[Column]>, data: DataRow) -> Self {
        Self {
            columns,
            fields: Fields::new(data),
        }
    }

    /// The result's columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub(crate) fn columns_arc(&self) -> &Arc<[Column]> {
        &self.columns
    }

    /// Replaces the columns by the same ones with their types described.
    pub(crate) fn set_columns(&mut self, columns: Arc<[Column]>) {
        self.columns = columns;
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.fields.len() == 0
    }

    /// The value of column `index` (a position or a name) as `T`.
    ///
    /// # Panics
    ///
    /// If there is no such column or the value cannot be converted; see
    /// [`try_get`](Self::try_get) for the same without panicking.
    #[track_caller]
    pub fn get<'a, T: FromSql<'a>, I: RowIndex>(&'a self, index: I) -> T {
        match self.try_get(index) {
            Ok(value) => value,
            Err(e) => panic!("{e}"),
        }
    }

    /// The value of column `index` (a position or a name) as `T`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Column`](crate::ErrorKind::Column) if there is no such column;
    /// [`ErrorKind::Conversion`](crate::ErrorKind::Conversion) if the column's type and
    /// `T` do not match, the value is NULL and `T` is not an `Option`, or the value is
    /// malformed.
    pub fn try_get<'a, T: FromSql<'a>, I: RowIndex>(&'a self, index: I) -> Result<T, Error> {
        let position = index
            .position(self.columns.iter().map(Column::name))
            .ok_or_else(|| Error::column(format!("no column {index} in the row")))?;
        let (Some(column), Some(raw)) = (self.columns.get(position), self.fields.get(position))
        else {
            return Err(Error::column(format!("no column {index} in the row")));
        };
        T::from_sql_checked(column.type_(), column.format(), raw).map_err(|e| {
            Error::conversion(
                format!("cannot read column {position} ({:?})", column.name()),
                e,
            )
        })
    }

    /// The raw bytes of column `index` (`None` for NULL or no such column), in the
    /// column's [`format`](Column::format).
    pub fn raw(&self, index: usize) -> Option<&[u8]> {
        self.fields.get(index)?
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (i, column) in self.columns.iter().enumerate() {
            list.entry(&(column.name(), column.type_(), self.raw(i)));
        }
        list.finish()
    }
}

/// A column of a [`SimpleRow`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleColumn {
    name: String,
    type_: Type,
}

impl SimpleColumn {
    pub(crate) fn new(name: String, type_: Type) -> Self {
        Self { name, type_ }
    }

    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column's type.
    pub fn type_(&self) -> &Type {
        &self.type_
    }
}

/// A row of a [`simple_query`](crate::Client::simple_query): every value is text.
#[derive(Clone)]
pub struct SimpleRow {
    columns: Arc<[SimpleColumn]>,
    fields: Fields,
}

impl SimpleRow {
    pub(crate) fn new(columns: Arc<[SimpleColumn]>, data: DataRow) -> Self {
        Self {
            columns,
            fields: Fields::new(data),
        }
    }

    /// The result's columns.
    pub fn columns(&self) -> &[SimpleColumn] {
        &self.columns
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.fields.len() == 0
    }

    /// The text of column `index`, `None` for NULL.
    ///
    /// # Panics
    ///
    /// If there is no such column; see [`try_get`](Self::try_get).
    #[track_caller]
    pub fn get<I: RowIndex>(&self, index: I) -> Option<&str> {
        match self.try_get(index) {
            Ok(value) => value,
            Err(e) => panic!("{e}"),
        }
    }

    /// The text of column `index`, `None` for NULL.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Column`](crate::ErrorKind::Column) if there is no such column;
    /// [`ErrorKind::Conversion`](crate::ErrorKind::Conversion) if the value is not
    /// UTF-8.
    pub fn try_get<I: RowIndex>(&self, index: I) -> Result<Option<&str>, Error> {
        let position = index
            .position(self.columns.iter().map(SimpleColumn::name))
            .ok_or_else(|| Error::column(format!("no column {index} in the row")))?;
        let Some(raw) = self.fields.get(position) else {
            return Err(Error::column(format!("no column {index} in the row")));
        };
        let Some(raw) = raw else {
            return Ok(None);
        };
        std::str::from_utf8(raw).map(Some).map_err(|_| {
            let type_ = self
                .columns
                .get(position)
                .map_or(Type::UNKNOWN, |c| c.type_.clone());
            Error::conversion(
                format!("cannot read column {position}"),
                apg_proto::types::ValueError::malformed::<str>(&type_, "text is not UTF-8"),
            )
        })
    }
}

impl fmt::Debug for SimpleRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (i, column) in self.columns.iter().enumerate() {
            list.entry(&(column.name(), self.try_get(i).ok().flatten()));
        }
        list.finish()
    }
}

/// One item of a [`simple_query`](crate::Client::simple_query) result, in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SimpleQueryMessage {
    /// A row.
    Row(SimpleRow),
    /// A statement finished.
    CommandComplete {
        /// The command tag (`INSERT 0 3`, `CREATE TABLE`, ...).
        tag: String,
        /// Rows affected or returned, for the commands that count them.
        rows: Option<u64>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Narrow rows are walked, wide ones indexed: both must give the same values.
    #[test]
    fn fields_of_narrow_and_wide_rows() {
        for width in [0, 1, 3, INDEXED_FROM - 1, INDEXED_FROM, 40] {
            let values: Vec<Option<Vec<u8>>> = (0..width)
                .map(|i| (i % 3 != 1).then(|| format!("v{i}").into_bytes()))
                .collect();
            let data = DataRow::from_fields(values.iter().map(Option::as_deref)).unwrap();
            let fields = Fields::new(data);
            assert_eq!(fields.ranges.is_some(), width >= INDEXED_FROM);
            assert_eq!(fields.len(), width);
            for (i, value) in values.iter().enumerate() {
                assert_eq!(
                    fields.get(i),
                    Some(value.as_deref()),
                    "width {width}, value {i}"
                );
            }
            assert_eq!(fields.get(width), None);
        }
    }
}
