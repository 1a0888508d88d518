//! [`Client`]: the handle to one connection, and the query methods.

use std::fmt;
use std::pin::pin;
use std::sync::Arc;

use apg_proto::connection::{ExtendedRequest, Outcome, Request, Response};
use apg_proto::message::backend::{RowDescription, TransactionStatus};
use apg_proto::message::Format;
use apg_proto::types::{FromSql, IsNull, ToSql, Type};
use apg_proto::{EncodeError, UsageError};

use crate::cancel::race;
use crate::error::{DbError, Error};
use crate::row::{Row, SimpleColumn, SimpleQueryMessage, SimpleRow};
use crate::session::{query_touches_session, sql_touches_session};
use crate::shared::{Access, Claim, ConnectionStats, Item, Responses, Shared};
use crate::sqlstate::SqlState;
use crate::statement::{Column, Statement};

/// A parameter list: `&[&1i32, &"text", &None::<i64>]`.
pub type Params<'a> = [&'a (dyn ToSql + Sync)];

mod sealed {
    pub trait Sealed {}
}

/// What can be executed: SQL text (`&str`, `String`) or a prepared [`Statement`].
pub trait ToStatement: sealed::Sealed {
    #[doc(hidden)]
    fn query(&self) -> Query<'_>;
}

/// SQL text or a prepared statement; see [`ToStatement`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Query<'a> {
    /// SQL text, looked up in the statement cache.
    Sql(&'a str),
    /// A statement prepared earlier.
    Statement(&'a Statement),
}

impl sealed::Sealed for str {}
impl ToStatement for str {
    fn query(&self) -> Query<'_> {
        Query::Sql(self)
    }
}

impl sealed::Sealed for String {}
impl ToStatement for String {
    fn query(&self) -> Query<'_> {
        Query::Sql(self)
    }
}

impl sealed::Sealed for Statement {}
impl ToStatement for Statement {
    fn query(&self) -> Query<'_> {
        Query::Statement(self)
    }
}

impl<T: ToStatement + ?Sized> sealed::Sealed for &T {}
impl<T: ToStatement + ?Sized> ToStatement for &T {
    fn query(&self) -> Query<'_> {
        (**self).query()
    }
}

/// A handle to one PostgreSQL connection.
///
/// Cheap to clone, and usable from many tasks at once: requests issued concurrently
/// are pipelined on the one socket (encoded into one send buffer, answered in order).
/// The connection ends when every clone (and every [`Transaction`](crate::Transaction)
/// and [`RowStream`](crate::RowStream) made from it) is dropped, or with
/// [`close`](Self::close).
///
/// A transaction block is a property of the connection: while a
/// [`Transaction`](crate::Transaction) is open, requests made through any clone run
/// inside it.
#[derive(Clone)]
pub struct Client {
    pub(crate) handle: Arc<Handle>,
}

/// Ends the connection when the last [`Client`] clone is dropped.
pub(crate) struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.terminate("every Client handle was dropped");
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Maps a refusal of the core to send to an apg error.
pub(crate) fn usage_error(shared: &Shared, e: UsageError) -> Error {
    match e {
        UsageError::Closed => shared.closed_error().unwrap_or_else(|| Error::closed(None)),
        other => Error::usage(format!("request cannot be sent: {other}")),
    }
}

/// The result of one request, as collected from its responses.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) rows: Vec<Row>,
    /// With [`Keep::One`]: the first row, and whether more followed.
    pub(crate) first: Option<Row>,
    pub(crate) more_rows: bool,
    pub(crate) affected: u64,
    pub(crate) error: Option<DbError>,
    pub(crate) status: Option<TransactionStatus>,
    pub(crate) params: Option<Vec<Type>>,
    pub(crate) description: Option<RowDescription>,
    pub(crate) simple: Vec<SimpleQueryMessage>,
}

/// What to keep of the responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Rows, typed with these columns (or with the RowDescription that arrives).
    Rows,
    /// As `Rows`, for a caller that wants one row: the first is kept (no vector is
    /// allocated), later ones only noted.
    One,
    /// Only counts.
    Count,
    /// Text rows and command tags, for the simple protocol.
    Simple,
}

