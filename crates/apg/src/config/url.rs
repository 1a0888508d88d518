//! `postgresql://` URLs (libpq "Connection URIs"), both ways.
//!
//! ```text
//! postgresql://[user[:password]@][host[:port][,host[:port]...]][/dbname][?key=value&...]
//! ```
//!
//! Every component is percent-decoded; a host that decodes to a path starting with
//! `/` is a Unix socket directory; IPv6 addresses go in brackets. Query parameters are
//! the same as in `key=value` strings and override the components before them.

use std::fmt::Write as _;

use super::param::{self, Key, DEFAULT_PORT};
use super::{Config, ConfigError, Host, Origin, SslRootCert};

/// The schemes libpq accepts.
const SCHEMES: [&str; 2] = ["postgresql://", "postgres://"];

/// If `s` starts with a URL scheme, returns the rest after `://`, or an error for a
/// scheme that is not PostgreSQL's. `None` means "not a URL".
pub(crate) fn strip_scheme(s: &str) -> Option<Result<&str, ConfigError>> {
    for scheme in SCHEMES {
        if let Some(prefix) = s.get(..scheme.len()) {
            if prefix.eq_ignore_ascii_case(scheme) {
                return s.get(scheme.len()..).map(Ok);
            }
        }
    }
    // RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then "://".
    let (scheme, _) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let looks_like_scheme = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    looks_like_scheme.then_some(Err(ConfigError::InvalidUrl {
        reason: "the scheme must be postgresql:// or postgres://",
    }))
}

/// Parses the part of a URL after the scheme. Returns the keys that were set.
pub(crate) fn parse(rest: &str, config: &mut Config) -> Result<Vec<Key>, ConfigError> {
    let mut set = Vec::new();
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (before_query, None),
    };

    // The last '@' ends the user info, so an unescaped '@' in a password still works;
    // user names with '@' (common on managed services) must then be escaped as %40.
    let hostlist = match authority.rsplit_once('@') {
        Some((userinfo, hostlist)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            let user = decode(user, "user name")?;
            param::apply(config, Key::User, &user, Origin::Url)?;
            if config.user.is_some() {
                set.push(Key::User);
            }
            if let Some(password) = password {
                let password = decode(password, "password")?;
                param::apply(config, Key::Password, &password, Origin::Url)?;
                set.push(Key::Password);
            }
            hostlist
        }
        None => authority,
    };

    if !hostlist.is_empty() {
        parse_hostlist(hostlist, config)?;
        if !config.hosts.is_empty() {
            set.push(Key::Host);
        }
        if !config.ports.is_empty() {
            set.push(Key::Port);
        }
    }

    if let Some(path) = path {
        let dbname = decode(path, "database name")?;
        param::apply(config, Key::Dbname, &dbname, Origin::Url)?;
        if config.dbname.is_some() {
            set.push(Key::Dbname);
        }
    }

    for pair in query.unwrap_or("").split('&') {
        if pair.is_empty() {
            continue;
        }
        let Some((name, value)) = pair.split_once('=') else {
            return Err(ConfigError::InvalidUrl {
                reason: "a query parameter lacks its \"=\"",
            });
        };
        // libpq refuses a second '=' too: it is a sign of a value that needed %3D.
        if value.contains('=') {
            return Err(ConfigError::InvalidUrl {
                reason: "a query parameter has a second \"=\" (write it as %3D)",
            });
        }
        let name = decode(name, "parameter name")?;
        let name = String::from_utf8(name).map_err(|_| ConfigError::InvalidPercentEncoding {
            part: "parameter name".into(),
        })?;
        let key = Key::lookup(&name, Origin::Url)?;
        let value = decode(value, &format!("value of parameter \"{}\"", key.name()))?;
        param::apply(config, key, &value, Origin::Url)?;
        set.push(key);
    }
    Ok(set)
}

