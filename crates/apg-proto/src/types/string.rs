//! Strings: `text`, `varchar`, `bpchar`, `name` and `unknown` as `String`, `&str`,
//! `Box<str>` and `Cow<str>`; also `xml`, `tsvector` and `tsquery` as their text.
//!
//! The binary format of the string types is their text, in the client encoding
//! (always UTF-8 for connections made by this crate), so both formats decode alike.
//! So is `xml`'s, which can therefore be sent from a string too (the server parses
//! it); read in binary, an `xml` value lacks a declaration that says no more than
//! `version="1.0"`, which the server leaves out there. `tsvector` and `tsquery` have a binary format of their own, not text: they
//! are read in text format only (the client requests them so), and a string is not
//! sent as one (cast a `text` parameter: `$1::text::tsvector`).
//!
//! Enum types (`CREATE TYPE mood AS ENUM (...)`, [`Kind::Enum`] once described) travel
//! like strings: a value is its label's text, in both formats, so the string types read
//! and send them too. The server checks that a label sent exists.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;

use bytes::{BufMut, BytesMut};

use super::{FromSql, IsNull, Kind, ToSql, Type, ValueError};

fn accepts(ty: &Type) -> bool {
    [
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::UNKNOWN,
    ]
    .contains(ty)
        || (ty.is_described() && matches!(ty.kind(), Kind::Enum(_)))
}

/// Types read as their text form, besides the string types.
fn accepts_text_form(ty: &Type) -> bool {
    accepts_to(ty) || [Type::TSVECTOR, Type::TSQUERY].contains(ty)
}

/// Types a string can be sent as: the string types, and `xml`, whose binary input
/// is its text.
fn accepts_to(ty: &Type) -> bool {
    accepts(ty) || *ty == Type::XML
}

/// A binary value's text: refused for the types whose binary format is not text.
fn binary_utf8<'a, T>(ty: &Type, raw: &'a [u8]) -> Result<&'a str, ValueError> {
    if [Type::TSVECTOR, Type::TSQUERY].contains(ty) {
        return Err(ValueError::malformed::<T>(
            ty,
            "the binary format of the type is not text (request text format)",
        ));
    }
    utf8::<T>(ty, raw)
}

fn utf8<'a, T>(ty: &Type, raw: &'a [u8]) -> Result<&'a str, ValueError> {
    core::str::from_utf8(raw).map_err(|_| ValueError::malformed::<T>(ty, "text is not UTF-8"))
}

impl ToSql for &str {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        out.put_slice(self.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_to(ty)
    }

    fn natural_type() -> Type {
        Type::TEXT
    }
}

impl ToSql for String {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        self.as_str().to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_to(ty)
    }

    fn natural_type() -> Type {
        Type::TEXT
    }
}

impl<'a> FromSql<'a> for &'a str {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        binary_utf8::<Self>(ty, raw)
    }

    fn from_sql_text(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        utf8::<Self>(ty, raw)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_text_form(ty)
    }
}

impl FromSql<'_> for String {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        binary_utf8::<Self>(ty, raw).map(Self::from)
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        utf8::<Self>(ty, raw).map(Self::from)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_text_form(ty)
    }
}

impl ToSql for Box<str> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        (&**self).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_to(ty)
    }

    fn natural_type() -> Type {
        Type::TEXT
    }
}

impl ToSql for Cow<'_, str> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        (&**self).to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_to(ty)
    }

    fn natural_type() -> Type {
        Type::TEXT
    }
}

impl FromSql<'_> for Box<str> {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        binary_utf8::<Self>(ty, raw).map(Self::from)
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        utf8::<Self>(ty, raw).map(Self::from)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_text_form(ty)
    }
}

