//! Messages sent by the server (backend) to the client.
//!
//! One module per message, named after it. Each type implements
//! [`Message`]: `decode` reads a body cut by
//! [`split_frame`](super::split_frame), `encode` writes the whole message (used by test
//! servers, proxies and round-trip tests). [`BackendMessage`] is the sum of them all and
//! dispatches on the type byte.
//!
//! | message | tag | type |
//! |---|---|---|
//! | AuthenticationOk, ...KerberosV5, ...CleartextPassword, ...MD5Password, ...SCMCredential, ...GSS, ...GSSContinue, ...SSPI, ...SASL, ...SASLContinue, ...SASLFinal | `R` | [`Authentication`] |
//! | BackendKeyData | `K` | [`BackendKeyData`] |
//! | BindComplete | `2` | [`BindComplete`] |
//! | CloseComplete | `3` | [`CloseComplete`] |
//! | CommandComplete | `C` | [`CommandComplete`] |
//! | CopyBothResponse | `W` | [`CopyBothResponse`] |
//! | CopyData | `d` | [`CopyData`] |
//! | CopyDone | `c` | [`CopyDone`] |
//! | CopyInResponse | `G` | [`CopyInResponse`] |
//! | CopyOutResponse | `H` | [`CopyOutResponse`] |
//! | DataRow | `D` | [`DataRow`] |
//! | EmptyQueryResponse | `I` | [`EmptyQueryResponse`] |
//! | ErrorResponse | `E` | [`ErrorResponse`] |
//! | FunctionCallResponse | `V` | [`FunctionCallResponse`] |
//! | NegotiateProtocolVersion | `v` | [`NegotiateProtocolVersion`] |
//! | NoData | `n` | [`NoData`] |
//! | NoticeResponse | `N` | [`NoticeResponse`] |
//! | NotificationResponse | `A` | [`NotificationResponse`] |
//! | ParameterDescription | `t` | [`ParameterDescription`] |
//! | ParameterStatus | `S` | [`ParameterStatus`] |
//! | ParseComplete | `1` | [`ParseComplete`] |
//! | PortalSuspended | `s` | [`PortalSuspended`] |
//! | ReadyForQuery | `Z` | [`ReadyForQuery`] |
//! | RowDescription | `T` | [`RowDescription`] |
//!
//! <https://www.postgresql.org/docs/current/protocol-message-formats.html>

#[cfg(test)]
use alloc::string::String;

use bytes::BytesMut;

use crate::error::{EncodeError, ProtocolError};
use crate::message::{Frame, Message};

mod authentication;
mod backend_key_data;
mod bind_complete;
mod close_complete;
mod command_complete;
mod copy_both_response;
mod copy_in_response;
mod copy_out_response;
mod copy_response;
mod data_row;
mod empty_query_response;
mod error_response;
mod function_call_response;
mod negotiate_protocol_version;
mod no_data;
mod notice_response;
mod notification_response;
mod parameter_description;
mod parameter_status;
mod parse_complete;
mod portal_suspended;
mod ready_for_query;
mod row_description;

pub use crate::message::{CopyData, CopyDone};
pub use authentication::Authentication;
pub use backend_key_data::BackendKeyData;
pub use bind_complete::BindComplete;
pub use close_complete::CloseComplete;
pub use command_complete::{CommandComplete, CommandTag};
pub use copy_both_response::CopyBothResponse;
pub use copy_in_response::CopyInResponse;
pub use copy_out_response::CopyOutResponse;
pub use data_row::{DataRow, DataRowIter, DataRowRanges};
pub use empty_query_response::EmptyQueryResponse;
pub use error_response::{ErrorFields, ErrorFieldsIter, ErrorResponse};
pub use function_call_response::FunctionCallResponse;
pub use negotiate_protocol_version::NegotiateProtocolVersion;
pub use no_data::NoData;
pub use notice_response::NoticeResponse;
pub use notification_response::NotificationResponse;
pub use parameter_description::ParameterDescription;
pub use parameter_status::ParameterStatus;
pub use parse_complete::ParseComplete;
pub use portal_suspended::PortalSuspended;
pub use ready_for_query::{ReadyForQuery, TransactionStatus};
pub use row_description::{FieldDescription, RowDescription};

