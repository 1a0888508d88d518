//! Connection configuration: what to connect to and how.
//!
//! A [`Config`] comes from
//!
//! * a URL, `postgresql://user:secret@db1:5432,db2:5433/app?sslmode=verify-full`
//!   (syntax [below](self#urls)),
//! * a libpq `key=value` string, `host=db1 port=5432 dbname=app password='a b\' c'`,
//! * both of the above through [`str::parse`] (a string starting with a scheme is a
//!   URL), optionally with the libpq `PG*` environment variables as defaults
//!   ([`Config::parse_with_env`], [`Config::from_env`]),
//! * or the builder methods: `Config::new().host("db1").port(5433).user("app")`.
//!
//! Parsing is pure: it reads neither files nor (unless asked) the environment. The
//! password file is consulted when connecting, through [`Config::resolve`].
//!
//! # URLs
//!
//! ```text
//! postgresql://[user[:password]@][host[:port][,host[:port]...]][/dbname][?key=value&...]
//! ```
//!
//! `postgres://` works too. Every part is percent-decoded. IPv6 addresses go in
//! brackets (`[::1]:5432`); a host that decodes to an absolute path is a Unix socket
//! directory (`postgresql://%2Fvar%2Frun%2Fpostgresql/app`, or `?host=/var/run/postgresql`).
//! Query parameters override the parts before them.
//!
//! # Parameters
//!
//! The same names in URLs and `key=value` strings (environment variable in brackets):
//!
//! | parameter | meaning |
//! |---|---|
//! | `host` (`PGHOST`) | comma-separated host names, addresses or socket directories |
//! | `hostaddr` (`PGHOSTADDR`) | comma-separated numeric addresses, one per host: connect there instead of resolving the host name, which is still used for TLS and the password file |
//! | `port` (`PGPORT`) | one port, or one per host; an empty entry is 5432 |
//! | `user` (`PGUSER`), `password` (`PGPASSWORD`), `dbname` (`PGDATABASE`) | who, with what, to which database |
//! | `application_name` (`PGAPPNAME`), `options` (`PGOPTIONS`) | sent at start-up |
//! | `sslmode` (`PGSSLMODE`) | `disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full` (see [`SslMode`]) |
//! | `sslrootcert` (`PGSSLROOTCERT`) | PEM file of trusted certificate authorities, or `system` for the platform's store; default `~/.postgresql/root.crt` if it exists |
//! | `sslcert`, `sslkey` (`PGSSLCERT`, `PGSSLKEY`) | client certificate chain and its private key (PEM; PKCS#8, PKCS#1 or SEC1; unencrypted, not readable by group or others); default `~/.postgresql/postgresql.crt` and `.key` if the certificate exists |
//! | `sslnegotiation` (`PGSSLNEGOTIATION`) | `postgres` (SSLRequest first) or `direct` (TLS at once, PostgreSQL 17+; needs `sslmode` `require` or stronger) |
//! | `sslcrl` (`PGSSLCRL`) | file of certificate revocation lists (PEM or DER) checked whenever the server certificate is verified; default `~/.postgresql/root.crl` if it exists, `sslcrldir` is not set and `sslrootcert` is not `system` |
//! | `sslcrldir` (`PGSSLCRLDIR`) | directory whose every file is read as certificate revocation lists (see [`Config::ssl_crl_dir`]) |
//! | `sslsni` (`PGSSLSNI`) | `1` (default) sends the host name in the TLS handshake (Server Name Indication), `0` does not |
//! | `ssl_min_protocol_version`, `ssl_max_protocol_version` (`PGSSLMINPROTOCOLVERSION`, `PGSSLMAXPROTOCOLVERSION`) | `TLSv1`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3` (see [`SslProtocolVersion`]); minimum `TLSv1.2` by default, no maximum |
//! | `channel_binding` (`PGCHANNELBINDING`) | `disable`, `prefer`, `require` |
//! | `connect_timeout` (`PGCONNECT_TIMEOUT`) | seconds per host; 0 or negative: none |
//! | `keepalives` | 0 turns TCP keepalives off |
//! | `keepalives_idle`, `keepalives_interval`, `keepalives_count` | keepalive tuning (seconds, seconds, probes; 0 is the system default) |
//! | `target_session_attrs` (`PGTARGETSESSIONATTRS`) | `any`, `read-write`, `read-only`, `primary`, `standby`, `prefer-standby` |
//! | `passfile` (`PGPASSFILE`) | password file location |
//! | `require_auth` (`PGREQUIREAUTH`) | authentication methods the server may use: a list of `password`, `md5`, `gss`, `sspi`, `scram-sha-256`, `none`, or of exclusions (`!md5,!password`); see [`RequireAuth`] |
//! | `load_balance_hosts` (`PGLOADBALANCEHOSTS`) | `disable` (hosts in order) or `random` (hosts shuffled for each connection); see [`LoadBalanceHosts`] |
//! | `tcp_user_timeout` | milliseconds unacknowledged data may stay unsent before the connection is dropped (Linux `TCP_USER_TIMEOUT`); 0 is the system default; ignored for Unix sockets |
//! | `statement_cache_capacity` | apg: prepared statements cached per connection, 0 disables |
//! | `command_timeout` | apg: default query timeout in seconds; 0 or negative: none |
//!
//! Durations accept decimals (`1.5`), a superset of libpq's whole seconds. A name no
//! PostgreSQL client knows is an error naming it, as in libpq; libpq parameters apg
//! does not implement (`service`, `sslpassword`, `gssencmode`, ...) are
//! errors too, so that no setting is silently ignored.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use apg_proto::auth::scram::ChannelBindingPolicy;
pub use apg_proto::connection::{AuthMethod, RequireAuth, RequireAuthError};