/// `host[:port],[v6]:port,...` from the URL's authority. A port is per host; a host
/// without one gets the default, and if no host has one the port list stays empty
/// (so `PGPORT` can still apply).
fn parse_hostlist(list: &str, config: &mut Config) -> Result<(), ConfigError> {
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    let mut any_port = false;
    let single = !list.contains(',');
    for item in list.split(',') {
        let (host, port) = if let Some(bracketed) = item.strip_prefix('[') {
            let Some((addr, after)) = bracketed.split_once(']') else {
                return Err(ConfigError::InvalidUrl {
                    reason: "missing \"]\" after an IPv6 address",
                });
            };
            if addr.is_empty() {
                return Err(ConfigError::InvalidUrl {
                    reason: "empty IPv6 address in brackets",
                });
            }
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or(ConfigError::InvalidUrl {
                    reason: "unexpected characters after \"]\" of an IPv6 address",
                })?),
            };
            (addr, port)
        } else {
            match item.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (item, None),
            }
        };
        let host = decode(host, "host")?;
        let host = String::from_utf8(host).map_err(|_| ConfigError::InvalidPercentEncoding {
            part: "host".into(),
        })?;
        // `postgresql://:5433/db`: no host (the default), only a port.
        let no_host = host.is_empty() && single;
        if host.is_empty() && !single {
            return Err(ConfigError::InvalidValue {
                parameter: "host",
                value: String::new(),
                origin: Origin::Url,
            });
        }
        if host.contains('\0') {
            return Err(ConfigError::NulInValue {
                parameter: "host",
                origin: Origin::Url,
            });
        }
        if !no_host {
            hosts.push(param::host_from_str(&host));
        }
        let port = match port {
            Some(p) => {
                let p = decode(p, "port")?;
                let text = String::from_utf8_lossy(&p);
                any_port |= !text.is_empty();
                param::parse_port(&text).ok_or_else(|| ConfigError::InvalidValue {
                    parameter: "port",
                    value: text.into_owned(),
                    origin: Origin::Url,
                })?
            }
            None => DEFAULT_PORT,
        };
        ports.push(port);
    }
    config.hosts = hosts;
    if any_port {
        config.ports = ports;
    }
    Ok(())
}

/// Percent-decodes `text`; `part` names it in the error. `%00` is refused: NUL cannot
/// travel in the start-up packet, and libpq refuses it too.
pub(crate) fn decode(text: &str, part: &str) -> Result<Vec<u8>, ConfigError> {
    let bad = || ConfigError::InvalidPercentEncoding { part: part.into() };
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hi = bytes.next().and_then(hex_value).ok_or_else(bad)?;
        let lo = bytes.next().and_then(hex_value).ok_or_else(bad)?;
        let decoded = hi << 4 | lo;
        if decoded == 0 {
            return Err(bad());
        }
        out.push(decoded);
    }
    Ok(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Appends `bytes` percent-encoded: everything but RFC 3986 unreserved characters
/// and those in `keep` is escaped.
fn encode_into(out: &mut String, bytes: &[u8], keep: &[u8]) {
    let hex = |nibble: u8| {
        let digit = b"0123456789ABCDEF"
            .get(usize::from(nibble))
            .copied()
            .unwrap_or(b'0');
        char::from(digit)
    };
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex(b >> 4));
            out.push(hex(b & 0x0f));
        }
    }
}

/// How [`render`] shows the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Password {
    /// As `***`, which cannot be an encoded password (`*` would be escaped).
    Redacted,
    /// Percent-encoded, for tests of the round trip.
    #[cfg(test)]
    Clear,
}

