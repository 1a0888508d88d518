//! The connection state machine against a real PostgreSQL server (apg-testkit): start-up
//! with every authentication method, simple and extended queries, a 1,000-request
//! pipeline, COPY, errors and server-side termination, over a blocking socket.

use std::io::{Read, Write};
use std::net::TcpStream;

use apg_proto::connection::{Config, Connection, Event, Outcome, Request, RequestId, Response};
use apg_proto::message::backend::TransactionStatus;
use apg_proto::message::Format;
use apg_proto::Error;
use apg_testkit::{AuthMethod, Cluster};

/// A connection and its socket, driven synchronously.
struct Session {
    socket: TcpStream,
    conn: Connection,
    events: Vec<Event>,
}

impl Session {
    fn config(cluster: &Cluster, method: AuthMethod) -> Config {
        let user = cluster.user(method);
        let mut config = Config::new(user.name());
        config.database = Some("postgres".into());
        config.password = user.password().map(|p| p.as_bytes().to_vec());
        let mut nonce = [0u8; 24];
        std::fs::File::open("/dev/urandom")
            .unwrap()
            .read_exact(&mut nonce)
            .unwrap();
        config.scram_nonce = Some(nonce);
        config
    }

    fn connect(config: Config) -> Result<Self, Error> {
        let cluster = Cluster::shared().unwrap();
        let socket = TcpStream::connect((cluster.host(), cluster.port())).unwrap();
        let mut s = Self {
            socket,
            conn: Connection::new(config)?,
            events: Vec::new(),
        };
        s.drive_until(|e| matches!(e, Event::Connected))?;
        Ok(s)
    }

    fn connect_as(method: AuthMethod) -> Result<Self, Error> {
        Self::connect(Self::config(Cluster::shared().unwrap(), method))
    }

    /// Moves bytes until an event matches (it stays in `self.events`).
    fn drive_until(&mut self, mut done: impl FnMut(&Event) -> bool) -> Result<(), Error> {
        let mut buf = vec![0u8; 64 * 1024];
        if self.events.iter().any(&mut done) {
            return Ok(());
        }
        loop {
            while let Some(bytes) = self.conn.poll_transmit() {
                let n = self.socket.write(bytes).unwrap();
                self.conn.advance_transmit(n);
            }
            let mut found = false;
            while let Some(event) = self.conn.poll_event() {
                found |= done(&event);
                self.events.push(event);
            }
            if found {
                return Ok(());
            }
            let n = self.socket.read(&mut buf).unwrap_or(0);
            if n == 0 {
                self.conn.receive_eof();
            } else {
                self.conn.receive(&buf[..n]);
            }
            if let Err(e) = self.conn.process() {
                // Keep what the connection reported before it closed.
                self.events
                    .extend(std::iter::from_fn(|| self.conn.poll_event()));
                return Err(e);
            }
        }
    }

    fn wait(&mut self, id: RequestId) -> Result<(Vec<Response>, Outcome), Error> {
        self.drive_until(|e| matches!(e, Event::RequestDone { id: d, .. } if *d == id))?;
        let mut responses = Vec::new();
        let mut outcome = None;
        // Other requests' events stay for their own `wait`.
        let mut rest = Vec::new();
        for e in self.events.drain(..) {
            match e {
                // The closing transaction status is checked through the connection.
                Event::Response {
                    body: Response::ReadyForQuery(_),
                    ..
                } => {}
                Event::Response { id: r, body } if r == id => responses.push(body),
                Event::RequestDone { id: r, outcome: o } if r == id => outcome = Some(o),
                other => rest.push(other),
            }
        }
        self.events = rest;
        Ok((responses, outcome.unwrap()))
    }

    fn simple(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        let id = self.conn.send(Request::query(sql)).unwrap();
        let (responses, outcome) = self.wait(id).unwrap();
        assert_eq!(outcome, Outcome::Success, "{responses:?}");
        rows(&responses)
    }
}

