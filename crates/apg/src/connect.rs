//! Establishing a connection: host and port selection, the socket, start-up and
//! authentication, then spawning the driver.

use std::future::poll_fn;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use apg_proto::connection::{Config as CoreConfig, Connection, Event, TlsNegotiation};

use crate::cancel::{race, CancelInfo};
use crate::client::Client;
use crate::config::{Config, ConfigError, Host, SslMode};
use crate::driver::Driver;
use crate::error::{Error, ErrorKind};
use crate::runtime::{AsyncStream, Keepalive, Runtime, TcpOptions};
use crate::shared::Shared;

/// Socket directories tried when no host is configured, as libpq's default
/// (`DEFAULT_PGSOCKET_DIR`) differs between builds.
#[cfg(unix)]
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

const DEFAULT_PORT: u16 = 5432;

impl From<ConfigError> for Error {
    /// A configuration that does not parse or resolve: [`ErrorKind::Config`] with the
    /// parse error's message.
    fn from(e: ConfigError) -> Self {
        Self::config(e.to_string())
    }
}

/// One place to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Tcp(String, u16),
    #[cfg(unix)]
    Unix(PathBuf),
}

impl Client {
    /// Connects to the server `config` describes, on `runtime`, and returns a client
    /// whose connection is driven by a task spawned on the runtime.
    ///
    /// Hosts (and, per host, the ports) are tried in order; a host that cannot be
    /// reached, or does not answer within `connect_timeout` (which bounds each
    /// attempt, start-up included), moves on to the next. A server that answers but
    /// refuses the session (a wrong password, an unknown database) ends the attempt:
    /// later hosts are not tried, as in libpq.
    ///
    /// The user defaults to the `USER` environment variable, the database to the user.
    ///
    /// TLS is not implemented yet: `ssl_mode` `Disable`, `Allow` and `Prefer` connect in
    /// plain text (`Prefer` does not try TLS first), and `Require`, `VerifyCa` and
    /// `VerifyFull` fail with [`ErrorKind::Tls`] rather than fall back to plain text.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for an unusable configuration, [`ErrorKind::Tls`] as
    /// above, [`ErrorKind::Io`] or [`ErrorKind::Timeout`] when no host could be reached
    /// (the last host's error), the server's error ([`ErrorKind::Db`]) for a refused
    /// session, [`ErrorKind::Auth`] when authentication cannot proceed.
    pub async fn connect(config: &Config, runtime: Arc<dyn Runtime>) -> Result<Self, Error> {
        match config.ssl_mode {
            SslMode::Disable | SslMode::Allow | SslMode::Prefer => {}
            _ => {
                return Err(Error::tls(
                    "TLS is not supported yet: use ssl_mode disable, allow or prefer",
                ))
            }
        }
        let user = match &config.user {
            Some(user) => user.clone(),
            None => std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .map_err(|_| Error::config("no user name given and USER is not set"))?,
        };
        let mut last = None;
        for target in targets(config)? {
            let attempt = connect_one(&target, config, &user, &runtime);
            let result = match config.connect_timeout.filter(|d| !d.is_zero()) {
                Some(limit) => race(&*runtime, limit, attempt)
                    .await
                    .unwrap_or_else(|| Err(Error::timeout("connect_timeout elapsed"))),
                None => attempt.await,
            };
            match result {
                Ok(client) => return Ok(client),
                // Not reached, or lost before start-up completed: try the next host.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Closed
                    ) =>
                {
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::config("no host to connect to")))
    }
}

/// The hosts × ports to try, in order.
fn targets(config: &Config) -> Result<Vec<Target>, Error> {
    let hosts: Vec<Host> = if config.hosts.is_empty() {
        default_hosts(config.ports.first().copied().unwrap_or(DEFAULT_PORT))
    } else {
        config.hosts.clone()
    };
    let ports: Vec<u16> = match config.ports.len() {
        0 => vec![DEFAULT_PORT; hosts.len()],
        1 => vec![config.ports.first().copied().unwrap_or(DEFAULT_PORT); hosts.len()],
        n if n == hosts.len() => config.ports.clone(),
        n => {
            return Err(Error::config(format!(
                "{n} ports given for {} hosts (give one port, or one per host)",
                hosts.len()
            )))
        }
    };
    hosts
        .into_iter()
        .zip(ports)
        .map(|(host, port)| target(host, port))
        .collect()
}

fn target(host: Host, port: u16) -> Result<Target, Error> {
    match host {
        // libpq reads a host name starting with a slash as a socket directory.
        #[cfg(unix)]
        Host::Tcp(name) if name.starts_with('/') => {
            Ok(Target::Unix(socket_path(name.into(), port)))
        }
        Host::Tcp(name) => Ok(Target::Tcp(name, port)),
        #[cfg(unix)]
        Host::Unix(dir) => Ok(Target::Unix(socket_path(dir, port))),
        #[allow(unreachable_patterns)]
        _ => Err(Error::config(
            "Unix sockets are not available on this platform",
        )),
    }
}

#[cfg(unix)]
fn socket_path(dir: PathBuf, port: u16) -> PathBuf {
    dir.join(format!(".s.PGSQL.{port}"))
}

/// A Unix socket directory where a server listens, then `localhost`.
fn default_hosts(port: u16) -> Vec<Host> {
    let mut hosts = Vec::new();
    #[cfg(unix)]
    for dir in DEFAULT_SOCKET_DIRS {
        if socket_path(dir.into(), port).exists() {
            hosts.push(Host::Unix(dir.into()));
            break;
        }
    }
    hosts.push(Host::Tcp("localhost".into()));
    hosts
}

