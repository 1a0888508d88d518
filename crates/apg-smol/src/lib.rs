//! The [smol](https://docs.rs/smol) runtime for apg.
//!
//! [`SmolRuntime`] implements [`apg::Runtime`] with smol's `async-io` reactor:
//! sockets are `smol::net` streams (which speak `futures-io` natively, so no
//! compatibility layer is needed), timers are `smol::Timer`, and background tasks go to
//! smol's global executor (`smol::spawn`) unless you hand it your own executor.
//!
//! ```no_run
//! smol::block_on(async {
//!     let client = apg_smol::connect("postgres://postgres@localhost/postgres").await?;
//!     let n: i64 = client.query_scalar("SELECT $1::int8 + 1", &[&41i64]).await?;
//!     assert_eq!(n, 42);
//!     Ok::<(), apg::Error>(())
//! })?;
//! # Ok::<(), apg::Error>(())
//! ```
//!
//! [`connect`] and [`connect_config`] use the global executor; for your own, build the
//! runtime and call [`Client::connect`]:
//!
//! ```no_run
//! use std::sync::Arc;
//! use apg_smol::SmolRuntime;
//!
//! // Tasks on smol's global executor (threads: `SMOL_THREADS`, default 1).
//! let runtime: Arc<dyn apg::Runtime> = Arc::new(SmolRuntime::new());
//!
//! // Tasks on an executor the application runs itself.
//! let executor = Arc::new(smol::Executor::new());
//! let runtime: Arc<dyn apg::Runtime> = Arc::new(SmolRuntime::with_executor(executor.clone()));
//! smol::block_on(executor.run(async { /* connect and query here */ }));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::io;
#[cfg(unix)]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use apg::runtime::{AsyncStream, BoxFuture, Runtime, TcpConnected, TcpOptions};
use smol::net::TcpStream;
use smol::{Executor, Timer};

// The client's API, so that this crate alone is enough to use apg.
pub use apg::prelude::*;

/// Connects to the server `url` names (a `postgres://` URL or a `key=value`
/// connection string, see [`Config`]); the connection is driven on smol's global executor.
///
/// # Errors
///
/// [`ErrorKind::Config`] when `url` does not parse; otherwise as [`connect_config`].
pub async fn connect(url: &str) -> Result<Client, Error> {
    let config: Config = url.parse()?;
    connect_config(&config).await
}

/// Connects with `config`; the connection is driven on smol's global executor. See
/// [`Client::connect`].
///
/// # Errors
///
/// As [`Client::connect`].
pub async fn connect_config(config: &Config) -> Result<Client, Error> {
    Client::connect(config, Arc::new(SmolRuntime::new())).await
}

/// apg on smol.
#[derive(Clone, Default)]
pub struct SmolRuntime {
    /// Where [`Runtime::spawn`] puts tasks; `None` means `smol::spawn`.
    executor: Option<Arc<Executor<'static>>>,
}

impl fmt::Debug for SmolRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let executor = if self.executor.is_some() {
            "custom"
        } else {
            "global"
        };
        f.debug_struct("SmolRuntime")
            .field("executor", &executor)
            .finish()
    }
}

impl SmolRuntime {
    /// Spawns on smol's global executor (`smol::spawn`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawns on `executor`. The application must keep running it
    /// (`executor.run(...)`), or connection drivers never make progress.
    pub fn with_executor(executor: Arc<Executor<'static>>) -> Self {
        Self {
            executor: Some(executor),
        }
    }
}

impl Runtime for SmolRuntime {
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
            // Resolves the name off the reactor thread (in the order
            // `load_balance_hosts` asks for) and tries each address in turn.
            let mut addresses = smol::net::resolve((host.as_str(), port)).await?;
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
            let stream = smol::net::unix::UnixStream::connect(path).await?;
            Ok(Box::new(stream) as Box<dyn AsyncStream>)
        })
    }

    fn spawn(&self, future: BoxFuture<'static, ()>) {
        match &self.executor {
            Some(executor) => executor.spawn(future).detach(),
            None => smol::spawn(future).detach(),
        }
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            Timer::after(duration).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    use smol::io::{AsyncReadExt, AsyncWriteExt};

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
        smol::block_on(async {
            let runtime = SmolRuntime::new();
            let mut stream = runtime
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
        // Bind then drop to find a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let result = smol::block_on(SmolRuntime::new().connect_tcp(
            "127.0.0.1".into(),
            port,
            TcpOptions::default(),
        ));
        assert!(result.is_err());
    }

    #[cfg(unix)]
    #[test]
    fn connect_unix_exchanges_bytes() {
        let dir = std::env::temp_dir().join(format!("apg-smol-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".s.PGSQL.5432");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            socket.write_all(b"hi").unwrap();
        });
        smol::block_on(async {
            let mut stream = SmolRuntime::new().connect_unix(path).await.unwrap();
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
        smol::block_on(SmolRuntime::new().sleep(Duration::from_millis(50)));
        assert!(start.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn spawn_runs_on_the_global_executor() {
        let (tx, rx) = smol::channel::bounded(1);
        SmolRuntime::new().spawn(Box::pin(async move {
            let _ = tx.send(7).await;
        }));
        assert_eq!(smol::block_on(rx.recv()), Ok(7));
    }

    #[test]
    fn spawn_runs_on_a_custom_executor() {
        let executor = Arc::new(Executor::new());
        let runtime = SmolRuntime::with_executor(executor.clone());
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        runtime.spawn(Box::pin(async move {
            flag.store(true, Ordering::SeqCst);
        }));
        assert!(!ran.load(Ordering::SeqCst));
        while executor.try_tick() {}
        assert!(ran.load(Ordering::SeqCst));
        let shown = format!("{runtime:?}");
        assert!(shown.contains("custom"), "{shown}");
    }
}
