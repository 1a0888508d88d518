//! libpq `key=value` connection strings ("Keyword/Value Connection Strings").
//!
//! ```text
//! host=localhost port=5432 dbname=mydb password='a b\' c'
//! ```
//!
//! Pairs are separated by whitespace; spaces around `=` are allowed. A value is either
//! bare (up to the next whitespace) or single-quoted; in both, a backslash takes the
//! next character literally. This follows libpq's `conninfo_parse`, including its
//! quirk that whitespace after `=` is skipped, so `host= port=5432` sets `host` to
//! `port=5432`; write `host=''` for an empty value.

use super::param::{self, Key};
use super::{Config, ConfigError, Origin};

/// The whitespace libpq's `isspace` recognises in the C locale.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Parses a connection string into `config`. Returns the keys that were set.
pub(crate) fn parse(s: &str, config: &mut Config) -> Result<Vec<Key>, ConfigError> {
    let mut set = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|&c| is_space(c)).is_some() {}
        if chars.peek().is_none() {
            break;
        }

        let mut name = String::new();
        while let Some(c) = chars.next_if(|&c| c != '=' && !is_space(c)) {
            name.push(c);
        }
        while chars.next_if(|&c| is_space(c)).is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            return Err(ConfigError::MissingEquals { key: name });
        }
        while chars.next_if(|&c| is_space(c)).is_some() {}

        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(ConfigError::UnterminatedQuote { key: name }),
                    Some('\'') => break,
                    Some('\\') => {
                        if let Some(c) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|&c| !is_space(c)) {
                if c == '\\' {
                    // A trailing backslash escapes nothing and is dropped, as in libpq.
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }

        let key = Key::lookup(&name, Origin::ConnString)?;
        param::apply(config, key, value.as_bytes(), Origin::ConnString)?;
        set.push(key);
    }
    Ok(set)
}

/// Quotes `value` so that [`parse`] reads it back unchanged.
#[cfg(test)]
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        parse(s, &mut config).map(|_| config)
    }

    #[test]
    fn quoting_and_escapes() {
        let c = parsed(r"password='a b\' c' user=x\ y dbname = 'it''").unwrap_err();
        // `'it''` ends at the second quote and then starts a new key "'", which has no "=".
        assert_eq!(c, ConfigError::MissingEquals { key: "'".into() });

        let c = parsed(r"password='a b\' c' user=x\ y dbname = 'd\\b'").unwrap();
        assert_eq!(c.password.as_deref(), Some(&b"a b' c"[..]));
        assert_eq!(c.user.as_deref(), Some("x y"));
        assert_eq!(c.dbname.as_deref(), Some(r"d\b"));
    }

    #[test]
    fn whitespace_after_equals_is_skipped() {
        let c = parsed("application_name= options=x").unwrap();
        assert_eq!(c.application_name.as_deref(), Some("options=x"));
        assert_eq!(c.options, None);
        let c = parsed("application_name='' options=x").unwrap();
        assert_eq!(c.application_name.as_deref(), Some(""));
        assert_eq!(c.options.as_deref(), Some("x"));
        let c = parsed("application_name=").unwrap();
        assert_eq!(c.application_name.as_deref(), Some(""));
    }

    #[test]
    fn errors() {
        assert_eq!(
            parsed("host"),
            Err(ConfigError::MissingEquals { key: "host".into() })
        );
        assert_eq!(
            parsed("host localhost"),
            Err(ConfigError::MissingEquals { key: "host".into() })
        );
        assert_eq!(
            parsed("password='abc"),
            Err(ConfigError::UnterminatedQuote {
                key: "password".into()
            })
        );
        assert_eq!(
            parsed(r"password='abc\'"),
            Err(ConfigError::UnterminatedQuote {
                key: "password".into()
            })
        );
        assert_eq!(
            parsed("sslmod=require").unwrap_err().to_string(),
            "unknown parameter \"sslmod\" in connection string"
        );
        assert_eq!(
            parsed("=x"),
            Err(ConfigError::UnknownParameter {
                name: String::new(),
                origin: Origin::ConnString
            })
        );
    }

    #[test]
    fn trailing_backslash_is_dropped() {
        let c = parsed(r"user=abc\").unwrap();
        assert_eq!(c.user.as_deref(), Some("abc"));
    }

    #[test]
    fn quote_round_trips() {
        for v in ["", "plain", "a b", r"it's", r"back\slash", "'\\'", " lead"] {
            let c = parsed(&format!("options={}", quote(v))).unwrap();
            assert_eq!(c.options.as_deref(), Some(v));
        }
    }
}
