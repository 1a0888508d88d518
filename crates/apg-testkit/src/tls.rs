//! Throwaway certificates for clusters with TLS: a private certificate authority, a
//! server certificate for `localhost`, `127.0.0.1` and `::1`, and a client
//! certificate for [`CERT_USER`]. Generated with rcgen on every cluster start-up (a
//! few milliseconds: ECDSA P-256 keys), never with the `openssl` program.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::Error;

/// A role that may only log in over TLS (`hostssl ... scram-sha-256`; plain-text
/// TCP and the Unix socket are rejected), with the password [`TLS_PASSWORD`]. Exists
/// on clusters started with TLS (the default).
///
/// ```
/// assert_eq!(apg_testkit::TLS_USER, "apg_tls");
/// ```
pub const TLS_USER: &str = "apg_tls";

/// Password of [`TLS_USER`].
///
/// ```
/// assert!(!apg_testkit::TLS_PASSWORD.is_empty());
/// ```
pub const TLS_PASSWORD: &str = "apg-tls-secret";

/// A role that logs in with a client certificate only (`hostssl ... cert`): see
/// [`Cluster::client_cert`](crate::Cluster::client_cert).
///
/// ```
/// assert_eq!(apg_testkit::CERT_USER, "apg_cert");
/// ```
pub const CERT_USER: &str = "apg_cert";

/// The signature algorithm of a cluster's certificates ([`ClusterBuilder::tls_signature`](crate::ClusterBuilder::tls_signature)),
/// which decides the `tls-server-end-point` hash of SCRAM channel binding.
///
/// ```
/// assert_eq!(apg_testkit::TlsSignature::default(), apg_testkit::TlsSignature::EcdsaP256Sha256);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsSignature {
    /// ECDSA P-256 with SHA-256 (binding hash SHA-256).
    #[default]
    EcdsaP256Sha256,
    /// ECDSA P-384 with SHA-384 (binding hash SHA-384).
    EcdsaP384Sha384,
    /// Ed25519: no binding hash is defined, so SCRAM-SHA-256-PLUS cannot be used.
    Ed25519,
}

impl TlsSignature {
    fn algorithm(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Self::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::EcdsaP384Sha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Self::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }
}

/// The PEM files of one cluster.
pub(crate) struct Certificates {
    pub(crate) ca_cert: String,
    pub(crate) server_cert: String,
    pub(crate) server_key: String,
    pub(crate) client_cert: String,
    pub(crate) client_key: String,
}

fn tls_error(e: rcgen::Error) -> Error {
    Error::Unsupported(format!("cannot generate test certificates: {e}"))
}

impl Certificates {
    pub(crate) fn generate(signature: TlsSignature) -> Result<Self, Error> {
        let generate = || KeyPair::generate_for(signature.algorithm()).map_err(tls_error);
        let ca_key = generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "apg-testkit throwaway CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).map_err(tls_error)?;

        let names = ["localhost", "127.0.0.1", "::1"].map(String::from);
        let server_key = generate()?;
        let mut server = CertificateParams::new(names.to_vec()).map_err(tls_error)?;
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server
            .signed_by(&server_key, &ca_cert, &ca_key)
            .map_err(tls_error)?;

        let client_key = generate()?;
        let mut client = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        // `cert` authentication maps the common name to the role.
        client
            .distinguished_name
            .push(DnType::CommonName, CERT_USER);
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client
            .signed_by(&client_key, &ca_cert, &ca_key)
            .map_err(tls_error)?;

        Ok(Self {
            ca_cert: ca_cert.pem(),
            server_cert: server_cert.pem(),
            server_key: key_pem(&server_key)?,
            client_cert: client_cert.pem(),
            client_key: key_pem(&client_key)?,
        })
    }
}

/// The key as PKCS#8 PEM that OpenSSL 3 reads: ring writes Ed25519 keys as PKCS#8
/// v2 (with the public key), which OpenSSL 3 refuses as "unsupported", so those are
/// rewritten as v1 (RFC 8410: version 0, the algorithm, the 32-byte seed).
fn key_pem(key: &KeyPair) -> Result<String, Error> {
    use base64::Engine as _;
    // After the outer SEQUENCE header: version 1, id-Ed25519, the seed's headers.
    const V2_HEAD: [u8; 14] = [
        0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ];
    let der = key.serialize_der();
    let Some(rest) = der.get(2..).and_then(|d| d.strip_prefix(&V2_HEAD[..])) else {
        return Ok(key.serialize_pem());
    };
    let seed = rest
        .get(..32)
        .ok_or_else(|| Error::Unsupported("a truncated Ed25519 key".into()))?;
    let mut v1 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    v1.extend_from_slice(seed);
    let body = base64::engine::general_purpose::STANDARD.encode(&v1);
    Ok(format!(
        "-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"
    ))
}

/// `pg_hba.conf` lines for the TLS roles, placed before the catch-all line.
pub(crate) fn hba_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for (user, method) in [(TLS_USER, "scram-sha-256"), (CERT_USER, "cert")] {
        lines.push(format!(
            "local   all          {user:<14}                 reject"
        ));
        for address in ["127.0.0.1/32", "::1/128"] {
            lines.push(format!(
                "hostssl all          {user:<14} {address:<15} {method}"
            ));
            lines.push(format!(
                "hostnossl all        {user:<14} {address:<15} reject"
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_pem_files() {
        for signature in [TlsSignature::EcdsaP384Sha384, TlsSignature::Ed25519] {
            assert!(Certificates::generate(signature).is_ok(), "{signature:?}");
        }
        let certs = Certificates::generate(TlsSignature::default()).unwrap();
        for pem in [&certs.ca_cert, &certs.server_cert, &certs.client_cert] {
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
        assert!(certs.server_key.contains("PRIVATE KEY"));
        assert_ne!(certs.server_cert, certs.client_cert);
    }
}
