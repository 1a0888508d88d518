//! The parameters shared by URLs, `key=value` strings and the environment, and how
//! each value is interpreted.
//!
//! All three sources funnel into [`apply`], so a parameter means the same thing
//! wherever it is written, as in libpq (`conninfo_storeval`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{
    ChannelBindingPolicy, Config, ConfigError, Host, Origin, RequireAuth, SslProtocolVersion,
    SslRootCert,
};

/// The port used when none is given, for every host.
pub(crate) const DEFAULT_PORT: u16 = 5432;

/// A parameter apg understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Host,
    Hostaddr,
    Port,
    User,
    Password,
    Dbname,
    ApplicationName,
    Options,
    SslMode,
    SslRootCert,
    SslCert,
    SslKeyFile,
    SslNegotiation,
    SslCrl,
    SslCrlDir,
    SslSni,
    SslMinProtocolVersion,
    SslMaxProtocolVersion,
    ChannelBinding,
    ConnectTimeout,
    Keepalives,
    KeepalivesIdle,
    KeepalivesInterval,
    KeepalivesCount,
    TargetSessionAttrs,
    Passfile,
    StatementCacheCapacity,
    CommandTimeout,
    RequireAuth,
    LoadBalanceHosts,
    TcpUserTimeout,
}

impl Key {
    pub(crate) const ALL: [Self; 31] = [
        Self::Host,
        Self::Hostaddr,
        Self::Port,
        Self::User,
        Self::Password,
        Self::Dbname,
        Self::ApplicationName,
        Self::Options,
        Self::SslMode,
        Self::SslRootCert,
        Self::SslCert,
        Self::SslKeyFile,
        Self::SslNegotiation,
        Self::SslCrl,
        Self::SslCrlDir,
        Self::SslSni,
        Self::SslMinProtocolVersion,
        Self::SslMaxProtocolVersion,
        Self::ChannelBinding,
        Self::ConnectTimeout,
        Self::Keepalives,
        Self::KeepalivesIdle,
        Self::KeepalivesInterval,
        Self::KeepalivesCount,
        Self::TargetSessionAttrs,
        Self::Passfile,
        Self::StatementCacheCapacity,
        Self::CommandTimeout,
        Self::RequireAuth,
        Self::LoadBalanceHosts,
        Self::TcpUserTimeout,
    ];

