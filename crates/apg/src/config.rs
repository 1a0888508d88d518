//! Connection configuration: what to connect to and how.

use std::path::PathBuf;
use std::time::Duration;

pub use apg_proto::auth::scram::ChannelBindingPolicy;

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Host {
    /// A host name or IP address, reached over TCP.
    Tcp(String),
    /// A directory holding the server's Unix socket (`.s.PGSQL.<port>`).
    Unix(PathBuf),
}

/// The libpq `sslmode` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// Plain text first; TLS only if the server refuses plain text.
    Allow,
    /// TLS if the server offers it, plain text otherwise. Offers no protection against
    /// an active attacker.
    #[default]
    Prefer,
    /// TLS, without checking the certificate.
    Require,
    /// TLS, with a certificate signed by a trusted authority.
    VerifyCa,
    /// TLS, with a trusted certificate for the host name.
    VerifyFull,
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

/// Connection configuration.
///
/// Built from a URL or key=value string ([`str::parse`]), from the `PG*` environment
/// variables, or with the setters below.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Hosts to try, in order. Empty means the default (a Unix socket directory where
    /// one exists, then `localhost`).
    pub hosts: Vec<Host>,
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            hosts: Vec::new(),
            ports: Vec::new(),
            user: None,
            password: None,
            dbname: None,
            application_name: None,
            options: None,
            server_settings: Vec::new(),
            ssl_mode: SslMode::Prefer,
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
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("hosts", &self.hosts)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("options", &self.options)
            .field("server_settings", &self.server_settings)
            .field("ssl_mode", &self.ssl_mode)
            .field("channel_binding", &self.channel_binding)
            .field("connect_timeout", &self.connect_timeout)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("statement_cache_capacity", &self.statement_cache_capacity)
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration with every setting at its default.
    pub fn new() -> Self {
        Self::default()
    }
}
