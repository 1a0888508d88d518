//! TLS negotiation against misbehaving peers (the advisories of PROTOCOL-NOTES
//! section 2), a server that refuses TLS, client certificates and direct TLS.
//!
//! The peers that answer SSLRequest wrongly are small threads on a local socket: no
//! real server sends `S` followed by plain text, which is exactly what a man in the
//! middle does.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use apg::config::{ChannelBindingPolicy, Host, SslMode, SslNegotiation, SslRootCert};
use apg::{Client, Config, ErrorKind};
use apg_testkit::Cluster;

/// SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// An ErrorResponse with `text` as its message.
fn error_response(text: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (code, value) in [(b'S', "FATAL"), (b'C', "28000"), (b'M', text)] {
        body.push(code);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = vec![b'E'];
    message.extend_from_slice(&(u32::try_from(body.len()).unwrap() + 4).to_be_bytes());
    message.extend_from_slice(&body);
    message
}

/// A peer that reads the SSLRequest, writes `answer` in one piece, and returns what
/// the client sent afterwards (until it closed, or for at most two seconds).
fn fake_server(answer: Vec<u8>) -> (u16, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut request = [0u8; 8];
        socket.read_exact(&mut request).unwrap();
        assert_eq!(request, SSL_REQUEST);
        socket.write_all(&answer).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut rest = Vec::new();
        let _ = socket.read_to_end(&mut rest);
        rest
    });
    (port, handle)
}

fn config_for(port: u16, mode: SslMode) -> Config {
    let mut config = Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("postgres")
        .dbname("postgres")
        .ssl_mode(mode);
    config.connect_timeout = Some(Duration::from_secs(10));
    config
}

/// The error and its causes, as one string.
fn full_text(e: &apg::Error) -> String {
    let mut text = format!("{e} / {e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(" / {cause} / {cause:?}"));
        source = cause.source();
    }
    text
}

#[test]
fn plain_text_after_the_ssl_answer_is_refused() {
    // CVE-2021-23222: `S` and a forged message in one segment.
    let (rt, runtime) = support::runtime();
    let mut answer = b"S".to_vec();
    answer.extend_from_slice(&error_response("forged"));
    let (port, server) = fake_server(answer);
    let e = rt
        .block_on(Client::connect(
            &config_for(port, SslMode::Require),
            runtime,
        ))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(full_text(&e).contains("unexpected data after"), "{e:?}");
    assert!(!full_text(&e).contains("forged"), "{e:?}");
    // No TLS handshake was started over the stuffed connection.
    assert_eq!(server.join().unwrap(), b"");
}

#[test]
fn an_error_answer_to_ssl_request_is_not_shown() {
    // CVE-2024-10977: the text comes from an unauthenticated peer.
    let (rt, runtime) = support::runtime();
    for mode in [SslMode::Prefer, SslMode::Require] {
        let (port, server) = fake_server(error_response("please visit evil.example"));
        let e = rt
            .block_on(Client::connect(
                &config_for(port, mode),
                Arc::clone(&runtime),
            ))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        assert!(!full_text(&e).contains("evil"), "{e:?}");
        assert_eq!(server.join().unwrap(), b"");
    }
}

#[test]
fn require_fails_when_the_server_refuses_tls() {
    let (rt, runtime) = support::runtime();
    let (port, server) = fake_server(b"N".to_vec());
    let e = rt
        .block_on(Client::connect(
            &config_for(port, SslMode::Require),
            runtime,
        ))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("refused"), "{e}");
    // Nothing, in particular no StartupMessage, was sent in plain text.
    assert_eq!(server.join().unwrap(), b"");
}

/// Relays `client` to the server on `port`, sending `first` (bytes already read from
/// the client) ahead of the rest, until either side closes.
fn relay(client: TcpStream, first: &[u8], port: u16) {
    let server = TcpStream::connect(("127.0.0.1", port)).unwrap();
    (&server).write_all(first).unwrap();
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
        let _ = s2.shutdown(std::net::Shutdown::Write);
    });
    let (mut client, mut server) = (client, server);
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Write);
}

/// A front for `port` that relays every connection and records its first eight bytes
/// (an SSLRequest, or a CancelRequest code); with `refuse_tls` it answers `N` to
/// SSLRequest itself and relays what follows.
fn proxy(port: u16, refuse_tls: bool) -> (u16, Arc<std::sync::Mutex<Vec<[u8; 8]>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let front = listener.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let mut first = [0u8; 8];
                if client.read_exact(&mut first).is_err() {
                    return;
                }
                log.lock().unwrap().push(first);
                if refuse_tls && first == SSL_REQUEST {
                    client.write_all(b"N").unwrap();
                    relay(client, &[], port);
                } else {
                    relay(client, &first, port);
                }
            });
        }
    });
    (front, seen)
}

