//! The message codec: framing, and one module per message of protocol 3.0 and 3.2.
//!
//! Every message after the start-up packet is framed as
//!
//! ```text
//! +-----+-----------------+-------------------------+
//! | tag |  length: Int32  |  body (length - 4 bytes) |
//! +-----+-----------------+-------------------------+
//!          ^ counts itself, not the tag
//! ```
//!
//! The start-up packets (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest) have
//! no tag; [`split_startup_packet`] frames them.
//!
//! Decoding is two steps. [`split_frame`] cuts one complete frame off the front of a
//! receive buffer (or reports that more bytes are needed, consuming nothing); then
//! [`backend::BackendMessage::decode`] or [`frontend::FrontendMessage::decode`] decode
//! the body. Bodies are [`Bytes`] cut from the receive buffer, so fields such as a
//! DataRow's values are slices of it, not copies.
//!
//! CopyData and CopyDone travel in both directions; they live here and are re-exported
//! by both [`frontend`] and [`backend`].
//!
//! Encoding appends whole messages to a [`BytesMut`]: the length is back-patched once
//! the body is written, and a message that cannot be encoded leaves the buffer as it
//! was, so a rejected request never corrupts the messages pipelined before it.

use alloc::string::String;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};

/// Defines a message whose body is empty: a unit struct, its tag and name, and a decoder
/// that refuses any body byte.
///
/// Six backend messages are nothing but their type byte; one definition keeps their
/// codecs identical, while each file keeps its own doc and tests.
macro_rules! empty_message {
    ($(#[$meta:meta])* $name:ident, $tag:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name;

        impl $crate::message::Message for $name {
            const TAG: Option<u8> = Some($tag);
            const NAME: &'static str = stringify!($name);

            fn encode_body(
                &self,
                _buf: &mut bytes::BytesMut,
            ) -> Result<(), $crate::error::EncodeError> {
                Ok(())
            }

            fn decode(body: bytes::Bytes) -> Result<Self, $crate::error::ProtocolError> {
                $crate::message::Reader::new(body, Self::NAME).finish()?;
                Ok(Self)
            }
        }
    };
}

pub mod backend;
mod copy_data;
mod copy_done;
pub mod frontend;

pub use copy_data::CopyData;
pub use copy_done::CopyDone;

/// Object identifier of a PostgreSQL type, table or other catalog object.
pub type Oid = u32;

/// The largest message the server reads from a client: PostgreSQL's
/// `PQ_LARGE_MESSAGE_LIMIT` (MaxAllocSize - 1). Encoders refuse anything larger.
pub const MAX_FRONTEND_MESSAGE_LEN: usize = 0x3fff_ffff - 1;

/// Default maximum length of a received message, length field included: 1 GiB, the
/// server's own allocation limit, plus room for the message header.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = (1 << 30) + 64;

/// Largest count the protocol's Int16 count fields carry (parameters, formats, columns).
pub const MAX_COUNT: usize = u16::MAX as usize;

/// Format code of a parameter or column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Text format (code 0): the value's textual representation.
    #[default]
    Text,
    /// Binary format (code 1): the type's `send`/`recv` representation.
    Binary,
}

impl Format {
    /// The Int16 code used on the wire.
    pub const fn code(self) -> i16 {
        match self {
            Self::Text => 0,
            Self::Binary => 1,
        }
    }

    /// Parses a wire code; anything but 0 and 1 is invalid.
    pub(crate) fn from_code(
        code: i16,
        message: &'static str,
        field: &'static str,
    ) -> Result<Self, ProtocolError> {
        match code {
            0 => Ok(Self::Text),
            1 => Ok(Self::Binary),
            _ => Err(ProtocolError::InvalidValue { message, field }),
        }
    }
}

