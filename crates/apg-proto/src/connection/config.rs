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
    /// Which authentication methods the server may ask for (libpq's `require_auth`);
    /// `None` allows every method. Applies together with `channel_binding`.
    pub require_auth: Option<RequireAuth>,
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
            require_auth: None,
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
            .field("require_auth", &self.require_auth)
            .field("max_protocol_version", &self.max_protocol_version)
            .field("min_protocol_version", &self.min_protocol_version)
            .field("scram_max_iterations", &self.scram_max_iterations)
            .field("max_message_len", &self.max_message_len)
            .finish_non_exhaustive()
    }
}

/// An authentication method named in [`RequireAuth`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `password`: the password in clear text.
    Password,
    /// `md5`: an MD5 hash of the password.
    Md5,
    /// `gss`: GSSAPI (not implemented by apg; the server asking for it fails anyway).
    Gss,
    /// `sspi`: SSPI (not implemented by apg; the server asking for it fails anyway).
    Sspi,
    /// `scram-sha-256`: SCRAM-SHA-256, with or without channel binding (`-PLUS`).
    ScramSha256,
}

impl AuthMethod {
    /// Every method, in libpq's order.
    pub const ALL: [Self; 5] = [
        Self::Password,
        Self::Md5,
        Self::Gss,
        Self::Sspi,
        Self::ScramSha256,
    ];

    /// The name written in `require_auth`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Md5 => "md5",
            Self::Gss => "gss",
            Self::Sspi => "sspi",
            Self::ScramSha256 => "scram-sha-256",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Password => 1,
            Self::Md5 => 2,
            Self::Gss => 4,
            Self::Sspi => 8,
            Self::ScramSha256 => 16,
        }
    }
}

/// libpq's `require_auth` (PostgreSQL 16): the authentication methods the server may
/// use. Start-up fails, before any password or proof is sent, when the server asks for
/// another one, or when it lets the client in without any exchange and `none` is not
/// allowed.
///
/// Written as a comma-separated list of `password`, `md5`, `gss`, `sspi`,
/// `scram-sha-256` and `none` (the server may skip authentication, as with `trust`),
/// or as a list of exclusions, every entry negated with `!`: `!password,!md5` allows
/// everything else, `!none` requires that the server authenticates the client.
///
/// ```
/// use apg_proto::connection::{AuthMethod, RequireAuth};
///
/// let only_scram: RequireAuth = "scram-sha-256".parse().unwrap();
/// assert!(only_scram.allows(AuthMethod::ScramSha256));
/// assert!(!only_scram.allows(AuthMethod::Md5));
/// assert!(!only_scram.allows_none());
///
/// let no_cleartext: RequireAuth = "!password".parse().unwrap();
/// assert!(no_cleartext.allows(AuthMethod::Md5));
/// assert!(no_cleartext.allows_none());
///
/// assert!("scram-sha-256,!md5".parse::<RequireAuth>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequireAuth {
    /// The setting as written, for messages and rendering.
    text: String,
    /// [`AuthMethod::bit`]s of the methods allowed.
    allowed: u8,
    /// Whether the server may complete start-up without asking for anything.
    none: bool,
}

impl RequireAuth {
    /// The setting as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the server may ask for `method`.
    pub fn allows(&self, method: AuthMethod) -> bool {
        self.allowed & method.bit() != 0
    }

    /// Whether the server may let the client in without authentication (`none`).
    pub fn allows_none(&self) -> bool {
        self.none
    }
}

impl fmt::Display for RequireAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl core::str::FromStr for RequireAuth {
    type Err = RequireAuthError;

    /// Parses the setting as libpq does; see [`RequireAuthError`] for what is refused.
    fn from_str(text: &str) -> Result<Self, RequireAuthError> {
        let negated = text.starts_with('!');
        // A negated list starts from everything and removes; a plain one starts empty.
        let mut allowed: u8 = if negated { 0b1_1111 } else { 0 };
        let mut none = negated;
        let mut none_seen = false;
        for part in text.split(',') {
            let method = match (part.strip_prefix('!'), negated) {
                (Some(method), true) => method,
                (None, false) => part,
                (Some(_), false) => return Err(RequireAuthError::NegatedMixed(part.into())),
                (None, true) => return Err(RequireAuthError::PlainMixed(part.into())),
            };
            if method == "none" {
                if none_seen {
                    return Err(RequireAuthError::Duplicate(part.into()));
                }
                none_seen = true;
                none = !negated;
                continue;
            }
            let Some(method) = AuthMethod::ALL.into_iter().find(|m| m.name() == method) else {
                return Err(RequireAuthError::Unknown(method.into()));
            };
            let already = (allowed & method.bit() != 0) != negated;
            if already {
                return Err(RequireAuthError::Duplicate(part.into()));
            }
            allowed ^= method.bit();
        }
        Ok(Self {
            text: text.into(),
            allowed,
            none,
        })
    }
}

/// Why a `require_auth` setting was refused; the messages are libpq's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequireAuthError {
    /// A name that is not a method (also an empty entry).
    Unknown(String),
    /// A `!method` after plain ones.
    NegatedMixed(String),
    /// A plain method after negated ones.
    PlainMixed(String),
    /// A method named twice, probably a typo in a setting where typos are risky.
    Duplicate(String),
}

impl fmt::Display for RequireAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(method) => write!(f, "invalid require_auth value: \"{method}\""),
            Self::NegatedMixed(method) => write!(
                f,
                "negative require_auth method \"{method}\" cannot be mixed with non-negative methods"
            ),
            Self::PlainMixed(method) => write!(
                f,
                "require_auth method \"{method}\" cannot be mixed with negative methods"
            ),
            Self::Duplicate(method) => write!(
                f,
                "require_auth method \"{method}\" is specified more than once"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RequireAuthError {}
