//! Start-up: TLS negotiation, the StartupMessage, protocol version negotiation,
//! authentication, and the session parameters that precede the first ReadyForQuery.
//!
//! Rules kept here (PROTOCOL-NOTES section 1.7-1.9):
//! * the answer to SSLRequest is exactly one byte; anything received with an `S`
//!   before the TLS handshake is refused (CVE-2021-23222), and an ErrorResponse instead
//!   of `S`/`N` is reported without its untrusted text (CVE-2024-10977);
//! * NegotiateProtocolVersion is accepted at most once, before authentication, only for
//!   a version between the configured minimum and the one requested, and only naming
//!   options that were sent;
//! * BackendKeyData's key is exactly 4 bytes under 3.0 and 4..=256 under 3.2;
//! * with channel binding required, every method but SCRAM-SHA-256-PLUS fails before
//!   any password byte is sent, and so does an AuthenticationOk that arrives before the
//!   SCRAM exchange completed;
//! * the server's SCRAM signature is verified before AuthenticationOk is accepted;
//! * `require_auth` is checked on every authentication request before anything is
//!   answered, and on AuthenticationOk (libpq's `check_expected_areq`).

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::{Buf, Bytes, BytesMut};

use super::{
    AuthMethod, BackendKey, Config, Connection, Event, Phase, RequireAuth, TlsNegotiation,
};
use crate::auth::md5;
use crate::auth::scram::{self, ChannelBinding, ChannelBindingPolicy, ScramClient};
use crate::error::{DbError, Error, ProtocolError, UsageError};
use crate::message::backend::{Authentication, BackendMessage, NegotiateProtocolVersion};
use crate::message::frontend::{
    PasswordMessage, ProtocolVersion, SaslInitialResponse, SaslResponse, SslRequest, StartupMessage,
};
use crate::message::{Frame, Message};

/// The start-up sub-machine's own state.
#[derive(Debug)]
#[cfg_attr(test, derive(Clone))]
pub(super) struct Startup {
    /// The encoded StartupMessage, sent after TLS negotiation.
    startup_message: Bytes,
    user: String,
    password: Option<Vec<u8>>,
    tls: TlsNegotiation,
    tls_server_end_point: Option<Vec<u8>>,
    /// Whether the transport is TLS: direct, or after the server accepted SSLRequest.
    tls_active: bool,
    channel_binding: ChannelBindingPolicy,
    require_auth: Option<RequireAuth>,
    min_protocol: ProtocolVersion,
    requested_protocol: ProtocolVersion,
    scram_nonce: Option<[u8; 24]>,
    scram_max_iterations: u32,
    auth: AuthState,
    negotiated: bool,
    terminated: bool,
}

#[derive(Debug)]
#[cfg_attr(test, derive(Clone))]
enum AuthState {
    /// No authentication request seen yet.
    Start,
    /// A cleartext or MD5 password was sent.
    PasswordSent,
    /// SCRAM in progress.
    Scram { client: ScramClient, plus: bool },
    /// SCRAM's server signature verified; AuthenticationOk expected.
    ScramVerified { plus: bool },
    /// AuthenticationOk received.
    Done,
}

impl Startup {
    pub(super) fn new(config: &Config) -> Result<Self, Error> {
        if config.user.is_empty() {
            return Err(Error::Config {
                reason: "user name is empty".to_owned(),
            });
        }
        if config.max_protocol_version < config.min_protocol_version {
            return Err(Error::Config {
                reason: "max_protocol_version is below min_protocol_version".to_owned(),
            });
        }
        for version in [config.min_protocol_version, config.max_protocol_version] {
            if version != ProtocolVersion::V3_0 && version != ProtocolVersion::V3_2 {
                return Err(Error::Config {
                    reason: alloc::format!(
                        "protocol version {}.{} is not supported (use 3.0 or 3.2)",
                        version.major,
                        version.minor
                    ),
                });
            }
        }
        let mut params: Vec<(String, String)> = Vec::with_capacity(5 + config.params.len());
        params.push(("user".into(), config.user.clone()));
        if let Some(db) = &config.database {
            params.push(("database".into(), db.clone()));
        }
        if let Some(app) = &config.application_name {
            params.push(("application_name".into(), app.clone()));
        }
        if let Some(options) = &config.options {
            params.push(("options".into(), options.clone()));
        }
        // Every string this crate decodes is UTF-8; the session must say so.
        params.push(("client_encoding".into(), "UTF8".into()));
        for (name, value) in &config.params {
            let reserved = ["user", "database", "application_name", "options"];
            if reserved.contains(&name.as_str()) {
                return Err(Error::Config {
                    reason: alloc::format!("start-up parameter {name} has its own setting"),
                });
            }
            if name.eq_ignore_ascii_case("client_encoding") {
                if !value.eq_ignore_ascii_case("UTF8") && !value.eq_ignore_ascii_case("UTF-8") {
                    return Err(Error::Config {
                        reason: "client_encoding must be UTF8".to_owned(),
                    });
                }
                continue;
            }
            if name.starts_with("_pq_.") {
                return Err(Error::Config {
                    reason: alloc::format!("protocol extension parameter {name} is not supported"),
                });
            }
            params.push((name.clone(), value.clone()));
        }
        let mut buf = BytesMut::new();
        StartupMessage {
            version: config.max_protocol_version,
            params,
        }
        .encode(&mut buf)?;
        Ok(Self {
            startup_message: buf.freeze(),
            user: config.user.clone(),
            password: config.password.clone(),
            tls: config.tls,
            tls_server_end_point: config.tls_server_end_point.clone(),
            tls_active: config.tls == TlsNegotiation::Direct,
            channel_binding: config.channel_binding,
            require_auth: config.require_auth.clone(),
            min_protocol: config.min_protocol_version,
            requested_protocol: config.max_protocol_version,
            scram_nonce: config.scram_nonce,
            scram_max_iterations: config.scram_max_iterations,
            auth: AuthState::Start,
            negotiated: false,
            terminated: false,
        })
    }