#[test]
fn cancel_requests_use_the_session_tls() {
    let Some(cluster) = apg_testkit::server().unwrap().cluster() else {
        return;
    };
    let (rt, runtime) = support::runtime();
    let (front, seen) = proxy(cluster.port(), false);
    rt.block_on(async {
        let client = Client::connect(&config_for(front, SslMode::Require), runtime)
            .await
            .unwrap();
        client.cancel_token().unwrap().cancel().await.unwrap();
        client.close().await;
    });
    // The session, then the cancel connection: both start with SSLRequest, so the
    // cancel key never crosses the network in plain text.
    assert_eq!(*seen.lock().unwrap(), [SSL_REQUEST, SSL_REQUEST]);
}

#[test]
fn prefer_continues_in_plain_text_when_tls_is_refused() {
    let Some(cluster) = apg_testkit::server().unwrap().cluster() else {
        return;
    };
    let (rt, runtime) = support::runtime();
    let (front, _) = proxy(cluster.port(), true);
    rt.block_on(async {
        let client = Client::connect(&config_for(front, SslMode::Prefer), Arc::clone(&runtime))
            .await
            .unwrap();
        let ssl: bool = client
            .query_scalar(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert!(!ssl);
        let e = Client::connect(&config_for(front, SslMode::Require), runtime)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    });
}

#[test]
fn channel_binding_require_needs_tls() {
    let Some(cluster) = apg_testkit::server().unwrap().cluster() else {
        return;
    };
    let (rt, runtime) = support::runtime();
    let user = cluster.user(apg_testkit::AuthMethod::Scram);
    let mut config = config_for(cluster.port(), SslMode::Disable)
        .user(user.name())
        .password(user.password().unwrap());
    config.channel_binding = ChannelBindingPolicy::Require;
    let e = rt
        .block_on(Client::connect(&config, Arc::clone(&runtime)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    // Over TLS the same role binds its SCRAM exchange to the channel.
    config.ssl_mode = SslMode::Require;
    rt.block_on(Client::connect(&config, runtime)).unwrap();
}

fn verified(cluster: &Cluster, mode: SslMode) -> Config {
    let mut config = config_for(cluster.port(), mode);
    config.hosts = vec![Host::Tcp("localhost".into())];
    config.ssl_root_cert = cluster.ca_cert_path().map(SslRootCert::File);
    config
}

#[test]
fn client_certificate_login() {
    let Some(cluster) = apg_testkit::server().unwrap().cluster() else {
        return;
    };
    let Some((cert, key)) = cluster.client_cert() else {
        return;
    };
    let (rt, runtime) = support::runtime();
    let mut config = verified(cluster, SslMode::VerifyFull).user(apg_testkit::CERT_USER);
    // Without a certificate the server refuses the role.
    let e = rt
        .block_on(Client::connect(&config, Arc::clone(&runtime)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Db, "{e}");
    config = config.ssl_cert(cert).ssl_key(key);
    rt.block_on(async {
        let client = Client::connect(&config, runtime).await.unwrap();
        let who: String = client
            .query_scalar("SELECT current_user::text", &[])
            .await
            .unwrap();
        assert_eq!(who, apg_testkit::CERT_USER);
    });
    // A key file that holds no key.
    let mut broken = config;
    broken.ssl_key = cluster.ca_cert_path();
    let e = rt
        .block_on(Client::connect(&broken, support::runtime().1))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[test]
fn direct_tls() {
    let Some(cluster) = apg_testkit::server().unwrap().cluster() else {
        return;
    };
    let (rt, runtime) = support::runtime();
    // Direct TLS is only allowed where it cannot fall back to plain text.
    let mut config = verified(cluster, SslMode::Prefer);
    config.ssl_negotiation = SslNegotiation::Direct;
    let e = rt
        .block_on(Client::connect(&config, Arc::clone(&runtime)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    if cluster.server_version_num() < 170_000 {
        eprintln!(
            "skipped: direct TLS needs PostgreSQL 17 or later (server {}; set \
             APG_TEST_PG_BINDIR to a newer build)",
            cluster.server_version()
        );
        return;
    }
    // Without a root certificate require checks nothing, but ALPN is still offered.
    let mut unverified = config.clone();
    unverified.ssl_mode = SslMode::Require;
    unverified.ssl_root_cert = None;
    rt.block_on(Client::connect(&unverified, Arc::clone(&runtime)))
        .unwrap();
    for mode in [SslMode::Require, SslMode::VerifyFull] {
        config.ssl_mode = mode;
        let tls_user = config
            .clone()
            .user(apg_testkit::TLS_USER)
            .password(apg_testkit::TLS_PASSWORD)
            .channel_binding(ChannelBindingPolicy::Require);
        rt.block_on(async {
            for config in [&config, &tls_user] {
                let client = Client::connect(config, Arc::clone(&runtime)).await.unwrap();
                let ssl: bool = client
                    .query_scalar(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .await
                    .unwrap();
                assert!(ssl, "{mode}");
                // The cancel connection is direct TLS too.
                client.cancel_token().unwrap().cancel().await.unwrap();
            }
        });
    }
}

/// A stream that moves at most a few bytes per call and is `Pending` every other
/// call: TLS records then arrive and leave in pieces at every boundary.
struct Trickle {
    inner: Box<dyn apg::AsyncStream>,
    calls: usize,
}

impl Trickle {
    /// Whether this call stalls; otherwise how many bytes it may move (1 to 7).
    fn step(&mut self, cx: &mut std::task::Context<'_>) -> Option<usize> {
        self.calls += 1;
        if self.calls % 2 == 0 {
            cx.waker().wake_by_ref();
            return None;
        }
        Some(1 + self.calls % 7)
    }
}

impl futures_io::AsyncRead for Trickle {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let Some(n) = self.step(cx) else {
            return std::task::Poll::Pending;
        };
        let n = n.min(buf.len());
        std::pin::Pin::new(&mut *self.inner).poll_read(cx, &mut buf[..n])
    }
}

impl futures_io::AsyncWrite for Trickle {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let Some(n) = self.step(cx) else {
            return std::task::Poll::Pending;
        };
        let n = n.min(buf.len());
        std::pin::Pin::new(&mut *self.inner).poll_write(cx, &buf[..n])
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.inner).poll_close(cx)
    }
}

/// Tokio, with every TCP connection trickling.
#[derive(Debug)]
struct TrickleRuntime(Arc<dyn apg::Runtime>);

impl apg::Runtime for TrickleRuntime {
    fn connect_tcp(
        &self,
        host: String,
        port: u16,
        options: apg::runtime::TcpOptions,
    ) -> apg::BoxFuture<'static, std::io::Result<Box<dyn apg::AsyncStream>>> {
        let connect = self.0.connect_tcp(host, port, options);
        Box::pin(async move {
            let inner = connect.await?;
            Ok(Box::new(Trickle { inner, calls: 0 }) as Box<dyn apg::AsyncStream>)
        })
    }

    #[cfg(unix)]
    fn connect_unix(
        &self,
        path: std::path::PathBuf,
    ) -> apg::BoxFuture<'static, std::io::Result<Box<dyn apg::AsyncStream>>> {
        self.0.connect_unix(path)
    }

    fn spawn(&self, future: apg::BoxFuture<'static, ()>) {
        self.0.spawn(future);
    }

    fn sleep(&self, duration: Duration) -> apg::BoxFuture<'static, ()> {
        self.0.sleep(duration)
    }
}

#[test]
fn tls_survives_tiny_reads_and_writes() {
    let Some(cluster) = apg_testkit::server().unwrap().cluster() else {
        return;
    };
    let (rt, tokio) = support::runtime();
    let runtime: Arc<dyn apg::Runtime> = Arc::new(TrickleRuntime(tokio));
    let config = verified(cluster, SslMode::VerifyFull)
        .user(apg_testkit::TLS_USER)
        .password(apg_testkit::TLS_PASSWORD)
        .channel_binding(ChannelBindingPolicy::Require);
    rt.block_on(async {
        let client = Client::connect(&config, runtime).await.unwrap();
        // Several records each way, split everywhere.
        let text = "t".repeat(40_000);
        let back: String = client
            .query_scalar("SELECT $1::text || 'x'", &[&text])
            .await
            .unwrap();
        assert_eq!(back.len(), 40_001);
        let rows = client
            .query("SELECT g FROM generate_series(1, 2000) g", &[])
            .await
            .unwrap();
        assert_eq!(rows.len(), 2000);
        client.close().await;
    });
}

/// Channel binding with certificates whose signature hash is not SHA-256 (the hash
/// must follow the signature, RFC 5929) or is undefined (Ed25519: no binding, and
/// `channel_binding=require` must fail rather than fall back; pgjdbc CVE-2026-54291).
#[test]
fn channel_binding_follows_the_certificate_signature() {
    if apg_testkit::external_url().is_some() {
        return;
    }
    let start = |signature| {
        thread::spawn(move || Cluster::builder().tls_signature(signature).start().unwrap())
    };
    let p384 = start(apg_testkit::TlsSignature::EcdsaP384Sha384);
    let ed25519 = start(apg_testkit::TlsSignature::Ed25519);
    let (p384, ed25519) = (p384.join().unwrap(), ed25519.join().unwrap());
    let (rt, runtime) = support::runtime();
    let login = |cluster: &Cluster, binding| {
        verified(cluster, SslMode::VerifyFull)
            .user(apg_testkit::TLS_USER)
            .password(apg_testkit::TLS_PASSWORD)
            .channel_binding(binding)
    };
    rt.block_on(async {
        // SHA-384: the server computes the same hash, or it would refuse the proof.
        Client::connect(
            &login(&p384, ChannelBindingPolicy::Require),
            Arc::clone(&runtime),
        )
        .await
        .unwrap();
        let e = Client::connect(
            &login(&ed25519, ChannelBindingPolicy::Require),
            Arc::clone(&runtime),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
        assert!(full_text(&e).contains("tls-server-end-point"), "{e:?}");
        // `prefer` uses plain SCRAM (flag `n`), which the server accepts.
        Client::connect(&login(&ed25519, ChannelBindingPolicy::Prefer), runtime)
            .await
            .unwrap();
    });
}

/// The session gets TLS through the proxy; the cancel connection is answered `N`
/// (an active attacker): with `prefer`, the key must still not go out in plain text.
#[test]
fn cancel_is_not_downgraded_when_the_session_used_tls() {
    let Some(cluster) = apg_testkit::server().unwrap().cluster() else {
        return;
    };
    let port = cluster.port();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let front = listener.local_addr().unwrap().port();
    let plain_cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&plain_cancel);
    thread::spawn(move || {
        for (i, client) in listener.incoming().enumerate() {
            let Ok(mut client) = client else { return };
            let flag = Arc::clone(&flag);
            thread::spawn(move || {
                let mut first = [0u8; 8];
                if client.read_exact(&mut first).is_err() {
                    return;
                }
                if i > 0 && first == SSL_REQUEST {
                    client.write_all(b"N").unwrap();
                    let mut next = [0u8; 8];
                    if client.read_exact(&mut next).is_ok() {
                        // Length 16 + cancel code 80877102: the key in plain text.
                        flag.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    return;
                }
                relay(client, &first, port);
            });
        }
    });
    let (rt, runtime) = support::runtime();
    rt.block_on(async {
        let client = Client::connect(&config_for(front, SslMode::Prefer), runtime)
            .await
            .unwrap();
        let e = client.cancel_token().unwrap().cancel().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        client.close().await;
    });
    assert!(!plain_cancel.load(std::sync::atomic::Ordering::SeqCst));
}

/// The ClientHello the client sends for `config` to a peer that accepts SSLRequest.
fn client_hello(mut config: Config) -> Vec<u8> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut request = [0u8; 8];
        socket.read_exact(&mut request).unwrap();
        assert_eq!(request, SSL_REQUEST);
        socket.write_all(b"S").unwrap();
        // One TLS record: a 5-byte header with the length last.
        let mut header = [0u8; 5];
        socket.read_exact(&mut header).unwrap();
        let mut hello = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
        socket.read_exact(&mut hello).unwrap();
        hello
    });
    config.hosts = vec![Host::Tcp("localhost".into())];
    config.hostaddrs = vec!["127.0.0.1".parse().unwrap()];
    config.ports = vec![port];
    let (rt, runtime) = support::runtime();
    // The peer closes after the hello: the handshake fails.
    assert!(rt.block_on(Client::connect(&config, runtime)).is_err());
    peer.join().unwrap()
}

#[test]
fn sslsni_decides_whether_the_host_name_is_sent() {
    let sent = |hello: &[u8]| hello.windows(9).any(|w| w == b"localhost");
    let config = config_for(0, SslMode::Require);
    assert!(sent(&client_hello(config.clone())));
    assert!(!sent(&client_hello(config.ssl_sni(false))));
}

#[test]
fn a_minimum_the_server_does_not_reach_fails() {
    if apg_testkit::external_url().is_some() {
        return;
    }
    let cluster = Cluster::builder()
        .setting("ssl_max_protocol_version", "TLSv1.2")
        .start()
        .unwrap();
    let (rt, runtime) = support::runtime();
    let config = verified(&cluster, SslMode::VerifyFull);
    rt.block_on(async {
        let client = Client::connect(&config, Arc::clone(&runtime))
            .await
            .unwrap();
        let version: String = client
            .query_scalar(
                "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(version, "TLSv1.2");
        let e = Client::connect(
            &config.ssl_min_protocol_version(apg::config::SslProtocolVersion::Tls1_3),
            runtime,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        assert!(
            e.to_string().contains("between TLSv1.3 and TLSv1.3"),
            "{e:?}"
        );
    });
}
