//! [`RowStream`]: a query's rows as a `Stream`, fetched in batches through a portal so
//! memory stays bounded whatever the result size.
//!
//! Theory of operation. The statement is bound to a named portal, and the portal is
//! executed `fetch_size` rows at a time (Execute with a row limit, then Flush instead of
//! Sync: a Sync would end the implicit transaction the portal lives in). While the rows
//! of one batch are read, the next batch is already requested, so at most two batches
//! are buffered. When the portal is exhausted, fails, or the stream is dropped, the
//! portal is closed and a Sync ends the sync group.
//!
//! Outside a transaction block, the stream holds the connection's *gate* from the first
//! batch to that Sync: other requests wait (their Sync would end the portal's implicit
//! transaction). A task that holds such a stream must not wait for another request on
//! the same connection before dropping it. Inside a [`Transaction`](crate::Transaction)
//! the portal survives other requests' Syncs, so no gate is taken.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use apg_proto::connection::{Outcome, Response};
use apg_proto::message::backend::TransactionStatus;
use futures_core::Stream;

use crate::client::{encode_portal, usage_error, BindError, Client, Params, Query, ToStatement};
use crate::error::{DbError, Error};
use crate::row::Row;
use crate::session::query_touches_session;
use crate::shared::{Access, Gate, Item, Responses};
use crate::sqlstate::SqlState;
use crate::statement::{Column, Statement};

/// Rows per batch of [`Client::query_stream`].
pub const DEFAULT_FETCH_SIZE: u32 = 256;

/// The rows of a query, fetched from the server in batches as they are read.
///
/// Returned by [`Client::query_stream`]. Dropping it before the end closes the portal
/// and ends its sync group; the connection stays usable.
pub struct RowStream {
    client: Client,
    /// Held outside a transaction block, until the final Sync is sent.
    gate: Option<Gate>,
    access: Access,
    portal: String,
    fetch_size: u32,
    /// Kept alive: closing a statement closes the portals made from it.
    _statement: Option<Statement>,
    columns: Option<Arc<[Column]>>,
    /// The batches requested and not fully read, oldest first (at most two).
    batches: VecDeque<Responses>,
    /// The current batch has delivered a row (so the next one was requested).
    prefetched: bool,
    affected: Option<u64>,
    /// Rows returned so far.
    delivered: u64,
    finished: bool,
}

impl fmt::Debug for RowStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowStream")
            .field("portal", &self.portal)
            .field("fetch_size", &self.fetch_size)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// Whether a failed bind heals by preparing the statement again (see `client.rs`).
fn needs_reprepare(e: &DbError) -> bool {
    match e.code() {
        SqlState::InvalidSqlStatementName => true,
        SqlState::FeatureNotSupported => e.routine() == Some("RevalidateCachedQuery"),
        _ => false,
    }
}

impl Client {
    /// Runs a statement and returns its rows as a [`Stream`], fetched from the server
    /// in batches of 256 rows, so memory stays bounded for any result size.
    ///
    /// Outside a transaction block, other requests on this connection wait until the
    /// stream is exhausted or dropped (see [`RowStream`]); use
    /// [`Transaction::query_stream`](crate::Transaction::query_stream) to interleave.
    ///
    /// ```no_run
    /// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
    /// use futures_util::TryStreamExt;
    ///
    /// let mut rows = client.query_stream("SELECT g FROM generate_series(1, 1000000) g", &[]).await?;
    /// while let Some(row) = rows.try_next().await? {
    ///     let g: i32 = row.get(0);
    /// #   let _ = g;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query), for preparing and binding; errors while fetching
    /// come from the stream.
    pub async fn query_stream<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<RowStream, Error> {
        self.stream(statement.query(), params, DEFAULT_FETCH_SIZE, false)
            .await
    }