/// A message of either direction: its identity, and how its body is encoded and decoded.
///
/// Framing (type byte and length) is shared and lives in [`Message::encode`] and
/// [`split_frame`] / [`split_startup_packet`]; each message only writes and reads its
/// body.
pub trait Message: Sized {
    /// The type byte, or `None` for the untagged start-up packets.
    ///
    /// Several frontend messages share a byte: `p` is PasswordMessage,
    /// SASLInitialResponse, SASLResponse and GSSResponse; which one is meant follows from
    /// the authentication request being answered.
    const TAG: Option<u8>;
    /// The message's name as the PostgreSQL documentation spells it.
    const NAME: &'static str;

    /// Appends the body (everything after the length field) to `buf`.
    ///
    /// On error the caller discards whatever was appended; call [`Message::encode`]
    /// rather than this.
    ///
    /// # Errors
    ///
    /// An [`EncodeError`] when a field cannot be represented on the wire.
    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError>;

    /// Decodes a body, as returned by [`split_frame`] (or [`split_startup_packet`]).
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] when the body is malformed; the whole body must be consumed.
    fn decode(body: Bytes) -> Result<Self, ProtocolError>;

    /// Appends the whole message (type byte, length, body) to `buf`.
    ///
    /// # Errors
    ///
    /// An [`EncodeError`] when a field cannot be represented, or the message would exceed
    /// [`MAX_FRONTEND_MESSAGE_LEN`]; `buf` is then left exactly as it was.
    fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Self::TAG, Self::NAME, |buf| self.encode_body(buf))
    }
}

/// One complete message cut from a receive buffer: its type byte and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message type byte.
    pub tag: u8,
    /// The message body: everything after the length field.
    pub body: Bytes,
}

/// Every byte value, for the one-byte bodies [`split_frame`] hands out.
static ONE_BYTE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b: u8 = 0;
    loop {
        table[b as usize] = b;
        if b == u8::MAX {
            break;
        }
        b += 1;
    }
    table
};

/// Cuts one tagged message off the front of `buf`.
///
/// Returns `Ok(None)` when `buf` does not yet hold the whole message; nothing is consumed
/// then, so the caller reads more bytes and calls again. The declared length is checked
/// against `max_len` from the header alone, before waiting for (or reserving room for)
/// the body: a hostile length costs nothing.
///
/// # Errors
///
/// [`ProtocolError::InvalidLength`] for a length below 4,
/// [`ProtocolError::MessageTooLarge`] for one above `max_len`.
///
/// # Example
///
/// ```
/// use apg_proto::message::{split_frame, DEFAULT_MAX_MESSAGE_LEN};
/// use bytes::BytesMut;
///
/// let mut buf = BytesMut::from(&b"Z\0\0\0\x05IZ\0\0"[..]);
/// let frame = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN).unwrap().unwrap();
/// assert_eq!((frame.tag, &frame.body[..]), (b'Z', &b"I"[..]));
/// assert!(split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN).unwrap().is_none());
/// assert_eq!(&buf[..], b"Z\0\0");
/// ```
pub fn split_frame(buf: &mut BytesMut, max_len: usize) -> Result<Option<Frame>, ProtocolError> {
    let Some(header) = buf.get(..5) else {
        return Ok(None);
    };
    let tag = header[0];
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    let total = check_len(tag, len, 4, max_len)?;
    // `total` counts the length field, not the tag.
    if buf.len() - 1 < total {
        return Ok(None);
    }
    // Bodies of zero or one byte (BindComplete, ParseComplete, ReadyForQuery, ...) are
    // most of the messages of a short query: they point into a static table rather
    // than take a share of the buffer, which costs two atomic operations.
    if total <= 5 {
        let body = match buf.get(5) {
            Some(&b) if total == 5 => Bytes::from_static(
                ONE_BYTE
                    .get(usize::from(b)..=usize::from(b))
                    .unwrap_or_default(),
            ),
            _ => Bytes::new(),
        };
        buf.advance(total + 1);
        return Ok(Some(Frame { tag, body }));
    }
    let mut frame = buf.split_to(total + 1);
    frame.advance(5);
    Ok(Some(Frame {
        tag,
        body: frame.freeze(),
    }))
}