use crate::runtime::{Keepalive, TcpOptions};

mod conninfo;
mod error;
mod param;
mod passfile;
mod resolve;
#[cfg(test)]
mod tests;
mod url;

pub use error::{ConfigError, Origin};
pub use passfile::{
    default_path as default_passfile_path, pgpass_host, PassFile, DEFAULT_SOCKET_DIRS,
};
pub use resolve::{Resolved, Target};

#[cfg(feature = "tls")]
pub(crate) use param::validate_tls_versions;
use param::Key;

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Host {
    /// A host name or IP address, reached over TCP.
    Tcp(String),
    /// A directory holding the server's Unix socket (`.s.PGSQL.<port>`).
    Unix(PathBuf),
}

impl Host {
    /// Whether this is a Unix socket directory.
    pub fn is_unix(&self) -> bool {
        matches!(self, Self::Unix(_))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(name) => f.write_str(name),
            Self::Unix(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// The libpq `sslmode` setting.
///
/// TLS needs the `tls` cargo feature (on by default); without it `Require` and
/// stronger fail to connect with [`ErrorKind::Tls`](crate::ErrorKind::Tls). Unix
/// sockets never use TLS, whatever the mode, as in libpq.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// Plain text. (libpq retries with TLS when the server refuses plain text; apg
    /// does not, so this behaves as `Disable`.)
    Allow,
    /// TLS if the server offers it, plain text otherwise. Offers no protection against
    /// an active attacker. The certificate is not checked.
    #[default]
    Prefer,
    /// TLS; the certificate is not checked unless a root certificate is configured
    /// (`sslrootcert`, or `~/.postgresql/root.crt` exists): then as `VerifyCa`, as in
    /// libpq.
    Require,
    /// TLS, with a certificate chain signed by a trusted authority (`sslrootcert`);
    /// the host name is not checked.
    VerifyCa,
    /// TLS, with a trusted certificate for the host name (not `hostaddr`).
    VerifyFull,
}

/// The libpq `sslrootcert` setting: whom to trust for `verify-ca` and `verify-full`.
///
/// Certificates are checked by rustls (webpki), which is stricter than OpenSSL in two
/// ways that matter with home-made certificates: the server certificate must be issued
/// by an authority in the file, so a self-signed server certificate marked as a CA
/// (`openssl req -x509`) cannot be its own root (issue it from a separate root, as in
/// the PostgreSQL documentation's chain example); and `verify-full` matches the host
/// name against the certificate's subjectAltName entries only, not its common name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SslRootCert {
    /// A PEM file of certificate authorities.
    File(PathBuf),
    /// The platform's trust store (`sslrootcert=system`, read with
    /// `rustls-native-certs`). `prefer`, `require` and `verify-ca` then act as
    /// `verify-full` (libpq makes `verify-full` the default with it and refuses weaker
    /// modes); `disable` and `allow` stay plain text.
    System,
}

/// The libpq `sslnegotiation` setting: how TLS starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SslNegotiation {
    /// Ask with SSLRequest first, then start TLS if the server agrees.
    #[default]
    Postgres,
    /// Start TLS at once with ALPN `postgresql` (PostgreSQL 17 and later), saving a
    /// round trip. Only with `sslmode` `require` or stronger; never falls back.
    Direct,
}

impl SslNegotiation {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Direct => "direct",
        }
    }
}

impl FromStr for SslNegotiation {
    type Err = ConfigError;

    /// Reads the libpq spelling; anything else is [`ConfigError::InvalidValue`].
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "postgres" => Ok(Self::Postgres),
            "direct" => Ok(Self::Direct),
            _ => Err(ConfigError::InvalidValue {
                parameter: "sslnegotiation",
                value: s.into(),
                origin: Origin::ConnString,
            }),
        }
    }
}

