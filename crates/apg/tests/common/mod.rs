//! What the integration suite needs from its environment: the server to test against.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use apg::config::Host;
use apg::{Client, Config, Runtime};

/// The server the suite runs against. The one place to change when the suite moves to
/// a throwaway cluster from apg-testkit.
pub fn test_url() -> String {
    std::env::var("APG_TEST_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/postgres".to_owned())
}

/// A directory holding the test server's Unix socket, if there is one to test.
pub fn socket_dir() -> Option<PathBuf> {
    std::env::var_os("APG_TEST_SOCKET_DIR").map(PathBuf::from)
}

/// [`test_url`] as a [`Config`].
///
/// A minimal `postgres://user[:password]@host[:port][/dbname]` reader: enough for the
/// suite until `Config` parses URLs itself.
pub fn test_config() -> Config {
    let url = test_url();
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .expect("APG_TEST_URL starts with postgres://");
    let (auth, rest) = rest.split_once('@').unwrap_or(("", rest));
    let (hostport, dbname) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    let mut config = Config::new();
    config.hosts = vec![Host::Tcp(host.to_owned())];
    config.ports = vec![port.parse().expect("port is a number")];
    let (user, password) = match auth.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (auth, None),
    };
    if !user.is_empty() {
        config.user = Some(user.to_owned());
    }
    config.password = password.map(|p| p.as_bytes().to_vec());
    let dbname = dbname.split('?').next().unwrap_or("");
    if !dbname.is_empty() {
        config.dbname = Some(dbname.to_owned());
    }
    config.connect_timeout = Some(Duration::from_secs(10));
    config
}

/// A connection to the test server.
pub async fn connect(rt: &Arc<dyn Runtime>) -> Client {
    connect_with(rt, test_config()).await
}

/// A connection with a modified configuration.
pub async fn connect_with(rt: &Arc<dyn Runtime>, config: Config) -> Client {
    Client::connect(&config, Arc::clone(rt))
        .await
        .expect("connect to the test server")
}

/// A table name no other test (or test process) uses.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
