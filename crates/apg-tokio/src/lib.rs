//! The tokio runtime for [`apg`], the asynchronous PostgreSQL client.
//!
//! ```no_run
//! # async fn f() -> Result<(), apg::Error> {
//! let client = apg_tokio::connect("postgres://postgres@localhost/postgres").await?;
//! let n: i32 = client.query_scalar("SELECT $1::int4 + 1", &[&41i32]).await?;
//! assert_eq!(n, 42);
//! # Ok(()) }
//! ```
//!
//! The runtime must have its I/O and time drivers enabled (`#[tokio::main]` and
//! `Builder::enable_all` do).
//!
//! TLS (`sslmode`, rustls) comes with the `tls` feature, on by default: apg's own.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::io;
#[cfg(unix)]
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apg::runtime::{AsyncStream, BoxFuture, Runtime, TcpConnected, TcpOptions};
use socket2::SockRef;
use tokio::io::ReadBuf;
use tokio::runtime::Handle;

// The client's API, so that this crate alone is enough to use apg.
pub use apg::prelude::*;

/// Runs apg on tokio: sockets from `tokio::net`, the connection driver spawned with
/// [`Handle::spawn`], timers from `tokio::time`.
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: Handle,
}

impl TokioRuntime {
    /// The runtime of the calling task, if it runs on one.
    pub fn try_current() -> Option<Self> {
        Handle::try_current().ok().map(Self::new)
    }

    /// The runtime behind `handle`.
    pub fn new(handle: Handle) -> Self {
        Self { handle }
    }
}

/// Connects to the server `url` names (a `postgres://` URL or a `key=value`
/// connection string, see [`Config`]) on the current tokio runtime.
///
/// # Errors
///
/// [`ErrorKind::Config`] when `url` does not parse; otherwise as [`connect_config`].
pub async fn connect(url: &str) -> Result<Client, Error> {
    let config: Config = url.parse()?;
    connect_config(&config).await
}

/// Connects with `config` on the current tokio runtime. See [`Client::connect`].
///
/// # Errors
///
/// As [`Client::connect`]; [`ErrorKind::Io`] when called outside a tokio runtime.
pub async fn connect_config(config: &Config) -> Result<Client, Error> {
    let runtime: Arc<dyn Runtime> = match TokioRuntime::try_current() {
        Some(rt) => Arc::new(rt),
        None => Arc::new(NoRuntime),
    };
    Client::connect(config, runtime).await
}

impl Runtime for TokioRuntime {
    fn connect_tcp(
        &self,
        host: String,
        port: u16,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>> {
        let connecting = self.connect_tcp_peer(host, port, options);
        Box::pin(async move { Ok(connecting.await?.0) })
    }

    fn connect_tcp_peer(
        &self,
        host: String,
        port: u16,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<TcpConnected>> {
        Box::pin(async move {
            // Resolved here so `load_balance_hosts=random` can shuffle the addresses;
            // each is then tried in turn.
            let mut addresses: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), port))
                    .await?
                    .collect();
            apg::runtime::order_addresses(&mut addresses, &options)?;
            let stream = tokio::net::TcpStream::connect(&addresses[..]).await?;
            apg::runtime::apply_tcp_options(SockRef::from(&stream), &options)?;
            let peer = stream.peer_addr().ok();
            Ok((Box::new(Compat(stream)) as Box<dyn AsyncStream>, peer))
        })
    }

    #[cfg(unix)]
    fn connect_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>> {
        Box::pin(async move {
            let stream = tokio::net::UnixStream::connect(path).await?;
            Ok(Box::new(Compat(stream)) as Box<dyn AsyncStream>)
        })
    }

    fn spawn(&self, future: BoxFuture<'static, ()>) {
        // Detached: the driver ends by itself when the connection closes.
        drop(self.handle.spawn(future));
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        // Created on first poll, inside the runtime.
        Box::pin(async move { tokio::time::sleep(duration).await })
    }
}

/// Stands in for a tokio runtime when there is none: every connection attempt fails.
#[derive(Debug)]
struct NoRuntime;

impl Runtime for NoRuntime {
    fn connect_tcp(
        &self,
        _host: String,
        _port: u16,
        _options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>> {
        Box::pin(async { Err(not_in_runtime()) })
    }

    #[cfg(unix)]
    fn connect_unix(&self, _path: PathBuf) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>> {
        Box::pin(async { Err(not_in_runtime()) })
    }

    fn spawn(&self, _future: BoxFuture<'static, ()>) {}

    fn sleep(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(std::future::pending())
    }
}

fn not_in_runtime() -> io::Error {
    io::Error::other("apg_tokio::connect must be called from within a tokio runtime")
}

/// A tokio stream seen through the futures-io traits.
#[derive(Debug)]
struct Compat<T>(T);

impl<T: tokio::io::AsyncRead + Unpin> futures_io::AsyncRead for Compat<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        match Pin::new(&mut self.0).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> futures_io::AsyncWrite for Compat<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
