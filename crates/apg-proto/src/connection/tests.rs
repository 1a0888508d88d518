//! Tests of the request pipeline against the scripted [`FakeServer`].

use alloc::vec::Vec;

use super::{Config, Connection, Event, Outcome, Request, Response};
use crate::message::backend::TransactionStatus;
use crate::testing::FakeServer;

/// A connection past start-up, and its server.
fn connected() -> (Connection, FakeServer) {
    let mut conn = Connection::new(Config::new("alice")).unwrap();
    let mut server = FakeServer::new();
    let mut out = bytes::BytesMut::new();
    conn.write_to(&mut out);
    server.receive(&out).unwrap();
    server.accept();
    conn.receive(&server.take_output());
    conn.process().unwrap();
    while conn.poll_event().is_some() {}
    (conn, server)
}

fn events(conn: &mut Connection) -> Vec<Event> {
    core::iter::from_fn(|| conn.poll_event()).collect()
}

#[test]
fn ready_for_query_status_is_reported_to_its_request() {
    let (mut conn, mut server) = connected();
    let begin = conn.send(Request::query("BEGIN")).unwrap();
    let bad = conn.send(Request::query("SELECT 1/0")).unwrap();
    let mut out = bytes::BytesMut::new();
    conn.write_to(&mut out);
    server.receive(&out).unwrap();
    server
        .command_complete("BEGIN")
        .ready(TransactionStatus::InTransaction)
        .error("ERROR", "22012", "division by zero")
        .ready(TransactionStatus::Failed);
    // Both answers arrive in one read: each request still sees its own status, while
    // the connection-wide status is the last one.
    conn.receive(&server.take_output());
    conn.process().unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Failed);
    let statuses: Vec<_> = events(&mut conn)
        .into_iter()
        .filter_map(|e| match e {
            Event::Response {
                id,
                body: Response::ReadyForQuery(s),
            } => Some((id, s)),
            Event::RequestDone { id, outcome } => {
                assert_eq!(outcome == Outcome::Success, id == begin);
                None
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (begin, TransactionStatus::InTransaction),
            (bad, TransactionStatus::Failed)
        ]
    );
}

#[test]
fn ready_for_query_of_a_discarded_request_is_not_reported() {
    let (mut conn, mut server) = connected();
    let id = conn.send(Request::query("SELECT 1")).unwrap();
    conn.discard(id);
    let mut out = bytes::BytesMut::new();
    conn.write_to(&mut out);
    server.receive(&out).unwrap();
    server
        .row_description(&["x"])
        .data_row(&[Some("1")])
        .command_complete("SELECT 1")
        .ready(TransactionStatus::Idle);
    conn.receive(&server.take_output());
    conn.process().unwrap();
    assert!(events(&mut conn).is_empty());
    assert_eq!(conn.in_flight(), 0);
}
