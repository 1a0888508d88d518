//! DataRow: one row of a result set.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-DATAROW>

use core::iter::FusedIterator;
use core::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_nullable_bytes, Message, MAX_COUNT};

/// DataRow (`D`): the values of one row, in the formats the RowDescription (or the
/// Bind's result formats) announced.
///
/// ```text
/// Int16  number of fields N (read as unsigned)
/// then N times:
///   Int32  length of the value, -1 for NULL
///   Byte(n) the value
/// ```
///
/// This is the hot path of every query, so the row is kept as the message body, a
/// [`Bytes`] slice of the receive buffer, and is never split into per-field
/// allocations. [`decode`](Message::decode) walks the row once to check every length;
/// after that, [`iter`](Self::iter), [`ranges`](Self::ranges) and [`get`](Self::get)
/// cannot fail. Values borrowed through `iter` live as long as the row; to keep one
/// beyond it without copying, slice [`buffer`](Self::buffer) with a range from
/// [`ranges`](Self::ranges).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataRow {
    /// The whole body, field count included; validated by `decode` or built by
    /// `from_fields`, so iteration never meets a bad length.
    body: Bytes,
    /// The number of fields, as read from the body.
    len: u16,
}

impl DataRow {
    /// Builds a row from its values (`None` is NULL), for test servers and proxies.
    ///
    /// # Errors
    ///
    /// [`EncodeError::TooManyValues`] for more than 65 535 fields,
    /// [`EncodeError::ValueTooLarge`] for a value longer than `i32::MAX` bytes.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = Option<&'a [u8]>>,
    ) -> Result<Self, EncodeError> {
        const NAME: &str = <DataRow as Message>::NAME;
        let mut buf = BytesMut::new();
        // The count is patched in once the fields are written.
        buf.put_u16(0);
        let mut len = 0u16;
        for field in fields {
            len = len.checked_add(1).ok_or(EncodeError::TooManyValues {
                message: NAME,
                count: MAX_COUNT + 1,
            })?;
            put_nullable_bytes(&mut buf, field, NAME)?;
        }
        if let Some(head) = buf.get_mut(..2) {
            head.copy_from_slice(&len.to_be_bytes());
        }
        Ok(Self {
            body: buf.freeze(),
            len,
        })
    }

    /// The number of fields (columns) in the row.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the row has no fields (a `SELECT` without columns).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values in column order: `None` for NULL, otherwise the bytes of the value.
    pub fn iter(&self) -> DataRowIter<'_> {
        DataRowIter {
            ranges: self.ranges(),
        }
    }

    /// The positions of the values in [`buffer`](Self::buffer), in column order: `None`
    /// for NULL. `row.buffer().slice(range)` then gives a value as [`Bytes`] that shares
    /// the receive buffer instead of copying it.
    pub fn ranges(&self) -> DataRowRanges<'_> {
        DataRowRanges {
            body: &self.body,
            // The fields start after the Int16 count.
            pos: 2,
            left: self.len,
        }
    }

    /// The value of column `index`: `None` when the row has fewer columns,
    /// `Some(None)` for NULL, `Some(Some(bytes))` otherwise.
    ///
    /// Walks the fields before `index`; to read every column, [`iter`](Self::iter) is
    /// cheaper.
    pub fn get(&self, index: usize) -> Option<Option<&[u8]>> {
        self.iter().nth(index)
    }

    /// The whole message body the [`ranges`](Self::ranges) point into (the Int16 field
    /// count included).
    pub fn buffer(&self) -> &Bytes {
        &self.body
    }
}

impl Default for DataRow {
    /// A row without fields.
    fn default() -> Self {
        Self {
            body: Bytes::from_static(&[0, 0]),
            len: 0,
        }
    }
}

impl<'a> IntoIterator for &'a DataRow {
    type Item = Option<&'a [u8]>;
    type IntoIter = DataRowIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Reads a big-endian Int32 at `pos`, if the slice holds it.
fn i32_at(body: &[u8], pos: usize) -> Option<i32> {
    let bytes: [u8; 4] = body.get(pos..pos.checked_add(4)?)?.try_into().ok()?;
    Some(i32::from_be_bytes(bytes))
}

/// Iterator over the value positions of a [`DataRow`]; see [`DataRow::ranges`].
#[derive(Debug, Clone)]
pub struct DataRowRanges<'a> {
    body: &'a [u8],
    pos: usize,
    left: u16,
}

