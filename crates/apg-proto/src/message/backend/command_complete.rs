//! CommandComplete: a command finished.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COMMANDCOMPLETE>

use alloc::string::String;
use core::fmt;
use core::ops::Deref;

use bytes::{Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, Message, Reader};

/// CommandComplete (`C`): a command finished successfully.
///
/// The tag names the command and, for the commands that count rows, how many were
/// affected or returned: `INSERT 0 5`, `SELECT 3`, `CREATE TABLE`, `BEGIN`, ...
/// [`command`](Self::command) and [`rows`](Self::rows) take it apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandComplete {
    /// The command tag, as the server sent it.
    pub tag: CommandTag,
}

/// A command tag (`SELECT 1`, `INSERT 0 5`): a string slice of the received message,
/// not a copy (one arrives for every statement, every row of a batch insert). Reads
/// as a `&str` through `Deref`.
///
/// ```
/// use apg_proto::message::backend::CommandTag;
///
/// let tag = CommandTag::from("INSERT 0 5");
/// assert_eq!(tag, "INSERT 0 5");
/// assert!(tag.starts_with("INSERT"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct CommandTag(Bytes);

impl CommandTag {
    /// The tag's text.
    pub fn as_str(&self) -> &str {
        // Checked to be UTF-8 when made (`decode`, `From`): this never falls back.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The tag's bytes (UTF-8): for checks that need no `&str`, which this crate,
    /// without `unsafe`, can only hand out after validating again.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Deref for CommandTag {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for CommandTag {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for CommandTag {
    fn from(s: String) -> Self {
        Self(Bytes::from(s.into_bytes()))
    }
}

impl From<CommandTag> for String {
    fn from(tag: CommandTag) -> Self {
        Self::from(tag.as_str())
    }
}

impl PartialEq<str> for CommandTag {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CommandTag {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for CommandTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for CommandTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The commands whose tag ends with a row count (INSERT also carries an oid before it).
const COUNTED: [&str; 8] = [
    "INSERT", "DELETE", "UPDATE", "MERGE", "SELECT", "MOVE", "FETCH", "COPY",
];

impl CommandComplete {
    /// The command word(s) of the tag, without the numbers: `"INSERT"` for
    /// `INSERT 0 5`, `"SELECT"` for `SELECT 3`, `"CREATE TABLE"` for `CREATE TABLE`.
    ///
    /// Trailing all-digit words are removed whatever the command, so a tag this crate
    /// does not know still yields its name.
    pub fn command(&self) -> &str {
        let mut command = self.tag.as_str();
        while let Some((head, last)) = command.rsplit_once(' ') {
            if !is_number(last.as_bytes()) {
                break;
            }
            command = head;
        }
        command
    }

