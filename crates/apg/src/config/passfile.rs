//! The libpq password file (`~/.pgpass`, `PGPASSFILE`, `passfile=`).
//!
//! Each line is `hostname:port:database:username:password`. A field that is exactly
//! `*` matches anything; `\:` and `\\` stand for a literal colon and backslash (so
//! `\*` is a literal star). Lines starting with `#` are comments, and lines with fewer
//! than five fields never match. The first matching line wins.
//!
//! As in libpq, on Unix a file that is not a regular file, or that grants any
//! permission to group or others (anything looser than `0600`), is ignored with a
//! warning. apg has no logging dependency, so warnings are returned as strings
//! ([`Resolved::warnings`](super::Resolved::warnings)) for the caller to report.

use std::path::{Path, PathBuf};

/// Unix socket directories that count as "the default" and are therefore looked up in
/// the password file as `localhost`. libpq does this for its one compiled-in socket
/// directory; apg has no compiled-in one, so every directory it tries by default
/// counts (Debian-style first, then the upstream default).
pub const DEFAULT_SOCKET_DIRS: [&str; 3] = ["/var/run/postgresql", "/run/postgresql", "/tmp"];

/// One field of a line: `*` or a literal (already unescaped).
#[derive(Clone, PartialEq, Eq)]
enum Field {
    Any,
    Exact(Vec<u8>),
}