/// A TLS protocol version, for `ssl_min_protocol_version` and
/// `ssl_max_protocol_version`, spelled as libpq spells them (`TLSv1.2`; any case).
///
/// apg speaks TLS 1.2 and 1.3 only (rustls has nothing older). A minimum of `TLSv1`
/// or `TLSv1.1` therefore means TLS 1.2, and a maximum below `TLSv1.2` is refused
/// with [`ConfigError::TlsVersionUnsupported`], since no connection could be made.
/// A minimum above the maximum is [`ConfigError::TlsVersionRange`].
///
/// ```
/// use apg::config::{Config, SslProtocolVersion};
///
/// let config: Config = "host=db ssl_max_protocol_version=TLSv1.2".parse().unwrap();
/// assert_eq!(config.ssl_max_protocol_version, Some(SslProtocolVersion::Tls1_2));
/// assert_eq!(config.ssl_min_protocol_version, SslProtocolVersion::Tls1_2);
/// assert!("host=db ssl_max_protocol_version=TLSv1.1".parse::<Config>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SslProtocolVersion {
    /// TLS 1.0 (`TLSv1`): as a minimum, the same as TLS 1.2 here.
    Tls1,
    /// TLS 1.1 (`TLSv1.1`): as a minimum, the same as TLS 1.2 here.
    Tls1_1,
    /// TLS 1.2 (`TLSv1.2`), libpq's default minimum.
    Tls1_2,
    /// TLS 1.3 (`TLSv1.3`).
    Tls1_3,
}

impl SslProtocolVersion {
    /// The libpq spelling (`TLSv1.2`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls1 => "TLSv1",
            Self::Tls1_1 => "TLSv1.1",
            Self::Tls1_2 => "TLSv1.2",
            Self::Tls1_3 => "TLSv1.3",
        }
    }
}

impl FromStr for SslProtocolVersion {
    type Err = ConfigError;

    /// Reads the libpq spelling, ignoring case as libpq does; anything else is
    /// [`ConfigError::InvalidValue`].
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        [Self::Tls1, Self::Tls1_1, Self::Tls1_2, Self::Tls1_3]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ConfigError::InvalidValue {
                parameter: "ssl_min_protocol_version",
                value: s.into(),
                origin: Origin::ConnString,
            })
    }
}

impl fmt::Display for SslProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ready rustls client configuration ([`Config::tls_client_config`]). Two are
/// equal when they are the same `Arc`.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub struct TlsClientConfig(pub std::sync::Arc<rustls::ClientConfig>);

#[cfg(feature = "tls")]
impl PartialEq for TlsClientConfig {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

#[cfg(feature = "tls")]
impl Eq for TlsClientConfig {}

#[cfg(feature = "tls")]
impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsClientConfig(..)")
    }
}

impl SslMode {
    /// The libpq spelling (`verify-full`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for SslMode {
    type Err = ConfigError;

    /// Reads the libpq spelling; anything else is [`ConfigError::InvalidValue`].
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Ok(match s {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => {
                return Err(ConfigError::InvalidValue {
                    parameter: "sslmode",
                    value: s.into(),
                    origin: Origin::ConnString,
                })
            }
        })
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// libpq's `target_session_attrs`: which server of a multi-host list is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TargetSessionAttrs {
    /// Any server.
    #[default]
    Any,
    /// A server that accepts writes.
    ReadWrite,
    /// A server that does not accept writes.
    ReadOnly,
    /// A server not in hot standby.
    Primary,
    /// A server in hot standby.
    Standby,
    /// A standby if there is one, any server otherwise.
    PreferStandby,
}

impl TargetSessionAttrs {
    /// The libpq spelling (`read-write`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::ReadWrite => "read-write",
            Self::ReadOnly => "read-only",
            Self::Primary => "primary",
            Self::Standby => "standby",
            Self::PreferStandby => "prefer-standby",
        }
    }
}

impl FromStr for TargetSessionAttrs {
    type Err = ConfigError;

    /// Reads the libpq spelling; anything else is [`ConfigError::InvalidValue`].
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Ok(match s {
            "any" => Self::Any,
            "read-write" => Self::ReadWrite,
            "read-only" => Self::ReadOnly,
            "primary" => Self::Primary,
            "standby" => Self::Standby,
            "prefer-standby" => Self::PreferStandby,
            _ => {
                return Err(ConfigError::InvalidValue {
                    parameter: "target_session_attrs",
                    value: s.into(),
                    origin: Origin::ConnString,
                })
            }
        })
    }
}

impl fmt::Display for TargetSessionAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// libpq's `load_balance_hosts`: the order in which the hosts are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LoadBalanceHosts {
    /// In the order given.
    #[default]
    Disable,
    /// In a random order, drawn again for each connection, so that connections
    /// spread over the hosts. `target_session_attrs` still applies to each host.
    /// The addresses a host name resolves to are also tried in a random order
    /// ([`TcpOptions::shuffle_addresses`], honoured by apg's runtime adapters), as
    /// libpq does.
    Random,
}

impl LoadBalanceHosts {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Random => "random",
        }
    }
}

impl FromStr for LoadBalanceHosts {
    type Err = ConfigError;

    /// Reads the libpq spelling; anything else is [`ConfigError::InvalidValue`].
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "disable" => Ok(Self::Disable),
            "random" => Ok(Self::Random),
            _ => Err(ConfigError::InvalidValue {
                parameter: "load_balance_hosts",
                value: s.into(),
                origin: Origin::ConnString,
            }),
        }
    }
}