/// Reads a request's responses to the end. `columns` types the rows when the request
/// carries no RowDescription (a cached statement).
pub(crate) async fn collect(
    mut responses: Responses,
    keep: Keep,
    columns: Option<Arc<[Column]>>,
) -> Result<Collected, Error> {
    let mut out = Collected::default();
    let mut columns = columns;
    let mut simple_columns: Option<Arc<[SimpleColumn]>> = None;
    let outcome = loop {
        match responses.next().await {
            Item::Response(response) => match response {
                Response::DataRow(data) => match keep {
                    Keep::Rows | Keep::One => match &columns {
                        Some(c) if keep == Keep::One => {
                            if out.first.is_none() {
                                out.first = Some(Row::new(Arc::clone(c), data));
                            } else {
                                out.more_rows = true;
                            }
                        }
                        Some(c) => out.rows.push(Row::new(Arc::clone(c), data)),
                        None => {
                            return Err(Error::protocol(apg_proto::Error::Protocol(
                                apg_proto::ProtocolError::UnexpectedMessage {
                                    message: "DataRow",
                                    state: "awaiting a row description",
                                },
                            )))
                        }
                    },
                    Keep::Simple => {
                        let c = simple_columns.clone().unwrap_or_else(|| Arc::new([]));
                        out.simple
                            .push(SimpleQueryMessage::Row(SimpleRow::new(c, data)));
                    }
                    Keep::Count => {}
                },
                Response::RowDescription(desc) => match keep {
                    Keep::Simple => {
                        simple_columns = Some(
                            desc.fields
                                .into_iter()
                                .map(|f| SimpleColumn::new(f.name, Type::from_oid(f.type_oid)))
                                .collect(),
                        );
                    }
                    Keep::Rows | Keep::One | Keep::Count => {
                        columns = Some(
                            desc.fields
                                .iter()
                                .cloned()
                                .map(|f| Column::from_field(f, None))
                                .collect(),
                        );
                        out.description = Some(desc);
                    }
                },
                Response::CommandComplete(c) => {
                    let rows = c.rows();
                    out.affected += rows.unwrap_or(0);
                    if keep == Keep::Simple {
                        out.simple.push(SimpleQueryMessage::CommandComplete {
                            tag: c.tag.into(),
                            rows,
                        });
                    }
                }
                Response::ParameterDescription(p) => {
                    out.params = Some(p.types.into_iter().map(Type::from_oid).collect());
                }
                Response::Error(e) => {
                    out.error.get_or_insert_with(|| DbError::new(e));
                }
                Response::ReadyForQuery(status) => out.status = Some(status),
                // ParseComplete, BindComplete, CloseComplete, NoData, EmptyQuery,
                // PortalSuspended; COPY is not started by these requests.
                _ => {}
            },
            Item::Done(outcome) => break outcome,
        }
    };
    finish(outcome, out, &responses)
}

/// Turns a request's outcome into its result.
fn finish(outcome: Outcome, mut out: Collected, responses: &Responses) -> Result<Collected, Error> {
    match outcome {
        Outcome::Success => Ok(out),
        Outcome::Failed => match out.error.take() {
            Some(db) if db.is_fatal() => Err(Error::closed(Some(Arc::new(Error::db(db))))),
            Some(db) => {
                out.error = Some(db);
                Ok(out)
            }
            None => Err(responses.closed_error()),
        },
        Outcome::Aborted { .. } => Err(Error::aborted()),
        Outcome::RolledBack { .. } => Err(Error::rolled_back(None)),
        _ => Err(responses.closed_error()),
    }
}

/// Whether a failed execution of a cached statement heals by preparing it again: the
/// statement is gone (26000, after `DEALLOCATE` or a pooler switching servers) or its
/// result type changed (0A000 from `RevalidateCachedQuery`, after DDL).
fn needs_reprepare(e: &DbError) -> bool {
    match e.code() {
        SqlState::InvalidSqlStatementName => true,
        SqlState::FeatureNotSupported => e.routine() == Some("RevalidateCachedQuery"),
        _ => false,
    }
}

/// Writes a Bind for `statement` (or the unnamed one) with `params` converted to
/// `types`, in binary format.
pub(crate) fn bind(
    req: &mut ExtendedRequest<'_>,
    portal: &str,
    statement: &str,
    types: &[Type],
    params: &Params<'_>,
    result_formats: &[Format],
) -> Result<(), BindError> {
    let mut failure = None;
    let param_formats: &[Format] = if params.is_empty() {
        &[]
    } else {
        &[Format::Binary]
    };
    let result = req.bind_with(
        portal,
        statement,
        param_formats,
        params.len(),
        result_formats,
        |mut enc| {
            for (i, (param, ty)) in params.iter().zip(types).enumerate() {
                // Written straight into the send buffer: no copy per value.
                enc = enc.value_or_null(|buf| match param.to_sql_checked(ty, buf) {
                    Ok(is_null) => Ok(is_null == IsNull::Yes),
                    Err(e) => {
                        failure = Some(Error::conversion(
                            format!("cannot send parameter ${}", i + 1),
                            e,
                        ));
                        Err(EncodeError::InvalidValue {
                            message: "Bind",
                            field: "parameter value",
                        })
                    }
                })?;
            }
            Ok(enc)
        },
    );
    if let Some(e) = failure {
        return Err(BindError::Apg(e));
    }
    result.map(drop).map_err(BindError::Core)
}

/// Why a request could not be encoded.
#[derive(Debug)]
pub(crate) enum BindError {
    Apg(Error),
    Core(UsageError),
}

impl BindError {
    pub(crate) fn into_error(self, shared: &Shared) -> Error {
        match self {
            Self::Apg(e) => e,
            Self::Core(e) => usage_error(shared, e),
        }
    }
}

/// Sends the Close messages of statements that were evicted and dropped.
pub(crate) fn close_pending(
    req: &mut ExtendedRequest<'_>,
    names: &[String],
) -> Result<(), UsageError> {
    for name in names {
        req.close_statement(name)?;
    }
    Ok(())
}

