//! Transcript tests: scripted server bytes in, client bytes and events out, for every
//! flow of the state machine. Each transcript is also replayed with the server bytes
//! split at every byte boundary and in random chunks: the events must not change.

use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::auth::scram::ChannelBindingPolicy;
use crate::error::DbError;
use crate::message::backend::{
    Authentication, BackendKeyData, CopyInResponse, CopyOutResponse, EmptyQueryResponse,
    NegotiateProtocolVersion, NoData, NotificationResponse, ParseComplete, PortalSuspended,
    TransactionStatus,
};
use crate::message::frontend::{FrontendMessage, StartupPacket};
use crate::message::{CopyData, CopyDone, Format};
use crate::testing::{error_fields, FakeServer, Received};

fn config() -> Config {
    let mut c = Config::new("alice");
    c.database = Some("db".into());
    c.password = Some(b"pencil".to_vec());
    c.scram_nonce = Some([7; 24]);
    c
}

/// Moves everything the client wants to send to the server and decodes it.
fn sent(conn: &mut Connection, server: &mut FakeServer) -> Vec<Received> {
    let mut out = Vec::new();
    while let Some(bytes) = conn.poll_transmit() {
        out.extend_from_slice(bytes);
        let n = bytes.len();
        conn.advance_transmit(n);
    }
    server.receive(&out).expect("client sent valid messages")
}

/// Feeds the server's output to the client in one piece, and checks on clones that
/// feeding it one byte at a time, or split at any point, ends in the same state: every
/// transcript test is also a chunking test.
fn deliver(conn: &mut Connection, server: &mut FakeServer) -> Result<(), Error> {
    let bytes = server.take_output();
    let before = conn.clone();
    conn.receive(&bytes);
    let result = conn.process();
    let expected = observable(conn);
    let mut splits: Vec<Vec<usize>> = vec![vec![1; bytes.len()]];
    if bytes.len() <= 2048 {
        splits.extend((1..bytes.len()).map(|at| vec![at, bytes.len() - at]));
    }
    for sizes in splits {
        let mut other = before.clone();
        let mut rest = &bytes[..];
        let mut other_result = Ok(());
        for size in sizes {
            let (piece, tail) = rest.split_at(size);
            rest = tail;
            other.receive(piece);
            other_result = other.process();
            if other_result.is_err() {
                break;
            }
        }
        assert_eq!(other_result, result);
        assert_eq!(observable(&other), expected);
    }
    result
}

/// Everything a caller can see of a connection.
fn observable(conn: &Connection) -> impl PartialEq + core::fmt::Debug {
    (
        conn.events.clone(),
        conn.send.to_vec(),
        conn.phase,
        conn.error.clone(),
        conn.transaction_status,
        conn.params.clone(),
        conn.in_flight(),
    )
}

fn events(conn: &mut Connection) -> Vec<Event> {
    core::iter::from_fn(|| conn.poll_event()).collect()
}

/// A connection past a trust start-up, and its server.
fn connected() -> (Connection, FakeServer) {
    let mut conn = Connection::new(config()).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server.accept();
    deliver(&mut conn, &mut server).unwrap();
    events(&mut conn);
    (conn, server)
}

fn messages(received: Vec<Received>) -> Vec<FrontendMessage> {
    received
        .into_iter()
        .map(|r| match r {
            Received::Message(m) => m,
            Received::Startup(p) => panic!("unexpected start-up packet {p:?}"),
        })
        .collect()
}

fn response_kinds(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match e {
            Event::Response { body, .. } => match body {
                Response::ParseComplete => "1",
                Response::BindComplete => "2",
                Response::CloseComplete => "3",
                Response::ParameterDescription(_) => "t",
                Response::RowDescription(_) => "T",
                Response::NoData => "n",
                Response::DataRow(_) => "D",
                Response::CommandComplete(_) => "C",
                Response::EmptyQuery => "I",
                Response::PortalSuspended => "s",
                Response::CopyIn(_) => "G",
                Response::CopyOut(_) => "H",
                Response::CopyData(_) => "d",
                Response::CopyDone => "c",
                Response::Error(_) => "E",
                Response::ReadyForQuery(_) => "Z",
            },
            Event::RequestDone { .. } => "done",
            Event::Notification(_) => "A",
            Event::Notice(_) => "N",
            Event::ParameterStatus { .. } => "S",
            Event::Connected => "connected",
            Event::StartTls => "starttls",
            Event::Closed(_) => "closed",
        })
        .collect()
}

fn outcomes(events: &[Event]) -> Vec<(RequestId, Outcome)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::RequestDone { id, outcome } => Some((*id, *outcome)),
            _ => None,
        })
        .collect()
}

// ---- start-up -----------------------------------------------------------------------

#[test]
fn trust_startup() {
    let mut conn = Connection::new(config()).unwrap();
    let mut server = FakeServer::new();
    let received = sent(&mut conn, &mut server);
    let [Received::Startup(StartupPacket::Startup(startup))] = &received[..] else {
        panic!("{received:?}");
    };
    assert_eq!(startup.version, ProtocolVersion::V3_0);
    assert_eq!(
        startup.params,
        vec![
            ("user".to_string(), "alice".to_string()),
            ("database".to_string(), "db".to_string()),
            ("client_encoding".to_string(), "UTF8".to_string()),
        ]
    );
    assert!(conn.wants_read());
    server.accept();
    deliver(&mut conn, &mut server).unwrap();
    let ev = events(&mut conn);
    assert_eq!(ev.last(), Some(&Event::Connected));
    assert_eq!(conn.phase(), Phase::Ready);
    assert_eq!(conn.server_version_num(), Some(150_018));
    assert_eq!(conn.server_parameter("TimeZone"), Some("Etc/UTC"));
    assert_eq!(conn.backend_key().unwrap().process_id, 4242);
    let cancel = conn.cancel_request().unwrap();
    assert_eq!(&cancel.secret_key[..], &[1, 2, 3, 4]);
    assert!(!conn.wants_read());
}

#[test]
fn notice_during_startup_is_an_event() {
    let mut conn = Connection::new(config()).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server
        .send(Authentication::Ok)
        .notice("WARNING", "01000", "debug noise")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(response_kinds(&events(&mut conn)), ["N", "connected"]);
}

#[test]
fn cleartext_password() {
    let mut conn = Connection::new(config()).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server.send(Authentication::CleartextPassword);
    deliver(&mut conn, &mut server).unwrap();
    let [FrontendMessage::AuthenticationResponse(r)] = &messages(sent(&mut conn, &mut server))[..]
    else {
        panic!()
    };
    assert_eq!(&r.clone().into_password().unwrap().password[..], b"pencil");
    server.accept();
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(conn.phase(), Phase::Ready);
}

#[test]
fn md5_password() {
    let mut conn = Connection::new(config()).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server.send(Authentication::Md5Password {
        salt: [0x01, 0x02, 0x03, 0x04],
    });
    deliver(&mut conn, &mut server).unwrap();
    let [FrontendMessage::AuthenticationResponse(r)] = &messages(sent(&mut conn, &mut server))[..]
    else {
        panic!()
    };
    // python3: "md5" + md5(md5(b"pencil" + b"alice").hexdigest().encode() + b"\x01\x02\x03\x04").hexdigest()
    let expected = crate::auth::md5::password_hash(b"alice", b"pencil", [1, 2, 3, 4]);
    assert_eq!(
        &r.clone().into_password().unwrap().password[..],
        &expected[..]
    );
}

