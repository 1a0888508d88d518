//! Establishing a connection: host and port selection, the socket, start-up and
//! authentication, then spawning the driver.

use std::future::poll_fn;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use apg_proto::auth::scram::ChannelBindingPolicy;
use apg_proto::auth::AuthError;
use apg_proto::connection::{Config as CoreConfig, Connection, Event, TlsNegotiation};

use crate::cancel::{race, CancelInfo};
use crate::client::Client;
use crate::config::{
    Config, ConfigError, Host, LoadBalanceHosts, Target as ResolvedTarget, TargetSessionAttrs,
};
use crate::driver::Driver;
use crate::error::{Error, ErrorKind};
use crate::row::SimpleQueryMessage;
use crate::runtime::{AsyncStream, Runtime};
use crate::shared::Shared;
use crate::tls::TlsSettings;

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
    /// The configuration is first resolved ([`Config::resolve`]): the user defaults
    /// to the `USER` environment variable, the database to the user; with no host,
    /// the default Unix socket directories holding a socket for the port are tried,
    /// then `localhost`; each host's password comes from the configuration, else from
    /// the password file (`passfile`, default `~/.pgpass`). A password file that is
    /// ignored (e.g. readable by others) is skipped silently; call
    /// [`Config::resolve`] yourself to see why.
    ///
    /// Hosts are tried in order (`hostaddr`, when given, is connected to instead of
    /// resolving the name). A host that cannot be reached, or does not answer within
    /// `connect_timeout` (which bounds each attempt, start-up included), moves on to
    /// the next. A server that answers but refuses the session (a wrong password, an
    /// unknown database) ends the attempt: later hosts are not tried, as in libpq.
    ///
    /// `target_session_attrs` is checked on each connected server, as libpq does:
    /// from the `in_hot_standby` and `default_transaction_read_only` parameters the
    /// server reports (PostgreSQL 14 and later), else with `SHOW transaction_read_only`
    /// (`read-write`, `read-only`) or `SELECT pg_is_in_recovery()` (`primary`,
    /// `standby`). A server of the wrong kind is disconnected and the next host is
    /// tried; `prefer-standby` tries every host for a standby first, then every host
    /// again for any server.
    ///
    /// TLS follows `ssl_mode` as in libpq ([`SslMode`](crate::config::SslMode)): `Disable` and `Allow` connect
    /// in plain text (`Allow` does not retry with TLS); `Prefer` asks for TLS and
    /// continues in plain text if the server refuses; `Require` and stronger fail if
    /// it refuses. `VerifyCa` checks the certificate chain against `sslrootcert`,
    /// `VerifyFull` the host name too (the `host` entry, not `hostaddr`). With TLS,
    /// SCRAM uses channel binding (SCRAM-SHA-256-PLUS) when the server offers it and
    /// `channel_binding` allows. Unix sockets never use TLS. A host whose TLS
    /// handshake or certificate fails is skipped like an unreachable one. Cancel
    /// requests use the same TLS settings as the session.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for an unusable configuration (no user name, host and
    /// port lists of different lengths) or when every reachable server was of the
    /// wrong kind for `target_session_attrs` (the message says why each was
    /// rejected); [`ErrorKind::Tls`] when TLS is required but refused or not built in
    /// (feature `tls`), certificate files cannot be read, or the handshake or the
    /// certificate check fails (the last host's error); [`ErrorKind::Io`] or
    /// [`ErrorKind::Timeout`] when no host could be reached (the last host's error);
    /// the server's error ([`ErrorKind::Db`]) for a refused session;
    /// [`ErrorKind::Auth`] when authentication cannot proceed.
    pub async fn connect(config: &Config, runtime: Arc<dyn Runtime>) -> Result<Self, Error> {
        // Built once: every host, and every cancel request, uses the same TLS settings.
        let tls = TlsSettings::from_config(config)?.map(Arc::new);
        let resolved = config.resolve()?;
        let mut targets = resolved
            .targets
            .iter()
            .map(|t| Ok((target(t)?, t.password.clone(), tls_host(t))))
            .collect::<Result<Vec<_>, Error>>()?;
        if config.load_balance_hosts == LoadBalanceHosts::Random {
            let mut failure = None;
            shuffle(&mut targets, || {
                random::<8>().map(u64::from_le_bytes).unwrap_or_else(|e| {
                    failure = Some(e);
                    0
                })
            });
            if let Some(e) = failure {
                return Err(e);
            }
        }
        if targets.is_empty() {
            return Err(Error::config("no host to connect to"));
        }
        let passes: &[TargetSessionAttrs] = match config.target_session_attrs {
            TargetSessionAttrs::PreferStandby => {
                &[TargetSessionAttrs::Standby, TargetSessionAttrs::Any]
            }
            ref attrs => std::slice::from_ref(attrs),
        };
        let mut unreachable = None;
        let mut rejected = Vec::new();
        for &wanted in passes {
            for (target, password, host) in &targets {
                let attempt = async {
                    let client = connect_one(
                        target,
                        config,
                        Login {
                            user: &resolved.user,
                            dbname: &resolved.dbname,
                            password: password.as_deref(),
                        },
                        tls.as_ref().map(|settings| (settings, host.as_str())),
                        &runtime,
                    )
                    .await?;
                    match session_mismatch(&client, wanted).await? {
                        None => Ok(Ok(client)),
                        Some(why) => {
                            client.close().await;
                            Ok(Err(why))
                        }
                    }
                };
                let result = match config.connect_timeout.filter(|d| !d.is_zero()) {
                    Some(limit) => race(&*runtime, limit, attempt)
                        .await
                        .unwrap_or_else(|| Err(Error::timeout("connect_timeout elapsed"))),
                    None => attempt.await,
                };
                match result {
                    Ok(Ok(client)) => return Ok(client),
                    Ok(Err(why)) => rejected.push(format!("{target}: {why}")),
                    // Not reached, lost before start-up completed, or TLS failed (before
                    // any authentication, as libpq sees it): try the next host.
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Closed | ErrorKind::Tls
                        ) =>
                    {
                        unreachable = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if rejected.is_empty() {
            return Err(unreachable.unwrap_or_else(|| Error::config("no host to connect to")));
        }
        Err(Error::config(format!(
            "no server matches target_session_attrs={} ({})",
            config.target_session_attrs.as_str(),
            rejected.join("; ")
        )))
    }
}

/// Why the server `client` is connected to does not fit `wanted`, if it does not.
async fn session_mismatch(
    client: &Client,
    wanted: TargetSessionAttrs,
) -> Result<Option<&'static str>, Error> {
    let on = |value: Option<String>| value.map(|v| v == "on");
    let reason = match wanted {
        TargetSessionAttrs::Any | TargetSessionAttrs::PreferStandby => return Ok(None),
        TargetSessionAttrs::ReadWrite | TargetSessionAttrs::ReadOnly => {
            let reported = on(client.server_parameter("in_hot_standby")).and_then(|standby| {
                on(client.server_parameter("default_transaction_read_only"))
                    .map(|read_only| standby || read_only)
            });
            let read_only = match reported {
                Some(read_only) => read_only,
                None => show(client, "SHOW transaction_read_only").await? == "on",
            };
            match (wanted, read_only) {
                (TargetSessionAttrs::ReadWrite, true) => "the session is read-only",
                (TargetSessionAttrs::ReadOnly, false) => "the session is read-write",
                _ => return Ok(None),
            }
        }
        TargetSessionAttrs::Primary | TargetSessionAttrs::Standby => {
            let standby = match on(client.server_parameter("in_hot_standby")) {
                Some(standby) => standby,
                None => show(client, "SELECT pg_is_in_recovery()").await? == "t",
            };
            match (wanted, standby) {
                (TargetSessionAttrs::Primary, true) => "the server is in hot standby mode",
                (TargetSessionAttrs::Standby, false) => "the server is not in hot standby mode",
                _ => return Ok(None),
            }
        }
    };
    Ok(Some(reason))
}

/// The single text value `sql` returns.
async fn show(client: &Client, sql: &str) -> Result<String, Error> {
    for message in client.simple_query(sql).await? {
        if let SimpleQueryMessage::Row(row) = message {
            return Ok(row.get(0).unwrap_or_default().to_owned());
        }
    }
    Ok(String::new())
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(host, port) => write!(f, "{host}:{port}"),
            #[cfg(unix)]
            Self::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The name TLS checks the certificate against (and sends as SNI): the host name,
/// even when `hostaddr` says where to connect.
fn tls_host(t: &ResolvedTarget) -> String {
    match &t.host {
        Host::Tcp(name) => name.clone(),
        #[cfg(unix)]
        Host::Unix(_) => String::new(),
        #[allow(unreachable_patterns)]
        _ => String::new(),
    }
}

/// Where to connect for one resolved target.
fn target(t: &ResolvedTarget) -> Result<Target, Error> {
    match (&t.host, t.hostaddr) {
        (_, Some(addr)) => Ok(Target::Tcp(addr.to_string(), t.port)),
        // libpq reads a host name starting with a slash as a socket directory.
        #[cfg(unix)]
        (Host::Tcp(name), None) if name.starts_with('/') => {
            Ok(Target::Unix(socket_path(name.into(), t.port)))
        }
        (Host::Tcp(name), None) => Ok(Target::Tcp(name.clone(), t.port)),
        #[cfg(unix)]
        (Host::Unix(dir), None) => Ok(Target::Unix(socket_path(dir.clone(), t.port))),
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

/// Shuffles `items` uniformly (Fisher-Yates), drawing from `next`: the hosts for
/// `load_balance_hosts=random`, as libpq does once per connection, and the addresses
/// of a host name ([`order_addresses`](crate::runtime::order_addresses)).
pub(crate) fn shuffle<T>(items: &mut [T], mut next: impl FnMut() -> u64) {
    for i in (1..items.len()).rev() {
        // An index in 0..=i, without modulo bias: draws in the incomplete last
        // stretch of the u64 range are thrown away (rarely more than one).
        let Ok(bound) = u64::try_from(i + 1) else {
            return;
        };
        let zone = u64::MAX - (u64::MAX % bound);
        let j = loop {
            let draw = next();
            if draw < zone {
                break draw % bound;
            }
        };
        // j <= i < items.len(), so it fits in usize.
        if let Ok(j) = usize::try_from(j) {
            items.swap(i, j);
        }
    }
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

/// Who logs in, where.
struct Login<'a> {
    user: &'a str,
    dbname: &'a str,
    password: Option<&'a [u8]>,
}

fn core_config(config: &Config, login: &Login<'_>) -> Result<CoreConfig, Error> {
    let mut core = CoreConfig::new(login.user);
    core.database = Some(login.dbname.to_owned());
    core.password = login.password.map(<[u8]>::to_vec);
    core.application_name.clone_from(&config.application_name);
    core.options.clone_from(&config.options);
    core.params.clone_from(&config.server_settings);
    core.channel_binding = config.channel_binding;
    core.require_auth.clone_from(&config.require_auth);
    core.scram_nonce = Some(random()?);
    Ok(core)
}

/// One attempt: socket, TLS, start-up, driver. `tls` is the session's TLS settings
/// and the name to check the certificate against.
async fn connect_one(
    target: &Target,
    config: &Config,
    login: Login<'_>,
    tls: Option<(&Arc<TlsSettings>, &str)>,
    runtime: &Arc<dyn Runtime>,
) -> Result<Client, Error> {
    let mut core = core_config(config, &login)?;
    // Unix sockets are local: no TLS over them, as in libpq.
    let tls = tls.filter(|_| matches!(target, Target::Tcp(..)));
    core.tls = match tls {
        None => TlsNegotiation::Disabled,
        Some((settings, _)) if settings.direct() => TlsNegotiation::Direct,
        Some((settings, _)) if settings.required() => TlsNegotiation::Require,
        Some(_) => TlsNegotiation::Prefer,
    };
    // The address connected to, for the cancel request (`None`: resolve again).
    let mut peer = None;
    let mut stream = match target {
        Target::Tcp(host, port) => {
            let options = config.tcp_options();
            let (stream, address) = runtime
                .connect_tcp_peer(host.clone(), *port, options)
                .await
                .map_err(|e| Error::io(format!("cannot connect to {host}:{port}"), e))?;
            peer = address;
            stream
        }
        #[cfg(unix)]
        Target::Unix(path) => runtime
            .connect_unix(path.clone())
            .await
            .map_err(|e| Error::io(format!("cannot connect to {}", path.display()), e))?,
    };
    if let Some((settings, host)) = tls.filter(|(s, _)| s.direct()) {
        // Direct TLS (PostgreSQL 17+): the handshake comes first, no SSLRequest.
        let (tls_stream, end_point) = settings.handshake(stream, host).await?;
        stream = tls_stream;
        check_binding(end_point.as_deref(), config.channel_binding)?;
        core.tls_server_end_point = end_point;
    }
    let mut conn = Connection::new(core).map_err(Error::from_core)?;
    let (stream, encrypted) = handshake(stream, &mut conn, tls, config.channel_binding).await?;
    let prefix = hex(&random::<4>()?);
    let cancel = conn.cancel_request().map(|request| {
        Arc::new(CancelInfo {
            runtime: Arc::clone(runtime),
            // The server this session is on, even if its name resolves to several
            // (TLS still checks the certificate against the name).
            target: match (peer, target) {
                (Some(address), Target::Tcp(..)) => {
                    Target::Tcp(address.ip().to_string(), address.port())
                }
                _ => target.clone(),
            },
            tls: tls.map(|(settings, host)| (Arc::clone(settings), host.to_owned())),
            // A session that runs over TLS never lets its key go out in plain text,
            // whatever `prefer` would accept.
            tls_required: encrypted,
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

/// `channel_binding=require` over TLS needs a certificate whose signature algorithm
/// defines a `tls-server-end-point` hash (not Ed25519, Ed448, RSASSA-PSS): checked
/// right after the handshake, so the error names the reason and nothing of the
/// start-up is sent.
fn check_binding(end_point: Option<&[u8]>, binding: ChannelBindingPolicy) -> Result<(), Error> {
    if end_point.is_none() && binding == ChannelBindingPolicy::Require {
        return Err(Error::from_core(apg_proto::Error::Auth(
            AuthError::UndefinedChannelBinding,
        )));
    }
    Ok(())
}

/// Runs start-up and authentication until the server is ready for queries; starts
/// TLS when the core asks. Returns the stream the session continues on.
async fn handshake(
    mut stream: Box<dyn AsyncStream>,
    conn: &mut Connection,
    tls: Option<(&Arc<TlsSettings>, &str)>,
    binding: ChannelBindingPolicy,
) -> Result<(Box<dyn AsyncStream>, bool), Error> {
    let mut encrypted = tls.is_some_and(|(settings, _)| settings.direct());
    let mut buf = vec![0u8; 8192];
    'io: loop {
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
                Event::Connected => return Ok((stream, encrypted)),
                // The server answered SSLRequest with `S`, and nothing after it (the
                // core refuses extra bytes: CVE-2021-23222). From here on every byte
                // goes through TLS.
                Event::StartTls => {
                    let Some((settings, host)) = tls else {
                        // The core only asks after an SSLRequest, sent only with TLS.
                        return Err(Error::tls("TLS requested without TLS settings"));
                    };
                    let (tls_stream, end_point) = settings.handshake(stream, host).await?;
                    stream = tls_stream;
                    encrypted = true;
                    check_binding(end_point.as_deref(), binding)?;
                    conn.tls_established(end_point)
                        .map_err(|e| Error::usage(format!("TLS start-up out of order: {e}")))?;
                    continue 'io;
                }
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

    fn resolved(config: &Config) -> Vec<Target> {
        config
            .resolve_with(|_| None)
            .unwrap()
            .targets
            .iter()
            .map(|t| target(t).unwrap())
            .collect()
    }

    #[test]
    fn hosts_ports_and_addresses() {
        let mut config = Config::new();
        config.user = Some("u".into());
        config.hosts = vec![Host::Tcp("a".into()), Host::Tcp("b".into())];
        config.ports = vec![6000, 6001];
        assert_eq!(
            resolved(&config),
            [Target::Tcp("a".into(), 6000), Target::Tcp("b".into(), 6001)]
        );
        config.hostaddrs = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        assert_eq!(
            resolved(&config),
            [
                Target::Tcp("127.0.0.1".into(), 6000),
                Target::Tcp("::1".into(), 6001)
            ]
        );
        assert_eq!(Target::Tcp("h".into(), 1).to_string(), "h:1");
    }

    /// A small deterministic generator (xorshift64*), for injected randomness.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn shuffle_reaches_every_order_and_is_deterministic() {
        let mut seen = std::collections::HashMap::new();
        for seed in 1..=2400u64 {
            let mut items = [0, 1, 2, 3];
            shuffle(&mut items, xorshift(seed));
            let mut sorted = items;
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2, 3]);
            *seen.entry(items).or_insert(0u32) += 1;
            // The same draws give the same order.
            let mut again = [0, 1, 2, 3];
            shuffle(&mut again, xorshift(seed));
            assert_eq!(again, items);
        }
        // All 4! orders, none wildly over- or under-represented (100 expected each).
        assert_eq!(seen.len(), 24);
        assert!(seen.values().all(|&n| (50..=150).contains(&n)), "{seen:?}");
        // Degenerate lists and sources.
        let mut one = [7];
        shuffle(&mut one, || unreachable!());
        let mut empty: [u8; 0] = [];
        shuffle(&mut empty, || unreachable!());
        let mut zeros = [0, 1, 2];
        shuffle(&mut zeros, || 0);
        assert_eq!(zeros, [1, 2, 0]);
        // Draws in the biased top stretch of the range are skipped.
        let mut draws = [u64::MAX, 0, 1].into_iter();
        let mut two = [0, 1];
        shuffle(&mut two, || draws.next().unwrap_or(0));
        assert_eq!(two, [1, 0]);
    }

    #[test]
    fn random_host_order_uses_every_host_first() {
        let mut config = Config::new();
        config.user = Some("u".into());
        config.hosts = vec![Host::Tcp("a".into()), Host::Tcp("b".into())];
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..64 {
            let mut targets = resolved(&config);
            shuffle(&mut targets, || u64::from_le_bytes(random().unwrap()));
            firsts.insert(targets[0].to_string());
        }
        assert_eq!(firsts.len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn unix_sockets() {
        let mut config = Config::new();
        config.user = Some("u".into());
        config.hosts = vec![Host::Unix("/run/pg".into()), Host::Tcp("/tmp".into())];
        config.ports = vec![55432];
        assert_eq!(
            resolved(&config),
            [
                Target::Unix("/run/pg/.s.PGSQL.55432".into()),
                Target::Unix("/tmp/.s.PGSQL.55432".into())
            ]
        );
        config.hosts.clear();
        assert_eq!(
            resolved(&config).last(),
            Some(&Target::Tcp("localhost".into(), 55432))
        );
    }
}
