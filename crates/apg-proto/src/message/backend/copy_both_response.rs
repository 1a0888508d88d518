//! CopyBothResponse: the session entered copy-both mode (streaming replication).
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYBOTHRESPONSE>

use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use super::copy_response;
use crate::error::{EncodeError, ProtocolError};
use crate::message::{Format, Message};

/// CopyBothResponse (`W`): both sides now exchange CopyData until one of them sends
/// CopyDone; used only by streaming replication.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CopyBothResponse {
    /// The overall COPY format: [`Format::Text`] for text and CSV, [`Format::Binary`]
    /// for binary COPY.
    pub format: Format,
    /// The format of each column; all [`Format::Text`] when `format` is text.
    pub column_formats: Vec<Format>,
}

impl Message for CopyBothResponse {
    const TAG: Option<u8> = Some(b'W');
    const NAME: &'static str = "CopyBothResponse";

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
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = CopyBothResponse> {
    use proptest::strategy::Strategy;

    copy_response::arb().prop_map(|(format, column_formats)| CopyBothResponse {
        format,
        column_formats,
    })
}

#[cfg(test)]
copy_response::copy_response_tests!(CopyBothResponse, b'W');