#[test]
fn wrong_password_is_the_servers_error() {
    let mut conn = Connection::new(config()).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server.send(Authentication::CleartextPassword);
    deliver(&mut conn, &mut server).unwrap();
    sent(&mut conn, &mut server);
    server.error(
        "FATAL",
        "28P01",
        "password authentication failed for user \"alice\"",
    );
    let Err(Error::Db(e)) = deliver(&mut conn, &mut server) else {
        panic!()
    };
    assert_eq!(e.code(), "28P01");
    assert_eq!(conn.phase(), Phase::Closed);
    assert!(matches!(
        events(&mut conn).last(),
        Some(Event::Closed(Some(Error::Db(_))))
    ));
    // Sticky.
    assert!(matches!(conn.process(), Err(Error::Db(_))));
    assert_eq!(
        conn.send(Request::query("SELECT 1")),
        Err(UsageError::Closed)
    );
}

#[test]
fn password_required() {
    let mut c = config();
    c.password = None;
    let mut conn = Connection::new(c).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server.send(Authentication::CleartextPassword);
    assert_eq!(
        deliver(&mut conn, &mut server),
        Err(Error::PasswordRequired)
    );
}

#[test]
fn unsupported_methods_are_refused() {
    for (auth, method) in [
        (Authentication::Gss, "GSSAPI"),
        (Authentication::Sspi, "SSPI"),
        (Authentication::KerberosV5, "Kerberos V5"),
        (Authentication::ScmCredential, "SCM credentials"),
    ] {
        let mut conn = Connection::new(config()).unwrap();
        let mut server = FakeServer::new();
        sent(&mut conn, &mut server);
        server.send(auth);
        assert_eq!(
            deliver(&mut conn, &mut server),
            Err(Error::UnsupportedAuthentication { method })
        );
    }
}

#[test]
fn channel_binding_required_refuses_every_other_method_before_sending() {
    let offers: Vec<Authentication> = vec![
        Authentication::Ok,
        Authentication::CleartextPassword,
        Authentication::Md5Password { salt: [1, 2, 3, 4] },
        Authentication::Sasl {
            mechanisms: vec!["SCRAM-SHA-256".into()],
        },
        Authentication::Sasl {
            mechanisms: vec!["SCRAM-SHA-256-PLUS".into(), "SCRAM-SHA-256".into()],
        },
    ];
    for auth in offers {
        let mut c = config();
        c.channel_binding = ChannelBindingPolicy::Require;
        let mut conn = Connection::new(c).unwrap();
        let mut server = FakeServer::new();
        sent(&mut conn, &mut server);
        server.send(auth.clone());
        assert!(
            deliver(&mut conn, &mut server).is_err(),
            "{auth:?} accepted"
        );
        // Not one byte of a password went out.
        assert!(conn.poll_transmit().is_none(), "{auth:?} sent something");
    }
}

/// The server side of SCRAM-SHA-256, for transcripts.
mod scram_server {
    use alloc::string::String;
    use alloc::vec::Vec;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// Hi() of RFC 5802, written out independently of the client's.
    fn hi(password: &[u8], salt: &[u8], i: u32) -> [u8; 32] {
        let mut u = hmac(password, &[salt, &1u32.to_be_bytes()].concat());
        let mut out = u;
        for _ in 1..i {
            u = hmac(password, &u);
            for (o, x) in out.iter_mut().zip(u) {
                *o ^= x;
            }
        }
        out
    }

    pub(super) struct ScramServer {
        pub(super) password: &'static [u8],
        pub(super) salt: &'static [u8],
        pub(super) iterations: u32,
        client_first_bare: String,
        server_first: String,
    }

    impl ScramServer {
        pub(super) fn new(password: &'static [u8]) -> Self {
            Self {
                password,
                salt: b"saltsaltsalt",
                iterations: 4096,
                client_first_bare: String::new(),
                server_first: String::new(),
            }
        }

        pub(super) fn server_first(&mut self, client_first: &[u8]) -> Vec<u8> {
            let text = core::str::from_utf8(client_first).unwrap();
            // gs2 header "n,," then the bare message.
            let bare = text.splitn(3, ',').nth(2).unwrap();
            let nonce = bare.split(',').find_map(|a| a.strip_prefix("r=")).unwrap();
            self.client_first_bare = bare.into();
            self.server_first = alloc::format!(
                "r={nonce}SERVERNONCE,s={},i={}",
                STANDARD.encode(self.salt),
                self.iterations
            );
            self.server_first.clone().into_bytes()
        }

        /// Verifies the client proof; returns server-final (with a signature that is
        /// wrong when `tamper`).
        pub(super) fn server_final(&self, client_final: &[u8], tamper: bool) -> Vec<u8> {
            let text = core::str::from_utf8(client_final).unwrap();
            let (without_proof, proof) = text.rsplit_once(",p=").unwrap();
            let auth_message = alloc::format!(
                "{},{},{}",
                self.client_first_bare,
                self.server_first,
                without_proof
            );
            let salted = hi(self.password, self.salt, self.iterations);
            let client_key = hmac(&salted, b"Client Key");
            let stored_key: [u8; 32] = Sha256::digest(client_key).into();
            let signature = hmac(&stored_key, auth_message.as_bytes());
            let expected: Vec<u8> = client_key
                .iter()
                .zip(signature)
                .map(|(a, b)| a ^ b)
                .collect();
            assert_eq!(STANDARD.decode(proof).unwrap(), expected, "client proof");
            let server_key = hmac(&salted, b"Server Key");
            let mut server_signature = hmac(&server_key, auth_message.as_bytes());
            if tamper {
                server_signature[0] ^= 1;
            }
            alloc::format!("v={}", STANDARD.encode(server_signature)).into_bytes()
        }
    }
}

/// Runs a SCRAM start-up; returns the result of delivering the server-final message.
fn scram_startup(tamper: bool) -> (Connection, Result<(), Error>) {
    let mut conn = Connection::new(config()).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server.send(Authentication::Sasl {
        mechanisms: vec!["SCRAM-SHA-256".into()],
    });
    deliver(&mut conn, &mut server).unwrap();
    let [FrontendMessage::AuthenticationResponse(r)] = &messages(sent(&mut conn, &mut server))[..]
    else {
        panic!()
    };
    let initial = r.clone().into_sasl_initial_response().unwrap();
    assert_eq!(initial.mechanism, "SCRAM-SHA-256");
    let mut scram = scram_server::ScramServer::new(b"pencil");
    let first = scram.server_first(&initial.data.unwrap());
    server.send(Authentication::SaslContinue {
        data: Bytes::from(first),
    });
    deliver(&mut conn, &mut server).unwrap();
    let [FrontendMessage::AuthenticationResponse(r)] = &messages(sent(&mut conn, &mut server))[..]
    else {
        panic!()
    };
    let final_ = scram.server_final(&r.clone().into_sasl_response().unwrap().data, tamper);
    server.send(Authentication::SaslFinal {
        data: Bytes::from(final_),
    });
    if !tamper {
        server.accept();
    }
    let result = deliver(&mut conn, &mut server);
    (conn, result)
}

#[test]
fn scram_sha_256() {
    let (mut conn, result) = scram_startup(false);
    result.unwrap();
    assert_eq!(conn.phase(), Phase::Ready);
    assert_eq!(events(&mut conn).last(), Some(&Event::Connected));
}

#[test]
fn scram_wrong_server_signature() {
    let (conn, result) = scram_startup(true);
    assert_eq!(
        result,
        Err(Error::Auth(crate::auth::AuthError::ServerSignatureMismatch))
    );
    assert_eq!(conn.phase(), Phase::Closed);
}

#[test]
fn scram_ok_before_final_is_refused() {
    let mut conn = Connection::new(config()).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server
        .send(Authentication::Sasl {
            mechanisms: vec!["SCRAM-SHA-256".into()],
        })
        .send(Authentication::Ok);
    assert!(matches!(
        deliver(&mut conn, &mut server),
        Err(Error::Protocol(ProtocolError::UnexpectedMessage { .. }))
    ));
}