fn rows(responses: &[Response]) -> Vec<Vec<Option<String>>> {
    responses
        .iter()
        .filter_map(|r| match r {
            Response::DataRow(row) => Some(
                row.iter()
                    .map(|f| f.map(|b| String::from_utf8(b.to_vec()).unwrap()))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[test]
fn every_auth_method() {
    for method in AuthMethod::ALL {
        let mut s = Session::connect_as(method).unwrap_or_else(|e| panic!("{method:?}: {e}"));
        let user = Cluster::shared().unwrap().user(method);
        assert_eq!(
            s.simple("SELECT current_user"),
            [[Some(user.name().to_string())]]
        );
    }
}

#[test]
fn wrong_password_is_28p01() {
    for method in [AuthMethod::Password, AuthMethod::Md5, AuthMethod::Scram] {
        let mut config = Session::config(Cluster::shared().unwrap(), method);
        config.password = Some(b"wrong".to_vec());
        match Session::connect(config) {
            Err(Error::Db(e)) => assert_eq!(e.code(), "28P01", "{method:?}"),
            Err(e) => panic!("{method:?}: {e}"),
            Ok(_) => panic!("{method:?}: accepted a wrong password"),
        }
    }
}

#[test]
fn protocol_32_on_new_servers_and_negotiated_down_on_old() {
    let cluster = Cluster::shared().unwrap();
    let mut config = Session::config(cluster, AuthMethod::Trust);
    config.max_protocol_version = apg_proto::message::frontend::ProtocolVersion::V3_2;
    let s = Session::connect(config).unwrap();
    let key = s.conn.backend_key().unwrap().secret_key.len();
    if cluster.server_version_num() >= 180_000 {
        assert_eq!(key, 32);
    } else {
        assert_eq!(
            s.conn.protocol_version(),
            apg_proto::message::frontend::ProtocolVersion::V3_0
        );
        assert_eq!(key, 4);
    }
}

#[test]
fn simple_query_several_statements_and_errors() {
    let mut s = Session::connect_as(AuthMethod::Trust).unwrap();
    assert_eq!(
        s.simple("SELECT 1; SELECT 'a', NULL"),
        [vec![Some("1".into())], vec![Some("a".into()), None]]
    );
    let id = s.conn.send(Request::query("SELECT 1/0")).unwrap();
    let (responses, outcome) = s.wait(id).unwrap();
    assert_eq!(outcome, Outcome::Failed);
    let Some(Response::Error(e)) = responses.last() else {
        panic!("{responses:?}")
    };
    assert_eq!(e.code(), "22012");
    let id = s.conn.send(Request::query("  ")).unwrap();
    assert_eq!(s.wait(id).unwrap().0, [Response::EmptyQuery]);
    // Still usable.
    assert_eq!(s.simple("SELECT 2"), [[Some("2".into())]]);
}

#[test]
fn extended_query_with_binary_parameters() {
    let mut s = Session::connect_as(AuthMethod::Scram).unwrap();
    let mut req = s.conn.extended().unwrap();
    req.parse("", "SELECT $1::int4 + 1, $2::text", &[23, 25])
        .unwrap();
    req.bind(
        "",
        "",
        &[Format::Binary, Format::Text],
        &[Some(&41i32.to_be_bytes()), None],
        &[Format::Binary, Format::Text],
    )
    .unwrap();
    req.describe_portal("").unwrap();
    req.execute("", 0).unwrap();
    let id = req.finish().unwrap();
    let (responses, outcome) = s.wait(id).unwrap();
    assert_eq!(outcome, Outcome::Success);
    let row = responses
        .iter()
        .find_map(|r| match r {
            Response::DataRow(row) => Some(row.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(row.get(0), Some(Some(&42i32.to_be_bytes()[..])));
    assert_eq!(row.get(1), Some(None));
}

#[test]
fn pipeline_of_a_thousand_requests_sent_before_reading() {
    let mut s = Session::connect_as(AuthMethod::Trust).unwrap();
    let ids: Vec<RequestId> = (0..1000i32)
        .map(|i| {
            let mut req = s.conn.extended().unwrap();
            req.parse("", "SELECT $1::int4", &[23]).unwrap();
            req.bind(
                "",
                "",
                &[Format::Binary],
                &[Some(&i.to_be_bytes())],
                &[Format::Binary],
            )
            .unwrap();
            req.execute("", 0).unwrap();
            req.finish().unwrap()
        })
        .collect();
    // All of it is one buffer, written before anything is read.
    let pending = s.conn.poll_transmit().unwrap().len();
    assert!(pending > 40_000);
    s.drive_until(|e| matches!(e, Event::RequestDone { id, .. } if *id == ids[999]))
        .unwrap();
    let mut expected = 0i32;
    let mut done = Vec::new();
    for e in s.events.drain(..) {
        match e {
            Event::Response {
                body: Response::DataRow(row),
                ..
            } => {
                assert_eq!(row.get(0), Some(Some(&expected.to_be_bytes()[..])));
                expected += 1;
            }
            Event::RequestDone { id, outcome } => {
                assert_eq!(outcome, Outcome::Success);
                done.push(id);
            }
            _ => {}
        }
    }
    assert_eq!(done, ids);
}

#[test]
fn sync_group_error_aborts_and_rolls_back() {
    let mut s = Session::connect_as(AuthMethod::Trust).unwrap();
    s.simple("CREATE TEMP TABLE pipe (n int)");
    let mut send = |sql: &str, sync: bool| {
        let mut req = s.conn.extended().unwrap();
        req.parse("", sql, &[]).unwrap();
        req.bind("", "", &[], &[], &[]).unwrap();
        req.execute("", 0).unwrap();
        if sync {
            req.finish().unwrap()
        } else {
            req.finish_without_sync()
        }
    };
    let a = send("INSERT INTO pipe VALUES (1)", false);
    let b = send("SELECT 1/0", false);
    let c = send("INSERT INTO pipe VALUES (3)", true);
    let d = send("INSERT INTO pipe VALUES (4)", true);
    s.drive_until(|e| matches!(e, Event::RequestDone { id, .. } if *id == d))
        .unwrap();
    let outcomes: Vec<(RequestId, Outcome)> = s
        .events
        .drain(..)
        .filter_map(|e| match e {
            Event::RequestDone { id, outcome } => Some((id, outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (b, Outcome::Failed),
            (c, Outcome::Aborted { by: b }),
            (a, Outcome::RolledBack { by: b }),
            (d, Outcome::Success),
        ]
    );
    // Only the row of the last group survived (PostgreSQL's pipeline_abort trace).
    assert_eq!(s.simple("SELECT n FROM pipe"), [[Some("4".into())]]);
}

#[test]
fn portal_suspended_resumes_inside_a_transaction() {
    let mut s = Session::connect_as(AuthMethod::Trust).unwrap();
    s.simple("BEGIN");
    let mut req = s.conn.extended().unwrap();
    req.parse("", "SELECT generate_series(1, 5)", &[]).unwrap();
    req.bind("p", "", &[], &[], &[]).unwrap();
    req.describe_portal("p").unwrap();
    req.execute("p", 2).unwrap();
    let id = req.finish().unwrap();
    let (responses, _) = s.wait(id).unwrap();
    assert!(responses.contains(&Response::PortalSuspended));
    assert_eq!(rows(&responses).len(), 2);
    let mut req = s.conn.extended().unwrap();
    req.execute("p", 2).unwrap();
    req.expect_columns(1);
    let id = req.finish().unwrap();
    assert_eq!(
        rows(&s.wait(id).unwrap().0),
        [[Some("3".into())], [Some("4".into())]]
    );
    let mut req = s.conn.extended().unwrap();
    req.execute("p", 0).unwrap();
    let id = req.finish().unwrap();
    let (responses, _) = s.wait(id).unwrap();
    assert_eq!(rows(&responses), [[Some("5".into())]]);
    let Some(Response::CommandComplete(c)) = responses.last() else {
        panic!("{responses:?}")
    };
    // The tag counts the rows of this Execute only, not of the whole portal.
    assert_eq!(c.rows(), Some(1));
    s.simple("COMMIT");
    assert_eq!(s.conn.transaction_status(), TransactionStatus::Idle);
}

#[test]
fn copy_in_and_out() {
    let mut s = Session::connect_as(AuthMethod::Trust).unwrap();
    s.simple("CREATE TEMP TABLE c (n int, t text)");
    let copy = s
        .conn
        .send(Request::copy_in("COPY c FROM STDIN (FORMAT csv)"))
        .unwrap();
    // A request sent meanwhile waits for the COPY to end.
    let after = s
        .conn
        .send(Request::query("SELECT count(*) FROM c"))
        .unwrap();
    for i in 0..1000 {
        s.conn
            .copy_data(copy, format!("{i},row {i}\n").as_bytes())
            .unwrap();
    }
    s.conn.copy_done(copy).unwrap();
    let (responses, outcome) = s.wait(copy).unwrap();
    assert_eq!(outcome, Outcome::Success);
    assert!(
        matches!(responses.last(), Some(Response::CommandComplete(c)) if c.rows() == Some(1000))
    );
    assert_eq!(rows(&s.wait(after).unwrap().0), [[Some("1000".into())]]);

    // A failed COPY leaves nothing behind and the session usable.
    let copy = s.conn.send(Request::copy_in("COPY c FROM STDIN")).unwrap();
    s.conn.copy_data(copy, b"1\tmore\n").unwrap();
    s.conn.copy_fail(copy, "changed my mind").unwrap();
    let (responses, outcome) = s.wait(copy).unwrap();
    assert_eq!(outcome, Outcome::Failed);
    assert!(matches!(responses.last(), Some(Response::Error(e)) if e.code() == "57014"));
    assert_eq!(s.simple("SELECT count(*) FROM c"), [[Some("1000".into())]]);

    // A bad row fails the COPY on the server; the rest of the data is ignored.
    let copy = s.conn.send(Request::copy_in("COPY c FROM STDIN")).unwrap();
    s.conn.copy_data(copy, b"not a number\tx\n").unwrap();
    s.conn.copy_done(copy).unwrap();
    let (responses, outcome) = s.wait(copy).unwrap();
    assert_eq!(outcome, Outcome::Failed);
    assert!(matches!(responses.last(), Some(Response::Error(e)) if e.code() == "22P02"));

    let id = s
        .conn
        .send(Request::query(
            "COPY (SELECT n FROM c WHERE n < 3 ORDER BY n) TO STDOUT",
        ))
        .unwrap();
    let (responses, _) = s.wait(id).unwrap();
    let data: Vec<u8> = responses
        .iter()
        .filter_map(|r| match r {
            Response::CopyData(d) => Some(d.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(data, b"0\n1\n2\n");
}

#[test]
fn undeclared_copy_in_is_refused_and_the_session_recovers() {
    let mut s = Session::connect_as(AuthMethod::Trust).unwrap();
    s.simple("CREATE TEMP TABLE u (n int)");
    let mut req = s.conn.extended().unwrap();
    req.parse("", "COPY u FROM STDIN", &[]).unwrap();
    req.bind("", "", &[], &[], &[]).unwrap();
    req.execute("", 0).unwrap();
    let id = req.finish().unwrap();
    let (_, outcome) = s.wait(id).unwrap();
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(s.simple("SELECT 1"), [[Some("1".into())]]);
}

#[test]
fn notifications_and_notices_arrive_as_events() {
    let mut listener = Session::connect_as(AuthMethod::Trust).unwrap();
    listener.simple("LISTEN apg_channel");
    let mut notifier = Session::connect_as(AuthMethod::Trust).unwrap();
    notifier.simple("NOTIFY apg_channel, 'hello'");
    listener
        .drive_until(|e| matches!(e, Event::Notification(n) if n.payload == "hello"))
        .unwrap();
    let id = listener
        .conn
        .send(Request::query("DO $$ BEGIN RAISE NOTICE 'careful'; END $$"))
        .unwrap();
    listener
        .drive_until(|e| matches!(e, Event::RequestDone { id: d, .. } if *d == id))
        .unwrap();
    assert!(listener
        .events
        .iter()
        .any(|e| matches!(e, Event::Notice(n) if n.message() == Some("careful"))));
}

#[test]
fn backend_terminated_by_the_server() {
    let mut victim = Session::connect_as(AuthMethod::Trust).unwrap();
    let pid = victim.conn.backend_key().unwrap().process_id;
    let id = victim
        .conn
        .send(Request::query("SELECT pg_sleep(30)"))
        .unwrap();
    // Make sure the query is on its way before the kill.
    while let Some(bytes) = victim.conn.poll_transmit() {
        let n = victim.socket.write(bytes).unwrap();
        victim.conn.advance_transmit(n);
    }
    let mut killer = Session::connect_as(AuthMethod::Trust).unwrap();
    killer.simple(&format!("SELECT pg_terminate_backend({pid})"));
    let err = victim
        .drive_until(|e| matches!(e, Event::Closed(_)))
        .unwrap_err();
    assert!(matches!(&err, Error::Db(e) if e.code() == "57P01"), "{err}");
    assert!(victim.events.iter().any(|e| matches!(
        e,
        Event::RequestDone { id: d, outcome: Outcome::Failed } if *d == id
    )));
}