    pub(super) fn terminated(&self) -> bool {
        self.terminated
    }

    pub(super) fn set_terminated(&mut self) {
        self.terminated = true;
    }
}

impl Connection {
    /// Queues the first bytes of the session.
    pub(super) fn begin(&mut self) -> Result<(), Error> {
        match self.startup.tls {
            TlsNegotiation::Prefer | TlsNegotiation::Require => {
                SslRequest.encode(&mut self.send)?;
                self.phase = Phase::AwaitingSslResponse;
            }
            TlsNegotiation::Disabled | TlsNegotiation::Direct => self.send_startup_message(),
        }
        Ok(())
    }

    fn send_startup_message(&mut self) {
        self.send.extend_from_slice(&self.startup.startup_message);
        self.phase = Phase::Startup;
    }

    /// Reports that the TLS handshake the connection asked for with [`Event::StartTls`]
    /// is complete; start-up continues over TLS.
    ///
    /// `tls_server_end_point` is the RFC 5929 hash of the server's certificate, which
    /// enables SCRAM-SHA-256-PLUS channel binding; `None` when it cannot be computed
    /// (channel binding is then unavailable, and fails a `Require` policy).
    ///
    /// # Errors
    ///
    /// [`UsageError::Closed`] when the connection is not waiting for a TLS handshake.
    pub fn tls_established(
        &mut self,
        tls_server_end_point: Option<Vec<u8>>,
    ) -> Result<(), UsageError> {
        if self.phase != Phase::AwaitingTls {
            return Err(UsageError::Closed);
        }
        self.startup.tls_server_end_point = tls_server_end_point;
        self.send_startup_message();
        Ok(())
    }

    /// Reads the one-byte answer to SSLRequest.
    pub(super) fn handle_ssl_response(&mut self) -> Result<(), Error> {
        let byte = self.recv[0];
        match byte {
            b'S' => {
                self.recv.advance(1);
                if !self.recv.is_empty() {
                    return Err(ProtocolError::DataAfterSslResponse.into());
                }
                self.startup.tls_active = true;
                self.phase = Phase::AwaitingTls;
                self.emit(Event::StartTls);
                Ok(())
            }
            b'N' => {
                self.recv.advance(1);
                if self.startup.tls == TlsNegotiation::Require {
                    return Err(Error::TlsRefused);
                }
                self.send_startup_message();
                Ok(())
            }
            // An ErrorResponse: a server too old to know SSLRequest, or a peer that is
            // not PostgreSQL. Its text is not trustworthy, so it is not decoded.
            b'E' => Err(Error::SslRequestRejected),
            byte => Err(ProtocolError::InvalidSslResponse { byte }.into()),
        }
    }

