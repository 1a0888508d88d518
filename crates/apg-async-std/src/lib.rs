//! The [async-std](https://docs.rs/async-std) runtime for apg.
//!
//! **async-std is discontinued upstream** ([RUSTSEC-2025-0052]): its maintainers
//! recommend smol, which async-std was built on. This crate exists so that existing
//! async-std applications can use apg; it is opt-in and never a dependency of apg
//! itself. New code should use `apg-smol` (same reactor) or `apg-tokio`.
//!
//! [`AsyncStdRuntime`] implements [`apg::Runtime`] with async-std's own sockets (which
//! speak `futures-io`), `async_std::task::spawn` and `async_std::task::sleep`.
//!
//! ```no_run
//! async_std::task::block_on(async {
//!     let client = apg_async_std::connect("postgres://postgres@localhost/postgres").await?;
//!     let n: i64 = client.query_scalar("SELECT $1::int8 + 1", &[&41i64]).await?;
//!     assert_eq!(n, 42);
//!     Ok::<(), apg::Error>(())
//! })?;
//! # Ok::<(), apg::Error>(())
//! ```
//!
//! [RUSTSEC-2025-0052]: https://rustsec.org/advisories/RUSTSEC-2025-0052.html
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io;
#[cfg(unix)]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use apg::runtime::{AsyncStream, BoxFuture, Runtime, TcpConnected, TcpOptions};
use async_std::net::TcpStream;

// The client's API, so that this crate alone is enough to use apg.
pub use apg::prelude::*;

/// Connects to the server `url` names (a `postgres://` URL or a `key=value`
/// connection string, see [`Config`]); the connection is driven on async-std.
///
/// # Errors
///
/// [`ErrorKind::Config`] when `url` does not parse; otherwise as [`connect_config`].
pub async fn connect(url: &str) -> Result<Client, Error> {
    let config: Config = url.parse()?;
    connect_config(&config).await
}

/// Connects with `config`; the connection is driven on async-std. See
/// [`Client::connect`].
///
/// # Errors
///
/// As [`Client::connect`].
pub async fn connect_config(config: &Config) -> Result<Client, Error> {
    Client::connect(config, Arc::new(AsyncStdRuntime)).await
}

/// apg on async-std.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
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
            // Resolves the name on async-std's blocking pool (in the order
            // `load_balance_hosts` asks for) and tries each address.
            let mut addresses: Vec<std::net::SocketAddr> =
                async_std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                    .await?
                    .collect();
            apg::runtime::order_addresses(&mut addresses, &options)?;
            let stream = TcpStream::connect(&addresses[..]).await?;
            apg::runtime::apply_tcp_options(socket2::SockRef::from(&stream), &options)?;
            let peer = stream.peer_addr().ok();
            Ok((Box::new(stream) as Box<dyn AsyncStream>, peer))
        })
    }

    #[cfg(unix)]
    fn connect_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<Box<dyn AsyncStream>>> {
        Box::pin(async move {
            let stream = async_std::os::unix::net::UnixStream::connect(path).await?;
            Ok(Box::new(stream) as Box<dyn AsyncStream>)
        })
    }

    fn spawn(&self, future: BoxFuture<'static, ()>) {
        // Dropping the handle detaches the task; it keeps running.
        drop(async_std::task::spawn(future));
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async_std::task::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::time::Instant;

    use async_std::io::{ReadExt, WriteExt};

    use super::*;

    #[test]
    fn connect_tcp_exchanges_bytes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut buf = [0; 4];
            socket.read_exact(&mut buf).unwrap();
            socket.write_all(b"pong").unwrap();
            buf
        });
        async_std::task::block_on(async {
            let mut stream = AsyncStdRuntime
                .connect_tcp("127.0.0.1".into(), port, TcpOptions::default())
                .await
                .unwrap();
            stream.write_all(b"ping").await.unwrap();
            stream.flush().await.unwrap();
            let mut buf = [0; 4];
            stream.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"pong");
        });
        assert_eq!(&server.join().unwrap(), b"ping");
    }

    #[test]
    fn connect_tcp_reports_refusal() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let result = async_std::task::block_on(AsyncStdRuntime.connect_tcp(
            "127.0.0.1".into(),
            port,
            TcpOptions::default(),
        ));
        assert!(result.is_err());
    }

    #[cfg(unix)]
    #[test]
    fn connect_unix_exchanges_bytes() {
        let dir = std::env::temp_dir().join(format!("apg-async-std-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".s.PGSQL.5432");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            socket.write_all(b"hi").unwrap();
        });
        async_std::task::block_on(async {
            let mut stream = AsyncStdRuntime.connect_unix(path).await.unwrap();
            let mut buf = [0; 2];
            stream.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"hi");
        });
        server.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sleep_sleeps() {
        let start = Instant::now();
        async_std::task::block_on(AsyncStdRuntime.sleep(Duration::from_millis(50)));
        assert!(start.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn spawn_runs() {
        let (tx, rx) = std::sync::mpsc::channel();
        AsyncStdRuntime.spawn(Box::pin(async move {
            let _ = tx.send(7);
        }));
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(7));
    }
}