/// Whether a value cannot name its type (an enum, a composite, `hstore`: no fixed
/// OID), so the statement's parameter types must be described before it is sent, even
/// with the statement cache off: sent as "unspecified", a composite's fields could not
/// be put in the type's order.
pub(crate) fn needs_described_params(params: &Params<'_>) -> bool {
    params
        .iter()
        .any(|p| p.value_natural_type() == Type::UNSPECIFIED)
}

fn check_param_count(expected: usize, params: &Params<'_>) -> Result<(), Error> {
    if expected == params.len() {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "the statement has {expected} parameters but {} were given",
            params.len()
        )))
    }
}

/// A named statement being prepared: closed on the server unless it is handed over.
struct CloseOnDrop<'a> {
    shared: &'a Shared,
    name: Option<String>,
}

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.name.take().filter(|n| !n.is_empty()) {
            self.shared.queue_close(name);
        }
    }
}

/// One attempt at running a statement.
enum Attempt {
    Done(Collected),
    /// The cached statement must be prepared again (and it is safe to retry).
    Reprepare(Statement, DbError),
}

impl Client {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        Self {
            handle: Arc::new(Handle { shared }),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// Whether the connection is closed; every request then fails with
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed).
    pub fn is_closed(&self) -> bool {
        self.shared().lock().is_closed()
    }

    /// Ends the connection: sends Terminate after the requests already sent, and waits
    /// until the socket is closed. Requests made afterwards, through any clone, fail
    /// with [`ErrorKind::Closed`](crate::ErrorKind::Closed).
    pub async fn close(&self) {
        self.shared().terminate("Client::close was called");
        self.shared().wait_closed().await;
    }

    /// The server's version string (`server_version`, e.g. `15.18 (Debian ...)`).
    pub fn server_version(&self) -> Option<String> {
        self.server_parameter("server_version")
    }

    /// The server's version as a number, like `server_version_num` (`150018`).
    pub fn server_version_num(&self) -> Option<u32> {
        self.shared().lock().conn.server_version_num()
    }

    /// The current value of a parameter the server reports (`TimeZone`,
    /// `application_name`, `in_hot_standby`, ...).
    pub fn server_parameter(&self, name: &str) -> Option<String> {
        self.shared()
            .lock()
            .conn
            .server_parameter(name)
            .map(str::to_owned)
    }

    /// The process id of the server backend serving this connection.
    pub fn backend_pid(&self) -> Option<u32> {
        self.shared()
            .lock()
            .conn
            .backend_key()
            .map(|k| k.process_id)
    }

    /// Counters of this connection, for tests. Not public API: may change at any time.
    #[doc(hidden)]
    pub fn __stats(&self) -> ConnectionStats {
        self.shared().lock().stats
    }

    // ---- preparing ---------------------------------------------------------------------

    /// Prepares `sql`: the statement's parameter types and result columns.
    ///
    /// With the statement cache on, the statement is cached (and taken from the cache
    /// if it is there already: no round trip). With the cache off (capacity 0, for
    /// PgBouncer's transaction mode), the server is asked to describe the statement
    /// but keeps nothing; each execution parses it again.
    ///
    /// # Errors
    ///
    /// The server's error for invalid SQL; [`ErrorKind::Closed`](crate::ErrorKind::Closed).
    pub async fn prepare(&self, sql: &str) -> Result<Statement, Error> {
        self.prepare_with(sql, Access::Normal).await
    }

    /// The cached statement for `sql`, or a new one. The lookup needs no future: the
    /// preparing (rare once the cache is warm) is boxed, so that the future of every
    /// statement run by SQL text stays small.
    async fn cached_or_prepared(&self, sql: &str) -> Result<Statement, Error> {
        let cached = self.shared().lock().cache.get(sql);
        match cached {
            Some(statement) => Ok(statement),
            None => Box::pin(self.prepare(sql)).await,
        }
    }

