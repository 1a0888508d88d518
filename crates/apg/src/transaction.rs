//! Transactions: [`Transaction`] (a `BEGIN` block or a savepoint inside one) and
//! [`TransactionOptions`].
//!
//! A transaction that is dropped without [`commit`](Transaction::commit) or
//! [`rollback`](Transaction::rollback) rolls back: its `Drop` queues the ROLLBACK on the
//! connection, where it goes out before any later request. The same holds when the
//! future of `transaction()` is dropped after BEGIN was sent, or the future of
//! `commit()` before COMMIT was: the connection is never left inside a transaction
//! block by a dropped handle or future.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError};

use apg_proto::types::FromSql;

use crate::client::{collect, Client, Keep, Params, ToStatement};
use crate::error::{DbError, Error, ErrorKind};
use crate::ident::quote_ident;
use crate::row::{Row, SimpleQueryMessage};
use crate::shared::Access;
use crate::statement::Statement;
use crate::stream::RowStream;

/// A transaction's isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (PostgreSQL runs it as READ COMMITTED).
    ReadUncommitted,
    /// `READ COMMITTED`, PostgreSQL's default.
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`.
    Serializable,
}

impl IsolationLevel {
    fn sql(self) -> &'static str {
        match self {
            Self::ReadUncommitted => "READ UNCOMMITTED",
            Self::ReadCommitted => "READ COMMITTED",
            Self::RepeatableRead => "REPEATABLE READ",
            Self::Serializable => "SERIALIZABLE",
        }
    }
}

/// How a transaction starts: isolation level, read-only, deferrable. Unset options
/// take the session's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionOptions {
    isolation: Option<IsolationLevel>,
    read_only: Option<bool>,
    deferrable: Option<bool>,
}

impl TransactionOptions {
    /// Default options: `BEGIN` alone.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the isolation level.
    #[must_use]
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// Makes the transaction `READ ONLY` (`true`) or `READ WRITE` (`false`).
    #[must_use]
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = Some(read_only);
        self
    }

    /// Makes the transaction `DEFERRABLE` (`true`) or `NOT DEFERRABLE` (`false`); only
    /// meaningful for a serializable, read-only transaction.
    #[must_use]
    pub fn deferrable(mut self, deferrable: bool) -> Self {
        self.deferrable = Some(deferrable);
        self
    }

    /// The `BEGIN` statement for these options.
    fn begin_sql(&self) -> String {
        let mut sql = String::from("BEGIN");
        let mut modes = Vec::new();
        if let Some(level) = self.isolation {
            modes.push(format!("ISOLATION LEVEL {}", level.sql()));
        }
        if let Some(ro) = self.read_only {
            modes.push(if ro { "READ ONLY" } else { "READ WRITE" }.to_owned());
        }
        if let Some(d) = self.deferrable {
            modes.push(if d { "DEFERRABLE" } else { "NOT DEFERRABLE" }.to_owned());
        }
        if !modes.is_empty() {
            sql.push(' ');
            sql.push_str(&modes.join(", "));
        }
        sql
    }
}

/// An open transaction block, or a savepoint inside one.
///
/// Run statements through its methods (the same as [`Client`]'s); end it with
/// [`commit`](Self::commit) or [`rollback`](Self::rollback). Dropping it rolls back.
/// A statement that fails inside it marks it failed: `commit` then rolls back and
/// returns [`ErrorKind::TransactionRolledBack`].
///
/// Nested transactions are savepoints: [`savepoint`](Self::savepoint) and
/// [`transaction`](Self::transaction) borrow the parent until the child ends.
pub struct Transaction<'a> {
    client: Client,
    /// `None` for the outer block, the quoted savepoint name inside it.
    savepoint: Option<String>,
    depth: u32,
    done: bool,
    /// The first server error seen through this handle.
    failed: Mutex<Option<DbError>>,
    _parent: PhantomData<&'a mut ()>,
}

impl fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("savepoint", &self.savepoint)
            .field("depth", &self.depth)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a transaction block (`BEGIN`).
    ///
    /// ```no_run
    /// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
    /// let tx = client.transaction().await?;
    /// tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1", &[]).await?;
    /// tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 2", &[]).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The server's error (for example when a transaction block is already open);
    /// [`ErrorKind::Closed`].
    pub async fn transaction(&self) -> Result<Transaction<'static>, Error> {
        self.transaction_with(TransactionOptions::default()).await
    }

    /// Starts a transaction block with `options`
    /// (`BEGIN ISOLATION LEVEL ..., READ ONLY, DEFERRABLE`).
    ///
    /// # Errors
    ///
    /// As [`transaction`](Self::transaction).
    pub async fn transaction_with(
        &self,
        options: TransactionOptions,
    ) -> Result<Transaction<'static>, Error> {
        Transaction::begin(self.clone(), None, 0, &options.begin_sql()).await
    }
}

