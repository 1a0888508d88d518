//! Password authentication: SCRAM-SHA-256 (with and without channel binding) and MD5.
//!
//! These are pure computations over byte strings. They read no clock, draw no random
//! numbers and do no I/O: the caller supplies the nonce and the TLS certificate hash, and
//! carries the resulting bytes in the SASLInitialResponse, SASLResponse and
//! PasswordMessage messages.
//!
//! * [`scram`]: the SCRAM client state machine, mechanism selection under a
//!   [`scram::ChannelBindingPolicy`], and the RFC 5929 `tls-server-end-point` rule.
//! * [`md5`]: the legacy `md5` password hash.
//!
//! # Passwords and SASLprep
//!
//! SCRAM passwords go through SASLprep (RFC 4013) the way PostgreSQL's server applies it
//! when it stores the verifier, since the client must hash the very same bytes:
//!
//! * a pure ASCII password is used unchanged (no Unicode work at all);
//! * a password that is not valid UTF-8, or that SASLprep rejects (prohibited or
//!   unassigned characters, bidirectional rule, nothing left after mapping), is used as
//!   raw bytes, as the server does;
//! * otherwise non-ASCII spaces become U+0020, "commonly mapped to nothing" characters
//!   (soft hyphen, zero-width joiners, ...) are removed and the result is normalized to
//!   NFKC. The checks run before normalization, as in PostgreSQL's `pg_saslprep`.
//!
//! Without the `std` feature the Unicode tables are not available: non-ASCII passwords
//! are then used as raw bytes, which matches the server only for passwords that
//! SASLprep leaves unchanged (already NFKC, no mapped characters).
//!
//! See PostgreSQL's "SASL Authentication" chapter:
//! <https://www.postgresql.org/docs/current/sasl-authentication.html>

use alloc::string::String;
use core::fmt;

pub mod md5;
mod saslprep;
pub mod scram;

