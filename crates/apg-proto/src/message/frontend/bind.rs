//! Bind: binds parameter values to a prepared statement, creating a portal.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BIND>
//!
//! Bind carries every parameter of every extended-protocol query, so besides the owned
//! [`Bind`] there is [`BindEncoder`], which writes values straight into the send buffer
//! and back-patches their lengths: no intermediate `Vec` per value. [`Bind`] encodes
//! through it, so there is one encoder to get right.

use alloc::string::String;
use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{
    put_count, put_cstr, put_nullable_bytes, Format, Message, Reader, MAX_FRONTEND_MESSAGE_LEN,
};

use super::{put_formats, read_formats, read_values};

const NAME: &str = "Bind";

/// Bind (`B`): creates a portal from a prepared statement and parameter values.
///
/// `param_formats` may hold no code (every parameter is text), one code (used for every
/// parameter) or one code per parameter; `result_formats` likewise for the result
/// columns. The server enforces that rule with an ErrorResponse; this type carries the
/// lists as they are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bind {
    /// The portal to create; empty for the unnamed portal.
    pub portal: String,
    /// The prepared statement; empty for the unnamed statement.
    pub statement: String,
    /// Format codes of the parameter values.
    pub param_formats: Vec<Format>,
    /// The parameter values; `None` is SQL NULL.
    pub params: Vec<Option<Bytes>>,
    /// Format codes requested for the result columns.
    pub result_formats: Vec<Format>,
}

impl Message for Bind {
    const TAG: Option<u8> = Some(b'B');
    const NAME: &'static str = NAME;

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let mut w = BindEncoder::start(
            buf,
            None,
            &self.portal,
            &self.statement,
            &self.param_formats,
            self.params.len(),
        )?;
        for param in &self.params {
            w = match param {
                Some(value) => w.bytes(value)?,
                None => w.null()?,
            };
        }
        w.finish(&self.result_formats)
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let portal = r.cstr()?;
        let statement = r.cstr()?;
        let param_formats = read_formats(&mut r, Self::NAME, "parameter format")?;
        let params = read_values(&mut r, "parameter length")?;
        let result_formats = read_formats(&mut r, Self::NAME, "result format")?;
        r.finish()?;
        Ok(Self {
            portal,
            statement,
            param_formats,
            params,
            result_formats,
        })
    }
}

/// Writes a Bind message into a send buffer one parameter value at a time.
///
/// ```
/// use apg_proto::message::frontend::BindEncoder;
/// use apg_proto::message::Format;
/// use bytes::{BufMut, BytesMut};
///
/// let mut buf = BytesMut::new();
/// let w = BindEncoder::begin(&mut buf, "", "stmt", &[Format::Binary], 2)?;
/// let w = w.value(|buf| {
///     buf.put_i32(42);
///     Ok::<_, apg_proto::EncodeError>(())
/// })?;
/// let w = w.null()?;
/// w.finish(&[Format::Binary])?;
/// assert_eq!(buf[0], b'B');
/// # Ok::<(), apg_proto::EncodeError>(())
/// ```
///
/// Each step takes the encoder by value and hands it back on success. If a step fails,
/// or the encoder is dropped before [`finish`](Self::finish) succeeds, the buffer is
/// truncated back to where the message began: a send buffer never holds a partial
/// message, and messages queued before it are untouched.
#[must_use = "a Bind is only kept in the buffer once `finish` succeeds"]
#[derive(Debug)]
pub struct BindEncoder<'a> {
    buf: &'a mut BytesMut,
    /// Where the message began; everything from here is removed unless `finish` succeeds.
    start: usize,
    /// Where the length field is, when this encoder frames the message itself.
    len_at: Option<usize>,
    /// Parameter values still to be written.
    remaining: usize,
    done: bool,
}

impl<'a> BindEncoder<'a> {
    /// Starts a Bind message at the end of `buf`: the portal and statement names, the
    /// parameter format codes and the number of values that will follow.
    ///
    /// # Errors
    ///
    /// [`EncodeError::NulInString`] for a name containing NUL,
    /// [`EncodeError::TooManyValues`] for more than 65 535 formats or parameters.
    pub fn begin(
        buf: &'a mut BytesMut,
        portal: &str,
        statement: &str,
        param_formats: &[Format],
        param_count: usize,
    ) -> Result<Self, EncodeError> {
        let start = buf.len();
        buf.put_u8(b'B');
        let len_at = buf.len();
        buf.put_u32(0);
        Self::start(
            buf,
            Some((start, len_at)),
            portal,
            statement,
            param_formats,
            param_count,
        )
    }

