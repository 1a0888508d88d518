//! What happens across processes: the shared cluster is cleaned up after its
//! test process exits (or is killed), and `APG_TEST_URL`/`DATABASE_URL` keep
//! anything from starting.
//!
//! The tests re-run this test binary with `child_helper` selected and
//! `APG_TESTKIT_CHILD` saying what to do, then watch from the outside.

use std::env;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use apg_testkit::{AuthMethod, Cluster, Error};

const CHILD_ENV: &str = "APG_TESTKIT_CHILD";
const EXPECTED_URL_ENV: &str = "APG_TESTKIT_EXPECTED_URL";
const MARKER: &str = "APG-CHILD";

/// Runs in the child processes only; a no-op in a normal test run.
#[test]
fn child_helper() {
    let Ok(role) = env::var(CHILD_ENV) else {
        return;
    };
    match role.as_str() {
        "shared" => {
            let server = apg_testkit::server().unwrap();
            assert!(!server.is_external());
            let cluster = server.cluster().unwrap();
            assert!(std::ptr::eq(cluster, Cluster::shared().unwrap()));
            assert_eq!(server.url(), cluster.url());
            assert_eq!(server.socket_dir(), Some(cluster.socket_dir()));
            assert_eq!(server.data_dir(), Some(cluster.data_dir()));
            assert_eq!(server.bindir(), Some(cluster.bindir()));
            assert_eq!(
                server.user(AuthMethod::Md5).unwrap().url(),
                cluster.user(AuthMethod::Md5).url()
            );
            assert_eq!(
                server.server_version_num().unwrap(),
                cluster.server_version_num()
            );
            let db = server.create_database().unwrap();
            server.execute_in(&db, "CREATE TABLE t (x int)").unwrap();
            report(cluster);
        }
        "killed" => {
            let cluster = Cluster::start().unwrap();
            report(&cluster);
            // Wait to be killed; the parent sends SIGKILL, so no destructor runs.
            thread::sleep(Duration::from_secs(120));
        }
        "external" => {
            let expected = env::var(EXPECTED_URL_ENV).unwrap();
            assert_eq!(
                apg_testkit::external_url().as_deref(),
                Some(expected.as_str())
            );
            let server = apg_testkit::server().unwrap();
            assert!(server.is_external());
            assert_eq!(server.url(), expected);
            assert_eq!((server.host(), server.port()), ("127.0.0.1", 1));
            assert!(server.url_for("other").contains("/other"));
            assert!(server.cluster().is_none());
            assert!(server.socket_dir().is_none());
            assert!(server.data_dir().is_none());
            assert!(server.user(AuthMethod::Scram).is_none());
            // Nothing listens on port 1: the failure is a connection error.
            let err = server.execute("SELECT 1").unwrap_err();
            assert!(matches!(err, Error::Io { .. }), "{err}");
            // And no cluster directory was ever created by this process.
            let prefix = format!("apg-testkit-{}-", std::process::id());
            let mine: Vec<_> = fs::read_dir(env::temp_dir())
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .collect();
            assert!(mine.is_empty(), "{mine:?}");
            println!("{MARKER} external ok");
        }
        "bad-bindir" => {
            let err = Cluster::start().unwrap_err();
            assert!(
                matches!(
                    &err,
                    Error::BinariesNotFound { explicit: Some(dir), .. }
                        if dir.as_path() == Path::new("/nonexistent/pg/bin")
                ),
                "{err}"
            );
            assert!(err.to_string().contains("APG_TEST_PG_BINDIR"), "{err}");
            println!("{MARKER} bad-bindir ok");
        }
        other => panic!("unknown {CHILD_ENV} {other:?}"),
    }
}

fn report(cluster: &Cluster) {
    println!(
        "{MARKER} pid={} root={}",
        cluster.pid().unwrap(),
        cluster.data_dir().parent().unwrap().display()
    );
    std::io::stdout().flush().unwrap();
}

fn child(role: &str) -> Command {
    let mut cmd = Command::new(env::current_exe().unwrap());
    cmd.args(["child_helper", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, role)
        .env_remove(apg_testkit::URL_ENV)
        .env_remove("DATABASE_URL");
    cmd
}

/// Parses the child's `APG-CHILD pid=<pid> root=<dir>` line.
fn parse_report(line: &str) -> Option<(u32, PathBuf)> {
    // libtest prints "test child_helper ... " on the same line first.
    let (_, rest) = line.split_once(MARKER)?;
    let rest = rest.trim();
    let (pid, root) = rest.strip_prefix("pid=")?.split_once(" root=")?;
    Some((pid.parse().ok()?, PathBuf::from(root)))
}

fn is_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

/// Live processes whose working directory is inside `dir` (the postmaster
/// and all its children run in the data directory).
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

/// Waits (the watchdog polls once a second) until the postmaster, every
/// process in the directory, and the directory itself are gone.
fn assert_cleaned_up(pid: u32, root: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = processes_in(root);
        if is_gone(pid) && left.is_empty() && !root.exists() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not cleaned up: postmaster {pid} gone: {}, processes left: {left:?}, {} exists: {}",
            is_gone(pid),
            root.display(),
            root.exists()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn shared_cluster_is_removed_after_the_process_exits() {
    let output = child("shared").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (pid, root) = stdout
        .lines()
        .find_map(parse_report)
        .unwrap_or_else(|| panic!("no report in:\n{stdout}"));
    assert_cleaned_up(pid, &root);
}

#[test]
fn cluster_of_a_killed_process_is_removed() {
    let mut process = child("killed")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = process.stdout.take().unwrap();
    let mut report = None;
    for line in BufReader::new(stdout).lines() {
        report = parse_report(&line.unwrap());
        if report.is_some() {
            break;
        }
    }
    process.kill().unwrap();
    process.wait().unwrap();
    let (pid, root) = report.expect("the child reported no cluster");
    assert_cleaned_up(pid, &root);
}

#[test]
fn database_url_bypasses_start_up() {
    let database_url = "postgres://someone@127.0.0.1:1/nowhere";
    let output = child("external")
        .env("DATABASE_URL", database_url)
        .env(EXPECTED_URL_ENV, database_url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("external ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // APG_TEST_URL wins over DATABASE_URL.
    let apg_url = "postgresql://tester@127.0.0.1:1/apg?sslmode=disable";
    let output = child("external")
        .env("DATABASE_URL", "postgres://ignored@127.0.0.1:2/x")
        .env(apg_testkit::URL_ENV, apg_url)
        .env(EXPECTED_URL_ENV, apg_url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("external ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn bindir_variable_is_not_second_guessed() {
    let output = child("bad-bindir")
        .env(apg_testkit::BINDIR_ENV, "/nonexistent/pg/bin")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("bad-bindir ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