    /// [`query_stream`](Self::query_stream) with `fetch_size` rows per batch (at least 1).
    ///
    /// # Errors
    ///
    /// As [`query_stream`](Self::query_stream).
    pub async fn query_stream_with_fetch_size<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
        fetch_size: u32,
    ) -> Result<RowStream, Error> {
        self.stream(statement.query(), params, fetch_size.max(1), false)
            .await
    }

    pub(crate) async fn stream(
        &self,
        query: Query<'_>,
        params: &Params<'_>,
        fetch_size: u32,
        in_transaction: bool,
    ) -> Result<RowStream, Error> {
        let shared = self.shared();
        let mut statement = match query {
            Query::Statement(s) => {
                if !s.belongs_to(shared) {
                    return Err(Error::usage(
                        "the statement was prepared on another connection",
                    ));
                }
                Some(s.clone())
            }
            // With the cache off too: a row stream's columns are typed from the
            // statement's description (user-defined types looked up in the catalog).
            Query::Sql(sql) => Some(self.prepare(sql).await?),
        };
        if let Some(s) = &statement {
            if s.params().len() != params.len() {
                return Err(Error::usage(format!(
                    "the statement has {} parameters but {} were given",
                    s.params().len(),
                    params.len()
                )));
            }
        }
        let (gate, access) = if in_transaction {
            // Other requests' Syncs do not end a transaction block, and this stream
            // never sends one until it ends: nothing to wait for.
            (None, Access::Bypass)
        } else {
            let gate = shared.acquire_gate().await?;
            let access = gate.access();
            (Some(gate), access)
        };
        let mut retried = false;
        loop {
            let mut stream = RowStream {
                client: self.clone(),
                gate: None,
                access,
                portal: shared.new_name("p"),
                fetch_size,
                _statement: statement.clone(),
                columns: statement
                    .as_ref()
                    .filter(|s| !s.is_unnamed())
                    .map(|s| Arc::clone(s.columns_arc())),
                batches: VecDeque::new(),
                prefetched: false,
                affected: None,
                delivered: 0,
                finished: false,
            };
            let first = stream.send_first(query, statement.as_ref(), params)?;
            stream.batches.push_back(first);
            // Wait for the bind to succeed, so a stale cached statement can be
            // prepared again before any row is delivered.
            match stream.await_bind().await {
                Ok(()) => {
                    stream.gate = gate;
                    return Ok(stream);
                }
                Err(BindFailure::Error(e)) => {
                    stream.gate = gate;
                    return Err(e);
                }
                Err(BindFailure::Db(e)) => {
                    // End the sync group to learn whether a transaction block is open.
                    stream.batches.clear();
                    let status = stream.sync().await?;
                    stream.finished = true;
                    let stale = statement.as_ref().filter(|s| !s.is_unnamed());
                    match stale {
                        Some(s) if needs_reprepare(&e) => {
                            shared.lock().cache.evict(s);
                            if retried || status != Some(TransactionStatus::Idle) {
                                stream.gate = gate;
                                return Err(Error::db(e));
                            }
                            retried = true;
                            let sql = s.sql().to_owned();
                            drop(stream);
                            statement = Some(self.prepare_with(&sql, access).await?);
                        }
                        _ => {
                            stream.gate = gate;
                            return Err(Error::db(e));
                        }
                    }
                }
            }
        }
    }
}

/// Why the first batch failed.
enum BindFailure {
    /// The server refused the statement or its parameters.
    Db(DbError),
    /// Anything else (a closed connection).
    Error(Error),
}

impl RowStream {
    /// Sends Bind into the portal and the first Execute, ended by Flush.
    fn send_first(
        &mut self,
        query: Query<'_>,
        statement: Option<&Statement>,
        params: &Params<'_>,
    ) -> Result<Responses, Error> {
        let shared = Arc::clone(self.client.shared());
        let portal = self.portal.clone();
        let fetch_size = self.fetch_size;
        let touches_session = query_touches_session(query, statement);
        shared.submit_now(self.access, |st| {
            let closes = shared.take_pending_closes();
            let st = &mut *st;
            if touches_session {
                st.session.mark_changed();
            }
            let mut req = st.conn.extended().map_err(|e| usage_error(&shared, e))?;
            let mut encoded = encode_portal(&mut req, &closes, &portal, query, statement, params);
            if encoded.is_ok() {
                encoded = req
                    .execute(&portal, fetch_size)
                    .map(drop)
                    .map_err(BindError::Core);
            }
            if let Err(e) = encoded {
                drop(req);
                for n in closes {
                    shared.queue_close(n);
                }
                return Err(e.into_error(&shared));
            }
            if let Some(s) = statement.filter(|s| !s.is_unnamed()) {
                req.expect_columns(u16::try_from(s.columns().len()).unwrap_or(u16::MAX));
            }
            let id = req
                .finish_with_flush()
                .map_err(|e| usage_error(&shared, e))?;
            if statement.map_or(true, Statement::is_unnamed) {
                st.stats.unnamed_parses += 1;
            }
            st.register_with_acks(id);
            Ok(Responses::new(Arc::clone(&shared), id))
        })
    }

    /// Reads the first batch up to its BindComplete (and RowDescription, for the
    /// unnamed statement).
    async fn await_bind(&mut self) -> Result<(), BindFailure> {
        let Some(first) = self.batches.front_mut() else {
            return Err(BindFailure::Error(Error::usage("no batch requested")));
        };
        loop {
            match first.next().await {
                Item::Response(Response::BindComplete) => return Ok(()),
                Item::Response(Response::Error(e)) => return Err(BindFailure::Db(DbError::new(e))),
                Item::Response(_) => {}
                Item::Done(Outcome::ConnectionClosed) => {
                    return Err(BindFailure::Error(first.closed_error()))
                }
                Item::Done(_) => {
                    return Err(BindFailure::Error(Error::aborted()));
                }
            }
        }
    }