    pub(crate) async fn prepare_with(&self, sql: &str, access: Access) -> Result<Statement, Error> {
        let shared = self.shared();
        // Concurrent first uses of one SQL text prepare it once: the others wait.
        let _preparing = match shared.claim_prepare(sql, access).await {
            Claim::Cached(statement) => return Ok(statement),
            Claim::Mine(guard) => guard,
        };
        let (responses, name) = shared
            .submit(access, |st| {
                let named = st.cache.enabled();
                let name = if named {
                    shared.new_name("s")
                } else {
                    String::new()
                };
                let closes = shared.take_pending_closes();
                let mut req = st.conn.extended().map_err(|e| usage_error(shared, e))?;
                let encoded = close_pending(&mut req, &closes)
                    .and_then(|()| req.parse(&name, sql, &[]).map(drop))
                    .and_then(|()| req.describe_statement(&name).map(drop));
                if let Err(e) = encoded {
                    drop(req);
                    for n in closes {
                        shared.queue_close(n);
                    }
                    return Err(usage_error(shared, e));
                }
                let id = req.finish().map_err(|e| usage_error(shared, e))?;
                if named {
                    st.stats.statements_prepared += 1;
                } else {
                    st.stats.unnamed_parses += 1;
                }
                st.register(id);
                Ok((Responses::new(Arc::clone(shared), id), name))
            })
            .await?;
        // From here the statement may exist on the server: if this future is dropped
        // or the Describe fails, it is closed with the next request.
        let mut pending = CloseOnDrop {
            shared,
            name: Some(name),
        };
        let mut out = self.collect_timed(responses, Keep::Count, None).await?;
        if let Some(e) = out.error.take() {
            return Err(Error::db(e));
        }
        let params = out.params.take().unwrap_or_default();
        let fields = out.description.take().map(|d| d.fields).unwrap_or_default();
        // Types that are not built in are looked up before the statement is built: its
        // parameters and columns carry their descriptions, and the result formats
        // follow them.
        self.describe_types(
            params
                .iter()
                .map(Type::oid)
                .chain(fields.iter().map(|f| f.type_oid)),
            access,
        )
        .await?;
        let name = pending.name.take().unwrap_or_default();
        let mut st = shared.lock();
        let statement = Statement::new(shared, name, Arc::from(sql), params, fields, &st.types);
        st.cache.insert(&statement);
        Ok(statement)
    }

    /// Forgets what this connection learned about the schema: the descriptions of types
    /// that are not built in (enums, composites, domains, ...) and the prepared
    /// statements (closed on the server with the next request). The next statement
    /// looks its types up again: call it after `ALTER TYPE ... ADD VALUE`, or after a
    /// composite type or table it reads as a [`Record`](crate::types::Record) changed.
    /// (asyncpg's `reload_schema_state`.)
    ///
    /// [`Statement`]s prepared before stay usable but keep their old descriptions.
    pub fn reload_schema_state(&self) {
        let statements = {
            let mut st = self.shared().lock();
            st.types.clear_types();
            st.cache.take_all()
        };
        // Dropped unlocked: the last handle of each queues its Close.
        drop(statements);
    }

    /// Requests results of the type called `type_name` in `format` (asyncpg's
    /// `set_type_codec`, for the format half). `type_name` is `pg_type.typname`
    /// (`"ltree"`), or schema-qualified (`"public.ltree"`) to pick one of several types
    /// of that name. The choice also applies where the type is an array element, a
    /// domain's base type, a range's subtype or a composite's field.
    ///
    /// Types not built in and without a choice are read in text format (enums and
    /// composites of binary fields excepted); this is how an extension's type gets a
    /// binary codec: implement [`FromSql`] (and [`ToSql`]; parameters are always sent in
    /// binary) for your own Rust type, accepting `ty.name() == Some("ltree")`, and
    /// choose the format its `from_sql` or `from_sql_text` reads.
    ///
    /// It applies to statements prepared afterwards: the statement cache is emptied. A
    /// statement run with the statement cache off (capacity 0) asks for every column in
    /// binary, whatever is chosen here. Call it once per connection, e.g. in a pool's
    /// `after_connect` hook.
    ///
    /// ```no_run
    /// use apg::types::{FromSql, ToSql, IsNull, Type, ValueError};
    /// use apg::Format;
    /// use bytes::{BufMut, BytesMut};
    ///
    /// /// An `ltree` label path (extension `ltree`). Its binary form is a version byte
    /// /// (1), then the path as text.
    /// #[derive(Debug, PartialEq)]
    /// struct LabelPath(String);
    ///
    /// impl FromSql<'_> for LabelPath {
    ///     fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
    ///         match raw.split_first() {
    ///             Some((1, path)) => std::str::from_utf8(path)
    ///                 .map(|p| Self(p.to_owned()))
    ///                 .map_err(|_| ValueError::malformed::<Self>(ty, "not UTF-8")),
    ///             _ => Err(ValueError::malformed::<Self>(ty, "unknown ltree version")),
    ///         }
    ///     }
    ///     fn accepts(ty: &Type) -> bool {
    ///         ty.name() == Some("ltree")
    ///     }
    /// }
    ///
    /// impl ToSql for LabelPath {
    ///     fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
    ///         out.put_u8(1);
    ///         out.put_slice(self.0.as_bytes());
    ///         Ok(IsNull::No)
    ///     }
    ///     fn accepts(ty: &Type) -> bool {
    ///         ty.name() == Some("ltree")
    ///     }
    ///     fn natural_type() -> Type {
    ///         Type::UNSPECIFIED
    ///     }
    /// }
    ///
    /// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
    /// client.set_type_format("ltree", Format::Binary);
    /// let path: LabelPath = client
    ///     .query_scalar("SELECT subpath($1, 1)", &[&LabelPath("a.b.c".into())])
    ///     .await?;
    /// assert_eq!(path, LabelPath("b.c".into()));
    /// # Ok(()) }
    /// ```
    pub fn set_type_format(&self, type_name: &str, format: Format) {
        let statements = {
            let mut st = self.shared().lock();
            st.types.set_format(type_name, format);
            st.cache.take_all()
        };
        drop(statements);
    }

