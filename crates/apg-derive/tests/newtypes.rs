//! `#[derive(ToSql, FromSql)]` on one-field tuple structs (transparent newtypes), and
//! the `crate` attribute: no server.

use apg::types::{BytesMut, FromSql, IsNull, Kind, ToSql, Type, ValueError};
use apg::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSql, FromSql)]
struct UserId(i64);

#[derive(Debug, PartialEq, ToSql, FromSql)]
struct Nickname<'a>(&'a str);

#[derive(Debug, PartialEq, ToSql, FromSql)]
struct MaybeScore(Option<i32>);

#[derive(Debug, PartialEq, ToSql, FromSql)]
struct Tagged<T>(T);

fn encode(value: &(dyn ToSql + Sync), ty: &Type) -> Result<Option<Vec<u8>>, ValueError> {
    let mut out = BytesMut::new();
    Ok(match value.to_sql_checked(ty, &mut out)? {
        IsNull::Yes => None,
        IsNull::No => Some(out.to_vec()),
    })
}

#[test]
fn the_inner_type_in_every_respect() {
    assert_eq!(<UserId as ToSql>::natural_type(), Type::INT8);
    assert!(<UserId as ToSql>::accepts(&Type::INT8));
    assert!(<UserId as FromSql>::accepts(&Type::INT4));
    assert!(!<UserId as FromSql>::accepts(&Type::TEXT));
    assert_eq!(
        encode(&UserId(7), &Type::INT8).unwrap().as_deref(),
        Some(&[0, 0, 0, 0, 0, 0, 0, 7][..])
    );
    // i64 narrows to int4, checked.
    assert_eq!(
        encode(&UserId(7), &Type::INT4).unwrap().as_deref(),
        Some(&[0, 0, 0, 7][..])
    );
    assert!(matches!(
        encode(&UserId(1 << 40), &Type::INT4),
        Err(ValueError::OutOfRange { .. })
    ));
    assert_eq!(
        UserId::from_sql_checked(&Type::INT4, Format::Binary, Some(&[0, 0, 0, 9])),
        Ok(UserId(9))
    );
    assert_eq!(
        UserId::from_sql_checked(&Type::INT8, Format::Text, Some(b"-12")),
        Ok(UserId(-12))
    );
    assert!(matches!(
        UserId::from_sql_checked(&Type::TEXT, Format::Binary, Some(b"12")),
        Err(ValueError::WrongType { .. })
    ));
    assert!(matches!(
        UserId::from_sql_checked(&Type::INT8, Format::Binary, None),
        Err(ValueError::UnexpectedNull { .. })
    ));
}

#[test]
fn over_a_domain() {
    let user_id = Type::new(16_500, "user_id", "public", Kind::Domain(Type::INT8));
    let nested = Type::new(16_501, "admin_id", "public", Kind::Domain(user_id.clone()));
    for ty in [&user_id, &nested] {
        let raw = encode(&UserId(42), ty).unwrap().unwrap();
        assert_eq!(raw, [0, 0, 0, 0, 0, 0, 0, 42]);
        assert_eq!(
            UserId::from_sql_checked(ty, Format::Binary, Some(&raw)),
            Ok(UserId(42))
        );
    }
    let text_domain = Type::new(16_502, "email", "public", Kind::Domain(Type::TEXT));
    assert!(encode(&UserId(1), &text_domain).is_err());
    assert!(UserId::from_sql_checked(&text_domain, Format::Binary, Some(b"x")).is_err());
    assert_eq!(
        Nickname::from_sql_checked(&text_domain, Format::Binary, Some(b"ada")),
        Ok(Nickname("ada"))
    );
}

#[test]
fn borrowed_optional_and_generic_newtypes() {
    assert_eq!(
        encode(&Nickname("ada"), &Type::TEXT).unwrap().as_deref(),
        Some(&b"ada"[..])
    );
    let raw = b"grace".to_vec();
    let nick = Nickname::from_sql_checked(&Type::VARCHAR, Format::Binary, Some(&raw)).unwrap();
    assert_eq!(nick, Nickname("grace"));

    // The inner Option takes NULL both ways.
    assert_eq!(encode(&MaybeScore(None), &Type::INT4), Ok(None));
    assert_eq!(
        MaybeScore::from_sql_checked(&Type::INT4, Format::Binary, None),
        Ok(MaybeScore(None))
    );
    assert_eq!(
        MaybeScore::from_sql_checked(&Type::INT4, Format::Binary, Some(&[0, 0, 0, 3])),
        Ok(MaybeScore(Some(3)))
    );

    assert_eq!(<Tagged<bool> as ToSql>::natural_type(), Type::BOOL);
    assert_eq!(
        encode(&Tagged(true), &Type::BOOL).unwrap().as_deref(),
        Some(&[1][..])
    );
    assert_eq!(
        Tagged::<String>::from_sql_checked(&Type::TEXT, Format::Binary, Some(b"x")),
        Ok(Tagged("x".to_owned()))
    );
}

/// apg under another path, as a crate re-exporting it would offer it.
mod reexported {
    pub(crate) use apg as client;
}

#[derive(Debug, PartialEq, ToSql, FromSql)]
#[apg(crate = "crate::reexported::client")]
struct Points(i32);

#[derive(Debug, PartialEq, ToSql, FromSql)]
#[apg(crate = "crate::reexported::client", rename_all = "lowercase")]
enum Level {
    Low,
    High,
}

#[test]
fn the_crate_path_can_be_changed() {
    assert_eq!(
        Points::from_sql_checked(&Type::INT4, Format::Binary, Some(&[0, 0, 0, 5])),
        Ok(Points(5))
    );
    let level = Type::new(
        16_600,
        "level",
        "public",
        Kind::Enum(vec!["low".to_owned(), "high".to_owned()].into()),
    );
    assert_eq!(
        encode(&Level::High, &level).unwrap().as_deref(),
        Some(&b"high"[..])
    );
}
