//! The rustls side: settings from a [`Config`], the handshake and the stream.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use apg_proto::auth::scram::tls_server_end_point;
use futures_io::{AsyncRead, AsyncWrite};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, SupportedProtocolVersion,
};

use super::signature_hash;
use crate::config::{Config, SslMode, SslNegotiation, SslProtocolVersion, SslRootCert};
use crate::error::Error;
use crate::runtime::AsyncStream;

/// ALPN protocol name PostgreSQL requires for direct TLS (IANA registry).
const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// How one connection (and its cancel requests) uses TLS.
#[derive(Debug)]
pub(crate) struct TlsSettings {
    /// TLS is required: a server that refuses it is an error.
    required: bool,
    /// The host name must match the certificate.
    verify_name: bool,
    /// Start TLS at once (PostgreSQL 17+) rather than after SSLRequest.
    direct: bool,
    /// The versions offered, for messages (`None`: a configuration of the user's).
    versions: Option<(SslProtocolVersion, SslProtocolVersion)>,
    config: Arc<ClientConfig>,
}

impl TlsSettings {
    /// What `config` asks for; `None` for plain text (`disable`, `allow`). Reads the
    /// certificate files once, so every host and cancel request uses the same ones.
    pub(crate) fn from_config(config: &Config) -> Result<Option<Self>, Error> {
        let system = matches!(config.ssl_root_cert, Some(SslRootCert::System));
        let direct = config.ssl_negotiation == SslNegotiation::Direct;
        let mode = match config.ssl_mode {
            // libpq refuses both combinations rather than connect in plain text.
            SslMode::Disable | SslMode::Allow if direct => {
                return Err(Error::tls(
                    "sslnegotiation=direct needs sslmode require, verify-ca or verify-full",
                ))
            }
            SslMode::Disable | SslMode::Allow if system => {
                return Err(Error::tls(
                    "sslrootcert=system cannot be used with sslmode disable or allow",
                ))
            }
            SslMode::Disable | SslMode::Allow => return Ok(None),
            // libpq makes verify-full the default with the platform store and refuses
            // anything weaker; apg cannot tell a default mode from a chosen one.
            _ if system => SslMode::VerifyFull,
            mode => mode,
        };
        if direct && mode == SslMode::Prefer {
            return Err(Error::tls(
                "sslnegotiation=direct needs sslmode require, verify-ca or verify-full",
            ));
        }
        // Also checked when the configuration resolves, which comes later.
        crate::config::validate_tls_versions(config)?;
        let defaults_dir = pg_dir();
        let root = match &config.ssl_root_cert {
            Some(SslRootCert::File(path)) => Some(Roots::File(path.clone())),
            Some(SslRootCert::System) => Some(Roots::System),
            None => defaults_dir
                .as_ref()
                .map(|dir| dir.join("root.crt"))
                .filter(|p| p.exists())
                .map(Roots::File),
        };
        let verify = match mode {
            SslMode::VerifyCa | SslMode::VerifyFull => true,
            // With a root certificate, require checks the chain, as libpq does.
            SslMode::Require => root.is_some(),
            _ => false,
        };
        let verify_name = mode == SslMode::VerifyFull;
        let mut client_config = match (&config.tls_client_config, root) {
            (Some(custom), _) => Arc::clone(&custom.0),
            (None, Some(root)) if verify => {
                // libpq reads its default list only beside a root certificate file: a
                // private authority's list would make every public server's status
                // unknown under `sslrootcert=system`.
                let default_crl_dir = match root {
                    Roots::File(_) => defaults_dir.as_deref(),
                    Roots::System => None,
                };
                let roots = Arc::new(root.load()?);
                let crls = load_crls(config, default_crl_dir)?;
                let inner = verifier(&roots, &crls)?;
                let verifier: Arc<dyn ServerCertVerifier> = if verify_name {
                    inner
                } else {
                    Arc::new(ChainOnly(inner))
                };
                build(config, defaults_dir.as_deref(), verifier)?
            }
            // Never "no verification" when verification was asked for (libpq: the
            // root certificate file does not exist).
            (None, None) if verify => {
                return Err(Error::tls(format!(
                    "sslmode={mode} needs trusted certificates: set sslrootcert (a PEM \
                     file, or `system` for the platform's store) or create \
                     ~/.postgresql/root.crt"
                )))
            }
            (None, _) => build(config, defaults_dir.as_deref(), Arc::new(NoVerification))?,
        };
        let add_alpn = direct
            && !client_config
                .alpn_protocols
                .iter()
                .any(|p| p == ALPN_POSTGRESQL);
        // Settings applied to a copy, so that a configuration given by the user
        // (`tls_client_config`) follows them too.
        if add_alpn || (client_config.enable_sni && !config.ssl_sni) {
            let mut copy = (*client_config).clone();
            if add_alpn {
                copy.alpn_protocols.push(ALPN_POSTGRESQL.to_vec());
            }
            copy.enable_sni &= config.ssl_sni;
            client_config = Arc::new(copy);
        }
        let versions = config.tls_client_config.is_none().then(|| {
            (
                config
                    .ssl_min_protocol_version
                    .max(SslProtocolVersion::Tls1_2),
                config
                    .ssl_max_protocol_version
                    .unwrap_or(SslProtocolVersion::Tls1_3),
            )
        });
        Ok(Some(Self {
            required: mode != SslMode::Prefer,
            verify_name,
            direct,
            versions,
            config: client_config,
        }))
    }

