//! Asynchronous PostgreSQL client.
//!
//! `apg` is written once over `futures-io` streams and a small [`Runtime`] trait; the
//! `apg-tokio`, `apg-smol` and `apg-async-std` crates plug in a runtime. All protocol
//! logic lives in the sans-IO core, [`apg_proto`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod config;
pub mod runtime;

pub use config::{Config, ConfigError};
pub use runtime::{AsyncStream, BoxFuture, Runtime};
