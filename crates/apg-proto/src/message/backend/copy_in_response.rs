//! CopyInResponse: the server waits for COPY FROM STDIN data.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYINRESPONSE>

use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use super::copy_response;
use crate::error::{EncodeError, ProtocolError};
use crate::message::{Format, Message};

/// CopyInResponse (`G`): the server entered copy-in mode and waits for CopyData
/// messages, then CopyDone (or CopyFail to abort).
///
/// The server ignores Sync and Flush while in copy-in mode, so a Sync pipelined before
/// this message arrived must be sent again after CopyDone or CopyFail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CopyInResponse {
    /// The overall COPY format: [`Format::Text`] for text and CSV, [`Format::Binary`]
    /// for binary COPY.
    pub format: Format,
    /// The format of each column; all [`Format::Text`] when `format` is text.
    pub column_formats: Vec<Format>,
}

impl Message for CopyInResponse {
    const TAG: Option<u8> = Some(b'G');
    const NAME: &'static str = "CopyInResponse";

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
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = CopyInResponse> {
    use proptest::strategy::Strategy;

    copy_response::arb().prop_map(|(format, column_formats)| CopyInResponse {
        format,
        column_formats,
    })
}

#[cfg(test)]
copy_response::copy_response_tests!(CopyInResponse, b'G');
