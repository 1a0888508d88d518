//! `#[derive(ToSql, FromSql)]` on enums, against hand-built enum types: no server.

use apg::types::{BytesMut, FromSql, IsNull, Kind, ToSql, ToSqlChecked, Type, ValueError};
use apg::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSql, FromSql)]
#[apg(rename_all = "lowercase")]
enum Mood {
    Sad,
    Ok,
    #[apg(rename = "very happy")]
    VeryHappy,
}

#[derive(Debug, PartialEq, ToSql, FromSql)]
#[apg(name = "traffic_light", rename_all = "SCREAMING_SNAKE_CASE")]
enum Light {
    Red,
    AmberFlashing,
}

fn enum_type(oid: u32, name: &str, labels: &[&str]) -> Type {
    let labels: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
    Type::new(oid, name, "public", Kind::Enum(labels.into()))
}

fn mood() -> Type {
    enum_type(16_390, "mood", &["sad", "ok", "very happy"])
}

fn encode(value: &(dyn ToSql + Sync), ty: &Type) -> Result<Vec<u8>, ValueError> {
    let mut out = BytesMut::new();
    assert_eq!(value.to_sql_checked(ty, &mut out)?, IsNull::No);
    Ok(out.to_vec())
}

#[test]
fn labels_are_the_bytes_both_ways() {
    let ty = mood();
    for (value, label) in [
        (Mood::Sad, &b"sad"[..]),
        (Mood::Ok, b"ok"),
        (Mood::VeryHappy, b"very happy"),
    ] {
        assert_eq!(encode(&value, &ty).unwrap(), label);
        assert_eq!(
            Mood::from_sql_checked(&ty, Format::Binary, Some(label)),
            Ok(value)
        );
        assert_eq!(
            Mood::from_sql_checked(&ty, Format::Text, Some(label)),
            Ok(value)
        );
    }
    let light = enum_type(16_400, "traffic_light", &["RED", "AMBER_FLASHING"]);
    assert_eq!(
        encode(&Light::AmberFlashing, &light).unwrap(),
        b"AMBER_FLASHING"
    );
    assert_eq!(
        Light::from_sql_checked(&light, Format::Binary, Some(b"RED")),
        Ok(Light::Red)
    );
}

#[test]
fn the_type_is_found_by_name_and_kind() {
    assert!(<Mood as ToSql>::accepts(&mood()));
    assert!(<Mood as FromSql>::accepts(&mood()));
    // Same name, not an enum; another enum; a bare OID; a built-in type.
    let composite = Type::new(16_390, "mood", "public", Kind::Composite(Vec::new().into()));
    for ty in [
        composite,
        enum_type(16_391, "feeling", &["sad"]),
        Type::from_oid(16_390),
        Type::TEXT,
    ] {
        assert!(!<Mood as ToSql>::accepts(&ty), "{ty:?}");
        assert!(!<Mood as FromSql>::accepts(&ty), "{ty:?}");
        assert!(matches!(
            Mood::from_sql_checked(&ty, Format::Binary, Some(b"sad")),
            Err(ValueError::WrongType { .. })
        ));
        assert!(matches!(
            encode(&Mood::Sad, &ty),
            Err(ValueError::WrongType { .. })
        ));
    }
    // The default name is the Rust name in snake_case.
    assert!(<Mood as FromSql>::accepts(&mood()));
    assert!(!<Light as FromSql>::accepts(&enum_type(
        1,
        "light",
        &["RED"]
    )));
}

#[test]
fn unspecified_is_left_to_the_server() {
    assert_eq!(<Mood as ToSql>::natural_type(), Type::UNSPECIFIED);
    assert!(<Mood as ToSql>::accepts(&Type::UNSPECIFIED));
    assert_eq!(encode(&Mood::Ok, &Type::UNSPECIFIED).unwrap(), b"ok");
    // Reading needs to know the type.
    assert!(!<Mood as FromSql>::accepts(&Type::UNSPECIFIED));
}

#[test]
fn unknown_labels_are_errors_naming_them() {
    let e = Mood::from_sql_checked(&mood(), Format::Binary, Some(b"angry")).unwrap_err();
    let message = e.to_string();
    assert!(message.contains("\"angry\""), "{message}");
    assert!(message.contains("mood"), "{message}");
    // Not UTF-8 either: still an error.
    assert!(Mood::from_sql_checked(&mood(), Format::Binary, Some(&[0xff, 0xfe])).is_err());
    assert!(Mood::from_sql_checked(&mood(), Format::Binary, Some(b"")).is_err());
    // Labels are case-sensitive, as in PostgreSQL.
    assert!(Mood::from_sql_checked(&mood(), Format::Binary, Some(b"SAD")).is_err());
}

#[test]
fn a_label_the_database_lacks_is_refused_before_sending() {
    let older = enum_type(16_390, "mood", &["sad", "ok"]);
    let e = encode(&Mood::VeryHappy, &older).unwrap_err();
    assert!(e.to_string().contains("\"very happy\""), "{e}");
}

#[test]
fn null_needs_an_option() {
    assert!(matches!(
        Mood::from_sql_checked(&mood(), Format::Binary, None),
        Err(ValueError::UnexpectedNull { .. })
    ));
    assert_eq!(
        Option::<Mood>::from_sql_checked(&mood(), Format::Binary, None),
        Ok(None)
    );
    let mut out = BytesMut::new();
    assert_eq!(
        None::<Mood>.to_sql_checked(&mood(), &mut out),
        Ok(IsNull::Yes)
    );
}

#[test]
fn arrays_of_enums() {
    let array = Type::new(16_389, "_mood", "public", Kind::Array(mood()));
    let values = vec![Mood::Sad, Mood::VeryHappy];
    let raw = encode(&values, &array).unwrap();
    let back: Vec<Mood> = FromSql::from_sql_checked(&array, Format::Binary, Some(&raw)).unwrap();
    assert_eq!(back, values);
}

#[derive(Debug, PartialEq, ToSql, FromSql)]
#[apg(name = "app.status", rename_all = "snake_case")]
enum Status {
    Active,
    OnHold,
}

#[test]
fn a_schema_qualified_name_matches_that_schema_only() {
    let labels = || Kind::Enum(vec!["active".to_owned(), "on_hold".to_owned()].into());
    let app = Type::new(16_700, "status", "app", labels());
    let public = Type::new(16_701, "status", "public", labels());
    assert!(<Status as FromSql>::accepts(&app));
    assert!(<Status as ToSql>::accepts(&app));
    assert!(!<Status as FromSql>::accepts(&public));
    assert!(!<Status as ToSql>::accepts(&public));
    assert_eq!(
        Status::from_sql_checked(&app, Format::Binary, Some(b"on_hold")),
        Ok(Status::OnHold)
    );
    // Without a schema, any schema's type of that name.
    let other = Type::new(16_702, "mood", "app", mood().kind());
    assert!(<Mood as FromSql>::accepts(&other));
}

#[test]
fn a_domain_over_an_enum_travels_as_the_enum() {
    let domain = Type::new(16_710, "cheerful", "public", Kind::Domain(mood()));
    assert_eq!(encode(&Mood::VeryHappy, &domain).unwrap(), b"very happy");
    assert_eq!(
        Mood::from_sql_checked(&domain, Format::Binary, Some(b"ok")),
        Ok(Mood::Ok)
    );
}