    /// The number of rows the command affected or returned, for the commands that
    /// report one: `INSERT oid rows`, `DELETE rows`, `UPDATE rows`, `MERGE rows`,
    /// `SELECT rows` (also sent for CREATE TABLE AS and SELECT INTO), `MOVE rows`,
    /// `FETCH rows` and `COPY rows`.
    ///
    /// `None` for every other command, and for a tag that does not have exactly the
    /// documented shape (`SELECT` alone, `INSERT 5` without the oid, a count that does
    /// not fit in a `u64`).
    pub fn rows(&self) -> Option<u64> {
        // Runs once per statement, so on bytes: no UTF-8 check, no `str` searchers.
        let tag = self.tag.as_bytes();
        let space = tag.iter().position(|&b| b == b' ')?;
        let (command, mut rows) = (&tag[..space], &tag[space + 1..]);
        if !COUNTED.iter().any(|c| c.as_bytes() == command) {
            return None;
        }
        if command == b"INSERT" {
            // The oid is always 0 since PostgreSQL 12, but it is still on the wire.
            let space = rows.iter().position(|&b| b == b' ')?;
            if !is_number(&rows[..space]) {
                return None;
            }
            rows = &rows[space + 1..];
        }
        // All digits: no further word, no sign.
        if !is_number(rows) {
            return None;
        }
        rows.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    }
}

/// A non-empty run of ASCII digits. `u64::from_str` alone would also accept a sign.
fn is_number(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

impl Message for CommandComplete {
    const TAG: Option<u8> = Some(b'C');
    const NAME: &'static str = "CommandComplete";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_cstr(buf, self.tag.as_bytes(), Self::NAME)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let tag = Reader::new(body, Self::NAME).final_cstr_bytes()?;
        // Tags are ASCII in practice, which is quicker to check on a few bytes.
        if !tag.is_ascii() && core::str::from_utf8(&tag).is_err() {
            return Err(ProtocolError::InvalidUtf8 {
                message: Self::NAME,
            });
        }
        Ok(Self {
            tag: CommandTag(tag),
        })
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = CommandComplete> {
    use proptest::prelude::*;

    prop_oneof![
        super::arb_cstring(),
        (0..COUNTED.len(), any::<u64>()).prop_map(|(i, n)| {
            let command = COUNTED.get(i).copied().unwrap_or("SELECT");
            if command == "INSERT" {
                alloc::format!("INSERT 0 {n}")
            } else {
                alloc::format!("{command} {n}")
            }
        }),
    ]
    .prop_map(|tag| CommandComplete { tag: tag.into() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use proptest::prelude::*;

    fn tag(s: &str) -> CommandComplete {
        CommandComplete { tag: s.into() }
    }

    #[test]
    fn bytes() {
        // 'C', Int32 length 13, String tag.
        roundtrip(&tag("SELECT 3"), Some(b"C\0\0\0\x0dSELECT 3\0"));
        // 'C', Int32 length 17, String tag.
        roundtrip(&tag("CREATE TABLE"), Some(b"C\0\0\0\x11CREATE TABLE\0"));
    }

    #[test]
    fn the_tag_is_a_slice_of_the_message_and_utf8() {
        let body = Bytes::from_static(b"SELECT 3\0");
        let c = CommandComplete::decode(body.clone()).unwrap();
        assert_eq!(c.tag.as_str().as_ptr(), body.as_ptr());
        assert_eq!(c.tag, "SELECT 3");
        assert_eq!(String::from(c.tag), "SELECT 3");
        assert!(matches!(
            CommandComplete::decode(Bytes::from_static(b"SELECT \xff\0")),
            Err(ProtocolError::InvalidUtf8 { .. })
        ));
        // Not ASCII, but UTF-8: accepted.
        let c = CommandComplete::decode(Bytes::from("ÉTIQUETTE 2\0")).unwrap();
        assert_eq!((c.tag.as_str(), c.rows()), ("ÉTIQUETTE 2", None));
    }

    #[test]
    fn counted_commands() {
        for (t, command, rows) in [
            ("INSERT 0 5", "INSERT", 5),
            ("INSERT 16384 1", "INSERT", 1),
            ("DELETE 0", "DELETE", 0),
            ("UPDATE 12", "UPDATE", 12),
            ("MERGE 3", "MERGE", 3),
            ("SELECT 1", "SELECT", 1),
            ("MOVE 7", "MOVE", 7),
            ("FETCH 100", "FETCH", 100),
            ("COPY 2", "COPY", 2),
            ("SELECT 18446744073709551615", "SELECT", u64::MAX),
        ] {
            let cc = tag(t);
            assert_eq!(cc.command(), command, "{t}");
            assert_eq!(cc.rows(), Some(rows), "{t}");
        }
    }

    #[test]
    fn commands_without_a_count() {
        for (t, command) in [
            ("CREATE TABLE", "CREATE TABLE"),
            ("BEGIN", "BEGIN"),
            ("SET", "SET"),
            ("LISTEN", "LISTEN"),
            ("DROP MATERIALIZED VIEW", "DROP MATERIALIZED VIEW"),
            ("ALTER DEFAULT PRIVILEGES", "ALTER DEFAULT PRIVILEGES"),
            ("", ""),
        ] {
            let cc = tag(t);
            assert_eq!(cc.command(), command, "{t}");
            assert_eq!(cc.rows(), None, "{t}");
        }
    }

    #[test]
    fn odd_tags() {
        // A command word alone is not a count.
        assert_eq!(tag("SELECT").rows(), None);
        assert_eq!(tag("SELECT").command(), "SELECT");
        assert_eq!(tag("COPY").rows(), None);
        // INSERT without the oid does not have the documented shape.
        assert_eq!(tag("INSERT 5").rows(), None);
        assert_eq!(tag("INSERT 5").command(), "INSERT");
        assert_eq!(tag("INSERT 0 5 6").rows(), None);
        assert_eq!(tag("INSERT x 5").rows(), None);
        // Signs, spaces and overflow are not counts.
        assert_eq!(tag("SELECT +3").rows(), None);
        assert_eq!(tag("SELECT -3").rows(), None);
        assert_eq!(tag("SELECT 3 ").rows(), None);
        assert_eq!(tag("SELECT  3").rows(), None);
        assert_eq!(tag("SELECT 18446744073709551616").rows(), None);
        assert_eq!(tag("SELECT 1x").rows(), None);
        // Counts of commands that do not report one are ignored, but stripped.
        assert_eq!(tag("VACUUM 3").rows(), None);
        assert_eq!(tag("VACUUM 3").command(), "VACUUM");
        // Lower case is not a known command.
        assert_eq!(tag("select 3").rows(), None);
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| CommandComplete::decode(Bytes::from_static(b));
        assert_eq!(
            decode(b"SELECT 1"),
            Err(ProtocolError::MissingNul {
                message: "CommandComplete"
            })
        );
        assert_eq!(
            decode(b"SELECT 1\0\0"),
            Err(ProtocolError::TrailingData {
                message: "CommandComplete"
            })
        );
        assert_eq!(
            decode(b"SELECT \xff\0"),
            Err(ProtocolError::InvalidUtf8 {
                message: "CommandComplete"
            })
        );
        let mut buf = BytesMut::new();
        assert_eq!(
            tag("SELECT\0 1").encode(&mut buf),
            Err(EncodeError::NulInString {
                message: "CommandComplete"
            })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(cc in arb()) {
            roundtrip(&cc, None);
            // The helpers never panic, and a count implies a known command.
            if cc.rows().is_some() {
                prop_assert!(COUNTED.contains(&cc.command()));
            }
        }
    }
}