    /// Whether TLS starts at once, without SSLRequest.
    pub(crate) fn direct(&self) -> bool {
        self.direct
    }

    /// Whether a server refusing TLS is an error.
    pub(crate) fn required(&self) -> bool {
        self.required
    }

    /// Runs the TLS handshake over `stream` for `host`, and returns the encrypted stream
    /// with the server certificate's `tls-server-end-point` hash (`None` when its
    /// signature algorithm defines none).
    pub(crate) async fn handshake(
        &self,
        stream: Box<dyn AsyncStream>,
        host: &str,
    ) -> Result<(Box<dyn AsyncStream>, Option<Vec<u8>>), Error> {
        let name = match ServerName::try_from(host) {
            Ok(name) => name.to_owned(),
            Err(_) if self.verify_name => {
                return Err(Error::tls(format!(
                    "{host:?} is not a valid host name for certificate verification"
                )))
            }
            // Not checked against the certificate; an address sends no SNI.
            Err(_) => ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into()),
        };
        let conn = ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|e| Error::tls_caused("cannot start TLS", e))?;
        let mut tls = TlsStream::new(stream, conn);
        poll_fn(|cx| tls.poll_handshake(cx))
            .await
            .map_err(|e| match tls_error(&e) {
                Some(cause) => match self.versions {
                    // libpq's hint for disjoint version ranges.
                    Some((min, max)) if is_version_mismatch(cause) => Error::tls_caused(
                        format!(
                            "TLS handshake failed: the server may not support any TLS \
                             protocol version between {min} and {max} \
                             (ssl_min_protocol_version, ssl_max_protocol_version)"
                        ),
                        cause.clone(),
                    ),
                    _ => Error::tls_caused(describe(cause), cause.clone()),
                },
                None => Error::io("TLS handshake failed", e),
            })?;
        // libpq: ALPN is mandatory with direct TLS; a server that did not select
        // `postgresql` is not (knowingly) a PostgreSQL server (ALPACA-style
        // cross-protocol confusion).
        if self.direct && tls.conn.alpn_protocol() != Some(ALPN_POSTGRESQL) {
            return Err(Error::tls(
                "direct TLS: the server did not negotiate ALPN protocol \"postgresql\"",
            ));
        }
        let end_point = tls.end_point();
        Ok((Box::new(tls), end_point))
    }
}

/// A message for a handshake failure, in libpq's terms where they help.
fn describe(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "TLS handshake failed: the server certificate is not signed by a trusted \
             authority (sslrootcert)"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "TLS handshake failed: the server certificate does not match the host name \
              (sslmode=verify-full)"
            .to_owned(),
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if other.to_string().contains("CaUsedAsEndEntity") =>
        {
            "TLS handshake failed: the server certificate is a certificate authority's; \
             it must be issued by one in sslrootcert (a self-signed server certificate \
             cannot be its own root here)"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::Revoked) => {
            "TLS handshake failed: the server certificate (or one of its chain) has been \
             revoked (sslcrl, sslcrldir)"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::UnknownRevocationStatus) => {
            "TLS handshake failed: the revocation status of the server certificate (or one \
             of its chain) is unknown: no certificate revocation list from its issuer in \
             sslcrl or sslcrldir"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(
            CertificateError::ExpiredRevocationList
            | CertificateError::ExpiredRevocationListContext { .. },
        ) => "TLS handshake failed: a certificate revocation list (sslcrl, sslcrldir) has \
              expired (its nextUpdate time has passed)"
            .to_owned(),
        // The cause itself follows (the error's source, shown by its Display).
        _ => "TLS handshake failed".to_owned(),
    }
}

