//! A blocking PostgreSQL client over `std::net::TcpStream`, using only apg-proto: the
//! proof that the core needs no runtime. The I/O loop is in `common/mod.rs`.
//!
//! ```text
//! blocking_client [postgres://user:password@host:port/database[?connect_timeout=N]] 'SQL'
//! ```
//!
//! With only the SQL it starts a throwaway cluster (apg-testkit). It runs the SQL with
//! the extended protocol and prints each row's values as text, `|`-separated, one row per
//! line. Any failure exits non-zero with the error's message.

mod common;

use std::error::Error;
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Instant;

use apg_proto::connection::{Connection, Event, Response};

#[allow(dead_code)] // the integration test includes this file and calls `run`
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args, &mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the client with command-line `args`, printing rows to `out`.
pub(crate) fn run(args: &[String], out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    let (url, sql) = match args {
        [sql] => (apg_testkit::server()?.url(), sql),
        [url, sql] => (url.clone(), sql),
        _ => return Err("usage: blocking_client [postgres://user:pw@host:port/db] 'SQL'".into()),
    };
    let target = common::Target::parse(&url)?;
    let deadline = target.connect_timeout.map(|t| Instant::now() + t);
    let mut socket = target.connect()?;
    let mut conn = Connection::new(target.config()?)?;

    // Sent right away: the core holds it until start-up is complete.
    let mut req = conn.extended()?;
    req.parse("", sql, &[])?;
    req.bind("", "", &[], &[], &[])?;
    req.describe_portal("")?;
    req.execute("", 0)?;
    let query = req.finish()?;

    common::run(
        &mut socket,
        &mut conn,
        deadline,
        |_: &mut Connection, event| {
            match event {
                Event::Response {
                    body: Response::DataRow(row),
                    ..
                } => {
                    let fields: Vec<String> = row
                        .iter()
                        .map(|f| f.map(String::from_utf8_lossy).unwrap_or_default().into())
                        .collect();
                    writeln!(out, "{}", fields.join("|"))?;
                }
                Event::Response {
                    body: Response::Error(e),
                    ..
                } => return Err(e.into()),
                Event::RequestDone { id, .. } if id == query => return Ok(ControlFlow::Break(())),
                _ => {}
            }
            Ok(ControlFlow::Continue(()))
        },
    )
}
