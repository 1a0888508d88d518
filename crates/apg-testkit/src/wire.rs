//! A minimal blocking PostgreSQL client for the testkit's own work: waiting for
//! a server to come up, creating databases, running setup SQL.
//!
//! It is independent of `apg-proto` on purpose: the harness must keep working
//! when the code under test is broken. It speaks protocol 3.0 in plain text over
//! TCP or a Unix socket, logs in with trust, cleartext, MD5 or SCRAM-SHA-256, and
//! runs simple queries returning text values. Message formats:
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html>.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use crate::crypto::{hex, md5};
use crate::scram::{self, Scram};
use crate::{DbError, Error, Row};

/// Protocol version 3.0.
const PROTOCOL_3_0: i32 = 196_608;

/// Upper bound for one backend message. The testkit only reads small setup
/// results; anything bigger means the stream is not a PostgreSQL server.
const MAX_MESSAGE_LEN: usize = 64 << 20;

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A host name or address and a port.
    Tcp { host: String, port: u16 },
    /// The path of a socket file (`<dir>/.s.PGSQL.<port>`).
    Unix(PathBuf),
}

/// Everything needed to open one session.
#[derive(Debug, Clone)]
pub(crate) struct Login<'a> {
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) user: &'a str,
    pub(crate) password: Option<&'a str>,
    pub(crate) database: &'a str,
    /// Applies to connecting and to every read and write.
    pub(crate) timeout: Duration,
}

/// The authentication request the server made during start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthRequest {
    /// AuthenticationOk straight away (`trust`).
    None,
    /// AuthenticationCleartextPassword (`password`).
    Cleartext,
    /// AuthenticationMD5Password (`md5`).
    Md5,
    /// AuthenticationSASL with SCRAM-SHA-256 (`scram-sha-256`).
    ScramSha256,
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.flush(),
            Self::Unix(s) => s.flush(),
        }
    }
}

/// One open session.
pub(crate) struct Client {
    stream: Stream,
    auth: AuthRequest,
    closed: bool,
}

impl Client {
    /// Connects and logs in; returns once the server sent ReadyForQuery.
    pub(crate) fn connect(login: &Login<'_>) -> Result<Self, Error> {
        let stream = open(login.endpoint, login.timeout)?;
        let mut client = Self {
            stream,
            auth: AuthRequest::None,
            closed: false,
        };
        client.startup(login)?;
        Ok(client)
    }