impl Field {
    fn matches(&self, value: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(text) => text == value.as_bytes(),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
struct Entry {
    host: Field,
    port: Field,
    database: Field,
    user: Field,
    password: Vec<u8>,
}

/// The parsed contents of a password file.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PassFile {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for PassFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassFile")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl PassFile {
    /// Parses the contents of a password file. Malformed lines are skipped, as libpq
    /// skips them (they simply never match).
    pub fn parse(contents: &[u8]) -> Self {
        let entries = contents
            .split(|&b| b == b'\n')
            .filter_map(|line| parse_line(line.strip_suffix(b"\r").unwrap_or(line)))
            .collect();
        Self { entries }
    }

    /// Reads and parses the file at `path`.
    ///
    /// Returns `None` when the file does not exist or cannot be read, and also when it
    /// is not a regular file or (on Unix) has group or world permissions; those two
    /// cases push a warning onto `warnings`, worded like libpq's.
    pub fn load(path: &Path, warnings: &mut Vec<String>) -> Option<Self> {
        // `metadata` follows symbolic links, as libpq's `stat` does.
        let metadata = std::fs::metadata(path).ok()?;
        if !metadata.is_file() {
            warnings.push(format!(
                "password file \"{}\" is not a plain file",
                path.display()
            ));
            return None;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if metadata.permissions().mode() & 0o077 != 0 {
                warnings.push(format!(
                    "password file \"{}\" has group or world access; permissions should be \
                     u=rw (0600) or less",
                    path.display()
                ));
                return None;
            }
        }
        match std::fs::read(path) {
            Ok(contents) => Some(Self::parse(&contents)),
            Err(e) => {
                warnings.push(format!(
                    "could not read password file \"{}\": {e}",
                    path.display()
                ));
                None
            }
        }
    }

    /// The password of the first line matching all four values, if any.
    ///
    /// `host` is what the line's first field is compared with: a host name, an
    /// address, a socket directory, or `localhost` (see [`pgpass_host`]).
    pub fn find(&self, host: &str, port: u16, database: &str, user: &str) -> Option<&[u8]> {
        let port = port.to_string();
        self.entries
            .iter()
            .find(|e| {
                e.host.matches(host)
                    && e.port.matches(&port)
                    && e.database.matches(database)
                    && e.user.matches(user)
            })
            .map(|e| e.password.as_slice())
    }

    /// Number of usable lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file had no usable line.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The text a host is looked up as: its name or address for TCP; for a Unix socket,
/// `localhost` if the directory is one of [`DEFAULT_SOCKET_DIRS`], else the
/// directory's path.
pub fn pgpass_host(host: &super::Host) -> String {
    match host {
        super::Host::Tcp(name) => name.clone(),
        super::Host::Unix(dir) => {
            if DEFAULT_SOCKET_DIRS.iter().any(|d| Path::new(d) == dir) {
                "localhost".into()
            } else {
                dir.to_string_lossy().into_owned()
            }
        }
    }
}

/// Where the password file is when none is configured: `~/.pgpass` on Unix,
/// `%APPDATA%\postgresql\pgpass.conf` on Windows (libpq's locations). `env` reads
/// environment variables.
pub fn default_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if cfg!(windows) {
        let appdata = env("APPDATA").filter(|v| !v.is_empty())?;
        Some(
            PathBuf::from(appdata)
                .join("postgresql")
                .join("pgpass.conf"),
        )
    } else {
        let home = env("HOME").filter(|v| !v.is_empty())?;
        Some(PathBuf::from(home).join(".pgpass"))
    }
}

fn parse_line(line: &[u8]) -> Option<Entry> {
    if line.is_empty() || line.starts_with(b"#") {
        return None;
    }
    let mut rest = line;
    let mut fields: [Field; 4] = [Field::Any, Field::Any, Field::Any, Field::Any];
    for field in &mut fields {
        let (raw, text, after) = split_field(rest)?;
        *field = if raw == b"*" {
            Field::Any
        } else {
            Field::Exact(text)
        };
        rest = after?;
    }
    // The password runs to the next unescaped ':' (anything after it is ignored, as
    // in libpq) or to the end of the line.
    let (_, password, _) = split_field(rest)?;
    let [host, port, database, user] = fields;
    Some(Entry {
        host,
        port,
        database,
        user,
        password,
    })
}

/// Splits at the first unescaped ':'. Returns the raw field, its unescaped text, and
/// what follows the colon (`None` if the line ended instead).
#[allow(clippy::type_complexity)]
fn split_field(input: &[u8]) -> Option<(&[u8], Vec<u8>, Option<&[u8]>)> {
    let mut text = Vec::new();
    let mut iter = input.iter().enumerate();
    while let Some((i, &b)) = iter.next() {
        match b {
            b'\\' => match iter.next() {
                Some((_, &escaped)) => text.push(escaped),
                // A lone trailing backslash stands for itself.
                None => text.push(b'\\'),
            },
            b':' => {
                let raw = input.get(..i)?;
                let after = input.get(i + 1..)?;
                return Some((raw, text, Some(after)));
            }
            _ => text.push(b),
        }
    }
    Some((input, text, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Host;

    #[test]
    fn wildcards_and_first_match() {
        let file = PassFile::parse(
            b"# comment\n\
              \n\
              db.example.com:5432:app:alice:first\n\
              *:5432:app:alice:second\n\
              *:*:*:*:fallback\n",
        );
        assert_eq!(file.len(), 3);
        assert_eq!(
            file.find("db.example.com", 5432, "app", "alice"),
            Some(&b"first"[..])
        );
        assert_eq!(
            file.find("other", 5432, "app", "alice"),
            Some(&b"second"[..])
        );
        assert_eq!(
            file.find("other", 5433, "app", "alice"),
            Some(&b"fallback"[..])
        );
    }

    #[test]
    fn escapes() {
        let file = PassFile::parse(
            br"h\:x:5432:d\\b:u:p\:a\\ss
\*:5432:*:*:star
h:5432:*:*:ends:ignored",
        );
        assert_eq!(file.find("h:x", 5432, r"d\b", "u"), Some(&br"p:a\ss"[..]));
        // An escaped star is a literal star, not a wildcard.
        assert_eq!(file.find("*", 5432, "x", "y"), Some(&b"star"[..]));
        assert_eq!(file.find("h", 5432, "x", "y"), Some(&b"ends"[..]));
        assert_eq!(file.find("nomatch", 5432, "x", "y"), None);
    }

    #[test]
    fn short_and_odd_lines_never_match() {
        let file = PassFile::parse(b"h:5432:db:user\nh:5432\n#*:*:*:*:commented\n\r\n");
        assert!(file.is_empty());
        assert_eq!(file.find("h", 5432, "db", "user"), None);
    }

    #[test]
    fn crlf_and_empty_password() {
        let file = PassFile::parse(b"a:1:*:*:pw\r\nb:1:*:*:\r\n");
        assert_eq!(file.find("a", 1, "d", "u"), Some(&b"pw"[..]));
        assert_eq!(file.find("b", 1, "d", "u"), Some(&b""[..]));
    }

    #[test]
    fn star_must_be_the_whole_field() {
        let file = PassFile::parse(b"*x:*:*:*:pw\n");
        assert_eq!(file.find("ax", 1, "d", "u"), None);
        assert_eq!(file.find("*x", 1, "d", "u"), Some(&b"pw"[..]));
    }

    #[test]
    fn socket_hosts() {
        assert_eq!(
            pgpass_host(&Host::Unix("/var/run/postgresql/".into())),
            "localhost"
        );
        assert_eq!(pgpass_host(&Host::Unix("/tmp".into())), "localhost");
        assert_eq!(pgpass_host(&Host::Unix("/srv/pg".into())), "/srv/pg");
        assert_eq!(pgpass_host(&Host::Tcp("::1".into())), "::1");
    }

    #[test]
    fn default_locations() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_string()),
            "APPDATA" => Some(r"C:\Users\u\AppData\Roaming".to_string()),
            _ => None,
        };
        let path = default_path(&env).unwrap();
        if cfg!(windows) {
            assert!(path.ends_with("postgresql/pgpass.conf"));
        } else {
            assert_eq!(path, PathBuf::from("/home/u/.pgpass"));
        }
        assert_eq!(default_path(&|_| None), None);
    }
}
