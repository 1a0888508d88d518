//! StartupMessage: the first packet of a session, naming the protocol version and the
//! session parameters.
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-STARTUPMESSAGE>

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ProtocolError};
use crate::message::{put_cstr, Message, Reader};

/// A protocol version as carried in a StartupMessage (and NegotiateProtocolVersion).
///
/// The wire form is one Int32: the major version in the high 16 bits, the minor in the
/// low 16. Versions order by major, then minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    /// The major version; 3 for every protocol this crate speaks.
    pub major: u16,
    /// The minor version.
    pub minor: u16,
}

impl ProtocolVersion {
    /// Protocol 3.0, spoken by every server since PostgreSQL 7.4 and still what libpq
    /// requests by default.
    pub const V3_0: Self = Self { major: 3, minor: 0 };
    /// Protocol 3.2 (PostgreSQL 18): variable-length cancel keys. 3.1 was skipped
    /// because some middleware wrongly claimed to support it.
    pub const V3_2: Self = Self { major: 3, minor: 2 };

    /// The Int32 code used on the wire: `major << 16 | minor`.
    pub const fn as_code(self) -> u32 {
        let [a, b] = self.major.to_be_bytes();
        let [c, d] = self.minor.to_be_bytes();
        u32::from_be_bytes([a, b, c, d])
    }

    /// Splits a wire code into major and minor version.
    pub const fn from_code(code: u32) -> Self {
        let [a, b, c, d] = code.to_be_bytes();
        Self {
            major: u16::from_be_bytes([a, b]),
            minor: u16::from_be_bytes([c, d]),
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// StartupMessage (untagged): the protocol version the client asks for and the session
/// parameters (`user` is required; `database`, `options`, `replication`,
/// `application_name`, any run-time setting, and `_pq_.` protocol options may follow).
///
/// The parameter list ends with an empty name, so a parameter with an empty name cannot
/// be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupMessage {
    /// The protocol version requested. The server answers with NegotiateProtocolVersion
    /// if it only supports an older minor version.
    pub version: ProtocolVersion,
    /// Parameter names and values, in the order they are sent.
    pub params: Vec<(String, String)>,
}

impl StartupMessage {
    /// The value of the first parameter called `name`, if any.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Message for StartupMessage {
    const TAG: Option<u8> = None;
    const NAME: &'static str = "StartupMessage";

    fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u32(self.version.as_code());
        for (name, value) in &self.params {
            if name.is_empty() {
                // An empty name is the list terminator: the server would read the value
                // as the start of the next packet.
                return Err(EncodeError::InvalidValue {
                    message: Self::NAME,
                    field: "parameter name",
                });
            }
            put_cstr(buf, name.as_bytes(), Self::NAME)?;
            put_cstr(buf, value.as_bytes(), Self::NAME)?;
        }
        buf.put_u8(0);
        Ok(())
    }

    fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(body, Self::NAME);
        let code = r.u32()?;
        let version = ProtocolVersion::from_code(code);
        if version.major != 3 {
            return Err(ProtocolError::UnknownStartupCode { code });
        }
        let mut params = Vec::new();
        loop {
            let name = r.cstr()?;
            if name.is_empty() {
                break;
            }
            let value = r.cstr()?;
            params.push((name, value));
        }
        r.finish()?;
        Ok(Self { version, params })
    }
}

