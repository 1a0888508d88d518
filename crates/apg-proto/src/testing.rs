//! A scripted, sans-IO PostgreSQL server for tests. **Not public API**: available under
//! `cfg(test)` and the hidden `__testing` feature, and may change at any time.
//!
//! [`FakeServer`] decodes what a client sends (a start-up packet first, then tagged
//! messages) and encodes what a test tells it to answer. It never runs SQL: each test
//! scripts the exact server bytes of the flow it checks.

use alloc::string::ToString;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use crate::error::ProtocolError;
use crate::message::backend::{
    Authentication, BackendKeyData, BackendMessage, CommandComplete, DataRow, ErrorFields,
    FieldDescription, ParameterStatus, ReadyForQuery, RowDescription, TransactionStatus,
};
use crate::message::frontend::{FrontendMessage, StartupPacket};
use crate::message::{split_frame, split_startup_packet, Format, DEFAULT_MAX_MESSAGE_LEN};

/// What the fake server received.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// The start-up packet (StartupMessage, SSLRequest, ...).
    Startup(StartupPacket),
    /// A tagged message.
    Message(FrontendMessage),
}

/// A scripted server: feed it client bytes, read back what it decoded, and have it encode
/// backend messages.
#[derive(Debug, Default)]
pub struct FakeServer {
    inbox: BytesMut,
    started: bool,
    /// Bytes to deliver to the client.
    pub output: BytesMut,
}

impl FakeServer {
    /// A server that expects a start-up packet first.
    pub fn new() -> Self {
        Self::default()
    }

    /// A server past start-up (for example after an SSLRequest answered with `S`, the
    /// next packet is again untagged: call [`FakeServer::expect_startup`]).
    pub fn expect_startup(&mut self) {
        self.started = false;
    }

    /// Decodes every complete message in `bytes` (plus anything buffered before).
    ///
    /// # Errors
    ///
    /// The decoding error of a malformed message.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Vec<Received>, ProtocolError> {
        self.inbox.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if !self.started {
                let Some(body) = split_startup_packet(&mut self.inbox, DEFAULT_MAX_MESSAGE_LEN)?
                else {
                    return Ok(out);
                };
                let packet = StartupPacket::decode(body)?;
                // After SSLRequest or GSSENCRequest another start-up packet follows.
                self.started = matches!(packet, StartupPacket::Startup(_));
                out.push(Received::Startup(packet));
            } else {
                let Some(frame) = split_frame(&mut self.inbox, DEFAULT_MAX_MESSAGE_LEN)? else {
                    return Ok(out);
                };
                out.push(Received::Message(FrontendMessage::decode(frame)?));
            }
        }
    }

    /// Appends an encoded backend message to [`FakeServer::output`].
    pub fn send(&mut self, message: impl Into<BackendMessage>) -> &mut Self {
        let message = message.into();
        message
            .encode(&mut self.output)
            .expect("test message encodes");
        self.output_len_check();
        self
    }

    /// Appends raw bytes (malformed input, unframed bytes such as an SSL answer).
    pub fn send_raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.output.extend_from_slice(bytes);
        self
    }

    fn output_len_check(&self) {
        debug_assert!(self.output.len() < DEFAULT_MAX_MESSAGE_LEN);
    }

    /// Takes the bytes to deliver to the client.
    pub fn take_output(&mut self) -> Bytes {
        self.output.split().freeze()
    }

    /// AuthenticationOk, a few ParameterStatus, BackendKeyData (4-byte key), ReadyForQuery.
    pub fn accept(&mut self) -> &mut Self {
        self.send(Authentication::Ok);
        self.startup_parameters();
        self.send(BackendKeyData {
            process_id: 4242,
            secret_key: Bytes::from_static(&[1, 2, 3, 4]),
        });
        self.ready(TransactionStatus::Idle)
    }

    /// The ParameterStatus messages a PostgreSQL 15 server sends at start-up (a subset).
    pub fn startup_parameters(&mut self) -> &mut Self {
        for (name, value) in [
            ("server_version", "15.18 (Debian 15.18-0+deb12u1)"),
            ("server_encoding", "UTF8"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"),
            ("TimeZone", "Etc/UTC"),
            ("integer_datetimes", "on"),
            ("standard_conforming_strings", "on"),
        ] {
            self.parameter(name, value);
        }
        self
    }

    /// A ParameterStatus.
    pub fn parameter(&mut self, name: &str, value: &str) -> &mut Self {
        self.send(ParameterStatus {
            name: name.to_string(),
            value: value.to_string(),
        })
    }

    /// A ReadyForQuery.
    pub fn ready(&mut self, status: TransactionStatus) -> &mut Self {
        self.send(ReadyForQuery { status })
    }

    /// A RowDescription of text columns with these names (type `text`).
    pub fn row_description(&mut self, names: &[&str]) -> &mut Self {
        let fields = names
            .iter()
            .enumerate()
            .map(|(i, name)| FieldDescription {
                name: name.to_string(),
                table_oid: 0,
                column_id: i16::try_from(i + 1).unwrap_or(0),
                type_oid: 25,
                type_size: -1,
                type_modifier: -1,
                format: Format::Text,
            })
            .collect();
        self.send(RowDescription { fields })
    }

    /// A DataRow of these values (`None` is NULL).
    pub fn data_row(&mut self, values: &[Option<&str>]) -> &mut Self {
        let row = DataRow::from_fields(values.iter().map(|v| v.map(str::as_bytes)))
            .expect("test row encodes");
        self.send(row)
    }

    /// A CommandComplete with this tag.
    pub fn command_complete(&mut self, tag: &str) -> &mut Self {
        self.send(CommandComplete { tag: tag.into() })
    }

    /// An ErrorResponse (`severity` such as `ERROR` or `FATAL`).
    pub fn error(&mut self, severity: &str, code: &str, message: &str) -> &mut Self {
        self.send(BackendMessage::ErrorResponse(
            error_fields(severity, code, message).into(),
        ))
    }

    /// A NoticeResponse.
    pub fn notice(&mut self, severity: &str, code: &str, message: &str) -> &mut Self {
        self.send(BackendMessage::NoticeResponse(
            error_fields(severity, code, message).into(),
        ))
    }
}

/// ErrorResponse/NoticeResponse fields as PostgreSQL sends them (S, V, C, M).
pub fn error_fields(severity: &str, code: &str, message: &str) -> ErrorFields {
    [
        (b'S', severity),
        (b'V', severity),
        (b'C', code),
        (b'M', message),
    ]
    .into_iter()
    .collect()
}