    // ---- running -----------------------------------------------------------------------

    /// [`collect`], bounded by `command_timeout`: when it elapses, the statement is
    /// cancelled and its completion awaited (see [`crate::cancel`]).
    pub(crate) async fn collect_timed(
        &self,
        responses: Responses,
        keep: Keep,
        columns: Option<Arc<[Column]>>,
    ) -> Result<Collected, Error> {
        let shared = self.shared();
        // One collecting future for both paths: two would both take room in this one.
        let mut collecting = pin!(collect(responses, keep, columns));
        let Some(limit) = shared.command_timeout() else {
            return collecting.await;
        };
        if let Some(result) = race(shared.runtime(), limit, collecting.as_mut()).await {
            return result;
        }
        // Hold back new requests until the cancel has landed and this one ended.
        let gate = shared.try_acquire_gate();
        if let Some(token) = self.cancel_token() {
            // If the cancel cannot be sent, the statement runs to its end.
            let _ = token.cancel().await;
        }
        let result = collecting.await;
        drop(gate);
        let mut out = result?;
        match out.error.take() {
            Some(e) if e.code() == SqlState::QueryCanceled => Err(Error::command_timeout(e)),
            other => {
                out.error = other;
                Ok(out)
            }
        }
    }

    /// Runs a statement and collects its result, re-preparing a cached statement once
    /// when the server dropped it or its result type changed.
    pub(crate) async fn run(
        &self,
        query: Query<'_>,
        params: &Params<'_>,
        keep: Keep,
    ) -> Result<Collected, Error> {
        let shared = self.shared();
        let caching = shared.caching();
        let mut statement = match query {
            Query::Statement(s) => {
                if !s.belongs_to(shared) {
                    return Err(Error::usage(
                        "the statement was prepared on another connection",
                    ));
                }
                Some(s.clone())
            }
            Query::Sql(sql) if caching || needs_described_params(params) => {
                Some(self.cached_or_prepared(sql).await?)
            }
            Query::Sql(_) => None,
        };
        let mut retried = false;
        loop {
            // Bound first: a temporary of the match's scrutinee would stay in this
            // future's state through the awaits of its arms.
            let attempt = self
                .attempt(query, statement.as_ref(), params, keep, Access::Normal)
                .await?;
            match attempt {
                Attempt::Done(mut out) => {
                    if matches!(keep, Keep::Rows | Keep::One)
                        && statement.as_ref().map_or(true, Statement::is_unnamed)
                        && self.result_needs_types(&out)
                    {
                        // Boxed: rare, and large to carry in every statement's future.
                        Box::pin(self.describe_result(&mut out, Access::Normal)).await?;
                    }
                    return Ok(out);
                }
                Attempt::Reprepare(stale, error) => {
                    shared.lock().cache.evict(&stale);
                    if retried {
                        return Err(Error::db(error));
                    }
                    retried = true;
                    // Boxed: rare, and large to carry in every statement's future.
                    statement = Some(Box::pin(self.prepare(stale.sql())).await?);
                }
            }
        }
    }

    /// Whether [`describe_result`](Self::describe_result) has anything to do: a column
    /// whose type is neither built in nor described yet, or described since.
    fn result_needs_types(&self, out: &Collected) -> bool {
        let Some(row) = out.first.as_ref().or_else(|| out.rows.first()) else {
            return false;
        };
        let st = self.shared().lock();
        row.columns().iter().any(|c| {
            let oid = c.type_().oid();
            !c.type_().is_described()
                && (!st.types.knows(oid) || st.types.resolve(oid).is_described())
        })
    }

    /// The columns of a result that came with its own RowDescription (the unnamed
    /// statement) know their types by OID only: looks up those that are not built in
    /// and gives the rows the described columns.
    async fn describe_result(&self, out: &mut Collected, access: Access) -> Result<(), Error> {
        let first = out.first.as_ref().or_else(|| out.rows.first());
        let Some(columns) = first.map(|r| Arc::clone(r.columns_arc())) else {
            return Ok(());
        };
        self.describe_types(columns.iter().map(|c| c.type_().oid()), access)
            .await?;
        let described: Arc<[Column]> = {
            let st = self.shared().lock();
            if columns.iter().all(|c| {
                c.type_().is_described() || !st.types.resolve(c.type_().oid()).is_described()
            }) {
                return Ok(());
            }
            columns
                .iter()
                .map(|c| c.with_type(st.types.resolve(c.type_().oid())))
                .collect()
        };
        for row in out.rows.iter_mut().chain(out.first.as_mut()) {
            row.set_columns(Arc::clone(&described));
        }
        Ok(())
    }

    /// Runs `query` once as the unnamed statement, with `access` to the connection:
    /// one round trip, no statement cache.
    pub(crate) async fn attempt_unnamed(
        &self,
        query: Query<'_>,
        params: &Params<'_>,
        keep: Keep,
        access: Access,
    ) -> Result<Collected, Error> {
        match self.attempt(query, None, params, keep, access).await? {
            Attempt::Done(out) => Ok(out),
            // Only a named statement is prepared again.
            Attempt::Reprepare(_, e) => Err(Error::db(e)),
        }
    }