#[test]
fn scram_hostile_iteration_count_fails_fast() {
    let mut conn = Connection::new(config()).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server.send(Authentication::Sasl {
        mechanisms: vec!["SCRAM-SHA-256".into()],
    });
    deliver(&mut conn, &mut server).unwrap();
    let [FrontendMessage::AuthenticationResponse(r)] = &messages(sent(&mut conn, &mut server))[..]
    else {
        panic!()
    };
    let initial = r
        .clone()
        .into_sasl_initial_response()
        .unwrap()
        .data
        .unwrap();
    let nonce = core::str::from_utf8(&initial)
        .unwrap()
        .split("r=")
        .nth(1)
        .unwrap()
        .to_string();
    server.send(Authentication::SaslContinue {
        data: Bytes::from(alloc::format!("r={nonce}x,s=c2FsdA==,i=2147483647")),
    });
    assert!(matches!(
        deliver(&mut conn, &mut server),
        Err(Error::Auth(
            crate::auth::AuthError::TooManyIterations { .. }
        ))
    ));
}

// ---- TLS negotiation ----------------------------------------------------------------

fn tls_config(tls: TlsNegotiation) -> Config {
    let mut c = config();
    c.tls = tls;
    c
}

#[test]
fn ssl_request_accepted() {
    let mut conn = Connection::new(tls_config(TlsNegotiation::Require)).unwrap();
    let mut server = FakeServer::new();
    let received = sent(&mut conn, &mut server);
    assert!(matches!(
        &received[..],
        [Received::Startup(StartupPacket::SslRequest(_))]
    ));
    conn.receive(b"S");
    conn.process().unwrap();
    assert_eq!(events(&mut conn), [Event::StartTls]);
    assert_eq!(conn.phase(), Phase::AwaitingTls);
    assert!(conn.poll_transmit().is_none());
    conn.tls_established(None).unwrap();
    server.expect_startup();
    let received = sent(&mut conn, &mut server);
    assert!(matches!(
        &received[..],
        [Received::Startup(StartupPacket::Startup(_))]
    ));
}

#[test]
fn bytes_after_ssl_response_are_refused() {
    // CVE-2021-23222: an injected AuthenticationOk right behind the 'S'.
    let mut conn = Connection::new(tls_config(TlsNegotiation::Prefer)).unwrap();
    conn.receive(b"SR\0\0\0\x08\0\0\0\0");
    assert_eq!(
        conn.process(),
        Err(Error::Protocol(ProtocolError::DataAfterSslResponse))
    );
    // Also when the extra bytes arrive separately, before the handshake.
    let mut conn = Connection::new(tls_config(TlsNegotiation::Prefer)).unwrap();
    conn.receive(b"S");
    conn.process().unwrap();
    conn.receive(b"R");
    assert_eq!(
        conn.process(),
        Err(Error::Protocol(ProtocolError::DataAfterSslResponse))
    );
}

#[test]
fn ssl_refused() {
    let mut conn = Connection::new(tls_config(TlsNegotiation::Require)).unwrap();
    conn.receive(b"N");
    assert_eq!(conn.process(), Err(Error::TlsRefused));

    let mut conn = Connection::new(tls_config(TlsNegotiation::Prefer)).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    conn.receive(b"N");
    conn.process().unwrap();
    server.expect_startup();
    assert!(matches!(
        &sent(&mut conn, &mut server)[..],
        [Received::Startup(StartupPacket::Startup(_))]
    ));
}

#[test]
fn ssl_request_answered_with_error_hides_the_text() {
    let mut conn = Connection::new(tls_config(TlsNegotiation::Prefer)).unwrap();
    let mut server = FakeServer::new();
    server.error("FATAL", "08P01", "click http://evil.example to fix");
    deliver(&mut conn, &mut server).unwrap_err();
    let Some(Error::SslRequestRejected) = conn.error() else {
        panic!("{:?}", conn.error())
    };
    assert!(!conn.error().unwrap().to_string().contains("evil"));
}

// ---- protocol version negotiation ------------------------------------------------------

fn v32_config() -> Config {
    let mut c = config();
    c.max_protocol_version = ProtocolVersion::V3_2;
    c
}

#[test]
fn protocol_32_keeps_a_long_cancel_key() {
    let mut conn = Connection::new(v32_config()).unwrap();
    let mut server = FakeServer::new();
    let received = sent(&mut conn, &mut server);
    let [Received::Startup(StartupPacket::Startup(s))] = &received[..] else {
        panic!()
    };
    assert_eq!(s.version, ProtocolVersion::V3_2);
    server.send(Authentication::Ok).send(BackendKeyData {
        process_id: 7,
        secret_key: Bytes::from(vec![9u8; 32]),
    });
    server.ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(conn.protocol_version(), ProtocolVersion::V3_2);
    assert_eq!(conn.cancel_request().unwrap().secret_key.len(), 32);
}

#[test]
fn negotiate_protocol_version_downgrades() {
    let mut conn = Connection::new(v32_config()).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server.send(NegotiateProtocolVersion {
        newest_minor: 0,
        unrecognized_options: vec![],
    });
    server.accept();
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(conn.protocol_version(), ProtocolVersion::V3_0);
    assert_eq!(conn.phase(), Phase::Ready);
}

#[test]
fn invalid_negotiations() {
    let cases: Vec<(Config, Vec<NegotiateProtocolVersion>)> = vec![
        // Offered version not below the requested one.
        (
            v32_config(),
            vec![NegotiateProtocolVersion {
                newest_minor: 2,
                unrecognized_options: vec![],
            }],
        ),
        // Names an option that was never sent.
        (
            v32_config(),
            vec![NegotiateProtocolVersion {
                newest_minor: 0,
                unrecognized_options: vec!["_pq_.x".into()],
            }],
        ),
        // Twice.
        (
            v32_config(),
            vec![
                NegotiateProtocolVersion {
                    newest_minor: 0,
                    unrecognized_options: vec![],
                };
                2
            ],
        ),
        // Below the configured minimum.
        (
            {
                let mut c = v32_config();
                c.min_protocol_version = ProtocolVersion::V3_2;
                c
            },
            vec![NegotiateProtocolVersion {
                newest_minor: 0,
                unrecognized_options: vec![],
            }],
        ),
    ];
    for (config, npvs) in cases {
        let mut conn = Connection::new(config).unwrap();
        let mut server = FakeServer::new();
        sent(&mut conn, &mut server);
        for npv in npvs {
            server.send(npv);
        }
        assert!(
            matches!(
                deliver(&mut conn, &mut server),
                Err(Error::Protocol(
                    ProtocolError::InvalidProtocolNegotiation { .. }
                ))
            ),
            "accepted"
        );
    }
}

#[test]
fn long_cancel_key_under_30_is_refused() {
    let mut conn = Connection::new(config()).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server.send(Authentication::Ok).send(BackendKeyData {
        process_id: 7,
        secret_key: Bytes::from(vec![9u8; 32]),
    });
    assert!(matches!(
        deliver(&mut conn, &mut server),
        Err(Error::Protocol(ProtocolError::InvalidValue { .. }))
    ));
}

#[test]
fn oversized_message_during_startup() {
    let mut conn = Connection::new(config()).unwrap();
    // A 2 MiB length before authentication: refused from the header alone.
    conn.receive(b"R\x00\x20\x00\x00");
    assert!(matches!(
        conn.process(),
        Err(Error::Protocol(ProtocolError::MessageTooLarge { .. }))
    ));
}

// ---- simple queries ---------------------------------------------------------------------