impl fmt::Display for LoadBalanceHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Connection configuration.
///
/// Built from a URL or key=value string ([`str::parse`]), from the `PG*` environment
/// variables, or with the setters below. See the [module documentation](self) for
/// the syntax and every parameter.
///
/// `Display` renders a URL with the password shown as `***`; `Debug` never shows it.
///
/// ```
/// use apg::config::{Config, SslMode};
///
/// let config: Config = "postgresql://app@db1:5432,db2:5433/shop?sslmode=verify-full"
///     .parse()
///     .unwrap();
/// assert_eq!(config.ports, [5432, 5433]);
/// assert_eq!(config.ssl_mode, SslMode::VerifyFull);
///
/// let built = Config::new()
///     .host("db1")
///     .port(5432)
///     .host("db2")
///     .port(5433)
///     .user("app")
///     .dbname("shop")
///     .ssl_mode(SslMode::VerifyFull);
/// assert_eq!(built, config);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Hosts to try, in order. Empty means the default (a Unix socket directory where
    /// one exists, then `localhost`).
    pub hosts: Vec<Host>,
    /// Numeric addresses, one per host (or standing alone): connect there without a
    /// name lookup; the host name is still used for TLS and the password file.
    pub hostaddrs: Vec<IpAddr>,
    /// Ports, one for all hosts or one per host. Empty means 5432.
    pub ports: Vec<u16>,
    /// The role. Defaults to the operating-system user name.
    pub user: Option<String>,
    /// The password, if any (also looked up in the password file).
    pub password: Option<Vec<u8>>,
    /// The database. Defaults to the user name.
    pub dbname: Option<String>,
    /// `application_name`, shown in `pg_stat_activity`.
    pub application_name: Option<String>,
    /// Command-line options for the server (`-c name=value ...`).
    pub options: Option<String>,
    /// Further run-time parameters set at start-up.
    pub server_settings: Vec<(String, String)>,
    /// TLS policy.
    pub ssl_mode: SslMode,
    /// Trusted certificate authorities (`sslrootcert`).
    pub ssl_root_cert: Option<SslRootCert>,
    /// Client certificate chain, PEM (`sslcert`).
    pub ssl_cert: Option<PathBuf>,
    /// The client certificate's private key, PEM (`sslkey`).
    pub ssl_key: Option<PathBuf>,
    /// How TLS starts (`sslnegotiation`).
    pub ssl_negotiation: SslNegotiation,
    /// A file of certificate revocation lists (`sslcrl`; see [`Config::ssl_crl`]).
    pub ssl_crl: Option<PathBuf>,
    /// A directory of certificate revocation lists (`sslcrldir`; see
    /// [`Config::ssl_crl_dir`]).
    pub ssl_crl_dir: Option<PathBuf>,
    /// Whether the host name is sent in the handshake (`sslsni`, default on).
    pub ssl_sni: bool,
    /// The oldest TLS version accepted (`ssl_min_protocol_version`, default TLS 1.2).
    pub ssl_min_protocol_version: SslProtocolVersion,
    /// The newest TLS version offered (`ssl_max_protocol_version`; `None`: the newest
    /// apg knows, TLS 1.3).
    pub ssl_max_protocol_version: Option<SslProtocolVersion>,
    /// A rustls configuration to use instead of the one built from the `ssl*`
    /// settings ([`Config::tls_client_config`]).
    #[cfg(feature = "tls")]
    pub tls_client_config: Option<TlsClientConfig>,
    /// SCRAM channel binding policy.
    pub channel_binding: ChannelBindingPolicy,
    /// Bound on establishing each connection (per host), start-up included.
    pub connect_timeout: Option<Duration>,
    /// Whether TCP keepalives are on (libpq `keepalives`, default on).
    pub keepalives: bool,
    /// Idle time before the first keepalive probe.
    pub keepalives_idle: Option<Duration>,
    /// Time between keepalive probes.
    pub keepalives_interval: Option<Duration>,
    /// Probes lost before the connection is considered dead.
    pub keepalives_count: Option<u32>,
    /// Which server of the host list is acceptable.
    pub target_session_attrs: TargetSessionAttrs,
    /// Capacity of the per-connection prepared-statement cache; 0 disables it (for
    /// PgBouncer transaction pooling: only unnamed statements are used then).
    pub statement_cache_capacity: usize,
    /// Default per-query timeout; on expiry the query is cancelled.
    pub command_timeout: Option<Duration>,
    /// Path of the password file (`PGPASSFILE`; default `~/.pgpass`).
    pub passfile: Option<PathBuf>,
    /// Authentication methods the server may use (`require_auth`); `None` allows
    /// every method apg implements. Applies together with `channel_binding`.
    pub require_auth: Option<RequireAuth>,
    /// The order in which the hosts are tried (`load_balance_hosts`).
    pub load_balance_hosts: LoadBalanceHosts,
    /// How long sent data may stay unacknowledged before the connection is dropped
    /// (`tcp_user_timeout`, whole milliseconds; `TCP_USER_TIMEOUT` on Linux and
    /// Android, ignored elsewhere and for Unix sockets). `None`: the system default.
    pub tcp_user_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            hosts: Vec::new(),
            hostaddrs: Vec::new(),
            ports: Vec::new(),
            user: None,
            password: None,
            dbname: None,
            application_name: None,
            options: None,
            server_settings: Vec::new(),
            ssl_mode: SslMode::Prefer,
            ssl_root_cert: None,
            ssl_cert: None,
            ssl_key: None,
            ssl_negotiation: SslNegotiation::Postgres,
            ssl_crl: None,
            ssl_crl_dir: None,
            ssl_sni: true,
            ssl_min_protocol_version: SslProtocolVersion::Tls1_2,
            ssl_max_protocol_version: None,
            #[cfg(feature = "tls")]
            tls_client_config: None,
            channel_binding: ChannelBindingPolicy::Prefer,
            connect_timeout: None,
            keepalives: true,
            keepalives_idle: None,
            keepalives_interval: None,
            keepalives_count: None,
            target_session_attrs: TargetSessionAttrs::Any,
            statement_cache_capacity: 256,
            command_timeout: None,
            passfile: None,
            require_auth: None,
            load_balance_hosts: LoadBalanceHosts::Disable,
            tcp_user_timeout: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("Config");
        f.field("hosts", &self.hosts)
            .field("hostaddrs", &self.hostaddrs)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("options", &self.options)
            .field("server_settings", &self.server_settings)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .field("ssl_cert", &self.ssl_cert)
            .field("ssl_key", &self.ssl_key)
            .field("ssl_negotiation", &self.ssl_negotiation)
            .field("ssl_crl", &self.ssl_crl)
            .field("ssl_crl_dir", &self.ssl_crl_dir)
            .field("ssl_sni", &self.ssl_sni)
            .field("ssl_min_protocol_version", &self.ssl_min_protocol_version)
            .field("ssl_max_protocol_version", &self.ssl_max_protocol_version)
            .field("channel_binding", &self.channel_binding)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalives", &self.keepalives)
            .field("keepalives_idle", &self.keepalives_idle)
            .field("keepalives_interval", &self.keepalives_interval)
            .field("keepalives_count", &self.keepalives_count)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("statement_cache_capacity", &self.statement_cache_capacity)
            .field("command_timeout", &self.command_timeout)
            .field("passfile", &self.passfile)
            .field("require_auth", &self.require_auth)
            .field("load_balance_hosts", &self.load_balance_hosts)
            .field("tcp_user_timeout", &self.tcp_user_timeout);
        #[cfg(feature = "tls")]
        f.field("tls_client_config", &self.tls_client_config);
        f.finish()
    }
}