    /// The authentication request the server made while logging in.
    // Read by the tests that check each role gets its method.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn auth_request(&self) -> AuthRequest {
        self.auth
    }

    fn startup(&mut self, login: &Login<'_>) -> Result<(), Error> {
        // StartupMessage: Int32 length, Int32 version, then name/value C strings
        // and a final NUL. It has no type byte.
        let mut body = PROTOCOL_3_0.to_be_bytes().to_vec();
        for (name, value) in [
            ("user", login.user),
            ("database", login.database),
            ("application_name", "apg-testkit"),
            ("client_encoding", "UTF8"),
        ] {
            put_cstr(&mut body, name)?;
            put_cstr(&mut body, value)?;
        }
        body.push(0);
        self.send(None, &body)?;

        let mut scram: Option<Scram> = None;
        loop {
            let (tag, body) = self.receive()?;
            let mut r = Body::new(&body);
            match tag {
                b'R' => match r.i32("Authentication")? {
                    0 => {}
                    3 => {
                        self.auth = AuthRequest::Cleartext;
                        let password = need_password(login)?;
                        let mut msg = Vec::new();
                        put_cstr(&mut msg, password)?;
                        self.send(Some(b'p'), &msg)?;
                    }
                    5 => {
                        self.auth = AuthRequest::Md5;
                        let password = need_password(login)?;
                        let salt = r.bytes(4, "AuthenticationMD5Password")?;
                        // "md5" || md5(hex(md5(password || user)) || salt)
                        let inner = hex(&md5(&[password.as_bytes(), login.user.as_bytes()]));
                        let outer = hex(&md5(&[inner.as_bytes(), salt]));
                        let mut msg = Vec::new();
                        put_cstr(&mut msg, &format!("md5{outer}"))?;
                        self.send(Some(b'p'), &msg)?;
                    }
                    10 => {
                        let mut offers_scram = false;
                        loop {
                            let mechanism = r.cstr("AuthenticationSASL")?;
                            if mechanism.is_empty() {
                                break;
                            }
                            offers_scram |= mechanism == scram::MECHANISM.as_bytes();
                        }
                        if !offers_scram {
                            return Err(Error::Unsupported(
                                "the server offers no SASL mechanism the testkit knows \
                                 (only SCRAM-SHA-256, without TLS)"
                                    .into(),
                            ));
                        }
                        self.auth = AuthRequest::ScramSha256;
                        let password = need_password(login)?;
                        let exchange = Scram::new("", password, &nonce());
                        let first = exchange.client_first();
                        // SASLInitialResponse: mechanism, Int32 length, data.
                        let mut msg = Vec::new();
                        put_cstr(&mut msg, scram::MECHANISM)?;
                        msg.extend_from_slice(&len_i32(first.len())?.to_be_bytes());
                        msg.extend_from_slice(first.as_bytes());
                        self.send(Some(b'p'), &msg)?;
                        scram = Some(exchange);
                    }
                    11 => {
                        let exchange = scram.as_mut().ok_or_else(|| {
                            Error::Protocol("AuthenticationSASLContinue without SASL".into())
                        })?;
                        let reply = exchange.client_final(r.rest())?;
                        self.send(Some(b'p'), reply.as_bytes())?;
                    }
                    12 => {
                        let exchange = scram.as_ref().ok_or_else(|| {
                            Error::Protocol("AuthenticationSASLFinal without SASL".into())
                        })?;
                        exchange.verify_server_final(r.rest())?;
                    }
                    code @ (2 | 7 | 8 | 9) => {
                        return Err(Error::Unsupported(format!(
                            "authentication request {code} (Kerberos, GSSAPI or SSPI)"
                        )))
                    }
                    code => {
                        return Err(Error::Protocol(format!(
                            "unknown authentication request {code}"
                        )))
                    }
                },
                b'E' => return Err(Error::Db(parse_error(&body)?)),
                // ParameterStatus, BackendKeyData, NoticeResponse and
                // NegotiateProtocolVersion carry nothing the testkit needs.
                b'S' | b'K' | b'N' | b'v' => {}
                b'Z' => return Ok(()),
                other => return Err(unexpected(other, "start-up")),
            }
        }
    }

    /// Runs `sql` with the simple query protocol and returns the rows of every
    /// statement in it, as text. The first ErrorResponse becomes the error, once
    /// the server is ready again.
    pub(crate) fn simple_query(&mut self, sql: &str) -> Result<Vec<Row>, Error> {
        let mut msg = Vec::with_capacity(sql.len() + 1);
        put_cstr(&mut msg, sql)?;
        self.send(Some(b'Q'), &msg)?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let (tag, body) = self.receive()?;
            match tag {
                b'D' => rows.push(parse_data_row(&body)?),
                b'E' => {
                    let e = parse_error(&body)?;
                    error.get_or_insert(e);
                }
                b'G' => {
                    // CopyInResponse: refuse with CopyFail, the server then
                    // answers ErrorResponse and ReadyForQuery.
                    let mut msg = Vec::new();
                    put_cstr(&mut msg, "COPY FROM STDIN is not supported by apg-testkit")?;
                    self.send(Some(b'f'), &msg)?;
                }
                b'W' => {
                    return Err(Error::Unsupported(
                        "statements that start COPY BOTH (replication)".into(),
                    ))
                }
                // RowDescription, CommandComplete, EmptyQueryResponse,
                // CopyOutResponse/CopyData/CopyDone, notices, parameter status
                // and notifications are skipped.
                b'T' | b'C' | b'I' | b'H' | b'd' | b'c' | b'N' | b'S' | b'A' => {}
                b'Z' => break,
                other => return Err(unexpected(other, "a simple query")),
            }
        }
        match error {
            Some(e) => Err(Error::Db(e)),
            None => Ok(rows),
        }
    }

    /// Sends Terminate and closes the socket.
    pub(crate) fn close(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if !self.closed {
            self.closed = true;
            // Best effort: the server may already be gone.
            let _ = self.send(Some(b'X'), &[]);
            let _ = match &self.stream {
                Stream::Tcp(s) => s.shutdown(Shutdown::Both),
                Stream::Unix(s) => s.shutdown(Shutdown::Both),
            };
        }
    }

    /// Writes one message: optional type byte, Int32 length counting itself, body.
    fn send(&mut self, tag: Option<u8>, body: &[u8]) -> Result<(), Error> {
        let mut msg = Vec::with_capacity(body.len() + 5);
        msg.extend(tag);
        msg.extend_from_slice(&len_i32(body.len() + 4)?.to_be_bytes());
        msg.extend_from_slice(body);
        self.stream
            .write_all(&msg)
            .and_then(|()| self.stream.flush())
            .map_err(|e| Error::io("writing to the server", e))
    }

    /// Reads one message: its type byte and body.
    fn receive(&mut self) -> Result<(u8, Vec<u8>), Error> {
        let mut header = [0u8; 5];
        self.stream
            .read_exact(&mut header)
            .map_err(|e| Error::io("reading from the server", e))?;
        let [tag, l0, l1, l2, l3] = header;
        let len = i32::from_be_bytes([l0, l1, l2, l3]);
        let body_len = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_sub(4))
            .filter(|l| *l <= MAX_MESSAGE_LEN)
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "message {:?} with invalid length {len}",
                    char::from(tag)
                ))
            })?;
        // Read through `take` so memory grows with the bytes that really
        // arrive, not with the length the peer claims.
        let mut body = Vec::new();
        let limit = u64::try_from(body_len).unwrap_or(u64::MAX);
        (&mut self.stream)
            .take(limit)
            .read_to_end(&mut body)
            .map_err(|e| Error::io("reading from the server", e))?;
        if body.len() != body_len {
            return Err(Error::io(
                "reading from the server",
                io::Error::from(io::ErrorKind::UnexpectedEof),
            ));
        }
        Ok((tag, body))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.terminate();
    }
}

fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Stream, Error> {
    let stream = match endpoint {
        Endpoint::Tcp { host, port } => {
            let context = || format!("connecting to {host}:{port}");
            let addrs = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|e| Error::io(context(), e))?;
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
            let mut connected = None;
            for addr in addrs {
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(s) => {
                        connected = Some(s);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            let s = connected.ok_or_else(|| Error::io(context(), last))?;
            // Setup messages are tiny; do not let Nagle delay them.
            let _ = s.set_nodelay(true);
            s.set_read_timeout(Some(timeout))
                .and_then(|()| s.set_write_timeout(Some(timeout)))
                .map_err(|e| Error::io(context(), e))?;
            Stream::Tcp(s)
        }
        Endpoint::Unix(path) => {
            let context = || format!("connecting to {}", path.display());
            let s = UnixStream::connect(path).map_err(|e| Error::io(context(), e))?;
            s.set_read_timeout(Some(timeout))
                .and_then(|()| s.set_write_timeout(Some(timeout)))
                .map_err(|e| Error::io(context(), e))?;
            Stream::Unix(s)
        }
    };
    Ok(stream)
}

fn need_password<'a>(login: &Login<'a>) -> Result<&'a str, Error> {
    login.password.ok_or_else(|| {
        Error::InvalidInput(format!(
            "the server wants a password for user {:?} and none was given",
            login.user
        ))
    })
}

fn unexpected(tag: u8, during: &str) -> Error {
    Error::Protocol(format!(
        "unexpected message {:?} during {during}",
        char::from(tag)
    ))
}

fn len_i32(len: usize) -> Result<i32, Error> {
    i32::try_from(len).map_err(|_| Error::InvalidInput("message longer than 2 GiB".into()))
}

fn put_cstr(buf: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    if s.as_bytes().contains(&0) {
        return Err(Error::InvalidInput(format!(
            "{:?} contains a NUL byte",
            truncate_for_display(s)
        )));
    }
    buf.extend_from_slice(s.as_bytes());
    buf.push(0);
    Ok(())
}

fn truncate_for_display(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// A client nonce: 18 random bytes, base64 encoded (printable, no commas).
fn nonce() -> String {
    let mut bytes = [0u8; 18];
    let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if from_os.is_err() {
        // Without /dev/urandom, fall back to std's randomly keyed hasher.
        use std::hash::{BuildHasher, Hasher};
        for chunk in bytes.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            for (dst, src) in chunk.iter_mut().zip(h.finish().to_le_bytes()) {
                *dst = src;
            }
        }
    }
    crate::crypto::base64_encode(&bytes)
}

