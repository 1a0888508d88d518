//! Sans-IO PostgreSQL wire protocol.
//!
//! `apg-proto` encodes and decodes every message of the PostgreSQL frontend/backend
//! protocol (versions 3.0 and 3.2). It performs no I/O, reads no clock and starts no
//! task: callers feed it bytes and take bytes back. That makes it usable over any
//! transport: a blocking socket, an async runtime, io_uring, a WASM host, a test harness
//! or a fuzzer. It is `no_std` (with `alloc`) when the default `std` feature is off.
//!
//! ```text
//!   bytes from the server                     bytes to the server
//!            |                                         ^
//!            v                                         |
//!   message::split_frame  -->  BackendMessage    FrontendMessage::encode
//!   (length checked first)     ::decode          (length back-patched, checked)
//! ```
//!
//! The [`connection`] module builds a whole session on the codec: start-up, TLS
//! negotiation, authentication ([`auth`]: cleartext, MD5, SCRAM-SHA-256 and -PLUS),
//! simple and extended queries, pipelining, COPY and asynchronous messages, still with no
//! I/O. `examples/blocking_client.rs` runs it over a blocking socket in a page of code.
//!
//! # Messages
//!
//! Every message of protocol 3.0 and 3.2, one type each, in [`message::frontend`] (sent by
//! the client) and [`message::backend`] (sent by the server). CopyData and CopyDone go
//! both ways. Each type implements [`message::Message`].
//!
//! | direction | message | tag | type |
//! |---|---|---|---|
//! | client | StartupMessage | (none) | [`StartupMessage`](message::frontend::StartupMessage) |
//! | client | SSLRequest | (none) | [`SslRequest`](message::frontend::SslRequest) |
//! | client | GSSENCRequest | (none) | [`GssEncRequest`](message::frontend::GssEncRequest) |
//! | client | CancelRequest | (none) | [`CancelRequest`](message::frontend::CancelRequest) |
//! | client | Bind | `B` | [`Bind`](message::frontend::Bind) ([`BindEncoder`](message::frontend::BindEncoder) to stream values) |
//! | client | Close | `C` | [`Close`](message::frontend::Close) |
//! | client | CopyData | `d` | [`CopyData`](message::frontend::CopyData) |
//! | client | CopyDone | `c` | [`CopyDone`](message::frontend::CopyDone) |
//! | client | CopyFail | `f` | [`CopyFail`](message::frontend::CopyFail) |
//! | client | Describe | `D` | [`Describe`](message::frontend::Describe) |
//! | client | Execute | `E` | [`Execute`](message::frontend::Execute) |
//! | client | Flush | `H` | [`Flush`](message::frontend::Flush) |
//! | client | FunctionCall | `F` | [`FunctionCall`](message::frontend::FunctionCall) |
//! | client | GSSResponse | `p` | [`GssResponse`](message::frontend::GssResponse) |
//! | client | Parse | `P` | [`Parse`](message::frontend::Parse) |
//! | client | PasswordMessage | `p` | [`PasswordMessage`](message::frontend::PasswordMessage) |
//! | client | Query | `Q` | [`Query`](message::frontend::Query) |
//! | client | SASLInitialResponse | `p` | [`SaslInitialResponse`](message::frontend::SaslInitialResponse) |
//! | client | SASLResponse | `p` | [`SaslResponse`](message::frontend::SaslResponse) |
//! | client | Sync | `S` | [`Sync`](message::frontend::Sync) |
//! | client | Terminate | `X` | [`Terminate`](message::frontend::Terminate) |
//! | server | AuthenticationOk, ...KerberosV5, ...CleartextPassword, ...MD5Password, ...SCMCredential, ...GSS, ...GSSContinue, ...SSPI, ...SASL, ...SASLContinue, ...SASLFinal | `R` | [`Authentication`](message::backend::Authentication) |
//! | server | BackendKeyData | `K` | [`BackendKeyData`](message::backend::BackendKeyData) |
//! | server | BindComplete | `2` | [`BindComplete`](message::backend::BindComplete) |
//! | server | CloseComplete | `3` | [`CloseComplete`](message::backend::CloseComplete) |
//! | server | CommandComplete | `C` | [`CommandComplete`](message::backend::CommandComplete) |
//! | server | CopyBothResponse | `W` | [`CopyBothResponse`](message::backend::CopyBothResponse) |
//! | server | CopyData | `d` | [`CopyData`](message::backend::CopyData) |
//! | server | CopyDone | `c` | [`CopyDone`](message::backend::CopyDone) |
//! | server | CopyInResponse | `G` | [`CopyInResponse`](message::backend::CopyInResponse) |
//! | server | CopyOutResponse | `H` | [`CopyOutResponse`](message::backend::CopyOutResponse) |
//! | server | DataRow | `D` | [`DataRow`](message::backend::DataRow) |
//! | server | EmptyQueryResponse | `I` | [`EmptyQueryResponse`](message::backend::EmptyQueryResponse) |
//! | server | ErrorResponse | `E` | [`ErrorResponse`](message::backend::ErrorResponse) |
//! | server | FunctionCallResponse | `V` | [`FunctionCallResponse`](message::backend::FunctionCallResponse) |
//! | server | NegotiateProtocolVersion | `v` | [`NegotiateProtocolVersion`](message::backend::NegotiateProtocolVersion) |
//! | server | NoData | `n` | [`NoData`](message::backend::NoData) |
//! | server | NoticeResponse | `N` | [`NoticeResponse`](message::backend::NoticeResponse) |
//! | server | NotificationResponse | `A` | [`NotificationResponse`](message::backend::NotificationResponse) |
//! | server | ParameterDescription | `t` | [`ParameterDescription`](message::backend::ParameterDescription) |
//! | server | ParameterStatus | `S` | [`ParameterStatus`](message::backend::ParameterStatus) |
//! | server | ParseComplete | `1` | [`ParseComplete`](message::backend::ParseComplete) |
//! | server | PortalSuspended | `s` | [`PortalSuspended`](message::backend::PortalSuspended) |
//! | server | ReadyForQuery | `Z` | [`ReadyForQuery`](message::backend::ReadyForQuery) |
//! | server | RowDescription | `T` | [`RowDescription`](message::backend::RowDescription) |
//!
//! # Example
//!
//! ```
//! use apg_proto::message::backend::BackendMessage;
//! use apg_proto::message::frontend::Query;
//! use apg_proto::message::{split_frame, Message, DEFAULT_MAX_MESSAGE_LEN};
//! use bytes::BytesMut;
//!
//! // Encode a query into the send buffer.
//! let mut out = BytesMut::new();
//! Query { sql: "SELECT 1".into() }.encode(&mut out)?;
//! assert_eq!(&out[..], b"Q\0\0\0\x0dSELECT 1\0");
//!
//! // Decode what the server answered, however the bytes were split by the network.
//! let mut input = BytesMut::from(&b"I\0\0\0\x04Z\0\0\0\x05I"[..]);
//! while let Some(frame) = split_frame(&mut input, DEFAULT_MAX_MESSAGE_LEN)? {
//!     match BackendMessage::decode(frame)? {
//!         BackendMessage::EmptyQueryResponse(_) => println!("empty query"),
//!         BackendMessage::ReadyForQuery(z) => println!("ready: {:?}", z.status),
//!         other => println!("{other:?}"),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;

pub mod auth;
pub mod connection;
pub mod error;
pub mod message;
#[cfg(any(test, feature = "__testing"))]
#[doc(hidden)]
pub mod testing;
pub mod types;

pub use error::{DbError, EncodeError, Error, ProtocolError, UsageError};
