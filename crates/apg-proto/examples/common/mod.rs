//! What the examples share: a `postgres://` URL parser, the SCRAM nonce source, and the
//! blocking run loop that moves bytes between a `TcpStream` and the sans-IO connection.

use std::error::Error;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use apg_proto::connection::{Config, Connection, Event};

/// The parts of a `postgres://` URL the examples understand.
pub(crate) struct Target {
    pub(crate) user: String,
    pub(crate) password: Option<String>,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) database: Option<String>,
    pub(crate) connect_timeout: Option<Duration>,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, Box<dyn Error>> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or("URL must start with postgres:// or postgresql://")?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (decode(u)?, Some(decode(p)?)),
            None => (decode(userinfo)?, None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| format!("invalid port {p:?}"))?),
            None => (hostport, 5432),
        };
        let mut connect_timeout = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("connect_timeout", v)) => {
                    let secs: u64 = v
                        .parse()
                        .map_err(|_| format!("invalid connect_timeout {v:?}"))?;
                    connect_timeout = (secs > 0).then(|| Duration::from_secs(secs));
                }
                _ => return Err(format!("unsupported URL parameter {pair:?}").into()),
            }
        }
        Ok(Self {
            user: if user.is_empty() {
                "postgres".into()
            } else {
                user
            },
            password,
            host: if host.is_empty() {
                "localhost".into()
            } else {
                host.into()
            },
            port,
            database: (!database.is_empty())
                .then(|| decode(database))
                .transpose()?,
            connect_timeout,
        })
    }

    /// The core's configuration for this target, with a fresh SCRAM nonce.
    pub(crate) fn config(&self) -> Result<Config, Box<dyn Error>> {
        let mut config = Config::new(self.user.clone());
        config.password = self.password.clone().map(String::into_bytes);
        config.database = self.database.clone();
        let mut nonce = [0u8; 24];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut nonce)?;
        config.scram_nonce = Some(nonce);
        Ok(config)
    }

    /// Opens the TCP connection (bounded by the connect timeout).
    pub(crate) fn connect(&self) -> Result<TcpStream, Box<dyn Error>> {
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or("host name resolved to no address")?;
        let socket = match self.connect_timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t)?,
            None => TcpStream::connect(addr)?,
        };
        socket.set_nodelay(true)?;
        Ok(socket)
    }
}

/// Percent-decoding of URL components.
fn decode(s: &str) -> Result<String, Box<dyn Error>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next().unwrap_or(0), bytes.next().unwrap_or(0)];
            let hex = std::str::from_utf8(&hex).map_err(|_| "invalid percent-encoding")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "invalid percent-encoding")?);
        } else {
            out.push(b);
        }
    }
    Ok(String::from_utf8(out)?)
}

/// The whole I/O of a blocking client: write what the connection wants to send, hand
/// each event to `on_event`, read, repeat, until `on_event` breaks. Start-up (until
/// [`Event::Connected`]) must finish before `startup_deadline`, however slowly the
/// server talks.
pub(crate) fn run(
    socket: &mut TcpStream,
    conn: &mut Connection,
    startup_deadline: Option<Instant>,
    mut on_event: impl FnMut(&mut Connection, Event) -> Result<ControlFlow<()>, Box<dyn Error>>,
) -> Result<(), Box<dyn Error>> {
    let mut connected = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(bytes) = conn.poll_transmit() {
            let n = socket.write(bytes)?;
            conn.advance_transmit(n);
        }
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Connected => connected = true,
                Event::Closed(Some(e)) => return Err(e.into()),
                Event::Closed(None) => return Err("connection closed".into()),
                _ => {}
            }
            if on_event(conn, event)?.is_break() {
                conn.terminate();
                while let Some(bytes) = conn.poll_transmit() {
                    let n = socket.write(bytes)?;
                    conn.advance_transmit(n);
                }
                return Ok(());
            }
        }
        let timeout = match startup_deadline {
            Some(d) if !connected => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err("timed out connecting to the server".into());
                }
                Some(left)
            }
            _ => None,
        };
        socket.set_read_timeout(timeout)?;
        let n = match socket.read(&mut buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            other => other?,
        };
        if n == 0 {
            conn.receive_eof();
        } else {
            conn.receive(&buf[..n]);
        }
        conn.process()?;
    }
}