    /// The name written in URLs and connection strings.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Hostaddr => "hostaddr",
            Self::Port => "port",
            Self::User => "user",
            Self::Password => "password",
            Self::Dbname => "dbname",
            Self::ApplicationName => "application_name",
            Self::Options => "options",
            Self::SslMode => "sslmode",
            Self::SslRootCert => "sslrootcert",
            Self::SslCert => "sslcert",
            Self::SslKeyFile => "sslkey",
            Self::SslNegotiation => "sslnegotiation",
            Self::SslCrl => "sslcrl",
            Self::SslCrlDir => "sslcrldir",
            Self::SslSni => "sslsni",
            Self::SslMinProtocolVersion => "ssl_min_protocol_version",
            Self::SslMaxProtocolVersion => "ssl_max_protocol_version",
            Self::ChannelBinding => "channel_binding",
            Self::ConnectTimeout => "connect_timeout",
            Self::Keepalives => "keepalives",
            Self::KeepalivesIdle => "keepalives_idle",
            Self::KeepalivesInterval => "keepalives_interval",
            Self::KeepalivesCount => "keepalives_count",
            Self::TargetSessionAttrs => "target_session_attrs",
            Self::Passfile => "passfile",
            Self::StatementCacheCapacity => "statement_cache_capacity",
            Self::CommandTimeout => "command_timeout",
            Self::RequireAuth => "require_auth",
            Self::LoadBalanceHosts => "load_balance_hosts",
            Self::TcpUserTimeout => "tcp_user_timeout",
        }
    }

    /// The libpq environment variable supplying this parameter's default, if any.
    pub(crate) const fn env_var(self) -> Option<&'static str> {
        match self {
            Self::Host => Some("PGHOST"),
            Self::Hostaddr => Some("PGHOSTADDR"),
            Self::Port => Some("PGPORT"),
            Self::User => Some("PGUSER"),
            Self::Password => Some("PGPASSWORD"),
            Self::Dbname => Some("PGDATABASE"),
            Self::ApplicationName => Some("PGAPPNAME"),
            Self::Options => Some("PGOPTIONS"),
            Self::SslMode => Some("PGSSLMODE"),
            Self::SslRootCert => Some("PGSSLROOTCERT"),
            Self::SslCert => Some("PGSSLCERT"),
            Self::SslKeyFile => Some("PGSSLKEY"),
            Self::SslNegotiation => Some("PGSSLNEGOTIATION"),
            Self::SslCrl => Some("PGSSLCRL"),
            Self::SslCrlDir => Some("PGSSLCRLDIR"),
            Self::SslSni => Some("PGSSLSNI"),
            Self::SslMinProtocolVersion => Some("PGSSLMINPROTOCOLVERSION"),
            Self::SslMaxProtocolVersion => Some("PGSSLMAXPROTOCOLVERSION"),
            Self::ChannelBinding => Some("PGCHANNELBINDING"),
            Self::ConnectTimeout => Some("PGCONNECT_TIMEOUT"),
            Self::TargetSessionAttrs => Some("PGTARGETSESSIONATTRS"),
            Self::Passfile => Some("PGPASSFILE"),
            Self::RequireAuth => Some("PGREQUIREAUTH"),
            Self::LoadBalanceHosts => Some("PGLOADBALANCEHOSTS"),
            Self::Keepalives
            | Self::KeepalivesIdle
            | Self::KeepalivesInterval
            | Self::KeepalivesCount
            | Self::StatementCacheCapacity
            | Self::CommandTimeout
            | Self::TcpUserTimeout => None,
        }
    }

    /// Looks a parameter up by name; unknown and unsupported names are errors.
    pub(crate) fn lookup(name: &str, origin: Origin) -> Result<Self, ConfigError> {
        if let Some(key) = Self::ALL.into_iter().find(|k| k.name() == name) {
            return Ok(key);
        }
        if UNSUPPORTED.contains(&name) || name.starts_with("oauth_") {
            Err(ConfigError::UnsupportedParameter {
                name: name.into(),
                origin,
            })
        } else {
            Err(ConfigError::UnknownParameter {
                name: name.into(),
                origin,
            })
        }
    }
}

/// libpq parameters apg does not implement. They get their own error so that the
/// message says "not supported" rather than suggesting a typo.
const UNSUPPORTED: &[&str] = &[
    "client_encoding",
    "fallback_application_name",
    "gssdelegation",
    "gssencmode",
    "gsslib",
    "krbsrvname",
    "max_protocol_version",
    "min_protocol_version",
    "replication",
    "requirepeer",
    "scram_client_key",
    "scram_server_key",
    "service",
    "sslcertmode",
    "sslcompression",
    "sslkeylogfile",
    "sslpassword",
];

