//! Messages sent by the client (frontend) to the server.
//!
//! One module per message, named after it. Each type implements
//! [`Message`]: `encode` appends the whole message to a send buffer,
//! `decode` reads a body (used by test servers, proxies and the fuzzers).
//!
//! | message             | tag       | type                    |
//! |---------------------|-----------|-------------------------|
//! | StartupMessage      | (none)    | [`StartupMessage`]      |
//! | SSLRequest          | (none)    | [`SslRequest`]          |
//! | GSSENCRequest       | (none)    | [`GssEncRequest`]       |
//! | CancelRequest       | (none)    | [`CancelRequest`]       |
//! | Bind                | `B`       | [`Bind`] ([`BindEncoder`] to stream values) |
//! | Close               | `C`       | [`Close`]               |
//! | CopyData            | `d`       | [`CopyData`]            |
//! | CopyDone            | `c`       | [`CopyDone`]            |
//! | CopyFail            | `f`       | [`CopyFail`]            |
//! | Describe            | `D`       | [`Describe`]            |
//! | Execute             | `E`       | [`Execute`]             |
//! | Flush               | `H`       | [`Flush`]               |
//! | FunctionCall        | `F`       | [`FunctionCall`]        |
//! | GSSResponse         | `p`       | [`GssResponse`]         |
//! | Parse               | `P`       | [`Parse`]               |
//! | PasswordMessage     | `p`       | [`PasswordMessage`]     |
//! | Query               | `Q`       | [`Query`]               |
//! | SASLInitialResponse | `p`       | [`SaslInitialResponse`] |
//! | SASLResponse        | `p`       | [`SaslResponse`]        |
//! | Sync                | `S`       | [`Sync`]                |
//! | Terminate           | `X`       | [`Terminate`]           |
//!
//! The four untagged start-up packets are decoded together by
//! [`StartupPacket::decode`], the tagged messages by [`FrontendMessage::decode`]. The
//! four `p` messages cannot be told apart from their bytes: they decode as an
//! [`AuthenticationResponse`], which the reader turns into the message it asked for.
//!
//! Close, Describe, Execute, Flush, Sync, Terminate, CopyDone and CopyFail must stay
//! within [`MAX_SMALL_MESSAGE_LEN`]: the server ends the session on a longer one.

use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_count, Format, Frame, Message, Reader};

mod authentication_response;
mod bind;
mod cancel_request;
mod close;
mod copy_fail;
mod describe;
mod execute;
mod flush;
mod function_call;
mod gss_enc_request;
mod gss_response;
mod parse;
mod password_message;
mod query;
mod sasl_initial_response;
mod sasl_response;
mod ssl_request;
mod startup_message;
mod sync;
mod terminate;

pub use crate::message::{CopyData, CopyDone};
pub use authentication_response::AuthenticationResponse;
pub use bind::{Bind, BindEncoder};
pub use cancel_request::CancelRequest;
pub use close::Close;
pub use copy_fail::CopyFail;
pub use describe::{Describe, Target};
pub use execute::Execute;
pub use flush::Flush;
pub use function_call::FunctionCall;
pub use gss_enc_request::GssEncRequest;
pub use gss_response::GssResponse;
pub use parse::Parse;
pub use password_message::PasswordMessage;
pub use query::Query;
pub use sasl_initial_response::SaslInitialResponse;
pub use sasl_response::SaslResponse;
pub use ssl_request::SslRequest;
pub use startup_message::{ProtocolVersion, StartupMessage};
pub use sync::Sync;
pub use terminate::Terminate;

/// The server's limit on the length field of Close, Describe, Execute, Flush, Sync,
/// Terminate, CopyDone and CopyFail: PostgreSQL's `PQ_SMALL_MESSAGE_LIMIT`
/// (`postgres.c`, PostgreSQL 14 and later).
///
/// Like every length field it counts itself but not the type byte. A longer message is
/// a fatal protocol violation for the server: the session is terminated.
pub const MAX_SMALL_MESSAGE_LEN: usize = 10_000;

/// Fails unless `r` still holds `count` items of at least `size` bytes each.
///
/// Called before allocating for a count read from the wire, so a hostile count costs
/// nothing beyond the body that was already received.
fn ensure_items(r: &Reader, count: usize, size: usize) -> Result<(), ProtocolError> {
    match count.checked_mul(size) {
        Some(needed) if needed <= r.remaining() => Ok(()),
        _ => Err(r.truncated()),
    }
}

