//! TLS between the socket and the protocol core (cargo feature `tls`).
//!
//! The core only negotiates (SSLRequest, the one-byte answer, `Event::StartTls`); this
//! module runs the handshake with rustls, checks the certificate as `sslmode` asks and
//! computes the `tls-server-end-point` channel binding value for SCRAM-SHA-256-PLUS.
//! [`TlsStream`] is then the byte stream the driver reads and writes, on any runtime.

use apg_proto::auth::scram::SignatureHash;

#[cfg(feature = "tls")]
mod imp;

#[cfg(feature = "tls")]
pub(crate) use imp::TlsSettings;

#[cfg(not(feature = "tls"))]
mod disabled {
    use crate::config::{Config, SslMode, SslRootCert};
    use crate::error::Error;
    use crate::runtime::AsyncStream;

    /// Never built without the `tls` feature: connections are plain text.
    #[derive(Debug)]
    pub(crate) enum TlsSettings {}

    impl TlsSettings {
        /// Plain text when TLS is optional; an error when it is required.
        pub(crate) fn from_config(config: &Config) -> Result<Option<Self>, Error> {
            let system = matches!(config.ssl_root_cert, Some(SslRootCert::System));
            match config.ssl_mode {
                SslMode::Disable | SslMode::Allow => Ok(None),
                SslMode::Prefer if !system => Ok(None),
                _ => Err(Error::tls(
                    "TLS is required but apg was built without its `tls` feature",
                )),
            }
        }

        pub(crate) fn direct(&self) -> bool {
            match *self {}
        }

        pub(crate) fn required(&self) -> bool {
            match *self {}
        }

        pub(crate) async fn handshake(
            &self,
            _stream: Box<dyn AsyncStream>,
            _host: &str,
        ) -> Result<(Box<dyn AsyncStream>, Option<Vec<u8>>), Error> {
            match *self {}
        }
    }
}

#[cfg(not(feature = "tls"))]
pub(crate) use disabled::TlsSettings;

/// The hash function of a DER certificate's `signatureAlgorithm`, which RFC 5929
/// uses for `tls-server-end-point` (the core computes the value, upgrading MD5 and
/// SHA-1 to SHA-256). [`SignatureHash::Undefined`] for algorithms without a single
/// hash (Ed25519, Ed448, RSASSA-PSS), unknown ones and malformed certificates:
/// channel binding is then not offered, and `channel_binding=require` fails.
///
/// `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE {
/// algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }, signature BIT STRING }`:
/// two headers down, one element skipped, one OID read; every length is checked
/// against what is left, so no input can read out of bounds.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) fn signature_hash(cert: &[u8]) -> SignatureHash {
    signature_algorithm(cert)
        .and_then(|(oid, params)| {
            if oid == RSASSA_PSS {
                pss_hash(params)
            } else {
                Some(hash_of(oid))
            }
        })
        .unwrap_or(SignatureHash::Undefined)
}

/// 1.2.840.113549.1.1.10
const RSASSA_PSS: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];

/// The `signatureAlgorithm` OID and what follows it (the parameters).
fn signature_algorithm(cert: &[u8]) -> Option<(&[u8], &[u8])> {
    let (certificate, _) = der_element(cert, 0x30)?;
    let (_tbs, rest) = der_element(certificate, 0x30)?;
    let (algorithm, _) = der_element(rest, 0x30)?;
    der_element(algorithm, 0x06)
}

/// RSASSA-PSS: the hash is `hashAlgorithm` of `RSASSA-PSS-params` (RFC 4055:
/// `SEQUENCE { hashAlgorithm [0] EXPLICIT AlgorithmIdentifier DEFAULT sha1, ... }`),
/// which is what PostgreSQL and libpq use (OpenSSL's X509_get_signature_info, since
/// the fix for bug #17760). `None` for malformed or unknown parameters.
fn pss_hash(params: &[u8]) -> Option<SignatureHash> {
    const SHA1: [u8; 5] = [0x2b, 0x0e, 0x03, 0x02, 0x1a];
    const SHA2: [u8; 8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];
    let (fields, _) = der_element(params, 0x30)?;
    let Some((explicit, _)) = der_element(fields, 0xa0) else {
        return Some(SignatureHash::Sha1);
    };
    let (algorithm, _) = der_element(explicit, 0x30)?;
    let (oid, _) = der_element(algorithm, 0x06)?;
    match oid {
        _ if oid == SHA1 => Some(SignatureHash::Sha1),
        [head @ .., last] if head == SHA2 => match last {
            1 => Some(SignatureHash::Sha256),
            2 => Some(SignatureHash::Sha384),
            3 => Some(SignatureHash::Sha512),
            4 => Some(SignatureHash::Sha224),
            _ => None,
        },
        _ => None,
    }
}