/// A URL with the password replaced by `***`. `server_settings` and
/// `tls_client_config` are not shown (URLs have no parameter for them); everything
/// else parses back to an equal `Config`.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&url::render(self, url::Password::Redacted))
    }
}

/// Parses a URL (if the string starts with `scheme://`) or a libpq `key=value`
/// string. The environment is not read; see [`Config::parse_with_env`].
impl FromStr for Config {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Self::parse_with_env_lookup(s, |_| None)
    }
}

impl Config {
    /// A configuration with every setting at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// A configuration from the libpq `PG*` environment variables alone (`PGHOST`,
    /// `PGHOSTADDR`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGAPPNAME`,
    /// `PGOPTIONS`, `PGCONNECT_TIMEOUT`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`,
    /// `PGSSLKEY`, `PGSSLNEGOTIATION`, `PGSSLCRL`, `PGSSLCRLDIR`, `PGSSLSNI`,
    /// `PGSSLMINPROTOCOLVERSION`, `PGSSLMAXPROTOCOLVERSION`, `PGCHANNELBINDING`,
    /// `PGTARGETSESSIONATTRS`, `PGPASSFILE`, `PGREQUIREAUTH`, `PGLOADBALANCEHOSTS`).
    /// Unset, empty and non-UTF-8 variables are ignored.
    ///
    /// # Errors
    ///
    /// A variable with a value its parameter does not accept, named in the error.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_lookup(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] with the environment read through `env`.
    ///
    /// # Errors
    ///
    /// As [`Config::from_env`].
    pub fn from_env_lookup(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::parse_with_env_lookup("", env)
    }

    /// Parses `s` like [`str::parse`], then fills every parameter `s` did not set from
    /// its `PG*` environment variable, as libpq does. Explicit settings always win.
    ///
    /// # Errors
    ///
    /// A malformed string or environment variable.
    pub fn parse_with_env(s: &str) -> Result<Self, ConfigError> {
        Self::parse_with_env_lookup(s, |name| std::env::var(name).ok())
    }

