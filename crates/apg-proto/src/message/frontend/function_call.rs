//! FunctionCall: calls a function through the legacy fast-path interface.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-FUNCTIONCALL>

use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_count, put_nullable_bytes, Format, Message, Oid, Reader};

use super::{put_formats, read_formats, read_values};

/// FunctionCall (`F`): calls the function with OID `function` directly, without SQL.
/// Answered by FunctionCallResponse (or ErrorResponse), then ReadyForQuery.
///
/// The interface is legacy: a prepared `SELECT f($1, ...)` does the same. As in Bind,
/// `arg_formats` may hold no code (all text), one code (for every argument) or one per
/// argument; the server, not this type, enforces that.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FunctionCall {
    /// The OID of the function to call.
    pub function: Oid,
    /// Format codes of the arguments.
    pub arg_formats: Vec<Format>,
    /// The argument values; `None` is SQL NULL.
    pub args: Vec<Option<Bytes>>,
    /// Format of the result.
    pub result_format: Format,
}

impl Message for FunctionCall {
    const TAG: Option<u8> = Some(b'F');
    const NAME: &'static str = "FunctionCall";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u32(self.function);
        put_formats(buf, &self.arg_formats, Self::NAME)?;
        put_count(buf, self.args.len(), Self::NAME)?;
        for arg in &self.args {
            put_nullable_bytes(buf, arg.as_deref(), Self::NAME)?;
        }
        buf.put_i16(self.result_format.code());
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let function = r.u32()?;
        let arg_formats = read_formats(&mut r, Self::NAME, "argument format")?;
        let args = read_values(&mut r, "argument length")?;
        let result_format = Format::from_code(r.i16()?, Self::NAME, "result format")?;
        r.finish()?;
        Ok(Self {
            function,
            arg_formats,
            args,
            result_format,
        })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = FunctionCall> {
    use super::strategy::{format, formats, values};
    use proptest::prelude::*;
    (any::<Oid>(), formats(), values(), format()).prop_map(
        |(function, arg_formats, args, result_format)| FunctionCall {
            function,
            arg_formats,
            args,
            result_format,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn bytes() {
        // 'F', Int32 length 4 + 4 + 4 + 2 + 6 + 4 + 2 = 26,
        // Int32 OID 1598, Int16 1 format, Int16 1 (binary),
        // Int16 2 args, Int32 2 "ab", Int32 -1 (NULL), Int16 0 (text result).
        roundtrip(
            &FunctionCall {
                function: 1598,
                arg_formats: vec![Format::Binary],
                args: vec![Some(Bytes::from_static(b"ab")), None],
                result_format: Format::Text,
            },
            Some(b"F\0\0\0\x1a\0\0\x06\x3e\0\x01\0\x01\0\x02\0\0\0\x02ab\xff\xff\xff\xff\0\0"),
        );
        // No formats, no args, binary result.
        roundtrip(
            &FunctionCall {
                function: 1,
                result_format: Format::Binary,
                ..FunctionCall::default()
            },
            Some(b"F\0\0\0\x0e\0\0\0\x01\0\0\0\0\0\x01"),
        );
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| FunctionCall::decode(Bytes::from_static(b));
        let name = "FunctionCall";
        // OID cut short.
        assert_eq!(
            decode(b"\0\0"),
            Err(ProtocolError::Truncated { message: name })
        );
        // Format code 2.
        assert_eq!(
            decode(b"\0\0\0\x01\0\x01\0\x02\0\0\0\0"),
            Err(ProtocolError::InvalidValue {
                message: name,
                field: "argument format"
            })
        );
        // 0xffff arguments announced in a short body: refused before allocating.
        assert_eq!(
            decode(b"\0\0\0\x01\0\0\xff\xff\0\0\0\0\0\0"),
            Err(ProtocolError::Truncated { message: name })
        );
        // Argument length -2.
        assert_eq!(
            decode(b"\0\0\0\x01\0\0\0\x01\xff\xff\xff\xfe\0\0"),
            Err(ProtocolError::InvalidValue {
                message: name,
                field: "argument length"
            })
        );
        // Argument length past the end.
        assert_eq!(
            decode(b"\0\0\0\x01\0\0\0\x01\0\0\0\x09ab\0\0"),
            Err(ProtocolError::Truncated { message: name })
        );
        // Result format missing, then invalid, then followed by junk.
        assert_eq!(
            decode(b"\0\0\0\x01\0\0\0\0"),
            Err(ProtocolError::Truncated { message: name })
        );
        assert_eq!(
            decode(b"\0\0\0\x01\0\0\0\0\xff\xff"),
            Err(ProtocolError::InvalidValue {
                message: name,
                field: "result format"
            })
        );
        assert_eq!(
            decode(b"\0\0\0\x01\0\0\0\0\0\0\0"),
            Err(ProtocolError::TrailingData { message: name })
        );
    }

    #[test]
    fn too_many_args_refused() {
        let mut buf = BytesMut::new();
        let m = FunctionCall {
            args: vec![None; 65_536],
            ..FunctionCall::default()
        };
        assert_eq!(
            m.encode(&mut buf),
            Err(EncodeError::TooManyValues {
                message: "FunctionCall",
                count: 65_536
            })
        );
        assert!(buf.is_empty());
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