/// Random bytes from the operating system.
fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::io(
            "no random numbers from the operating system",
            io::Error::other(e.to_string()),
        )
    })?;
    Ok(bytes)
}

fn core_config(config: &Config, user: &str) -> Result<CoreConfig, Error> {
    let mut core = CoreConfig::new(user);
    core.database = Some(config.dbname.clone().unwrap_or_else(|| user.to_owned()));
    core.password.clone_from(&config.password);
    core.application_name.clone_from(&config.application_name);
    core.options.clone_from(&config.options);
    core.params.clone_from(&config.server_settings);
    // TLS is not implemented: Prefer and Allow use plain text (see `Client::connect`).
    core.tls = TlsNegotiation::Disabled;
    core.channel_binding = config.channel_binding;
    core.scram_nonce = Some(random()?);
    Ok(core)
}

/// One attempt: socket, start-up, driver.
async fn connect_one(
    target: &Target,
    config: &Config,
    user: &str,
    runtime: &Arc<dyn Runtime>,
) -> Result<Client, Error> {
    let mut conn = Connection::new(core_config(config, user)?).map_err(Error::from_core)?;
    let mut stream = match target {
        Target::Tcp(host, port) => {
            let options = TcpOptions {
                nodelay: true,
                keepalive: config.keepalives.then_some(Keepalive {
                    idle: config.keepalives_idle,
                    interval: config.keepalives_interval,
                    retries: config.keepalives_count,
                }),
            };
            runtime
                .connect_tcp(host.clone(), *port, options)
                .await
                .map_err(|e| Error::io(format!("cannot connect to {host}:{port}"), e))?
        }
        #[cfg(unix)]
        Target::Unix(path) => runtime
            .connect_unix(path.clone())
            .await
            .map_err(|e| Error::io(format!("cannot connect to {}", path.display()), e))?,
    };
    handshake(&mut *stream, &mut conn).await?;
    let prefix = hex(&random::<4>()?);
    let cancel = conn.cancel_request().map(|request| {
        Arc::new(CancelInfo {
            runtime: Arc::clone(runtime),
            target: target.clone(),
            request,
            timeout: config
                .connect_timeout
                .filter(|d| !d.is_zero())
                .unwrap_or(Duration::from_secs(10)),
        })
    });
    let shared = Arc::new(Shared::new(
        conn,
        config.statement_cache_capacity,
        prefix,
        Arc::clone(runtime),
        cancel,
        config.command_timeout.filter(|d| !d.is_zero()),
    ));
    runtime.spawn(Box::pin(Driver::new(Arc::clone(&shared), stream)));
    Ok(Client::from_shared(shared))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs start-up and authentication until the server is ready for queries.
async fn handshake(stream: &mut dyn AsyncStream, conn: &mut Connection) -> Result<(), Error> {
    let mut buf = vec![0u8; 8192];
    loop {
        while let Some(bytes) = conn.poll_transmit() {
            let n = poll_fn(|cx| Pin::new(&mut *stream).poll_write(cx, bytes))
                .await
                .map_err(|e| Error::io("writing to the server failed", e))?;
            if n == 0 {
                return Err(Error::io(
                    "writing to the server failed",
                    io::ErrorKind::WriteZero.into(),
                ));
            }
            conn.advance_transmit(n);
        }
        poll_fn(|cx| Pin::new(&mut *stream).poll_flush(cx))
            .await
            .map_err(|e| Error::io("writing to the server failed", e))?;
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Connected => return Ok(()),
                Event::Closed(Some(e)) => return Err(Error::from_core(e)),
                Event::Closed(None) => {
                    return Err(Error::from_core(apg_proto::Error::ConnectionLost))
                }
                // Notices and parameters during start-up: the core keeps what matters.
                _ => {}
            }
        }
        let n = poll_fn(|cx| Pin::new(&mut *stream).poll_read(cx, &mut buf))
            .await
            .map_err(|e| Error::io("reading from the server failed", e))?;
        match buf.get(..n) {
            Some(data) if n > 0 => conn.receive(data),
            _ => conn.receive_eof(),
        }
        if let Err(e) = conn.process() {
            return Err(Error::from_core(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports() {
        let mut config = Config::new();
        config.hosts = vec![Host::Tcp("a".into()), Host::Tcp("b".into())];
        assert_eq!(
            targets(&config).unwrap(),
            [Target::Tcp("a".into(), 5432), Target::Tcp("b".into(), 5432)]
        );
        config.ports = vec![6000];
        assert_eq!(
            targets(&config).unwrap(),
            [Target::Tcp("a".into(), 6000), Target::Tcp("b".into(), 6000)]
        );
        config.ports = vec![6000, 6001];
        assert_eq!(
            targets(&config).unwrap(),
            [Target::Tcp("a".into(), 6000), Target::Tcp("b".into(), 6001)]
        );
        config.ports = vec![1, 2, 3];
        assert_eq!(targets(&config).unwrap_err().kind(), ErrorKind::Config);
    }

    #[cfg(unix)]
    #[test]
    fn unix_sockets() {
        let mut config = Config::new();
        config.hosts = vec![Host::Unix("/run/pg".into()), Host::Tcp("/tmp".into())];
        config.ports = vec![55432];
        assert_eq!(
            targets(&config).unwrap(),
            [
                Target::Unix("/run/pg/.s.PGSQL.55432".into()),
                Target::Unix("/tmp/.s.PGSQL.55432".into())
            ]
        );
        let defaults = targets(&Config::new()).unwrap();
        assert_eq!(
            defaults.last(),
            Some(&Target::Tcp("localhost".into(), 5432))
        );
    }
}