    /// [`Config::parse_with_env`] with the environment read through `env`, for tests
    /// and for applications that keep settings elsewhere.
    ///
    /// # Errors
    ///
    /// As [`Config::parse_with_env`].
    pub fn parse_with_env_lookup(
        s: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let s = s.trim();
        let mut config = Self::default();
        let set = match url::strip_scheme(s) {
            Some(rest) => url::parse(rest?, &mut config)?,
            None => conninfo::parse(s, &mut config)?,
        };
        for key in Key::ALL {
            if set.contains(&key) {
                continue;
            }
            let Some(var) = key.env_var() else { continue };
            if let Some(value) = env(var).filter(|v| !v.is_empty()) {
                param::apply(&mut config, key, value.as_bytes(), Origin::Env(var))?;
            }
        }
        param::validate(&config)?;
        Ok(config)
    }

    /// TCP socket options for the runtime: `nodelay` always, keepalives,
    /// `tcp_user_timeout` and the address order of `load_balance_hosts` as configured.
    pub fn tcp_options(&self) -> TcpOptions {
        TcpOptions {
            nodelay: true,
            keepalive: self.keepalives.then_some(Keepalive {
                idle: self.keepalives_idle,
                interval: self.keepalives_interval,
                retries: self.keepalives_count,
            }),
            user_timeout: self.tcp_user_timeout.filter(|d| !d.is_zero()),
            shuffle_addresses: self.load_balance_hosts == LoadBalanceHosts::Random,
        }
    }
}

/// Builder methods. Each takes and returns the configuration, so calls chain.
/// List settings (`host`, `hostaddr`, `port`, `server_setting`) append.
impl Config {
    /// Adds a host: a name or address, or a Unix socket directory if it starts
    /// with `/`.
    #[must_use]
    pub fn host(mut self, host: impl AsRef<str>) -> Self {
        self.hosts.push(param::host_from_str(host.as_ref()));
        self
    }

    /// Adds a Unix socket directory as a host.
    #[must_use]
    pub fn host_path(mut self, dir: impl Into<PathBuf>) -> Self {
        self.hosts.push(Host::Unix(dir.into()));
        self
    }

    /// Adds a numeric address (`hostaddr`).
    #[must_use]
    pub fn hostaddr(mut self, addr: IpAddr) -> Self {
        self.hostaddrs.push(addr);
        self
    }