#[test]
fn simple_query_with_async_messages_between_rows() {
    let (mut conn, mut server) = connected();
    let id = conn
        .send(Request::query("SELECT a FROM t; SELECT 1"))
        .unwrap();
    assert!(matches!(
        &messages(sent(&mut conn, &mut server))[..],
        [FrontendMessage::Query(q)] if q.sql == "SELECT a FROM t; SELECT 1"
    ));
    server
        .row_description(&["a"])
        .data_row(&[Some("x")])
        .notice("NOTICE", "00000", "hello")
        .send(NotificationResponse {
            process_id: 1,
            channel: "ch".into(),
            payload: "p".into(),
        })
        .parameter("TimeZone", "UTC")
        .data_row(&[None])
        .command_complete("SELECT 2")
        .row_description(&["?column?"])
        .data_row(&[Some("1")])
        .command_complete("SELECT 1")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    let ev = events(&mut conn);
    assert_eq!(
        response_kinds(&ev),
        ["T", "D", "N", "A", "S", "D", "C", "T", "D", "C", "Z", "done"]
    );
    assert_eq!(outcomes(&ev), [(id, Outcome::Success)]);
    assert_eq!(conn.server_parameter("TimeZone"), Some("UTC"));
    assert_eq!(conn.in_flight(), 0);
}

#[test]
fn empty_query() {
    let (mut conn, mut server) = connected();
    conn.send(Request::query("")).unwrap();
    sent(&mut conn, &mut server);
    server
        .send(EmptyQueryResponse)
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(response_kinds(&events(&mut conn)), ["I", "Z", "done"]);
}

#[test]
fn simple_query_error_fails_only_that_request() {
    let (mut conn, mut server) = connected();
    let a = conn.send(Request::query("SELECT 1/0")).unwrap();
    let b = conn.send(Request::query("SELECT 1")).unwrap();
    sent(&mut conn, &mut server);
    server
        .row_description(&["x"])
        .error("ERROR", "22012", "division by zero")
        .ready(TransactionStatus::Idle)
        .row_description(&["x"])
        .data_row(&[Some("1")])
        .command_complete("SELECT 1")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    let ev = events(&mut conn);
    assert_eq!(outcomes(&ev), [(a, Outcome::Failed), (b, Outcome::Success)]);
}

#[test]
fn requests_sent_before_startup_completes_are_held() {
    let mut conn = Connection::new(config()).unwrap();
    let mut server = FakeServer::new();
    let id = conn.send(Request::query("SELECT 1")).unwrap();
    // Only the StartupMessage goes out.
    assert_eq!(sent(&mut conn, &mut server).len(), 1);
    server.accept();
    deliver(&mut conn, &mut server).unwrap();
    assert!(matches!(
        &messages(sent(&mut conn, &mut server))[..],
        [FrontendMessage::Query(_)]
    ));
    server
        .command_complete("SELECT 0")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    assert!(outcomes(&events(&mut conn)).contains(&(id, Outcome::Success)));
}

// ---- extended protocol and pipelining --------------------------------------------------

fn select(conn: &mut Connection, sql: &str, sync: bool) -> RequestId {
    let mut req = conn.extended().unwrap();
    req.parse("", sql, &[]).unwrap();
    req.bind("", "", &[], &[], &[Format::Text]).unwrap();
    req.execute("", 0).unwrap();
    if sync {
        req.finish().unwrap()
    } else {
        req.finish_without_sync()
    }
}

fn answer_select(server: &mut FakeServer) {
    server
        .send(ParseComplete)
        .send(crate::message::backend::BindComplete)
        .data_row(&[Some("1")])
        .command_complete("SELECT 1");
}

#[test]
fn error_in_the_middle_of_a_three_group_pipeline() {
    let (mut conn, mut server) = connected();
    // Group 1: one request. Group 2: three requests sharing one Sync; the second fails.
    // Group 3: one request.
    let g1 = select(&mut conn, "SELECT 1", true);
    let g2a = select(&mut conn, "INSERT 1", false);
    let g2b = select(&mut conn, "SELECT 1/0", false);
    let g2c = select(&mut conn, "INSERT 3", true);
    let g3 = select(&mut conn, "SELECT 1", true);
    let msgs = messages(sent(&mut conn, &mut server));
    assert_eq!(
        msgs.iter()
            .filter(|m| matches!(m, FrontendMessage::Sync(_)))
            .count(),
        3
    );
    answer_select(&mut server);
    server.ready(TransactionStatus::Idle);
    answer_select(&mut server); // g2a ran...
    server
        .send(ParseComplete)
        .send(crate::message::backend::BindComplete)
        .error("ERROR", "22012", "division by zero")
        // ...g2c skipped by the server; the group's Sync answers.
        .ready(TransactionStatus::Idle);
    answer_select(&mut server);
    server.ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    let ev = events(&mut conn);
    assert_eq!(
        outcomes(&ev),
        [
            (g1, Outcome::Success),
            (g2b, Outcome::Failed),
            (g2c, Outcome::Aborted { by: g2b }),
            // g2a's insert was rolled back with its implicit transaction.
            (g2a, Outcome::RolledBack { by: g2b }),
            (g3, Outcome::Success),
        ]
    );
    assert_eq!(conn.in_flight(), 0);
}

#[test]
fn error_before_any_sync_aborts_later_requests_until_one_brings_a_sync() {
    let (mut conn, mut server) = connected();
    let a = select(&mut conn, "SELECT 1/0", false);
    sent(&mut conn, &mut server);
    server
        .send(ParseComplete)
        .send(crate::message::backend::BindComplete)
        .error("ERROR", "22012", "division by zero");
    // Nothing answers yet: the server waits for a Sync. Flush makes it send the error.
    deliver(&mut conn, &mut server).unwrap();
    let b = select(&mut conn, "SELECT 2", false);
    let c = select(&mut conn, "SELECT 3", true);
    sent(&mut conn, &mut server);
    server.ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    let d = select(&mut conn, "SELECT 4", true);
    sent(&mut conn, &mut server);
    answer_select(&mut server);
    server.ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(
        outcomes(&events(&mut conn)),
        [
            (a, Outcome::Failed),
            (b, Outcome::Aborted { by: a }),
            (c, Outcome::Aborted { by: a }),
            (d, Outcome::Success),
        ]
    );
}

#[test]
fn prepare_and_describe() {
    let (mut conn, mut server) = connected();
    let mut req = conn.extended().unwrap();
    req.parse("s1", "SELECT $1::int4", &[23]).unwrap();
    req.describe_statement("s1").unwrap();
    let id = req.finish().unwrap();
    let msgs = messages(sent(&mut conn, &mut server));
    assert!(matches!(
        &msgs[..],
        [FrontendMessage::Parse(p), FrontendMessage::Describe(_), FrontendMessage::Sync(_)]
            if p.name == "s1" && p.param_types == [23]
    ));
    server
        .send(ParseComplete)
        .send(crate::message::backend::ParameterDescription { types: vec![23] })
        .row_description(&["int4"])
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    let ev = events(&mut conn);
    assert_eq!(response_kinds(&ev), ["1", "t", "T", "Z", "done"]);
    assert_eq!(outcomes(&ev), [(id, Outcome::Success)]);
}

#[test]
fn describe_no_data() {
    let (mut conn, mut server) = connected();
    let mut req = conn.extended().unwrap();
    req.parse("", "INSERT INTO t VALUES (1)", &[]).unwrap();
    req.bind("", "", &[], &[], &[]).unwrap();
    req.describe_portal("").unwrap();
    req.execute("", 0).unwrap();
    req.finish().unwrap();
    sent(&mut conn, &mut server);
    server
        .send(ParseComplete)
        .send(crate::message::backend::BindComplete)
        .send(NoData)
        .command_complete("INSERT 0 1")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(
        response_kinds(&events(&mut conn)),
        ["1", "2", "n", "C", "Z", "done"]
    );
}