/// Writes `config` as a URL that [`parse`] reads back to the same configuration,
/// except for `server_settings`, which URLs cannot carry. Default values are left out.
pub(crate) fn render(config: &Config, password: Password) -> String {
    let mut url = String::from("postgresql://");
    if config.user.is_some() || config.password.is_some() {
        if let Some(user) = &config.user {
            encode_into(&mut url, user.as_bytes(), &[]);
        }
        if let Some(secret) = &config.password {
            url.push(':');
            push_password(&mut url, secret, password);
        }
        url.push('@');
    }

    let inline_ports = !config.hosts.is_empty() && config.ports.len() == config.hosts.len();
    for (i, host) in config.hosts.iter().enumerate() {
        if i > 0 {
            url.push(',');
        }
        match host {
            Host::Tcp(name) if name.contains(':') => {
                url.push('[');
                encode_into(&mut url, name.as_bytes(), b":");
                url.push(']');
            }
            Host::Tcp(name) => encode_into(&mut url, name.as_bytes(), &[]),
            Host::Unix(path) => {
                encode_into(&mut url, path.to_string_lossy().as_bytes(), &[]);
            }
        }
        if inline_ports {
            if let Some(port) = config.ports.get(i) {
                let _ = write!(url, ":{port}");
            }
        }
    }

    if let Some(dbname) = &config.dbname {
        url.push('/');
        encode_into(&mut url, dbname.as_bytes(), &[]);
    }

    let mut query: Vec<(&str, String)> = Vec::new();
    if !config.hostaddrs.is_empty() {
        let list: Vec<String> = config.hostaddrs.iter().map(ToString::to_string).collect();
        query.push(("hostaddr", list.join(",")));
    }
    if !inline_ports && !config.ports.is_empty() {
        let list: Vec<String> = config.ports.iter().map(ToString::to_string).collect();
        query.push(("port", list.join(",")));
    }
    let defaults = Config::default();
    if let Some(name) = &config.application_name {
        query.push(("application_name", name.clone()));
    }
    if let Some(options) = &config.options {
        query.push(("options", options.clone()));
    }
    if config.ssl_mode != defaults.ssl_mode {
        query.push(("sslmode", config.ssl_mode.as_str().into()));
    }
    match &config.ssl_root_cert {
        Some(SslRootCert::System) => query.push(("sslrootcert", "system".into())),
        Some(SslRootCert::File(path)) => {
            query.push(("sslrootcert", path.to_string_lossy().into_owned()));
        }
        None => {}
    }
    if let Some(path) = &config.ssl_cert {
        query.push(("sslcert", path.to_string_lossy().into_owned()));
    }
    if let Some(path) = &config.ssl_key {
        query.push(("sslkey", path.to_string_lossy().into_owned()));
    }
    if config.ssl_negotiation != defaults.ssl_negotiation {
        query.push(("sslnegotiation", config.ssl_negotiation.as_str().into()));
    }
    if let Some(path) = &config.ssl_crl {
        query.push(("sslcrl", path.to_string_lossy().into_owned()));
    }
    if let Some(path) = &config.ssl_crl_dir {
        query.push(("sslcrldir", path.to_string_lossy().into_owned()));
    }
    if !config.ssl_sni {
        query.push(("sslsni", "0".into()));
    }
    if config.ssl_min_protocol_version != defaults.ssl_min_protocol_version {
        let version = config.ssl_min_protocol_version.as_str();
        query.push(("ssl_min_protocol_version", version.into()));
    }
    if let Some(version) = config.ssl_max_protocol_version {
        query.push(("ssl_max_protocol_version", version.as_str().into()));
    }
    if config.channel_binding != defaults.channel_binding {
        let name = param::channel_binding_name(config.channel_binding);
        query.push(("channel_binding", name.into()));
    }
    if let Some(timeout) = config.connect_timeout {
        query.push(("connect_timeout", param::format_seconds(timeout)));
    }
    if !config.keepalives {
        query.push(("keepalives", "0".into()));
    }
    if let Some(idle) = config.keepalives_idle {
        query.push(("keepalives_idle", param::format_seconds(idle)));
    }
    if let Some(interval) = config.keepalives_interval {
        query.push(("keepalives_interval", param::format_seconds(interval)));
    }
    if let Some(count) = config.keepalives_count {
        query.push(("keepalives_count", count.to_string()));
    }
    if config.target_session_attrs != defaults.target_session_attrs {
        query.push((
            "target_session_attrs",
            config.target_session_attrs.as_str().into(),
        ));
    }
    if let Some(passfile) = &config.passfile {
        query.push(("passfile", passfile.to_string_lossy().into_owned()));
    }
    if config.statement_cache_capacity != defaults.statement_cache_capacity {
        query.push((
            "statement_cache_capacity",
            config.statement_cache_capacity.to_string(),
        ));
    }
    if let Some(timeout) = config.command_timeout {
        query.push(("command_timeout", param::format_seconds(timeout)));
    }
    if let Some(required) = &config.require_auth {
        query.push(("require_auth", required.as_str().into()));
    }
    if config.load_balance_hosts != defaults.load_balance_hosts {
        query.push((
            "load_balance_hosts",
            config.load_balance_hosts.as_str().into(),
        ));
    }
    if let Some(timeout) = config.tcp_user_timeout {
        query.push(("tcp_user_timeout", param::format_milliseconds(timeout)));
    }
    for (i, (name, value)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(name);
        url.push('=');
        // ',' is kept so lists stay readable; it is not special in a query value.
        encode_into(&mut url, value.as_bytes(), b",");
    }
    url
}

// `_secret` is only read when tests ask for the clear text.
fn push_password(url: &mut String, _secret: &[u8], password: Password) {
    match password {
        Password::Redacted => url.push_str("***"),
        #[cfg(test)]
        Password::Clear => encode_into(url, _secret, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(decode("a%20b", "x").unwrap(), b"a b");
        assert_eq!(decode("%2Fvar%2frun", "x").unwrap(), b"/var/run");
        assert_eq!(decode("100%25", "x").unwrap(), b"100%");
        assert_eq!(decode("a+b", "x").unwrap(), b"a+b");
        for bad in ["%", "%2", "%zz", "%g0", "a%00b"] {
            assert_eq!(
                decode(bad, "host"),
                Err(ConfigError::InvalidPercentEncoding {
                    part: "host".into()
                }),
                "{bad}"
            );
        }
    }

    fn encode(bytes: &[u8]) -> String {
        let mut out = String::new();
        encode_into(&mut out, bytes, &[]);
        out
    }

    #[test]
    fn encoding() {
        assert_eq!(encode(b"a b/c@d:e%"), "a%20b%2Fc%40d%3Ae%25");
        assert_eq!(encode(b"Az09-._~"), "Az09-._~");
        assert_eq!(encode(&[0xff, 0x01]), "%FF%01");
    }

    #[test]
    fn schemes() {
        assert_eq!(strip_scheme("postgresql://h"), Some(Ok("h")));
        assert_eq!(strip_scheme("POSTGRES://h"), Some(Ok("h")));
        assert!(matches!(strip_scheme("mysql://h"), Some(Err(_))));
        assert_eq!(strip_scheme("host=a"), None);
        assert_eq!(strip_scheme("options='-c x=://'"), None);
    }
}