/// Whether the handshake failed because the two sides share no TLS version.
fn is_version_mismatch(error: &rustls::Error) -> bool {
    use rustls::PeerIncompatible as P;
    matches!(
        error,
        rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
            | rustls::Error::PeerIncompatible(
                P::ServerDoesNotSupportTls12Or13
                    | P::ServerTlsVersionIsDisabledByOurConfig
                    | P::SupportedVersionsExtensionRequired
                    | P::Tls12NotOffered
                    | P::Tls12NotOfferedOrEnabled
            )
    )
}

/// The rustls error inside an I/O error made by [`TlsStream`], if that is what it is.
fn tls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Where libpq looks for default certificates: `~/.postgresql`, on Windows
/// `%APPDATA%\postgresql`.
fn pg_dir() -> Option<PathBuf> {
    let (var, dir) = if cfg!(windows) {
        ("APPDATA", "postgresql")
    } else {
        ("HOME", ".postgresql")
    };
    std::env::var_os(var)
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(dir))
}

enum Roots {
    File(PathBuf),
    System,
}

impl Roots {
    fn load(&self) -> Result<RootCertStore, Error> {
        let mut store = RootCertStore::empty();
        match self {
            Self::File(path) => {
                let pem = read(path, "root certificate file")?;
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| {
                        Error::tls_caused(format!("cannot read {}", path.display()), e)
                    })?;
                    store.add(cert).map_err(|e| {
                        Error::tls_caused(format!("unusable certificate in {}", path.display()), e)
                    })?;
                }
                if store.is_empty() {
                    return Err(Error::tls(format!(
                        "no certificate in root certificate file {}",
                        path.display()
                    )));
                }
            }
            Self::System => {
                // Read once per process: the store is large, and a pool connects often.
                static SYSTEM: std::sync::OnceLock<Vec<CertificateDer<'static>>> =
                    std::sync::OnceLock::new();
                let certs = SYSTEM.get_or_init(|| rustls_native_certs::load_native_certs().certs);
                // Unparsable entries of the platform store are skipped, as OpenSSL does.
                store.add_parsable_certificates(certs.iter().cloned());
                if store.is_empty() {
                    return Err(Error::tls(
                        "sslrootcert=system: no certificate found in the platform's store",
                    ));
                }
            }
        }
        Ok(store)
    }
}

/// The certificate revocation lists of `sslcrl` and `sslcrldir`, or, when neither
/// is set, of `root.crl` in `pg_dir` if it exists (libpq's default). Each with the
/// file it came from, to name it when a list turns out unusable.
fn load_crls(
    config: &Config,
    pg_dir: Option<&Path>,
) -> Result<Vec<(PathBuf, Vec<CertificateRevocationListDer<'static>>)>, Error> {
    let mut lists = Vec::new();
    let default = pg_dir
        .map(|dir| dir.join("root.crl"))
        .filter(|p| p.exists());
    let file = match (&config.ssl_crl, &config.ssl_crl_dir) {
        (None, None) => default,
        (file, _) => file.clone(),
    };
    if let Some(path) = file {
        let bytes = read(&path, "certificate revocation list file")?;
        let crls = parse_crls(&path, &bytes)?;
        if crls.is_empty() {
            return Err(Error::tls(format!(
                "no certificate revocation list in {}",
                path.display()
            )));
        }
        lists.push((path, crls));
    }
    if let Some(dir) = &config.ssl_crl_dir {
        let what = || {
            format!(
                "cannot read certificate revocation list directory {}",
                dir.display()
            )
        };
        let mut paths = std::fs::read_dir(dir)
            .and_then(|entries| {
                entries
                    .map(|entry| entry.map(|e| e.path()))
                    .collect::<io::Result<Vec<_>>>()
            })
            .map_err(|e| Error::tls_caused(what(), e))?;
        // Sorted, so that errors and results do not depend on the directory's order.
        paths.sort();
        for path in paths {
            // Subdirectories and other non-files are not lists (symbolic links to
            // files, as `openssl rehash` makes, are followed).
            if !path.is_file() {
                continue;
            }
            let bytes = read(&path, "certificate revocation list file")?;
            let crls = parse_crls(&path, &bytes)?;
            if !crls.is_empty() {
                lists.push((path, crls));
            }
        }
    }
    Ok(lists)
}