/// Cuts one untagged start-up packet (StartupMessage, SSLRequest, GSSENCRequest or
/// CancelRequest) off the front of `buf` and returns its body: everything after the
/// length field, starting with the Int32 request code.
///
/// Returns `Ok(None)` while the packet is incomplete, consuming nothing.
///
/// # Errors
///
/// [`ProtocolError::InvalidLength`] for a length below 8 (length + request code),
/// [`ProtocolError::MessageTooLarge`] for one above `max_len`.
pub fn split_startup_packet(
    buf: &mut BytesMut,
    max_len: usize,
) -> Result<Option<Bytes>, ProtocolError> {
    let Some(header) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let total = check_len(0, len, 8, max_len)?;
    if buf.len() < total {
        return Ok(None);
    }
    let mut packet = buf.split_to(total);
    packet.advance(4);
    Ok(Some(packet.freeze()))
}

fn check_len(tag: u8, len: u32, min: u32, max_len: usize) -> Result<usize, ProtocolError> {
    if len < min {
        return Err(ProtocolError::InvalidLength { tag, len });
    }
    // A u32 always fits in usize on the 32- and 64-bit targets this crate supports; on
    // 16-bit targets the conversion fails and the message is too large anyway.
    let total = usize::try_from(len).map_err(|_| ProtocolError::MessageTooLarge {
        tag,
        len: usize::MAX,
        max: max_len,
    })?;
    if total > max_len {
        return Err(ProtocolError::MessageTooLarge {
            tag,
            len: total,
            max: max_len,
        });
    }
    Ok(total)
}

/// A bounds-checked cursor over a message body.
///
/// Every read either returns the field or a [`ProtocolError`] naming the message; none
/// can panic or read past the body, whatever the body holds.
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    buf: Bytes,
    message: &'static str,
}

impl Reader {
    /// A cursor over `body`, reporting errors against `message` (its PostgreSQL name).
    pub(crate) fn new(body: Bytes, message: &'static str) -> Self {
        Self { buf: body, message }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn truncated(&self) -> ProtocolError {
        ProtocolError::Truncated {
            message: self.message,
        }
    }

    pub(crate) fn invalid(&self, field: &'static str) -> ProtocolError {
        ProtocolError::InvalidValue {
            message: self.message,
            field,
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let bytes: [u8; N] = self
            .buf
            .get(..N)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| self.truncated())?;
        self.buf.advance(N);
        Ok(bytes)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn i16(&mut self) -> Result<i16, ProtocolError> {
        self.array().map(i16::from_be_bytes)
    }

    /// An Int16 count that the server interprets as unsigned (0..=65535).
    pub(crate) fn u16(&mut self) -> Result<u16, ProtocolError> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn i32(&mut self) -> Result<i32, ProtocolError> {
        self.array().map(i32::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ProtocolError> {
        self.array().map(u32::from_be_bytes)
    }

    /// The next `n` bytes, as a zero-copy slice of the body.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<Bytes, ProtocolError> {
        if n > self.buf.len() {
            return Err(self.truncated());
        }
        Ok(self.buf.split_to(n))
    }

    /// An Int32 length followed by that many bytes; -1 is NULL (`None`).
    pub(crate) fn nullable_bytes(
        &mut self,
        field: &'static str,
    ) -> Result<Option<Bytes>, ProtocolError> {
        match self.i32()? {
            -1 => Ok(None),
            n => {
                let n = usize::try_from(n).map_err(|_| self.invalid(field))?;
                self.bytes(n).map(Some)
            }
        }
    }

    /// Everything left in the body.
    pub(crate) fn rest(&mut self) -> Bytes {
        core::mem::take(&mut self.buf)
    }

    /// Where the next NUL is.
    fn nul(&self) -> Result<usize, ProtocolError> {
        find_nul(&self.buf).ok_or(ProtocolError::MissingNul {
            message: self.message,
        })
    }

    /// A NUL-terminated byte string, without its NUL, as a slice of the body.
    pub(crate) fn cstr_bytes(&mut self) -> Result<Bytes, ProtocolError> {
        let end = self.nul()?;
        let s = self.buf.split_to(end);
        self.buf.advance(1);
        Ok(s)
    }

    /// A NUL-terminated byte string that must end the body, without its NUL: the body
    /// itself, shortened, rather than a second share of it (no reference counting).
    pub(crate) fn final_cstr_bytes(&mut self) -> Result<Bytes, ProtocolError> {
        let end = self.nul()?;
        if end + 1 != self.buf.len() {
            return Err(ProtocolError::TrailingData {
                message: self.message,
            });
        }
        let mut s = core::mem::take(&mut self.buf);
        s.truncate(end);
        Ok(s)
    }

    /// A NUL-terminated UTF-8 string, without its NUL. Copied straight from the body
    /// (no slice of it made and dropped): every CommandComplete tag comes this way.
    pub(crate) fn cstr(&mut self) -> Result<String, ProtocolError> {
        let end = self.nul()?;
        let bytes = self.buf.get(..end).unwrap_or_default();
        let s = core::str::from_utf8(bytes).map_err(|_| ProtocolError::InvalidUtf8 {
            message: self.message,
        })?;
        let s = String::from(s);
        self.buf.advance(end + 1);
        Ok(s)
    }

    /// Fails unless the whole body was consumed.
    pub(crate) fn finish(&self) -> Result<(), ProtocolError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::TrailingData {
                message: self.message,
            })
        }
    }
}