    /// Sends one execution and reads its result.
    async fn attempt(
        &self,
        query: Query<'_>,
        statement: Option<&Statement>,
        params: &Params<'_>,
        keep: Keep,
        access: Access,
    ) -> Result<Attempt, Error> {
        let shared = self.shared();
        if let Some(s) = statement {
            check_param_count(s.params().len(), params)?;
        }
        let named = statement.filter(|s| !s.is_unnamed());
        let touches_session = query_touches_session(query, statement);
        let responses = shared
            .submit(access, |st| {
                let closes = shared.take_pending_closes();
                let st = &mut *st;
                if touches_session {
                    st.session.mark_changed();
                }
                let mut req = st.conn.extended().map_err(|e| usage_error(shared, e))?;
                let encoded = encode_execution(&mut req, &closes, query, statement, params, 0);
                if let Err(e) = encoded {
                    drop(req);
                    for n in closes {
                        shared.queue_close(n);
                    }
                    return Err(e.into_error(shared));
                }
                if let Some(s) = named {
                    req.expect_columns(u16::try_from(s.columns().len()).unwrap_or(u16::MAX));
                }
                let id = req.finish().map_err(|e| usage_error(shared, e))?;
                if named.is_none() {
                    st.stats.unnamed_parses += 1;
                }
                st.register(id);
                Ok(Responses::new(Arc::clone(shared), id))
            })
            .await?;
        let columns = named.map(|s| Arc::clone(s.columns_arc()));
        let mut out = self.collect_timed(responses, keep, columns).await?;
        match out.error.take() {
            None => Ok(Attempt::Done(out)),
            Some(e) => match named {
                Some(s) if needs_reprepare(&e) && out.status == Some(TransactionStatus::Idle) => {
                    Ok(Attempt::Reprepare(s.clone(), e))
                }
                Some(s) if needs_reprepare(&e) => {
                    // Inside a transaction block the transaction is aborted already:
                    // report the error, but do not use the stale statement again.
                    shared.lock().cache.evict(s);
                    Err(Error::db(e))
                }
                _ => Err(Error::db(e)),
            },
        }
    }

