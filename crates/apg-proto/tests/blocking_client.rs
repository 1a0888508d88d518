//! The blocking example client (examples/blocking_client.rs) against the throwaway
//! cluster with each password method, and its failure modes: each must be an error
//! message, never a panic or a hang.

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use apg_testkit::{AuthMethod, Cluster};

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/blocking_client.rs"]
mod client;

fn run(args: &[&str]) -> Result<String, String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    client::run(&args, &mut out).map_err(|e| e.to_string())?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn each_password_method() {
    let cluster = Cluster::shared().unwrap();
    for method in [AuthMethod::Scram, AuthMethod::Md5, AuthMethod::Password] {
        let user = cluster.user(method);
        let out = run(&[
            &user.url_for("postgres"),
            "SELECT current_user, 1 + 1, NULL, 'a|b' FROM generate_series(1, 2)",
        ])
        .unwrap_or_else(|e| panic!("{method:?}: {e}"));
        let line = format!("{}|2||a|b\n", user.name());
        assert_eq!(out, line.repeat(2), "{method:?}");
    }
}

#[test]
fn failures_are_errors() {
    let cluster = Cluster::shared().unwrap();
    let user = cluster.user(AuthMethod::Scram);
    let url = user.url_for("postgres");
    let bad_password = url.replacen(user.password().unwrap(), "wrong", 1);
    let err = run(&[&bad_password, "SELECT 1"]).unwrap_err();
    assert!(err.contains("28P01"), "{err}");
    let err = run(&[&url, "SELECT 1/0"]).unwrap_err();
    assert!(err.contains("division by zero"), "{err}");
    assert!(run(&["mysql://x", "SELECT 1"])
        .unwrap_err()
        .contains("postgres://"));
    assert!(run(&["postgres://u@localhost:notaport/db", "SELECT 1"])
        .unwrap_err()
        .contains("invalid port"));
    // Nothing listens on a port we just released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = run(&[&format!("postgres://u@127.0.0.1:{port}/db"), "SELECT 1"]).unwrap_err();
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

/// A fake server on a loopback port that answers every connection with `bytes`, sent
/// `chunk` bytes at a time with `pause` in between.
fn fake_server(bytes: &'static [u8], chunk: usize, pause: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut socket, _)) = listener.accept() {
            for piece in bytes.chunks(chunk) {
                if socket.write_all(piece).is_err() {
                    return;
                }
                std::thread::sleep(pause);
            }
            std::thread::sleep(Duration::from_secs(5));
        }
    });
    port
}

#[test]
fn connect_timeout_bounds_a_trickling_server() {
    // ParameterStatus messages, one byte every 100 ms: never a ReadyForQuery in time.
    static TRICKLE: &[u8] =
        b"R\0\0\0\x08\0\0\0\0S\0\0\0\x14application_name\0\0S\0\0\0\x14application_name\0\0";
    let port = fake_server(TRICKLE, 1, Duration::from_millis(100));
    let start = Instant::now();
    let err = run(&[
        &format!("postgres://u@127.0.0.1:{port}/db?connect_timeout=1"),
        "SELECT 1",
    ])
    .unwrap_err();
    assert!(err.contains("timed out"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn malformed_server_bytes_and_closed_connections() {
    let port = fake_server(b"@RSYNCD: 31.0\n", 64, Duration::ZERO);
    let err = run(&[&format!("postgres://u@127.0.0.1:{port}/db"), "SELECT 1"]).unwrap_err();
    assert!(err.contains("protocol error"), "{err}");
    let port = fake_server(b"R\0\0\0\x08\0\0\0\0Z\0", 64, Duration::ZERO);
    // The server goes silent after a partial message, then closes: connection lost.
    let err = run(&[
        &format!("postgres://u@127.0.0.1:{port}/db?connect_timeout=2"),
        "SELECT 1",
    ])
    .unwrap_err();
    assert!(err.contains("timed out") || err.contains("lost"), "{err}");
}
