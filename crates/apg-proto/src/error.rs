//! Typed errors of the protocol core.
//!
//! [`ProtocolError`] is what the *peer* got wrong (bytes we cannot accept),
//! [`EncodeError`] and [`UsageError`] what the *caller* asked for that cannot be done.
//! These are small `Copy` enums carrying `&'static str` context, so the error path never
//! allocates (the shape of rustls' `InvalidMessage`). [`Error`] is what ends a
//! [`Connection`](crate::connection::Connection); [`DbError`] is an error the server
//! reported, which usually fails one request and leaves the connection usable.

use alloc::string::String;
use core::fmt;

use crate::auth::AuthError;
pub use crate::message::backend::ErrorFields;

/// The peer sent bytes that do not form a valid message.
///
/// Any of these means the byte stream can no longer be trusted: a connection that
/// sees one must be abandoned (PostgreSQL's protocol chapter, "Messaging Overview").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A message type byte that is not defined for this direction.
    UnknownMessageType {
        /// The type byte received.
        tag: u8,
    },
    /// A length field below its minimum (4 for a message, 8 for a startup packet).
    InvalidLength {
        /// The message (or packet) type byte, `0` for untagged startup packets.
        tag: u8,
        /// The length as received.
        len: u32,
    },
    /// A message whose declared length exceeds the configured maximum.
    ///
    /// Reported before any buffer is reserved for the body.
    MessageTooLarge {
        /// The message type byte, `0` for untagged startup packets.
        tag: u8,
        /// The declared length, including the length field itself.
        len: usize,
        /// The maximum in force.
        max: usize,
    },
    /// A field runs past the end of the message body.
    Truncated {
        /// The message being decoded.
        message: &'static str,
    },
    /// Bytes are left over after the last field of a message.
    TrailingData {
        /// The message being decoded.
        message: &'static str,
    },
    /// A string field has no terminating NUL inside the message.
    MissingNul {
        /// The message being decoded.
        message: &'static str,
    },
    /// A string field is not valid UTF-8.
    InvalidUtf8 {
        /// The message being decoded.
        message: &'static str,
    },
    /// A field holds a value outside its defined range (a negative count, an unknown
    /// format code, a length below -1, an unknown transaction status, ...).
    InvalidValue {
        /// The message being decoded.
        message: &'static str,
        /// The field that is out of range.
        field: &'static str,
    },
    /// An Authentication message with a request code this crate does not know.
    UnknownAuthenticationCode {
        /// The code received.
        code: u32,
    },
    /// A message that is valid in itself but not in the connection's current state
    /// (a DataRow with no query running, a second NegotiateProtocolVersion, ...).
    UnexpectedMessage {
        /// The message received.
        message: &'static str,
        /// What the connection was doing.
        state: &'static str,
    },
    /// A DataRow whose number of fields differs from the columns its RowDescription
    /// announced.
    ColumnCountMismatch {
        /// Columns announced by the RowDescription.
        expected: u16,
        /// Fields in the DataRow.
        got: u16,
    },
    /// The server's answer to SSLRequest was neither `S` nor `N`.
    InvalidSslResponse {
        /// The byte received.
        byte: u8,
    },
    /// Bytes arrived after the server's `S` answer to SSLRequest, before the TLS handshake.
    ///
    /// They did not come through TLS, so they could be injected by a man in the middle
    /// (CVE-2021-23222); the connection is refused.
    DataAfterSslResponse,
    /// A NegotiateProtocolVersion that names a version or option the client did not ask
    /// for, or a version below the configured minimum.
    InvalidProtocolNegotiation {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A startup packet whose request code is neither a protocol version nor one of the
    /// special request codes (SSLRequest, GSSENCRequest, CancelRequest).
    UnknownStartupCode {
        /// The code received.
        code: u32,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnknownMessageType { tag } => {
                write!(f, "unknown message type {}", DisplayTag(tag))
            }
            Self::InvalidLength { tag, len } => {
                write!(f, "invalid length {len} for message {}", DisplayTag(tag))
            }
            Self::MessageTooLarge { tag, len, max } => write!(
                f,
                "message {} of {len} bytes exceeds the maximum of {max} bytes",
                DisplayTag(tag)
            ),
            Self::Truncated { message } => write!(f, "{message} message is truncated"),
            Self::TrailingData { message } => {
                write!(f, "{message} message has trailing bytes")
            }
            Self::MissingNul { message } => {
                write!(
                    f,
                    "{message} message has a string without its NUL terminator"
                )
            }
            Self::InvalidUtf8 { message } => {
                write!(f, "{message} message has a string that is not valid UTF-8")
            }
            Self::InvalidValue { message, field } => {
                write!(f, "{message} message has an invalid {field}")
            }
            Self::UnknownAuthenticationCode { code } => {
                write!(f, "unknown authentication request code {code}")
            }
            Self::UnknownStartupCode { code } => {
                write!(f, "unknown startup packet code {code}")
            }
            Self::UnexpectedMessage { message, state } => {
                write!(f, "unexpected {message} message while {state}")
            }
            Self::ColumnCountMismatch { expected, got } => write!(
                f,
                "DataRow has {got} fields but the RowDescription announced {expected} columns"
            ),
            Self::InvalidSslResponse { byte } => {
                write!(f, "invalid response {} to SSLRequest", DisplayTag(byte))
            }
            Self::DataAfterSslResponse => f.write_str(
                "unexpected data after the server's SSL response (possible man-in-the-middle)",
            ),
            Self::InvalidProtocolNegotiation { reason } => {
                write!(f, "invalid protocol version negotiation: {reason}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}

/// A message the caller asked to send cannot be encoded.
///
/// The send buffer is left exactly as it was before the failed call: nothing of the
/// rejected message is ever written, so earlier pipelined messages stay intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded message would exceed what the server accepts (or what its 32-bit
    /// length field can express). Guards against length wrap-around, which would let
    /// the server read attacker-controlled bytes as new messages.
    MessageTooLarge {
        /// The message being encoded.
        message: &'static str,
        /// The size the message would have had, in bytes.
        len: usize,
        /// The maximum accepted.
        max: usize,
    },
    /// A single value (a parameter, a data field) is longer than a 32-bit length
    /// field can express.
    ValueTooLarge {
        /// The message being encoded.
        message: &'static str,
        /// The length of the value, in bytes.
        len: usize,
    },
    /// More items than the protocol's 16-bit count fields allow (65 535 parameters,
    /// formats or columns).
    TooManyValues {
        /// The message being encoded.
        message: &'static str,
        /// The number of items given.
        count: usize,
    },
    /// A string that the protocol terminates with NUL contains a NUL byte, which
    /// would make the server read the rest as another field.
    NulInString {
        /// The message being encoded.
        message: &'static str,
    },
    /// A field holds a value the protocol does not allow (for example a cancel key
    /// shorter than 4 or longer than 256 bytes).
    InvalidValue {
        /// The message being encoded.
        message: &'static str,
        /// The field that is out of range.
        field: &'static str,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::MessageTooLarge { message, len, max } => write!(
                f,
                "{message} message of {len} bytes exceeds the maximum of {max} bytes"
            ),
            Self::ValueTooLarge { message, len } => write!(
                f,
                "value of {len} bytes is too large to transmit in a {message} message"
            ),
            Self::TooManyValues { message, count } => write!(
                f,
                "{count} values exceed the limit of 65535 in a {message} message"
            ),
            Self::NulInString { message } => {
                write!(f, "{message} message string contains a NUL byte")
            }
            Self::InvalidValue { message, field } => {
                write!(f, "{message} message has an invalid {field}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EncodeError {}

/// The caller broke the connection's contract; nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// The connection is closed (terminated, failed or lost); it takes no more requests.
    Closed,
    /// The request id is not a COPY FROM STDIN whose data is still being sent.
    NotCopyingIn,
    /// A COPY FROM STDIN cannot start while another one is still taking data.
    CopyInProgress,
    /// A request cannot be encoded.
    Encode(EncodeError),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("connection is closed"),
            Self::NotCopyingIn => f.write_str("request is not sending COPY data"),
            Self::CopyInProgress => {
                f.write_str("another COPY FROM STDIN is still taking data on this connection")
            }
            Self::Encode(e) => e.fmt(f),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UsageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Encode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<EncodeError> for UsageError {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

/// An error reported by the server in an ErrorResponse.
///
/// Most fail one request and leave the session usable; those with severity `FATAL` or
/// `PANIC` also end the session ([`DbError::is_fatal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    fields: ErrorFields,
}

impl DbError {
    /// Wraps the fields of an ErrorResponse.
    pub fn new(fields: ErrorFields) -> Self {
        Self { fields }
    }

    /// All fields, including the ones without an accessor here.
    pub fn fields(&self) -> &ErrorFields {
        &self.fields
    }

    /// The non-localized severity (`ERROR`, `FATAL`, `PANIC`), falling back to the
    /// localized one for servers that omit it (PgBouncer, PostgreSQL before 9.6).
    pub fn severity(&self) -> &str {
        self.fields.severity().unwrap_or("ERROR")
    }

    /// The SQLSTATE code, e.g. `42P01`.
    pub fn code(&self) -> &str {
        self.fields.code().unwrap_or("")
    }

    /// The primary human-readable message.
    pub fn message(&self) -> &str {
        self.fields.message().unwrap_or("")
    }

    /// Whether the server ends the session after this error.
    pub fn is_fatal(&self) -> bool {
        matches!(self.severity(), "FATAL" | "PANIC")
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity(), self.message())?;
        if !self.code().is_empty() {
            write!(f, " (SQLSTATE {})", self.code())?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DbError {}

/// Why a [`Connection`](crate::connection::Connection) ended.
///
/// Once a connection has failed it keeps this error (errors are sticky); bytes already
/// queued, such as a Terminate, can still be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The server sent bytes that violate the protocol.
    Protocol(ProtocolError),
    /// The server ended the session with an error: a failed start-up (wrong password,
    /// unknown database), or a FATAL error such as an administrator shutdown.
    Db(DbError),
    /// The SCRAM exchange failed (bad server nonce or signature, hostile parameters).
    Auth(AuthError),
    /// The server asked for an authentication method this client does not support
    /// (Kerberos, GSSAPI, SSPI, SCM credentials).
    UnsupportedAuthentication {
        /// The method the server asked for.
        method: &'static str,
    },
    /// The server asked for a password and none was configured.
    PasswordRequired,
    /// The configuration requires channel binding, and the server's choice of
    /// authentication would not provide it.
    ChannelBindingRequired {
        /// What the server offered instead.
        offered: &'static str,
    },
    /// The server asked for an authentication method that `require_auth` does not
    /// allow, or let the client in without authentication when `none` is not allowed.
    /// Nothing of the password was sent.
    AuthRequirementFailed {
        /// The `require_auth` setting as written.
        required: String,
        /// What the server did, in libpq's words ("server requested a cleartext
        /// password").
        reason: &'static str,
    },
    /// The configuration requires TLS and the server refused it.
    TlsRefused,
    /// The server answered SSLRequest with an ErrorResponse. Its text came from an
    /// unauthenticated peer before encryption, so it is not shown (CVE-2024-10977).
    SslRequestRejected,
    /// The connection was closed before the server finished answering: the outcome of
    /// requests in flight is unknown (a statement may or may not have committed).
    ConnectionLost,
    /// A COPY FROM STDIN was started by a request that did not declare it (use a
    /// COPY-in request) while other requests were already sent behind it; the server
    /// reads those as COPY data, so the stream cannot be recovered.
    UnexpectedCopyIn,
    /// The connection was closed by [`Connection::terminate`](crate::connection::Connection::terminate).
    Terminated,
    /// The caller broke the contract.
    Usage(UsageError),
    /// A message could not be encoded.
    Encode(EncodeError),
    /// A configuration value is invalid.
    Config {
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Db(e) => e.fmt(f),
            Self::Auth(e) => write!(f, "authentication failed: {e}"),
            Self::UnsupportedAuthentication { method } => {
                write!(f, "server requested unsupported authentication method {method}")
            }
            Self::PasswordRequired => {
                f.write_str("server requested a password but none was configured")
            }
            Self::ChannelBindingRequired { offered } => write!(
                f,
                "channel binding is required but the server offered {offered}"
            ),
            Self::AuthRequirementFailed { required, reason } => write!(
                f,
                "authentication method requirement \"{required}\" failed: {reason}"
            ),
            Self::TlsRefused => f.write_str("TLS is required but the server refused it"),
            Self::SslRequestRejected => {
                f.write_str("server answered the SSL request with an error (text withheld: it was not sent over TLS)")
            }
            Self::ConnectionLost => {
                f.write_str("connection lost before the server finished responding")
            }
            Self::UnexpectedCopyIn => f.write_str(
                "COPY FROM STDIN started by a query that was pipelined with others; use a COPY-in request",
            ),
            Self::Terminated => f.write_str("connection terminated"),
            Self::Usage(e) => e.fmt(f),
            Self::Encode(e) => e.fmt(f),
            Self::Config { reason } => write!(f, "invalid configuration: {reason}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Protocol(e) => Some(e),
            Self::Db(e) => Some(e),
            Self::Auth(e) => Some(e),
            Self::Usage(e) => Some(e),
            Self::Encode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

/// Shows a message type byte as a character when it is printable ASCII.
struct DisplayTag(u8);

impl fmt::Display for DisplayTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("(startup packet)"),
            t if t.is_ascii_graphic() => write!(f, "'{}'", t as char),
            t => write!(f, "0x{t:02x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn messages_are_lower_case_without_period() {
        let e = ProtocolError::MessageTooLarge {
            tag: b'D',
            len: 10,
            max: 5,
        };
        assert_eq!(
            e.to_string(),
            "message 'D' of 10 bytes exceeds the maximum of 5 bytes"
        );
        assert_eq!(
            ProtocolError::UnknownMessageType { tag: 0x01 }.to_string(),
            "unknown message type 0x01"
        );
        assert_eq!(
            EncodeError::NulInString { message: "Query" }.to_string(),
            "Query message string contains a NUL byte"
        );
    }
}
