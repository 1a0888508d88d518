//! Starting, using, stopping and dropping clusters, and logging in as each role.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use apg_testkit::{AuthMethod, Cluster, StopMode};

/// Whether `pid` has exited. A zombie counts as exited: orphaned postmasters
/// are re-parented to PID 1, which does not reap them in every container.
fn is_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

/// Processes (other than zombies) whose working directory is inside `dir`:
/// the postmaster and all its children change into the data directory.
fn processes_in(dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cwd) = fs::read_link(entry.path().join("cwd")) {
            if cwd.starts_with(dir) && !is_gone(pid) {
                pids.push(pid);
            }
        }
    }
    pids
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn root_of(cluster: &Cluster) -> PathBuf {
    cluster.data_dir().parent().unwrap().to_path_buf()
}

fn scalar(cluster: &Cluster, sql: &str) -> Option<String> {
    cluster.query(sql).unwrap()[0][0].clone()
}

#[test]
fn shared_cluster_runs_sql_in_fresh_databases() {
    let cluster = Cluster::shared().unwrap();
    assert!(std::ptr::eq(cluster, Cluster::shared().unwrap()));
    assert!(cluster.is_running());
    assert!(cluster.server_version_num() >= 120_000);
    assert!(cluster
        .server_version()
        .starts_with(&(cluster.server_version_num() / 10_000).to_string()));
    assert_eq!(cluster.host(), "127.0.0.1");
    assert_eq!(
        cluster.url(),
        format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port())
    );
    assert!(cluster
        .socket_dir()
        .join(format!(".s.PGSQL.{}", cluster.port()))
        .exists());
    assert!(cluster.bindir().join("initdb").exists());
    assert!(cluster.data_dir().join("PG_VERSION").exists());

    // The light settings are in effect.
    for (name, value) in [
        ("max_connections", "200"),
        ("fsync", "off"),
        ("synchronous_commit", "off"),
        ("full_page_writes", "off"),
        ("listen_addresses", "127.0.0.1"),
        ("TimeZone", "UTC"),
        ("server_encoding", "UTF8"),
        ("lc_messages", "C"),
    ] {
        assert_eq!(
            scalar(cluster, &format!("SHOW {name}")).as_deref(),
            Some(value),
            "{name}"
        );
    }

    // SHOW lc_collate is gone since PostgreSQL 16; the catalogue has it.
    assert_eq!(
        scalar(
            cluster,
            "SELECT datcollate FROM pg_database WHERE datname = current_database()"
        )
        .as_deref(),
        Some("C")
    );

    let db = cluster.create_database().unwrap();
    cluster
        .execute_in(
            &db,
            "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2), (NULL)",
        )
        .unwrap();
    assert_eq!(
        cluster
            .query_in(&db, "SELECT sum(x), count(*) - count(x) FROM t")
            .unwrap(),
        vec![vec![Some("3".to_owned()), Some("1".to_owned())]]
    );
    assert!(cluster.url_for(&db).ends_with(&format!("/{db}")));

    // Another database does not see the table.
    let other = cluster.create_database().unwrap();
    assert_ne!(db, other);
    let err = cluster.query_in(&other, "SELECT * FROM t").unwrap_err();
    assert_eq!(err.db_error().unwrap().code, "42P01", "{err}");
    cluster.drop_database(&other).unwrap();
    let err = cluster.execute_in(&other, "SELECT 1").unwrap_err();
    assert_eq!(err.db_error().unwrap().code, "3D000", "{err}");

    // A database owned by a non-superuser role, which may create tables in it.
    let role = AuthMethod::Scram.role();
    let owned = cluster.create_database_owned_by(role).unwrap();
    assert_eq!(
        scalar(
            cluster,
            &format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{owned}'")
        )
        .as_deref(),
        Some(role)
    );
    cluster
        .execute_in(
            &owned,
            &format!("SET ROLE {role}; CREATE TABLE mine (x int)"),
        )
        .unwrap();

    // Server errors come back typed.
    let err = cluster.execute("SELEC 1").unwrap_err();
    let db_error = err.db_error().unwrap();
    assert_eq!(
        (db_error.severity.as_str(), db_error.code.as_str()),
        ("ERROR", "42601")
    );
    assert!(err.to_string().contains("syntax error"), "{err}");
}

/// psql from the cluster's own bindir, else from PATH.
fn psql(cluster: &Cluster) -> Option<PathBuf> {
    let own = cluster.bindir().join("psql");
    if own.exists() {
        return Some(own);
    }
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join("psql"))
        .find(|p| p.exists())
}

