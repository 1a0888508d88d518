//! The seam between apg and an async runtime.
//!
//! Everything in apg is written once over [`AsyncStream`] (futures-io) and [`Runtime`];
//! the adapter crates (`apg-tokio`, `apg-smol`, `apg-async-std`) each implement the trait
//! in a few dozen lines. The runtime is stored as `Arc<dyn Runtime>`, so no public type
//! of apg carries a runtime type parameter.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A TCP connection and the address it reached, if known
/// ([`Runtime::connect_tcp_peer`]).
pub type TcpConnected = (Box<dyn AsyncStream>, Option<SocketAddr>);

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
    /// `TCP_USER_TIMEOUT` (libpq's `tcp_user_timeout`): how long sent data may stay
    /// unacknowledged before the connection is dropped. Set where the operating system
    /// has the option (Linux, Android, Fuchsia); `None` leaves the system default.
    pub user_timeout: Option<Duration>,
    /// Try the addresses the host name resolves to in a random order rather than the
    /// resolver's (`load_balance_hosts=random`, as libpq does). An adapter that
    /// resolves names itself orders them with [`order_addresses`].
    pub shuffle_addresses: bool,
}

impl Default for TcpOptions {
    fn default() -> Self {
        Self {
            nodelay: true,
            keepalive: Some(Keepalive::default()),
            user_timeout: None,
            shuffle_addresses: false,
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

    /// As [`connect_tcp`](Self::connect_tcp), also returning the address connected
    /// to: a cancel request then goes to that server, not to whichever address the
    /// name resolves to next (libpq does the same). The default knows no address, and
    /// a cancel resolves the name again.
    fn connect_tcp_peer(
        &self,
        host: String,
        port: u16,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<TcpConnected>> {
        let connecting = self.connect_tcp(host, port, options);
        Box::pin(async move { Ok((connecting.await?, None)) })
    }

    /// Connects to the Unix socket at `path`.
    #[cfg(unix)]
    fn connect_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>>;

    /// Runs `future` to completion in the background.
    fn spawn(&self, future: BoxFuture<'static, ()>);

    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Puts the addresses a host name resolved to in the order `options` asks for: shuffled
/// with [`TcpOptions::shuffle_addresses`], else unchanged. For adapters that resolve
/// names themselves before trying each address in turn.
///
/// # Errors
///
/// When the operating system provides no random numbers.
#[doc(hidden)]
pub fn order_addresses(addresses: &mut [SocketAddr], options: &TcpOptions) -> io::Result<()> {
    if !options.shuffle_addresses {
        return Ok(());
    }
    let mut failure = None;
    crate::connect::shuffle(addresses, || {
        let mut bytes = [0u8; 8];
        if let Err(e) = getrandom::fill(&mut bytes) {
            failure = Some(io::Error::other(e.to_string()));
        }
        u64::from_le_bytes(bytes)
    });
    failure.map_or(Ok(()), Err)
}

/// Applies `options` to a connected TCP socket: `TCP_NODELAY`, `TCP_USER_TIMEOUT`,
/// then keepalive on or off with the configured idle time, probe interval and probe
/// count. Interval, count and user timeout are only set where the operating system
/// has those socket options; elsewhere the system defaults stay. Shared by the
/// runtime adapters.
///
/// # Errors
///
/// The operating system's error when a socket option cannot be set.
#[doc(hidden)]
pub fn apply_tcp_options(socket: socket2::SockRef<'_>, options: &TcpOptions) -> io::Result<()> {
    socket.set_tcp_nodelay(options.nodelay)?;
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    if let Some(timeout) = options.user_timeout {
        // The option takes whole milliseconds in an unsigned int; a longer timeout
        // than that (49 days) is as good as the longest one.
        let millis = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        socket.set_tcp_user_timeout(Some(Duration::from_millis(u64::from(millis))))?;
    }
    let Some(keepalive) = options.keepalive else {
        return socket.set_keepalive(false);
    };
    let mut params = socket2::TcpKeepalive::new();
    if let Some(idle) = keepalive.idle {
        params = params.with_time(idle);
    }
    #[cfg(any(
        target_os = "android",
        target_os = "freebsd",
        target_os = "ios",
        target_os = "linux",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "windows",
    ))]
    {
        if let Some(interval) = keepalive.interval {
            params = params.with_interval(interval);
        }
        if let Some(retries) = keepalive.retries {
            params = params.with_retries(retries);
        }
    }
    if keepalive.idle.is_some() || keepalive.interval.is_some() || keepalive.retries.is_some() {
        socket.set_tcp_keepalive(&params)
    } else {
        socket.set_keepalive(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_options_are_applied() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let options = TcpOptions {
            nodelay: true,
            keepalive: Some(Keepalive {
                idle: Some(Duration::from_secs(42)),
                interval: Some(Duration::from_secs(7)),
                retries: Some(3),
            }),
            user_timeout: Some(Duration::from_millis(12_345)),
            shuffle_addresses: false,
        };
        apply_tcp_options(socket2::SockRef::from(&stream), &options).unwrap();
        let socket = socket2::SockRef::from(&stream);
        assert!(socket.tcp_nodelay().unwrap());
        assert!(socket.keepalive().unwrap());
        #[cfg(target_os = "linux")]
        {
            assert_eq!(
                socket.tcp_keepalive_time().unwrap(),
                Duration::from_secs(42)
            );
            assert_eq!(
                socket.tcp_keepalive_interval().unwrap(),
                Duration::from_secs(7)
            );
            assert_eq!(socket.tcp_keepalive_retries().unwrap(), 3);
            assert_eq!(
                socket.tcp_user_timeout().unwrap(),
                Some(Duration::from_millis(12_345))
            );
        }
        let off = TcpOptions {
            nodelay: false,
            keepalive: None,
            user_timeout: None,
            shuffle_addresses: false,
        };
        apply_tcp_options(socket2::SockRef::from(&stream), &off).unwrap();
        assert!(!socket.tcp_nodelay().unwrap());
        assert!(!socket.keepalive().unwrap());
        // Keepalive on with the system's timings.
        let defaults = TcpOptions::default();
        apply_tcp_options(socket2::SockRef::from(&stream), &defaults).unwrap();
        assert!(socket.keepalive().unwrap());
    }

    #[test]
    fn addresses_are_shuffled_only_when_asked() {
        let addresses: Vec<SocketAddr> = (1..=6)
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .collect();
        let mut kept = addresses.clone();
        order_addresses(&mut kept, &TcpOptions::default()).unwrap();
        assert_eq!(kept, addresses);
        let options = TcpOptions {
            shuffle_addresses: true,
            ..TcpOptions::default()
        };
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..200 {
            let mut shuffled = addresses.clone();
            order_addresses(&mut shuffled, &options).unwrap();
            let mut sorted = shuffled.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, addresses);
            firsts.insert(shuffled[0]);
        }
        assert_eq!(firsts.len(), 6);
    }
}