    /// Writes the fields before the values. With `frame` `None` only the body is
    /// written and the caller frames it (as [`Message::encode`] does for [`Bind`]).
    fn start(
        buf: &'a mut BytesMut,
        frame: Option<(usize, usize)>,
        portal: &str,
        statement: &str,
        param_formats: &[Format],
        param_count: usize,
    ) -> Result<Self, EncodeError> {
        let (start, len_at) = match frame {
            Some((start, len_at)) => (start, Some(len_at)),
            None => (buf.len(), None),
        };
        // From here on, an early return drops `w` and removes what was written.
        let w = Self {
            buf,
            start,
            len_at,
            remaining: param_count,
            done: false,
        };
        put_cstr(w.buf, portal.as_bytes(), NAME)?;
        put_cstr(w.buf, statement.as_bytes(), NAME)?;
        put_formats(w.buf, param_formats, NAME)?;
        put_count(w.buf, param_count, NAME)?;
        Ok(w)
    }

    /// Counts one more value, refusing more than announced to [`begin`](Self::begin).
    fn take_slot(&mut self) -> Result<(), EncodeError> {
        self.remaining = self
            .remaining
            .checked_sub(1)
            .ok_or(EncodeError::InvalidValue {
                message: NAME,
                field: "number of parameter values",
            })?;
        Ok(())
    }

    /// Writes a NULL parameter.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InvalidValue`] when all announced values were already written.
    pub fn null(mut self) -> Result<Self, EncodeError> {
        self.take_slot()?;
        self.buf.put_i32(-1);
        Ok(self)
    }

    /// Writes a parameter value given as bytes.
    ///
    /// # Errors
    ///
    /// [`EncodeError::ValueTooLarge`] for a value longer than `i32::MAX` bytes (checked
    /// before copying); [`EncodeError::InvalidValue`] when all announced values were
    /// already written.
    pub fn bytes(mut self, value: &[u8]) -> Result<Self, EncodeError> {
        self.take_slot()?;
        put_nullable_bytes(self.buf, Some(value), NAME)?;
        Ok(self)
    }

    /// Writes a parameter value by letting `write` append it to the send buffer; its
    /// Int32 length is filled in afterwards.
    ///
    /// `write` must only append to the buffer. Its error type only has to convert from
    /// [`EncodeError`], so a type codec can return its own errors through this call.
    ///
    /// # Errors
    ///
    /// Whatever `write` returns; [`EncodeError::ValueTooLarge`] when it appended more
    /// than `i32::MAX` bytes; [`EncodeError::InvalidValue`] when all announced values
    /// were already written, or `write` removed bytes it did not append.
    pub fn value<E, F>(self, write: F) -> Result<Self, E>
    where
        E: From<EncodeError>,
        F: FnOnce(&mut BytesMut) -> Result<(), E>,
    {
        self.value_or_null(|buf| write(buf).map(|()| false))
    }

    /// Like [`value`](Self::value), for values that learn only while writing whether
    /// they are NULL (an `Option` behind a trait object): `write` returns `true` for
    /// NULL, and whatever it appended is then dropped. Lets a codec write straight into
    /// the send buffer with no intermediate copy.
    ///
    /// # Errors
    ///
    /// As [`value`](Self::value).
    pub fn value_or_null<E, F>(mut self, write: F) -> Result<Self, E>
    where
        E: From<EncodeError>,
        F: FnOnce(&mut BytesMut) -> Result<bool, E>,
    {
        self.take_slot()?;
        let len_at = self.buf.len();
        self.buf.put_i32(0);
        let is_null = write(&mut *self.buf)?;
        let len = self
            .buf
            .len()
            .checked_sub(len_at + 4)
            .ok_or(EncodeError::InvalidValue {
                message: NAME,
                field: "parameter value",
            })?;
        if is_null {
            self.buf.truncate(len_at + 4);
            patch(self.buf, len_at, (-1i32).to_be_bytes())?;
            return Ok(self);
        }
        let len = value_len(len)?;
        patch(self.buf, len_at, len.to_be_bytes())?;
        Ok(self)
    }

