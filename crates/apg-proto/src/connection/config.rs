//! What the state machine needs to know before it starts.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::auth::scram::ChannelBindingPolicy;
use crate::message::frontend::ProtocolVersion;
use crate::message::DEFAULT_MAX_MESSAGE_LEN;

/// How the connection negotiates TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsNegotiation {
    /// No TLS: the StartupMessage is the first thing sent.
    #[default]
    Disabled,
    /// Send SSLRequest; use TLS if the server accepts, plain text if it refuses.
    /// Offers no protection against an active attacker.
    Prefer,
    /// Send SSLRequest; fail if the server refuses.
    Require,
    /// The transport is already TLS (PostgreSQL 17's direct TLS, ALPN `postgresql`):
    /// send the StartupMessage straight away.
    Direct,
}

/// Start-up configuration of a [`Connection`](super::Connection).
///
/// ```
/// use apg_proto::connection::Config;
///
/// let mut config = Config::new("alice");
/// config.database = Some("app".into());
/// config.password = Some(b"secret".to_vec());
/// config.scram_nonce = Some(*b"0123456789abcdefghijklm\0");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// The role to connect as (required by the server).
    pub user: String,
    /// The database; the server defaults it to the user name.
    pub database: Option<String>,
    /// The password, for cleartext, MD5 and SCRAM authentication.
    pub password: Option<Vec<u8>>,
    /// Reported in `pg_stat_activity`.
    pub application_name: Option<String>,
    /// Command-line options for the backend (the `options` start-up parameter).
    pub options: Option<String>,
    /// Further run-time parameters sent in the StartupMessage (`name`, `value`), e.g.
    /// `("search_path", "app")`.
    pub params: Vec<(String, String)>,
    /// How TLS is negotiated.
    pub tls: TlsNegotiation,
    /// With [`TlsNegotiation::Direct`]: the `tls-server-end-point` hash of the server's
    /// certificate, for SCRAM-SHA-256-PLUS. With SSLRequest the hash is given to
    /// [`Connection::tls_established`](super::Connection::tls_established) instead.
    pub tls_server_end_point: Option<Vec<u8>>,
    /// Whether SCRAM channel binding is used, preferred or required.
    pub channel_binding: ChannelBindingPolicy,
    /// The protocol version requested. Defaults to 3.0, as libpq does; 3.2 (PostgreSQL
    /// 18) brings 256-bit cancel keys.
    pub max_protocol_version: ProtocolVersion,
    /// The lowest version accepted in a NegotiateProtocolVersion answer.
    pub min_protocol_version: ProtocolVersion,
    /// Random bytes for the SCRAM client nonce (at least 18 recommended). The core has
    /// no random source of its own: the caller provides one from the operating system.
    pub scram_nonce: Option<[u8; 24]>,
    /// Largest PBKDF2 iteration count accepted from the server, checked before any key
    /// derivation (a hostile server could otherwise burn CPU).
    pub scram_max_iterations: u32,
    /// Largest message accepted once connected (DataRow, CopyData, ...).
    pub max_message_len: usize,
    /// Largest message accepted during start-up and authentication, where nothing
    /// legitimate is large.
    pub max_startup_message_len: usize,
}

impl Config {
    /// A configuration for `user` with every other setting at its default.
    pub fn new(user: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            database: None,
            password: None,
            application_name: None,
            options: None,
            params: Vec::new(),
            tls: TlsNegotiation::Disabled,
            tls_server_end_point: None,
            channel_binding: ChannelBindingPolicy::Prefer,
            max_protocol_version: ProtocolVersion::V3_0,
            min_protocol_version: ProtocolVersion::V3_0,
            scram_nonce: None,
            scram_max_iterations: crate::auth::scram::DEFAULT_MAX_ITERATIONS,
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            max_startup_message_len: 1 << 20,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password and nonce never appear in logs.
        f.debug_struct("Config")
            .field("user", &self.user)
            .field("database", &self.database)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("application_name", &self.application_name)
            .field("options", &self.options)
            .field("params", &self.params)
            .field("tls", &self.tls)
            .field("channel_binding", &self.channel_binding)
            .field("max_protocol_version", &self.max_protocol_version)
            .field("min_protocol_version", &self.min_protocol_version)
            .field("scram_max_iterations", &self.scram_max_iterations)
            .field("max_message_len", &self.max_message_len)
            .finish_non_exhaustive()
    }
}
