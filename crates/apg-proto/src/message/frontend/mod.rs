//! Messages sent by the client (frontend) to the server.
//!
//! One module per message, named after it. Each type implements
//! [`Message`](super::Message): `encode` appends the whole message to a send buffer,
//! `decode` reads a body (used by test servers, proxies and the fuzzers).

mod sync;

pub use sync::Sync;
