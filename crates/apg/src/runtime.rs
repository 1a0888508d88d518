//! The seam between apg and an async runtime.
//!
//! Everything in apg is written once over [`AsyncStream`] (futures-io) and [`Runtime`];
//! the adapter crates (`apg-tokio`, `apg-smol`, `apg-async-std`) each implement the trait
//! in a few dozen lines. The runtime is stored as `Arc<dyn Runtime>`, so no public type
//! of apg carries a runtime type parameter.

use std::fmt;
use std::future::Future;
use std::io;
#[cfg(unix)]
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A bidirectional byte stream: a TCP or Unix socket, or TLS over one.
pub trait AsyncStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncStream for T {}

/// TCP keepalive settings (libpq's `keepalives_idle`, `keepalives_interval`,
/// `keepalives_count`); `None` leaves the operating system's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Keepalive {
    /// Idle time before the first probe.
    pub idle: Option<Duration>,
    /// Time between probes.
    pub interval: Option<Duration>,
    /// Probes lost before the connection is dropped.
    pub retries: Option<u32>,
}

/// Socket options for a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOptions {
    /// Disable Nagle's algorithm. Always set by apg: requests are written whole, and
    /// delaying them only adds latency.
    pub nodelay: bool,
    /// TCP keepalives, if enabled.
    pub keepalive: Option<Keepalive>,
}

impl Default for TcpOptions {
    fn default() -> Self {
        Self {
            nodelay: true,
            keepalive: Some(Keepalive::default()),
        }
    }
}

/// What apg needs from an async runtime: sockets, a task spawner and a timer.
pub trait Runtime: Send + Sync + fmt::Debug + 'static {
    /// Connects to `host:port` over TCP (resolving the name; trying each address),
    /// applying `options`.
    fn connect_tcp(
        &self,
        host: String,
        port: u16,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>>;

    /// Connects to the Unix socket at `path`.
    #[cfg(unix)]
    fn connect_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>>;

    /// Runs `future` to completion in the background.
    fn spawn(&self, future: BoxFuture<'static, ()>);

    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}
