//! The body shared by CopyInResponse, CopyOutResponse and CopyBothResponse.
//!
//! ```text
//! Int8   overall format: 0 text, 1 binary
//! Int16  number of columns N
//! Int16  format of each column, N times (all 0 when the overall format is text)
//! ```

use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_count, Format, Reader};

/// Appends the overall format, the column count and the column formats.
pub(super) fn encode(
    buf: &mut BytesMut,
    format: Format,
    column_formats: &[Format],
    message: &'static str,
) -> Result<(), EncodeError> {
    // The overall format is an Int8 holding the same 0/1 code as the Int16 ones.
    buf.put_u8(match format {
        Format::Text => 0,
        Format::Binary => 1,
    });
    put_count(buf, column_formats.len(), message)?;
    for f in column_formats {
        buf.put_i16(f.code());
    }
    Ok(())
}

/// Reads the overall format and the column formats; the body must hold nothing else.
pub(super) fn decode(
    body: Bytes,
    message: &'static str,
) -> Result<(Format, Vec<Format>), ProtocolError> {
    let mut r = Reader::new(body, message);
    let format = Format::from_code(i16::from(r.u8()?), message, "overall format")?;
    // Read as unsigned, like every Int16 count of the protocol.
    let count = usize::from(r.u16()?);
    // Two bytes per column: refuse a count the body cannot hold before reserving for it.
    if r.remaining() < count.saturating_mul(2) {
        return Err(r.truncated());
    }
    let mut column_formats = Vec::with_capacity(count);
    for _ in 0..count {
        column_formats.push(Format::from_code(r.i16()?, message, "column format")?);
    }
    r.finish()?;
    Ok((format, column_formats))
}

/// Values for the three messages' property tests.
#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = (Format, Vec<Format>)> {
    use proptest::prelude::*;

    let format = || prop_oneof![Just(Format::Text), Just(Format::Binary)];
    (format(), proptest::collection::vec(format(), 0..12))
}