/// Borrows from the row.
impl<'a> FromSql<'a> for Cow<'a, str> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        binary_utf8::<Self>(ty, raw).map(Cow::Borrowed)
    }

    fn from_sql_text(ty: &Type, raw: &'a [u8]) -> Result<Self, ValueError> {
        utf8::<Self>(ty, raw).map(Cow::Borrowed)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_text_form(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use crate::message::Format;
    use alloc::string::ToString;

    #[test]
    fn text_types() {
        assert_eq!(
            encode(&"héllo", &Type::TEXT).unwrap().as_deref(),
            Some("héllo".as_bytes())
        );
        assert_eq!(
            encode(&"x".to_string(), &Type::VARCHAR).unwrap().as_deref(),
            Some(&b"x"[..])
        );
        for format in [Format::Binary, Format::Text] {
            assert_eq!(
                String::from_sql_checked(&Type::BPCHAR, format, Some(b"ab ")),
                Ok("ab ".to_string())
            );
            assert_eq!(
                <&str>::from_sql_checked(&Type::NAME, format, Some(b"pg_class")),
                Ok("pg_class")
            );
            assert_eq!(
                Box::<str>::from_sql_checked(&Type::TEXT, format, Some(b"b")),
                Ok(Box::from("b"))
            );
            assert_eq!(
                Cow::<str>::from_sql_checked(&Type::VARCHAR, format, Some(b"c")),
                Ok(Cow::Borrowed("c"))
            );
        }
    }

    #[test]
    fn owned_and_borrowed_forms_encode_alike() {
        let boxed: Box<str> = Box::from("é");
        let cow: Cow<'_, str> = Cow::Owned(String::from("é"));
        assert_eq!(
            encode(&boxed, &Type::TEXT).unwrap().as_deref(),
            Some("é".as_bytes())
        );
        assert_eq!(
            encode(&cow, &Type::NAME).unwrap().as_deref(),
            Some("é".as_bytes())
        );
    }

    #[test]
    fn enum_labels_are_strings() {
        let mood = Type::new(
            16_390,
            "mood",
            "public",
            Kind::Enum(["sad", "happy"].map(String::from).into()),
        );
        assert_eq!(
            encode(&"happy", &mood).unwrap().as_deref(),
            Some(&b"happy"[..])
        );
        assert_eq!(
            encode(&String::from("sad"), &mood).unwrap().as_deref(),
            Some(&b"sad"[..])
        );
        for format in [Format::Binary, Format::Text] {
            assert_eq!(
                String::from_sql_checked(&mood, format, Some(b"happy")),
                Ok("happy".to_string())
            );
            assert_eq!(
                Cow::<str>::from_sql_checked(&mood, format, Some(b"sad")),
                Ok(Cow::Borrowed("sad"))
            );
        }
        // An OID not described yet is not known to be an enum.
        assert!(encode(&"sad", &Type::from_oid(16_390)).is_err());
    }

    #[test]
    fn other_types_are_not_strings() {
        let e =
            String::from_sql_checked(&Type::INT4, Format::Binary, Some(&[0, 0, 0, 1])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PostgreSQL type int4 and Rust type alloc::string::String are not compatible"
        );
        assert!(encode(&"1", &Type::INT4).is_err());
        assert!(matches!(
            String::from_sql_checked(&Type::TEXT, Format::Binary, Some(&[0xff])),
            Err(ValueError::Malformed { .. })
        ));
    }

    #[test]
    fn xml_and_text_search_types_read_as_text() {
        for ty in [Type::XML, Type::TSVECTOR, Type::TSQUERY] {
            assert_eq!(
                <&str>::from_sql_checked(&ty, Format::Text, Some(b"'a' & 'b'")),
                Ok("'a' & 'b'")
            );
        }
        assert_eq!(
            String::from_sql_checked(&Type::XML, Format::Binary, Some(b"<a/>")),
            Ok("<a/>".to_string())
        );
        // Sent as xml (its binary input is text), never as tsvector/tsquery.
        assert_eq!(
            encode(&"<a/>", &Type::XML).unwrap().as_deref(),
            Some(&b"<a/>"[..])
        );
        for ty in [Type::TSVECTOR, Type::TSQUERY] {
            assert!(matches!(
                encode(&"a", &ty),
                Err(ValueError::WrongType { .. })
            ));
            assert!(matches!(
                String::from_sql_checked(&ty, Format::Binary, Some(&[0, 0, 0, 1])),
                Err(ValueError::Malformed { .. })
            ));
        }
    }
}
