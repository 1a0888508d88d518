//! CopyOutResponse: the server starts sending COPY TO STDOUT data.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYOUTRESPONSE>

use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use super::copy_response;
use crate::error::{EncodeError, ProtocolError};
use crate::message::{Format, Message};

/// CopyOutResponse (`H`): the server entered copy-out mode; CopyData messages (one per
/// row), then CopyDone and CommandComplete follow. Notices and parameter changes may
/// be interleaved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CopyOutResponse {
    /// The overall COPY format: [`Format::Text`] for text and CSV, [`Format::Binary`]
    /// for binary COPY.
    pub format: Format,
    /// The format of each column; all [`Format::Text`] when `format` is text.
    pub column_formats: Vec<Format>,
}

impl Message for CopyOutResponse {
    const TAG: Option<u8> = Some(b'H');
    const NAME: &'static str = "CopyOutResponse";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        copy_response::encode(buf, self.format, &self.column_formats, Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let (format, column_formats) = copy_response::decode(body, Self::NAME)?;
        Ok(Self {
            format,
            column_formats,
        })
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = CopyOutResponse> {
    use proptest::strategy::Strategy;

    copy_response::arb().prop_map(|(format, column_formats)| CopyOutResponse {
        format,
        column_formats,
    })
}

#[cfg(test)]
copy_response::copy_response_tests!(CopyOutResponse, b'H');