/// Authentication failed, or cannot proceed safely.
///
/// The server-side variants (everything about server messages) mean the peer is
/// misbehaving or is not the server it claims to be; the connection must be abandoned.
/// Nothing in this type ever carries the password or keys derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// A [`scram::ScramClient`] method was called in the wrong step of the exchange, or
    /// after the exchange had already failed.
    OutOfOrder {
        /// The method that was called.
        call: &'static str,
    },
    /// The client nonce given to [`scram::ScramClient`] is empty, too long, or (for a
    /// printable nonce) contains a character outside `%x21-2B / %x2D-7E`.
    InvalidNonce,
    /// Channel binding was requested with an empty certificate hash. An empty binding
    /// would look like binding to the server while proving nothing.
    EmptyChannelBinding,
    /// A server message is longer than [`scram::MAX_SERVER_MESSAGE_LEN`]. Real servers
    /// send about a hundred bytes; refusing large ones keeps the client-final-message
    /// (which echoes the server nonce) and the parsing work small.
    MessageTooLarge {
        /// The SCRAM message (`server-first-message` or `server-final-message`).
        message: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The maximum accepted.
        max: usize,
    },
    /// The server-first-message starts with `m=`: a mandatory extension this client
    /// does not understand, so it must not continue (RFC 5802 section 5.1).
    MandatoryExtension,
    /// A required attribute is missing or not in its RFC 5802 position.
    MissingAttribute {
        /// The SCRAM message being parsed.
        message: &'static str,
        /// The attribute expected at that position, such as `"i="`.
        attribute: &'static str,
    },
    /// A SCRAM message violates the RFC 5802 grammar in some other way.
    Malformed {
        /// The SCRAM message being parsed.
        message: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The server nonce does not start with the client nonce: the answer does not
    /// belong to this exchange.
    NonceMismatch,
    /// The server nonce is only the client nonce, without the server's own part.
    NonceNotExtended,
    /// The server nonce contains a byte outside the printable range `%x21-7E`.
    NonceNotPrintable,
    /// The salt (`s=`) is not valid base64.
    InvalidSalt,
    /// The salt (`s=`) is empty.
    EmptySalt,
    /// The iteration count (`i=`) is not a positive decimal integer.
    InvalidIterationCount,
    /// The iteration count (`i=`) exceeds the configured maximum. Checked before any key
    /// derivation, so a hostile count costs nothing.
    TooManyIterations {
        /// The count the server asked for (saturated at `u64::MAX`).
        count: u64,
        /// The maximum in force.
        max: u32,
    },
    /// The server ended the exchange with `e=<server-error-value>`.
    ServerError {
        /// The server's error value, such as `invalid-proof` (invalid UTF-8 replaced
        /// with U+FFFD).
        value: String,
    },
    /// The server signature (`v=`) does not match the one derived from the password:
    /// the server does not know the password verifier, so it is not the real server.
    ServerSignatureMismatch,
    /// The server offered no SCRAM mechanism this client can use (under the channel
    /// binding policy and with the certificate hash at hand).
    NoScramMechanism {
        /// The mechanisms the server offered, comma-separated (shortened if very long).
        offered: String,
    },
    /// Channel binding is required but the server did not offer SCRAM-SHA-256-PLUS.
    ChannelBindingNotOffered,
    /// Channel binding is required but no certificate hash is available (no TLS, or a
    /// certificate whose signature algorithm defines no `tls-server-end-point` hash).
    ChannelBindingUnavailable,
    /// The server certificate's signature algorithm (Ed25519, Ed448, RSASSA-PSS, ...)
    /// has no `tls-server-end-point` hash defined by RFC 5929.
    UndefinedChannelBinding,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfOrder { call } => write!(f, "SCRAM step {call} called out of order"),
            Self::InvalidNonce => f.write_str("invalid SCRAM client nonce"),
            Self::EmptyChannelBinding => {
                f.write_str("channel binding requested with an empty certificate hash")
            }
            Self::MessageTooLarge { message, len, max } => write!(
                f,
                "SCRAM {message} of {len} bytes exceeds the maximum of {max} bytes"
            ),
            Self::MandatoryExtension => {
                f.write_str("SCRAM server-first-message requires an unsupported extension")
            }
            Self::MissingAttribute { message, attribute } => {
                write!(f, "SCRAM {message} lacks the {attribute} attribute")
            }
            Self::Malformed { message, reason } => {
                write!(f, "malformed SCRAM {message}: {reason}")
            }
            Self::NonceMismatch => {
                f.write_str("SCRAM server nonce does not start with the client nonce")
            }
            Self::NonceNotExtended => f.write_str("SCRAM server nonce has no server part"),
            Self::NonceNotPrintable => {
                f.write_str("SCRAM server nonce contains a non-printable character")
            }
            Self::InvalidSalt => f.write_str("SCRAM salt is not valid base64"),
            Self::EmptySalt => f.write_str("SCRAM salt is empty"),
            Self::InvalidIterationCount => {
                f.write_str("SCRAM iteration count is not a positive integer")
            }
            Self::TooManyIterations { count, max } => write!(
                f,
                "SCRAM iteration count {count} exceeds the maximum of {max}"
            ),
            Self::ServerError { value } => write!(f, "SCRAM server error: {value}"),
            Self::ServerSignatureMismatch => f.write_str(
                "SCRAM server signature does not match: the server does not know the password",
            ),
            Self::NoScramMechanism { offered } => write!(
                f,
                "no SASL mechanism offered by the server is usable (offered: {offered})"
            ),
            Self::ChannelBindingNotOffered => f.write_str(
                "channel binding is required but the server did not offer SCRAM-SHA-256-PLUS",
            ),
            Self::ChannelBindingUnavailable => f.write_str(
                "channel binding is required but no server certificate hash is available",
            ),
            Self::UndefinedChannelBinding => f.write_str(
                "the server certificate's signature algorithm defines no tls-server-end-point hash",
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn messages_are_lower_case_without_period() {
        let all = [
            AuthError::OutOfOrder {
                call: "handle_server_final",
            },
            AuthError::InvalidNonce,
            AuthError::EmptyChannelBinding,
            AuthError::MessageTooLarge {
                message: "server-first-message",
                len: 5000,
                max: 4096,
            },
            AuthError::MandatoryExtension,
            AuthError::MissingAttribute {
                message: "server-first-message",
                attribute: "i=",
            },
            AuthError::Malformed {
                message: "server-final-message",
                reason: "bad",
            },
            AuthError::NonceMismatch,
            AuthError::NonceNotExtended,
            AuthError::NonceNotPrintable,
            AuthError::InvalidSalt,
            AuthError::EmptySalt,
            AuthError::InvalidIterationCount,
            AuthError::TooManyIterations {
                count: 2_147_483_647,
                max: 100_000,
            },
            AuthError::ServerError {
                value: "invalid-proof".into(),
            },
            AuthError::ServerSignatureMismatch,
            AuthError::NoScramMechanism {
                offered: "FOO".into(),
            },
            AuthError::ChannelBindingNotOffered,
            AuthError::ChannelBindingUnavailable,
            AuthError::UndefinedChannelBinding,
        ];
        for e in all {
            let s = e.to_string();
            assert!(!s.ends_with('.'), "{s}");
            let first = s.chars().next().unwrap();
            // Acronyms (SCRAM) may open a message; ordinary words are lower case.
            assert!(first.is_lowercase() || s.starts_with("SCRAM"), "{s}");
        }
        assert_eq!(
            AuthError::TooManyIterations {
                count: 2_147_483_647,
                max: 100_000
            }
            .to_string(),
            "SCRAM iteration count 2147483647 exceeds the maximum of 100000"
        );
    }
}
