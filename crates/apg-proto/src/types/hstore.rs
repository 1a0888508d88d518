//! `hstore` (the extension's key/value type) as `BTreeMap<String, Option<String>>`
//! and, with `std`, `HashMap<String, Option<String>>`.
//!
//! An extension's type has no fixed OID, so these implementations recognise it by
//! name: they accept a [`Type`] whose [`name`](Type::name) is `hstore`, which the
//! client knows once it has looked the column's type up in the catalog.
//!
//! Binary format: `count: i32`, then per pair `key_len: i32`, the key's bytes,
//! `value_len: i32` (`-1` for NULL) and the value's bytes. Text format (what
//! `hstore_out` prints): `"a"=>"1", "b"=>NULL`, keys and values in double quotes with
//! `"` and `\` escaped by a backslash; the parser also takes unquoted words, as
//! `hstore_in` does.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::{BufMut, BytesMut};

use super::{FromSql, IsNull, ToSql, Type, ValueError};

fn accepts(ty: &Type) -> bool {
    ty.name() == Some("hstore")
}

/// The smallest encoding of a pair: two lengths (an empty key, a NULL value).
const MIN_PAIR_LEN: usize = 8;

/// A length or count as the wire's `i32`.
fn wire_len<T>(ty: &Type, len: usize) -> Result<i32, ValueError> {
    i32::try_from(len).map_err(|_| ValueError::out_of_range::<T>(ty))
}

/// Writes the binary format of `pairs` (`len` of them).
fn write_pairs<'p, T, I>(
    ty: &Type,
    len: usize,
    pairs: I,
    out: &mut BytesMut,
) -> Result<(), ValueError>
where
    I: Iterator<Item = (&'p String, &'p Option<String>)>,
{
    out.put_i32(wire_len::<T>(ty, len)?);
    for (key, value) in pairs {
        out.put_i32(wire_len::<T>(ty, key.len())?);
        out.put_slice(key.as_bytes());
        match value {
            Some(value) => {
                out.put_i32(wire_len::<T>(ty, value.len())?);
                out.put_slice(value.as_bytes());
            }
            None => out.put_i32(-1),
        }
    }
    Ok(())
}

/// Reads the binary format, handing each pair to `insert`, which returns `false`
/// for a key seen before (the server never sends one twice).
fn read_pairs<T>(
    ty: &Type,
    raw: &[u8],
    mut insert: impl FnMut(String, Option<String>) -> bool,
) -> Result<(), ValueError> {
    let malformed = |reason| ValueError::malformed::<T>(ty, reason);
    let mut rest = raw;
    let mut take = |n: usize| -> Result<&[u8], ValueError> {
        if rest.len() < n {
            return Err(malformed("hstore value is truncated"));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let read_i32 = |bytes: &[u8]| -> i32 {
        // `take(4)` returned exactly 4 bytes.
        i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    };
    let count = read_i32(take(4)?);
    let count = usize::try_from(count).map_err(|_| malformed("negative hstore pair count"))?;
    if count > raw.len() / MIN_PAIR_LEN {
        return Err(malformed("hstore pair count exceeds the value's size"));
    }
    let utf8 = |bytes: &[u8]| {
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| malformed("hstore text is not UTF-8"))
    };
    for _ in 0..count {
        let key_len = usize::try_from(read_i32(take(4)?))
            .map_err(|_| malformed("negative hstore key length"))?;
        let key = utf8(take(key_len)?)?;
        let value = match read_i32(take(4)?) {
            -1 => None,
            len => {
                let len =
                    usize::try_from(len).map_err(|_| malformed("negative hstore value length"))?;
                Some(utf8(take(len)?)?)
            }
        };
        if !insert(key, value) {
            return Err(malformed("duplicate hstore key"));
        }
    }
    if !rest.is_empty() {
        return Err(malformed("trailing bytes after the hstore pairs"));
    }
    Ok(())
}

/// A cursor over hstore's text format.
struct Text<'a> {
    rest: &'a [u8],
}