#[test]
fn portal_suspended_and_resumed() {
    let (mut conn, mut server) = connected();
    let mut req = conn.extended().unwrap();
    req.parse("", "SELECT generate_series(1, 3)", &[]).unwrap();
    req.bind("", "", &[], &[], &[]).unwrap();
    req.describe_portal("").unwrap();
    req.execute("", 2).unwrap();
    let first = req.finish_with_flush().unwrap();
    let msgs = messages(sent(&mut conn, &mut server));
    assert!(matches!(msgs.last(), Some(FrontendMessage::Flush(_))));
    server
        .send(ParseComplete)
        .send(crate::message::backend::BindComplete)
        .row_description(&["n"])
        .data_row(&[Some("1")])
        .data_row(&[Some("2")])
        .send(PortalSuspended);
    deliver(&mut conn, &mut server).unwrap();
    let ev = events(&mut conn);
    assert_eq!(response_kinds(&ev), ["1", "2", "T", "D", "D", "s", "done"]);
    assert_eq!(outcomes(&ev), [(first, Outcome::Success)]);
    // Resume: the portal is still open because no Sync was sent.
    let mut req = conn.extended().unwrap();
    req.execute("", 2).unwrap();
    req.expect_columns(1);
    let second = req.finish().unwrap();
    sent(&mut conn, &mut server);
    server
        .data_row(&[Some("3")])
        .command_complete("SELECT 3")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    let ev = events(&mut conn);
    assert_eq!(response_kinds(&ev), ["D", "C", "Z", "done"]);
    assert_eq!(outcomes(&ev), [(second, Outcome::Success)]);
}

#[test]
fn data_row_with_wrong_field_count_is_a_protocol_error() {
    // RUSTSEC-2026-0178: fewer fields than columns.
    let (mut conn, mut server) = connected();
    let id = conn.send(Request::query("SELECT 1, 2")).unwrap();
    sent(&mut conn, &mut server);
    server.row_description(&["a", "b"]).data_row(&[Some("1")]);
    assert_eq!(
        deliver(&mut conn, &mut server),
        Err(Error::Protocol(ProtocolError::ColumnCountMismatch {
            expected: 2,
            got: 1
        }))
    );
    assert!(outcomes(&events(&mut conn)).contains(&(id, Outcome::ConnectionClosed)));
}

#[test]
fn dropped_extended_request_sends_nothing() {
    let (mut conn, mut server) = connected();
    {
        let mut req = conn.extended().unwrap();
        req.parse("", "SELECT 1", &[]).unwrap();
        req.bind("", "", &[], &[], &[]).unwrap();
    }
    assert!(conn.poll_transmit().is_none());
    assert_eq!(conn.in_flight(), 0);
    select(&mut conn, "SELECT 1", true);
    assert_eq!(messages(sent(&mut conn, &mut server)).len(), 4);
}

#[test]
fn failed_encoding_leaves_earlier_requests_intact() {
    let (mut conn, mut server) = connected();
    conn.send(Request::query("SELECT 1")).unwrap();
    assert!(matches!(
        conn.send(Request::query("SELECT '\0'")),
        Err(UsageError::Encode(_))
    ));
    let mut req = conn.extended().unwrap();
    req.parse("", "SELECT 1", &[]).unwrap();
    assert!(req.parse("", "nul\0", &[]).is_err());
    drop(req);
    assert_eq!(messages(sent(&mut conn, &mut server)).len(), 1);
    assert_eq!(conn.in_flight(), 1);
}

#[test]
fn discarded_request_is_consumed_silently() {
    let (mut conn, mut server) = connected();
    let a = conn.send(Request::query("SELECT big")).unwrap();
    let b = conn.send(Request::query("SELECT 1")).unwrap();
    sent(&mut conn, &mut server);
    server.row_description(&["x"]).data_row(&[Some("1")]);
    deliver(&mut conn, &mut server).unwrap();
    conn.discard(a);
    server
        .data_row(&[Some("2")])
        .command_complete("SELECT 2")
        .ready(TransactionStatus::Idle)
        .row_description(&["x"])
        .command_complete("SELECT 0")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    let ev = events(&mut conn);
    assert!(ev.iter().all(
        |e| !matches!(e, Event::Response { id, .. } | Event::RequestDone { id, .. } if *id == a)
    ));
    assert_eq!(outcomes(&ev), [(b, Outcome::Success)]);
}

#[test]
fn a_thousand_pipelined_requests_answered_in_order() {
    let (mut conn, mut server) = connected();
    let ids: Vec<RequestId> = (0..1000)
        .map(|_| select(&mut conn, "SELECT 1", true))
        .collect();
    // One write carries them all.
    let bytes = conn.poll_transmit().unwrap().len();
    // Parse 17 + Bind 15 + Execute 10 + Sync 5 bytes each.
    assert_eq!(bytes, 1000 * (17 + 15 + 10 + 5));
    sent(&mut conn, &mut server);
    for _ in 0..1000 {
        answer_select(&mut server);
        server.ready(TransactionStatus::Idle);
    }
    deliver(&mut conn, &mut server).unwrap();
    let done: Vec<RequestId> = outcomes(&events(&mut conn))
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(done, ids);
}

// ---- COPY --------------------------------------------------------------------------------

fn copy_in_response() -> CopyInResponse {
    CopyInResponse {
        format: Format::Text,
        column_formats: vec![Format::Text],
    }
}

#[test]
fn copy_in_holds_later_requests_until_it_is_answered() {
    let (mut conn, mut server) = connected();
    let copy = conn.send(Request::copy_in("COPY t FROM STDIN")).unwrap();
    conn.copy_data(copy, b"1\n2\n").unwrap();
    let later = conn.send(Request::query("SELECT 1")).unwrap();
    assert_eq!(
        conn.send(Request::copy_in("COPY u FROM STDIN")),
        Err(UsageError::CopyInProgress)
    );
    let msgs = messages(sent(&mut conn, &mut server));
    assert!(matches!(
        &msgs[..],
        [FrontendMessage::Query(_), FrontendMessage::CopyData(_)]
    ));
    conn.copy_data(copy, b"3\n").unwrap();
    conn.copy_done(copy).unwrap();
    // Nothing is pipelined behind the end of the COPY: middleware (PgBouncer in
    // transaction pooling) mishandles requests right behind a CopyDone or CopyFail.
    let msgs = messages(sent(&mut conn, &mut server));
    assert!(matches!(
        &msgs[..],
        [FrontendMessage::CopyData(_), FrontendMessage::CopyDone(_)]
    ));
    assert_eq!(conn.copy_data(copy, b"4\n"), Err(UsageError::NotCopyingIn));
    assert_eq!(
        conn.send(Request::copy_in("COPY u FROM STDIN")),
        Err(UsageError::CopyInProgress)
    );
    server
        .send(copy_in_response())
        .command_complete("COPY 3")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    // The COPY's ReadyForQuery releases the request held behind it.
    assert!(matches!(
        &messages(sent(&mut conn, &mut server))[..],
        [FrontendMessage::Query(_)]
    ));
    server
        .command_complete("SELECT 0")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    let ev = events(&mut conn);
    assert_eq!(
        response_kinds(&ev),
        ["G", "C", "Z", "done", "C", "Z", "done"]
    );
    assert_eq!(
        outcomes(&ev),
        [(copy, Outcome::Success), (later, Outcome::Success)]
    );
}

