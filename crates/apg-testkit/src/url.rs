//! Connection strings: building the testkit's URLs and reading the external
//! server's, in both libpq forms (`postgres://...` URLs and `key=value` lists).
//! See <https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING>.

use std::env;
use std::net::Ipv6Addr;
use std::path::Path;

use crate::Error;

/// Characters left as they are in URL parts (RFC 3986 "unreserved").
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes everything but unreserved characters and those in `keep`.
pub(crate) fn encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if is_unreserved(b) || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::InvalidInput(format!("bad percent-encoding in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::InvalidInput(format!("{s:?} does not decode to UTF-8")))
}

/// `postgres://user[:password]@host:port/db` with every part encoded.
pub(crate) fn build(user: &str, password: Option<&str>, host: &str, port: u16, db: &str) -> String {
    let password = password.map_or_else(String::new, |p| format!(":{}", encode(p, &[])));
    let host = if host.parse::<Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        encode(host, &[])
    };
    format!(
        "postgres://{}{password}@{host}:{port}/{}",
        encode(user, &[]),
        encode(db, &[])
    )
}

/// A URL for the Unix socket in `dir`: libpq takes a socket directory as the
/// `host` query parameter.
pub(crate) fn build_socket(user: &str, dir: &Path, port: u16, db: &str) -> String {
    format!(
        "postgres://{}@/{}?host={}&port={port}",
        encode(user, &[]),
        encode(db, &[]),
        encode(&dir.to_string_lossy(), b"/")
    )
}

/// The parts of an external server's connection string the testkit uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnInfo {
    /// A host name, an address, or a Unix socket directory (starts with `/`).
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) password: Option<String>,
    pub(crate) dbname: String,
    pub(crate) sslmode: Option<String>,
}

impl ConnInfo {
    /// Whether the connection string insists on TLS, which the testkit's own
    /// client does not speak.
    pub(crate) fn requires_tls(&self) -> bool {
        matches!(
            self.sslmode.as_deref(),
            Some("require" | "verify-ca" | "verify-full")
        )
    }
}

#[derive(Default)]
struct Parts {
    host: Option<String>,
    port: Option<String>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    sslmode: Option<String>,
}

impl Parts {
    fn set(&mut self, key: &str, value: String) {
        match key {
            // hostaddr skips name resolution; the testkit resolves anyway.
            "host" | "hostaddr" => self.host = Some(value),
            "port" => self.port = Some(value),
            "user" => self.user = Some(value),
            "password" => self.password = Some(value),
            "dbname" => self.dbname = Some(value),
            "sslmode" => self.sslmode = Some(value),
            _ => {}
        }
    }
}

fn scheme_rest(s: &str) -> Option<&str> {
    s.strip_prefix("postgresql://")
        .or_else(|| s.strip_prefix("postgres://"))
}

/// Parses a libpq connection string. Of multi-host lists only the first host
/// and port are used. Unset parts default like libpq: user from `PGUSER` or
/// `USER`, password from `PGPASSWORD`, port 5432, database = user, and no host
/// means the Unix socket in `/var/run/postgresql` or `/tmp`.
pub(crate) fn parse(conninfo: &str) -> Result<ConnInfo, Error> {
    let parts = match scheme_rest(conninfo) {
        Some(rest) => parse_url(rest)?,
        None => parse_keywords(conninfo)?,
    };
    let first = |v: Option<String>| {
        v.and_then(|v| v.split(',').next().map(str::to_owned))
            .filter(|v| !v.is_empty())
    };
    let port = match first(parts.port) {
        Some(p) => p
            .parse()
            .map_err(|_| Error::InvalidInput(format!("port {p:?} is not a number")))?,
        None => 5432,
    };
    let user = parts
        .user
        .filter(|u| !u.is_empty())
        .or_else(|| env::var("PGUSER").ok())
        .or_else(|| env::var("USER").ok())
        .unwrap_or_else(|| "postgres".to_owned());
    let host = first(parts.host).unwrap_or_else(|| {
        ["/var/run/postgresql", "/tmp"]
            .into_iter()
            .find(|d| Path::new(d).join(format!(".s.PGSQL.{port}")).exists())
            .unwrap_or("localhost")
            .to_owned()
    });
    Ok(ConnInfo {
        host,
        port,
        dbname: parts
            .dbname
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| user.clone()),
        user,
        password: parts.password.or_else(|| env::var("PGPASSWORD").ok()),
        sslmode: parts.sslmode,
    })
}