/// A bounds-checked cursor over a message body.
struct Body<'a> {
    rest: &'a [u8],
}

impl<'a> Body<'a> {
    fn new(rest: &'a [u8]) -> Self {
        Self { rest }
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], Error> {
        match self.rest.split_at_checked(n) {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(head)
            }
            None => Err(Error::Protocol(format!("truncated {what}"))),
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, Error> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }

    fn i16(&mut self, what: &str) -> Result<i16, Error> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    fn i32(&mut self, what: &str) -> Result<i32, Error> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Error> {
        let bytes = self.bytes(N, what)?;
        <[u8; N]>::try_from(bytes).map_err(|_| Error::Protocol(format!("truncated {what}")))
    }

    /// A NUL-terminated string, without the NUL.
    fn cstr(&mut self, what: &str) -> Result<&'a [u8], Error> {
        let end = self
            .rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| Error::Protocol(format!("unterminated string in {what}")))?;
        let s = self.bytes(end, what)?;
        self.bytes(1, what)?;
        Ok(s)
    }

    fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

/// ErrorResponse: (field type byte, C string)* then a NUL.
fn parse_error(body: &[u8]) -> Result<DbError, Error> {
    let mut r = Body::new(body);
    let mut e = DbError {
        severity: String::new(),
        code: String::new(),
        message: String::new(),
        detail: None,
        hint: None,
    };
    let mut localized_severity = String::new();
    loop {
        let field = r.u8("ErrorResponse")?;
        if field == 0 {
            break;
        }
        let value = String::from_utf8_lossy(r.cstr("ErrorResponse")?).into_owned();
        match field {
            b'S' => localized_severity = value,
            b'V' => e.severity = value,
            b'C' => e.code = value,
            b'M' => e.message = value,
            b'D' => e.detail = Some(value),
            b'H' => e.hint = Some(value),
            _ => {}
        }
    }
    if e.severity.is_empty() {
        e.severity = localized_severity;
    }
    Ok(e)
}

