//! Typed errors of the protocol core.
//!
//! Two directions, two types: [`ProtocolError`] is what the *peer* got wrong (bytes we
//! cannot accept), [`EncodeError`] is what the *caller* asked for that cannot be put on
//! the wire. Both are small `Copy` enums carrying `&'static str` context, so the error
//! path never allocates (the shape of rustls' `InvalidMessage`).

use core::fmt;

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
                write!(f, "{message} message has a string without its NUL terminator")
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
