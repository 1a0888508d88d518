//! PgBouncer in front of a throwaway cluster: it starts, answers through both
//! pool modes, and goes away when dropped.

use std::env;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use apg_testkit::{Cluster, PgBouncer, PoolMode};

const CHILD_ENV: &str = "APG_TESTKIT_PGBOUNCER_CHILD";
const MARKER: &str = "APG-PGBOUNCER-CHILD";

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
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}

#[test]
fn builder_sets_the_pool_size() {
    if !installed() {
        return;
    }
    let bouncer = PgBouncer::builder(PoolMode::Session)
        .pool_size(7)
        .start(Cluster::shared().unwrap())
        .unwrap();
    assert_eq!(bouncer.pool_mode(), PoolMode::Session);
    assert_eq!(
        bouncer.query("SELECT 1").unwrap()[0][0].as_deref(),
        Some("1")
    );
    let log = bouncer.read_log().unwrap();
    assert!(log.contains("listening"), "{log}");
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

/// Runs in the child process of `killed_test_process_takes_pgbouncer_along` only.
#[test]
fn child_helper() {
    if env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let bouncer = PgBouncer::start(Cluster::shared().unwrap(), PoolMode::Session).unwrap();
    println!("{MARKER} {} {}", bouncer.port(), bouncer.pid().unwrap());
    // Wait to be killed; the parent sends SIGKILL, so no destructor runs.
    thread::sleep(Duration::from_secs(120));
}

#[test]
fn killed_test_process_takes_pgbouncer_along() {
    if !installed() {
        return;
    }
    let mut child = Command::new(env::current_exe().unwrap())
        .args(["--exact", "child_helper", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains(MARKER))
        .expect("the child reports its PgBouncer");
    let mut words = line.rsplit(' ');
    let pid: u32 = words.next().unwrap().parse().unwrap();
    let port: u16 = words.next().unwrap().parse().unwrap();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let gone = |pid: u32| match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        Err(_) => true,
    };
    while !gone(pid) {
        assert!(
            Instant::now() < deadline,
            "PgBouncer {pid} outlived its test process"
        );
        thread::sleep(Duration::from_millis(100));
    }
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    let prefix = format!("apg-testkit-pgbouncer-{}-", child.id());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = std::fs::read_dir("/tmp")
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&prefix));
        if !left {
            break;
        }
        assert!(Instant::now() < deadline, "its directory was not deleted");
        thread::sleep(Duration::from_millis(100));
    }
}