fn parse_url(rest: &str) -> Result<Parts, Error> {
    let mut parts = Parts::default();
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = main.split_once('/').unwrap_or((main, ""));
    let host_port = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            parts.user = Some(decode(user)?);
            parts.password = password.map(decode).transpose()?;
            host_port
        }
        None => authority,
    };
    let first = host_port.split(',').next().unwrap_or("");
    let (host, port) = if let Some(bracketed) = first.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| Error::InvalidInput(format!("unclosed '[' in {first:?}")))?;
        (host, after.strip_prefix(':'))
    } else {
        match first.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (first, None),
        }
    };
    if !host.is_empty() {
        parts.host = Some(decode(host)?);
    }
    parts.port = port.map(str::to_owned);
    if !path.is_empty() {
        parts.dbname = Some(decode(path)?);
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        parts.set(&decode(key)?, decode(value)?);
    }
    Ok(parts)
}

fn parse_keywords(s: &str) -> Result<Parts, Error> {
    let mut parts = Parts::default();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(parts);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(Error::InvalidInput(format!(
                "{s:?} is neither a postgres:// URL nor a key=value list (no '=' after {key:?})"
            )));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => {
                        return Err(Error::InvalidInput(format!(
                            "unterminated quoted value in {s:?}"
                        )))
                    }
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        parts.set(&key, value);
    }
}

/// `conninfo` with its database replaced by `db`, otherwise untouched.
pub(crate) fn with_database(conninfo: &str, db: &str) -> String {
    let Some(rest) = scheme_rest(conninfo) else {
        // In key=value lists a later keyword overrides an earlier one.
        let escaped = db.replace('\\', "\\\\").replace('\'', "\\'");
        return format!("{conninfo} dbname='{escaped}'");
    };
    let scheme = conninfo.get(..conninfo.len() - rest.len()).unwrap_or("");
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = main.split_once('/').map_or(main, |(a, _)| a);
    // A dbname query parameter would override the path, so drop it.
    let query: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("dbname="))
        .collect();
    let mut out = format!("{scheme}{authority}/{}", encode(db, &[]));
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_urls() {
        assert_eq!(
            build("apg_md5", Some("p@ss word"), "127.0.0.1", 5433, "db"),
            "postgres://apg_md5:p%40ss%20word@127.0.0.1:5433/db"
        );
        assert_eq!(
            build("postgres", None, "::1", 1, "x"),
            "postgres://postgres@[::1]:1/x"
        );
        assert_eq!(
            build_socket("postgres", Path::new("/tmp/a b/sock"), 7, "postgres"),
            "postgres://postgres@/postgres?host=/tmp/a%20b/sock&port=7"
        );
    }

    #[test]
    fn parses_urls() {
        let c = parse("postgresql://al%40ice:s%3Acret@db.example:6543/my%20db?sslmode=require")
            .unwrap();
        assert_eq!(c.user, "al@ice");
        assert_eq!(c.password.as_deref(), Some("s:cret"));
        assert_eq!(c.host, "db.example");
        assert_eq!(c.port, 6543);
        assert_eq!(c.dbname, "my db");
        assert!(c.requires_tls());

        let c = parse("postgres://u@[::1]:7/d").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 7));

        let c = parse("postgres://u@h1:1,h2:2/d").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("h1", 1));

        let c = parse("postgres://u@/d?host=%2Fvar%2Frun%2Fpg&port=9&dbname=q").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("/var/run/pg", 9));
        assert_eq!(c.dbname, "q");

        let c = parse("postgres://u@h").unwrap();
        assert_eq!((c.port, c.dbname.as_str()), (5432, "u"));
        assert!(!c.requires_tls());

        assert!(parse("postgres://u@h:notaport/d").is_err());
        assert!(parse("postgres://u@[::1/d").is_err());
        assert!(parse("postgres://u%zz@h/d").is_err());
    }

    #[test]
    fn parses_keyword_lists() {
        let c = parse("host=localhost port = 5433 user=bob password='it\\'s q' dbname=x").unwrap();
        assert_eq!(c.host, "localhost");
        assert_eq!(c.port, 5433);
        assert_eq!(c.user, "bob");
        assert_eq!(c.password.as_deref(), Some("it's q"));
        assert_eq!(c.dbname, "x");
        assert!(parse("just words").is_err());
        assert!(parse("password='open").is_err());
    }

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            with_database("postgres://u:p@h:1/old?sslmode=disable&dbname=o2", "new db"),
            "postgres://u:p@h:1/new%20db?sslmode=disable"
        );
        assert_eq!(with_database("postgresql://h", "n"), "postgresql://h/n");
        assert_eq!(
            with_database("host=h user=u", "it's"),
            "host=h user=u dbname='it\\'s'"
        );
        let c = parse(&with_database("host=h user=u dbname=a", "b")).unwrap();
        assert_eq!(c.dbname, "b");
    }
}