fn run_psql(psql: &Path, conninfo: &str, password: Option<&str>) -> Output {
    let mut cmd = Command::new(psql);
    cmd.args(["-X", "-A", "-t", "-w", "-c", "select 1", "-d", conninfo])
        .env("PGPASSFILE", "/nonexistent/apg-testkit-pgpass")
        .env("PGCONNECT_TIMEOUT", "10");
    for var in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGSSLMODE",
        "PGOPTIONS",
        "PGSERVICE",
        "PGPASSWORD",
    ] {
        cmd.env_remove(var);
    }
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    cmd.output().unwrap()
}

#[test]
fn every_role_logs_in_with_psql() {
    let cluster = Cluster::shared().unwrap();
    let Some(psql) = psql(cluster) else {
        eprintln!("note: psql is not installed; skipping the psql login checks");
        return;
    };
    let port = cluster.port();
    let socket_dir = cluster.socket_dir().display().to_string();
    let mut logins: Vec<(String, Option<&str>, &str)> = Vec::new();
    for (user, password) in AuthMethod::ALL
        .iter()
        .map(|m| (m.role(), m.password()))
        .chain([(apg_testkit::SUPERUSER, None)])
    {
        for address in ["127.0.0.1", socket_dir.as_str()] {
            logins.push((
                format!("host={address} port={port} user={user} dbname=postgres sslmode=disable"),
                password,
                user,
            ));
        }
    }
    for method in AuthMethod::ALL {
        logins.push((
            format!("{}?sslmode=disable", cluster.user(method).url()),
            None, // the URL carries the password
            method.role(),
        ));
    }
    logins.push((
        format!("{}&sslmode=disable", cluster.socket_url_for("postgres")),
        None,
        apg_testkit::SUPERUSER,
    ));

    for (conninfo, password, user) in &logins {
        let out = run_psql(&psql, conninfo, *password);
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "1",
            "{user} via {conninfo:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if password.is_some() {
            let out = run_psql(&psql, conninfo, Some("wrong-password"));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() && stderr.contains("password authentication failed"),
                "{user} via {conninfo:?} with a wrong password: {stderr}"
            );
        }
    }
}