#[test]
fn copy_fail_is_reported_and_short() {
    let (mut conn, mut server) = connected();
    let copy = conn.send(Request::copy_in("COPY t FROM STDIN")).unwrap();
    let reason = "x".repeat(20_000);
    conn.copy_fail(copy, &reason).unwrap();
    let msgs = messages(sent(&mut conn, &mut server));
    let [FrontendMessage::Query(_), FrontendMessage::CopyFail(f)] = &msgs[..] else {
        panic!()
    };
    assert!(f.message.len() < 10_000);
    server
        .send(copy_in_response())
        .error("ERROR", "57014", "COPY from stdin failed: xxx")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(outcomes(&events(&mut conn)), [(copy, Outcome::Failed)]);
}

#[test]
fn copy_in_failing_on_the_server_releases_held_requests() {
    let (mut conn, mut server) = connected();
    let copy = conn
        .send(Request::copy_in("COPY missing FROM STDIN"))
        .unwrap();
    let later = conn.send(Request::query("SELECT 1")).unwrap();
    assert_eq!(messages(sent(&mut conn, &mut server)).len(), 1);
    server
        .error("ERROR", "42P01", "relation \"missing\" does not exist")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(conn.copy_data(copy, b"x"), Err(UsageError::NotCopyingIn));
    assert!(matches!(
        &messages(sent(&mut conn, &mut server))[..],
        [FrontendMessage::Query(_)]
    ));
    server
        .command_complete("SELECT 0")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(
        outcomes(&events(&mut conn)),
        [(copy, Outcome::Failed), (later, Outcome::Success)]
    );
}

#[test]
fn discarding_an_open_copy_aborts_it() {
    let (mut conn, mut server) = connected();
    let copy = conn.send(Request::copy_in("COPY t FROM STDIN")).unwrap();
    conn.discard(copy);
    let msgs = messages(sent(&mut conn, &mut server));
    assert!(matches!(
        &msgs[..],
        [FrontendMessage::Query(_), FrontendMessage::CopyFail(_)]
    ));
}

#[test]
fn undeclared_copy_in_is_refused_with_copy_fail() {
    let (mut conn, mut server) = connected();
    let id = select(&mut conn, "COPY t FROM STDIN", true);
    sent(&mut conn, &mut server);
    server
        .send(ParseComplete)
        .send(crate::message::backend::BindComplete)
        .send(copy_in_response());
    deliver(&mut conn, &mut server).unwrap();
    // CopyFail, and a fresh Sync: the first one was swallowed in COPY mode.
    let msgs = messages(sent(&mut conn, &mut server));
    assert!(matches!(
        &msgs[..],
        [FrontendMessage::CopyFail(_), FrontendMessage::Sync(_)]
    ));
    server
        .error("ERROR", "57014", "COPY from stdin failed")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(outcomes(&events(&mut conn)), [(id, Outcome::Failed)]);
    assert_eq!(conn.phase(), Phase::Ready);
}

#[test]
fn undeclared_copy_in_with_requests_behind_closes() {
    let (mut conn, mut server) = connected();
    conn.send(Request::query("COPY t FROM STDIN")).unwrap();
    conn.send(Request::query("SELECT 1")).unwrap();
    sent(&mut conn, &mut server);
    server.send(copy_in_response());
    assert_eq!(
        deliver(&mut conn, &mut server),
        Err(Error::UnexpectedCopyIn)
    );
}

#[test]
fn copy_out() {
    let (mut conn, mut server) = connected();
    let id = conn.send(Request::query("COPY t TO STDOUT")).unwrap();
    sent(&mut conn, &mut server);
    server
        .send(CopyOutResponse {
            format: Format::Text,
            column_formats: vec![Format::Text],
        })
        .send(CopyData {
            data: Bytes::from_static(b"1\n"),
        })
        .notice("NOTICE", "00000", "in the middle")
        .send(CopyData {
            data: Bytes::from_static(b"2\n"),
        })
        .send(CopyDone)
        .command_complete("COPY 2")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    let ev = events(&mut conn);
    assert_eq!(
        response_kinds(&ev),
        ["H", "d", "N", "d", "c", "C", "Z", "done"]
    );
    assert_eq!(outcomes(&ev), [(id, Outcome::Success)]);
}

// ---- failures ------------------------------------------------------------------------------

#[test]
fn fatal_error_mid_query_fails_everything_in_flight() {
    let (mut conn, mut server) = connected();
    let a = conn.send(Request::query("SELECT pg_sleep(10)")).unwrap();
    let b = conn.send(Request::query("SELECT 1")).unwrap();
    sent(&mut conn, &mut server);
    server.row_description(&["pg_sleep"]).error(
        "FATAL",
        "57P01",
        "terminating connection due to administrator command",
    );
    let Err(Error::Db(e)) = deliver(&mut conn, &mut server) else {
        panic!()
    };
    assert_eq!(e.code(), "57P01");
    let ev = events(&mut conn);
    assert_eq!(
        outcomes(&ev),
        [(a, Outcome::Failed), (b, Outcome::ConnectionClosed)]
    );
    assert!(matches!(ev.last(), Some(Event::Closed(Some(Error::Db(_))))));
    assert_eq!(conn.in_flight(), 0);
}

#[test]
fn immediate_shutdown_is_a_notice_then_eof() {
    let (mut conn, mut server) = connected();
    let a = conn.send(Request::query("SELECT pg_sleep(10)")).unwrap();
    sent(&mut conn, &mut server);
    server.row_description(&["pg_sleep"]).notice(
        "WARNING",
        "57P01",
        "terminating connection due to immediate shutdown command",
    );
    deliver(&mut conn, &mut server).unwrap();
    conn.receive_eof();
    assert_eq!(conn.process(), Err(Error::ConnectionLost));
    let ev = events(&mut conn);
    assert_eq!(response_kinds(&ev), ["T", "N", "done", "closed"]);
    assert_eq!(outcomes(&ev), [(a, Outcome::ConnectionClosed)]);
}

#[test]
fn idle_session_timeout_arrives_unsolicited() {
    let (mut conn, mut server) = connected();
    server.error(
        "FATAL",
        "57P05",
        "terminating connection due to idle-session timeout",
    );
    let Err(Error::Db(e)) = deliver(&mut conn, &mut server) else {
        panic!()
    };
    assert_eq!(e.code(), "57P05");
    assert!(e.is_fatal());
}

#[test]
fn pgbouncer_error_without_v_field() {
    let (mut conn, mut server) = connected();
    conn.send(Request::query("SELECT 1")).unwrap();
    sent(&mut conn, &mut server);
    let fields: crate::message::backend::ErrorFields = [
        (b'S', "FATAL"),
        (b'C', "08P01"),
        (b'M', "server conn crashed?"),
    ]
    .into_iter()
    .collect();
    server.send(crate::message::backend::BackendMessage::ErrorResponse(
        fields.into(),
    ));
    let Err(Error::Db(e)) = deliver(&mut conn, &mut server) else {
        panic!()
    };
    assert!(e.is_fatal(), "severity falls back to S");
}

#[test]
fn unexpected_message_closes() {
    let (mut conn, mut server) = connected();
    server.send(ParseComplete);
    assert!(matches!(
        deliver(&mut conn, &mut server),
        Err(Error::Protocol(ProtocolError::UnexpectedMessage { .. }))
    ));
}

#[test]
fn terminate() {
    let (mut conn, mut server) = connected();
    conn.terminate();
    assert!(matches!(
        &messages(sent(&mut conn, &mut server))[..],
        [FrontendMessage::Terminate(_)]
    ));
    assert_eq!(events(&mut conn), [Event::Closed(None)]);
    assert_eq!(conn.send(Request::query("x")), Err(UsageError::Closed));
}

