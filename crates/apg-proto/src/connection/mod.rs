//! The connection state machine: start-up, authentication, requests, pipelining, COPY
//! and asynchronous messages, with no I/O.
//!
//! A [`Connection`] owns a receive buffer, a send buffer and a queue of events. The
//! caller moves bytes between it and a transport, and reads events:
//!
//! ```text
//!            receive / receive_buf + process            poll_transmit / advance_transmit
//! socket  ---------------------------------->  Connection  ---------------------------->  socket
//!                                                  |
//!                send / extended / copy_* -->      +--> poll_event: Response, RequestDone,
//!                                                        Notification, Notice, ...
//! ```
//!
//! Methods come in four kinds (the taxonomy of quinn-proto):
//!
//! * **A. getters** (`&self`): [`phase`](Connection::phase),
//!   [`transaction_status`](Connection::transaction_status),
//!   [`backend_key`](Connection::backend_key),
//!   [`server_parameter`](Connection::server_parameter), [`in_flight`](Connection::in_flight),
//!   [`wants_read`](Connection::wants_read).
//! * **B. input from the network**: [`receive`](Connection::receive) or
//!   [`receive_buf`](Connection::receive_buf), then [`process`](Connection::process);
//!   [`receive_eof`](Connection::receive_eof).
//! * **C. commands from the application**: [`send`](Connection::send),
//!   [`extended`](Connection::extended), [`copy_data`](Connection::copy_data),
//!   [`copy_done`](Connection::copy_done), [`copy_fail`](Connection::copy_fail),
//!   [`discard`](Connection::discard), [`terminate`](Connection::terminate),
//!   [`tls_established`](Connection::tls_established).
//! * **D. output**: [`poll_transmit`](Connection::poll_transmit) /
//!   [`advance_transmit`](Connection::advance_transmit), [`poll_event`](Connection::poll_event).
//!
//! **The drain contract**: after every B or C call, write out `poll_transmit` until it
//! returns `None` and take `poll_event` until it returns `None`, before waiting on I/O.
//!
//! # Example
//!
//! A blocking run loop over `std::net::TcpStream`; see also
//! `examples/blocking_client.rs`.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use apg_proto::connection::{Config, Connection, Event, Request, Response};
//!
//! let mut socket = std::net::TcpStream::connect("127.0.0.1:5432")?;
//! let mut conn = Connection::new(Config::new("postgres"))?;
//! let query = conn.send(Request::query("SELECT 1"))?;
//! let mut buf = [0u8; 8192];
//! loop {
//!     while let Some(bytes) = conn.poll_transmit() {
//!         let n = socket.write(bytes)?;
//!         conn.advance_transmit(n);
//!     }
//!     while let Some(event) = conn.poll_event() {
//!         match event {
//!             Event::Response { body: Response::DataRow(row), .. } => println!("{row:?}"),
//!             Event::RequestDone { id, .. } if id == query => return Ok(()),
//!             Event::Closed(Some(e)) => return Err(e.into()),
//!             _ => {}
//!         }
//!     }
//!     let n = socket.read(&mut buf)?;
//!     if n == 0 { conn.receive_eof() } else { conn.receive(&buf[..n]) }
//!     conn.process()?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod copy;
mod event;
mod pipeline;
mod request;
mod startup;
mod state;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::{Buf, Bytes, BytesMut};

pub use config::{AuthMethod, Config, RequireAuth, RequireAuthError, TlsNegotiation};
pub use event::{Event, Outcome, RequestId, Response};
pub use request::{ExtendedRequest, Request};
pub use state::Phase;

use crate::error::{Error, ProtocolError, UsageError};
use crate::message::backend::TransactionStatus;
use crate::message::frontend::{CancelRequest, ProtocolVersion, Terminate};
use crate::message::{split_frame, Message};
use pipeline::Pipeline;
use startup::Startup;

/// The key that identifies a session to a CancelRequest.
#[derive(Clone, PartialEq, Eq)]
pub struct BackendKey {
    /// The backend's process id.
    pub process_id: u32,
    /// The secret: 4 bytes under protocol 3.0, up to 256 under 3.2.
    pub secret_key: Bytes,
}