/// Reads an Int16 count (unsigned, as the server reads it) and that many format codes.
fn read_formats(
    r: &mut Reader,
    message: &'static str,
    field: &'static str,
) -> Result<Vec<Format>, ProtocolError> {
    let count = usize::from(r.u16()?);
    ensure_items(r, count, 2)?;
    let mut formats = Vec::with_capacity(count);
    for _ in 0..count {
        formats.push(Format::from_code(r.i16()?, message, field)?);
    }
    Ok(formats)
}

/// Reads an Int16 count (unsigned) and that many Int32-length-prefixed values.
fn read_values(r: &mut Reader, field: &'static str) -> Result<Vec<Option<Bytes>>, ProtocolError> {
    let count = usize::from(r.u16()?);
    // Every value takes at least its 4-byte length.
    ensure_items(r, count, 4)?;
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        values.push(r.nullable_bytes(field)?);
    }
    Ok(values)
}

/// Appends an Int16 count and the format codes.
fn put_formats(
    buf: &mut BytesMut,
    formats: &[Format],
    message: &'static str,
) -> Result<(), EncodeError> {
    put_count(buf, formats.len(), message)?;
    for format in formats {
        buf.put_i16(format.code());
    }
    Ok(())
}

/// Refuses a small message whose length field would be `len`, above what the server
/// accepts.
fn check_small_len(len: usize, message: &'static str) -> Result<(), EncodeError> {
    if len > MAX_SMALL_MESSAGE_LEN {
        return Err(EncodeError::MessageTooLarge {
            message,
            len,
            max: MAX_SMALL_MESSAGE_LEN,
        });
    }
    Ok(())
}

/// Refuses a received small message longer than the server itself would accept, so
/// that everything this crate decodes it can also encode again.
fn check_small_body(tag: u8, body: &Bytes) -> Result<(), ProtocolError> {
    let len = body.len().saturating_add(4);
    if len > MAX_SMALL_MESSAGE_LEN {
        return Err(ProtocolError::MessageTooLarge {
            tag,
            len,
            max: MAX_SMALL_MESSAGE_LEN,
        });
    }
    Ok(())
}

/// One of the four untagged packets a client may open a connection with.
///
/// Servers, proxies and test harnesses read the first packet with
/// [`split_startup_packet`](super::split_startup_packet) and decode it here; the
/// request code at its start tells the kinds apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupPacket {
    /// A StartupMessage: protocol version and session parameters.
    Startup(StartupMessage),
    /// An SSLRequest: the client asks to switch to TLS.
    SslRequest(SslRequest),
    /// A GSSENCRequest: the client asks for GSSAPI encryption.
    GssEncRequest(GssEncRequest),
    /// A CancelRequest: the client asks to cancel another session's query.
    CancelRequest(CancelRequest),
}

impl StartupPacket {
    /// Decodes a start-up packet body (everything after the length field, starting with
    /// the Int32 request code).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::UnknownStartupCode`] when the code is neither one of the special
    /// request codes nor a protocol version with major version 3; otherwise the error of
    /// the packet's own decoder.
    pub fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let code = Reader::new(body.clone(), "startup packet").u32()?;
        match code {
            SslRequest::CODE => SslRequest::decode(body).map(Self::SslRequest),
            GssEncRequest::CODE => GssEncRequest::decode(body).map(Self::GssEncRequest),
            CancelRequest::CODE => CancelRequest::decode(body).map(Self::CancelRequest),
            _ if ProtocolVersion::from_code(code).major == 3 => {
                StartupMessage::decode(body).map(Self::Startup)
            }
            _ => Err(ProtocolError::UnknownStartupCode { code }),
        }
    }

    /// Appends the whole packet (length and body) to `buf`.
    ///
    /// # Errors
    ///
    /// The error of the packet's encoder; `buf` is then left as it was.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Self::Startup(m) => m.encode(buf),
            Self::SslRequest(m) => m.encode(buf),
            Self::GssEncRequest(m) => m.encode(buf),
            Self::CancelRequest(m) => m.encode(buf),
        }
    }
}

impl From<StartupMessage> for StartupPacket {
    fn from(m: StartupMessage) -> Self {
        Self::Startup(m)
    }
}

impl From<SslRequest> for StartupPacket {
    fn from(m: SslRequest) -> Self {
        Self::SslRequest(m)
    }
}

impl From<GssEncRequest> for StartupPacket {
    fn from(m: GssEncRequest) -> Self {
        Self::GssEncRequest(m)
    }
}

impl From<CancelRequest> for StartupPacket {
    fn from(m: CancelRequest) -> Self {
        Self::CancelRequest(m)
    }
}