impl Iterator for DataRowRanges<'_> {
    type Item = Option<Range<usize>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        // The row was validated when it was decoded or built, so the reads below always
        // succeed; should they not, iteration ends rather than panics.
        let len = i32_at(self.body, self.pos);
        let Some(len) = len else {
            self.left = 0;
            return None;
        };
        self.pos += 4;
        if len == -1 {
            return Some(None);
        }
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .filter(|&end| end <= self.body.len())
        else {
            self.left = 0;
            return None;
        };
        let range = self.pos..end;
        self.pos = end;
        Some(Some(range))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.left);
        (n, Some(n))
    }
}

impl ExactSizeIterator for DataRowRanges<'_> {}
impl FusedIterator for DataRowRanges<'_> {}

/// Iterator over the values of a [`DataRow`]; see [`DataRow::iter`].
#[derive(Debug, Clone)]
pub struct DataRowIter<'a> {
    ranges: DataRowRanges<'a>,
}

impl<'a> Iterator for DataRowIter<'a> {
    type Item = Option<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.ranges.next()? {
            None => Some(None),
            Some(range) => self.ranges.body.get(range).map(Some),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ranges.size_hint()
    }
}

impl ExactSizeIterator for DataRowIter<'_> {}
impl FusedIterator for DataRowIter<'_> {}