#[test]
fn terminate_with_requests_in_flight_completes_them_at_eof() {
    let (mut conn, mut server) = connected();
    let a = conn.send(Request::query("SELECT 1")).unwrap();
    conn.terminate();
    sent(&mut conn, &mut server);
    conn.receive_eof();
    assert_eq!(conn.process(), Ok(()));
    let ev = events(&mut conn);
    assert_eq!(outcomes(&ev), [(a, Outcome::ConnectionClosed)]);
    assert_eq!(ev.last(), Some(&Event::Closed(None)));
}

#[test]
fn db_error_display() {
    let e = DbError::new(error_fields(
        "ERROR",
        "42P01",
        "relation \"x\" does not exist",
    ));
    assert_eq!(
        e.to_string(),
        "ERROR: relation \"x\" does not exist (SQLSTATE 42P01)"
    );
}

#[test]
fn server_version_parsing() {
    assert_eq!(
        parse_server_version("15.18 (Debian 15.18-0+deb12u1)"),
        Some(150_018)
    );
    assert_eq!(parse_server_version("9.6.24"), Some(90_624));
    assert_eq!(parse_server_version("18beta1"), Some(180_000));
    assert_eq!(parse_server_version("500000"), None);
    assert_eq!(parse_server_version("9.4294967295"), None);
    assert_eq!(parse_server_version("12.22"), Some(120_022));
    assert_eq!(parse_server_version("garbage"), None);
}

// ---- chunking invariance -------------------------------------------------------------------

/// A recorded exchange: what the client sends up front, and every byte the server sends.
struct Transcript {
    config: Config,
    setup: fn(&mut Connection),
    server: Vec<u8>,
}

fn replay(t: &Transcript, chunks: &[usize]) -> (Vec<Event>, Vec<u8>, Option<Error>) {
    let mut conn = Connection::new(t.config.clone()).unwrap();
    (t.setup)(&mut conn);
    let mut client = Vec::new();
    let mut events = Vec::new();
    let mut rest = &t.server[..];
    let mut chunk_sizes = chunks.iter().copied().cycle();
    let mut error = None;
    loop {
        while let Some(bytes) = conn.poll_transmit() {
            client.extend_from_slice(bytes);
            let n = bytes.len();
            conn.advance_transmit(n);
        }
        events.extend(core::iter::from_fn(|| conn.poll_event()));
        if rest.is_empty() || error.is_some() {
            break;
        }
        let n = chunk_sizes
            .next()
            .unwrap_or(rest.len())
            .clamp(1, rest.len());
        let (piece, tail) = rest.split_at(n);
        rest = tail;
        conn.receive(piece);
        if let Err(e) = conn.process() {
            error = Some(e);
        }
    }
    (events, client, error)
}

fn transcripts() -> Vec<Transcript> {
    let mut out = Vec::new();
    // Trust start-up, then a pipeline with an error in the middle group, notices and a
    // notification between rows, and a COPY out.
    let mut s = FakeServer::new();
    s.accept();
    answer_select(&mut s);
    s.ready(TransactionStatus::Idle);
    answer_select(&mut s);
    s.notice("NOTICE", "00000", "n")
        .send(NotificationResponse {
            process_id: 9,
            channel: "c".into(),
            payload: "hello".into(),
        })
        .send(ParseComplete)
        .send(crate::message::backend::BindComplete)
        .error("ERROR", "22012", "division by zero")
        .ready(TransactionStatus::Idle);
    answer_select(&mut s);
    s.ready(TransactionStatus::Idle)
        .send(CopyOutResponse {
            format: Format::Text,
            column_formats: vec![Format::Text],
        })
        .send(CopyData {
            data: Bytes::from_static(b"1\n"),
        })
        .send(CopyDone)
        .command_complete("COPY 1")
        .ready(TransactionStatus::Idle);
    out.push(Transcript {
        config: config(),
        setup: |conn| {
            select(conn, "SELECT 1", true);
            select(conn, "SELECT 1", false);
            select(conn, "SELECT 1/0", false);
            select(conn, "SELECT 1", true);
            select(conn, "SELECT 1", true);
            conn.send(Request::query("COPY t TO STDOUT")).unwrap();
        },
        server: s.take_output().to_vec(),
    });
    // A fatal error after rows.
    let mut s = FakeServer::new();
    s.accept()
        .row_description(&["a"])
        .data_row(&[Some("1")])
        .error("FATAL", "57P01", "terminating connection");
    out.push(Transcript {
        config: config(),
        setup: |conn| {
            conn.send(Request::query("SELECT a")).unwrap();
        },
        server: s.take_output().to_vec(),
    });
    // SSL refused, then MD5.
    let mut s = FakeServer::new();
    s.send_raw(b"N")
        .send(Authentication::Md5Password { salt: [9, 8, 7, 6] })
        .accept();
    out.push(Transcript {
        config: tls_config(TlsNegotiation::Prefer),
        setup: |_| {},
        server: s.take_output().to_vec(),
    });
    out
}

#[test]
fn transcripts_split_at_every_byte() {
    for t in transcripts() {
        let whole = replay(&t, &[usize::MAX]);
        let bytewise = replay(&t, &[1]);
        assert_eq!(whole, bytewise);
        for at in 1..t.server.len() {
            let split = replay(&t, &[at, usize::MAX]);
            assert_eq!(whole, split, "split at {at}");
        }
    }
}

proptest! {
    #[test]
    fn transcripts_in_random_chunks(chunks in proptest::collection::vec(1usize..64, 1..32)) {
        for t in transcripts() {
            prop_assert_eq!(replay(&t, &[usize::MAX]), replay(&t, &chunks));
        }
    }
}

// ---- the transaction status each request ends with ---------------------------------

#[test]
fn ready_for_query_status_is_reported_to_its_request() {
    let (mut conn, mut server) = connected();
    let begin = conn.send(Request::query("BEGIN")).unwrap();
    let bad = conn.send(Request::query("SELECT 1/0")).unwrap();
    sent(&mut conn, &mut server);
    server
        .command_complete("BEGIN")
        .ready(TransactionStatus::InTransaction)
        .error("ERROR", "22012", "division by zero")
        .ready(TransactionStatus::Failed);
    // Both answers arrive in one read: each request still sees its own status, while
    // the connection-wide status is the last one.
    deliver(&mut conn, &mut server).unwrap();
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
    sent(&mut conn, &mut server);
    server
        .row_description(&["x"])
        .data_row(&[Some("1")])
        .command_complete("SELECT 1")
        .ready(TransactionStatus::Idle);
    deliver(&mut conn, &mut server).unwrap();
    assert!(events(&mut conn).is_empty());
    assert_eq!(conn.in_flight(), 0);
}

// ---- require_auth -------------------------------------------------------------------

fn require(text: &str) -> Config {
    let mut c = config();
    c.require_auth = Some(text.parse().unwrap());
    c
}

/// Starts a connection with `config`, lets the server send `auth`, and returns the
/// result with whatever the client then wants to send.
fn answer_auth(config: Config, auth: Authentication) -> (Result<(), Error>, Vec<Received>) {
    let mut conn = Connection::new(config).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server.send(auth);
    let result = deliver(&mut conn, &mut server);
    let mut out = Vec::new();
    while let Some(bytes) = conn.poll_transmit() {
        out.extend_from_slice(bytes);
        let n = bytes.len();
        conn.advance_transmit(n);
    }
    (result, server.receive(&out).unwrap())
}

fn requirement_failed(required: &str, reason: &'static str) -> Result<(), Error> {
    Err(Error::AuthRequirementFailed {
        required: required.into(),
        reason,
    })
}