    /// Runs a statement and returns its rows.
    ///
    /// `statement` is SQL text (prepared and cached on first use) or a [`Statement`];
    /// `params` are its parameters, `$1`, `$2`, ... Values are sent and rows received
    /// in binary format.
    ///
    /// ```no_run
    /// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
    /// let rows = client
    ///     .query("SELECT id, name FROM users WHERE id > $1", &[&10i32])
    ///     .await?;
    /// for row in &rows {
    ///     let id: i32 = row.get("id");
    ///     let name: &str = row.get(1);
    ///     println!("{id} {name}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Db`](crate::ErrorKind::Db) for an error reported by the server;
    /// [`ErrorKind::Conversion`](crate::ErrorKind::Conversion) when a parameter's Rust
    /// type does not match its PostgreSQL type (nothing is sent then);
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed) when the connection is closed.
    pub async fn query<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, Error> {
        Ok(self.run(statement.query(), params, Keep::Rows).await?.rows)
    }

    /// Runs a statement that returns exactly one row, and returns it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::RowCount`](crate::ErrorKind::RowCount) for no row or several; as
    /// [`query`](Self::query) otherwise.
    pub async fn query_one<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Row, Error> {
        match self.query_first(statement, params).await? {
            (Some(row), false) => Ok(row),
            (None, _) => Err(Error::row_count("query returned no rows, one expected")),
            (Some(_), true) => Err(Error::row_count(
                "query returned several rows, one expected",
            )),
        }
    }

    /// Runs a statement, keeping its first row only: that row, and whether others
    /// followed.
    async fn query_first<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<(Option<Row>, bool), Error> {
        let out = self.run(statement.query(), params, Keep::One).await?;
        Ok((out.first, out.more_rows))
    }

    /// Runs a statement that returns at most one row, and returns it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::RowCount`](crate::ErrorKind::RowCount) for several rows; as
    /// [`query`](Self::query) otherwise.
    pub async fn query_opt<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Option<Row>, Error> {
        match self.query_first(statement, params).await? {
            (row, false) => Ok(row),
            (_, true) => Err(Error::row_count(
                "query returned several rows, at most one expected",
            )),
        }
    }

    /// Runs a statement that returns exactly one row, and returns its first column.
    ///
    /// ```no_run
    /// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
    /// let n: i64 = client.query_scalar("SELECT count(*) FROM users", &[]).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`query_one`](Self::query_one); [`ErrorKind::Column`](crate::ErrorKind::Column)
    /// when the row has no column; [`ErrorKind::Conversion`](crate::ErrorKind::Conversion)
    /// when the value is not a `T`.
    pub async fn query_scalar<T, S>(&self, statement: &S, params: &Params<'_>) -> Result<T, Error>
    where
        T: for<'a> FromSql<'a>,
        S: ToStatement + ?Sized,
    {
        self.query_one(statement, params).await?.try_get(0)
    }

    /// Runs a statement and returns the number of rows it affected (for INSERT,
    /// UPDATE, DELETE, MERGE, COPY, SELECT; 0 for other commands). Rows it returns are
    /// discarded.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query).
    pub async fn execute<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<u64, Error> {
        Ok(self
            .run(statement.query(), params, Keep::Count)
            .await?
            .affected)
    }

    /// Runs one statement once per parameter set, in one round trip, as one unit: all
    /// executions are pipelined in one sync group, so outside a transaction block
    /// either all of them take effect or, if one fails, none does. Returns the total
    /// number of rows affected.
    ///
    /// ```no_run
    /// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
    /// let n = client
    ///     .execute_many(
    ///         "INSERT INTO users (id, name) VALUES ($1, $2)",
    ///         &[&[&1i32, &"ann"], &[&2i32, &"bob"]],
    ///     )
    ///     .await?;
    /// assert_eq!(n, 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The first error; as [`query`](Self::query) otherwise.
    pub async fn execute_many<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        param_sets: &[&Params<'_>],
    ) -> Result<u64, Error> {
        let shared = self.shared();
        let query = statement.query();
        let caching = shared.caching();
        let mut statement = match query {
            Query::Statement(s) => Some(s.clone()),
            Query::Sql(sql) if caching || param_sets.iter().any(|p| needs_described_params(p)) => {
                Some(self.cached_or_prepared(sql).await?)
            }
            Query::Sql(_) => None,
        };
        let mut retried = false;
        loop {
            let attempt = self
                .attempt_many(query, statement.as_ref(), param_sets)
                .await?;
            match attempt {
                Attempt::Done(out) => return Ok(out.affected),
                Attempt::Reprepare(stale, error) => {
                    shared.lock().cache.evict(&stale);
                    if retried {
                        return Err(Error::db(error));
                    }
                    retried = true;
                    // Boxed: rare, and large to carry in every statement's future.
                    statement = Some(Box::pin(self.prepare(stale.sql())).await?);
                }
            }
        }
    }

    async fn attempt_many(
        &self,
        query: Query<'_>,
        statement: Option<&Statement>,
        param_sets: &[&Params<'_>],
    ) -> Result<Attempt, Error> {
        let shared = self.shared();
        if let Some(s) = statement {
            if !s.belongs_to(shared) {
                return Err(Error::usage(
                    "the statement was prepared on another connection",
                ));
            }
            for params in param_sets {
                check_param_count(s.params().len(), params)?;
            }
        }
        if param_sets.is_empty() {
            return Ok(Attempt::Done(Collected::default()));
        }
        let named = statement.filter(|s| !s.is_unnamed());
        let touches_session = query_touches_session(query, statement);
        let responses = shared
            .submit(Access::Normal, |st| {
                let closes = shared.take_pending_closes();
                let st = &mut *st;
                if touches_session {
                    st.session.mark_changed();
                }
                let mut req = st.conn.extended().map_err(|e| usage_error(shared, e))?;
                let mut encoded = close_pending(&mut req, &closes).map_err(BindError::Core);
                if encoded.is_ok() {
                    encoded = encode_many(&mut req, query, statement, param_sets);
                }
                if let Err(e) = encoded {
                    drop(req);
                    for n in closes {
                        shared.queue_close(n);
                    }
                    return Err(e.into_error(shared));
                }
                let id = req.finish().map_err(|e| usage_error(shared, e))?;
                if named.is_none() {
                    st.stats.unnamed_parses += 1;
                }
                st.register(id);
                Ok(Responses::new(Arc::clone(shared), id))
            })
            .await?;
        let mut out = self.collect_timed(responses, Keep::Count, None).await?;
        match out.error.take() {
            None => Ok(Attempt::Done(out)),
            Some(e) => match named {
                Some(s) if needs_reprepare(&e) && out.status == Some(TransactionStatus::Idle) => {
                    Ok(Attempt::Reprepare(s.clone(), e))
                }
                Some(s) if needs_reprepare(&e) => {
                    shared.lock().cache.evict(s);
                    Err(Error::db(e))
                }
                _ => Err(Error::db(e)),
            },
        }
    }

    // ---- simple protocol -----------------------------------------------------------------

    /// Runs one or more statements separated by `;` with the simple protocol, and
    /// returns their rows (as text) and command tags, in order. Without parameters:
    /// do not build `sql` from untrusted input.
    ///
    /// The statements run as one implicit transaction unless they contain their own
    /// `BEGIN`/`COMMIT`: if one fails, the effects of those before it are rolled back.
    ///
    /// # Errors
    ///
    /// The first statement error; [`ErrorKind::Closed`](crate::ErrorKind::Closed).
    pub async fn simple_query(&self, sql: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        let out = self.simple(sql, Access::Normal, Keep::Simple).await?;
        Ok(out.simple)
    }

    /// Runs one or more statements separated by `;` with the simple protocol,
    /// discarding their results. Meant for schema set-up and session settings.
    ///
    /// # Errors
    ///
    /// As [`simple_query`](Self::simple_query).
    pub async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        self.simple(sql, Access::Normal, Keep::Count)
            .await
            .map(drop)
    }

    pub(crate) async fn simple(
        &self,
        sql: &str,
        access: Access,
        keep: Keep,
    ) -> Result<Collected, Error> {
        let responses = self.send_simple(sql, access).await?;
        let mut out = self.collect_timed(responses, keep, None).await?;
        match out.error.take() {
            Some(e) => Err(Error::db(e)),
            None => Ok(out),
        }
    }

    pub(crate) async fn send_simple(&self, sql: &str, access: Access) -> Result<Responses, Error> {
        let shared = self.shared();
        let touches_session = sql_touches_session(sql);
        shared
            .submit(access, |st| {
                if touches_session {
                    st.session.mark_changed();
                }
                let id = st
                    .conn
                    .send(Request::query(sql))
                    .map_err(|e| usage_error(shared, e))?;
                st.register(id);
                Ok(Responses::new(Arc::clone(shared), id))
            })
            .await
    }

    /// Queues a simple query whose result nobody reads (a ROLLBACK from `Drop`): it
    /// goes out before any later request.
    pub(crate) fn send_detached(&self, sql: &str) {
        let shared = self.shared();
        let _ = shared.submit_now(Access::Bypass, |st| {
            let id = st
                .conn
                .send(Request::query(sql))
                .map_err(|e| usage_error(shared, e))?;
            st.conn.discard(id);
            Ok(())
        });
    }
}