impl core::fmt::Debug for BackendKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The secret would let anyone who reads the log cancel this session's queries.
        f.debug_struct("BackendKey")
            .field("process_id", &self.process_id)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// A PostgreSQL client session as a pure state machine. See the [module](self) docs.
#[derive(Debug)]
// Tests replay input on clones to check that chunking never changes the outcome.
#[cfg_attr(test, derive(Clone))]
pub struct Connection {
    phase: Phase,
    startup: Startup,
    recv: BytesMut,
    /// Bytes ready for the socket.
    send: BytesMut,
    /// Encoded requests sent during start-up, held until the first ReadyForQuery.
    held: BytesMut,
    events: VecDeque<Event>,
    pipeline: Pipeline,
    params: Vec<(String, String)>,
    backend_key: Option<BackendKey>,
    transaction_status: TransactionStatus,
    protocol: ProtocolVersion,
    max_message_len: usize,
    max_startup_message_len: usize,
    error: Option<Error>,
    eof: bool,
}

impl Connection {
    /// Starts a session: queues SSLRequest or the StartupMessage, as `config.tls` says.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] or [`Error::Encode`] when the configuration cannot be put in a
    /// StartupMessage (empty user, NUL bytes, a protocol version this crate does not
    /// speak).
    pub fn new(config: Config) -> Result<Self, Error> {
        let mut conn = Self {
            phase: Phase::Startup,
            startup: Startup::new(&config)?,
            recv: BytesMut::new(),
            send: BytesMut::new(),
            held: BytesMut::new(),
            events: VecDeque::new(),
            pipeline: Pipeline::default(),
            params: Vec::new(),
            backend_key: None,
            transaction_status: TransactionStatus::Idle,
            protocol: config.max_protocol_version,
            max_message_len: config.max_message_len,
            max_startup_message_len: config.max_startup_message_len,
            error: None,
            eof: false,
        };
        conn.begin()?;
        Ok(conn)
    }

    // ---- A. getters ------------------------------------------------------------------

