//! Throwaway PostgreSQL servers for apg's tests, examples and benchmarks.
//!
//! On a machine with PostgreSQL installed and nothing configured,
//! [`server()`] starts a private cluster the first time a process asks for one
//! (about a second), hands out its address, and has it stopped and deleted once
//! the process has exited. When `APG_TEST_URL` or `DATABASE_URL` is set, nothing
//! is started and that server is used instead.
//!
//! ```no_run
//! // In a test:
//! let server = apg_testkit::server()?;
//! let db = server.create_database()?; // a fresh database for this test only
//! server.execute_in(&db, "CREATE TABLE t (id int PRIMARY KEY, name text)")?;
//! let url = server.url_for(&db); // postgres://postgres@127.0.0.1:<port>/<db>
//! // ... connect with the client under test ...
//! # Ok::<(), apg_testkit::Error>(())
//! ```
//!
//! Tests that stop, restart or reconfigure the server take a [`Cluster`] of
//! their own, which goes away when dropped:
//!
//! ```no_run
//! use apg_testkit::{AuthMethod, Cluster, StopMode};
//!
//! let cluster = Cluster::builder().setting("max_connections", "20").start()?;
//! let user = cluster.user(AuthMethod::Scram); // also Trust, Password, Md5
//! // ... connect as user.url() ...
//! cluster.stop_with(StopMode::Immediate)?; // the client should see the crash
//! cluster.restart()?; // same port
//! # Ok::<(), apg_testkit::Error>(())
//! ```
//!
//! # Environment
//!
//! | variable | effect |
//! |---|---|
//! | `APG_TEST_URL`, else `DATABASE_URL` | use this server; [`server()`] starts nothing |
//! | `APG_TEST_PG_BINDIR` | directory with `initdb`, `postgres` and `pg_ctl` (e.g. an unpacked PostgreSQL 12–18 build); otherwise `PATH`, `pg_config --bindir` and `/usr/lib/postgresql/*/bin` are searched |
//! | `TMPDIR` | where cluster directories are created |
//! | `APG_TEST_PGBOUNCER` | the `pgbouncer` binary for [`PgBouncer`]; otherwise `PATH`, `/usr/sbin` and `/usr/local/bin` are searched |
//!
//! When the tests run as root, the server programs run as the `postgres` user
//! (or a system user `apg-testkit`, created on first use), because PostgreSQL
//! refuses to run as root.
//!
//! Clusters accept TLS by default, with certificates of a throwaway authority
//! ([`Cluster::ca_cert_path`]) and roles that must use it ([`TLS_USER`],
//! [`CERT_USER`]); [`ClusterBuilder::tls`] turns that off.
//!
//! The crate talks to the server through a small client of its own (plain
//! text, no TLS), deliberately independent of `apg-proto`, so the harness keeps
//! working while the code under test is broken. It is Unix-only.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)
)]

mod bindir;
mod bouncer;
mod cluster;
mod crypto;
mod error;
mod privs;
mod process;
mod scram;
mod server;
mod tls;
mod url;
mod users;
mod wire;

pub use bindir::BINDIR_ENV;
pub use bouncer::{PgBouncer, PgBouncerBuilder, PoolMode, DEFAULT_POOL_SIZE, PGBOUNCER_ENV};
pub use cluster::{Cluster, ClusterBuilder, StopMode, DEFAULT_START_TIMEOUT};
pub use error::{DbError, Error};
pub use server::{external_url, server, Server, URL_ENV};
pub use tls::{
    revocation_list, RevocationList, TlsSignature, CERT_USER, SERVER_CERT_SERIAL, TLS_PASSWORD,
    TLS_USER,
};
pub use users::{AuthMethod, User, CLEARTEXT_PASSWORD, MD5_PASSWORD, SCRAM_PASSWORD, SUPERUSER};

/// One result row: each column as text, `None` for SQL NULL.
///
/// ```no_run
/// let rows: Vec<apg_testkit::Row> = apg_testkit::server()?.query("SELECT 'a', NULL")?;
/// assert_eq!(rows[0], [Some("a".to_string()), None]);
/// # Ok::<(), apg_testkit::Error>(())
/// ```
pub type Row = Vec<Option<String>>;

/// Quotes an SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A name no other call, process or machine is likely to pick:
/// `<prefix>_<pid>_<counter>_<random>`, well under PostgreSQL's 63 bytes.
pub(crate) fn unique_name(prefix: &str) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // RandomState is seeded randomly per thread and stepped per instance.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(n);
    let random = hasher.finish() & 0xff_ffff;
    format!("{prefix}_{}_{n}_{random:06x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("simple"), "\"simple\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn unique_names_differ() {
        let a = unique_name("apg_test");
        let b = unique_name("apg_test");
        assert_ne!(a, b);
        assert!(a.len() < 63);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'));
    }
}