/// Stores one parameter's value in `config`, replacing any earlier value (lists such
/// as `host` are replaced whole, as libpq does).
pub(crate) fn apply(
    config: &mut Config,
    key: Key,
    value: &[u8],
    origin: Origin,
) -> Result<(), ConfigError> {
    if value.contains(&0) {
        return Err(ConfigError::NulInValue {
            parameter: key.name(),
            origin,
        });
    }
    if key == Key::Password {
        config.password = Some(value.to_vec());
        return Ok(());
    }
    let Ok(text) = std::str::from_utf8(value) else {
        return Err(ConfigError::InvalidValue {
            parameter: key.name(),
            value: String::from_utf8_lossy(value).into_owned(),
            origin,
        });
    };
    let invalid = || ConfigError::InvalidValue {
        parameter: key.name(),
        value: text.into(),
        origin,
    };
    match key {
        Key::Password => {}
        Key::Host => config.hosts = parse_hosts(text).ok_or_else(invalid)?,
        Key::Hostaddr => config.hostaddrs = parse_hostaddrs(text).ok_or_else(invalid)?,
        Key::Port => config.ports = parse_ports(text).ok_or_else(invalid)?,
        Key::User => config.user = non_empty(text),
        Key::Dbname => config.dbname = non_empty(text),
        Key::ApplicationName => config.application_name = Some(text.into()),
        Key::Options => config.options = Some(text.into()),
        Key::SslMode => config.ssl_mode = text.parse().map_err(|_| invalid())?,
        Key::SslRootCert => {
            config.ssl_root_cert = non_empty(text).map(|t| match t.as_str() {
                "system" => SslRootCert::System,
                _ => SslRootCert::File(PathBuf::from(t)),
            });
        }
        Key::SslCert => config.ssl_cert = non_empty(text).map(PathBuf::from),
        Key::SslKeyFile => config.ssl_key = non_empty(text).map(PathBuf::from),
        Key::SslNegotiation => {
            config.ssl_negotiation = text.parse().map_err(|_| invalid())?;
        }
        Key::SslCrl => config.ssl_crl = non_empty(text).map(PathBuf::from),
        Key::SslCrlDir => config.ssl_crl_dir = non_empty(text).map(PathBuf::from),
        Key::SslSni => {
            config.ssl_sni = match text.trim() {
                "1" => true,
                "0" => false,
                _ => return Err(invalid()),
            };
        }
        // Empty means "not set", as in libpq: the default minimum, no maximum.
        Key::SslMinProtocolVersion => {
            config.ssl_min_protocol_version = match text {
                "" => SslProtocolVersion::Tls1_2,
                _ => text.parse().map_err(|_| invalid())?,
            };
        }
        Key::SslMaxProtocolVersion => {
            config.ssl_max_protocol_version = match text {
                "" => None,
                _ => Some(text.parse().map_err(|_| invalid())?),
            };
        }
        Key::ChannelBinding => {
            config.channel_binding = parse_channel_binding(text).ok_or_else(invalid)?;
        }
        Key::ConnectTimeout => config.connect_timeout = parse_timeout(text).ok_or_else(invalid)?,
        Key::CommandTimeout => config.command_timeout = parse_timeout(text).ok_or_else(invalid)?,
        Key::Keepalives => {
            config.keepalives = text.trim().parse::<i64>().map_err(|_| invalid())? != 0;
        }
        Key::KeepalivesIdle => {
            config.keepalives_idle = parse_interval(text).ok_or_else(invalid)?;
        }
        Key::KeepalivesInterval => {
            config.keepalives_interval = parse_interval(text).ok_or_else(invalid)?;
        }
        Key::KeepalivesCount => {
            let count: u32 = text.trim().parse().map_err(|_| invalid())?;
            config.keepalives_count = (count != 0).then_some(count);
        }
        Key::TargetSessionAttrs => {
            config.target_session_attrs = text.parse().map_err(|_| invalid())?;
        }
        Key::Passfile => config.passfile = non_empty(text).map(PathBuf::from),
        Key::StatementCacheCapacity => {
            config.statement_cache_capacity = text.trim().parse().map_err(|_| invalid())?;
        }
        Key::RequireAuth => config.require_auth = parse_require_auth(text, origin)?,
        Key::LoadBalanceHosts => {
            config.load_balance_hosts = text.parse().map_err(|_| invalid())?;
        }
        Key::TcpUserTimeout => {
            config.tcp_user_timeout = parse_milliseconds(text).ok_or_else(invalid)?;
        }
    }
    Ok(())
}

/// libpq treats an empty user or database name as "not given".
fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.into())
}

/// Interprets one host name: a leading `/` makes it a Unix socket directory.
pub(crate) fn host_from_str(text: &str) -> Host {
    if text.starts_with('/') {
        Host::Unix(PathBuf::from(text))
    } else {
        Host::Tcp(text.into())
    }
}

/// A comma-separated host list. The empty string means "the default" (no hosts);
/// empty entries inside a list are refused because they would silently mean a
/// Unix socket in libpq, which is rarely what a stray comma intends.
fn parse_hosts(text: &str) -> Option<Vec<Host>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',')
        .map(|h| (!h.is_empty()).then(|| host_from_str(h)))
        .collect()
}

