//! COPY: [`CopyInWriter`] for `COPY ... FROM STDIN`, [`CopyOutStream`] for
//! `COPY ... TO STDOUT`.
//!
//! Both run over the simple protocol (the core's COPY requests), in any format the
//! statement names (text, csv, binary): the data is passed through as bytes.
//!
//! Memory stays bounded in both directions. A writer waits while more than
//! 1 MiB is waiting for the socket; a reader that falls behind by 1024 chunks makes the
//! driver stop reading the socket until it catches up (the server then waits too).
//!
//! While a COPY FROM STDIN is open, the connection belongs to it: requests made
//! meanwhile (from any task) are held until it ends. A task holding a writer must not
//! wait for another request on the same connection before finishing it.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use apg_proto::connection::{Outcome, Request, Response};
use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use crate::client::{collect, usage_error, Client, Keep};
use crate::error::{DbError, Error};
use crate::session::sql_touches_session;
use crate::shared::{Access, Item, Responses, SEND_HIGH_WATER};

/// Data is sent in CopyData messages of about this size.
const CHUNK: usize = 64 * 1024;

impl Client {
    /// Starts `COPY ... FROM STDIN` and returns the writer for its data, once the
    /// server is ready for it.
    ///
    /// ```no_run
    /// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
    /// let mut copy = client.copy_in("COPY users (id, name) FROM STDIN (FORMAT csv)").await?;
    /// copy.write(b"1,ann\n2,bob\n").await?;
    /// let rows = copy.finish().await?;
    /// assert_eq!(rows, 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The server's error (no such table, not a COPY FROM STDIN);
    /// [`ErrorKind::Usage`](crate::ErrorKind::Usage) while another COPY FROM STDIN is
    /// open on the connection; [`ErrorKind::Closed`](crate::ErrorKind::Closed).
    pub async fn copy_in(&self, sql: &str) -> Result<CopyInWriter, Error> {
        let shared = self.shared();
        let touches_session = sql_touches_session(sql);
        let mut responses = shared
            .submit(Access::Normal, |st| {
                if touches_session {
                    st.session.mark_changed();
                }
                let id = st
                    .conn
                    .send(Request::copy_in(sql))
                    .map_err(|e| usage_error(shared, e))?;
                st.register(id);
                Ok(Responses::new(Arc::clone(shared), id))
            })
            .await?;
        loop {
            match responses.next().await {
                Item::Response(Response::CopyIn(_)) => break,
                Item::Response(Response::Error(e)) => {
                    // The rest of the answer (ReadyForQuery) still has to be read.
                    let _ = collect(responses, Keep::Count, None).await;
                    return Err(Error::db(DbError::new(e)));
                }
                Item::Response(_) => {}
                Item::Done(Outcome::ConnectionClosed) => return Err(responses.closed_error()),
                Item::Done(_) => {
                    return Err(Error::usage("the statement is not a COPY FROM STDIN"));
                }
            }
        }
        Ok(CopyInWriter {
            client: self.clone(),
            responses: Some(responses),
            buf: BytesMut::new(),
            ended: false,
        })
    }

    /// Runs `COPY ... TO STDOUT` and returns its data as a stream of chunks (one row
    /// each in text and csv format).
    ///
    /// ```no_run
    /// # async fn f(client: &apg::Client) -> Result<(), apg::Error> {
    /// use futures_util::TryStreamExt;
    ///
    /// let mut out = client.copy_out("COPY users TO STDOUT (FORMAT csv)").await?;
    /// while let Some(chunk) = out.try_next().await? {
    ///     print!("{}", String::from_utf8_lossy(&chunk));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed); the server's errors come
    /// through the stream.
    pub async fn copy_out(&self, sql: &str) -> Result<CopyOutStream, Error> {
        let shared = self.shared();
        let touches_session = sql_touches_session(sql);
        let responses = shared
            .submit(Access::Normal, |st| {
                if touches_session {
                    st.session.mark_changed();
                }
                let id = st
                    .conn
                    .send(Request::query(sql))
                    .map_err(|e| usage_error(shared, e))?;
                st.register_bounded(id);
                Ok(Responses::new(Arc::clone(shared), id))
            })
            .await?;
        Ok(CopyOutStream {
            responses: Some(responses),
            rows: None,
            error: None,
        })
    }
}

/// The data of a `COPY ... FROM STDIN`; see [`Client::copy_in`].
///
/// Write with [`write`](Self::write) (or as a `futures_io::AsyncWrite`), then call
/// [`finish`](Self::finish). Dropping it unfinished aborts the COPY (the connection
/// sends CopyFail for a request nobody waits for): nothing is copied, and the
/// connection stays usable.
pub struct CopyInWriter {
    client: Client,
    responses: Option<Responses>,
    /// Data not yet handed to the connection.
    buf: BytesMut,
    /// CopyDone or CopyFail was sent.
    ended: bool,
}