    /// Handles one message before the first ReadyForQuery.
    pub(super) fn handle_startup(&mut self, frame: Frame) -> Result<(), Error> {
        let state = Phase::Startup.describe();
        match BackendMessage::decode(frame)? {
            BackendMessage::Authentication(auth) => self.handle_authentication(auth),
            BackendMessage::NegotiateProtocolVersion(npv) => self.handle_negotiation(&npv),
            BackendMessage::ParameterStatus(p) => {
                self.set_parameter(p.name, p.value);
                Ok(())
            }
            BackendMessage::BackendKeyData(key) => {
                let len = key.secret_key.len();
                let valid = if self.protocol >= ProtocolVersion::V3_2 {
                    (4..=256).contains(&len)
                } else {
                    len == 4
                };
                if !valid || !matches!(self.startup.auth, AuthState::Done) {
                    return Err(ProtocolError::InvalidValue {
                        message: "BackendKeyData",
                        field: "secret key length",
                    }
                    .into());
                }
                self.backend_key = Some(BackendKey {
                    process_id: key.process_id,
                    secret_key: key.secret_key,
                });
                Ok(())
            }
            BackendMessage::NoticeResponse(n) => {
                self.emit(Event::Notice(n.0));
                Ok(())
            }
            BackendMessage::ErrorResponse(e) => Err(Error::Db(DbError::new(e.0))),
            BackendMessage::ReadyForQuery(z) if matches!(self.startup.auth, AuthState::Done) => {
                self.transaction_status = z.status;
                self.phase = Phase::Ready;
                self.startup.password = None;
                self.emit(Event::Connected);
                self.flush_held_if_ready();
                Ok(())
            }
            other => Err(ProtocolError::UnexpectedMessage {
                message: other.name(),
                state,
            }
            .into()),
        }
    }

    fn handle_negotiation(&mut self, npv: &NegotiateProtocolVersion) -> Result<(), Error> {
        let invalid = |reason| Err(ProtocolError::InvalidProtocolNegotiation { reason }.into());
        if self.startup.negotiated || !matches!(self.startup.auth, AuthState::Start) {
            return invalid("received more than once or after authentication began");
        }
        self.startup.negotiated = true;
        // No `_pq_.` options are ever sent, so none can be unrecognised.
        if !npv.unrecognized_options.is_empty() {
            return invalid("names options that were not requested");
        }
        let requested = self.startup.requested_protocol;
        let offered = u16::try_from(npv.newest_minor).unwrap_or(u16::MAX);
        if offered >= requested.minor {
            return invalid("offers a version not below the one requested");
        }
        // 3.1 was never used (some poolers claimed it wrongly); it means 3.0.
        let version = if offered >= 2 {
            ProtocolVersion::V3_2
        } else {
            ProtocolVersion::V3_0
        };
        if version < self.startup.min_protocol {
            return invalid("offers a version below the configured minimum");
        }
        self.protocol = version;
        Ok(())
    }

    fn handle_authentication(&mut self, auth: Authentication) -> Result<(), Error> {
        self.check_required_auth(&auth)?;
        let require_binding = self.startup.channel_binding == ChannelBindingPolicy::Require;
        let unexpected = |message| -> Result<(), Error> {
            Err(ProtocolError::UnexpectedMessage {
                message,
                state: "authenticating",
            }
            .into())
        };
        match auth {
            Authentication::Ok => {
                let plus = match core::mem::replace(&mut self.startup.auth, AuthState::Done) {
                    AuthState::ScramVerified { plus } => plus,
                    AuthState::Scram { .. } => {
                        // The server skipped SASLFinal: it never proved it knows the
                        // password.
                        return Err(ProtocolError::UnexpectedMessage {
                            message: "AuthenticationOk",
                            state: "awaiting AuthenticationSASLFinal",
                        }
                        .into());
                    }
                    AuthState::Done => return unexpected("AuthenticationOk"),
                    AuthState::Start | AuthState::PasswordSent => false,
                };
                if require_binding && !plus {
                    return Err(Error::ChannelBindingRequired {
                        offered: "authentication without SCRAM-SHA-256-PLUS",
                    });
                }
                Ok(())
            }
            Authentication::CleartextPassword => {
                self.check_password_method(require_binding, "a cleartext password")?;
                let password = self.startup.password.clone().unwrap_or_default();
                self.send_auth(&PasswordMessage {
                    password: Bytes::from(password),
                })
            }
            Authentication::Md5Password { salt } => {
                self.check_password_method(require_binding, "MD5 authentication")?;
                let password = self.startup.password.as_deref().unwrap_or_default();
                let hash = md5::password_hash(self.startup.user.as_bytes(), password, salt);
                self.send_auth(&PasswordMessage {
                    password: Bytes::copy_from_slice(&hash),
                })
            }
            Authentication::Sasl { mechanisms } => {
                if !matches!(self.startup.auth, AuthState::Start) {
                    return unexpected("AuthenticationSASL");
                }
                let Some(password) = self.startup.password.as_deref() else {
                    return Err(Error::PasswordRequired);
                };
                let Some(nonce) = self.startup.scram_nonce else {
                    return Err(Error::Config {
                        reason: "SCRAM authentication needs a client nonce (Config::scram_nonce)"
                            .to_owned(),
                    });
                };
                let end_point = if self.startup.tls_active {
                    self.startup.tls_server_end_point.as_deref()
                } else {
                    None
                };
                let (mechanism, binding) =
                    scram::select_mechanism(&mechanisms, self.startup.channel_binding, end_point)?;
                let plus = matches!(binding, ChannelBinding::TlsServerEndPoint(_));
                let client = ScramClient::new(password, &nonce, binding)?
                    .with_max_iterations(self.startup.scram_max_iterations);
                let message = SaslInitialResponse {
                    mechanism: mechanism.name().into(),
                    data: Some(Bytes::copy_from_slice(client.client_first_message())),
                };
                self.startup.auth = AuthState::Scram { client, plus };
                self.send_auth(&message)
            }
            Authentication::SaslContinue { data } => {
                let AuthState::Scram { client, .. } = &mut self.startup.auth else {
                    return unexpected("AuthenticationSASLContinue");
                };
                let reply = client.handle_server_first(&data)?;
                self.send_auth(&SaslResponse {
                    data: Bytes::from(reply),
                })
            }
            Authentication::SaslFinal { data } => {
                let AuthState::Scram { client, plus } = &mut self.startup.auth else {
                    return unexpected("AuthenticationSASLFinal");
                };
                client.handle_server_final(&data)?;
                let plus = *plus;
                self.startup.auth = AuthState::ScramVerified { plus };
                Ok(())
            }
            Authentication::KerberosV5 => Err(Error::UnsupportedAuthentication {
                method: "Kerberos V5",
            }),
            Authentication::ScmCredential => Err(Error::UnsupportedAuthentication {
                method: "SCM credentials",
            }),
            Authentication::Gss | Authentication::GssContinue { .. } => {
                Err(Error::UnsupportedAuthentication { method: "GSSAPI" })
            }
            Authentication::Sspi => Err(Error::UnsupportedAuthentication { method: "SSPI" }),
        }
    }

