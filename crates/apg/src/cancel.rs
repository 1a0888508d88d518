//! Cancelling a running statement ([`CancelToken`]) and `command_timeout`.
//!
//! PostgreSQL cancels through a *separate* connection that carries only a
//! CancelRequest (the session's process id and secret key). The server signals the
//! session's backend, closes the cancel connection and answers nothing; the statement
//! then fails with SQLSTATE 57014 on the original connection, if it was still running.
//!
//! The signal names the session, not the statement: a cancel that arrives after its
//! statement finished may hit the next one. `command_timeout` narrows that window: it
//! holds the connection's gate (when free) from the cancel until the timed-out request
//! has completed, so no new request is sent meanwhile. Requests already pipelined
//! behind the timed-out one can still be hit.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use apg_proto::message::frontend::{CancelRequest, SslRequest};
use apg_proto::message::Message;
use bytes::BytesMut;

use crate::client::Client;
use crate::connect::Target;
use crate::error::Error;
use crate::runtime::{AsyncStream, Runtime, TcpOptions};
use crate::tls::TlsSettings;

/// Where and how to send a cancel request for one session.
pub(crate) struct CancelInfo {
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) target: Target,
    /// The session's TLS settings and server name: a cancel request carries the
    /// session's key, so it is protected like the session (PROTOCOL-NOTES 1.8).
    pub(crate) tls: Option<(Arc<TlsSettings>, String)>,
    /// The session itself runs over TLS: a refusal (`N`) is then an attack or a
    /// misconfiguration, never a reason to send the key in plain text.
    pub(crate) tls_required: bool,
    pub(crate) request: CancelRequest,
    /// Bounds the cancel connection (the connection's `connect_timeout`, or 10 s).
    pub(crate) timeout: Duration,
}

impl fmt::Debug for CancelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret key stays out of logs.
        f.debug_struct("CancelInfo")
            .field("target", &self.target)
            .field("process_id", &self.request.process_id)
            .finish_non_exhaustive()
    }
}

/// Cancels the statement running on a connection, from anywhere; see
/// [`Client::cancel_token`].
#[derive(Debug, Clone)]
pub struct CancelToken {
    info: Arc<CancelInfo>,
}

impl Client {
    /// A token that cancels whatever this connection is running, usable from any
    /// task. `None` if the server sent no cancel key.
    pub fn cancel_token(&self) -> Option<CancelToken> {
        self.shared().cancel_info().map(|info| CancelToken { info })
    }
}

impl CancelToken {
    /// Sends the cancel request and waits until the server has acted on it (it closes
    /// the cancel connection). Whether a statement was cancelled shows on the
    /// original connection: it fails with SQLSTATE 57014 (`QueryCanceled`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) or
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) when the server cannot be
    /// reached.
    pub async fn cancel(&self) -> Result<(), Error> {
        let info = &*self.info;
        // Boxed: connecting and the TLS handshake make a large future, and every
        // statement with a command timeout holds a cancel in its own state.
        let work = Box::pin(send_cancel(info));
        match race(&*info.runtime, info.timeout, work).await {
            Some(result) => result,
            None => Err(Error::timeout("cancel request timed out")),
        }
    }
}

async fn send_cancel(info: &CancelInfo) -> Result<(), Error> {
    let mut packet = BytesMut::new();
    info.request
        .encode(&mut packet)
        .map_err(|e| Error::usage(format!("cannot encode the cancel request: {e}")))?;
    let mut stream =
        match &info.target {
            Target::Tcp(host, port) => info
                .runtime
                .connect_tcp(host.clone(), *port, TcpOptions::default())
                .await
                .map_err(|e| Error::io(format!("cannot connect to {host}:{port} to cancel"), e))?,
            #[cfg(unix)]
            Target::Unix(path) => info.runtime.connect_unix(path.clone()).await.map_err(|e| {
                Error::io(format!("cannot connect to {} to cancel", path.display()), e)
            })?,
        };
    if let Some((settings, host)) = &info.tls {
        stream = start_tls(stream, settings, host, info.tls_required).await?;
    }
    let io_error = |e| Error::io("sending the cancel request failed", e);
    write_all(&mut *stream, &packet).await.map_err(io_error)?;
    // The server closes the connection once it has signalled the backend.
    let mut buf = [0u8; 64];
    loop {
        match poll_fn(|cx| Pin::new(&mut *stream).poll_read(cx, &mut buf)).await {
            Ok(0) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

/// Writes all of `bytes` and flushes.
async fn write_all(stream: &mut dyn AsyncStream, bytes: &[u8]) -> io::Result<()> {
    let mut sent = 0;
    while let Some(rest) = bytes.get(sent..).filter(|r| !r.is_empty()) {
        let n = poll_fn(|cx| Pin::new(&mut *stream).poll_write(cx, rest)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        sent += n;
    }
    poll_fn(|cx| Pin::new(&mut *stream).poll_flush(cx)).await
}

/// Negotiates TLS for a cancel connection as for the session: direct, or SSLRequest
/// and exactly one byte of answer (nothing more is read before the handshake, so no
/// injected plain text can be taken for TLS data).
async fn start_tls(
    mut stream: Box<dyn AsyncStream>,
    settings: &TlsSettings,
    host: &str,
    tls_required: bool,
) -> Result<Box<dyn AsyncStream>, Error> {
    if !settings.direct() {
        let mut request = BytesMut::new();
        SslRequest
            .encode(&mut request)
            .map_err(|e| Error::usage(format!("cannot encode SSLRequest: {e}")))?;
        let io_error = |e| Error::io("sending the cancel request failed", e);
        write_all(&mut *stream, &request).await.map_err(io_error)?;
        let mut answer = [0u8; 1];
        let n = poll_fn(|cx| Pin::new(&mut *stream).poll_read(cx, &mut answer))
            .await
            .map_err(io_error)?;
        match (n, answer) {
            (1, [b'S']) => {}
            (1, [b'N']) if !settings.required() && !tls_required => return Ok(stream),
            (1, [b'N']) => return Err(Error::tls("TLS is required but the server refused it")),
            _ => {
                return Err(Error::tls(
                    "the server did not answer the SSL request of the cancel connection",
                ))
            }
        }
    }
    Ok(settings.handshake(stream, host).await?.0)
}

/// Runs `future` for at most `limit`: `None` if the time ran out first.
pub(crate) async fn race<F: Future>(
    runtime: &dyn Runtime,
    limit: Duration,
    future: F,
) -> Option<F::Output> {
    let mut future = pin!(future);
    // The timer is made only if the future does not complete at once: a pool
    // acquire that finds an idle connection, a statement answered within the first
    // poll, cost no timer.
    let mut sleep = None;
    poll_fn(|cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        let sleep = sleep.get_or_insert_with(|| runtime.sleep(limit));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}
