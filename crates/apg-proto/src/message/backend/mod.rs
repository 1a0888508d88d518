//! Messages sent by the server (backend) to the client.
//!
//! One module per message, named after it. Each type implements
//! [`Message`](super::Message): `decode` reads a body cut by
//! [`split_frame`](super::split_frame), `encode` writes the whole message (used by test
//! servers, proxies and round-trip tests).

mod ready_for_query;

pub use ready_for_query::{ReadyForQuery, TransactionStatus};
