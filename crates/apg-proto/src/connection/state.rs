//! The connection's phases.
//!
//! Theory of operation: a connection moves forward only:
//!
//! ```text
//! AwaitingSslResponse --S--> AwaitingTls --tls_established--> Startup
//!        |--N (if allowed)----------------------------------> Startup
//! Startup (auth exchange, ParameterStatus, BackendKeyData) --ReadyForQuery--> Ready
//! any --fatal error / EOF / Terminate--> Closed
//! ```
//!
//! Every phase change is made through [`Phase`] assignments in `startup.rs` and
//! `mod.rs`; `Ready` is where the request pipeline (`pipeline.rs`) runs.

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// SSLRequest sent; waiting for the server's one-byte answer.
    AwaitingSslResponse,
    /// The server accepted TLS; the caller must do the handshake and call
    /// `tls_established`.
    AwaitingTls,
    /// StartupMessage sent; authenticating and collecting session parameters.
    Startup,
    /// Ready for (and possibly running) requests.
    Ready,
    /// Ended; see `Connection::error`.
    Closed,
}

impl Phase {
    /// A short description, used in error messages.
    pub(crate) const fn describe(self) -> &'static str {
        match self {
            Self::AwaitingSslResponse => "awaiting the SSL response",
            Self::AwaitingTls => "awaiting the TLS handshake",
            Self::Startup => "starting up",
            Self::Ready => "ready",
            Self::Closed => "closed",
        }
    }
}
