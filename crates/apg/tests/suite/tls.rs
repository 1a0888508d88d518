//! TLS against the test cluster (which accepts TLS with a throwaway authority): every
//! `sslmode`, certificate checks, revocation lists, protocol versions, SNI, channel
//! binding, and a session's traffic over TLS.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use apg::config::{ChannelBindingPolicy, Host, SslMode, SslProtocolVersion, SslRootCert};
use apg::{Client, Config, ErrorKind, Runtime, SqlState};

use super::common::{connect_with, test_config, test_server, unique_name};
use super::within;

/// The test cluster's authority, or `None` (test skipped) for an external server or
/// a cluster without TLS.
fn ca() -> Option<PathBuf> {
    let ca = test_server().ca_cert();
    if ca.is_none() {
        eprintln!("skipped: the test server has no TLS certificate authority");
    }
    ca
}

/// The test configuration, verified against the test authority as `localhost`.
fn verified(ca: PathBuf, mode: SslMode) -> Config {
    let mut config = test_config();
    config.hosts = vec![Host::Tcp("localhost".into())];
    config.ssl_mode = mode;
    config.ssl_root_cert = Some(SslRootCert::File(ca));
    config
}

/// The session's TLS version as its backend reports it; `None` without TLS.
async fn ssl_version(client: &Client) -> Option<String> {
    client
        .query_scalar(
            "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
}

/// Whether the session's backend reports TLS.
async fn uses_tls(client: &Client) -> bool {
    ssl_version(client).await.is_some()
}

pub async fn tls_modes(rt: Arc<dyn Runtime>) {
    let Some(ca) = ca() else { return };
    for mode in [
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ] {
        let client = connect_with(&rt, verified(ca.clone(), mode)).await;
        assert!(uses_tls(&client).await, "{mode}");
    }
    // Without a root certificate, require and prefer accept any certificate.
    for mode in [SslMode::Prefer, SslMode::Require] {
        let mut config = test_config();
        config.ssl_mode = mode;
        let client = connect_with(&rt, config).await;
        assert!(uses_tls(&client).await, "{mode}");
    }
    for mode in [SslMode::Disable, SslMode::Allow] {
        let mut config = verified(ca.clone(), mode);
        config.ssl_mode = mode;
        let client = connect_with(&rt, config).await;
        assert!(!uses_tls(&client).await, "{mode}");
    }
}

pub async fn tls_certificate_checks(rt: Arc<dyn Runtime>) {
    let Some(ca) = ca() else { return };
    // Connected by address, checked against a name the certificate does not have.
    let mut wrong_name = verified(ca.clone(), SslMode::VerifyFull);
    wrong_name.hosts = vec![Host::Tcp("wrong.invalid".into())];
    wrong_name.hostaddrs = vec!["127.0.0.1".parse().unwrap()];
    let e = Client::connect(&wrong_name, Arc::clone(&rt))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("host name"), "{e}");
    // verify-ca does not look at the name.
    wrong_name.ssl_mode = SslMode::VerifyCa;
    let client = connect_with(&rt, wrong_name).await;
    assert!(uses_tls(&client).await);

    // An authority that did not sign the server's certificate.
    // The suite runs from each runtime crate: the file sits beside apg's tests.
    let other_ca =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../apg/tests/certs/rsa-sha256.pem");
    for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
        let config = verified(other_ca.clone(), mode);
        let e = Client::connect(&config, Arc::clone(&rt)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{mode}: {e}");
        assert!(e.to_string().contains("trusted"), "{e}");
    }
    // The platform's store does not know the test authority either.
    let mut system = verified(ca.clone(), SslMode::VerifyFull);
    system.ssl_root_cert = Some(SslRootCert::System);
    let e = Client::connect(&system, Arc::clone(&rt)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");

    // Failing over keeps the security asked for: the first host's certificate does
    // not match its name, so the second host is used, verified as well.
    let mut failover = verified(ca.clone(), SslMode::VerifyFull);
    failover.hosts = vec![
        Host::Tcp("wrong.invalid".into()),
        Host::Tcp("localhost".into()),
    ];
    failover.hostaddrs = vec!["127.0.0.1".parse().unwrap(); 2];
    let client = connect_with(&rt, failover).await;
    assert!(uses_tls(&client).await);

    // Verification without any trusted certificate is an error, not "no
    // verification".
    for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
        let mut config = verified(ca.clone(), mode);
        config.ssl_root_cert = None;
        let e = Client::connect(&config, Arc::clone(&rt)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    }
    // A missing root certificate file is an error, not "no verification".
    let config = verified(PathBuf::from("/nonexistent/root.crt"), SslMode::VerifyCa);
    let e = Client::connect(&config, Arc::clone(&rt)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

pub async fn tls_channel_binding(rt: Arc<dyn Runtime>) {
    let Some(ca) = ca() else { return };
    let mut config = verified(ca, SslMode::VerifyFull);
    config.user = Some(apg_testkit::TLS_USER.into());
    config.password = Some(apg_testkit::TLS_PASSWORD.into());
    config.dbname = Some("postgres".into());
    // `require` only succeeds through SCRAM-SHA-256-PLUS: the core refuses every
    // other way in before sending a password byte.
    config.channel_binding = ChannelBindingPolicy::Require;
    let client = connect_with(&rt, config.clone()).await;
    assert!(uses_tls(&client).await);
    let who: String = client
        .query_scalar("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(who, apg_testkit::TLS_USER);
    // The role is refused without TLS (hostnossl ... reject).
    config.ssl_mode = SslMode::Disable;
    config.channel_binding = ChannelBindingPolicy::Prefer;
    let e = Client::connect(&config, Arc::clone(&rt)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Db, "{e}");
}

pub async fn tls_session_traffic(rt: Arc<dyn Runtime>) {
    let Some(ca) = ca() else { return };
    let client = connect_with(&rt, verified(ca.clone(), SslMode::VerifyFull)).await;
    // Results far larger than one TLS record and one read buffer.
    let rows = client
        .query(
            "SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 20_000);
    let long: String = client
        .query_scalar("SELECT repeat('y', 1000000)", &[])
        .await
        .unwrap();
    assert_eq!(long.len(), 1_000_000);
    // Parameters larger than the TLS send buffer: writes are partial.
    let big = "z".repeat(300_000);
    let n: i32 = client
        .query_scalar("SELECT length($1::text)", &[&big])
        .await
        .unwrap();
    assert_eq!(n, 300_000);

    // COPY in both directions.
    let t = unique_name("tls_copy");
    client
        .batch_execute(&format!("CREATE TEMP TABLE {t} (id int4, name text)"))
        .await
        .unwrap();
    let mut copy = client
        .copy_in(&format!("COPY {t} FROM STDIN (FORMAT csv)"))
        .await
        .unwrap();
    let text: String = (1..=20_000).map(|i| format!("{i},name {i}\n")).collect();
    copy.write(text.as_bytes()).await.unwrap();
    assert_eq!(copy.finish().await.unwrap(), 20_000);
    let out = client
        .copy_out(&format!("COPY {t} TO STDOUT (FORMAT csv)"))
        .await
        .unwrap();
    let mut out = out;
    let mut copied = 0;
    while let Some(chunk) = futures_util::StreamExt::next(&mut out).await {
        copied += chunk.unwrap().len();
    }
    assert_eq!(copied, text.len());

    // LISTEN / NOTIFY.
    let other = connect_with(&rt, verified(ca.clone(), SslMode::VerifyFull)).await;
    let channel = unique_name("tls_jobs");
    let mut listener = client.listen(&channel).await.unwrap();
    other
        .execute("SELECT pg_notify($1, 'over tls')", &[&channel])
        .await
        .unwrap();
    let n = within(&rt, 10, listener.recv()).await.unwrap();
    assert_eq!(n.payload, "over tls");
    drop(listener);

    // Cancel: the cancel connection negotiates TLS like the session.
    let token = client.cancel_token().unwrap();
    let slow = client.query("SELECT pg_sleep(30)", &[]);
    let cancel = async {
        rt.sleep(Duration::from_millis(300)).await;
        token.cancel().await
    };
    let (slow, cancelled) = futures_util::future::join(slow, cancel).await;
    cancelled.unwrap();
    assert_eq!(slow.unwrap_err().code(), Some(SqlState::QueryCanceled));
    assert!(uses_tls(&client).await);
}

pub async fn tls_pool(rt: Arc<dyn Runtime>) {
    let Some(ca) = ca() else { return };
    let pool = apg::Pool::builder(verified(ca, SslMode::VerifyFull))
        .max_size(2)
        .build(Arc::clone(&rt))
        .unwrap();
    for _ in 0..3 {
        let (a, b) = futures_util::future::join(pool.acquire(), pool.acquire()).await;
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(uses_tls(&a).await);
        assert!(uses_tls(&b).await);
        // A reconnection keeps the configured security.
        a.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())")
            .await
            .ok();
    }
    pool.close().await;
}

/// A directory for one test's revocation lists, removed with it.
struct CrlDir(PathBuf);

impl CrlDir {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(unique_name(&format!("apg_crl_{test}")));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Writes a list of `ca` revoking `serials`, as PEM or DER, and returns its path.
    fn write(&self, name: &str, ca: &std::path::Path, serials: &[u64], der: bool) -> PathBuf {
        let crl = apg_testkit::revocation_list(ca, serials).unwrap();
        let path = self.0.join(name);
        if der {
            std::fs::write(&path, crl.der).unwrap();
        } else {
            std::fs::write(&path, crl.pem).unwrap();
        }
        path
    }
}

impl Drop for CrlDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn tls_revocation_lists(rt: Arc<dyn Runtime>) {
    let Some(ca) = ca() else { return };
    // The authority's key is in this process only when it started the cluster.
    if apg_testkit::revocation_list(&ca, &[]).is_err() {
        eprintln!("skipped: the test cluster's authority cannot sign revocation lists");
        return;
    }
    let server = apg_testkit::SERVER_CERT_SERIAL;
    let dir = CrlDir::new("revocation");
    let revoked_pem = dir.write("revoked.crl", &ca, &[server, 7], false);
    let revoked_der = dir.write("revoked.der", &ca, &[server], true);
    let other_pem = dir.write("other.crl", &ca, &[7], false);
    let other_der = dir.write("other.der", &ca, &[server + 1], true);

    let revoked = |mode: SslMode, e: apg::Error| {
        assert_eq!(e.kind(), ErrorKind::Tls, "{mode}: {e}");
        assert!(e.to_string().contains("revoked"), "{mode}: {e}");
    };
    // Every mode that verifies the chain checks the lists: require does with a
    // root certificate.
    for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
        for file in [&revoked_pem, &revoked_der] {
            let config = verified(ca.clone(), mode).ssl_crl(file);
            let e = Client::connect(&config, Arc::clone(&rt)).await.unwrap_err();
            revoked(mode, e);
        }
    }
    // Lists that revoke other certificates let the connection through.
    for file in [&other_pem, &other_der] {
        let config = verified(ca.clone(), SslMode::VerifyFull).ssl_crl(file);
        let client = connect_with(&rt, config).await;
        assert!(uses_tls(&client).await);
    }
    // Without verification the lists are not consulted, as in libpq.
    let mut unverified = test_config().ssl_crl(&revoked_pem);
    unverified.ssl_mode = SslMode::Require;
    let client = connect_with(&rt, unverified).await;
    assert!(uses_tls(&client).await);

    // A directory: every file is read (a certificate in it is skipped).
    let other_dir = CrlDir::new("revocation_dir_other");
    std::fs::copy(&ca, other_dir.0.join("ca.pem")).unwrap();
    std::fs::copy(&other_pem, other_dir.0.join("1a2b3c4d.r0")).unwrap();
    let config = verified(ca.clone(), SslMode::VerifyFull).ssl_crl_dir(&other_dir.0);
    let client = connect_with(&rt, config).await;
    assert!(uses_tls(&client).await);
    let revoked_dir = CrlDir::new("revocation_dir_revoked");
    std::fs::copy(&ca, revoked_dir.0.join("ca.pem")).unwrap();
    std::fs::copy(&revoked_der, revoked_dir.0.join("5e6f7a8b.r0")).unwrap();
    let config = verified(ca.clone(), SslMode::VerifyFull).ssl_crl_dir(&revoked_dir.0);
    let e = Client::connect(&config, Arc::clone(&rt)).await.unwrap_err();
    revoked(SslMode::VerifyFull, e);
    // Both settings together are both read.
    let both = verified(ca.clone(), SslMode::VerifyFull)
        .ssl_crl(&revoked_pem)
        .ssl_crl_dir(&other_dir.0);
    let e = Client::connect(&both, Arc::clone(&rt)).await.unwrap_err();
    revoked(SslMode::VerifyFull, e);

    // From a URL, with the cancel request using the same checked settings.
    let url = format!(
        "postgresql://localhost:{}/?sslmode=verify-full&sslrootcert={}&sslcrl={}",
        test_server().port(),
        ca.display(),
        other_pem.display()
    );
    let mut config: Config = url.parse().unwrap();
    let base = test_config();
    config.user = base.user.clone();
    config.password = base.password.clone();
    config.dbname = base.dbname.clone();
    let client = connect_with(&rt, config).await;
    let token = client.cancel_token().unwrap();
    let slow = client.query("SELECT pg_sleep(30)", &[]);
    let cancel = async {
        rt.sleep(Duration::from_millis(300)).await;
        token.cancel().await
    };
    let (slow, cancelled) = futures_util::future::join(slow, cancel).await;
    cancelled.unwrap();
    assert_eq!(slow.unwrap_err().code(), Some(SqlState::QueryCanceled));
}

/// The TLS version of the session, as the server reports it.
async fn tls_version(client: &Client) -> String {
    ssl_version(client).await.expect("a TLS session")
}

pub async fn tls_protocol_versions(rt: Arc<dyn Runtime>) {
    let Some(ca) = ca() else { return };
    let config = verified(ca, SslMode::VerifyFull);
    // (minimum, maximum) and the version negotiated: a minimum older than TLS 1.2
    // means TLS 1.2, and the newest allowed is preferred.
    for (min, max, expected) in [
        (None, None, "TLSv1.3"),
        (None, Some(SslProtocolVersion::Tls1_2), "TLSv1.2"),
        (Some(SslProtocolVersion::Tls1), None, "TLSv1.3"),
        (Some(SslProtocolVersion::Tls1_3), None, "TLSv1.3"),
    ] {
        let mut c = config.clone();
        if let Some(min) = min {
            c = c.ssl_min_protocol_version(min);
        }
        if let Some(max) = max {
            c = c.ssl_max_protocol_version(max);
        }
        let client = connect_with(&rt, c).await;
        assert_eq!(tls_version(&client).await, expected, "{min:?}..{max:?}");
    }
    // An impossible range fails before connecting, as a configuration error.
    let e = Client::connect(
        &config
            .ssl_min_protocol_version(SslProtocolVersion::Tls1_3)
            .ssl_max_protocol_version(SslProtocolVersion::Tls1_2),
        Arc::clone(&rt),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
}

pub async fn tls_without_sni(rt: Arc<dyn Runtime>) {
    let Some(ca) = ca() else { return };
    // The name is still checked against the certificate; it is only not sent.
    let config = verified(ca, SslMode::VerifyFull).ssl_sni(false);
    let client = connect_with(&rt, config.clone()).await;
    assert!(uses_tls(&client).await);
    let mut wrong_name = config;
    wrong_name.hosts = vec![Host::Tcp("wrong.invalid".into())];
    wrong_name.hostaddrs = vec!["127.0.0.1".parse().unwrap()];
    let e = Client::connect(&wrong_name, Arc::clone(&rt))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("host name"), "{e}");
}
