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
    pub(crate) fn generate() -> Result<Self, Error> {
        let ca_key = KeyPair::generate().map_err(tls_error)?;
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
        let server_key = KeyPair::generate().map_err(tls_error)?;
        let mut server = CertificateParams::new(names.to_vec()).map_err(tls_error)?;
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server
            .signed_by(&server_key, &ca_cert, &ca_key)
            .map_err(tls_error)?;

        let client_key = KeyPair::generate().map_err(tls_error)?;
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
            server_key: server_key.serialize_pem(),
            client_cert: client_cert.pem(),
            client_key: client_key.serialize_pem(),
        })
    }
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
        let certs = Certificates::generate().unwrap();
        for pem in [&certs.ca_cert, &certs.server_cert, &certs.client_cert] {
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
        assert!(certs.server_key.contains("PRIVATE KEY"));
        assert_ne!(certs.server_cert, certs.client_cert);
    }
}