impl Message for DataRow {
    const TAG: Option<u8> = Some(b'D');
    const NAME: &'static str = "DataRow";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        // The body is already in wire form.
        buf.put_slice(&self.body);
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let truncated = ProtocolError::Truncated {
            message: Self::NAME,
        };
        let count: [u8; 2] = body
            .get(..2)
            .and_then(|s| s.try_into().ok())
            .ok_or(truncated)?;
        // Unsigned: the server reads and writes this count as 0..=65535.
        let len = u16::from_be_bytes(count);
        // One pass over the lengths, on a plain slice: no reference counting, no
        // allocation. Each field costs at least 4 bytes, so a huge count fails as soon
        // as the body runs out.
        let mut pos = 2usize;
        for _ in 0..len {
            let n = i32_at(&body, pos).ok_or(truncated)?;
            pos += 4;
            match n {
                -1 => {}
                n if n < -1 => {
                    return Err(ProtocolError::InvalidValue {
                        message: Self::NAME,
                        field: "field length",
                    })
                }
                n => {
                    let n = usize::try_from(n).map_err(|_| truncated)?;
                    if n > body.len().saturating_sub(pos) {
                        return Err(truncated);
                    }
                    pos += n;
                }
            }
        }
        if pos != body.len() {
            return Err(ProtocolError::TrailingData {
                message: Self::NAME,
            });
        }
        Ok(Self { body, len })
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = DataRow> {
    use proptest::collection::vec;
    use proptest::prelude::*;

    vec(proptest::option::of(vec(any::<u8>(), 0..24)), 0..12).prop_map(|fields| {
        DataRow::from_fields(fields.iter().map(Option::as_deref)).expect("small row encodes")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    const ROW: &[u8] = b"\0\x03\0\0\0\x011\0\0\0\x03one\xff\xff\xff\xff";

    #[test]
    fn bytes() {
        // 'D', Int32 length 22, Int16 3 fields,
        //   Int32 1 "1", Int32 3 "one", Int32 -1 (NULL).
        let row = DataRow::from_fields([Some(&b"1"[..]), Some(b"one"), None]).unwrap();
        roundtrip(
            &row,
            Some(b"D\0\0\0\x16\0\x03\0\0\0\x011\0\0\0\x03one\xff\xff\xff\xff"),
        );
        assert_eq!(row, DataRow::decode(Bytes::from_static(ROW)).unwrap());
        // 'D', Int32 length 6, Int16 0 fields.
        let empty = DataRow::from_fields([]).unwrap();
        roundtrip(&empty, Some(b"D\0\0\0\x06\0\0"));
        assert!(empty.is_empty());
        assert_eq!(empty, DataRow::default());
        // 'D', Int32 length 10, Int16 1 field, Int32 0 (an empty string, not NULL).
        let blank = DataRow::from_fields([Some(&b""[..])]).unwrap();
        roundtrip(&blank, Some(b"D\0\0\0\x0a\0\x01\0\0\0\0"));
        assert_eq!(blank.get(0), Some(Some(&b""[..])));
    }

    #[test]
    fn access() {
        let row = DataRow::decode(Bytes::from_static(ROW)).unwrap();
        assert_eq!(row.len(), 3);
        assert!(!row.is_empty());
        assert_eq!(
            row.iter().collect::<Vec<_>>(),
            vec![Some(&b"1"[..]), Some(&b"one"[..]), None]
        );
        assert_eq!(row.iter().len(), 3);
        assert_eq!(
            row.ranges().collect::<Vec<_>>(),
            vec![Some(6..7), Some(11..14), None]
        );
        assert_eq!(row.get(0), Some(Some(&b"1"[..])));
        assert_eq!(row.get(1), Some(Some(&b"one"[..])));
        assert_eq!(row.get(2), Some(None));
        assert_eq!(row.get(3), None);
        assert_eq!(row.get(usize::MAX), None);
        // A value sliced out of the buffer shares it and outlives the row.
        let value = {
            let row = DataRow::decode(Bytes::from_static(ROW)).unwrap();
            let range = row.ranges().nth(1).unwrap().unwrap();
            row.buffer().slice(range)
        };
        assert_eq!(&value[..], b"one");
        assert_eq!(value.as_ptr(), ROW[11..].as_ptr());
        let mut n = 0;
        for _ in &row {
            n += 1;
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn decode_does_not_copy() {
        let body = Bytes::from_static(ROW);
        let row = DataRow::decode(body.clone()).unwrap();
        assert_eq!(row.buffer().as_ptr(), body.as_ptr());
        assert_eq!(row.get(1).unwrap().unwrap().as_ptr(), ROW[11..].as_ptr());
    }

    #[test]
    fn the_widest_row() {
        // 65 535 fields is legal; the count is unsigned.
        let row = DataRow::from_fields(core::iter::repeat(None).take(65_535)).unwrap();
        let bytes = roundtrip(&row, None);
        assert_eq!(&bytes[5..7], b"\xff\xff");
        assert_eq!(row.len(), 65_535);
        assert_eq!(row.iter().filter(Option::is_none).count(), 65_535);
        assert_eq!(
            DataRow::from_fields(core::iter::repeat(None).take(65_536)),
            Err(EncodeError::TooManyValues {
                message: "DataRow",
                count: 65_536
            })
        );
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| DataRow::decode(Bytes::from_static(b));
        let truncated = Err(ProtocolError::Truncated { message: "DataRow" });
        assert_eq!(decode(b""), truncated);
        assert_eq!(decode(b"\0"), truncated);
        // Two fields announced, one present.
        assert_eq!(decode(b"\0\x02\0\0\0\x01a"), truncated);
        // A length field cut short.
        assert_eq!(decode(b"\0\x01\0\0"), truncated);
        // A value running past the end of the body.
        assert_eq!(decode(b"\0\x01\0\0\0\x05abc"), truncated);
        assert_eq!(decode(b"\0\x01\x7f\xff\xff\xffabc"), truncated);
        // 65 535 fields announced in a tiny body: refused, nothing reserved for them.
        assert_eq!(decode(b"\xff\xff\0\0\0\0"), truncated);
        // Negative lengths other than -1 (pgproto3 CVE-2026-32286).
        let negative = Err(ProtocolError::InvalidValue {
            message: "DataRow",
            field: "field length",
        });
        assert_eq!(decode(b"\0\x01\xff\xff\xff\xfe"), negative);
        assert_eq!(decode(b"\0\x01\x80\0\0\0"), negative);
        assert_eq!(
            decode(b"\0\x02\xff\xff\xff\xff\xff\xff\xff\xfdxyz"),
            negative
        );
        // Bytes after the last field.
        assert_eq!(
            decode(b"\0\x01\xff\xff\xff\xff\0"),
            Err(ProtocolError::TrailingData { message: "DataRow" })
        );
        assert_eq!(
            decode(b"\0\0x"),
            Err(ProtocolError::TrailingData { message: "DataRow" })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(fields in proptest::collection::vec(
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24)), 0..12)
        ) {
            let row = DataRow::from_fields(fields.iter().map(Option::as_deref)).unwrap();
            roundtrip(&row, None);
            prop_assert_eq!(row.len(), fields.len());
            let values: Vec<_> = row.iter().collect();
            let expected: Vec<_> = fields.iter().map(Option::as_deref).collect();
            prop_assert_eq!(values, expected);
            for (range, field) in row.ranges().zip(&fields) {
                let value = range.map(|r| row.buffer().slice(r));
                prop_assert_eq!(value.as_deref(), field.as_deref());
            }
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(row) = DataRow::decode(Bytes::from(body.clone())) {
                // A row that decodes iterates exactly its count and re-encodes as is.
                prop_assert_eq!(row.iter().count(), row.len());
                prop_assert_eq!(&row.buffer()[..], &body[..]);
            }
        }
    }
}