    /// Writes the result format codes, fills in the message length and leaves the
    /// complete message in the buffer.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InvalidValue`] when fewer values were written than announced;
    /// [`EncodeError::TooManyValues`] for more than 65 535 result formats;
    /// [`EncodeError::MessageTooLarge`] when the message exceeds
    /// [`MAX_FRONTEND_MESSAGE_LEN`]. The buffer is then truncated to where the message
    /// began.
    pub fn finish(mut self, result_formats: &[Format]) -> Result<(), EncodeError> {
        if self.remaining != 0 {
            return Err(EncodeError::InvalidValue {
                message: NAME,
                field: "number of parameter values",
            });
        }
        put_formats(self.buf, result_formats, NAME)?;
        if let Some(len_at) = self.len_at {
            let len = message_len(self.buf.len().saturating_sub(len_at))?;
            patch(self.buf, len_at, len.to_be_bytes())?;
        }
        self.done = true;
        Ok(())
    }
}

impl Drop for BindEncoder<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.buf.truncate(self.start);
        }
    }
}

/// The Int32 length of a value of `len` bytes.
fn value_len(len: usize) -> Result<i32, EncodeError> {
    i32::try_from(len).map_err(|_| EncodeError::ValueTooLarge { message: NAME, len })
}

/// The length field of a message whose length field and body take `len` bytes.
fn message_len(len: usize) -> Result<u32, EncodeError> {
    let too_large = EncodeError::MessageTooLarge {
        message: NAME,
        len,
        max: MAX_FRONTEND_MESSAGE_LEN,
    };
    if len > MAX_FRONTEND_MESSAGE_LEN {
        return Err(too_large);
    }
    u32::try_from(len).map_err(|_| too_large)
}