/// Any tagged message a client sends.
///
/// [`FrontendMessage::decode`] never returns the four `p` variants
/// ([`PasswordMessage`](Self::PasswordMessage), [`SaslInitialResponse`](Self::SaslInitialResponse),
/// [`SaslResponse`](Self::SaslResponse), [`GssResponse`](Self::GssResponse)): their
/// bytes do not say which one they are, so they decode as
/// [`AuthenticationResponse`](Self::AuthenticationResponse). The variants exist so that
/// a client can encode any message through this one type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrontendMessage {
    /// Bind (`B`).
    Bind(Bind),
    /// Close (`C`).
    Close(Close),
    /// CopyData (`d`).
    CopyData(CopyData),
    /// CopyDone (`c`).
    CopyDone(CopyDone),
    /// CopyFail (`f`).
    CopyFail(CopyFail),
    /// Describe (`D`).
    Describe(Describe),
    /// Execute (`E`).
    Execute(Execute),
    /// Flush (`H`).
    Flush(Flush),
    /// FunctionCall (`F`).
    FunctionCall(FunctionCall),
    /// Parse (`P`).
    Parse(Parse),
    /// Query (`Q`).
    Query(Query),
    /// Sync (`S`).
    Sync(Sync),
    /// Terminate (`X`).
    Terminate(Terminate),
    /// PasswordMessage (`p`); encode only.
    PasswordMessage(PasswordMessage),
    /// SASLInitialResponse (`p`); encode only.
    SaslInitialResponse(SaslInitialResponse),
    /// SASLResponse (`p`); encode only.
    SaslResponse(SaslResponse),
    /// GSSResponse (`p`); encode only.
    GssResponse(GssResponse),
    /// Any `p` message, undecoded: what [`FrontendMessage::decode`] returns for tag `p`.
    AuthenticationResponse(AuthenticationResponse),
}

impl FrontendMessage {
    /// Decodes a frame cut by [`split_frame`](super::split_frame).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::UnknownMessageType`] for a tag no frontend message uses;
    /// otherwise the error of the message's decoder.
    pub fn decode(frame: Frame) -> Result<Self, ProtocolError> {
        let body = frame.body;
        match frame.tag {
            b'B' => Bind::decode(body).map(Self::Bind),
            b'C' => Close::decode(body).map(Self::Close),
            b'd' => CopyData::decode(body).map(Self::CopyData),
            b'c' => CopyDone::decode(body).map(Self::CopyDone),
            b'f' => CopyFail::decode(body).map(Self::CopyFail),
            b'D' => Describe::decode(body).map(Self::Describe),
            b'E' => Execute::decode(body).map(Self::Execute),
            b'H' => Flush::decode(body).map(Self::Flush),
            b'F' => FunctionCall::decode(body).map(Self::FunctionCall),
            b'P' => Parse::decode(body).map(Self::Parse),
            b'Q' => Query::decode(body).map(Self::Query),
            b'S' => Sync::decode(body).map(Self::Sync),
            b'X' => Terminate::decode(body).map(Self::Terminate),
            b'p' => AuthenticationResponse::decode(body).map(Self::AuthenticationResponse),
            tag => Err(ProtocolError::UnknownMessageType { tag }),
        }
    }

    /// Appends the whole message (type byte, length, body) to `buf`.
    ///
    /// # Errors
    ///
    /// The error of the message's encoder; `buf` is then left as it was.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Self::Bind(m) => m.encode(buf),
            Self::Close(m) => m.encode(buf),
            Self::CopyData(m) => m.encode(buf),
            Self::CopyDone(m) => m.encode(buf),
            Self::CopyFail(m) => m.encode(buf),
            Self::Describe(m) => m.encode(buf),
            Self::Execute(m) => m.encode(buf),
            Self::Flush(m) => m.encode(buf),
            Self::FunctionCall(m) => m.encode(buf),
            Self::Parse(m) => m.encode(buf),
            Self::Query(m) => m.encode(buf),
            Self::Sync(m) => m.encode(buf),
            Self::Terminate(m) => m.encode(buf),
            Self::PasswordMessage(m) => m.encode(buf),
            Self::SaslInitialResponse(m) => m.encode(buf),
            Self::SaslResponse(m) => m.encode(buf),
            Self::GssResponse(m) => m.encode(buf),
            Self::AuthenticationResponse(m) => m.encode(buf),
        }
    }

    /// The message's type byte.
    pub const fn tag(&self) -> u8 {
        match self {
            Self::Bind(_) => b'B',
            Self::Close(_) => b'C',
            Self::CopyData(_) => b'd',
            Self::CopyDone(_) => b'c',
            Self::CopyFail(_) => b'f',
            Self::Describe(_) => b'D',
            Self::Execute(_) => b'E',
            Self::Flush(_) => b'H',
            Self::FunctionCall(_) => b'F',
            Self::Parse(_) => b'P',
            Self::Query(_) => b'Q',
            Self::Sync(_) => b'S',
            Self::Terminate(_) => b'X',
            Self::PasswordMessage(_)
            | Self::SaslInitialResponse(_)
            | Self::SaslResponse(_)
            | Self::GssResponse(_)
            | Self::AuthenticationResponse(_) => b'p',
        }
    }
}