    /// `require_auth`: fails before the request is answered when the server asks for a
    /// method that is not allowed, or sends AuthenticationOk without any exchange when
    /// `none` is not allowed. The reasons are libpq's.
    fn check_required_auth(&self, auth: &Authentication) -> Result<(), Error> {
        let Some(required) = &self.startup.require_auth else {
            return Ok(());
        };
        let (method, reason) = match auth {
            Authentication::Ok => {
                // A finished exchange (or one the rest of the machine refuses anyway,
                // such as SCRAM without its final message) is not "no authentication".
                if required.allows_none() || !matches!(self.startup.auth, AuthState::Start) {
                    return Ok(());
                }
                (None, "server did not complete authentication")
            }
            Authentication::CleartextPassword => (
                Some(AuthMethod::Password),
                "server requested a cleartext password",
            ),
            Authentication::Md5Password { .. } => {
                (Some(AuthMethod::Md5), "server requested a hashed password")
            }
            // SCRAM-SHA-256 and SCRAM-SHA-256-PLUS alike: SASL means SCRAM here.
            Authentication::Sasl { .. }
            | Authentication::SaslContinue { .. }
            | Authentication::SaslFinal { .. } => (
                Some(AuthMethod::ScramSha256),
                "server requested SASL authentication",
            ),
            Authentication::Gss => (
                Some(AuthMethod::Gss),
                "server requested GSSAPI authentication",
            ),
            Authentication::GssContinue { .. } => {
                if required.allows(AuthMethod::Gss) || required.allows(AuthMethod::Sspi) {
                    return Ok(());
                }
                (None, "server requested GSSAPI authentication")
            }
            Authentication::Sspi => (
                Some(AuthMethod::Sspi),
                "server requested SSPI authentication",
            ),
            Authentication::KerberosV5 | Authentication::ScmCredential => {
                (None, "server requested an unknown authentication type")
            }
        };
        if method.is_some_and(|m| required.allows(m)) {
            return Ok(());
        }
        Err(Error::AuthRequirementFailed {
            required: required.as_str().to_owned(),
            reason,
        })
    }

    /// Cleartext and MD5: refused when channel binding is required (before any password
    /// byte is sent), or when no password is configured.
    fn check_password_method(
        &mut self,
        require_binding: bool,
        offered: &'static str,
    ) -> Result<(), Error> {
        if require_binding {
            return Err(Error::ChannelBindingRequired { offered });
        }
        if !matches!(self.startup.auth, AuthState::Start) {
            return Err(ProtocolError::UnexpectedMessage {
                message: "Authentication",
                state: "authenticating",
            }
            .into());
        }
        if self.startup.password.is_none() {
            return Err(Error::PasswordRequired);
        }
        self.startup.auth = AuthState::PasswordSent;
        Ok(())
    }

    fn send_auth<M: Message>(&mut self, message: &M) -> Result<(), Error> {
        message.encode(&mut self.send)?;
        Ok(())
    }
}
