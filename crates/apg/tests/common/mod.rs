//! What the integration suite needs from its environment: the server to test against.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use apg::{Client, Config, Runtime};

/// The server the suite runs against: `APG_TEST_URL` / `DATABASE_URL` when set, a
/// throwaway cluster from apg-testkit otherwise.
pub fn test_server() -> &'static apg_testkit::Server {
    apg_testkit::server().expect("a PostgreSQL server to test against")
}

/// The test server's URL.
pub fn test_url() -> String {
    test_server().url()
}

/// A directory holding the test server's Unix socket (throwaway clusters only).
pub fn socket_dir() -> Option<PathBuf> {
    test_server().socket_dir().map(Path::to_path_buf)
}

/// [`test_url`] as a [`Config`].
pub fn test_config() -> Config {
    let mut config: Config = test_url().parse().expect("the test URL parses");
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