impl Text<'_> {
    fn skip_space(&mut self) {
        while let [b' ' | b'\t' | b'\n' | b'\r', tail @ ..] = self.rest {
            self.rest = tail;
        }
    }

    fn eat(&mut self, token: &[u8]) -> bool {
        match self.rest.strip_prefix(token) {
            Some(tail) => {
                self.rest = tail;
                true
            }
            None => false,
        }
    }

    /// A key or value: a quoted string, or an unquoted word (up to a space, `=`, `,`
    /// or `"`). Returns the bytes with escapes resolved and whether it was quoted.
    fn word(&mut self) -> Option<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        if self.eat(b"\"") {
            loop {
                match self.rest {
                    [b'"', tail @ ..] => {
                        self.rest = tail;
                        return Some((out, true));
                    }
                    [b'\\', c, tail @ ..] | [c, tail @ ..] => {
                        out.push(*c);
                        self.rest = tail;
                    }
                    [] => return None,
                }
            }
        }
        loop {
            match self.rest {
                [b' ' | b'\t' | b'\n' | b'\r' | b'=' | b',' | b'"', ..] | [] => break,
                [b'\\', c, tail @ ..] | [c, tail @ ..] => {
                    out.push(*c);
                    self.rest = tail;
                }
            }
        }
        (!out.is_empty()).then_some((out, false))
    }
}

/// Parses the text format, handing each pair to `insert`. A key given twice keeps
/// its first value, as `hstore_in` does.
fn parse_text<T>(
    ty: &Type,
    raw: &[u8],
    mut insert: impl FnMut(String, Option<String>),
) -> Result<(), ValueError> {
    let malformed = || ValueError::malformed::<T>(ty, "invalid hstore text");
    let utf8 = |bytes| String::from_utf8(bytes).map_err(|_| malformed());
    let mut text = Text { rest: raw };
    text.skip_space();
    if text.rest.is_empty() {
        return Ok(());
    }
    loop {
        text.skip_space();
        let (key, _) = text.word().ok_or_else(malformed)?;
        text.skip_space();
        if !text.eat(b"=>") {
            return Err(malformed());
        }
        text.skip_space();
        let (value, quoted) = text.word().ok_or_else(malformed)?;
        let value = if !quoted && value.eq_ignore_ascii_case(b"null") {
            None
        } else {
            Some(utf8(value)?)
        };
        insert(utf8(key)?, value);
        text.skip_space();
        if text.rest.is_empty() {
            return Ok(());
        }
        if !text.eat(b",") {
            return Err(malformed());
        }
    }
}

impl ToSql for BTreeMap<String, Option<String>> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        write_pairs::<Self, _>(ty, self.len(), self.iter(), out)?;
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        accepts(ty)
    }

    fn natural_type() -> Type {
        // The extension's OID differs between databases: let the server say.
        Type::UNSPECIFIED
    }
}

impl FromSql<'_> for BTreeMap<String, Option<String>> {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let mut map = Self::new();
        read_pairs::<Self>(ty, raw, |k, v| map.insert(k, v).is_none())?;
        Ok(map)
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let mut map = Self::new();
        parse_text::<Self>(ty, raw, |k, v| {
            map.entry(k).or_insert(v);
        })?;
        Ok(map)
    }

    fn accepts(ty: &Type) -> bool {
        accepts(ty)
    }
}

#[cfg(feature = "std")]
mod hash_map {
    use std::collections::HashMap;
    use std::hash::BuildHasher;

    use super::*;

    impl<S: BuildHasher> ToSql for HashMap<String, Option<String>, S> {
        fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
            write_pairs::<Self, _>(ty, self.len(), self.iter(), out)?;
            Ok(IsNull::No)
        }

        fn accepts(ty: &Type) -> bool {
            accepts(ty)
        }

