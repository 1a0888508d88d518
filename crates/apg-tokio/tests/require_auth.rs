//! `require_auth` against the testkit's role per authentication method,
//! `load_balance_hosts=random` over two entries for the same server, and
//! `tcp_user_timeout` reaching the runtime.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apg::config::{LoadBalanceHosts, SslMode};
use apg::runtime::TcpOptions;
use apg::{Client, Config, ErrorKind};
use apg_testkit::{AuthMethod, Cluster};

/// The cluster to test against, or `None` (test skipped) with an external server,
/// whose roles and authentication methods are unknown.
fn cluster() -> Option<&'static Cluster> {
    let cluster = apg_testkit::server().unwrap().cluster();
    if cluster.is_none() {
        eprintln!("skipped: needs a testkit cluster");
    }
    cluster
}

/// A TCP configuration for the role of `method`, with `require_auth` set.
fn config_for(cluster: &Cluster, method: AuthMethod, require_auth: &str) -> Config {
    let user = cluster.user(method);
    let mut config = Config::new()
        .host("127.0.0.1")
        .port(cluster.port())
        .user(user.name())
        .dbname("postgres")
        .require_auth(require_auth.parse().unwrap());
    if let Some(password) = user.password() {
        config = config.password(password);
    }
    config.connect_timeout = Some(Duration::from_secs(10));
    config
}

/// The error and its causes, as one string.
fn full_text(e: &apg::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(" / {cause}"));
        source = cause.source();
    }
    text
}

/// Connects and runs a query, or returns the connection error.
fn try_connect(config: &Config) -> Result<(), apg::Error> {
    let (rt, runtime) = support::runtime();
    rt.block_on(async {
        let client = Client::connect(config, runtime).await?;
        let one: i32 = client.query_scalar("SELECT 1", &[]).await?;
        assert_eq!(one, 1);
        client.close().await;
        Ok(())
    })
}

#[track_caller]
fn assert_refused(config: &Config, required: &str, reason: &str) {
    let e = try_connect(config).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{}", full_text(&e));
    let expected = format!("authentication method requirement \"{required}\" failed: {reason}");
    assert!(full_text(&e).contains(&expected), "{}", full_text(&e));
}

#[test]
fn scram_only() {
    let Some(cluster) = cluster() else { return };
    try_connect(&config_for(cluster, AuthMethod::Scram, "scram-sha-256")).unwrap();
    assert_refused(
        &config_for(cluster, AuthMethod::Md5, "scram-sha-256"),
        "scram-sha-256",
        "server requested a hashed password",
    );
    assert_refused(
        &config_for(cluster, AuthMethod::Password, "scram-sha-256"),
        "scram-sha-256",
        "server requested a cleartext password",
    );
    assert_refused(
        &config_for(cluster, AuthMethod::Trust, "scram-sha-256"),
        "scram-sha-256",
        "server did not complete authentication",
    );
}

#[test]
fn scram_without_tls_too() {
    let Some(cluster) = cluster() else { return };
    let config = config_for(cluster, AuthMethod::Scram, "scram-sha-256").ssl_mode(SslMode::Disable);
    try_connect(&config).unwrap();
}

#[test]
fn negated_methods() {
    let Some(cluster) = cluster() else { return };
    assert_refused(
        &config_for(cluster, AuthMethod::Password, "!password"),
        "!password",
        "server requested a cleartext password",
    );
    try_connect(&config_for(cluster, AuthMethod::Md5, "!password")).unwrap();
    try_connect(&config_for(cluster, AuthMethod::Trust, "!password")).unwrap();
    assert_refused(
        &config_for(cluster, AuthMethod::Md5, "!md5,!password"),
        "!md5,!password",
        "server requested a hashed password",
    );
    assert_refused(
        &config_for(cluster, AuthMethod::Trust, "!none"),
        "!none",
        "server did not complete authentication",
    );
    try_connect(&config_for(cluster, AuthMethod::Scram, "!none")).unwrap();
}

#[test]
fn none_connects_the_trust_role_only() {
    let Some(cluster) = cluster() else { return };
    try_connect(&config_for(cluster, AuthMethod::Trust, "none")).unwrap();
    for (method, reason) in [
        (
            AuthMethod::Password,
            "server requested a cleartext password",
        ),
        (AuthMethod::Md5, "server requested a hashed password"),
        (AuthMethod::Scram, "server requested SASL authentication"),
    ] {
        assert_refused(&config_for(cluster, method, "none"), "none", reason);
    }
}