impl<'a> Transaction<'a> {
    /// Sends `begin` and returns the transaction once the server accepted it. The
    /// handle exists from the moment `begin` is sent, so a dropped future rolls back.
    async fn begin(
        client: Client,
        savepoint: Option<String>,
        depth: u32,
        begin: &str,
    ) -> Result<Self, Error> {
        let responses = client.send_simple(begin, Access::Normal).await?;
        let mut tx = Self {
            client,
            savepoint,
            depth,
            done: false,
            failed: Mutex::new(None),
            _parent: PhantomData,
        };
        let mut out = collect(responses, Keep::Count, None).await?;
        if let Some(e) = out.error.take() {
            // Nothing was opened.
            tx.done = true;
            return Err(Error::db(e));
        }
        Ok(tx)
    }

    /// The client this transaction runs on.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether a statement failed inside this transaction (it can then only roll back).
    pub fn is_failed(&self) -> bool {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Remembers a server error: the transaction block is aborted.
    fn record<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &result {
            if matches!(e.kind(), ErrorKind::Db | ErrorKind::Aborted) {
                let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
                if failed.is_none() {
                    *failed = Some(e.as_db_error().cloned().unwrap_or_else(|| {
                        DbError::new(apg_proto::DbError::new(
                            [
                                (b'S', "ERROR"),
                                (b'C', "25P02"),
                                (b'M', "statement skipped"),
                            ]
                            .into_iter()
                            .collect(),
                        ))
                    }));
                }
            }
        }
        result
    }

    fn take_failure(&self) -> Option<DbError> {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn rollback_sql(&self) -> String {
        match &self.savepoint {
            None => "ROLLBACK".to_owned(),
            Some(sp) => format!("ROLLBACK TO SAVEPOINT {sp}; RELEASE SAVEPOINT {sp}"),
        }
    }

    /// Commits the transaction (or releases the savepoint).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TransactionRolledBack`] if a statement failed inside it (it is
    /// rolled back instead; [`Error::as_db_error`] gives the failure when it went
    /// through this handle), or the server's error for the COMMIT itself (a deferred
    /// constraint, a serialization failure).
    pub async fn commit(mut self) -> Result<(), Error> {
        if let Some(cause) = self.take_failure() {
            self.rollback_now().await?;
            return Err(Error::rolled_back(Some(cause)));
        }
        let sql = match &self.savepoint {
            None => "COMMIT".to_owned(),
            Some(sp) => format!("RELEASE SAVEPOINT {sp}"),
        };
        let responses = self.client.send_simple(&sql, Access::Normal).await?;
        self.done = true;
        let mut out = collect(responses, Keep::Simple, None).await?;
        if let Some(e) = out.error.take() {
            if self.savepoint.is_some() {
                // A failed RELEASE leaves the savepoint; undo it so the parent can go on.
                self.client.send_detached(&self.rollback_sql());
            }
            return Err(Error::db(e));
        }
        // COMMIT of a failed block answers with the tag ROLLBACK, not an error: the
        // failure happened through another handle of this connection.
        let rolled_back = out.simple.iter().any(
            |m| matches!(m, SimpleQueryMessage::CommandComplete { tag, .. } if tag == "ROLLBACK"),
        );
        if rolled_back {
            return Err(Error::rolled_back(None));
        }
        Ok(())
    }

    /// Rolls the transaction back (or rolls back to the savepoint and releases it).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Closed`] (the server rolls back anyway when the connection ends).
    pub async fn rollback(mut self) -> Result<(), Error> {
        self.rollback_now().await
    }

    async fn rollback_now(&mut self) -> Result<(), Error> {
        let sql = self.rollback_sql();
        let responses = self.client.send_simple(&sql, Access::Normal).await?;
        self.done = true;
        let mut out = collect(responses, Keep::Count, None).await?;
        match out.error.take() {
            Some(e) => Err(Error::db(e)),
            None => Ok(()),
        }
    }

    /// Starts a nested transaction: a savepoint named `name`. The parent cannot be
    /// used until it ends.
    ///
    /// # Errors
    ///
    /// The server's error; [`ErrorKind::Closed`].
    pub async fn savepoint(&mut self, name: &str) -> Result<Transaction<'_>, Error> {
        let quoted = quote_ident(name);
        let begin = format!("SAVEPOINT {quoted}");
        let result =
            Transaction::begin(self.client.clone(), Some(quoted), self.depth + 1, &begin).await;
        self.record(result)
    }