        fn natural_type() -> Type {
            Type::UNSPECIFIED
        }
    }

    impl<S: BuildHasher + Default> FromSql<'_> for HashMap<String, Option<String>, S> {
        fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
            let mut map = Self::default();
            read_pairs::<Self>(ty, raw, |k, v| map.insert(k, v).is_none())?;
            Ok(map)
        }

        fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
            let mut map = Self::default();
            parse_text::<Self>(ty, raw, |k, v| {
                map.entry(k).or_insert(v);
            })?;
            Ok(map)
        }

        fn accepts(ty: &Type) -> bool {
            accepts(ty)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::super::Kind;
    use super::*;
    use crate::message::Format;
    use alloc::string::ToString;
    use proptest::prelude::*;

    type Map = BTreeMap<String, Option<String>>;

    fn hstore() -> Type {
        Type::new(16_400, "hstore", "public", Kind::Simple)
    }

    fn map(pairs: &[(&str, Option<&str>)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(String::from)))
            .collect()
    }

    #[test]
    fn binary_is_byte_exact() {
        let value = map(&[("a", Some("1")), ("b", None)]);
        let bytes: &[u8] = &[
            0, 0, 0, 2, // pairs
            0, 0, 0, 1, b'a', 0, 0, 0, 1, b'1', // "a" => "1"
            0, 0, 0, 1, b'b', 0xff, 0xff, 0xff, 0xff, // "b" => NULL
        ];
        assert_eq!(encode(&value, &hstore()).unwrap().as_deref(), Some(bytes));
        assert_eq!(
            Map::from_sql_checked(&hstore(), Format::Binary, Some(bytes)),
            Ok(value)
        );
        assert_eq!(
            Map::from_sql_checked(&hstore(), Format::Binary, Some(&[0, 0, 0, 0])),
            Ok(Map::new())
        );
    }

    #[test]
    fn found_by_name_only() {
        assert!(<Map as FromSql>::accepts(&hstore()));
        assert!(!<Map as FromSql>::accepts(&Type::from_oid(16_400)));
        assert!(!<Map as FromSql>::accepts(&Type::TEXT));
        assert_eq!(<Map as ToSql>::natural_type(), Type::UNSPECIFIED);
        assert!(matches!(
            encode(&Map::new(), &Type::TEXT),
            Err(ValueError::WrongType { .. })
        ));
    }

    /// RUSTSEC-2026-0180 was a panic in an hstore decoder on a bad inner length:
    /// every length and count here is checked against the bytes left.
    #[test]
    fn hostile_binary_is_an_error() {
        let cases: &[&[u8]] = &[
            &[],
            &[0, 0, 0],
            &[0xff, 0xff, 0xff, 0xff],             // negative count
            &[0x7f, 0xff, 0xff, 0xff],             // huge count
            &[0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff], // huge key length
            &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], // negative key length
            &[0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff], // huge value length
            &[0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe], // value length -2
            &[0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff], // bad UTF-8 key
            &[0, 0, 0, 0, 0],                      // trailing byte
            &[
                0, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
            ], // duplicate key
        ];
        for raw in cases {
            assert!(
                matches!(
                    Map::from_sql(&hstore(), raw),
                    Err(ValueError::Malformed { .. })
                ),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn text_format() {
        let ty = hstore();
        let parse = |s: &str| Map::from_sql_checked(&ty, Format::Text, Some(s.as_bytes()));
        assert_eq!(parse(""), Ok(Map::new()));
        assert_eq!(
            parse(r#""a"=>"1", "b"=>NULL"#),
            Ok(map(&[("a", Some("1")), ("b", None)]))
        );
        assert_eq!(
            parse(r#""q\"uote"=>"back\\slash", "n"=>"NULL", "é"=>"""#),
            Ok(map(&[
                ("q\"uote", Some("back\\slash")),
                ("n", Some("NULL")),
                ("é", Some("")),
            ]))
        );
        assert_eq!(
            parse(" a => b ,c=>null, a=>z"),
            Ok(map(&[("a", Some("b")), ("c", None)]))
        );
        for bad in ["a", "a=>", "\"a", "a=>b,", "a=>b c=>d", "=>b", "a=b"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn hash_map_too() {
        use std::collections::HashMap;
        let value: HashMap<String, Option<String>> = [
            ("k".to_string(), Some("v".to_string())),
            ("n".to_string(), None),
        ]
        .into();
        let bytes = encode(&value, &hstore()).unwrap().unwrap();
        assert_eq!(
            HashMap::<String, Option<String>>::from_sql(&hstore(), &bytes),
            Ok(value.clone())
        );
        assert_eq!(
            HashMap::<String, Option<String>>::from_sql_text(&hstore(), br#""k"=>"v", "n"=>NULL"#),
            Ok(value)
        );
    }

    /// hstore_out's format, for the round trip below.
    fn to_text(map: &Map) -> String {
        let quote = |s: &str| {
            let mut q = String::from("\"");
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    q.push('\\');
                }
                q.push(c);
            }
            q.push('"');
            q
        };
        map.iter()
            .map(|(k, v)| {
                let v = v.as_deref().map_or_else(|| "NULL".to_string(), quote);
                alloc::format!("{}=>{v}", quote(k))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Map::from_sql(&hstore(), &raw);
            let _ = Map::from_sql_text(&hstore(), &raw);
        }

        #[test]
        fn round_trips(value in proptest::collection::btree_map(".*", proptest::option::of(".*"), 0..8)) {
            let bytes = encode(&value, &hstore()).unwrap().unwrap();
            prop_assert_eq!(Map::from_sql(&hstore(), &bytes), Ok(value.clone()));
            // Every prefix is truncated, never a panic.
            for end in 0..bytes.len() {
                prop_assert!(Map::from_sql(&hstore(), &bytes[..end]).is_err());
            }
            prop_assert_eq!(Map::from_sql_text(&hstore(), to_text(&value).as_bytes()), Ok(value));
        }
    }
}