macro_rules! from_message {
    ($($variant:ident),* $(,)?) => {
        $(
            impl From<$variant> for FrontendMessage {
                fn from(m: $variant) -> Self {
                    Self::$variant(m)
                }
            }
        )*
    };
}

from_message!(
    Bind,
    Close,
    CopyData,
    CopyDone,
    CopyFail,
    Describe,
    Execute,
    Flush,
    FunctionCall,
    Parse,
    Query,
    Sync,
    Terminate,
    PasswordMessage,
    SaslInitialResponse,
    SaslResponse,
    GssResponse,
    AuthenticationResponse,
);

/// Proptest strategies for the frontend messages and their fields.
#[cfg(test)]
pub(crate) mod strategy {
    use alloc::string::String;
    use alloc::vec::Vec;

    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;
    use crate::message::Oid;

    /// A string without NUL: what every String field can carry.
    pub(crate) fn cstring() -> impl Strategy<Value = String> {
        "[^\\x00]{0,12}"
    }

    /// Arbitrary bytes, NUL included.
    pub(crate) fn bytes() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
    }

    /// Bytes without NUL.
    pub(crate) fn cbytes() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(1..=u8::MAX, 0..24).prop_map(Bytes::from)
    }

    pub(crate) fn format() -> impl Strategy<Value = Format> {
        prop_oneof![Just(Format::Text), Just(Format::Binary)]
    }

    pub(crate) fn formats() -> impl Strategy<Value = Vec<Format>> {
        proptest::collection::vec(format(), 0..6)
    }

    pub(crate) fn values() -> impl Strategy<Value = Vec<Option<Bytes>>> {
        proptest::collection::vec(proptest::option::of(bytes()), 0..6)
    }

    pub(crate) fn oids() -> impl Strategy<Value = Vec<Oid>> {
        proptest::collection::vec(any::<Oid>(), 0..6)
    }
}

/// Any frontend message with any field values, in the form
/// [`FrontendMessage::encode`] accepts.
#[cfg(test)]
pub(crate) fn arb_frontend_message() -> impl proptest::strategy::Strategy<Value = FrontendMessage> {
    use proptest::prelude::*;
    prop_oneof![
        bind::arb().prop_map(FrontendMessage::Bind),
        close::arb().prop_map(FrontendMessage::Close),
        strategy::bytes().prop_map(|data| FrontendMessage::CopyData(CopyData { data })),
        Just(FrontendMessage::CopyDone(CopyDone)),
        copy_fail::arb().prop_map(FrontendMessage::CopyFail),
        describe::arb().prop_map(FrontendMessage::Describe),
        execute::arb().prop_map(FrontendMessage::Execute),
        Just(FrontendMessage::Flush(Flush)),
        function_call::arb().prop_map(FrontendMessage::FunctionCall),
        parse::arb().prop_map(FrontendMessage::Parse),
        query::arb().prop_map(FrontendMessage::Query),
        Just(FrontendMessage::Sync(Sync)),
        Just(FrontendMessage::Terminate(Terminate)),
        password_message::arb().prop_map(FrontendMessage::PasswordMessage),
        sasl_initial_response::arb().prop_map(FrontendMessage::SaslInitialResponse),
        sasl_response::arb().prop_map(FrontendMessage::SaslResponse),
        gss_response::arb().prop_map(FrontendMessage::GssResponse),
        strategy::bytes().prop_map(|data| {
            FrontendMessage::AuthenticationResponse(AuthenticationResponse { data })
        }),
    ]
}

/// Any start-up packet with any field values.
#[cfg(test)]
pub(crate) fn arb_startup_packet() -> impl proptest::strategy::Strategy<Value = StartupPacket> {
    use proptest::prelude::*;
    prop_oneof![
        startup_message::arb().prop_map(StartupPacket::Startup),
        Just(StartupPacket::SslRequest(SslRequest)),
        Just(StartupPacket::GssEncRequest(GssEncRequest)),
        cancel_request::arb().prop_map(StartupPacket::CancelRequest),
    ]
}

#[cfg(test)]
mod tests;
