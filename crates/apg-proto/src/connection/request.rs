//! Building requests: simple queries, COPY FROM STDIN, and extended-protocol sequences.

use bytes::BytesMut;

use super::pipeline::{InFlight, Step};
use super::{Connection, RequestId};
use crate::error::{EncodeError, UsageError};
use crate::message::frontend::{
    BindEncoder, Close, Describe, Execute, Flush, Parse, Query, Sync, Target,
};
use crate::message::{Format, Message, Oid};

/// A simple-protocol request, for [`Connection::send`].
///
/// ```
/// use apg_proto::connection::Request;
///
/// let q = Request::query("SELECT 1; SELECT 2");
/// let c = Request::copy_in("COPY t FROM STDIN (FORMAT csv)");
/// # let _ = (q, c);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    sql: &'a str,
    copy_in: bool,
}

impl<'a> Request<'a> {
    /// A simple query: one or more statements separated by `;`, run as one implicit
    /// transaction (unless they contain BEGIN/COMMIT), results in text format. Also the
    /// way to run COPY TO STDOUT.
    pub const fn query(sql: &'a str) -> Self {
        Self {
            sql,
            copy_in: false,
        }
    }

    /// A `COPY ... FROM STDIN` statement. Once sent, send its data with
    /// [`Connection::copy_data`] and end it with [`Connection::copy_done`] (or abort it
    /// with [`Connection::copy_fail`]). Requests sent meanwhile wait until it ends.
    pub const fn copy_in(sql: &'a str) -> Self {
        Self { sql, copy_in: true }
    }
}

impl Connection {
    pub(super) fn send_simple(&mut self, request: Request<'_>) -> Result<RequestId, UsageError> {
        if request.copy_in && self.copy_in_progress() {
            // Its data would have to wait behind the open COPY's, interleaved with other
            // requests; the caller waits instead.
            return Err(UsageError::CopyInProgress);
        }
        Query::encode_str(request.sql, self.target_buf())?;
        let id = self.pipeline.next_id();
        let mut flight = InFlight::new(id);
        flight.steps = 1;
        flight.closes_group = true;
        flight.copy_in = request.copy_in;
        self.pipeline.steps.push_back(Step::Query);
        self.register(flight);
        Ok(id)
    }
}

/// An extended-protocol request being built: Parse, Bind, Describe, Execute and Close
/// messages in any order, ended by [`finish`](Self::finish) (with Sync) or one of the
/// other `finish_*` methods.
///
/// Messages are encoded straight into the connection's send buffer as they are added;
/// if the request is dropped before it is finished, or a message fails to encode, they
/// are removed again, so the connection never sends half a request.
///
/// ```
/// use apg_proto::connection::{Config, Connection};
/// use apg_proto::message::Format;
///
/// let mut conn = Connection::new(Config::new("postgres"))?;
/// let mut req = conn.extended()?;
/// req.parse("", "SELECT $1::int4 + 1", &[])?;
/// req.bind("", "", &[Format::Binary], &[Some(&7i32.to_be_bytes()[..])], &[Format::Binary])?;
/// req.describe_portal("")?;
/// req.execute("", 0)?;
/// let id = req.finish()?;
/// # let _ = id;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ExtendedRequest<'a> {
    conn: &'a mut Connection,
    flight: InFlight,
    /// Lengths of the target buffer and step queue before this request, to roll back to.
    buf_start: usize,
    steps_start: usize,
    finished: bool,
}

impl<'a> ExtendedRequest<'a> {
    pub(super) fn new(conn: &'a mut Connection) -> Self {
        let id = conn.pipeline.next_id();
        let buf_start = conn.target_buf().len();
        let steps_start = conn.pipeline.steps.len();
        Self {
            conn,
            flight: InFlight::new(id),
            buf_start,
            steps_start,
            finished: false,
        }
    }

    /// The id this request will have.
    pub fn id(&self) -> RequestId {
        self.flight.id
    }

    fn add(
        &mut self,
        step: Option<Step>,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
    ) -> Result<&mut Self, UsageError> {
        encode(self.conn.target_buf())?;
        if let Some(step) = step {
            self.conn.pipeline.steps.push_back(step);
            self.flight.steps += 1;
        }
        Ok(self)
    }

    /// Parse: prepares `sql` as statement `name` (`""` is the unnamed statement, replaced
    /// by the next Parse). `param_types` may be shorter than the parameter count, and 0
    /// leaves a type to the server.
    ///
    /// # Errors
    ///
    /// [`UsageError::Encode`] when the message cannot be encoded; the request is then
    /// unusable and should be dropped.
    pub fn parse(
        &mut self,
        name: &str,
        sql: &str,
        param_types: &[Oid],
    ) -> Result<&mut Self, UsageError> {
        self.add(Some(Step::ParseComplete), |buf| {
            Parse::encode_parts(name, sql, param_types, buf)
        })
    }

    /// Bind: creates portal `portal` from statement `statement` with the given parameter
    /// values (`None` is NULL) and requested result formats.
    ///
    /// `param_formats` and `result_formats` follow the protocol: empty means all text,
    /// one entry applies to all, otherwise one per parameter or column.
    ///
    /// # Errors
    ///
    /// [`UsageError::Encode`] when the message cannot be encoded.
    pub fn bind(
        &mut self,
        portal: &str,
        statement: &str,
        param_formats: &[Format],
        params: &[Option<&[u8]>],
        result_formats: &[Format],
    ) -> Result<&mut Self, UsageError> {
        self.bind_with(
            portal,
            statement,
            param_formats,
            params.len(),
            result_formats,
            |mut enc| {
                for param in params {
                    enc = match param {
                        None => enc.null()?,
                        Some(value) => enc.bytes(value)?,
                    };
                }
                Ok(enc)
            },
        )
    }

