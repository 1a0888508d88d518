//! Why a connection string, URL or environment variable was rejected.

use std::fmt;

/// Where a rejected setting came from, so the message can point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A `postgresql://` URL.
    Url,
    /// A libpq `key=value` connection string.
    ConnString,
    /// The named `PG*` environment variable.
    Env(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url => f.write_str("in URL"),
            Self::ConnString => f.write_str("in connection string"),
            Self::Env(var) => write!(f, "in environment variable {var}"),
        }
    }
}

/// A configuration that cannot be used.
///
/// The message names the offending part ("invalid port \"abc\" in URL", "unknown
/// parameter \"sslmod\" in connection string"). Passwords are never quoted in it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL's structure is wrong (bad scheme, unclosed `[`, ...).
    InvalidUrl {
        /// What is wrong.
        reason: &'static str,
    },
    /// A `%` escape that is not two hex digits, an escaped NUL (`%00`), or text that
    /// is not UTF-8 once decoded.
    InvalidPercentEncoding {
        /// Which part of the URL ("host", "password", "value of parameter \"options\"").
        part: String,
    },
    /// A parameter name that no PostgreSQL client knows.
    UnknownParameter {
        /// The name as written.
        name: String,
        /// Where it was written.
        origin: Origin,
    },
    /// A libpq parameter that apg does not implement (`service`, `sslrootcert`, ...).
    /// Rejected rather than ignored, so a setting the user relies on is never silently
    /// dropped.
    UnsupportedParameter {
        /// The name as written.
        name: String,
        /// Where it was written.
        origin: Origin,
    },
    /// A value a parameter does not accept.
    InvalidValue {
        /// The parameter's canonical name.
        parameter: &'static str,
        /// The value as written.
        value: String,
        /// Where it was written.
        origin: Origin,
    },
    /// A `require_auth` list libpq would refuse (unknown method, negated and plain
    /// methods mixed, a method named twice).
    InvalidRequireAuth {
        /// The value as written.
        value: String,
        /// What is wrong with it, in libpq's words.
        reason: apg_proto::connection::RequireAuthError,
        /// Where it was written.
        origin: Origin,
    },
    /// A value containing a NUL character, which the start-up packet cannot carry.
    NulInValue {
        /// The parameter's canonical name.
        parameter: &'static str,
        /// Where it was written.
        origin: Origin,
    },
    /// A `key=value` connection-string entry without its `=`.
    MissingEquals {
        /// The key that lacks a value.
        key: String,
    },
    /// A single-quoted value in a `key=value` connection string that never ends.
    UnterminatedQuote {
        /// The key whose value is unterminated.
        key: String,
    },
    /// More than one port, but not one per host.
    PortCountMismatch {
        /// Number of ports given.
        ports: usize,
        /// Number of hosts given.
        hosts: usize,
    },
    /// Both `host` and `hostaddr` lists, of different lengths.
    HostaddrCountMismatch {
        /// Number of `hostaddr` entries.
        hostaddrs: usize,
        /// Number of `host` entries.
        hosts: usize,
    },
    /// No user name was configured and none could be found in the environment.
    NoUser,
    /// A TLS version apg cannot speak as `ssl_max_protocol_version` (below TLS 1.2:
    /// rustls has nothing older, so no connection could be made).
    TlsVersionUnsupported {
        /// The parameter's canonical name.
        parameter: &'static str,
        /// The version asked for.
        version: super::SslProtocolVersion,
    },
    /// `ssl_min_protocol_version` above `ssl_max_protocol_version`.
    TlsVersionRange {
        /// The minimum.
        min: super::SslProtocolVersion,
        /// The maximum.
        max: super::SslProtocolVersion,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl { reason } => write!(f, "invalid URL: {reason}"),
            Self::InvalidPercentEncoding { part } => {
                write!(f, "invalid percent-encoding in {part} in URL")
            }
            Self::UnknownParameter { name, origin } => {
                write!(f, "unknown parameter \"{}\" {origin}", name.escape_debug())
            }
            Self::UnsupportedParameter { name, origin } => write!(
                f,
                "parameter \"{}\" {origin} is not supported by apg",
                name.escape_debug()
            ),
            Self::InvalidValue {
                parameter,
                value,
                origin,
            } => write!(
                f,
                "invalid {parameter} \"{}\" {origin}",
                value.escape_debug()
            ),
            Self::InvalidRequireAuth {
                value,
                reason,
                origin,
            } => write!(
                f,
                "invalid require_auth \"{}\" {origin}: {reason}",
                value.escape_debug()
            ),
            Self::NulInValue { parameter, origin } => {
                write!(f, "NUL character in {parameter} {origin}")
            }
            Self::MissingEquals { key } => write!(
                f,
                "missing \"=\" after \"{}\" in connection string",
                key.escape_debug()
            ),
            Self::UnterminatedQuote { key } => write!(
                f,
                "unterminated quoted string for \"{}\" in connection string",
                key.escape_debug()
            ),
            Self::PortCountMismatch { ports, hosts } => {
                write!(f, "could not match {ports} port numbers to {hosts} hosts")
            }
            Self::HostaddrCountMismatch { hostaddrs, hosts } => write!(
                f,
                "could not match {hostaddrs} hostaddr values to {hosts} host names"
            ),
            Self::NoUser => f.write_str(
                "no user name configured and none found in the environment (USER, LOGNAME)",
            ),
            Self::TlsVersionUnsupported { parameter, version } => write!(
                f,
                "{parameter} {version} is not supported: apg speaks TLSv1.2 and TLSv1.3 only"
            ),
            Self::TlsVersionRange { min, max } => write!(
                f,
                "invalid SSL protocol version range: ssl_min_protocol_version {min} is above \
                 ssl_max_protocol_version {max}"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_bad_part() {
        let e = ConfigError::InvalidValue {
            parameter: "port",
            value: "abc".into(),
            origin: Origin::Url,
        };
        assert_eq!(e.to_string(), "invalid port \"abc\" in URL");
        let e = ConfigError::UnknownParameter {
            name: "sslmod".into(),
            origin: Origin::ConnString,
        };
        assert_eq!(
            e.to_string(),
            "unknown parameter \"sslmod\" in connection string"
        );
        let e = ConfigError::InvalidValue {
            parameter: "sslmode",
            value: "maybe".into(),
            origin: Origin::Env("PGSSLMODE"),
        };
        assert_eq!(
            e.to_string(),
            "invalid sslmode \"maybe\" in environment variable PGSSLMODE"
        );
    }
}
