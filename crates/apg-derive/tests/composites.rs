//! `#[derive(ToSql, FromSql)]` on structs with named fields (composite types), against
//! hand-built composite types and the raw binary format: no server.

use apg::types::{
    BytesMut, CompositeWriter, Field, FromSql, IsNull, Kind, ToSql, Type, ValueError,
};
use apg::Format;

/// `address (street text, city text, zip int4)`, declared in another order.
#[derive(Debug, Clone, PartialEq, ToSql, FromSql)]
struct Address {
    city: String,
    street: String,
    #[apg(rename = "zip")]
    postal_code: Option<i32>,
}

/// `person (name text, home address)`: a composite inside a composite.
#[derive(Debug, Clone, PartialEq, ToSql, FromSql)]
#[apg(name = "person", rename_all = "camelCase")]
struct Person {
    full_name: String,
    home: Option<Address>,
}

/// Borrows its text from the value.
#[derive(Debug, PartialEq, FromSql)]
#[apg(name = "address")]
struct AddressRef<'a> {
    street: &'a str,
    city: &'a str,
    zip: Option<i32>,
}

fn address_type() -> Type {
    Type::new(
        16_420,
        "address",
        "public",
        Kind::Composite(
            vec![
                Field::new("street", Type::TEXT),
                Field::new("city", Type::TEXT),
                Field::new("zip", Type::INT4),
            ]
            .into(),
        ),
    )
}

fn person_type() -> Type {
    Type::new(
        16_430,
        "person",
        "public",
        Kind::Composite(
            vec![
                Field::new("fullName", Type::TEXT),
                Field::new("home", address_type()),
            ]
            .into(),
        ),
    )
}

fn encode(value: &(dyn ToSql + Sync), ty: &Type) -> Result<Vec<u8>, ValueError> {
    let mut out = BytesMut::new();
    assert_eq!(value.to_sql_checked(ty, &mut out)?, IsNull::No);
    Ok(out.to_vec())
}

fn decode<'a, T: FromSql<'a>>(ty: &Type, raw: &'a [u8]) -> Result<T, ValueError> {
    T::from_sql_checked(ty, Format::Binary, Some(raw))
}

fn home() -> Address {
    Address {
        city: "Oslo".into(),
        street: "Main St".into(),
        postal_code: Some(150),
    }
}

/// `home()` as PostgreSQL sends it: the type's field order, not the struct's.
#[rustfmt::skip]
const HOME: &[u8] = &[
    0, 0, 0, 3,                                   // 3 fields
    0, 0, 0, 25, 0, 0, 0, 7, b'M', b'a', b'i', b'n', b' ', b'S', b't', // street text
    0, 0, 0, 25, 0, 0, 0, 4, b'O', b's', b'l', b'o', // city text
    0, 0, 0, 23, 0, 0, 0, 4, 0, 0, 0, 150,        // zip int4
];

#[test]
fn encoded_in_the_types_field_order() {
    assert_eq!(encode(&home(), &address_type()).unwrap(), HOME);
    assert_eq!(decode::<Address>(&address_type(), HOME).unwrap(), home());
}