impl fmt::Debug for CopyInWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CopyInWriter")
            .field("buffered", &self.buf.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl CopyInWriter {
    /// Hands the buffered data to the connection as one CopyData message, waiting
    /// while too much is queued for the socket.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.buf.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let Some(responses) = &self.responses else {
            return Poll::Ready(Err(Error::usage("the COPY has ended")));
        };
        let id = responses.id();
        let shared = self.client.shared();
        let mut st = shared.lock();
        if let Some(e) = st.closed_error() {
            return Poll::Ready(Err(e));
        }
        if st.unsent() >= SEND_HIGH_WATER {
            st.wait_for_send(cx.waker());
            return Poll::Pending;
        }
        if let Err(e) = st.conn.copy_data(id, &self.buf) {
            drop(st);
            return Poll::Ready(Err(self.copy_error(e)));
        }
        self.buf.clear();
        let driver = st.take_driver_waker();
        drop(st);
        if let Some(w) = driver {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }

    /// The COPY is no longer taking data: usually because the server failed it.
    fn copy_error(&self, e: apg_proto::UsageError) -> Error {
        match e {
            apg_proto::UsageError::NotCopyingIn => {
                Error::usage("the server ended the COPY (its error comes from finish)")
            }
            other => usage_error(self.client.shared(), other),
        }
    }

    fn poll_write_inner(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<Result<usize, Error>> {
        if self.ended {
            return Poll::Ready(Err(Error::usage("the COPY has ended")));
        }
        if self.buf.len() >= CHUNK {
            match self.poll_send(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    /// Sends `data` (any part of the COPY stream: rows may be split anywhere).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed); a usage error once the server
    /// has failed the COPY ([`finish`](Self::finish) returns the server's error).
    pub async fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        poll_fn(|cx| self.poll_write_inner(cx, data))
            .await
            .map(drop)
    }

    /// Ends the data (CopyDone) and waits for the server: returns the number of rows
    /// copied.
    ///
    /// # Errors
    ///
    /// The server's error (bad data, a constraint violation): nothing was copied.
    pub async fn finish(mut self) -> Result<u64, Error> {
        poll_fn(|cx| self.poll_send(cx)).await?;
        self.end(None)?;
        let responses = self.responses.take();
        let Some(responses) = responses else {
            return Err(Error::usage("the COPY has ended"));
        };
        let mut out = collect(responses, Keep::Count, None).await?;
        match out.error.take() {
            Some(e) => Err(Error::db(e)),
            None => Ok(out.affected),
        }
    }

    /// Aborts the COPY (CopyFail with `reason`): nothing is copied.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed).
    pub async fn abort(mut self, reason: &str) -> Result<(), Error> {
        self.buf.clear();
        self.end(Some(reason))?;
        if let Some(responses) = self.responses.take() {
            // The server answers a CopyFail with an error (57014): expected.
            collect(responses, Keep::Count, None).await?;
        }
        Ok(())
    }

    /// Sends CopyDone, or CopyFail with `reason`.
    fn end(&mut self, fail: Option<&str>) -> Result<(), Error> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        let Some(id) = self.responses.as_ref().map(Responses::id) else {
            return Ok(());
        };
        let shared = self.client.shared();
        let mut st = shared.lock();
        let result = match fail {
            None => st.conn.copy_done(id),
            // The server ends the session on a CopyFail over 10 000 bytes.
            Some(reason) => st.conn.copy_fail(id, truncate(reason, 1000)),
        };
        let driver = st.take_driver_waker();
        drop(st);
        if let Some(w) = driver {
            w.wake();
        }
        match result {
            Ok(()) => Ok(()),
            // The server failed the COPY already; its error arrives as a response.
            Err(apg_proto::UsageError::NotCopyingIn) => Ok(()),
            Err(e) => Err(usage_error(shared, e)),
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

impl futures_io::AsyncWrite for CopyInWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_inner(cx, buf)
            .map_err(io::Error::from)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_send(cx).map_err(io::Error::from)
    }

    /// Ends the data (CopyDone). Use [`CopyInWriter::finish`] to learn the outcome.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_send(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(this.end(None).map_err(io::Error::from)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The data of a `COPY ... TO STDOUT`; see [`Client::copy_out`].
///
/// Dropping it early reads and discards the rest of the data (the server cannot be
/// stopped short of cancelling the statement); the connection stays usable.
pub struct CopyOutStream {
    responses: Option<Responses>,
    rows: Option<u64>,
    error: Option<Error>,
}

impl fmt::Debug for CopyOutStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CopyOutStream")
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl CopyOutStream {
    /// The number of rows copied, once the stream has ended.
    pub fn rows(&self) -> Option<u64> {
        self.rows
    }
}

impl Stream for CopyOutStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(responses) = &mut this.responses else {
                return Poll::Ready(None);
            };
            let item = match responses.poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(item) => item,
            };
            match item {
                Item::Response(Response::CopyData(data)) => return Poll::Ready(Some(Ok(data))),
                Item::Response(Response::CommandComplete(c)) => this.rows = c.rows(),
                Item::Response(Response::Error(e)) => {
                    this.error.get_or_insert_with(|| Error::db(DbError::new(e)));
                }
                Item::Response(_) => {}
                Item::Done(outcome) => {
                    let closed = responses.closed_error();
                    this.responses = None;
                    let error = match (this.error.take(), outcome) {
                        (Some(e), _) => Some(e),
                        (None, Outcome::ConnectionClosed) => Some(closed),
                        (None, _) => None,
                    };
                    return Poll::Ready(error.map(Err));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("", 0), "");
    }
}
