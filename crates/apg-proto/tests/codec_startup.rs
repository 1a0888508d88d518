//! The message codec alone against a real server: a StartupMessage written by hand with
//! the codec over a raw socket, and every message read back decoded until ReadyForQuery.

use std::io::{Read, Write};
use std::net::TcpStream;

use apg_proto::message::backend::{Authentication, BackendMessage, TransactionStatus};
use apg_proto::message::frontend::{ProtocolVersion, Query, StartupMessage, Terminate};
use apg_proto::message::{split_frame, Message, DEFAULT_MAX_MESSAGE_LEN};
use apg_testkit::AuthMethod;
use bytes::BytesMut;

fn read_until_ready(socket: &mut TcpStream, buf: &mut BytesMut) -> Vec<BackendMessage> {
    let mut messages = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(frame) = split_frame(buf, DEFAULT_MAX_MESSAGE_LEN).unwrap() {
            let message = BackendMessage::decode(frame).unwrap();
            let ready = matches!(message, BackendMessage::ReadyForQuery(_));
            messages.push(message);
            if ready {
                return messages;
            }
        }
        let n = socket.read(&mut chunk).unwrap();
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn startup_and_query_with_the_codec_alone() {
    let cluster = apg_testkit::Cluster::shared().unwrap();
    let user = cluster.user(AuthMethod::Trust);
    let mut socket = TcpStream::connect((cluster.host(), cluster.port())).unwrap();
    let mut out = BytesMut::new();
    StartupMessage {
        version: ProtocolVersion::V3_0,
        params: vec![
            ("user".into(), user.name().into()),
            ("database".into(), "postgres".into()),
            ("application_name".into(), "codec test".into()),
        ],
    }
    .encode(&mut out)
    .unwrap();
    socket.write_all(&out).unwrap();

    let mut buf = BytesMut::new();
    let messages = read_until_ready(&mut socket, &mut buf);
    assert!(matches!(
        messages.first(),
        Some(BackendMessage::Authentication(Authentication::Ok))
    ));
    let params: Vec<(&str, &str)> = messages
        .iter()
        .filter_map(|m| match m {
            BackendMessage::ParameterStatus(p) => Some((p.name.as_str(), p.value.as_str())),
            _ => None,
        })
        .collect();
    let version = params
        .iter()
        .find(|(n, _)| *n == "server_version")
        .unwrap()
        .1;
    assert!(version.starts_with(&(cluster.server_version_num() / 10_000).to_string()));
    assert!(params.contains(&("application_name", "codec test")));
    assert!(messages
        .iter()
        .any(|m| matches!(m, BackendMessage::BackendKeyData(k) if k.secret_key.len() == 4)));
    assert!(matches!(
        messages.last(),
        Some(BackendMessage::ReadyForQuery(z)) if z.status == TransactionStatus::Idle
    ));

    out.clear();
    Query {
        sql: "SELECT 1 AS one, NULL AS none".into(),
    }
    .encode(&mut out)
    .unwrap();
    socket.write_all(&out).unwrap();
    let messages = read_until_ready(&mut socket, &mut buf);
    let names: Vec<&str> = messages.iter().map(BackendMessage::name).collect();
    assert_eq!(
        names,
        [
            "RowDescription",
            "DataRow",
            "CommandComplete",
            "ReadyForQuery"
        ]
    );
    let BackendMessage::DataRow(row) = &messages[1] else {
        unreachable!()
    };
    assert_eq!(row.iter().collect::<Vec<_>>(), [Some(&b"1"[..]), None]);

    out.clear();
    Terminate.encode(&mut out).unwrap();
    socket.write_all(&out).unwrap();
}
