//! ReadyForQuery: the server is ready for a new query cycle.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-READYFORQUERY>

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{Message, Reader};

/// The transaction state the server reports in every ReadyForQuery.
///
/// It is the only reliable source of truth for whether a session is inside a
/// transaction block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionStatus {
    /// `I`: not in a transaction block.
    Idle,
    /// `T`: in a transaction block.
    InTransaction,
    /// `E`: in a failed transaction block; queries are rejected until it ends.
    Failed,
}

impl TransactionStatus {
    /// The status byte used on the wire.
    pub const fn as_byte(self) -> u8 {
        match self {
            Self::Idle => b'I',
            Self::InTransaction => b'T',
            Self::Failed => b'E',
        }
    }
}

/// ReadyForQuery (`Z`): the end of a simple query, or the answer to a Sync.
///
/// In a pipeline, counting ReadyForQuery messages (one per Sync) is the only reliable
/// way to know a sync group is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReadyForQuery {
    /// The session's transaction state.
    pub status: TransactionStatus,
}

impl Message for ReadyForQuery {
    const TAG: Option<u8> = Some(b'Z');
    const NAME: &'static str = "ReadyForQuery";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u8(self.status.as_byte());
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let status = match r.u8()? {
            b'I' => TransactionStatus::Idle,
            b'T' => TransactionStatus::InTransaction,
            b'E' => TransactionStatus::Failed,
            _ => return Err(r.invalid("transaction status")),
        };
        r.finish()?;
        Ok(Self { status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;

    #[test]
    fn bytes() {
        // 'Z', Int32 length 5, Byte1 status.
        for (status, byte) in [
            (TransactionStatus::Idle, b'I'),
            (TransactionStatus::InTransaction, b'T'),
            (TransactionStatus::Failed, b'E'),
        ] {
            roundtrip(
                &ReadyForQuery { status },
                Some(&[b'Z', 0, 0, 0, 5, byte][..]),
            );
        }
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| ReadyForQuery::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"X"),
            Err(ProtocolError::InvalidValue {
                message: "ReadyForQuery",
                field: "transaction status"
            })
        );
        assert_eq!(
            decode(b""),
            Err(ProtocolError::Truncated {
                message: "ReadyForQuery"
            })
        );
        assert_eq!(
            decode(b"II"),
            Err(ProtocolError::TrailingData {
                message: "ReadyForQuery"
            })
        );
    }
}