/// Defines [`BackendMessage`] and its dispatch from one list, so the enum, the tag
/// table, `encode`, `name` and the `From` conversions cannot drift apart.
macro_rules! backend_messages {
    ($($(#[$doc:meta])* $variant:ident,)+) => {
        /// Any message the server sends after the start-up packet.
        ///
        /// [`BackendMessage::decode`] picks the variant from the frame's type byte. The
        /// connection state machine decides whether a message is acceptable where it
        /// arrives; this type only knows how each one is laid out.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum BackendMessage {
            $($(#[$doc])* $variant($variant),)+
        }

        impl BackendMessage {
            /// Decodes one frame cut by [`split_frame`](super::split_frame).
            ///
            /// # Errors
            ///
            /// [`ProtocolError::UnknownMessageType`] for a type byte no backend message
            /// uses; otherwise whatever the message's own decoder reports for a malformed
            /// body.
            pub fn decode(frame: Frame) -> Result<Self, ProtocolError> {
                let Frame { tag, body } = frame;
                match Some(tag) {
                    $(<$variant as Message>::TAG => $variant::decode(body).map(Self::$variant),)+
                    _ => Err(ProtocolError::UnknownMessageType { tag }),
                }
            }

            /// Appends the whole message (type byte, length, body) to `buf`.
            ///
            /// # Errors
            ///
            /// An [`EncodeError`] when a field cannot be represented on the wire; `buf` is
            /// then left as it was.
            pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
                match self {
                    $(Self::$variant(m) => m.encode(buf),)+
                }
            }

            /// The message's name as the PostgreSQL documentation spells it (all
            /// Authentication subtypes are `"Authentication"`).
            pub const fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$variant as Message>::NAME,)+
                }
            }

            /// The message's type byte.
            pub const fn tag(&self) -> u8 {
                match self {
                    $(Self::$variant(_) => match <$variant as Message>::TAG {
                        Some(tag) => tag,
                        None => 0,
                    },)+
                }
            }
        }

        $(
            impl From<$variant> for BackendMessage {
                fn from(m: $variant) -> Self {
                    Self::$variant(m)
                }
            }
        )+
    };
}

backend_messages! {
    /// `R`: an authentication request, or the end of authentication.
    Authentication,
    /// `K`: the key for cancelling this session's queries.
    BackendKeyData,
    /// `2`: a Bind succeeded.
    BindComplete,
    /// `3`: a Close succeeded.
    CloseComplete,
    /// `C`: a command finished.
    CommandComplete,
    /// `W`: the session entered copy-both mode (replication).
    CopyBothResponse,
    /// `d`: a chunk of COPY data.
    CopyData,
    /// `c`: the end of the server's COPY data.
    CopyDone,
    /// `G`: the server waits for COPY FROM STDIN data.
    CopyInResponse,
    /// `H`: the server starts sending COPY TO STDOUT data.
    CopyOutResponse,
    /// `D`: one result row.
    DataRow,
    /// `I`: the query string was empty.
    EmptyQueryResponse,
    /// `E`: a command failed (or the session is ending, for FATAL and PANIC).
    ErrorResponse,
    /// `V`: the result of a FunctionCall.
    FunctionCallResponse,
    /// `v`: the server speaks an older minor protocol version or ignored options.
    NegotiateProtocolVersion,
    /// `n`: the described statement or portal returns no rows.
    NoData,
    /// `N`: a warning or informational message; may arrive at any time.
    NoticeResponse,
    /// `A`: a NOTIFY on a channel this session listens to; may arrive at any time.
    NotificationResponse,
    /// `t`: the parameter types of a described statement.
    ParameterDescription,
    /// `S`: a run-time parameter's current value; may arrive at any time.
    ParameterStatus,
    /// `1`: a Parse succeeded.
    ParseComplete,
    /// `s`: an Execute stopped at its row limit; the portal can be executed again.
    PortalSuspended,
    /// `Z`: the server is ready for a new query cycle.
    ReadyForQuery,
    /// `T`: the columns of the rows that follow.
    RowDescription,
}

/// Strategies for property tests over every backend message.
#[cfg(test)]
pub(crate) fn arb_backend_message() -> impl proptest::strategy::Strategy<Value = BackendMessage> {
    use proptest::prelude::*;
    use proptest::strategy::Union;

    fn arm<M, S>(s: S) -> BoxedStrategy<BackendMessage>
    where
        M: Into<BackendMessage> + core::fmt::Debug + 'static,
        S: Strategy<Value = M> + 'static,
    {
        s.prop_map(Into::into).boxed()
    }

    Union::new(alloc::vec![
        arm(authentication::arb()),
        arm(backend_key_data::arb()),
        arm(Just(BindComplete)),
        arm(Just(CloseComplete)),
        arm(command_complete::arb()),
        arm(copy_both_response::arb()),
        arm(proptest::collection::vec(any::<u8>(), 0..64).prop_map(|d| CopyData { data: d.into() })),
        arm(Just(CopyDone)),
        arm(copy_in_response::arb()),
        arm(copy_out_response::arb()),
        arm(data_row::arb()),
        arm(Just(EmptyQueryResponse)),
        arm(error_response::arb_fields().prop_map(ErrorResponse)),
        arm(function_call_response::arb()),
        arm(negotiate_protocol_version::arb()),
        arm(Just(NoData)),
        arm(error_response::arb_fields().prop_map(NoticeResponse)),
        arm(notification_response::arb()),
        arm(parameter_description::arb()),
        arm(parameter_status::arb()),
        arm(Just(ParseComplete)),
        arm(Just(PortalSuspended)),
        arm(prop_oneof![
            Just(TransactionStatus::Idle),
            Just(TransactionStatus::InTransaction),
            Just(TransactionStatus::Failed),
        ]
        .prop_map(|status| ReadyForQuery { status })),
        arm(row_description::arb()),
    ])
}

/// A string strategy for protocol strings: any text without NUL, which the protocol
/// uses as terminator.
#[cfg(test)]
pub(crate) fn arb_cstring() -> impl proptest::strategy::Strategy<Value = String> {
    "[^\0]{0,24}"
}

#[cfg(test)]
mod tests;