/// The lists in one file: every `X509 CRL` block of a PEM file (none if it holds
/// only other blocks), or the whole file as one DER list.
fn parse_crls(
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<CertificateRevocationListDer<'static>>, Error> {
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Ok(vec![CertificateRevocationListDer::from(bytes.to_vec())]);
    }
    CertificateRevocationListDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::tls_caused(format!("cannot read {}", path.display()), e))
}

/// The chain and name verifier for `roots`, checking revocation against `crls`.
///
/// Revocation is checked as libpq has OpenSSL do it (`X509_V_FLAG_CRL_CHECK |
/// X509_V_FLAG_CRL_CHECK_ALL`): for every certificate of the chain below the trust
/// anchor, an unknown status (no list from its issuer) is an error, and so is an
/// expired list (OpenSSL checks nextUpdate). These are rustls's defaults except for
/// expiry.
fn verifier(
    roots: &Arc<RootCertStore>,
    crls: &[(PathBuf, Vec<CertificateRevocationListDer<'static>>)],
) -> Result<Arc<WebPkiServerVerifier>, Error> {
    let build = |crls: Vec<CertificateRevocationListDer<'static>>| {
        let builder = WebPkiServerVerifier::builder_with_provider(Arc::clone(roots), provider());
        if crls.is_empty() {
            builder.build()
        } else {
            builder
                .with_crls(crls)
                .enforce_revocation_expiration()
                .build()
        }
    };
    build(crls.iter().flat_map(|(_, l)| l.iter().cloned()).collect()).map_err(|e| {
        // Name the file whose list is unusable (rustls does not say which).
        let culprit = crls
            .iter()
            .find(|(_, list)| build(list.clone()).is_err())
            .map(|(path, _)| path);
        match culprit {
            Some(path) => Error::tls_caused(
                format!("unusable certificate revocation list in {}", path.display()),
                e,
            ),
            None => Error::tls_caused("unusable root certificates", e),
        }
    })
}

/// The TLS versions to offer: from the minimum (TLS 1.2 at least, the oldest rustls
/// has) to the maximum (TLS 1.3 by default). The range was validated before.
fn versions(config: &Config) -> Vec<&'static SupportedProtocolVersion> {
    let max = config
        .ssl_max_protocol_version
        .unwrap_or(SslProtocolVersion::Tls1_3);
    let min = config.ssl_min_protocol_version;
    let mut versions = Vec::new();
    if min <= SslProtocolVersion::Tls1_3 && max >= SslProtocolVersion::Tls1_3 {
        versions.push(&rustls::version::TLS13);
    }
    if min <= SslProtocolVersion::Tls1_2 && max >= SslProtocolVersion::Tls1_2 {
        versions.push(&rustls::version::TLS12);
    }
    versions
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::tls_caused(format!("cannot read {what} {}", path.display()), e))
}