fn hash_of(oid: &[u8]) -> SignatureHash {
    // 1.2.840.113549.1.1.x (PKCS #1), 1.2.840.10045.4.x (ECDSA), 1.2.840.10040.4.3
    // (DSA with SHA-1), 2.16.840.1.101.3.4.3.x (DSA with SHA-2).
    const RSA: [u8; 8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: [u8; 6] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    const DSA_SHA1: [u8; 7] = [0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03];
    const DSA_SHA2: [u8; 8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03];
    match oid {
        [head @ .., last] if head == RSA => match last {
            4 => SignatureHash::Md5,
            5 => SignatureHash::Sha1,
            11 => SignatureHash::Sha256,
            12 => SignatureHash::Sha384,
            13 => SignatureHash::Sha512,
            14 => SignatureHash::Sha224,
            // 10 is RSASSA-PSS: its hash is a parameter, so none is defined.
            _ => SignatureHash::Undefined,
        },
        [head @ .., 1] if head == ECDSA => SignatureHash::Sha1,
        [head @ .., 3, last] if head == ECDSA => match last {
            1 => SignatureHash::Sha224,
            2 => SignatureHash::Sha256,
            3 => SignatureHash::Sha384,
            4 => SignatureHash::Sha512,
            _ => SignatureHash::Undefined,
        },
        _ if oid == DSA_SHA1 => SignatureHash::Sha1,
        [head @ .., 1] if head == DSA_SHA2 => SignatureHash::Sha224,
        [head @ .., 2] if head == DSA_SHA2 => SignatureHash::Sha256,
        // Ed25519 (1.3.101.112), Ed448 (1.3.101.113) and anything unknown.
        _ => SignatureHash::Undefined,
    }
}

/// One DER element with tag `tag` at the start of `input`: its contents and the bytes
/// after it.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len_byte, mut rest) = rest.split_first()?;
    let len = if len_byte < 0x80 {
        usize::from(len_byte)
    } else {
        // Long form: 1 to 4 length bytes (4 GiB is far beyond any certificate).
        let count = usize::from(len_byte & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (digits, after) = rest.split_at_checked(count)?;
        rest = after;
        digits
            .iter()
            .fold(0usize, |n, &d| (n << 8) | usize::from(d))
    };
    rest.split_at_checked(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ISRG Root X1: RSA, sha256WithRSAEncryption.
    const RSA_SHA256: &str = include_str!("../tests/certs/rsa-sha256.pem");
    /// ISRG Root X2: ECDSA P-384, ecdsa-with-SHA384.
    const ECDSA_SHA384: &str = include_str!("../tests/certs/ecdsa-sha384.pem");
    /// A self-signed Ed25519 certificate.
    const ED25519: &str = include_str!("../tests/certs/ed25519.pem");
    /// A self-signed RSASSA-PSS certificate with SHA-384 (`openssl req -x509 -sigopt
    /// rsa_padding_mode:pss -sha384`).
    const RSA_PSS_SHA384: &str = include_str!("../tests/certs/rsa-pss-sha384.pem");

    fn der(pem: &str) -> Vec<u8> {
        let body: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        base64_decode(&body)
    }

    fn base64_decode(text: &str) -> Vec<u8> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        };
        let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
        let mut out = Vec::new();
        for chunk in digits.chunks(4) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
            let bytes = n.to_be_bytes();
            out.extend_from_slice(&bytes[1..chunk.len()]);
        }
        out
    }

    #[test]
    fn hash_follows_the_signature_algorithm() {
        assert_eq!(signature_hash(&der(RSA_SHA256)), SignatureHash::Sha256);
        assert_eq!(signature_hash(&der(ECDSA_SHA384)), SignatureHash::Sha384);
        assert_eq!(signature_hash(&der(ED25519)), SignatureHash::Undefined);
        // PSS: the hash named in its parameters, as PostgreSQL's server takes it.
        assert_eq!(signature_hash(&der(RSA_PSS_SHA384)), SignatureHash::Sha384);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = signature_hash(&bytes);
            // Also behind a valid-looking outer header.
            let mut framed = vec![0x30, 0x82, 0x01, 0x00];
            framed.extend_from_slice(&bytes);
            let _ = signature_hash(&framed);
        }
    }

    #[test]
    fn malformed_certificates_have_no_hash() {
        let cert = der(RSA_SHA256);
        for len in 0..cert.len().min(600) {
            // Every truncation either still finds the algorithm (it sits after the
            // TBS part, so not before the end) or finds nothing; never a panic.
            let truncated = cert.get(..len).unwrap();
            assert_eq!(signature_hash(truncated), SignatureHash::Undefined, "{len}");
        }
        assert_eq!(
            signature_hash(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            SignatureHash::Undefined
        );
        assert_eq!(
            signature_hash(&[0x30, 0x85, 0, 0, 0, 0, 1]),
            SignatureHash::Undefined
        );
        assert_eq!(signature_hash(&[0x30, 0x80]), SignatureHash::Undefined);
        assert_eq!(signature_hash(&[]), SignatureHash::Undefined);
        // RSASSA-PSS: no single hash.
        let pss = [
            0x30, 0x0f, 0x30, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
            0x01, 0x01, 0x0a,
        ];
        assert_eq!(signature_hash(&pss), SignatureHash::Undefined);
        let mut sha1 = pss;
        sha1[16] = 5;
        assert_eq!(signature_hash(&sha1), SignatureHash::Sha1);
        sha1[16] = 13;
        assert_eq!(signature_hash(&sha1), SignatureHash::Sha512);
        sha1[16] = 14;
        assert_eq!(signature_hash(&sha1), SignatureHash::Sha224);
    }
}