/// Appends one message to `buf`: the tag (if any), a length placeholder, the body written
/// by `body`, then the back-patched length.
///
/// If `body` fails, or the message would exceed [`MAX_FRONTEND_MESSAGE_LEN`], `buf` is
/// truncated back to its length before the call: nothing of the message remains.
pub(crate) fn write_message(
    buf: &mut BytesMut,
    tag: Option<u8>,
    message: &'static str,
    body: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = buf.len();
    if let Some(tag) = tag {
        buf.put_u8(tag);
    }
    let len_at = buf.len();
    buf.put_u32(0);
    let result = body(buf).and_then(|()| {
        let len = buf.len() - len_at;
        if len > MAX_FRONTEND_MESSAGE_LEN {
            return Err(EncodeError::MessageTooLarge {
                message,
                len,
                max: MAX_FRONTEND_MESSAGE_LEN,
            });
        }
        // Cannot fail: MAX_FRONTEND_MESSAGE_LEN < u32::MAX.
        u32::try_from(len).map_err(|_| EncodeError::MessageTooLarge {
            message,
            len,
            max: MAX_FRONTEND_MESSAGE_LEN,
        })
    });
    match result {
        Ok(len) => {
            buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
        Err(e) => {
            buf.truncate(start);
            Err(e)
        }
    }
}

/// Appends `s` and its NUL terminator, refusing a string with an interior NUL.
pub(crate) fn put_cstr(
    buf: &mut BytesMut,
    s: &[u8],
    message: &'static str,
) -> Result<(), EncodeError> {
    if find_nul(s).is_some() {
        return Err(EncodeError::NulInString { message });
    }
    buf.put_slice(s);
    buf.put_u8(0);
    Ok(())
}

/// Appends an Int16 count, refusing counts above 65 535.
///
/// The server reads these fields as unsigned, so counts up to 65 535 are written as their
/// 16-bit two's complement pattern.
pub(crate) fn put_count(
    buf: &mut BytesMut,
    count: usize,
    message: &'static str,
) -> Result<(), EncodeError> {
    let count = u16::try_from(count).map_err(|_| EncodeError::TooManyValues { message, count })?;
    buf.put_u16(count);
    Ok(())
}

/// Appends an Int32 length and the value, or -1 for NULL.
pub(crate) fn put_nullable_bytes(
    buf: &mut BytesMut,
    value: Option<&[u8]>,
    message: &'static str,
) -> Result<(), EncodeError> {
    match value {
        None => buf.put_i32(-1),
        Some(v) => {
            let len = i32::try_from(v.len()).map_err(|_| EncodeError::ValueTooLarge {
                message,
                len: v.len(),
            })?;
            buf.put_i32(len);
            buf.put_slice(v);
        }
    }
    Ok(())
}

/// Test support shared by the message modules.
#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use core::fmt::Debug;

    /// Encodes `msg`, checks the bytes against `expected` (when given), frames and decodes
    /// them again and checks the result equals `msg`. Returns the encoded bytes.
    pub(crate) fn roundtrip<M: Message + PartialEq + Debug>(
        msg: &M,
        expected: Option<&[u8]>,
    ) -> BytesMut {
        let mut buf = BytesMut::new();
        msg.encode(&mut buf).expect("encode");
        if let Some(expected) = expected {
            assert_eq!(&buf[..], expected, "encoding of {}", M::NAME);
        }
        let encoded = buf.clone();
        let body = match M::TAG {
            Some(tag) => {
                let frame = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
                    .expect("frame")
                    .expect("complete frame");
                assert_eq!(frame.tag, tag);
                frame.body
            }
            None => split_startup_packet(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
                .expect("packet")
                .expect("complete packet"),
        };
        assert!(buf.is_empty(), "{} left bytes behind", M::NAME);
        assert_eq!(&M::decode(body).expect("decode"), msg);
        encoded
    }
}

/// The position of the first NUL in `buf`. Most strings in messages are short (tags,
/// names, field codes): a plain scan of the first bytes costs less than setting up
/// `memchr`, which takes over for longer ones.
fn find_nul(buf: &[u8]) -> Option<usize> {
    const SHORT: usize = 32;
    match buf.get(..SHORT) {
        None => buf.iter().position(|&b| b == 0),
        Some(head) => head
            .iter()
            .position(|&b| b == 0)
            .or_else(|| memchr::memchr(0, buf.get(SHORT..)?).map(|i| i + SHORT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_bodies_come_whole_and_leave_the_rest() {
        for b in 0..=u8::MAX {
            let mut buf = BytesMut::from(&[b'Z', 0, 0, 0, 5, b, b'2', 0, 0, 0, 4, b'C'][..]);
            let frame = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
                .unwrap()
                .unwrap();
            assert_eq!((frame.tag, &frame.body[..]), (b'Z', &[b][..]));
            let frame = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
                .unwrap()
                .unwrap();
            assert_eq!((frame.tag, frame.body.len()), (b'2', 0));
            assert_eq!(&buf[..], b"C");
            assert!(split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
                .unwrap()
                .is_none());
        }
        // A one-byte body not yet arrived whole is waited for.
        let mut buf = BytesMut::from(&b"Z\0\0\0\x05"[..]);
        assert!(split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
            .unwrap()
            .is_none());
        assert_eq!(buf.len(), 5);
    }

    #[test]
    fn nul_found_at_every_position() {
        for len in [0usize, 1, 31, 32, 33, 100] {
            for at in 0..len {
                let mut buf = alloc::vec![b'x'; len];
                if let Some(b) = buf.get_mut(at) {
                    *b = 0;
                }
                assert_eq!(find_nul(&buf), Some(at), "{len} {at}");
            }
            assert_eq!(find_nul(&alloc::vec![b'x'; len]), None);
        }
    }

    #[test]
    fn split_frame_waits_for_header_and_body() {
        let mut buf = BytesMut::new();
        for (i, b) in b"C\0\0\0\x0bSELECT\0".iter().enumerate() {
            assert_eq!(split_frame(&mut buf, 100), Ok(None), "after {i} bytes");
            buf.put_u8(*b);
        }
        let frame = split_frame(&mut buf, 100).unwrap().unwrap();
        assert_eq!(frame.tag, b'C');
        assert_eq!(&frame.body[..], b"SELECT\0");
        assert!(buf.is_empty());
    }

    #[test]
    fn split_frame_rejects_short_and_oversized_lengths() {
        let mut buf = BytesMut::from(&b"D\0\0\0\x03"[..]);
        assert_eq!(
            split_frame(&mut buf, 100),
            Err(ProtocolError::InvalidLength { tag: b'D', len: 3 })
        );
        // An rsync daemon's greeting read as a length (~1.38 GB) must not be waited for.
        let mut buf = BytesMut::from(&b"@RSYNCD: 31.0\n"[..]);
        assert_eq!(
            split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN),
            Err(ProtocolError::MessageTooLarge {
                tag: b'@',
                len: 0x5253_594e,
                max: DEFAULT_MAX_MESSAGE_LEN
            })
        );
        let mut buf = BytesMut::from(&b"D\xff\xff\xff\xff"[..]);
        assert!(matches!(
            split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN),
            Err(ProtocolError::MessageTooLarge { .. })
        ));
    }

    #[test]
    fn split_startup_packet_frames_untagged_packets() {
        let mut buf = BytesMut::from(&b"\0\0\0\x08\x04\xd2\x16\x2fZ"[..]);
        let body = split_startup_packet(&mut buf, 100).unwrap().unwrap();
        assert_eq!(&body[..], b"\x04\xd2\x16\x2f");
        assert_eq!(&buf[..], b"Z");
        let mut buf = BytesMut::from(&b"\0\0\0\x07abc"[..]);
        assert_eq!(
            split_startup_packet(&mut buf, 100),
            Err(ProtocolError::InvalidLength { tag: 0, len: 7 })
        );
    }

    #[test]
    fn reader_bounds_every_read() {
        let mut r = Reader::new(Bytes::from_static(b"\x00\x01ab"), "Test");
        assert_eq!(r.i16(), Ok(1));
        assert_eq!(r.cstr(), Err(ProtocolError::MissingNul { message: "Test" }));
        assert_eq!(r.i32(), Err(ProtocolError::Truncated { message: "Test" }));
        assert_eq!(
            r.bytes(3),
            Err(ProtocolError::Truncated { message: "Test" })
        );
        assert_eq!(
            r.finish(),
            Err(ProtocolError::TrailingData { message: "Test" })
        );
        let mut r = Reader::new(Bytes::from_static(b"\xff\xff\xff\xfe"), "Test");
        assert_eq!(
            r.nullable_bytes("value length"),
            Err(ProtocolError::InvalidValue {
                message: "Test",
                field: "value length"
            })
        );
    }

    #[test]
    fn failed_encode_leaves_buffer_untouched() {
        let mut buf = BytesMut::from(&b"prior"[..]);
        let err = write_message(&mut buf, Some(b'Q'), "Query", |b| {
            put_cstr(b, b"select\0 1", "Query")
        });
        assert_eq!(err, Err(EncodeError::NulInString { message: "Query" }));
        assert_eq!(&buf[..], b"prior");
        write_message(&mut buf, Some(b'Q'), "Query", |b| {
            put_cstr(b, b"x", "Query")
        })
        .unwrap();
        assert_eq!(&buf[..], b"priorQ\0\0\0\x06x\0");
    }

    #[test]
    fn counts_above_u16_are_refused() {
        let mut buf = BytesMut::new();
        put_count(&mut buf, 65_535, "Bind").unwrap();
        assert_eq!(&buf[..], b"\xff\xff");
        assert_eq!(
            put_count(&mut buf, 65_536, "Bind"),
            Err(EncodeError::TooManyValues {
                message: "Bind",
                count: 65_536
            })
        );
    }
}