#[test]
fn from_a_url() {
    let Some(cluster) = cluster() else { return };
    let url = format!(
        "{}?require_auth=md5,password&connect_timeout=10",
        cluster.user(AuthMethod::Md5).url()
    );
    try_connect(&url.parse().unwrap()).unwrap();
    let url = format!(
        "{}?require_auth=md5,password&connect_timeout=10",
        cluster.user(AuthMethod::Scram).url()
    );
    assert_refused(
        &url.parse().unwrap(),
        "md5,password",
        "server requested SASL authentication",
    );
}

#[test]
fn load_balance_hosts_uses_every_host() {
    let Some(cluster) = cluster() else { return };
    // The same server through its Unix socket and over TCP: `inet_client_addr()`
    // tells them apart.
    let mut config = Config::new()
        .host_path(cluster.socket_dir())
        .host("127.0.0.1")
        .port(cluster.port())
        .user(apg_testkit::SUPERUSER)
        .dbname("postgres")
        .load_balance_hosts(LoadBalanceHosts::Random);
    config.connect_timeout = Some(Duration::from_secs(10));
    let (rt, runtime) = support::runtime();
    let over_tcp = rt.block_on(async {
        let mut over_tcp = Vec::new();
        for _ in 0..24 {
            let client = Client::connect(&config, Arc::clone(&runtime))
                .await
                .unwrap();
            let tcp: bool = client
                .query_scalar("SELECT inet_client_addr() IS NOT NULL", &[])
                .await
                .unwrap();
            over_tcp.push(tcp);
            client.close().await;
        }
        over_tcp
    });
    // Each order has probability 1/2: all 24 alike would happen once in 8 million runs.
    assert!(over_tcp.contains(&true), "{over_tcp:?}");
    assert!(over_tcp.contains(&false), "{over_tcp:?}");

    // Without it, the first host is always used.
    config.load_balance_hosts = LoadBalanceHosts::Disable;
    let first_only = rt.block_on(async {
        let mut over_tcp = Vec::new();
        for _ in 0..4 {
            let client = Client::connect(&config, Arc::clone(&runtime))
                .await
                .unwrap();
            let tcp: bool = client
                .query_scalar("SELECT inet_client_addr() IS NOT NULL", &[])
                .await
                .unwrap();
            over_tcp.push(tcp);
            client.close().await;
        }
        over_tcp
    });
    assert_eq!(first_only, [false; 4]);
}

/// Tokio, recording the TCP options every connection is opened with.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn apg::Runtime>,
    options: Mutex<Vec<TcpOptions>>,
}

impl apg::Runtime for Recording {
    fn connect_tcp(
        &self,
        host: String,
        port: u16,
        options: TcpOptions,
    ) -> apg::BoxFuture<'static, std::io::Result<Box<dyn apg::AsyncStream>>> {
        self.options.lock().unwrap().push(options);
        self.inner.connect_tcp(host, port, options)
    }

    fn connect_tcp_peer(
        &self,
        host: String,
        port: u16,
        options: TcpOptions,
    ) -> apg::BoxFuture<'static, std::io::Result<apg::runtime::TcpConnected>> {
        self.options.lock().unwrap().push(options);
        self.inner.connect_tcp_peer(host, port, options)
    }

    #[cfg(unix)]
    fn connect_unix(
        &self,
        path: std::path::PathBuf,
    ) -> apg::BoxFuture<'static, std::io::Result<Box<dyn apg::AsyncStream>>> {
        self.inner.connect_unix(path)
    }

    fn spawn(&self, future: apg::BoxFuture<'static, ()>) {
        self.inner.spawn(future);
    }

    fn sleep(&self, duration: Duration) -> apg::BoxFuture<'static, ()> {
        self.inner.sleep(duration)
    }
}

#[test]
fn tcp_user_timeout_reaches_the_socket_options() {
    let Some(cluster) = cluster() else { return };
    let (rt, tokio) = support::runtime();
    let recording = Arc::new(Recording {
        inner: tokio,
        options: Mutex::new(Vec::new()),
    });
    let runtime: Arc<dyn apg::Runtime> = recording.clone();
    let config: Config = format!(
        "{}?tcp_user_timeout=4321&connect_timeout=10",
        cluster.user(AuthMethod::Trust).url()
    )
    .parse()
    .unwrap();
    rt.block_on(async {
        // The tokio adapter sets the option on the real socket (unit-tested in
        // apg's runtime module); the connection works with it.
        let client = Client::connect(&config, runtime).await.unwrap();
        let one: i32 = client.query_scalar("SELECT 1", &[]).await.unwrap();
        assert_eq!(one, 1);
        client.close().await;
    });
    let options = recording.options.lock().unwrap().clone();
    assert!(!options.is_empty());
    for options in options {
        assert_eq!(options.user_timeout, Some(Duration::from_millis(4321)));
        assert!(options.nodelay);
    }
}