/// Encodes one execution: Parse (for the unnamed statement), Bind, Describe (when the
/// columns are not known), Execute with `max_rows`. The caller adds Sync or Flush.
pub(crate) fn encode_execution(
    req: &mut ExtendedRequest<'_>,
    closes: &[String],
    query: Query<'_>,
    statement: Option<&Statement>,
    params: &Params<'_>,
    max_rows: u32,
) -> Result<(), BindError> {
    encode_portal(req, closes, "", query, statement, params)?;
    req.execute("", max_rows).map_err(BindError::Core)?;
    Ok(())
}

/// Encodes Close for `closes`, then Parse (unnamed statement) or nothing, Bind into
/// `portal`, and Describe of the portal when the statement's columns are not cached.
pub(crate) fn encode_portal(
    req: &mut ExtendedRequest<'_>,
    closes: &[String],
    portal: &str,
    query: Query<'_>,
    statement: Option<&Statement>,
    params: &Params<'_>,
) -> Result<(), BindError> {
    close_pending(req, closes).map_err(BindError::Core)?;
    match statement.filter(|s| !s.is_unnamed()) {
        Some(s) => bind(
            req,
            portal,
            s.name(),
            s.params(),
            params,
            s.result_formats(),
        )?,
        None => {
            let (sql, types) = unnamed_types(query, statement, params);
            let oids: Vec<u32> = types.iter().map(Type::oid).collect();
            req.parse("", sql, &oids).map_err(BindError::Core)?;
            // A statement described beforehand knows its columns' formats (what
            // `set_type_format` chose included); otherwise the columns are not known
            // before the Describe answers, so every column is requested in binary.
            let formats = statement.map_or(&[Format::Binary][..], Statement::result_formats);
            bind(req, portal, "", &types, params, formats)?;
            req.describe_portal(portal).map_err(BindError::Core)?;
        }
    }
    Ok(())
}

/// The SQL and parameter types for the unnamed statement: the prepared types if the
/// statement was described, else each value's natural type (so the server never reads
/// a binary value as a type it inferred differently).
fn unnamed_types<'a>(
    query: Query<'a>,
    statement: Option<&'a Statement>,
    params: &Params<'_>,
) -> (&'a str, Vec<Type>) {
    match (statement, query) {
        (Some(s), _) => (s.sql(), s.params().to_vec()),
        (None, Query::Sql(sql)) => (sql, params.iter().map(|p| p.value_natural_type()).collect()),
        (None, Query::Statement(s)) => (s.sql(), s.params().to_vec()),
    }
}

fn encode_many(
    req: &mut ExtendedRequest<'_>,
    query: Query<'_>,
    statement: Option<&Statement>,
    param_sets: &[&Params<'_>],
) -> Result<(), BindError> {
    match statement.filter(|s| !s.is_unnamed()) {
        Some(s) => {
            for params in param_sets {
                bind(req, "", s.name(), s.params(), params, &[])?;
                req.execute("", 0).map_err(BindError::Core)?;
            }
        }
        None => {
            let first: &Params<'_> = param_sets.first().map_or(&[], |p| *p);
            let (sql, types) = unnamed_types(query, statement, first);
            let oids: Vec<u32> = types.iter().map(Type::oid).collect();
            req.parse("", sql, &oids).map_err(BindError::Core)?;
            for params in param_sets {
                check_param_count(types.len(), params).map_err(BindError::Apg)?;
                bind(req, "", "", &types, params, &[])?;
                req.execute("", 0).map_err(BindError::Core)?;
            }
        }
    }
    Ok(())
}