/// DataRow: Int16 column count, then per column Int32 length (-1 = NULL) and bytes.
fn parse_data_row(body: &[u8]) -> Result<Row, Error> {
    let mut r = Body::new(body);
    let count = u16::from_be_bytes(r.i16("DataRow")?.to_be_bytes());
    let mut row = Vec::new();
    for _ in 0..count {
        let len = r.i32("DataRow")?;
        if len == -1 {
            row.push(None);
            continue;
        }
        let len = usize::try_from(len)
            .map_err(|_| Error::Protocol(format!("DataRow field length {len}")))?;
        let value = r.bytes(len, "DataRow")?;
        row.push(Some(String::from_utf8_lossy(value).into_owned()));
    }
    if !r.rest().is_empty() {
        return Err(Error::Protocol("trailing bytes after DataRow".into()));
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_error_response() {
        // S "ERROR", V "ERROR", C "42P01", M "relation ...", H "hint", then NUL.
        let body = b"SERREUR\0VERROR\0C42P01\0Mno such table\0Hcreate it\0\0";
        let e = parse_error(body).unwrap();
        assert_eq!(e.severity, "ERROR");
        assert_eq!(e.code, "42P01");
        assert_eq!(e.message, "no such table");
        assert_eq!(e.hint.as_deref(), Some("create it"));
        assert_eq!(e.detail, None);
        assert!(parse_error(b"Cabc").is_err());
        assert!(parse_error(b"Cabc\0").is_err());
    }

    #[test]
    fn parses_data_row() {
        // 3 columns: "1", NULL, "" .
        let body = b"\0\x03\0\0\0\x011\xff\xff\xff\xff\0\0\0\0";
        assert_eq!(
            parse_data_row(body).unwrap(),
            vec![Some("1".to_owned()), None, Some(String::new())]
        );
        // Negative length other than -1, length past the end, trailing bytes,
        // more columns announced than present.
        assert!(parse_data_row(b"\0\x01\xff\xff\xff\xfe").is_err());
        assert!(parse_data_row(b"\0\x01\0\0\0\x05ab").is_err());
        assert!(parse_data_row(b"\0\x00x").is_err());
        assert!(parse_data_row(b"\xff\xff").is_err());
    }

    #[test]
    fn rejects_nul_in_strings() {
        let mut buf = Vec::new();
        assert!(put_cstr(&mut buf, "a\0b").is_err());
        put_cstr(&mut buf, "ab").unwrap();
        assert_eq!(buf, b"ab\0");
    }

    /// Logs in to the shared cluster as `method`'s role over `endpoint`.
    fn login(
        endpoint: &Endpoint,
        method: crate::AuthMethod,
        password: Option<&str>,
    ) -> Result<AuthRequest, Error> {
        let client = Client::connect(&Login {
            endpoint,
            user: method.role(),
            password,
            database: "postgres",
            timeout: Duration::from_secs(10),
        })?;
        let seen = client.auth_request();
        client.close();
        Ok(seen)
    }

    #[test]
    fn each_role_gets_its_method_over_tcp_and_socket() {
        use crate::AuthMethod;
        let cluster = crate::Cluster::shared().unwrap();
        let endpoints = [
            Endpoint::Tcp {
                host: cluster.host().to_owned(),
                port: cluster.port(),
            },
            Endpoint::Unix(
                cluster
                    .socket_dir()
                    .join(format!(".s.PGSQL.{}", cluster.port())),
            ),
        ];
        for endpoint in &endpoints {
            for (method, expected) in [
                (AuthMethod::Trust, AuthRequest::None),
                (AuthMethod::Password, AuthRequest::Cleartext),
                (AuthMethod::Md5, AuthRequest::Md5),
                (AuthMethod::Scram, AuthRequest::ScramSha256),
            ] {
                let seen = login(endpoint, method, method.password())
                    .unwrap_or_else(|e| panic!("{method} over {endpoint:?}: {e}"));
                assert_eq!(seen, expected, "{method} over {endpoint:?}");
                if method != AuthMethod::Trust {
                    let err = login(endpoint, method, Some("wrong")).unwrap_err();
                    assert_eq!(
                        err.db_error().map(|e| e.code.as_str()),
                        Some("28P01"),
                        "{method} over {endpoint:?} with a wrong password: {err}"
                    );
                    assert!(matches!(
                        login(endpoint, method, None),
                        Err(Error::InvalidInput(_))
                    ));
                }
            }
        }
        // The md5 role's password is really stored as an MD5 hash, which is
        // what keeps the server from switching to SCRAM.
        let rows = cluster
            .query(
                "SELECT rolname, left(rolpassword, 3) FROM pg_authid \
                 WHERE rolname LIKE 'apg%' ORDER BY 1",
            )
            .unwrap();
        let stored: Vec<(String, Option<String>)> = rows
            .into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone()))
            .collect();
        assert_eq!(
            stored,
            [
                ("apg_cert".to_owned(), None),
                ("apg_md5".to_owned(), Some("md5".to_owned())),
                ("apg_password".to_owned(), Some("SCR".to_owned())),
                ("apg_scram".to_owned(), Some("SCR".to_owned())),
                ("apg_tls".to_owned(), Some("SCR".to_owned())),
                ("apg_trust".to_owned(), None),
            ]
        );
    }

    #[test]
    fn simple_query_reports_errors_after_ready() {
        let cluster = crate::Cluster::shared().unwrap();
        let rows = cluster
            .query("SELECT 1 AS a, NULL::text; SELECT 'x'")
            .unwrap();
        assert_eq!(
            rows,
            vec![vec![Some("1".to_owned()), None], vec![Some("x".to_owned())]]
        );
        let err = cluster.query("SELECT 1; SELECT 1/0; SELECT 2").unwrap_err();
        assert_eq!(err.db_error().unwrap().code, "22012");
        assert_eq!(cluster.query("").unwrap(), Vec::<Row>::new());
        let err = cluster.execute("COPY (SELECT 1) TO STDOUT").map(|()| "ok");
        assert_eq!(err.unwrap(), "ok");
        cluster.execute("CREATE TEMP TABLE t (x int)").unwrap();
        let err = cluster
            .execute("CREATE TEMP TABLE c (x int); COPY c FROM STDIN")
            .unwrap_err();
        assert_eq!(err.db_error().unwrap().code, "57014", "{err}");
    }

    #[test]
    fn nonce_is_printable_and_fresh() {
        let a = nonce();
        assert_eq!(a.len(), 24);
        assert!(a.bytes().all(|b| b.is_ascii_graphic() && b != b','));
        assert_ne!(a, nonce());
    }
}