/// A client configuration with `verifier`, the client certificate if any, the TLS
/// versions and SNI as configured.
fn build(
    config: &Config,
    pg_dir: Option<&Path>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<Arc<ClientConfig>, Error> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(config))
        .map_err(|e| Error::tls_caused("no TLS version available", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let default = |name: &str| pg_dir.map(|dir| dir.join(name));
    // libpq uses ~/.postgresql/postgresql.crt when it exists and no sslcert is set.
    let cert_path = match &config.ssl_cert {
        Some(path) => Some(path.clone()),
        None => default("postgresql.crt").filter(|p| p.exists()),
    };
    let Some(cert_path) = cert_path else {
        let mut client = builder.with_no_client_auth();
        client.enable_sni = config.ssl_sni;
        return Ok(Arc::new(client));
    };
    let pem = read(&cert_path, "client certificate file")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::tls_caused(format!("cannot read {}", cert_path.display()), e))?;
    if chain.is_empty() {
        return Err(Error::tls(format!(
            "no certificate in client certificate file {}",
            cert_path.display()
        )));
    }
    let key_path = match &config.ssl_key {
        Some(path) => path.clone(),
        None => default("postgresql.key").ok_or_else(|| {
            Error::tls(
                "sslcert is set without sslkey, and there is no home directory to find \
                 postgresql.key in",
            )
        })?,
    };
    check_key_permissions(&key_path)?;
    let key_pem = read(&key_path, "client key file")?;
    // PKCS#8, PKCS#1 (RSA) or SEC1 (EC), whichever the file holds.
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        Error::tls_caused(
            format!("no usable private key in {}", key_path.display()),
            e,
        )
    })?;
    let mut client = builder
        .with_client_auth_cert(chain, key)
        .map_err(|e| Error::tls_caused("the client certificate and key do not fit", e))?;
    client.enable_sni = config.ssl_sni;
    Ok(Arc::new(client))
}