fn parse_hostaddrs(text: &str) -> Option<Vec<IpAddr>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',').map(|a| a.trim().parse().ok()).collect()
}

/// A comma-separated port list; an empty entry is the default port, as in libpq.
pub(crate) fn parse_ports(text: &str) -> Option<Vec<u16>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',').map(parse_port).collect()
}

/// One port number, 1 to 65535; empty means the default.
pub(crate) fn parse_port(text: &str) -> Option<u16> {
    let text = text.trim();
    if text.is_empty() {
        return Some(DEFAULT_PORT);
    }
    text.parse().ok().filter(|&p| p != 0)
}

fn parse_channel_binding(text: &str) -> Option<ChannelBindingPolicy> {
    match text {
        "disable" => Some(ChannelBindingPolicy::Disable),
        "prefer" => Some(ChannelBindingPolicy::Prefer),
        "require" => Some(ChannelBindingPolicy::Require),
        _ => None,
    }
}

/// The name libpq uses for a channel binding policy.
pub(crate) fn channel_binding_name(policy: ChannelBindingPolicy) -> &'static str {
    match policy {
        ChannelBindingPolicy::Disable => "disable",
        ChannelBindingPolicy::Require => "require",
        ChannelBindingPolicy::Prefer => "prefer",
    }
}

/// `require_auth`: empty means no requirement, as in libpq.
fn parse_require_auth(text: &str, origin: Origin) -> Result<Option<RequireAuth>, ConfigError> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|reason| ConfigError::InvalidRequireAuth {
            value: text.into(),
            reason,
            origin,
        })
}

/// `tcp_user_timeout`: whole milliseconds; zero or negative means the operating
/// system's default, as libpq treats them. Larger than a C `int` is refused, as in
/// libpq.
fn parse_milliseconds(text: &str) -> Option<Option<Duration>> {
    let millis: i64 = text.trim().parse().ok()?;
    if millis > i64::from(i32::MAX) {
        return None;
    }
    let millis = u64::try_from(millis).unwrap_or(0);
    Some((millis != 0).then(|| Duration::from_millis(millis)))
}

/// Renders a duration as [`parse_milliseconds`] reads it (whole milliseconds).
pub(crate) fn format_milliseconds(duration: Duration) -> String {
    duration.as_millis().to_string()
}

/// A timeout in seconds, possibly fractional. Zero or negative means "no timeout",
/// as for libpq's `connect_timeout`.
fn parse_timeout(text: &str) -> Option<Option<Duration>> {
    let text = text.trim();
    if let Some(magnitude) = text.strip_prefix('-') {
        // Still validated, so "-abc" is an error rather than "no timeout".
        parse_seconds(magnitude)?;
        return Some(None);
    }
    let duration = parse_seconds(text.strip_prefix('+').unwrap_or(text))?;
    Some((!duration.is_zero()).then_some(duration))
}

/// A keepalive interval in seconds: zero means the operating system's default, and
/// negative values are refused (the socket option would reject them anyway).
fn parse_interval(text: &str) -> Option<Option<Duration>> {
    let duration = parse_seconds(text.trim())?;
    Some((!duration.is_zero()).then_some(duration))
}

/// Decimal seconds, `123` or `1.25`, exact to the nanosecond; digits past the ninth
/// decimal are dropped. No floating point, so rendering and re-parsing is lossless.
pub(crate) fn parse_seconds(text: &str) -> Option<Duration> {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos: u32 = 0;
    let mut scale: u32 = 100_000_000;
    for digit in fraction.chars().take(9) {
        nanos += digit.to_digit(10)? * scale;
        scale /= 10;
    }
    Some(Duration::new(secs, nanos))
}

/// Renders a duration as [`parse_seconds`] reads it.
pub(crate) fn format_seconds(duration: Duration) -> String {
    let nanos = duration.subsec_nanos();
    if nanos == 0 {
        return duration.as_secs().to_string();
    }
    let fraction = format!("{nanos:09}");
    format!("{}.{}", duration.as_secs(), fraction.trim_end_matches('0'))
}