    /// Starts a nested transaction with a generated savepoint name.
    ///
    /// # Errors
    ///
    /// As [`savepoint`](Self::savepoint).
    pub async fn transaction(&mut self) -> Result<Transaction<'_>, Error> {
        let name = format!("apg_savepoint_{}", self.depth + 1);
        self.savepoint(&name).await
    }

    /// [`Client::prepare`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::prepare`].
    pub async fn prepare(&self, sql: &str) -> Result<Statement, Error> {
        let result = self.client.prepare(sql).await;
        self.record(result)
    }

    /// [`Client::query`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::query`].
    pub async fn query<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, Error> {
        let result = self.client.query(statement, params).await;
        self.record(result)
    }

    /// [`Client::query_one`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::query_one`].
    pub async fn query_one<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Row, Error> {
        let result = self.client.query_one(statement, params).await;
        self.record(result)
    }

    /// [`Client::query_opt`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::query_opt`].
    pub async fn query_opt<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<Option<Row>, Error> {
        let result = self.client.query_opt(statement, params).await;
        self.record(result)
    }

    /// [`Client::query_scalar`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::query_scalar`].
    pub async fn query_scalar<T, S>(&self, statement: &S, params: &Params<'_>) -> Result<T, Error>
    where
        T: for<'b> FromSql<'b>,
        S: ToStatement + ?Sized,
    {
        let result = self.client.query_scalar(statement, params).await;
        self.record(result)
    }

    /// [`Client::execute`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub async fn execute<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<u64, Error> {
        let result = self.client.execute(statement, params).await;
        self.record(result)
    }

    /// [`Client::execute_many`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::execute_many`].
    pub async fn execute_many<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        param_sets: &[&Params<'_>],
    ) -> Result<u64, Error> {
        let result = self.client.execute_many(statement, param_sets).await;
        self.record(result)
    }

    /// [`Client::simple_query`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::simple_query`].
    pub async fn simple_query(&self, sql: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        let result = self.client.simple_query(sql).await;
        self.record(result)
    }

    /// [`Client::batch_execute`] inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Client::batch_execute`].
    pub async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        let result = self.client.batch_execute(sql).await;
        self.record(result)
    }

    /// [`Client::query_stream`] inside the transaction. Inside a transaction block the
    /// stream's portal survives other requests, so the connection stays usable by
    /// other tasks while the stream is read.
    ///
    /// # Errors
    ///
    /// As [`Client::query_stream`].
    pub async fn query_stream<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: &Params<'_>,
    ) -> Result<RowStream, Error> {
        let result = self
            .client
            .stream(
                statement.query(),
                params,
                crate::stream::DEFAULT_FETCH_SIZE,
                true,
            )
            .await;
        self.record(result)
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.client.send_detached(&self.rollback_sql());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_statements() {
        assert_eq!(TransactionOptions::new().begin_sql(), "BEGIN");
        assert_eq!(
            TransactionOptions::new()
                .isolation(IsolationLevel::Serializable)
                .read_only(true)
                .deferrable(true)
                .begin_sql(),
            "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE"
        );
        assert_eq!(
            TransactionOptions::new().read_only(false).begin_sql(),
            "BEGIN READ WRITE"
        );
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