    /// Adds a port: one for all hosts, or one per host in order.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.ports.push(port);
        self
    }

    /// Sets the user name.
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets the password.
    #[must_use]
    pub fn password(mut self, password: impl AsRef<[u8]>) -> Self {
        self.password = Some(password.as_ref().to_vec());
        self
    }

    /// Sets the database name.
    #[must_use]
    pub fn dbname(mut self, dbname: impl Into<String>) -> Self {
        self.dbname = Some(dbname.into());
        self
    }

    /// Sets `application_name`.
    #[must_use]
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// Sets the server command-line options (`-c name=value ...`).
    #[must_use]
    pub fn options(mut self, options: impl Into<String>) -> Self {
        self.options = Some(options.into());
        self
    }

    /// Adds a run-time parameter to set at start-up.
    #[must_use]
    pub fn server_setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.server_settings.push((name.into(), value.into()));
        self
    }

    /// Sets the TLS policy.
    #[must_use]
    pub fn ssl_mode(mut self, mode: SslMode) -> Self {
        self.ssl_mode = mode;
        self
    }

    /// Sets the trusted certificate authorities (`sslrootcert`).
    #[must_use]
    pub fn ssl_root_cert(mut self, root: SslRootCert) -> Self {
        self.ssl_root_cert = Some(root);
        self
    }

    /// Sets the client certificate chain (`sslcert`, PEM).
    #[must_use]
    pub fn ssl_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_cert = Some(path.into());
        self
    }

    /// Sets the client certificate's private key (`sslkey`, PEM).
    #[must_use]
    pub fn ssl_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_key = Some(path.into());
        self
    }

    /// Sets how TLS starts (`sslnegotiation`).
    #[must_use]
    pub fn ssl_negotiation(mut self, negotiation: SslNegotiation) -> Self {
        self.ssl_negotiation = negotiation;
        self
    }

    /// Sets the file of certificate revocation lists (`sslcrl`): PEM (every
    /// `X509 CRL` block in it) or a single DER list.
    ///
    /// The lists are checked whenever the server certificate is verified (`sslmode`
    /// `verify-ca` or `verify-full`, or `require` with a root certificate), for every
    /// certificate of the chain below the trusted root, as libpq does (OpenSSL's
    /// `X509_V_FLAG_CRL_CHECK_ALL`): a revoked certificate fails the handshake, and so
    /// does a certificate whose issuer has no list here (its status is unknown) or an
    /// expired list. A list is complete for its issuer: when several come from one
    /// issuer, the first is used (`sslcrl`'s, then the directory's in file name
    /// order), as with OpenSSL, which also keeps one list per issuer. Unlike libpq, a
    /// file that is missing or unreadable is an error rather than silently no check;
    /// and lists also apply with `sslrootcert=system`. Without `sslcrl` and
    /// `sslcrldir`, `~/.postgresql/root.crl` is used if it exists and the trusted
    /// authorities come from a file (not `system`), as in libpq.
    #[must_use]
    pub fn ssl_crl(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_crl = Some(path.into());
        self
    }

    /// Sets a directory of certificate revocation lists (`sslcrldir`), used as
    /// [`Config::ssl_crl`] is (both may be set). libpq looks lists up in an OpenSSL
    /// hashed directory (`openssl rehash`); apg reads every regular file in the
    /// directory instead (not its subdirectories), so such a directory works as it
    /// is: PEM files contribute their `X509 CRL` blocks (files with none, such as
    /// certificates, are skipped), other files are read as one DER list each.
    #[must_use]
    pub fn ssl_crl_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_crl_dir = Some(path.into());
        self
    }

    /// Turns Server Name Indication on (the default) or off (`sslsni`). When on, the
    /// host name (never an address) is sent in clear in the handshake, which lets
    /// TLS-aware proxies route the connection.
    #[must_use]
    pub fn ssl_sni(mut self, on: bool) -> Self {
        self.ssl_sni = on;
        self
    }

    /// Sets the oldest TLS version accepted (`ssl_min_protocol_version`).
    #[must_use]
    pub fn ssl_min_protocol_version(mut self, version: SslProtocolVersion) -> Self {
        self.ssl_min_protocol_version = version;
        self
    }

    /// Sets the newest TLS version offered (`ssl_max_protocol_version`).
    #[must_use]
    pub fn ssl_max_protocol_version(mut self, version: SslProtocolVersion) -> Self {
        self.ssl_max_protocol_version = Some(version);
        self
    }

    /// Uses `tls` for the TLS handshake instead of a configuration built from
    /// `sslrootcert`, `sslcert`, `sslkey`, `sslcrl`, `sslcrldir` and the
    /// `ssl_*_protocol_version` settings, which are then ignored: its certificate
    /// verifier (with its revocation lists), roots, client certificate, protocol
    /// versions and ALPN apply as they are. Two settings still act on a copy of it:
    /// ALPN `postgresql` is added for `sslnegotiation=direct`, and `sslsni=0` turns
    /// Server Name Indication off. `ssl_mode` still decides whether TLS is tried or
    /// required, but no longer how the certificate is checked. Build it with the
    /// `rustls` that apg re-exports (`apg::rustls`).
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use apg::rustls;
    ///
    /// let mut roots = rustls::RootCertStore::empty();
    /// // roots.add(...) for each trusted authority
    /// let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
    ///     rustls::crypto::ring::default_provider(),
    /// ))
    /// .with_safe_default_protocol_versions()
    /// .unwrap()
    /// .with_root_certificates(roots)
    /// .with_no_client_auth();
    /// let config = apg::Config::new()
    ///     .host("db.example.com")
    ///     .ssl_mode(apg::config::SslMode::VerifyFull)
    ///     .tls_client_config(Arc::new(tls));
    /// ```
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls_client_config(mut self, tls: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls_client_config = Some(TlsClientConfig(tls));
        self
    }

    /// Sets the SCRAM channel binding policy.
    #[must_use]
    pub fn channel_binding(mut self, policy: ChannelBindingPolicy) -> Self {
        self.channel_binding = policy;
        self
    }

    /// Sets the per-host connection timeout.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Turns TCP keepalives on or off.
    #[must_use]
    pub fn keepalives(mut self, on: bool) -> Self {
        self.keepalives = on;
        self
    }

    /// Sets the idle time before the first keepalive probe.
    #[must_use]
    pub fn keepalives_idle(mut self, idle: Duration) -> Self {
        self.keepalives_idle = Some(idle);
        self
    }

    /// Sets the time between keepalive probes.
    #[must_use]
    pub fn keepalives_interval(mut self, interval: Duration) -> Self {
        self.keepalives_interval = Some(interval);
        self
    }

    /// Sets how many keepalive probes may be lost.
    #[must_use]
    pub fn keepalives_count(mut self, count: u32) -> Self {
        self.keepalives_count = Some(count);
        self
    }

    /// Sets which server of the host list is acceptable.
    #[must_use]
    pub fn target_session_attrs(mut self, attrs: TargetSessionAttrs) -> Self {
        self.target_session_attrs = attrs;
        self
    }

    /// Sets the prepared-statement cache capacity (0 disables the cache).
    #[must_use]
    pub fn statement_cache_capacity(mut self, capacity: usize) -> Self {
        self.statement_cache_capacity = capacity;
        self
    }

    /// Sets the default per-query timeout.
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = Some(timeout);
        self
    }

    /// Sets the password file location.
    #[must_use]
    pub fn passfile(mut self, path: impl Into<PathBuf>) -> Self {
        self.passfile = Some(path.into());
        self
    }

    /// Sets the authentication methods the server may use (`require_auth`).
    ///
    /// ```
    /// let config = apg::Config::new().require_auth("scram-sha-256".parse().unwrap());
    /// assert_eq!(config.get_require_auth().unwrap().as_str(), "scram-sha-256");
    /// ```
    #[must_use]
    pub fn require_auth(mut self, methods: RequireAuth) -> Self {
        self.require_auth = Some(methods);
        self
    }

    /// Sets the order in which the hosts are tried (`load_balance_hosts`).
    #[must_use]
    pub fn load_balance_hosts(mut self, order: LoadBalanceHosts) -> Self {
        self.load_balance_hosts = order;
        self
    }

    /// Sets `TCP_USER_TIMEOUT` (`tcp_user_timeout`; whole milliseconds are used, zero
    /// means the system default).
    #[must_use]
    pub fn tcp_user_timeout(mut self, timeout: Duration) -> Self {
        self.tcp_user_timeout = Some(timeout);
        self
    }
}