/// Checks that the lists fit together once every source has been applied.
pub(crate) fn validate(config: &Config) -> Result<(), ConfigError> {
    let hosts = if config.hosts.is_empty() {
        config.hostaddrs.len()
    } else {
        config.hosts.len()
    };
    if !config.hosts.is_empty()
        && !config.hostaddrs.is_empty()
        && config.hosts.len() != config.hostaddrs.len()
    {
        return Err(ConfigError::HostaddrCountMismatch {
            hostaddrs: config.hostaddrs.len(),
            hosts: config.hosts.len(),
        });
    }
    if config.ports.len() > 1 && config.ports.len() != hosts {
        return Err(ConfigError::PortCountMismatch {
            ports: config.ports.len(),
            hosts,
        });
    }
    validate_tls_versions(config)
}

/// The TLS version range is one apg can use: a maximum of TLS 1.2 or newer, not
/// below the minimum (checked as written, as libpq does).
pub(crate) fn validate_tls_versions(config: &Config) -> Result<(), ConfigError> {
    let Some(max) = config.ssl_max_protocol_version else {
        return Ok(());
    };
    if max < SslProtocolVersion::Tls1_2 {
        return Err(ConfigError::TlsVersionUnsupported {
            parameter: Key::SslMaxProtocolVersion.name(),
            version: max,
        });
    }
    let min = config.ssl_min_protocol_version;
    if min > max {
        return Err(ConfigError::TlsVersionRange { min, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_seconds("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_seconds(".25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds("2."), Some(Duration::from_secs(2)));
        assert_eq!(parse_seconds("0.0000000019"), Some(Duration::from_nanos(1)));
        assert_eq!(parse_seconds("."), None);
        assert_eq!(parse_seconds(""), None);
        assert_eq!(parse_seconds("1e3"), None);
        assert_eq!(parse_seconds("1.2.3"), None);
        assert_eq!(parse_seconds("99999999999999999999"), None);
        assert_eq!(format_seconds(Duration::from_millis(1500)), "1.5");
        assert_eq!(format_seconds(Duration::from_secs(3)), "3");
        assert_eq!(format_seconds(Duration::from_nanos(1)), "0.000000001");
    }

    #[test]
    fn timeouts_follow_libpq() {
        assert_eq!(parse_timeout("0"), Some(None));
        assert_eq!(parse_timeout("-5"), Some(None));
        assert_eq!(parse_timeout("-x"), None);
        assert_eq!(parse_timeout(" 7 "), Some(Some(Duration::from_secs(7))));
        assert_eq!(parse_interval("-1"), None);
        assert_eq!(parse_interval("0"), Some(None));
    }

    #[test]
    fn milliseconds_follow_libpq() {
        assert_eq!(parse_milliseconds("0"), Some(None));
        assert_eq!(parse_milliseconds("-5"), Some(None));
        assert_eq!(
            parse_milliseconds(" 1500 "),
            Some(Some(Duration::from_millis(1500)))
        );
        assert_eq!(parse_milliseconds("1.5"), None);
        assert_eq!(parse_milliseconds("x"), None);
        assert_eq!(parse_milliseconds("2147483648"), None);
        assert_eq!(format_milliseconds(Duration::from_millis(1500)), "1500");
    }

    #[test]
    fn ports() {
        assert_eq!(parse_ports("5432,5433"), Some(vec![5432, 5433]));
        assert_eq!(parse_ports("5433,"), Some(vec![5433, DEFAULT_PORT]));
        assert_eq!(parse_ports(""), Some(vec![]));
        assert_eq!(parse_ports("0"), None);
        assert_eq!(parse_ports("65536"), None);
        assert_eq!(parse_ports("abc"), None);
    }

    #[test]
    fn every_key_round_trips_its_name() {
        for key in Key::ALL {
            assert_eq!(Key::lookup(key.name(), Origin::Url), Ok(key));
        }
        assert!(matches!(
            Key::lookup("sslpassword", Origin::Url),
            Err(ConfigError::UnsupportedParameter { .. })
        ));
        assert!(matches!(
            Key::lookup("sslmod", Origin::Url),
            Err(ConfigError::UnknownParameter { .. })
        ));
    }
}