#[cfg(test)]
pub(crate) fn arb() -> impl proptest::strategy::Strategy<Value = StartupMessage> {
    use super::strategy::cstring;
    use proptest::prelude::*;
    (
        any::<u16>(),
        proptest::collection::vec(("[^\\x00]{1,12}", cstring()), 0..5),
    )
        .prop_map(|(minor, params)| StartupMessage {
            version: ProtocolVersion { major: 3, minor },
            params,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::test_util::roundtrip;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;

    fn msg(version: ProtocolVersion, params: &[(&str, &str)]) -> StartupMessage {
        StartupMessage {
            version,
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn version_codes() {
        assert_eq!(ProtocolVersion::V3_0.as_code(), 196_608);
        assert_eq!(ProtocolVersion::V3_2.as_code(), 196_610);
        assert_eq!(
            ProtocolVersion::from_code(0x0003_270f),
            ProtocolVersion {
                major: 3,
                minor: 9999
            }
        );
        assert!(ProtocolVersion::V3_0 < ProtocolVersion::V3_2);
        assert_eq!(ProtocolVersion::V3_2.to_string(), "3.2");
    }

    #[test]
    fn bytes() {
        // Int32 length 18, Int32 196608 (3.0), "user\0", "bob\0", terminating NUL.
        roundtrip(
            &msg(ProtocolVersion::V3_0, &[("user", "bob")]),
            Some(b"\0\0\0\x12\0\x03\0\0user\0bob\0\0"),
        );
        // Int32 length 9, Int32 196610 (3.2), terminator only.
        roundtrip(
            &msg(ProtocolVersion::V3_2, &[]),
            Some(b"\0\0\0\x09\0\x03\0\x02\0"),
        );
        // Int32 length 27, Int32 196608, "user\0" "u\0" "database\0" "d\0", NUL.
        roundtrip(
            &msg(ProtocolVersion::V3_0, &[("user", "u"), ("database", "d")]),
            Some(b"\0\0\0\x1b\0\x03\0\0user\0u\0database\0d\0\0"),
        );
    }

    #[test]
    fn param_lookup() {
        let m = msg(ProtocolVersion::V3_0, &[("user", "u"), ("database", "d")]);
        assert_eq!(m.param("database"), Some("d"));
        assert_eq!(m.param("options"), None);
    }

    #[test]
    fn encode_refuses_empty_name_and_nul() {
        let mut buf = BytesMut::from(&b"prior"[..]);
        assert_eq!(
            msg(ProtocolVersion::V3_0, &[("user", "u"), ("", "x")]).encode(&mut buf),
            Err(EncodeError::InvalidValue {
                message: "StartupMessage",
                field: "parameter name"
            })
        );
        assert_eq!(
            msg(ProtocolVersion::V3_0, &[("user", "a\0b")]).encode(&mut buf),
            Err(EncodeError::NulInString {
                message: "StartupMessage"
            })
        );
        assert_eq!(&buf[..], b"prior");
    }

    #[test]
    fn malformed() {
        let decode = |b: &'static [u8]| StartupMessage::decode(Bytes::from_static(b));
        // Not a 3.x code.
        assert_eq!(
            decode(b"\0\x02\0\0\0"),
            Err(ProtocolError::UnknownStartupCode { code: 0x0002_0000 })
        );
        // Truncated code.
        assert_eq!(
            decode(b"\0\x03\0"),
            Err(ProtocolError::Truncated {
                message: "StartupMessage"
            })
        );
        // No terminator after the last pair.
        assert_eq!(
            decode(b"\0\x03\0\0user\0bob\0"),
            Err(ProtocolError::MissingNul {
                message: "StartupMessage"
            })
        );
        // A name without its value.
        assert_eq!(
            decode(b"\0\x03\0\0user\0"),
            Err(ProtocolError::MissingNul {
                message: "StartupMessage"
            })
        );
        // Bytes after the terminator.
        assert_eq!(
            decode(b"\0\x03\0\0user\0bob\0\0x"),
            Err(ProtocolError::TrailingData {
                message: "StartupMessage"
            })
        );
        assert_eq!(
            decode(b"\0\x03\0\0user\0\xff\0\0"),
            Err(ProtocolError::InvalidUtf8 {
                message: "StartupMessage"
            })
        );
    }

    #[test]
    fn greased_minor_versions_decode() {
        let m = StartupMessage::decode(Bytes::from_static(b"\0\x03\x27\x0f\0")).unwrap();
        assert_eq!(m.version.minor, 9999);
        assert_eq!(m.params, vec![]);
    }

    proptest! {
        #[test]
        fn roundtrips(m in arb()) {
            roundtrip(&m, None);
        }
    }
}
