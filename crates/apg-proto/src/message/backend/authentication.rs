//! Authentication: the server's authentication requests, and their conclusion.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-AUTHENTICATIONOK>
//! (and the AuthenticationKerberosV5 ... AuthenticationSASLFinal entries that follow it)

use alloc::string::String;
use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, Message, Reader};

/// Authentication (`R`): one type byte, eleven messages told apart by an Int32 code.
///
/// Every variant but [`Authentication::Ok`] asks the client for something; `Ok` ends
/// the authentication exchange. Which requests a client is willing to answer (for
/// example never a cleartext password over an unencrypted connection) is decided by
/// the connection, not here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Authentication {
    /// Code 0, AuthenticationOk: authentication succeeded.
    Ok,
    /// Code 2, AuthenticationKerberosV5: Kerberos V5, no longer supported by PostgreSQL.
    KerberosV5,
    /// Code 3, AuthenticationCleartextPassword: send the password in clear text.
    CleartextPassword,
    /// Code 5, AuthenticationMD5Password: send the password hashed with MD5 and `salt`.
    Md5Password {
        /// The salt to hash the password with.
        salt: [u8; 4],
    },
    /// Code 6, AuthenticationSCMCredential: send a credentials message on the Unix
    /// socket (no longer supported by PostgreSQL).
    ScmCredential,
    /// Code 7, AuthenticationGSS: start a GSSAPI exchange.
    Gss,
    /// Code 8, AuthenticationGSSContinue: GSSAPI or SSPI data for the client.
    GssContinue {
        /// The token, as a slice of the receive buffer.
        data: Bytes,
    },
    /// Code 9, AuthenticationSSPI: start an SSPI exchange.
    Sspi,
    /// Code 10, AuthenticationSASL: start a SASL exchange with one of these mechanisms.
    Sasl {
        /// The mechanisms the server accepts, in its order of preference (for example
        /// `SCRAM-SHA-256-PLUS`, `SCRAM-SHA-256`).
        mechanisms: Vec<String>,
    },
    /// Code 11, AuthenticationSASLContinue: a SASL challenge (for SCRAM, the
    /// server-first-message).
    SaslContinue {
        /// The mechanism's data, as a slice of the receive buffer.
        data: Bytes,
    },
    /// Code 12, AuthenticationSASLFinal: the SASL outcome (for SCRAM, the
    /// server-final-message, whose signature the client must verify before it accepts
    /// the AuthenticationOk that follows).
    SaslFinal {
        /// The mechanism's data, as a slice of the receive buffer.
        data: Bytes,
    },
}

impl Authentication {
    /// The Int32 request code that identifies the variant on the wire.
    pub const fn code(&self) -> u32 {
        match self {
            Self::Ok => 0,
            Self::KerberosV5 => 2,
            Self::CleartextPassword => 3,
            Self::Md5Password { .. } => 5,
            Self::ScmCredential => 6,
            Self::Gss => 7,
            Self::GssContinue { .. } => 8,
            Self::Sspi => 9,
            Self::Sasl { .. } => 10,
            Self::SaslContinue { .. } => 11,
            Self::SaslFinal { .. } => 12,
        }
    }
}

impl Message for Authentication {
    const TAG: Option<u8> = Some(b'R');
    const NAME: &'static str = "Authentication";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u32(self.code());
        match self {
            Self::Ok
            | Self::KerberosV5
            | Self::CleartextPassword
            | Self::ScmCredential
            | Self::Gss
            | Self::Sspi => {}
            Self::Md5Password { salt } => buf.put_slice(salt),
            Self::GssContinue { data } | Self::SaslContinue { data } | Self::SaslFinal { data } => {
                buf.put_slice(data);
            }
            Self::Sasl { mechanisms } => {
                for name in mechanisms {
                    // An empty name is the list terminator: it cannot be a mechanism.
                    if name.is_empty() {
                        return Err(EncodeError::InvalidValue {
                            message: Self::NAME,
                            field: "SASL mechanism name",
                        });
                    }
                    put_cstr(buf, name.as_bytes(), Self::NAME)?;
                }
                buf.put_u8(0);
            }
        }
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let auth = match r.u32()? {
            0 => Self::Ok,
            2 => Self::KerberosV5,
            3 => Self::CleartextPassword,
            5 => Self::Md5Password {
                salt: r.u32()?.to_be_bytes(),
            },
            6 => Self::ScmCredential,
            7 => Self::Gss,
            8 => Self::GssContinue { data: r.rest() },
            9 => Self::Sspi,
            10 => {
                // Names until an empty one. Each costs at least two bytes, so the list
                // is bounded by the body; no count is trusted.
                let mut mechanisms = Vec::new();
                loop {
                    let name = r.cstr()?;
                    if name.is_empty() {
                        break;
                    }
                    mechanisms.push(name);
                }
                Self::Sasl { mechanisms }
            }
            11 => Self::SaslContinue { data: r.rest() },
            12 => Self::SaslFinal { data: r.rest() },
            code => return Err(ProtocolError::UnknownAuthenticationCode { code }),
        };
        r.finish()?;
        Ok(auth)
    }
}

