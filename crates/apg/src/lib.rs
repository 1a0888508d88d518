//! Asynchronous PostgreSQL client.
//!
//! `apg` is written once over `futures-io` streams and a small [`Runtime`] trait; the
//! `apg-tokio`, `apg-smol` and `apg-async-std` crates plug in a runtime. All protocol
//! logic lives in the sans-IO core, [`apg_proto`].
//!
//! TLS (cargo feature `tls`, on by default) uses rustls with the ring provider,
//! following libpq's `sslmode`, `sslrootcert`, `sslcert`/`sslkey` and
//! `sslnegotiation` (see [`config`]); with TLS, SCRAM authentication is bound to the
//! channel (SCRAM-SHA-256-PLUS). `rustls` is re-exported for
//! `Config::tls_client_config`.
//!
//! A [`Client`] is a cheap, cloneable handle to one connection. Requests made
//! concurrently through its clones are pipelined: encoded into one send buffer, written
//! together, answered in order. A driver task, spawned on the runtime when the
//! connection is made, moves the bytes.
//!
//! ```no_run
//! # async fn f(runtime: std::sync::Arc<dyn apg::Runtime>) -> Result<(), apg::Error> {
//! let mut config = apg::Config::new();
//! config.hosts = vec![apg::config::Host::Tcp("localhost".into())];
//! config.user = Some("postgres".into());
//! let client = apg::Client::connect(&config, runtime).await?;
//!
//! let row = client.query_one("SELECT $1::int8 + 1 AS n", &[&41i64]).await?;
//! assert_eq!(row.get::<i64, _>("n"), 42);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod binary_copy;
mod cancel;
mod client;
pub mod config;
mod connect;
mod copy;
mod driver;
mod error;
mod from_row;
mod ident;
mod introspect;
mod listen;
pub mod pool;
mod row;
pub mod runtime;
mod session;
mod shared;
mod sqlstate;
mod statement;
mod stream;
mod tls;
mod transaction;

pub use cancel::CancelToken;
pub use client::{Client, Params, ToStatement};
pub use config::{Config, ConfigError};
pub use copy::{CopyInWriter, CopyOutStream};
pub use error::{DbError, Error, ErrorKind};
pub use from_row::FromRow;
pub use listen::{Listener, Notification, LISTENER_CAPACITY};
pub use pool::{Pool, PoolBuilder, PoolError, PooledConnection};
pub use row::{Row, RowIndex, SimpleColumn, SimpleQueryMessage, SimpleRow};
pub use runtime::{AsyncStream, BoxFuture, Runtime};
#[doc(hidden)]
pub use shared::ConnectionStats;
pub use sqlstate::{RawSqlState, SqlState};
pub use statement::{Column, Statement};
pub use stream::{RowStream, DEFAULT_FETCH_SIZE};
pub use transaction::{IsolationLevel, Transaction, TransactionOptions};

/// Value conversion between Rust and PostgreSQL: [`ToSql`] for
/// parameters, [`FromSql`] for columns (re-exported from
/// [`apg_proto::types`]).
pub mod types {
    pub use apg_proto::types::*;

    /// The buffer [`ToSql::to_sql`] writes into (from the `bytes` crate), so that an
    /// implementation needs no dependency of its own.
    pub use bytes::BytesMut;

    /// The derive macros (feature `derive`).
    #[cfg(feature = "derive")]
    pub use apg_derive::{FromSql, ToSql};
}

pub use apg_proto::message::Format;

/// The rustls version apg uses (feature `tls`), for
/// [`Config::tls_client_config`](config::Config::tls_client_config).
#[cfg(feature = "tls")]
pub use rustls;

/// The types most programs use, for `use apg::prelude::*;` (the runtime crates
/// re-export them).
pub mod prelude {
    pub use crate::pool::{Pool, PoolBuilder, PoolError, PooledConnection};
    pub use crate::{
        Client, Column, Config, CopyInWriter, CopyOutStream, DbError, Error, ErrorKind, FromRow,
        FromSql, IsolationLevel, Listener, Notification, Row, RowStream, SimpleQueryMessage,
        SimpleRow, SqlState, Statement, ToSql, Transaction, TransactionOptions,
    };
}
/// The derive macros (feature `derive`), named like the traits they implement.
#[cfg(feature = "derive")]
pub use apg_derive::{FromRow, FromSql, ToSql};
pub use apg_proto::types::{FromSql, ToSql};