#[test]
fn null_fields_are_options() {
    let no_zip = Address {
        postal_code: None,
        ..home()
    };
    let raw = encode(&no_zip, &address_type()).unwrap();
    assert_eq!(
        &raw[raw.len() - 8..],
        &[0, 0, 0, 23, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(decode::<Address>(&address_type(), &raw).unwrap(), no_zip);

    // A NULL for a field that is not an Option.
    let mut out = BytesMut::new();
    let mut w = CompositeWriter::new(&mut out);
    w.field(&None::<&str>, &Type::TEXT).unwrap();
    w.field(&"Oslo", &Type::TEXT).unwrap();
    w.field(&1i32, &Type::INT4).unwrap();
    w.finish();
    let e = decode::<Address>(&address_type(), &out).unwrap_err();
    assert!(e.to_string().contains("\"street\""), "{e}");
    assert!(e.to_string().contains("NULL"), "{e}");
}

#[test]
fn borrowed_fields() {
    let value: AddressRef<'_> = decode(&address_type(), HOME).unwrap();
    assert_eq!(
        value,
        AddressRef {
            street: "Main St",
            city: "Oslo",
            zip: Some(150)
        }
    );
}

#[test]
fn nested_composites() {
    let person = Person {
        full_name: "Ada".into(),
        home: Some(home()),
    };
    let raw = encode(&person, &person_type()).unwrap();
    #[rustfmt::skip]
    let mut expected = vec![
        0, 0, 0, 2,
        0, 0, 0, 25, 0, 0, 0, 3, b'A', b'd', b'a',
    ];
    expected.extend_from_slice(&16_420u32.to_be_bytes()); // home: address
    expected.extend_from_slice(&u32::try_from(HOME.len()).unwrap().to_be_bytes());
    expected.extend_from_slice(HOME);
    assert_eq!(raw, expected);
    assert_eq!(decode::<Person>(&person_type(), &raw).unwrap(), person);

    let homeless = Person {
        full_name: "Bob".into(),
        home: None,
    };
    let raw = encode(&homeless, &person_type()).unwrap();
    assert_eq!(decode::<Person>(&person_type(), &raw).unwrap(), homeless);
}

#[test]
fn wrong_field_types_name_the_field() {
    let zip_text = Type::new(
        16_420,
        "address",
        "public",
        Kind::Composite(
            vec![
                Field::new("street", Type::TEXT),
                Field::new("city", Type::TEXT),
                Field::new("zip", Type::TEXT),
            ]
            .into(),
        ),
    );
    let e = encode(&home(), &zip_text).unwrap_err();
    assert!(e.to_string().contains("\"zip\""), "{e}");
    assert!(e.to_string().contains("text"), "{e}");
    // A value whose field OID differs from the description.
    let e = decode::<Address>(&zip_text, HOME).unwrap_err();
    assert!(e.to_string().contains("\"zip\""), "{e}");
}

#[test]
fn missing_and_extra_fields_are_errors() {
    let two = Type::new(
        16_420,
        "address",
        "public",
        Kind::Composite(
            vec![
                Field::new("street", Type::TEXT),
                Field::new("city", Type::TEXT),
            ]
            .into(),
        ),
    );
    let e = encode(&home(), &two).unwrap_err();
    assert!(e.to_string().contains("no field \"zip\""), "{e}");
    let e = decode::<Address>(&two, HOME).unwrap_err();
    assert!(e.to_string().contains("no field \"zip\""), "{e}");

    let four = Type::new(
        16_420,
        "address",
        "public",
        Kind::Composite(
            vec![
                Field::new("street", Type::TEXT),
                Field::new("city", Type::TEXT),
                Field::new("zip", Type::INT4),
                Field::new("country", Type::TEXT),
            ]
            .into(),
        ),
    );
    let e = encode(&home(), &four).unwrap_err();
    assert!(e.to_string().contains("country"), "{e}");
    let e = decode::<Address>(&four, HOME).unwrap_err();
    assert!(e.to_string().contains("country"), "{e}");

    // A description with a name twice cannot stand in for a missing field.
    let twice = Type::new(
        16_420,
        "address",
        "public",
        Kind::Composite(
            vec![
                Field::new("street", Type::TEXT),
                Field::new("street", Type::TEXT),
                Field::new("zip", Type::INT4),
            ]
            .into(),
        ),
    );
    assert!(encode(&home(), &twice).is_err());
    assert!(decode::<Address>(&twice, HOME).is_err());
}

#[test]
fn values_that_disagree_with_the_description() {
    // Fewer fields in the value than in the type, more, trailing bytes, cut short.
    let short = [&[0, 0, 0, 2][..], &HOME[4..HOME.len() - 12]].concat();
    assert!(decode::<Address>(&address_type(), &short).is_err());
    let mut long = HOME.to_vec();
    long[3] = 4;
    long.extend_from_slice(&[0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff]);
    assert!(decode::<Address>(&address_type(), &long).is_err());
    let mut trailing = HOME.to_vec();
    trailing.push(0);
    assert!(decode::<Address>(&address_type(), &trailing).is_err());
    for cut in 0..HOME.len() {
        assert!(
            decode::<Address>(&address_type(), &HOME[..cut]).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn arbitrary_bytes_are_errors_not_panics() {
    // A small deterministic generator: every byte string of a few shapes.
    let mut state = 0x2545_f491_u32;
    for len in 0..200 {
        let raw: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            })
            .collect();
        let _ = decode::<Address>(&address_type(), &raw);
        let _ = decode::<Person>(&person_type(), &raw);
    }
}

#[test]
fn the_type_is_found_by_name_and_kind() {
    assert!(<Address as ToSql>::accepts(&address_type()));
    assert!(<Address as FromSql>::accepts(&address_type()));
    let not_composite = Type::new(16_420, "address", "public", Kind::Enum(Vec::new().into()));
    for ty in [not_composite, person_type(), Type::RECORD, Type::TEXT] {
        assert!(!<Address as ToSql>::accepts(&ty), "{ty:?}");
        assert!(!<Address as FromSql>::accepts(&ty), "{ty:?}");
        assert!(matches!(
            decode::<Address>(&ty, HOME),
            Err(ValueError::WrongType { .. })
        ));
    }
}

#[test]
fn undescribed_types_are_refused() {
    // The order of the type's fields is unknown: sending in declaration order could
    // swap fields of one type silently.
    assert_eq!(<Address as ToSql>::natural_type(), Type::UNSPECIFIED);
    let e = encode(&home(), &Type::UNSPECIFIED).unwrap_err();
    assert!(e.to_string().contains("not described"), "{e}");
}

#[test]
fn arrays_of_composites() {
    let array = Type::new(16_419, "_address", "public", Kind::Array(address_type()));
    let values = vec![
        home(),
        Address {
            city: "Bergen".into(),
            street: "Bryggen".into(),
            postal_code: None,
        },
    ];
    let raw = encode(&values, &array).unwrap();
    assert_eq!(decode::<Vec<Address>>(&array, &raw).unwrap(), values);
}

/// Generic over a field's type: the bounds are the fields' own.
#[derive(Debug, PartialEq, ToSql, FromSql)]
#[apg(name = "address")]
struct GenericAddress<Z> {
    street: String,
    city: String,
    zip: Z,
}

#[test]
fn generic_composites() {
    let value: GenericAddress<Option<i64>> = decode(&address_type(), HOME).unwrap();
    assert_eq!(value.zip, Some(150));
    let again = GenericAddress {
        street: "Main St".to_owned(),
        city: "Oslo".to_owned(),
        zip: 150i32,
    };
    assert_eq!(encode(&again, &address_type()).unwrap(), HOME);
}
