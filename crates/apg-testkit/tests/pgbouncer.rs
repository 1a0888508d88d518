//! PgBouncer in front of a throwaway cluster: it starts, answers through both
//! pool modes, and goes away when dropped.

use apg_testkit::{Cluster, PgBouncer, PoolMode};

fn installed() -> bool {
    let found = PgBouncer::is_installed();
    if !found {
        eprintln!("skipped: PgBouncer is not installed (apt-get install pgbouncer)");
    }
    found
}

#[test]
fn answers_queries_in_both_modes_and_stops_on_drop() {
    if !installed() {
        return;
    }
    let cluster = Cluster::shared().unwrap();
    for mode in [PoolMode::Session, PoolMode::Transaction] {
        let bouncer = PgBouncer::start(cluster, mode).unwrap();
        assert_eq!(bouncer.pool_mode(), mode);
        assert!(bouncer.is_running());
        let rows = bouncer.query("SELECT 1, current_setting('port')").unwrap();
        assert_eq!(rows[0][0].as_deref(), Some("1"));
        assert_eq!(rows[0][1], Some(cluster.port().to_string()));
        assert!(bouncer.url().starts_with(&format!(
            "postgres://postgres@127.0.0.1:{}/",
            bouncer.port()
        )));
        let port = bouncer.port();
        drop(bouncer);
        // Nothing listens on its port any more.
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}

#[test]
fn server_errors_come_through() {
    if !installed() {
        return;
    }
    let bouncer = PgBouncer::start(Cluster::shared().unwrap(), PoolMode::Transaction).unwrap();
    let err = bouncer.query("SELECT 1/0").unwrap_err();
    assert_eq!(
        err.db_error().map(|e| e.code.as_str()),
        Some("22012"),
        "{err}"
    );
    // The connection is still usable after the error.
    assert_eq!(
        bouncer.query("SELECT 2").unwrap()[0][0].as_deref(),
        Some("2")
    );
    assert!(bouncer.read_log().unwrap().contains("listening"));
}