    /// Where the connection is in its life.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The transaction status of the last ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.transaction_status
    }

    /// The cancel key, once the server has sent BackendKeyData.
    pub fn backend_key(&self) -> Option<&BackendKey> {
        self.backend_key.as_ref()
    }

    /// The protocol version in use: the requested one, or the lower one the server
    /// offered in NegotiateProtocolVersion.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.protocol
    }

    /// The value of a parameter the server reported (ParameterStatus), e.g.
    /// `server_version`, `TimeZone`, `in_hot_standby`.
    pub fn server_parameter(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter the server reported, in the order first seen.
    pub fn server_parameters(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The server version as a number, like `server_version_num` (`150018` for 15.18),
    /// parsed from the `server_version` parameter.
    pub fn server_version_num(&self) -> Option<u32> {
        parse_server_version(self.server_parameter("server_version")?)
    }

    /// Requests sent and not yet complete.
    pub fn in_flight(&self) -> usize {
        self.pipeline.len()
    }

    /// Whether the server owes bytes: start-up is not finished or requests are in flight.
    pub fn wants_read(&self) -> bool {
        match self.phase {
            Phase::AwaitingSslResponse | Phase::Startup => true,
            Phase::Ready => !self.pipeline.is_empty(),
            Phase::AwaitingTls | Phase::Closed => false,
        }
    }

    /// Why the connection closed, if it failed.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// A CancelRequest for this session, to send on a *separate* connection (open it
    /// with the same TLS requirements as this one: a cancel key sent in plain text is
    /// as good as leaked).
    pub fn cancel_request(&self) -> Option<CancelRequest> {
        self.backend_key.as_ref().map(|k| CancelRequest {
            process_id: k.process_id,
            secret_key: k.secret_key.clone(),
        })
    }

    // ---- B. input from the network ---------------------------------------------------

    /// Appends received bytes. Call [`process`](Self::process) afterwards.
    pub fn receive(&mut self, data: &[u8]) {
        self.recv.extend_from_slice(data);
    }

    /// The receive buffer, for transports that read straight into it (no copy). Call
    /// [`process`](Self::process) afterwards.
    pub fn receive_buf(&mut self) -> &mut BytesMut {
        &mut self.recv
    }

    /// Parses every complete message received, advancing the state and queueing events
    /// and bytes to send. Incomplete messages wait for more bytes: how the input was
    /// split never changes the result.
    ///
    /// # Errors
    ///
    /// The error that closed the connection: a protocol violation, a failed start-up or
    /// a fatal server error. It is sticky: later calls return it again.
    pub fn process(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = self.process_inner();
        if let Err(e) = result {
            self.close(Some(e.clone()));
            return Err(e);
        }
        if self.eof && self.phase != Phase::Closed {
            let error = if self.startup.terminated() {
                None
            } else {
                Some(Error::ConnectionLost)
            };
            self.close(error.clone());
            if let Some(e) = error {
                return Err(e);
            }
        }
        Ok(())
    }

    fn process_inner(&mut self) -> Result<(), Error> {
        loop {
            match self.phase {
                Phase::AwaitingSslResponse => {
                    if self.recv.is_empty() {
                        return Ok(());
                    }
                    self.handle_ssl_response()?;
                }
                Phase::AwaitingTls => {
                    if !self.recv.is_empty() {
                        return Err(ProtocolError::DataAfterSslResponse.into());
                    }
                    return Ok(());
                }
                Phase::Closed => return Ok(()),
                Phase::Startup | Phase::Ready => {
                    let max = if self.phase == Phase::Ready {
                        self.max_message_len
                    } else {
                        self.max_startup_message_len
                    };
                    let Some(frame) = split_frame(&mut self.recv, max)? else {
                        return Ok(());
                    };
                    if self.phase == Phase::Ready {
                        self.handle_ready(frame)?;
                    } else {
                        self.handle_startup(frame)?;
                    }
                }
            }
        }
    }

    /// Reports that the transport reached end of file. Call [`process`](Self::process)
    /// afterwards: complete messages still buffered are handled first, then every
    /// request in flight fails with [`Outcome::ConnectionClosed`].
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    // ---- C. commands -----------------------------------------------------------------

    /// Sends a simple-protocol request (see [`Request`]).
    ///
    /// Requests may be sent at any time, also before start-up completes (they are held
    /// until the session is ready) and while others are in flight (they are pipelined).
    ///
    /// # Errors
    ///
    /// [`UsageError::Closed`] once the connection has ended; [`UsageError::Encode`] when
    /// the request cannot be encoded. Nothing is sent then.
    pub fn send(&mut self, request: Request<'_>) -> Result<RequestId, UsageError> {
        self.check_open()?;
        self.send_simple(request)
    }

    /// Starts an extended-protocol request (Parse, Bind, Describe, Execute, Close in any
    /// combination). See [`ExtendedRequest`].
    ///
    /// # Errors
    ///
    /// [`UsageError::Closed`] once the connection has ended.
    pub fn extended(&mut self) -> Result<ExtendedRequest<'_>, UsageError> {
        self.check_open()?;
        Ok(ExtendedRequest::new(self))
    }

    /// Stops events for request `id`: its caller went away. The connection still reads
    /// the request's responses, so later requests get theirs. A COPY FROM STDIN still
    /// receiving data is aborted with CopyFail. Unknown or finished ids are ignored.
    pub fn discard(&mut self, id: RequestId) {
        if self.pipeline.discard(id) && self.copy_in_open() == Some(id) {
            // Nobody will finish this COPY; abort it so the session recovers.
            let _ = self.copy_fail(id, "COPY abandoned by the client");
        }
        self.events.retain(|e| match e {
            Event::Response { id: rid, .. } | Event::RequestDone { id: rid, .. } => *rid != id,
            _ => true,
        });
    }

    /// Ends the session politely: queues Terminate. Requests in flight are answered
    /// with [`Outcome::ConnectionClosed`] when the server closes the connection.
    pub fn terminate(&mut self) {
        if self.phase == Phase::Closed || self.startup.terminated() {
            return;
        }
        if let Some(id) = self.copy_in_open() {
            // The server would read what follows as COPY data.
            let _ = self.copy_fail(id, "connection terminated by the client");
        }
        // Terminate goes after every request already sent, including held ones.
        self.flush_held_if_ready();
        let behind = self.pipeline.behind_copy.split();
        self.request_buf().unsplit(behind);
        // Terminate has no fields; encoding it cannot fail.
        let _ = Terminate.encode(self.request_buf());
        self.startup.set_terminated();
        if self.pipeline.is_empty() {
            self.close(None);
        }
    }

    // ---- D. output -------------------------------------------------------------------

    /// Bytes to write to the transport, if any. Write as many as the transport takes,
    /// then call [`advance_transmit`](Self::advance_transmit) with that count. Requests
    /// sent back to back come out as one slice: that is what pipelines them.
    ///
    /// Still usable after the connection failed, so a queued Terminate can be sent.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        if self.send.is_empty() {
            None
        } else {
            Some(&self.send)
        }
    }

    /// Marks `written` bytes of [`poll_transmit`](Self::poll_transmit)'s slice as sent.
    pub fn advance_transmit(&mut self, written: usize) {
        self.send.advance(written.min(self.send.len()));
    }

    /// Moves all bytes to send into `buf`: a convenience for tests and blocking callers.
    pub fn write_to(&mut self, buf: &mut BytesMut) {
        buf.extend_from_slice(&self.send);
        self.send.clear();
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ---- internals -------------------------------------------------------------------

    fn check_open(&self) -> Result<(), UsageError> {
        if self.phase == Phase::Closed || self.startup.terminated() {
            Err(UsageError::Closed)
        } else {
            Ok(())
        }
    }

    /// Where bytes go that may follow what was sent last: held back until start-up is
    /// complete, straight to the socket otherwise.
    fn request_buf(&mut self) -> &mut BytesMut {
        if self.phase == Phase::Ready {
            &mut self.send
        } else {
            &mut self.held
        }
    }

    fn flush_held_if_ready(&mut self) {
        if self.phase == Phase::Ready && !self.held.is_empty() {
            let held = self.held.split();
            self.send.unsplit(held);
        }
    }

    fn emit(&mut self, event: Event) {
        self.events.push_back(event);
    }

    fn set_parameter(&mut self, name: String, value: String) {
        if let Some(slot) = self.params.iter_mut().find(|(n, _)| *n == name) {
            if slot.1 == value {
                return;
            }
            slot.1.clone_from(&value);
        } else {
            self.params.push((name.clone(), value.clone()));
        }
        self.emit(Event::ParameterStatus { name, value });
    }

    /// Ends the connection: every request in flight is done with `ConnectionClosed`,
    /// then `Closed` is reported. Idempotent.
    fn close(&mut self, error: Option<Error>) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        for (id, discarded) in self.pipeline.drain_all() {
            if !discarded {
                self.emit(Event::RequestDone {
                    id,
                    outcome: Outcome::ConnectionClosed,
                });
            }
        }
        self.held.clear();
        self.error.clone_from(&error);
        self.emit(Event::Closed(error));
    }
}

/// Parses `server_version` ("15.18 (Debian 15.18-0+deb12u1)", "9.6.24", "18beta1") into
/// the `server_version_num` form.
fn parse_server_version(v: &str) -> Option<u32> {
    let v = v
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?;
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    // The server's string: checked arithmetic, so an absurd version is `None`, not a
    // panic or a wrapped number.
    let base = major.checked_mul(10_000)?;
    if major >= 10 {
        base.checked_add(minor)
    } else {
        let patch = parts.next().flatten().unwrap_or(0);
        base.checked_add(minor.checked_mul(100)?)?
            .checked_add(patch)
    }
}

#[cfg(test)]
mod tests;
