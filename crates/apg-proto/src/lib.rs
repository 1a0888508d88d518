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
