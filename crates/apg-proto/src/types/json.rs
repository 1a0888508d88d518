//! `json` and `jsonb` as `serde_json::Value` and [`Json<T>`] for any serde type
//! (feature `serde_json`).
//!
//! `json`'s binary format is the JSON text; `jsonb`'s is a version byte (`1`) then the
//! text.

use super::ty::oid;
use alloc::format;

use bytes::{BufMut, BytesMut};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{FromSql, IsNull, ToSql, Type, ValueError};

const JSONB_VERSION: u8 = 1;

/// A value sent and read as `json` or `jsonb` through serde.
///
/// ```
/// use apg_proto::types::{FromSql, Json, Type};
///
/// let Json(tags) = Json::<Vec<String>>::from_sql(&Type::JSON, br#"["a", "b"]"#)?;
/// assert_eq!(tags, ["a", "b"]);
/// # Ok::<(), apg_proto::types::ValueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Json<T>(pub T);

fn is_json(ty: &Type) -> bool {
    matches!(ty.oid(), oid::JSON | oid::JSONB)
}

fn write<T: Serialize + ?Sized>(
    value: &T,
    ty: &Type,
    out: &mut BytesMut,
) -> Result<IsNull, ValueError> {
    let text = serde_json::to_vec(value)
        .map_err(|e| ValueError::Custom(format!("cannot serialize a {ty} value: {e}").into()))?;
    if *ty == Type::JSONB {
        out.put_u8(JSONB_VERSION);
    }
    out.put_slice(&text);
    Ok(IsNull::No)
}

fn read<T: DeserializeOwned>(ty: &Type, raw: &[u8], binary: bool) -> Result<T, ValueError> {
    let text = if binary && *ty == Type::JSONB {
        match raw.split_first() {
            Some((&JSONB_VERSION, text)) => text,
            _ => return Err(ValueError::malformed::<T>(ty, "unknown jsonb version")),
        }
    } else {
        raw
    };
    serde_json::from_slice(text)
        .map_err(|e| ValueError::Custom(format!("invalid {ty} value: {e}").into()))
}

impl<T: Serialize> ToSql for Json<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        write(&self.0, ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }

    fn natural_type() -> Type {
        Type::JSONB
    }
}

impl<T: DeserializeOwned> FromSql<'_> for Json<T> {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        read(ty, raw, true).map(Json)
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        read(ty, raw, false).map(Json)
    }

    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }
}

impl ToSql for serde_json::Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        write(self, ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }

    fn natural_type() -> Type {
        Type::JSONB
    }
}

impl FromSql<'_> for serde_json::Value {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        read(ty, raw, true)
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        read(ty, raw, false)
    }

    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use serde_json::json;

    #[test]
    fn json_and_jsonb() {
        let v = json!({"a": [1, "x", null]});
        assert_eq!(
            encode(&v, &Type::JSON).unwrap().as_deref(),
            Some(&br#"{"a":[1,"x",null]}"#[..])
        );
        let raw = encode(&v, &Type::JSONB).unwrap().unwrap();
        assert_eq!(raw[0], 1);
        assert_eq!(serde_json::Value::from_sql(&Type::JSONB, &raw), Ok(v));
        assert_eq!(
            Json::<Vec<i32>>::from_sql(&Type::JSON, b"[1, 2]"),
            Ok(Json(alloc::vec![1, 2]))
        );
        assert!(serde_json::Value::from_sql(&Type::JSONB, br#"{"a":1}"#).is_err());
        assert!(serde_json::Value::from_sql(&Type::JSON, b"{").is_err());
        assert!(Json::<i32>::from_sql(&Type::JSON, b"\"x\"").is_err());
    }
}