/// Accessors, named `get_*` because the plain names are the builder methods.
impl Config {
    /// The hosts, in order.
    pub fn get_hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The numeric addresses (`hostaddr`).
    pub fn get_hostaddrs(&self) -> &[IpAddr] {
        &self.hostaddrs
    }

    /// The ports as configured (empty: 5432 everywhere).
    pub fn get_ports(&self) -> &[u16] {
        &self.ports
    }

    /// The user name, if set.
    pub fn get_user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password, if set.
    pub fn get_password(&self) -> Option<&[u8]> {
        self.password.as_deref()
    }

    /// The database name, if set.
    pub fn get_dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }

    /// `application_name`, if set.
    pub fn get_application_name(&self) -> Option<&str> {
        self.application_name.as_deref()
    }

    /// The server command-line options, if set.
    pub fn get_options(&self) -> Option<&str> {
        self.options.as_deref()
    }

    /// The run-time parameters set at start-up.
    pub fn get_server_settings(&self) -> &[(String, String)] {
        &self.server_settings
    }

    /// The TLS policy.
    pub fn get_ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// The trusted certificate authorities, if set.
    pub fn get_ssl_root_cert(&self) -> Option<&SslRootCert> {
        self.ssl_root_cert.as_ref()
    }

    /// The client certificate path, if set.
    pub fn get_ssl_cert(&self) -> Option<&std::path::Path> {
        self.ssl_cert.as_deref()
    }

    /// The client key path, if set.
    pub fn get_ssl_key(&self) -> Option<&std::path::Path> {
        self.ssl_key.as_deref()
    }

    /// How TLS starts.
    pub fn get_ssl_negotiation(&self) -> SslNegotiation {
        self.ssl_negotiation
    }

    /// The certificate revocation list file, if set.
    pub fn get_ssl_crl(&self) -> Option<&std::path::Path> {
        self.ssl_crl.as_deref()
    }

    /// The certificate revocation list directory, if set.
    pub fn get_ssl_crl_dir(&self) -> Option<&std::path::Path> {
        self.ssl_crl_dir.as_deref()
    }

    /// Whether Server Name Indication is on.
    pub fn get_ssl_sni(&self) -> bool {
        self.ssl_sni
    }

    /// The oldest TLS version accepted.
    pub fn get_ssl_min_protocol_version(&self) -> SslProtocolVersion {
        self.ssl_min_protocol_version
    }

    /// The newest TLS version offered, if limited.
    pub fn get_ssl_max_protocol_version(&self) -> Option<SslProtocolVersion> {
        self.ssl_max_protocol_version
    }

    /// The SCRAM channel binding policy.
    pub fn get_channel_binding(&self) -> ChannelBindingPolicy {
        self.channel_binding
    }

    /// The per-host connection timeout, if any.
    pub fn get_connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// Whether TCP keepalives are on.
    pub fn get_keepalives(&self) -> bool {
        self.keepalives
    }

    /// The idle time before the first keepalive probe, if set.
    pub fn get_keepalives_idle(&self) -> Option<Duration> {
        self.keepalives_idle
    }

    /// The time between keepalive probes, if set.
    pub fn get_keepalives_interval(&self) -> Option<Duration> {
        self.keepalives_interval
    }

    /// The number of keepalive probes that may be lost, if set.
    pub fn get_keepalives_count(&self) -> Option<u32> {
        self.keepalives_count
    }

    /// Which server of the host list is acceptable.
    pub fn get_target_session_attrs(&self) -> TargetSessionAttrs {
        self.target_session_attrs
    }

    /// The prepared-statement cache capacity.
    pub fn get_statement_cache_capacity(&self) -> usize {
        self.statement_cache_capacity
    }

    /// The default per-query timeout, if any.
    pub fn get_command_timeout(&self) -> Option<Duration> {
        self.command_timeout
    }

    /// The configured password file location, if any.
    pub fn get_passfile(&self) -> Option<&std::path::Path> {
        self.passfile.as_deref()
    }

    /// The authentication methods the server may use, if restricted.
    pub fn get_require_auth(&self) -> Option<&RequireAuth> {
        self.require_auth.as_ref()
    }

    /// The order in which the hosts are tried.
    pub fn get_load_balance_hosts(&self) -> LoadBalanceHosts {
        self.load_balance_hosts
    }

    /// `TCP_USER_TIMEOUT`, if set.
    pub fn get_tcp_user_timeout(&self) -> Option<Duration> {
        self.tcp_user_timeout
    }
}