    /// Sends Sync and waits for its ReadyForQuery.
    async fn sync(&mut self) -> Result<Option<TransactionStatus>, Error> {
        let shared = Arc::clone(self.client.shared());
        let mut responses = shared.submit_now(self.access, |st| {
            let req = st.conn.extended().map_err(|e| usage_error(&shared, e))?;
            let id = req.finish().map_err(|e| usage_error(&shared, e))?;
            st.register(id);
            Ok(Responses::new(Arc::clone(&shared), id))
        })?;
        let mut status = None;
        loop {
            match responses.next().await {
                Item::Response(Response::ReadyForQuery(s)) => status = Some(s),
                Item::Response(_) => {}
                Item::Done(Outcome::ConnectionClosed) => return Err(responses.closed_error()),
                Item::Done(_) => return Ok(status),
            }
        }
    }

    /// Requests the next batch.
    fn request_batch(&mut self) -> Result<(), Error> {
        let shared = Arc::clone(self.client.shared());
        let portal = &self.portal;
        let fetch_size = self.fetch_size;
        let responses = shared.submit_now(self.access, |st| {
            let mut req = st.conn.extended().map_err(|e| usage_error(&shared, e))?;
            req.execute(portal, fetch_size)
                .map_err(|e| usage_error(&shared, e))?;
            let id = req
                .finish_with_flush()
                .map_err(|e| usage_error(&shared, e))?;
            st.register(id);
            Ok(Responses::new(Arc::clone(&shared), id))
        })?;
        self.batches.push_back(responses);
        Ok(())
    }

    /// Ends the stream: drops the batches still pending (their rows are consumed and
    /// discarded), closes the portal, sends Sync and releases the gate. The Sync's
    /// answer is not awaited.
    fn end(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.batches.clear();
        let shared = Arc::clone(self.client.shared());
        let portal = &self.portal;
        let _ = shared.submit_now(self.access, |st| {
            let mut req = st.conn.extended().map_err(|e| usage_error(&shared, e))?;
            req.close_portal(portal)
                .map_err(|e| usage_error(&shared, e))?;
            let id = req.finish().map_err(|e| usage_error(&shared, e))?;
            st.conn.discard(id);
            Ok(())
        });
        self.gate = None;
    }

    /// The number of rows the statement returned (or affected), once the stream is
    /// exhausted.
    pub fn rows_affected(&self) -> Option<u64> {
        self.affected
    }

    fn fail(&mut self, error: Error) -> Poll<Option<Result<Row, Error>>> {
        self.end();
        Poll::Ready(Some(Err(error)))
    }
}

impl Stream for RowStream {
    type Item = Result<Row, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            let Some(batch) = this.batches.front_mut() else {
                // The last batch stopped at its row limit: ask for more.
                if let Err(e) = this.request_batch() {
                    return this.fail(e);
                }
                continue;
            };
            let item = match batch.poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(item) => item,
            };
            match item {
                Item::Response(Response::DataRow(data)) => {
                    let Some(columns) = this.columns.clone() else {
                        return this.fail(Error::usage("row without a row description"));
                    };
                    if !this.prefetched && this.batches.len() == 1 {
                        // Overlap the next round trip with reading this batch.
                        this.prefetched = true;
                        if let Err(e) = this.request_batch() {
                            return this.fail(e);
                        }
                    }
                    this.delivered += 1;
                    return Poll::Ready(Some(Ok(Row::new(columns, data))));
                }
                Item::Response(Response::RowDescription(desc)) => {
                    // The types this connection has described already (the unnamed
                    // statement's columns are not looked up here).
                    let st = this.client.shared().lock();
                    let columns = desc
                        .fields
                        .into_iter()
                        .map(|f| {
                            let type_ = st.types.resolve(f.type_oid);
                            Column::from_field(f, None).with_type(type_)
                        })
                        .collect();
                    drop(st);
                    this.columns = Some(columns);
                }
                Item::Response(Response::PortalSuspended) => {
                    this.batches.pop_front();
                    this.prefetched = false;
                }
                Item::Response(Response::CommandComplete(c)) => {
                    // A SELECT run in batches reports the rows of its last batch only.
                    this.affected = Some(c.rows().unwrap_or(0).max(this.delivered));
                    this.end();
                    return Poll::Ready(None);
                }
                Item::Response(Response::EmptyQuery) => {
                    this.affected = Some(0);
                    this.end();
                    return Poll::Ready(None);
                }
                Item::Response(Response::Error(e)) => {
                    return this.fail(Error::db(DbError::new(e)));
                }
                Item::Response(_) => {}
                Item::Done(Outcome::Success) => {
                    // The batch's last response was read: PortalSuspended or the end.
                    this.batches.pop_front();
                }
                Item::Done(Outcome::ConnectionClosed) => {
                    let e = batch.closed_error();
                    return this.fail(e);
                }
                Item::Done(_) => return this.fail(Error::aborted()),
            }
        }
    }
}

impl Drop for RowStream {
    fn drop(&mut self) {
        self.end();
    }
}