#[test]
fn server_runs_unprivileged_when_the_tests_run_as_root() {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let field = |status: &str, name: &str| -> String {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let euid = field(&status, "Uid:")
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    if euid != "0" {
        eprintln!("note: not running as root; nothing to check");
        return;
    }
    let cluster = Cluster::shared().unwrap();
    let server = fs::read_to_string(format!("/proc/{}/status", cluster.pid().unwrap())).unwrap();
    let uids: Vec<String> = field(&server, "Uid:")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(uids.len(), 4);
    assert!(uids.iter().all(|u| u != "0"), "server uids {uids:?}");
    // Root's supplementary groups must not carry over to the server.
    let ours: Vec<String> = field(&status, "Groups:")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let theirs = field(&server, "Groups:");
    for group in theirs.split_whitespace() {
        assert!(
            group != "0" && !ours.iter().any(|g| g == group),
            "server has supplementary group {group} (ours: {ours:?})"
        );
    }
    use std::os::unix::fs::MetadataExt;
    let owner = fs::metadata(cluster.data_dir()).unwrap().uid();
    assert_eq!(owner.to_string(), uids[0]);
}

#[test]
fn two_clusters_run_side_by_side_and_drop_cleans_up() {
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(Cluster::start);
        let b = s.spawn(Cluster::start);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    a.execute("CREATE TABLE only_in_a (x int)").unwrap();
    assert_eq!(scalar(&b, "SELECT to_regclass('only_in_a')::text"), None);
    assert_eq!(
        scalar(&a, "SELECT to_regclass('only_in_a')::text").as_deref(),
        Some("only_in_a")
    );

    let pid = a.pid().unwrap();
    let root = root_of(&a);
    assert!(!processes_in(&root).is_empty());
    drop(a);
    assert!(is_gone(pid), "postmaster {pid} still running");
    assert!(!root.exists(), "{} still exists", root.display());
    assert_eq!(processes_in(&root), Vec::<u32>::new());

    // The other one is unaffected.
    assert_eq!(scalar(&b, "SELECT 1").as_deref(), Some("1"));
}

#[test]
fn stop_restart_reload_and_pg_ctl() {
    let cluster = Cluster::builder()
        .setting("max_prepared_transactions", "5")
        .setting("application_name", "it's quoted")
        .start()
        .unwrap();
    assert_eq!(
        scalar(&cluster, "SHOW max_prepared_transactions").as_deref(),
        Some("5")
    );
    let port = cluster.port();
    let first = cluster.pid().unwrap();
    let status = cluster.pg_ctl(["status"]).unwrap();
    assert!(String::from_utf8_lossy(&status.stdout).contains("server is running"));

    // Stop: the postmaster is gone and clients cannot connect.
    cluster.stop().unwrap();
    assert!(!cluster.is_running());
    assert!(is_gone(first));
    assert!(cluster.execute("SELECT 1").is_err());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(matches!(
        cluster.pg_ctl(["status"]),
        Err(apg_testkit::Error::Command { .. })
    ));
    cluster.stop().unwrap(); // stopping a stopped server is fine
    assert!(cluster.reload().is_err());

    // Restart: same port, new postmaster.
    cluster.restart().unwrap();
    assert_eq!(cluster.port(), port);
    let second = cluster.pid().unwrap();
    assert_ne!(first, second);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    // An immediate stop is a crash; data committed with synchronous_commit on
    // survives recovery (the testkit's default, off, may lose the last commits).
    cluster
        .execute(
            "SET synchronous_commit = on; CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)",
        )
        .unwrap();
    cluster.stop_with(StopMode::Immediate).unwrap();
    assert!(is_gone(second));
    cluster.restart().unwrap();
    assert_eq!(
        scalar(&cluster, "SELECT x FROM kept").as_deref(),
        Some("42")
    );
    assert!(cluster
        .read_log()
        .unwrap()
        .contains("not properly shut down"));

    // Reload picks up ALTER SYSTEM.
    cluster
        .execute("ALTER SYSTEM SET work_mem = '7MB'")
        .unwrap();
    cluster.reload().unwrap();
    wait_for("work_mem is reloaded", Duration::from_secs(10), || {
        scalar(&cluster, "SHOW work_mem").as_deref() == Some("7MB")
    });

    // A postmaster started by hand through pg_ctl is stopped on drop too.
    cluster.pg_ctl(["stop", "-m", "fast", "-w"]).unwrap();
    assert!(!cluster.is_running());
    let log = cluster.log_path().to_path_buf();
    cluster
        .pg_ctl([
            "start".as_ref(),
            "-w".as_ref(),
            "-l".as_ref(),
            log.as_os_str(),
        ])
        .unwrap();
    let third = cluster.pid().unwrap();
    assert_eq!(
        scalar(&cluster, "SELECT x FROM kept").as_deref(),
        Some("42")
    );
    let root = root_of(&cluster);
    drop(cluster);
    assert!(is_gone(third), "postmaster {third} still running");
    assert!(!root.exists());
    assert_eq!(processes_in(&root), Vec::<u32>::new());
}

#[test]
fn bad_options_fail_before_anything_starts() {
    let err = Cluster::builder()
        .setting("port", "5432")
        .start()
        .unwrap_err();
    assert!(matches!(err, apg_testkit::Error::InvalidInput(_)), "{err}");
    let err = Cluster::builder()
        .bindir("/nonexistent/bin")
        .start()
        .unwrap_err();
    assert!(
        matches!(err, apg_testkit::Error::BinariesNotFound { .. }),
        "{err}"
    );
    // A setting the server rejects: start-up fails with the log's explanation.
    let err = Cluster::builder()
        .setting("no_such_setting_at_all", "1")
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("no_such_setting_at_all"), "{err}");
}

#[test]
fn external_servers_are_reached_with_each_login() {
    use apg_testkit::Server;
    let cluster = Cluster::shared().unwrap();
    for method in AuthMethod::ALL {
        let user = cluster.user(method);
        let server = Server::from_url(&user.url()).unwrap();
        assert!(server.is_external());
        assert_eq!(server.url(), user.url());
        assert_eq!(
            server.query("SELECT current_user").unwrap(),
            vec![vec![Some(method.role().to_owned())]],
            "{method}"
        );
        assert_eq!(
            server.server_version_num().unwrap(),
            cluster.server_version_num()
        );
        // The roles may not create databases.
        let err = server.create_database().unwrap_err();
        assert_eq!(err.db_error().unwrap().code, "42501", "{err}");
    }

    // key=value form over the Unix socket, as the superuser.
    let conninfo = format!(
        "host={} port={} user=postgres dbname=postgres",
        cluster.socket_dir().display(),
        cluster.port()
    );
    let server = Server::from_url(&conninfo).unwrap();
    let db = server.create_database().unwrap();
    assert_eq!(
        server.query_in(&db, "SELECT current_database()").unwrap()[0][0].as_deref(),
        Some(db.as_str())
    );
    server.drop_database(&db).unwrap();

    // A wrong password is the server's error; TLS is refused up front.
    let wrong = Server::from_url(&format!(
        "postgres://{}:nope@127.0.0.1:{}/postgres",
        AuthMethod::Scram.role(),
        cluster.port()
    ))
    .unwrap();
    let err = wrong.execute("SELECT 1").unwrap_err();
    assert_eq!(err.db_error().unwrap().code, "28P01", "{err}");
    let tls = Server::from_url(&format!("{}?sslmode=require", cluster.url())).unwrap();
    assert!(matches!(
        tls.execute("SELECT 1"),
        Err(apg_testkit::Error::Unsupported(_))
    ));
}