/// libpq refuses a private key file others can read: on Unix its mode must be 0600
/// or stricter (0640 when owned by root, for keys shared with a group).
#[cfg(unix)]
fn check_key_permissions(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::tls_caused(format!("cannot read client key file {}", path.display()), e)
    })?;
    if !meta.is_file() {
        return Err(Error::tls(format!(
            "private key file {} is not a regular file",
            path.display()
        )));
    }
    let forbidden = if meta.uid() == 0 { 0o037 } else { 0o077 };
    if meta.mode() & forbidden != 0 {
        return Err(Error::tls(format!(
            "private key file {} has group or world access; permissions should be u=rw \
             (0600) or less",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_permissions(_path: &Path) -> Result<(), Error> {
    Ok(())
}

/// `verify-ca`: the chain must lead to a trusted root; the name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            // The name is checked only after the chain verified, so this error means
            // "trusted, for another name".
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a root certificate: any certificate is accepted, as
/// in libpq. The handshake signature is still checked, so the peer holds the key of
/// the certificate that channel binding hashes.
#[derive(Debug)]
struct NoVerification;

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, &algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, &algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS client stream over any futures-io byte stream.
///
/// rustls keeps the record buffers; this type moves bytes between them and the socket
/// as the caller polls. Plain text is copied once each way (into rustls when written,
/// out of its decrypted buffer when read); records go straight between rustls and the
/// socket.
pub(crate) struct TlsStream<S> {
    io: S,
    conn: ClientConnection,
    /// The server closed the TCP stream (no more records will come).
    eof: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    pub(crate) fn new(io: S, conn: ClientConnection) -> Self {
        Self {
            io,
            conn,
            eof: false,
        }
    }

    /// The server certificate's `tls-server-end-point` hash; `None` when its
    /// signature algorithm defines none.
    pub(crate) fn end_point(&self) -> Option<Vec<u8>> {
        let leaf = self.conn.peer_certificates()?.first()?;
        tls_server_end_point(signature_hash(leaf), leaf).ok()
    }

    /// Writes queued TLS records to the socket until rustls has none left.
    fn poll_write_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let mut io = SyncIo {
                io: &mut self.io,
                cx,
            };
            match self.conn.write_tls(&mut io) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Reads records from the socket and decrypts them. `Ok(0)` at the end of the
    /// stream.
    fn poll_read_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut io = SyncIo {
            io: &mut self.io,
            cx,
        };
        let n = match self.conn.read_tls(&mut io) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if n == 0 {
            self.eof = true;
            return Poll::Ready(Ok(0));
        }
        if let Err(e) = self.conn.process_new_packets() {
            // Best effort: tell the server why (rustls queued an alert).
            let _ = self.poll_write_tls(cx);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.poll_write_tls(cx))?;
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            if !self.conn.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            if ready!(self.poll_read_tls(cx))? == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection during the TLS handshake",
                )));
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match this.conn.reader().read(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The server ended the TCP stream without close_notify: a truncation
                // attack or a crash; either way the connection is lost.
                Err(e) => return Poll::Ready(Err(e)),
            }
            if this.eof {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            // Answers rustls owes the server (key updates, alerts) go out first.
            if this.poll_write_tls(cx)?.is_pending() && !this.conn.wants_read() {
                return Poll::Pending;
            }
            if ready!(this.poll_read_tls(cx))? == 0 {
                // Loop once more: the reader reports a clean close or the truncation.
                continue;
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            // rustls buffers up to its limit (64 KiB by default) and encrypts.
            let n = this.conn.writer().write(buf)?;
            if n > 0 {
                // Push records out now, so progress needs no flush and the buffer
                // never holds more than one limit's worth; Pending just means later.
                let _ = this.poll_write_tls(cx)?;
                return Poll::Ready(Ok(n));
            }
            if !this.conn.wants_write() {
                return Poll::Ready(Err(io::Error::other("the TLS send buffer is full")));
            }
            // The buffer is full: room is made only by writing to the socket.
            ready!(this.poll_write_tls(cx))?;
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.conn.writer().flush()?;
        ready!(this.poll_write_tls(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Sent once: close_notify tells the server the end is intended.
        this.conn.send_close_notify();
        ready!(this.poll_write_tls(cx))?;
        Pin::new(&mut this.io).poll_close(cx)
    }
}

/// The socket as blocking `Read`/`Write` for rustls: `Pending` becomes `WouldBlock`,
/// with the waker registered.
struct SyncIo<'a, 'b, S> {
    io: &'a mut S,
    cx: &'a mut Context<'b>,
}

impl<S: AsyncRead + Unpin> Read for SyncIo<'_, '_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_read(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl<S: AsyncWrite + Unpin> Write for SyncIo<'_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write_vectored(self.cx, bufs) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match Pin::new(&mut *self.io).poll_flush(self.cx) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/certs")
            .join(name)
    }

    /// A directory for one test's copies of key files, removed with it.
    struct KeyDir(PathBuf);

    impl KeyDir {
        fn new(test: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("apg-tls-test-{}-{test}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        /// A copy of a fixture readable by its owner only, as key files must be.
        fn private_copy(&self, name: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::copy(fixture(name), &path).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            path
        }
    }

    impl Drop for KeyDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_self_signed_authority_as_server_certificate_is_explained() {
        let path = fixture("self-signed-ca-localhost.pem");
        let roots = Arc::new(Roots::File(path.clone()).load().unwrap());
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider())
            .build()
            .unwrap();
        let pem = std::fs::read(&path).unwrap();
        let cert = CertificateDer::pem_slice_iter(&pem)
            .next()
            .unwrap()
            .unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let e = verifier
            .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
            .unwrap_err();
        let message = describe(&e);
        assert!(
            message.contains("certificate authority"),
            "{message} ({e:?})"
        );
    }

    #[cfg(unix)]
    #[test]
    fn readable_key_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let keys = KeyDir::new("readable");
        let key = keys.private_copy("client-rsa-pkcs1.key");
        let readable = key.with_file_name("readable.key");
        std::fs::copy(&key, &readable).unwrap();
        std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o644)).unwrap();
        let config = Config::new()
            .ssl_cert(fixture("client-rsa.crt"))
            .ssl_key(&readable);
        let e = build(&config, None, Arc::new(NoVerification)).unwrap_err();
        assert!(e.to_string().contains("group or world access"), "{e}");
    }

    #[test]
    fn client_keys_in_each_pem_format() {
        let keys = KeyDir::new("formats");
        // SEC1 (EC) and PKCS#1 (RSA); the testkit's client key, used in the
        // integration tests, is PKCS#8.
        for (cert, key) in [
            ("client-ec.crt", "client-ec-sec1.key"),
            ("client-rsa.crt", "client-rsa-pkcs1.key"),
        ] {
            let config = Config::new()
                .ssl_cert(fixture(cert))
                .ssl_key(keys.private_copy(key));
            let built = build(&config, None, Arc::new(NoVerification)).unwrap();
            assert!(built.client_auth_cert_resolver.has_certs(), "{key}");
        }
        let no_key = Config::new()
            .ssl_cert(fixture("client-ec.crt"))
            .ssl_key(keys.private_copy("client-ec.crt"));
        let e = build(&no_key, None, Arc::new(NoVerification)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.to_string().contains("private key"), "{e}");
        let missing = Config::new().ssl_cert(fixture("nonexistent.crt"));
        let e = build(&missing, None, Arc::new(NoVerification)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.to_string().contains("nonexistent.crt"), "{e}");
        assert!(!build(&Config::new(), None, Arc::new(NoVerification))
            .unwrap()
            .client_auth_cert_resolver
            .has_certs());
    }

    #[test]
    fn settings_follow_sslmode() {
        let root = SslRootCert::File(fixture("rsa-sha256.pem"));
        let settings = |mode: SslMode, negotiation: SslNegotiation| {
            TlsSettings::from_config(
                &Config::new()
                    .ssl_mode(mode)
                    .ssl_root_cert(root.clone())
                    .ssl_negotiation(negotiation),
            )
        };
        for mode in [SslMode::Disable, SslMode::Allow] {
            assert!(settings(mode, SslNegotiation::Postgres).unwrap().is_none());
        }
        let prefer = settings(SslMode::Prefer, SslNegotiation::Postgres)
            .unwrap()
            .unwrap();
        assert!(!prefer.required() && !prefer.direct());
        let e = settings(SslMode::Prefer, SslNegotiation::Direct).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
            let s = settings(mode, SslNegotiation::Direct).unwrap().unwrap();
            assert!(s.required() && s.direct());
            assert_eq!(s.verify_name, mode == SslMode::VerifyFull);
            assert_eq!(s.config.alpn_protocols, [ALPN_POSTGRESQL.to_vec()]);
            let s = settings(mode, SslNegotiation::Postgres).unwrap().unwrap();
            assert!(s.config.alpn_protocols.is_empty());
        }
        // A root certificate file that holds no certificate.
        let empty = Config::new()
            .ssl_mode(SslMode::VerifyCa)
            .ssl_root_cert(SslRootCert::File(fixture("client-ec-sec1.key")));
        let e = TlsSettings::from_config(&empty).unwrap_err();
        assert!(e.to_string().contains("no certificate"), "{e}");
    }

    #[test]
    fn revocation_failures_are_explained() {
        let cert = |e| describe(&rustls::Error::InvalidCertificate(e));
        assert!(cert(CertificateError::Revoked).contains("revoked"));
        let unknown = cert(CertificateError::UnknownRevocationStatus);
        assert!(unknown.contains("unknown"), "{unknown}");
        assert!(unknown.contains("sslcrl"), "{unknown}");
        assert!(cert(CertificateError::ExpiredRevocationList).contains("expired"));
        assert!(is_version_mismatch(&rustls::Error::AlertReceived(
            rustls::AlertDescription::ProtocolVersion
        )));
        assert!(!is_version_mismatch(&rustls::Error::InvalidCertificate(
            CertificateError::Revoked
        )));
    }

    #[test]
    fn sni_follows_sslsni() {
        let settings = |config: Config| TlsSettings::from_config(&config).unwrap().unwrap();
        let require = Config::new().ssl_mode(SslMode::Require);
        assert!(settings(require.clone()).config.enable_sni);
        assert!(!settings(require.clone().ssl_sni(false)).config.enable_sni);
        let verified = require
            .clone()
            .ssl_mode(SslMode::VerifyFull)
            .ssl_root_cert(SslRootCert::File(fixture("rsa-sha256.pem")))
            .ssl_sni(false);
        assert!(!settings(verified).config.enable_sni);
        // A configuration given by the user is copied with SNI off, not changed.
        let custom = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth();
        let custom = Arc::new(custom);
        let s = settings(
            require
                .clone()
                .tls_client_config(Arc::clone(&custom))
                .ssl_sni(false),
        );
        assert!(!s.config.enable_sni && custom.enable_sni);
        let s = settings(require.tls_client_config(Arc::clone(&custom)));
        assert!(Arc::ptr_eq(&s.config, &custom));
    }

    #[test]
    fn versions_follow_the_protocol_version_range() {
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        use SslProtocolVersion::{Tls1, Tls1_1, Tls1_2, Tls1_3};
        let offered = |min: SslProtocolVersion, max: Option<SslProtocolVersion>| {
            let mut config = Config::new().ssl_mode(SslMode::Require);
            config.ssl_min_protocol_version = min;
            config.ssl_max_protocol_version = max;
            assert!(TlsSettings::from_config(&config).unwrap().is_some());
            let versions: Vec<_> = versions(&config).iter().map(|v| v.version).collect();
            (versions.contains(&TLSv1_2), versions.contains(&TLSv1_3))
        };
        // Older minimums mean TLS 1.2, the oldest rustls has.
        for min in [Tls1, Tls1_1, Tls1_2] {
            assert_eq!(offered(min, None), (true, true), "{min}");
            assert_eq!(offered(min, Some(Tls1_3)), (true, true), "{min}");
            assert_eq!(offered(min, Some(Tls1_2)), (true, false), "{min}");
        }
        assert_eq!(offered(Tls1_3, None), (false, true));
        assert_eq!(offered(Tls1_3, Some(Tls1_3)), (false, true));
        // Refused before anything is built, with the configuration error.
        for (min, max) in [(Tls1_3, Tls1_2), (Tls1, Tls1_1)] {
            let mut config = Config::new().ssl_mode(SslMode::Require);
            config.ssl_min_protocol_version = min;
            config.ssl_max_protocol_version = Some(max);
            let e = TlsSettings::from_config(&config).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        }
    }

    #[test]
    fn revocation_list_files() {
        let dir = KeyDir::new("crl");
        let verify = |config: Config| {
            TlsSettings::from_config(
                &config
                    .ssl_mode(SslMode::VerifyFull)
                    .ssl_root_cert(SslRootCert::File(fixture("rsa-sha256.pem"))),
            )
        };
        // Named files must exist (libpq would silently skip the check).
        let missing = dir.0.join("missing.crl");
        let e = verify(Config::new().ssl_crl(&missing)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.to_string().contains("missing.crl"), "{e}");
        let e = verify(Config::new().ssl_crl_dir(dir.0.join("nowhere"))).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        // A PEM file without a list is refused as sslcrl, skipped in sslcrldir.
        let crls = dir.0.join("crls");
        std::fs::create_dir_all(crls.join("subdirectory")).unwrap();
        std::fs::copy(fixture("rsa-sha256.pem"), crls.join("a-certificate.pem")).unwrap();
        let e = verify(Config::new().ssl_crl(crls.join("a-certificate.pem"))).unwrap_err();
        assert!(
            e.to_string().contains("no certificate revocation list"),
            "{e}"
        );
        assert!(verify(Config::new().ssl_crl_dir(&crls)).unwrap().is_some());
        // Not PEM: one DER list, which is not one here; the file is named.
        let junk = crls.join("junk.r0");
        std::fs::write(&junk, [0x30, 0x03, 0x02, 0x01, 0x00]).unwrap();
        for config in [
            Config::new().ssl_crl(&junk),
            Config::new().ssl_crl_dir(&crls),
        ] {
            let e = verify(config).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Tls);
            assert!(e.to_string().contains("junk.r0"), "{e}");
            assert!(e.to_string().contains("revocation list"), "{e}");
        }
        // A truncated PEM block is an error naming the file.
        let truncated = dir.0.join("truncated.crl");
        std::fs::write(&truncated, "-----BEGIN X509 CRL-----\nMIIB\n").unwrap();
        let e = verify(Config::new().ssl_crl(&truncated)).unwrap_err();
        assert!(e.to_string().contains("truncated.crl"), "{e}");
        // libpq's default list, beside the default root certificate, unless a list
        // is configured.
        let home = dir.0.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let paths = |config: &Config| -> Vec<PathBuf> {
            load_crls(config, Some(&home))
                .unwrap()
                .into_iter()
                .map(|(path, _)| path)
                .collect()
        };
        assert!(paths(&Config::new()).is_empty());
        std::fs::write(home.join("root.crl"), [0x30, 0x00]).unwrap();
        assert_eq!(paths(&Config::new()), [home.join("root.crl")]);
        assert_eq!(paths(&Config::new().ssl_crl(&junk)), [junk.as_path()]);
        let in_dir = paths(&Config::new().ssl_crl_dir(&crls));
        assert_eq!(in_dir, [junk.as_path()]);
        // Without verification the lists are not read at all, as in libpq.
        let unverified = Config::new().ssl_mode(SslMode::Require).ssl_crl(&missing);
        assert!(TlsSettings::from_config(&unverified).unwrap().is_some());
    }
}
