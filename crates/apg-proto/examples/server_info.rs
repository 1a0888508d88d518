//! Connects with the sans-IO core over a blocking socket, prints what the server reports
//! about itself during start-up, and runs one query.
//!
//! ```text
//! cargo run -p apg-proto --example server_info
//! ```
//!
//! Uses `DATABASE_URL` when set (`postgres://user:password@host:port/database`), and
//! otherwise starts a throwaway PostgreSQL cluster with apg-testkit.

mod common;

use std::error::Error;
use std::ops::ControlFlow;

use apg_proto::connection::{Connection, Event, Request, Response};

fn main() -> Result<(), Box<dyn Error>> {
    let server = apg_testkit::server()?;
    let target = common::Target::parse(&server.url())?;
    println!(
        "server: {} at {}:{}",
        if server.is_external() {
            "DATABASE_URL"
        } else {
            "throwaway cluster"
        },
        target.host,
        target.port
    );
    let mut socket = target.connect()?;
    let mut config = target.config()?;
    config.application_name = Some("apg server_info example".into());
    let mut conn = Connection::new(config)?;
    // Sent before start-up finishes: the core holds it until the session is ready.
    let query = conn.send(Request::query(
        "SELECT current_user, current_database(), pg_backend_pid(), \
         (SELECT count(*) FROM pg_catalog.pg_type) AS types",
    ))?;

    let mut columns = Vec::new();
    common::run(
        &mut socket,
        &mut conn,
        None,
        |conn: &mut Connection, event| {
            match event {
                Event::Connected => {
                    let version = conn.protocol_version();
                    println!(
                    "connected: protocol {}.{}, server_version_num {:?}, transaction status {:?}",
                    version.major,
                    version.minor,
                    conn.server_version_num(),
                    conn.transaction_status(),
                );
                    if let Some(key) = conn.backend_key() {
                        println!("backend process id: {}", key.process_id);
                    }
                    println!("session parameters:");
                    for (name, value) in conn.server_parameters() {
                        println!("  {name:<32} {value}");
                    }
                }
                Event::Notice(n) => println!("notice: {}", n.message().unwrap_or("")),
                Event::Response { body, .. } => match body {
                    Response::RowDescription(t) => {
                        columns = t.fields.iter().map(|f| f.name.clone()).collect();
                    }
                    Response::DataRow(row) => {
                        println!("query result:");
                        for (name, value) in columns.iter().zip(row.iter()) {
                            let value = value.map(String::from_utf8_lossy).unwrap_or_default();
                            println!("  {name:<32} {value}");
                        }
                    }
                    Response::Error(e) => return Err(e.into()),
                    _ => {}
                },
                Event::RequestDone { id, .. } if id == query => return Ok(ControlFlow::Break(())),
                _ => {}
            }
            Ok(ControlFlow::Continue(()))
        },
    )
}
