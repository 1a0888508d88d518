//! What a [`Connection`](super::Connection) reports: [`Event`]s, drained with
//! `poll_event`.

use alloc::string::String;
use bytes::Bytes;

use crate::error::{DbError, Error};
use crate::message::backend::{
    CommandComplete, CopyInResponse, CopyOutResponse, DataRow, ErrorFields, NotificationResponse,
    ParameterDescription, RowDescription, TransactionStatus,
};

/// Identifies one request sent on a connection.
///
/// Ids increase monotonically and are never reused, so a stale id can never address a
/// later request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The id as a number, for logs and maps.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// Something the application should know about, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A NOTIFY on a channel this session listens to. Can arrive at any time.
    Notification(NotificationResponse),
    /// A notice or warning from the server. Can arrive at any time, including during
    /// start-up and between the rows of a result.
    Notice(ErrorFields),
    /// A reported server parameter (a `GUC_REPORT` setting such as `TimeZone` or
    /// `in_hot_standby`) was set or changed.
    ParameterStatus {
        /// The parameter's name.
        name: String,
        /// Its new value.
        value: String,
    },
    /// The server accepted SSLRequest: put TLS between the socket and this connection
    /// now, then call [`Connection::tls_established`](super::Connection::tls_established).
    StartTls,
    /// Start-up and authentication are complete; requests sent earlier are on their way.
    Connected,
    /// A response to request `id`.
    Response {
        /// The request answered.
        id: RequestId,
        /// The message.
        body: Response,
    },
    /// Request `id` is complete: no more events will name it.
    RequestDone {
        /// The request.
        id: RequestId,
        /// How it ended.
        outcome: Outcome,
    },
    /// The connection ended: `None` after an orderly Terminate, the error otherwise.
    /// Every request still in flight got its [`Event::RequestDone`] before this.
    Closed(Option<Error>),
}

/// One message answering a request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Response {
    /// The statement was parsed (Parse).
    ParseComplete,
    /// The portal was bound (Bind).
    BindComplete,
    /// The statement or portal was closed (Close).
    CloseComplete,
    /// The parameter types of a described statement.
    ParameterDescription(ParameterDescription),
    /// The columns of the rows that follow (or of a described statement or portal).
    RowDescription(RowDescription),
    /// The described statement or portal returns no rows.
    NoData,
    /// One row; its fields are slices of the receive buffer.
    DataRow(DataRow),
    /// A statement finished; the tag says which and how many rows.
    CommandComplete(CommandComplete),
    /// The query string was empty.
    EmptyQuery,
    /// Execute stopped at its row limit; execute the portal again for more.
    PortalSuspended,
    /// The server is ready for COPY data: send it with
    /// [`Connection::copy_data`](super::Connection::copy_data).
    CopyIn(CopyInResponse),
    /// COPY data follows.
    CopyOut(CopyOutResponse),
    /// A chunk of COPY TO STDOUT data (usually one row).
    CopyData(Bytes),
    /// The end of COPY TO STDOUT data; a CommandComplete follows.
    CopyDone,
    /// The server reported an error for this request.
    Error(DbError),
    /// The ReadyForQuery that ends this request's sync group (the answer to its Sync,
    /// or the end of a simple query): the transaction status right after it. Always
    /// the last response of a request that ends with Sync or is a simple query.
    ///
    /// A client uses it to tell whether a failed request ran inside a transaction
    /// block (`Failed`) or not (`Idle`): the connection-wide
    /// [`transaction_status`](super::Connection::transaction_status) may already
    /// reflect later requests by the time the event is read.
    ReadyForQuery(TransactionStatus),
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Every statement of the request ran.
    Success,
    /// The request received a [`Response::Error`].
    Failed,
    /// Never executed: an earlier request of the same sync group failed and the server
    /// skipped everything up to the next Sync.
    Aborted {
        /// The request whose error caused the skip.
        by: RequestId,
    },
    /// Executed, but a later request of the same implicit transaction (sync group) failed,
    /// so its effects were rolled back.
    RolledBack {
        /// The request whose error caused the rollback.
        by: RequestId,
    },
    /// The connection ended before the request finished. Whether it took effect is
    /// unknown: a statement outside a transaction block may have committed.
    ConnectionClosed,
}