/// Overwrites the 4 bytes at `at` with a back-patched length.
fn patch(buf: &mut BytesMut, at: usize, bytes: [u8; 4]) -> Result<(), EncodeError> {
    buf.get_mut(at..at + 4)
        .ok_or(EncodeError::InvalidValue {
            message: NAME,
            field: "parameter value",
        })?
        .copy_from_slice(&bytes);
    Ok(())
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = Bind> {
    use super::strategy::{cstring, formats, values};
    use proptest::prelude::*;
    (cstring(), cstring(), formats(), values(), formats()).prop_map(
        |(portal, statement, param_formats, params, result_formats)| Bind {
            portal,
            statement,
            param_formats,
            params,
            result_formats,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use crate::message::{split_frame, DEFAULT_MAX_MESSAGE_LEN};
    use alloc::vec;
    use proptest::prelude::*;

    /// A type codec's own error, to show `value` passes it through.
    #[derive(Debug, PartialEq)]
    enum CodecError {
        Encode(EncodeError),
        Overflow,
    }

    impl From<EncodeError> for CodecError {
        fn from(e: EncodeError) -> Self {
            Self::Encode(e)
        }
    }

    const PRIOR: &[u8] = b"S\0\0\0\x04";

    #[test]
    fn bytes() {
        // 'B', Int32 length 4 + 24:
        //   "p\0"                 portal
        //   "s\0"                 statement
        //   Int16 1, Int16 1      one parameter format: binary for all
        //   Int16 2               two parameters
        //   Int32 2, "\0\x07"     a 2-byte value
        //   Int32 -1              NULL
        //   Int16 1, Int16 0      one result format: text
        roundtrip(
            &Bind {
                portal: "p".into(),
                statement: "s".into(),
                param_formats: vec![Format::Binary],
                params: vec![Some(Bytes::from_static(b"\0\x07")), None],
                result_formats: vec![Format::Text],
            },
            Some(b"B\0\0\0\x1cp\0s\0\0\x01\0\x01\0\x02\0\0\0\x02\0\x07\xff\xff\xff\xff\0\x01\0\0"),
        );
        // Everything empty: "\0", "\0", Int16 0, Int16 0, Int16 0.
        roundtrip(&Bind::default(), Some(b"B\0\0\0\x0c\0\0\0\0\0\0\0\0"));
    }

    #[test]
    fn streaming_matches_owned() {
        let owned = Bind {
            portal: String::new(),
            statement: "stmt".into(),
            param_formats: vec![Format::Binary, Format::Text],
            params: vec![Some(Bytes::from_static(b"\0\0\0\x2a")), None],
            result_formats: vec![Format::Binary],
        };
        let expected = roundtrip(&owned, None);

        let mut buf = BytesMut::from(PRIOR);
        let w =
            BindEncoder::begin(&mut buf, "", "stmt", &[Format::Binary, Format::Text], 2).unwrap();
        let w = w
            .value(|b| {
                b.put_i32(42);
                Ok::<_, EncodeError>(())
            })
            .unwrap();
        w.null().unwrap().finish(&[Format::Binary]).unwrap();
        assert_eq!(&buf[..PRIOR.len()], PRIOR);
        assert_eq!(&buf[PRIOR.len()..], &expected[..]);
    }

    #[test]
    fn dropped_encoder_leaves_no_partial_message() {
        let mut buf = BytesMut::from(PRIOR);
        {
            let w = BindEncoder::begin(&mut buf, "", "", &[], 3).unwrap();
            let _w = w.bytes(b"abc").unwrap();
            // Dropped before finish.
        }
        assert_eq!(&buf[..], PRIOR);
    }

    #[test]
    fn failed_steps_leave_no_partial_message() {
        // A codec error inside `value`.
        let mut buf = BytesMut::from(PRIOR);
        let w = BindEncoder::begin(&mut buf, "", "", &[], 2).unwrap();
        let w = w.bytes(b"x").unwrap();
        let err = w
            .value(|b| {
                b.put_slice(b"half-written");
                Err(CodecError::Overflow)
            })
            .unwrap_err();
        assert_eq!(err, CodecError::Overflow);
        assert_eq!(&buf[..], PRIOR);

        // More values than announced.
        let w = BindEncoder::begin(&mut buf, "", "", &[], 1).unwrap();
        let err = w.null().unwrap().null().unwrap_err();
        assert_eq!(
            err,
            EncodeError::InvalidValue {
                message: "Bind",
                field: "number of parameter values"
            }
        );
        assert_eq!(&buf[..], PRIOR);
        let w = BindEncoder::begin(&mut buf, "", "", &[], 0).unwrap();
        let err = w.value(|_| Ok::<_, CodecError>(())).unwrap_err();
        assert!(matches!(err, CodecError::Encode(_)));
        assert_eq!(&buf[..], PRIOR);

        // Fewer values than announced.
        let w = BindEncoder::begin(&mut buf, "", "", &[], 2).unwrap();
        assert_eq!(
            w.null().unwrap().finish(&[]),
            Err(EncodeError::InvalidValue {
                message: "Bind",
                field: "number of parameter values"
            })
        );
        assert_eq!(&buf[..], PRIOR);

        // A value closure that removes bytes it did not write.
        let w = BindEncoder::begin(&mut buf, "", "", &[], 1).unwrap();
        let err = w
            .value(|b| {
                b.truncate(0);
                Ok::<_, EncodeError>(())
            })
            .unwrap_err();
        assert_eq!(
            err,
            EncodeError::InvalidValue {
                message: "Bind",
                field: "parameter value"
            }
        );
        // The closure destroyed the prior message itself; nothing of the Bind is left.
        assert!(buf.is_empty());
    }

    #[test]
    fn header_errors_leave_no_partial_message() {
        let mut buf = BytesMut::from(PRIOR);
        assert_eq!(
            BindEncoder::begin(&mut buf, "p\0", "", &[], 0).unwrap_err(),
            EncodeError::NulInString { message: "Bind" }
        );
        assert_eq!(
            BindEncoder::begin(&mut buf, "", "", &[Format::Text; 65_536], 0).unwrap_err(),
            EncodeError::TooManyValues {
                message: "Bind",
                count: 65_536
            }
        );
        assert_eq!(
            BindEncoder::begin(&mut buf, "", "", &[], 65_536).unwrap_err(),
            EncodeError::TooManyValues {
                message: "Bind",
                count: 65_536
            }
        );
        let w = BindEncoder::begin(&mut buf, "", "", &[], 0).unwrap();
        assert_eq!(
            w.finish(&[Format::Text; 65_536]),
            Err(EncodeError::TooManyValues {
                message: "Bind",
                count: 65_536
            })
        );
        assert_eq!(&buf[..], PRIOR);

        let mut buf = BytesMut::from(PRIOR);
        let owned = Bind {
            params: vec![None; 65_536],
            ..Bind::default()
        };
        assert_eq!(
            owned.encode(&mut buf),
            Err(EncodeError::TooManyValues {
                message: "Bind",
                count: 65_536
            })
        );
        assert_eq!(&buf[..], PRIOR);
    }

    #[test]
    fn max_parameter_count() {
        let owned = Bind {
            params: vec![None; 65_535],
            ..Bind::default()
        };
        let encoded = roundtrip(&owned, None);
        // After "\0", "\0" and Int16 0 formats, the Int16 count 0xffff.
        assert_eq!(&encoded[9..11], b"\xff\xff");
    }

    /// Lengths at the 32-bit boundaries, without allocating gigabytes: the length
    /// checks are the functions the encoder calls.
    #[test]
    fn length_boundaries() {
        assert_eq!(value_len(0), Ok(0));
        assert_eq!(value_len(0x7fff_ffff), Ok(i32::MAX));
        for len in [1_u64 << 31, (1 << 32) - 1, 1 << 32, (1 << 32) + 5] {
            let Ok(len) = usize::try_from(len) else {
                continue;
            };
            assert_eq!(
                value_len(len),
                Err(EncodeError::ValueTooLarge {
                    message: "Bind",
                    len
                })
            );
            assert!(matches!(
                message_len(len),
                Err(EncodeError::MessageTooLarge { .. })
            ));
        }
        assert_eq!(
            message_len(MAX_FRONTEND_MESSAGE_LEN),
            Ok(u32::try_from(MAX_FRONTEND_MESSAGE_LEN).unwrap())
        );
        assert!(message_len(MAX_FRONTEND_MESSAGE_LEN + 1).is_err());
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| Bind::decode(Bytes::from_static(b));
        let name = "Bind";
        // Portal name without NUL.
        assert_eq!(
            decode(b"p"),
            Err(ProtocolError::MissingNul { message: name })
        );
        // Statement name without NUL.
        assert_eq!(
            decode(b"\0s"),
            Err(ProtocolError::MissingNul { message: name })
        );
        // Format count cut short.
        assert_eq!(
            decode(b"\0\0\0"),
            Err(ProtocolError::Truncated { message: name })
        );
        // An unknown parameter format code.
        assert_eq!(
            decode(b"\0\0\0\x01\0\x02\0\0\0\0"),
            Err(ProtocolError::InvalidValue {
                message: name,
                field: "parameter format"
            })
        );
        // Count 0xffff (-1 if read signed; it is not): 65 535 format codes announced,
        // room for none. Refused before allocating.
        assert_eq!(
            decode(b"\0\0\xff\xff\0\0"),
            Err(ProtocolError::Truncated { message: name })
        );
        // 0xffff values announced, 8 bytes left.
        assert_eq!(
            decode(b"\0\0\0\0\xff\xff\xff\xff\xff\xff\0\0\0\0"),
            Err(ProtocolError::Truncated { message: name })
        );
        // A value length of -2.
        assert_eq!(
            decode(b"\0\0\0\0\0\x01\xff\xff\xff\xfe\0\0"),
            Err(ProtocolError::InvalidValue {
                message: name,
                field: "parameter length"
            })
        );
        // A value running past the end.
        assert_eq!(
            decode(b"\0\0\0\0\0\x01\0\0\0\x10ab\0\0"),
            Err(ProtocolError::Truncated { message: name })
        );
        // Result format count missing.
        assert_eq!(
            decode(b"\0\0\0\0\0\0"),
            Err(ProtocolError::Truncated { message: name })
        );
        // An unknown result format code.
        assert_eq!(
            decode(b"\0\0\0\0\0\0\0\x01\xff\xff"),
            Err(ProtocolError::InvalidValue {
                message: name,
                field: "result format"
            })
        );
        assert_eq!(
            decode(b"\0\0\0\0\0\0\0\0\0"),
            Err(ProtocolError::TrailingData { message: name })
        );
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }

        /// The streaming encoder and the owned message produce the same bytes, and the
        /// length prefix always equals the bytes written.
        #[test]
        fn streaming_equals_owned(m in arb()) {
            let mut owned = BytesMut::new();
            m.encode(&mut owned).unwrap();

            let mut streamed = BytesMut::new();
            let mut w = BindEncoder::begin(
                &mut streamed,
                &m.portal,
                &m.statement,
                &m.param_formats,
                m.params.len(),
            )
            .unwrap();
            for p in &m.params {
                w = match p {
                    Some(v) => w.value(|b| {
                        b.put_slice(v);
                        Ok::<_, EncodeError>(())
                    }).unwrap(),
                    None => w.null().unwrap(),
                };
            }
            w.finish(&m.result_formats).unwrap();
            prop_assert_eq!(&owned, &streamed);

            let frame = split_frame(&mut streamed, DEFAULT_MAX_MESSAGE_LEN).unwrap().unwrap();
            prop_assert!(streamed.is_empty());
            prop_assert_eq!(frame.body.len() + 5, owned.len());
        }
    }
}