    /// Bind, with parameter values written by `write_params` straight into the send
    /// buffer (no intermediate copies): it must write exactly `param_count` values and
    /// hand the encoder back.
    ///
    /// # Errors
    ///
    /// [`UsageError::Encode`] when the message cannot be encoded or `write_params` fails.
    pub fn bind_with(
        &mut self,
        portal: &str,
        statement: &str,
        param_formats: &[Format],
        param_count: usize,
        result_formats: &[Format],
        write_params: impl FnOnce(BindEncoder<'_>) -> Result<BindEncoder<'_>, EncodeError>,
    ) -> Result<&mut Self, UsageError> {
        self.add(Some(Step::BindComplete), |buf| {
            let enc = BindEncoder::begin(buf, portal, statement, param_formats, param_count)?;
            write_params(enc)?.finish(result_formats)
        })
    }

    /// Describe of a prepared statement: its parameter types, then its columns.
    ///
    /// # Errors
    ///
    /// [`UsageError::Encode`] when the name is too long.
    pub fn describe_statement(&mut self, name: &str) -> Result<&mut Self, UsageError> {
        self.add(Some(Step::ParameterDescription), |buf| {
            Describe::encode_parts(Target::Statement, name, buf)
        })?;
        self.conn.pipeline.steps.push_back(Step::RowDescription);
        self.flight.steps += 1;
        Ok(self)
    }

    /// Describe of a portal: the columns its Execute returns.
    ///
    /// # Errors
    ///
    /// [`UsageError::Encode`] when the name is too long.
    pub fn describe_portal(&mut self, name: &str) -> Result<&mut Self, UsageError> {
        self.add(Some(Step::RowDescription), |buf| {
            Describe::encode_parts(Target::Portal, name, buf)
        })
    }

    /// Execute: runs portal `portal`, returning at most `max_rows` rows (0 = all). With a
    /// limit, the answer ends with [`Response::PortalSuspended`](super::Response) while
    /// rows remain; execute the portal again (in the same transaction: a Sync outside a
    /// transaction block ends the portal) for more.
    ///
    /// # Errors
    ///
    /// [`UsageError::Encode`] when the name is too long or `max_rows` exceeds `i32::MAX`.
    pub fn execute(&mut self, portal: &str, max_rows: u32) -> Result<&mut Self, UsageError> {
        self.add(Some(Step::Execute), |buf| {
            Execute::encode_parts(portal, max_rows, buf)
        })
    }

    /// Declares how many columns the rows of this request have, when no Describe is part
    /// of it (a cached statement): every DataRow is checked against it.
    pub fn expect_columns(&mut self, columns: u16) -> &mut Self {
        self.flight.columns = Some(columns);
        self
    }

    /// Close of a prepared statement.
    ///
    /// # Errors
    ///
    /// [`UsageError::Encode`] when the name is too long.
    pub fn close_statement(&mut self, name: &str) -> Result<&mut Self, UsageError> {
        self.add(Some(Step::CloseComplete), |buf| {
            Close::encode_parts(Target::Statement, name, buf)
        })
    }

    /// Close of a portal.
    ///
    /// # Errors
    ///
    /// [`UsageError::Encode`] when the name is too long.
    pub fn close_portal(&mut self, name: &str) -> Result<&mut Self, UsageError> {
        self.add(Some(Step::CloseComplete), |buf| {
            Close::encode_parts(Target::Portal, name, buf)
        })
    }

    /// Ends the request with Sync: it closes its sync group (an implicit transaction,
    /// unless a transaction block is open) and completes at the ReadyForQuery.
    ///
    /// # Errors
    ///
    /// [`UsageError::Encode`] only in theory (Sync has no fields).
    pub fn finish(mut self) -> Result<RequestId, UsageError> {
        self.add(Some(Step::Sync), |buf| Sync.encode(buf))?;
        self.flight.closes_group = true;
        Ok(self.register())
    }

    /// Ends the request with Flush instead of Sync: the server sends what it has without
    /// ending the sync group, so a later request continues it (a portal stays open).
    /// The request completes with its last response.
    ///
    /// # Errors
    ///
    /// [`UsageError::Encode`] only in theory (Flush has no fields).
    pub fn finish_with_flush(mut self) -> Result<RequestId, UsageError> {
        self.add(None, |buf| Flush.encode(buf))?;
        Ok(self.register())
    }

    /// Ends the request with nothing appended: the server answers only once a later
    /// request brings a Sync or Flush. Use it to put several requests in one sync group
    /// (for example a batch that must commit or fail as a whole).
    pub fn finish_without_sync(self) -> RequestId {
        self.register()
    }

    fn register(mut self) -> RequestId {
        self.finished = true;
        let id = self.flight.id;
        let flight = core::mem::replace(&mut self.flight, InFlight::new(id));
        self.conn.register(flight);
        id
    }
}

impl Drop for ExtendedRequest<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let start = self.buf_start;
            self.conn.target_buf().truncate(start);
            self.conn.pipeline.steps.truncate(self.steps_start);
        }
    }
}