#[test]
fn require_auth_allowed_method_proceeds() {
    for (text, auth) in [
        ("password", Authentication::CleartextPassword),
        ("md5,password", Authentication::CleartextPassword),
        ("md5", Authentication::Md5Password { salt: [1, 2, 3, 4] }),
        (
            "!password",
            Authentication::Md5Password { salt: [1, 2, 3, 4] },
        ),
        (
            "scram-sha-256",
            Authentication::Sasl {
                mechanisms: vec!["SCRAM-SHA-256".into()],
            },
        ),
    ] {
        let (result, out) = answer_auth(require(text), auth);
        result.unwrap();
        let [Received::Message(FrontendMessage::AuthenticationResponse(_))] = &out[..] else {
            panic!("{text}: {out:?}");
        };
    }
}

#[test]
fn require_auth_refused_method_fails_before_sending() {
    let sasl = Authentication::Sasl {
        mechanisms: vec!["SCRAM-SHA-256".into()],
    };
    let md5 = Authentication::Md5Password { salt: [1, 2, 3, 4] };
    for (text, auth, reason) in [
        (
            "scram-sha-256",
            Authentication::CleartextPassword,
            "server requested a cleartext password",
        ),
        (
            "scram-sha-256",
            md5.clone(),
            "server requested a hashed password",
        ),
        ("!md5", md5, "server requested a hashed password"),
        (
            "password,md5",
            sasl.clone(),
            "server requested SASL authentication",
        ),
        (
            "!scram-sha-256",
            sasl,
            "server requested SASL authentication",
        ),
        (
            "none",
            Authentication::CleartextPassword,
            "server requested a cleartext password",
        ),
        (
            "scram-sha-256",
            Authentication::Gss,
            "server requested GSSAPI authentication",
        ),
        (
            "password",
            Authentication::KerberosV5,
            "server requested an unknown authentication type",
        ),
    ] {
        let (result, out) = answer_auth(require(text), auth);
        assert_eq!(result, requirement_failed(text, reason), "{text}");
        assert!(out.is_empty(), "{text}: sent {out:?}");
    }
    // The message is libpq's.
    assert_eq!(
        requirement_failed("scram-sha-256", "server requested a cleartext password")
            .unwrap_err()
            .to_string(),
        "authentication method requirement \"scram-sha-256\" failed: server requested a cleartext password"
    );
}

#[test]
fn require_auth_gss_and_sspi_are_allowed_names_but_still_unsupported() {
    let (result, _) = answer_auth(require("gss"), Authentication::Gss);
    assert_eq!(
        result,
        Err(Error::UnsupportedAuthentication { method: "GSSAPI" })
    );
    let (result, _) = answer_auth(require("sspi,gss"), Authentication::Sspi);
    assert_eq!(
        result,
        Err(Error::UnsupportedAuthentication { method: "SSPI" })
    );
}

#[test]
fn require_auth_none() {
    // Allowed: trust connects.
    for text in ["none", "scram-sha-256,none", "!password"] {
        let mut conn = Connection::new(require(text)).unwrap();
        let mut server = FakeServer::new();
        sent(&mut conn, &mut server);
        server.accept();
        deliver(&mut conn, &mut server).unwrap();
        assert_eq!(conn.phase(), Phase::Ready, "{text}");
    }
    // Not allowed: AuthenticationOk straight away fails.
    for text in ["!none", "scram-sha-256", "md5", "!password,!none"] {
        let (result, out) = answer_auth(require(text), Authentication::Ok);
        assert_eq!(
            result,
            requirement_failed(text, "server did not complete authentication"),
            "{text}"
        );
        assert!(out.is_empty());
    }
    // After a password exchange, AuthenticationOk completes it.
    let mut conn = Connection::new(require("!none")).unwrap();
    let mut server = FakeServer::new();
    sent(&mut conn, &mut server);
    server.send(Authentication::CleartextPassword);
    deliver(&mut conn, &mut server).unwrap();
    sent(&mut conn, &mut server);
    server.accept();
    deliver(&mut conn, &mut server).unwrap();
    assert_eq!(conn.phase(), Phase::Ready);
}

#[test]
fn require_auth_scram_plus_counts_as_scram() {
    let mut c = require("scram-sha-256");
    c.tls = TlsNegotiation::Direct;
    c.tls_server_end_point = Some(vec![9; 32]);
    let (result, out) = answer_auth(
        c,
        Authentication::Sasl {
            mechanisms: vec!["SCRAM-SHA-256-PLUS".into(), "SCRAM-SHA-256".into()],
        },
    );
    result.unwrap();
    let [Received::Message(FrontendMessage::AuthenticationResponse(r))] = &out[..] else {
        panic!("{out:?}");
    };
    let initial = r.clone().into_sasl_initial_response().unwrap();
    assert_eq!(initial.mechanism, "SCRAM-SHA-256-PLUS");
}

#[test]
fn require_auth_and_channel_binding_both_apply() {
    // require_auth allows cleartext, channel binding still refuses it.
    let mut c = require("password");
    c.channel_binding = ChannelBindingPolicy::Require;
    let (result, out) = answer_auth(c, Authentication::CleartextPassword);
    assert!(matches!(result, Err(Error::ChannelBindingRequired { .. })));
    assert!(out.is_empty());
    // Channel binding would allow SCRAM-PLUS, require_auth refuses SASL.
    let mut c = require("!scram-sha-256");
    c.channel_binding = ChannelBindingPolicy::Require;
    c.tls = TlsNegotiation::Direct;
    c.tls_server_end_point = Some(vec![9; 32]);
    let (result, out) = answer_auth(
        c,
        Authentication::Sasl {
            mechanisms: vec!["SCRAM-SHA-256-PLUS".into()],
        },
    );
    assert_eq!(
        result,
        requirement_failed("!scram-sha-256", "server requested SASL authentication")
    );
    assert!(out.is_empty());
}

#[test]
fn require_auth_parsing_follows_libpq() {
    let parse = |text: &str| text.parse::<RequireAuth>();
    let all = parse("password,md5,gss,sspi,scram-sha-256,none").unwrap();
    assert!(AuthMethod::ALL.into_iter().all(|m| all.allows(m)));
    assert!(all.allows_none());
    let only = parse("md5").unwrap();
    assert_eq!(
        AuthMethod::ALL.map(|m| only.allows(m)),
        [false, true, false, false, false]
    );
    assert!(!only.allows_none());
    assert_eq!(only.as_str(), "md5");
    let not = parse("!md5,!none").unwrap();
    assert_eq!(
        AuthMethod::ALL.map(|m| not.allows(m)),
        [true, false, true, true, true]
    );
    assert!(!not.allows_none());
    assert!(parse("!password").unwrap().allows_none());
    for (text, message) in [
        (
            "scram-sha-256,!md5",
            "negative require_auth method \"!md5\" cannot be mixed with non-negative methods",
        ),
        (
            "!password,!none,scram-sha-256",
            "require_auth method \"scram-sha-256\" cannot be mixed with negative methods",
        ),
        (
            "password,md5,password",
            "require_auth method \"password\" is specified more than once",
        ),
        (
            "!md5,!md5",
            "require_auth method \"!md5\" is specified more than once",
        ),
        (
            "none,none",
            "require_auth method \"none\" is specified more than once",
        ),
        (
            "!none,!none",
            "require_auth method \"!none\" is specified more than once",
        ),
        ("scram", "invalid require_auth value: \"scram\""),
        ("md5,", "invalid require_auth value: \"\""),
        ("", "invalid require_auth value: \"\""),
        ("!", "invalid require_auth value: \"\""),
        ("MD5", "invalid require_auth value: \"MD5\""),
    ] {
        assert_eq!(parse(text).unwrap_err().to_string(), message, "{text}");
    }
}