#[cfg(test)]
pub(super) fn arb() -> impl proptest::strategy::Strategy<Value = Authentication> {
    // `prop_oneof!` with many arms expands to `vec![...]`.
    use alloc::vec;
    use proptest::prelude::*;

    let data = || proptest::collection::vec(any::<u8>(), 0..48).prop_map(Bytes::from);
    prop_oneof![
        Just(Authentication::Ok),
        Just(Authentication::KerberosV5),
        Just(Authentication::CleartextPassword),
        any::<[u8; 4]>().prop_map(|salt| Authentication::Md5Password { salt }),
        Just(Authentication::ScmCredential),
        Just(Authentication::Gss),
        data().prop_map(|data| Authentication::GssContinue { data }),
        Just(Authentication::Sspi),
        proptest::collection::vec("[^\0]{1,20}", 0..4)
            .prop_map(|mechanisms| Authentication::Sasl { mechanisms }),
        data().prop_map(|data| Authentication::SaslContinue { data }),
        data().prop_map(|data| Authentication::SaslFinal { data }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn bytes_without_payload() {
        // 'R', Int32 length 8, Int32 code.
        for (auth, code) in [
            (Authentication::Ok, 0),
            (Authentication::KerberosV5, 2),
            (Authentication::CleartextPassword, 3),
            (Authentication::ScmCredential, 6),
            (Authentication::Gss, 7),
            (Authentication::Sspi, 9),
        ] {
            roundtrip(&auth, Some(&[b'R', 0, 0, 0, 8, 0, 0, 0, code][..]));
        }
    }

    #[test]
    fn md5_password() {
        // 'R', Int32 length 12, Int32 5, Byte4 salt.
        roundtrip(
            &Authentication::Md5Password {
                salt: [0xde, 0xad, 0xbe, 0xef],
            },
            Some(b"R\0\0\0\x0c\0\0\0\x05\xde\xad\xbe\xef"),
        );
    }

    #[test]
    fn sasl() {
        // 'R', Int32 length 42, Int32 10, then String names ending with an empty one.
        roundtrip(
            &Authentication::Sasl {
                mechanisms: vec!["SCRAM-SHA-256-PLUS".into(), "SCRAM-SHA-256".into()],
            },
            Some(b"R\0\0\0\x2a\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"),
        );
        // An empty list is just the terminator.
        roundtrip(
            &Authentication::Sasl { mechanisms: vec![] },
            Some(b"R\0\0\0\x09\0\0\0\x0a\0"),
        );
    }

    #[test]
    fn continuations_carry_the_rest_of_the_body() {
        // 'R', Int32 length, Int32 code, Byte(n) data.
        let data = Bytes::from_static(b"r=abc,s=c2FsdA==,i=4096");
        roundtrip(
            &Authentication::SaslContinue { data },
            Some(b"R\0\0\0\x1f\0\0\0\x0br=abc,s=c2FsdA==,i=4096"),
        );
        roundtrip(
            &Authentication::SaslFinal {
                data: Bytes::from_static(b"v=xyz"),
            },
            Some(b"R\0\0\0\x0d\0\0\0\x0cv=xyz"),
        );
        roundtrip(
            &Authentication::GssContinue {
                data: Bytes::from_static(b"\x60\x01"),
            },
            Some(b"R\0\0\0\x0a\0\0\0\x08\x60\x01"),
        );
        roundtrip(
            &Authentication::GssContinue { data: Bytes::new() },
            Some(b"R\0\0\0\x08\0\0\0\x08"),
        );
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| Authentication::decode(Bytes::from_static(b));
        let truncated = Err(ProtocolError::Truncated {
            message: "Authentication",
        });
        assert_eq!(decode(b""), truncated);
        assert_eq!(decode(b"\0\0\0"), truncated);
        assert_eq!(decode(b"\0\0\0\x05\x01\x02\x03"), truncated);
        assert_eq!(
            decode(b"\0\0\0\x04"),
            Err(ProtocolError::UnknownAuthenticationCode { code: 4 })
        );
        assert_eq!(
            decode(b"\0\0\0\x0d"),
            Err(ProtocolError::UnknownAuthenticationCode { code: 13 })
        );
        assert_eq!(
            decode(b"\xff\xff\xff\xff"),
            Err(ProtocolError::UnknownAuthenticationCode { code: u32::MAX })
        );
        let trailing = Err(ProtocolError::TrailingData {
            message: "Authentication",
        });
        assert_eq!(decode(b"\0\0\0\0\0"), trailing);
        assert_eq!(decode(b"\0\0\0\x05abcde"), trailing);
        assert_eq!(decode(b"\0\0\0\x0aSCRAM-SHA-256\0\0x"), trailing);
        // The list must end with an empty name inside the body.
        let missing_nul = Err(ProtocolError::MissingNul {
            message: "Authentication",
        });
        assert_eq!(decode(b"\0\0\0\x0aSCRAM-SHA-256\0"), missing_nul);
        assert_eq!(decode(b"\0\0\0\x0aSCRAM-SHA-256"), missing_nul);
        assert_eq!(decode(b"\0\0\0\x0a"), missing_nul);
        assert_eq!(
            decode(b"\0\0\0\x0a\xff\0\0"),
            Err(ProtocolError::InvalidUtf8 {
                message: "Authentication"
            })
        );
    }

    #[test]
    fn encode_refuses_unencodable_mechanisms() {
        let mut buf = BytesMut::new();
        let empty = Authentication::Sasl {
            mechanisms: vec!["SCRAM-SHA-256".into(), String::new()],
        };
        assert_eq!(
            empty.encode(&mut buf),
            Err(EncodeError::InvalidValue {
                message: "Authentication",
                field: "SASL mechanism name"
            })
        );
        let nul = Authentication::Sasl {
            mechanisms: vec!["A\0B".into()],
        };
        assert_eq!(
            nul.encode(&mut buf),
            Err(EncodeError::NulInString {
                message: "Authentication"
            })
        );
        assert!(buf.is_empty());
    }

    proptest! {
        #[test]
        fn roundtrips(auth in arb()) {
            roundtrip(&auth, None);
        }
    }
}
