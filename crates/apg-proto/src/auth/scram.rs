//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS client (RFC 5802, RFC 7677), as PostgreSQL
//! uses them.
//!
//! <https://www.postgresql.org/docs/current/sasl-authentication.html>
//!
//! ```text
//!   client                                                   server
//!     |  <------------------------- AuthenticationSASL(mechanisms)
//!   select_mechanism(offered, policy, certificate hash)
//!   ScramClient::new(password, nonce, binding)
//!     |  SASLInitialResponse(mechanism, client_first_message) -->
//!     |  <------------- AuthenticationSASLContinue(server-first-message)
//!   handle_server_first(server-first-message) -> client-final-message
//!     |  SASLResponse(client-final-message) -------------------->
//!     |  <------------- AuthenticationSASLFinal(server-final-message)
//!   handle_server_final(server-final-message)
//!     |  <------------------------------------- AuthenticationOk
//! ```
//!
//! Everything the server sends is checked before it is used: sizes first, then the
//! nonce, salt and iteration count, all before the (deliberately slow) key derivation,
//! so a hostile server cannot make the client burn CPU. The exchange only counts as
//! successful once [`ScramClient::handle_server_final`] has verified the server
//! signature; a connection must not accept AuthenticationOk before that
//! ([`ScramClient::is_complete`]).
//!
//! PostgreSQL ignores the SCRAM user name (it uses the one from the StartupMessage), so
//! the client-first-message carries an empty one, as libpq's does.
//!
//! Channel binding uses `tls-server-end-point` (RFC 5929): a hash of the server's
//! certificate, computed by the TLS layer (see [`tls_server_end_point`]) and passed in
//! as [`ChannelBinding::TlsServerEndPoint`].

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::saslprep::saslprep;
use super::AuthError;

/// Name of the SASL mechanism without channel binding.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// Name of the SASL mechanism with channel binding.
pub const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// Default maximum PBKDF2 iteration count accepted from a server.
///
/// PostgreSQL's default is 4096 (`scram_iterations`); 100 000 is the cap used by
/// rust-postgres and pgjdbc. Each iteration is two SHA-256 compressions, so this bounds
/// the work a hostile server can ask for to a few tens of milliseconds.
pub const DEFAULT_MAX_ITERATIONS: u32 = 100_000;

/// Longest server-first-message or server-final-message accepted, in bytes.
///
/// PostgreSQL's are under 100 bytes (a 48-character nonce, a 24-character salt).
pub const MAX_SERVER_MESSAGE_LEN: usize = 4096;

/// Longest client nonce, in printable characters (after base64 encoding of a raw one).
pub const MAX_NONCE_LEN: usize = 256;

/// Length of a SHA-256 output, and of every SCRAM-SHA-256 key and signature.
const KEY_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// A SCRAM mechanism this client implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramMechanism {
    /// `SCRAM-SHA-256`: no channel binding (GS2 flag `n` or `y`).
    ScramSha256,
    /// `SCRAM-SHA-256-PLUS`: bound to the TLS channel (GS2 flag `p`).
    ScramSha256Plus,
}

impl ScramMechanism {
    /// The mechanism name as sent in SASLInitialResponse.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::ScramSha256 => SCRAM_SHA_256,
            Self::ScramSha256Plus => SCRAM_SHA_256_PLUS,
        }
    }
}

impl fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the client tells the server about channel binding (the GS2 header).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChannelBinding {
    /// GS2 flag `n`: the client does not support channel binding (no TLS, or binding
    /// disabled, or the certificate has no defined hash). Mechanism `SCRAM-SHA-256`.
    NotSupported,
    /// GS2 flag `y`: the client could bind but the server did not offer
    /// `SCRAM-SHA-256-PLUS`. A server that did offer it rejects this, which exposes a
    /// man in the middle that stripped `-PLUS` from the mechanism list. Mechanism
    /// `SCRAM-SHA-256`.
    SupportedNotUsed,
    /// GS2 flag `p=tls-server-end-point` with the RFC 5929 hash of the server
    /// certificate (see [`tls_server_end_point`]). Mechanism `SCRAM-SHA-256-PLUS`.
    TlsServerEndPoint(Vec<u8>),
}

impl ChannelBinding {
    /// The mechanism that goes with this binding.
    #[must_use]
    pub const fn mechanism(&self) -> ScramMechanism {
        match self {
            Self::NotSupported | Self::SupportedNotUsed => ScramMechanism::ScramSha256,
            Self::TlsServerEndPoint(_) => ScramMechanism::ScramSha256Plus,
        }
    }

    /// The GS2 header (RFC 5802 section 7), always without an authzid.
    const fn gs2_header(&self) -> &'static [u8] {
        match self {
            Self::NotSupported => b"n,,",
            Self::SupportedNotUsed => b"y,,",
            Self::TlsServerEndPoint(_) => b"p=tls-server-end-point,,",
        }
    }

    /// The channel binding data appended to the GS2 header in the `c=` attribute.
    fn data(&self) -> &[u8] {
        match self {
            Self::NotSupported | Self::SupportedNotUsed => &[],
            Self::TlsServerEndPoint(hash) => hash,
        }
    }
}

/// Whether channel binding is used, libpq's `channel_binding` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChannelBindingPolicy {
    /// Never bind, even over TLS (GS2 flag `n`).
    Disable,
    /// Bind when the connection uses TLS, the certificate has a defined hash and the
    /// server offers `SCRAM-SHA-256-PLUS`; otherwise authenticate without binding.
    #[default]
    Prefer,
    /// Fail unless the exchange is bound to the TLS channel.
    Require,
}

/// Chooses the SCRAM mechanism and channel binding from the server's
/// AuthenticationSASL list.
///
/// `server_end_point_hash` is the RFC 5929 hash of the server certificate (from
/// [`tls_server_end_point`]), `None` without TLS or when the certificate's signature
/// algorithm defines no hash.
///
/// | policy  | hash | `-PLUS` offered | result                              |
/// |---------|------|-----------------|-------------------------------------|
/// | Disable | any  | any             | `SCRAM-SHA-256`, flag `n`           |
/// | Prefer  | yes  | yes             | `SCRAM-SHA-256-PLUS`, flag `p`      |
/// | Prefer  | yes  | no              | `SCRAM-SHA-256`, flag `y`           |
/// | Prefer  | no   | any             | `SCRAM-SHA-256`, flag `n`           |
/// | Require | yes  | yes             | `SCRAM-SHA-256-PLUS`, flag `p`      |
/// | Require | no   | any             | [`AuthError::ChannelBindingUnavailable`] |
/// | Require | yes  | no              | [`AuthError::ChannelBindingNotOffered`]  |
///
/// The rows that end in `SCRAM-SHA-256` also need the server to offer it; with
/// `Require` the result is always `-PLUS`. Note that with `Require` the
/// connection must also refuse every non-SCRAM request (cleartext, MD5, GSS) and an
/// AuthenticationOk that arrives before the SCRAM exchange completed; that is outside
/// this function.
///
/// # Errors
///
/// * [`AuthError::NoScramMechanism`] when none of the offered mechanisms can be used
///   under the policy (naming what the server offered);
/// * [`AuthError::EmptyChannelBinding`] when `server_end_point_hash` is `Some` but
///   empty (a bug in the TLS layer, never silently treated as "no binding");
/// * the two `Require` errors in the table.
pub fn select_mechanism<S: AsRef<str>>(
    offered: &[S],
    policy: ChannelBindingPolicy,
    server_end_point_hash: Option<&[u8]>,
) -> Result<(ScramMechanism, ChannelBinding), AuthError> {
    let plain = offered.iter().any(|m| m.as_ref() == SCRAM_SHA_256);
    let plus = offered.iter().any(|m| m.as_ref() == SCRAM_SHA_256_PLUS);
    let hash = match (policy, server_end_point_hash) {
        (ChannelBindingPolicy::Disable, _) => None,
        (_, Some([])) => return Err(AuthError::EmptyChannelBinding),
        (_, hash) => hash,
    };

    let no_mechanism = || AuthError::NoScramMechanism {
        offered: list_mechanisms(offered),
    };
    let unbound = |binding: ChannelBinding| {
        if plain {
            Ok((ScramMechanism::ScramSha256, binding))
        } else {
            Err(no_mechanism())
        }
    };
    let bound = |hash: &[u8]| {
        (
            ScramMechanism::ScramSha256Plus,
            ChannelBinding::TlsServerEndPoint(hash.to_vec()),
        )
    };

    match (policy, hash) {
        (_, _) if !plain && !plus => Err(no_mechanism()),
        (ChannelBindingPolicy::Require, None) => Err(AuthError::ChannelBindingUnavailable),
        (ChannelBindingPolicy::Require, Some(hash)) => {
            if plus {
                Ok(bound(hash))
            } else {
                Err(AuthError::ChannelBindingNotOffered)
            }
        }
        (_, Some(hash)) if plus => Ok(bound(hash)),
        (_, Some(_)) => unbound(ChannelBinding::SupportedNotUsed),
        (_, None) => unbound(ChannelBinding::NotSupported),
    }
}

/// The offered mechanisms for an error message, shortened so that a hostile list
/// cannot make the error arbitrarily large.
fn list_mechanisms<S: AsRef<str>>(offered: &[S]) -> String {
    const MAX: usize = 200;
    let mut list = String::new();
    for (i, name) in offered.iter().enumerate() {
        if i > 0 {
            list.push_str(", ");
        }
        for c in name.as_ref().chars() {
            if list.len() + c.len_utf8() > MAX {
                list.push_str("...");
                return list;
            }
            list.push(if c.is_control() { '?' } else { c });
        }
    }
    if list.is_empty() {
        list.push_str("none");
    }
    list
}

/// The hash algorithm of a certificate's signature algorithm, which RFC 5929 section
/// 4.1 uses to compute `tls-server-end-point`.
///
/// Extracting it from the certificate is the TLS layer's job: for example
/// `sha256WithRSAEncryption` and `ecdsa-with-SHA256` map to [`Sha256`](Self::Sha256),
/// `ecdsa-with-SHA384` to [`Sha384`](Self::Sha384).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureHash {
    /// MD5 (upgraded to SHA-256 by RFC 5929).
    Md5,
    /// SHA-1 (upgraded to SHA-256 by RFC 5929).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// A signature algorithm without a single associated hash: Ed25519, Ed448,
    /// RSASSA-PSS (whose hash is a parameter) and any other. RFC 5929 defines no
    /// `tls-server-end-point` value for these, and PostgreSQL cannot compute one either.
    Undefined,
}

/// Computes RFC 5929 `tls-server-end-point` channel binding data: the hash of the
/// server certificate (`certificate_der`, the DER bytes of the end-entity certificate)
/// with the hash function of its signature algorithm, MD5 and SHA-1 replaced by
/// SHA-256.
///
/// # Errors
///
/// [`AuthError::UndefinedChannelBinding`] for [`SignatureHash::Undefined`]: such a
/// certificate allows no binding, and the caller must then treat channel binding as
/// unavailable (fail under [`ChannelBindingPolicy::Require`], use flag `n` under
/// `Prefer`), never bind to an empty or made-up value.
pub fn tls_server_end_point(
    hash: SignatureHash,
    certificate_der: &[u8],
) -> Result<Vec<u8>, AuthError> {
    Ok(match hash {
        SignatureHash::Md5 | SignatureHash::Sha1 | SignatureHash::Sha256 => {
            Sha256::digest(certificate_der).to_vec()
        }
        SignatureHash::Sha224 => Sha224::digest(certificate_der).to_vec(),
        SignatureHash::Sha384 => Sha384::digest(certificate_der).to_vec(),
        SignatureHash::Sha512 => Sha512::digest(certificate_der).to_vec(),
        SignatureHash::Undefined => return Err(AuthError::UndefinedChannelBinding),
    })
}

/// Where a [`ScramClient`] is in the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The client-first-message is ready; the server-first-message is expected.
    AwaitingServerFirst,
    /// The client-final-message was produced; the server must prove it knows the
    /// verifier with this signature.
    AwaitingServerFinal { server_signature: [u8; KEY_LEN] },
    /// The server signature was verified.
    Complete,
    /// A step failed; the exchange cannot continue.
    Failed,
}

impl State {
    const fn name(&self) -> &'static str {
        match self {
            Self::AwaitingServerFirst => "AwaitingServerFirst",
            Self::AwaitingServerFinal { .. } => "AwaitingServerFinal",
            Self::Complete => "Complete",
            Self::Failed => "Failed",
        }
    }
}

/// The client side of one SCRAM-SHA-256(-PLUS) exchange.
///
/// Steps, each at most once and in this order:
/// [`client_first_message`](Self::client_first_message) (any time),
/// [`handle_server_first`](Self::handle_server_first),
/// [`handle_server_final`](Self::handle_server_final). A step called out of order,
/// or after a failed step, returns [`AuthError::OutOfOrder`]; errors are final.
///
/// The password is kept (after SASLprep) only until the server-first-message arrives,
/// and is then overwritten; `Debug` never shows it.
///
/// ```
/// use apg_proto::auth::scram::{ChannelBinding, ScramClient};
///
/// let nonce = [0x5a; 18]; // from a cryptographic RNG in real use
/// let scram = ScramClient::new(b"pencil", &nonce, ChannelBinding::NotSupported)?;
/// assert_eq!(scram.mechanism().name(), "SCRAM-SHA-256");
/// assert_eq!(scram.client_first_message(), b"n,,n=,r=WlpaWlpaWlpaWlpaWlpaWlpa");
/// # Ok::<(), apg_proto::auth::AuthError>(())
/// ```
#[cfg_attr(test, derive(Clone))]
pub struct ScramClient {
    /// The SASLprep-ed password; emptied (after overwriting) once keys are derived.
    password: Vec<u8>,
    binding: ChannelBinding,
    /// The printable client nonce (`c-nonce`).
    nonce: Vec<u8>,
    /// The escaped SCRAM user name (`saslname`), empty by default.
    user: Vec<u8>,
    /// GS2 header followed by client-first-message-bare.
    client_first: Vec<u8>,
    max_iterations: u32,
    state: State,
}

impl ScramClient {
    /// Starts an exchange with a client nonce made from raw random bytes, which are
    /// base64-encoded into the printable `c-nonce`.
    ///
    /// `nonce` must come from a cryptographically secure RNG; 18 bytes (what libpq
    /// uses) or more. The core draws no random numbers itself so that exchanges can be
    /// replayed in tests. `password` is used after SASLprep (see the module docs of
    /// [`crate::auth`]): pure ASCII unchanged, otherwise prepared as PostgreSQL does.
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidNonce`] if `nonce` is empty or encodes to more than
    /// [`MAX_NONCE_LEN`] characters (192 bytes), [`AuthError::EmptyChannelBinding`] for a
    /// [`ChannelBinding::TlsServerEndPoint`] with an empty hash.
    pub fn new(password: &[u8], nonce: &[u8], binding: ChannelBinding) -> Result<Self, AuthError> {
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN / 4 * 3 {
            return Err(AuthError::InvalidNonce);
        }
        Self::with_printable_nonce(password, BASE64.encode(nonce).as_bytes(), binding)
    }

    /// Starts an exchange with a client nonce that is already printable, for replaying
    /// recorded exchanges and test vectors.
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidNonce`] if `nonce` is empty, longer than [`MAX_NONCE_LEN`],
    /// or has a byte outside `%x21-2B / %x2D-7E` (printable ASCII except `,`);
    /// [`AuthError::EmptyChannelBinding`] as for [`new`](Self::new).
    pub fn with_printable_nonce(
        password: &[u8],
        nonce: &[u8],
        binding: ChannelBinding,
    ) -> Result<Self, AuthError> {
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || !nonce.iter().all(is_printable) {
            return Err(AuthError::InvalidNonce);
        }
        if let ChannelBinding::TlsServerEndPoint(hash) = &binding {
            if hash.is_empty() {
                return Err(AuthError::EmptyChannelBinding);
            }
        }
        let mut client = Self {
            password: saslprep(password).into_owned(),
            binding,
            nonce: nonce.to_owned(),
            user: Vec::new(),
            client_first: Vec::new(),
            max_iterations: DEFAULT_MAX_ITERATIONS,
            state: State::AwaitingServerFirst,
        };
        client.build_client_first();
        Ok(client)
    }

    /// Sets the SCRAM user name (`n=`), SASLprep-ed and escaped as RFC 5802 requires.
    ///
    /// PostgreSQL ignores it and libpq sends an empty one (the default); it exists for
    /// other SCRAM servers and the RFC test vectors. Call it before sending
    /// [`client_first_message`](Self::client_first_message).
    #[must_use]
    pub fn with_user(mut self, user: &str) -> Self {
        let prepared = saslprep(user.as_bytes());
        self.user.clear();
        for &b in prepared.iter() {
            match b {
                b'=' => self.user.extend_from_slice(b"=3D"),
                b',' => self.user.extend_from_slice(b"=2C"),
                _ => self.user.push(b),
            }
        }
        self.build_client_first();
        self
    }

    /// Sets the largest iteration count accepted from the server (default
    /// [`DEFAULT_MAX_ITERATIONS`]). A larger count fails with
    /// [`AuthError::TooManyIterations`] before any key derivation.
    #[must_use]
    pub fn with_max_iterations(mut self, max: u32) -> Self {
        self.max_iterations = max;
        self
    }

    /// The mechanism to name in SASLInitialResponse, which follows from the channel
    /// binding.
    #[must_use]
    pub const fn mechanism(&self) -> ScramMechanism {
        self.binding.mechanism()
    }

    /// The client-first-message, the data of SASLInitialResponse.
    #[must_use]
    pub fn client_first_message(&self) -> &[u8] {
        &self.client_first
    }

    /// Whether the server signature has been verified. Only then may the connection
    /// accept AuthenticationOk as the end of this exchange.
    #[must_use]
    pub const fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete)
    }

    /// Processes the server-first-message (the data of AuthenticationSASLContinue) and
    /// returns the client-final-message to send in SASLResponse.
    ///
    /// All checks run before the key derivation, whose cost is bounded by the maximum
    /// iteration count.
    ///
    /// # Errors
    ///
    /// [`AuthError::OutOfOrder`] unless this is the first server message;
    /// [`AuthError::MessageTooLarge`], [`AuthError::MandatoryExtension`],
    /// [`AuthError::MissingAttribute`], [`AuthError::Malformed`], the nonce, salt and
    /// iteration count errors for a message that fails the checks. Any error ends the
    /// exchange.
    pub fn handle_server_first(&mut self, message: &[u8]) -> Result<Vec<u8>, AuthError> {
        if self.state != State::AwaitingServerFirst {
            self.state = State::Failed;
            return Err(AuthError::OutOfOrder {
                call: "handle_server_first",
            });
        }
        let result = self.respond(message);
        wipe(&mut self.password);
        self.password = Vec::new();
        match result {
            Ok((client_final, server_signature)) => {
                self.state = State::AwaitingServerFinal { server_signature };
                Ok(client_final)
            }
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    /// Processes the server-final-message (the data of AuthenticationSASLFinal) and
    /// verifies the server signature.
    ///
    /// # Errors
    ///
    /// [`AuthError::OutOfOrder`] unless [`handle_server_first`](Self::handle_server_first)
    /// succeeded just before; [`AuthError::ServerError`] for `e=`;
    /// [`AuthError::ServerSignatureMismatch`] when the server does not prove knowledge
    /// of the password verifier; [`AuthError::MessageTooLarge`],
    /// [`AuthError::MissingAttribute`] or [`AuthError::Malformed`] for a bad message.
    pub fn handle_server_final(&mut self, message: &[u8]) -> Result<(), AuthError> {
        let State::AwaitingServerFinal { server_signature } = self.state else {
            self.state = State::Failed;
            return Err(AuthError::OutOfOrder {
                call: "handle_server_final",
            });
        };
        let result = verify_server_final(message, &server_signature);
        self.state = if result.is_ok() {
            State::Complete
        } else {
            State::Failed
        };
        result
    }

    fn build_client_first(&mut self) {
        let gs2 = self.binding.gs2_header();
        self.client_first.clear();
        self.client_first
            .reserve(gs2.len() + 6 + self.user.len() + self.nonce.len());
        self.client_first.extend_from_slice(gs2);
        self.client_first.extend_from_slice(b"n=");
        self.client_first.extend_from_slice(&self.user);
        self.client_first.extend_from_slice(b",r=");
        self.client_first.extend_from_slice(&self.nonce);
    }

    /// client-first-message-bare: the client-first-message without the GS2 header.
    fn client_first_bare(&self) -> &[u8] {
        self.client_first
            .get(self.binding.gs2_header().len()..)
            .unwrap_or_default()
    }

    /// Checks the server-first-message, derives the keys and builds the
    /// client-final-message; also returns the server signature to expect.
    fn respond(&self, server_first: &[u8]) -> Result<(Vec<u8>, [u8; KEY_LEN]), AuthError> {
        let parsed = ServerFirst::parse(server_first, &self.nonce, self.max_iterations)?;

        // client-final-message-without-proof = "c=" base64(gs2 header ‖ cbind data)
        // "," "r=" nonce
        let mut cbind_input =
            Vec::with_capacity(self.binding.gs2_header().len() + self.binding.data().len());
        cbind_input.extend_from_slice(self.binding.gs2_header());
        cbind_input.extend_from_slice(self.binding.data());
        let cbind = BASE64.encode(&cbind_input);
        let mut client_final = Vec::with_capacity(cbind.len() + parsed.nonce.len() + 60);
        client_final.extend_from_slice(b"c=");
        client_final.extend_from_slice(cbind.as_bytes());
        client_final.extend_from_slice(b",r=");
        client_final.extend_from_slice(parsed.nonce);

        // AuthMessage = client-first-message-bare "," server-first-message ","
        // client-final-message-without-proof; fed to the MACs in pieces.
        let auth_message: [&[u8]; 5] = [
            self.client_first_bare(),
            b",",
            server_first,
            b",",
            &client_final,
        ];

        let mut salted_password = hi(&self.password, &parsed.salt, parsed.iterations);
        let mut client_key = hmac(&salted_password, &[b"Client Key"]);
        let mut stored_key: [u8; KEY_LEN] = Sha256::digest(client_key).into();
        let client_signature = hmac(&stored_key, &auth_message);
        let server_key = hmac(&salted_password, &[b"Server Key"]);
        let server_signature = hmac(&server_key, &auth_message);

        let mut proof = [0u8; KEY_LEN];
        for ((p, k), s) in proof.iter_mut().zip(&client_key).zip(&client_signature) {
            *p = k ^ s;
        }
        client_final.extend_from_slice(b",p=");
        client_final.extend_from_slice(BASE64.encode(proof).as_bytes());

        wipe(&mut salted_password);
        wipe(&mut client_key);
        wipe(&mut stored_key);
        Ok((client_final, server_signature))
    }
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("mechanism", &self.mechanism())
            .field("state", &self.state.name())
            .field("max_iterations", &self.max_iterations)
            .finish_non_exhaustive()
    }
}

impl Drop for ScramClient {
    fn drop(&mut self) {
        wipe(&mut self.password);
    }
}

/// The parts of a server-first-message that passed every check.
struct ServerFirst<'a> {
    /// The combined nonce (client nonce followed by the server's part).
    nonce: &'a [u8],
    salt: Vec<u8>,
    iterations: u32,
}

impl<'a> ServerFirst<'a> {
    const NAME: &'static str = "server-first-message";

    /// Parses `[reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]`
    /// (RFC 5802 section 7). Work is linear in the message length, which is capped.
    fn parse(
        message: &'a [u8],
        client_nonce: &[u8],
        max_iterations: u32,
    ) -> Result<Self, AuthError> {
        check_len(message, Self::NAME)?;
        let mut fields = message.split(|&b| b == b',');
        let first = fields.next();
        if matches!(first, Some([b'm', b'=', ..])) {
            return Err(AuthError::MandatoryExtension);
        }
        let nonce = attribute(first, b'r', "r=", Self::NAME)?;
        let salt = attribute(fields.next(), b's', "s=", Self::NAME)?;
        let iterations = attribute(fields.next(), b'i', "i=", Self::NAME)?;
        check_extensions(fields, Self::NAME)?;

        if !nonce.starts_with(client_nonce) {
            return Err(AuthError::NonceMismatch);
        }
        if nonce.len() == client_nonce.len() {
            return Err(AuthError::NonceNotExtended);
        }
        if !nonce.iter().all(is_printable) {
            return Err(AuthError::NonceNotPrintable);
        }

        let salt = BASE64.decode(salt).map_err(|_| AuthError::InvalidSalt)?;
        if salt.is_empty() {
            return Err(AuthError::EmptySalt);
        }
        let iterations = parse_iterations(iterations, max_iterations)?;
        Ok(Self {
            nonce,
            salt,
            iterations,
        })
    }
}

/// Checks `server-final-message = (server-error / verifier) ["," extensions]`.
fn verify_server_final(message: &[u8], expected: &[u8; KEY_LEN]) -> Result<(), AuthError> {
    const NAME: &str = "server-final-message";
    check_len(message, NAME)?;
    let mut fields = message.split(|&b| b == b',');
    match fields.next() {
        // The value is the server's text: control characters are replaced so that it
        // cannot drive a terminal when the error is printed.
        Some([b'e', b'=', value @ ..]) => Err(AuthError::ServerError {
            value: String::from_utf8_lossy(value)
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect(),
        }),
        Some([b'v', b'=', verifier @ ..]) => {
            check_extensions(fields, NAME)?;
            let signature = BASE64.decode(verifier).map_err(|_| AuthError::Malformed {
                message: NAME,
                reason: "the verifier is not valid base64",
            })?;
            if constant_time_eq(&signature, expected) {
                Ok(())
            } else {
                Err(AuthError::ServerSignatureMismatch)
            }
        }
        _ => Err(AuthError::MissingAttribute {
            message: NAME,
            attribute: "v=",
        }),
    }
}

fn check_len(message: &[u8], name: &'static str) -> Result<(), AuthError> {
    if message.len() > MAX_SERVER_MESSAGE_LEN {
        return Err(AuthError::MessageTooLarge {
            message: name,
            len: message.len(),
            max: MAX_SERVER_MESSAGE_LEN,
        });
    }
    Ok(())
}

/// The value of `field` if it is the attribute `name=`.
fn attribute<'a>(
    field: Option<&'a [u8]>,
    name: u8,
    attribute: &'static str,
    message: &'static str,
) -> Result<&'a [u8], AuthError> {
    match field {
        Some([n, b'=', value @ ..]) if *n == name => Ok(value),
        _ => Err(AuthError::MissingAttribute { message, attribute }),
    }
}

/// Extensions are ignored, but each must have the `attr-val` shape (`ALPHA "=" value`),
/// which also refuses empty fields and trailing commas.
fn check_extensions<'a>(
    fields: impl Iterator<Item = &'a [u8]>,
    message: &'static str,
) -> Result<(), AuthError> {
    for field in fields {
        if !matches!(field, [name, b'=', _, ..] if name.is_ascii_alphabetic()) {
            return Err(AuthError::Malformed {
                message,
                reason: "an extension is not of the form attribute=value",
            });
        }
    }
    Ok(())
}

/// `posit-number = %x31-39 *DIGIT`, at most `max`.
fn parse_iterations(value: &[u8], max: u32) -> Result<u32, AuthError> {
    if !matches!(value, [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit)) {
        return Err(AuthError::InvalidIterationCount);
    }
    // Saturating, so a count of any length is reported rather than wrapped.
    let count = value.iter().fold(0u64, |acc, &digit| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    });
    match u32::try_from(count) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(AuthError::TooManyIterations { count, max }),
    }
}

/// `printable = %x21-2B / %x2D-7E`: visible ASCII except `,`.
fn is_printable(b: &u8) -> bool {
    matches!(b, 0x21..=0x2b | 0x2d..=0x7e)
}

/// A keyed HMAC-SHA-256 over the concatenation of `parts`.
fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; KEY_LEN] {
    let mut mac = keyed(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn keyed(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of any length (long ones are hashed first), so this arm is
        // never taken. If it were, the all-zero key fails closed: the server rejects the
        // proof and the server signature does not verify.
        Err(_) => HmacSha256::new(&Default::default()),
    }
}

/// `Hi(str, salt, i)` of RFC 5802: PBKDF2 with HMAC-SHA-256 and one output block.
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; KEY_LEN] {
    // Keying once and cloning the keyed state saves two compressions per iteration.
    let key = keyed(password);
    let mut mac = key.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u: [u8; KEY_LEN] = mac.finalize().into_bytes().into();
    let mut result = u;
    for _ in 1..iterations {
        let mut mac = key.clone();
        mac.update(&u);
        u = mac.finalize().into_bytes().into();
        for (r, x) in result.iter_mut().zip(&u) {
            *r ^= x;
        }
    }
    wipe(&mut u);
    result
}

/// Compares without an early exit, so the time taken does not reveal how many leading
/// bytes of a forged signature were right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Overwrites secret bytes before they are released. Best effort: `black_box` keeps the
/// compiler from dropping the writes as dead stores, but copies made earlier by moves
/// are out of reach.
fn wipe(secret: &mut [u8]) {
    secret.fill(0);
    core::hint::black_box(&*secret);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    extern crate std;
    use std::time::{Duration, Instant};

    // RFC 7677 section 3.
    const RFC_NONCE: &[u8] = b"rOprNGfwEbeRWgbNEkqO";
    const RFC_SERVER_FIRST: &[u8] =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const RFC_CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const RFC_SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_client() -> ScramClient {
        ScramClient::with_printable_nonce(b"pencil", RFC_NONCE, ChannelBinding::NotSupported)
            .unwrap()
            .with_user("user")
    }

    /// A client whose server-first-message has just been refused with `err`.
    fn first_fails(server_first: &[u8]) -> AuthError {
        let mut client = rfc_client();
        let err = client.handle_server_first(server_first).unwrap_err();
        assert_eq!(client.state, State::Failed);
        err
    }

    fn server_first(nonce: &str, salt: &str, iterations: &str) -> Vec<u8> {
        alloc::format!("r={nonce},s={salt},i={iterations}").into_bytes()
    }

    #[test]
    fn rfc_7677_vector() {
        let mut client = rfc_client();
        assert_eq!(client.mechanism(), ScramMechanism::ScramSha256);
        // gs2-header "n,," then client-first-message-bare "n=user,r=<c-nonce>".
        assert_eq!(
            client.client_first_message(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let client_final = client.handle_server_first(RFC_SERVER_FIRST).unwrap();
        // c=biws is base64("n,,").
        assert_eq!(client_final, RFC_CLIENT_FINAL);
        assert!(!client.is_complete());
        client.handle_server_final(RFC_SERVER_FINAL).unwrap();
        assert!(client.is_complete());
        assert!(client.password.is_empty());
    }

    #[test]
    fn plus_exchange() {
        // Expected values computed independently with Python 3's hashlib, hmac and
        // base64 (pbkdf2_hmac("sha256", b"pencil", salt, 4096), then RFC 5802 section 3),
        // with cbind-input = b"p=tls-server-end-point,," + the certificate hash, where
        // the hash is hashlib.sha256(b"not really a certificate").
        let hash =
            tls_server_end_point(SignatureHash::Sha256, b"not really a certificate").unwrap();
        let mut client = ScramClient::with_printable_nonce(
            b"pencil",
            RFC_NONCE,
            ChannelBinding::TlsServerEndPoint(hash),
        )
        .unwrap();
        assert_eq!(client.mechanism(), ScramMechanism::ScramSha256Plus);
        assert_eq!(
            client.client_first_message(),
            b"p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO"
        );
        let client_final = client
            .handle_server_first(
                b"r=rOprNGfwEbeRWgbNEkqOc3BlY2lhbCBzZXJ2ZXIgbm9uY2U,s=QSXCR+Q6sek8bf92,i=4096",
            )
            .unwrap();
        assert_eq!(
            client_final,
            &b"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws1hgiVeVznVX8l4F1nHqCPU3/PSt9F5SecIXufAzCKs8=,\
r=rOprNGfwEbeRWgbNEkqOc3BlY2lhbCBzZXJ2ZXIgbm9uY2U,\
p=uYRD5fjDIbyKw/n8Kc1QuLYjOQ97L7SvR24luu+VcEs="[..]
        );
        client
            .handle_server_final(b"v=8a8a1ModLe+SUKEuc6AvONx4bQyh8YzrGhdwTbicYUE=")
            .unwrap();
        assert!(client.is_complete());
    }

    #[test]
    fn supported_not_used_flag() {
        let client = ScramClient::with_printable_nonce(
            b"pencil",
            RFC_NONCE,
            ChannelBinding::SupportedNotUsed,
        )
        .unwrap();
        assert_eq!(client.mechanism(), ScramMechanism::ScramSha256);
        assert!(client.client_first_message().starts_with(b"y,,n=,r="));
        let mut client = client;
        let client_final = client.handle_server_first(RFC_SERVER_FIRST).unwrap();
        // base64("y,,") = "eSws".
        assert!(client_final.starts_with(b"c=eSws,r="));
    }

    #[test]
    fn raw_nonce_is_base64_encoded() {
        let client =
            ScramClient::new(b"pw", &[0xff, 0x00, 0x7f], ChannelBinding::NotSupported).unwrap();
        assert_eq!(client.client_first_message(), b"n,,n=,r=/wB/");
        assert!(ScramClient::new(b"pw", &[0; 192], ChannelBinding::NotSupported).is_ok());
    }

    #[test]
    fn invalid_client_nonce() {
        let nb = || ChannelBinding::NotSupported;
        assert_eq!(
            ScramClient::new(b"pw", b"", nb()).unwrap_err(),
            AuthError::InvalidNonce
        );
        assert_eq!(
            ScramClient::new(b"pw", &[0; 193], nb()).unwrap_err(),
            AuthError::InvalidNonce
        );
        for bad in [&b""[..], b"a,b", b"a b", b"\x7f", b"caf\xc3\xa9"] {
            assert_eq!(
                ScramClient::with_printable_nonce(b"pw", bad, nb()).unwrap_err(),
                AuthError::InvalidNonce,
                "{bad:?}"
            );
        }
        assert_eq!(
            ScramClient::with_printable_nonce(b"pw", &[b'x'; 257], nb()).unwrap_err(),
            AuthError::InvalidNonce
        );
    }

    #[test]
    fn empty_channel_binding_is_refused() {
        assert_eq!(
            ScramClient::new(b"pw", b"nonce", ChannelBinding::TlsServerEndPoint(vec![]))
                .unwrap_err(),
            AuthError::EmptyChannelBinding
        );
    }

    #[test]
    fn user_name_is_escaped() {
        let client = rfc_client().with_user("a=b,c");
        assert_eq!(
            client.client_first_message(),
            b"n,,n=a=3Db=2Cc,r=rOprNGfwEbeRWgbNEkqO"
        );
    }

    #[test]
    fn non_ascii_password_goes_through_saslprep() {
        // "pen\u{00AD}cil" prepares to "pencil", so the RFC vector still holds.
        let mut client = ScramClient::with_printable_nonce(
            "pen\u{00AD}cil".as_bytes(),
            RFC_NONCE,
            ChannelBinding::NotSupported,
        )
        .unwrap()
        .with_user("user");
        let client_final = client.handle_server_first(RFC_SERVER_FIRST).unwrap();
        if cfg!(feature = "std") {
            assert_eq!(client_final, RFC_CLIENT_FINAL);
        }
    }

    #[test]
    fn wrong_password_gives_server_signature_mismatch() {
        let mut client =
            ScramClient::with_printable_nonce(b"pencil!", RFC_NONCE, ChannelBinding::NotSupported)
                .unwrap()
                .with_user("user");
        let client_final = client.handle_server_first(RFC_SERVER_FIRST).unwrap();
        assert_ne!(client_final, RFC_CLIENT_FINAL);
        assert_eq!(
            client.handle_server_final(RFC_SERVER_FINAL),
            Err(AuthError::ServerSignatureMismatch)
        );
        assert!(!client.is_complete());
    }

    #[test]
    fn server_signature_mismatch() {
        let cases: [&[u8]; 3] = [
            // One bit flipped in the last byte.
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G0=",
            // A prefix of the right signature.
            b"v=6rriTRBi23WpRR/wtup+mA==",
            // Empty.
            b"v=",
        ];
        for case in cases {
            let mut client = rfc_client();
            client.handle_server_first(RFC_SERVER_FIRST).unwrap();
            assert_eq!(
                client.handle_server_final(case),
                Err(AuthError::ServerSignatureMismatch),
                "{case:?}"
            );
            assert!(!client.is_complete());
        }
    }

    #[test]
    fn server_final_error_value() {
        let mut client = rfc_client();
        client.handle_server_first(RFC_SERVER_FIRST).unwrap();
        let err = client.handle_server_final(b"e=invalid-proof").unwrap_err();
        assert_eq!(
            err,
            AuthError::ServerError {
                value: "invalid-proof".into()
            }
        );
        assert_eq!(err.to_string(), "SCRAM server error: invalid-proof");

        // The value ends at the next comma; extensions after it are ignored.
        let mut client = rfc_client();
        client.handle_server_first(RFC_SERVER_FIRST).unwrap();
        assert_eq!(
            client.handle_server_final(b"e=channel-bindings-dont-match,x=y"),
            Err(AuthError::ServerError {
                value: "channel-bindings-dont-match".into()
            })
        );
        let mut client = rfc_client();
        client.handle_server_first(RFC_SERVER_FIRST).unwrap();
        assert_eq!(
            client.handle_server_final(b"e=bad\x1b[2J\xff"),
            Err(AuthError::ServerError {
                value: "bad?[2J\u{FFFD}".into()
            })
        );
        // An empty "e=" is still an error.
        let mut client = rfc_client();
        client.handle_server_first(RFC_SERVER_FIRST).unwrap();
        assert!(client.handle_server_final(b"e=").is_err());
        assert!(!client.is_complete());
    }

    #[test]
    fn malformed_server_final() {
        let cases: [(&[u8], AuthError); 5] = [
            (
                b"",
                AuthError::MissingAttribute {
                    message: "server-final-message",
                    attribute: "v=",
                },
            ),
            (
                b"x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
                AuthError::MissingAttribute {
                    message: "server-final-message",
                    attribute: "v=",
                },
            ),
            (
                b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",
                AuthError::Malformed {
                    message: "server-final-message",
                    reason: "the verifier is not valid base64",
                },
            ),
            (
                b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,",
                AuthError::Malformed {
                    message: "server-final-message",
                    reason: "an extension is not of the form attribute=value",
                },
            ),
            (
                &[b'v'; MAX_SERVER_MESSAGE_LEN + 1],
                AuthError::MessageTooLarge {
                    message: "server-final-message",
                    len: MAX_SERVER_MESSAGE_LEN + 1,
                    max: MAX_SERVER_MESSAGE_LEN,
                },
            ),
        ];
        for (case, expected) in cases {
            let mut client = rfc_client();
            client.handle_server_first(RFC_SERVER_FIRST).unwrap();
            assert_eq!(client.handle_server_final(case), Err(expected));
            assert!(!client.is_complete());
        }
        // Extensions of the right shape are accepted.
        let mut client = rfc_client();
        client.handle_server_first(RFC_SERVER_FIRST).unwrap();
        let mut with_ext = RFC_SERVER_FINAL.to_vec();
        with_ext.extend_from_slice(b",x=1");
        client.handle_server_final(&with_ext).unwrap();
    }

    #[test]
    fn huge_iteration_count_fails_before_derivation() {
        let started = Instant::now();
        let err = first_fails(&server_first(
            "rOprNGfwEbeRWgbNEkqOxyz",
            "W22ZaJ0SNY7soEsUEjb6gQ==",
            "2147483647",
        ));
        assert_eq!(
            err,
            AuthError::TooManyIterations {
                count: 2_147_483_647,
                max: DEFAULT_MAX_ITERATIONS
            }
        );
        // Deriving 2^31 iterations would take minutes; refusing takes microseconds.
        assert!(started.elapsed() < Duration::from_millis(100));

        // Beyond u32 and beyond u64: reported, saturated, not wrapped.
        assert_eq!(
            first_fails(&server_first("rOprNGfwEbeRWgbNEkqOx", "AA==", "4294967296")),
            AuthError::TooManyIterations {
                count: 4_294_967_296,
                max: DEFAULT_MAX_ITERATIONS
            }
        );
        assert_eq!(
            first_fails(&server_first(
                "rOprNGfwEbeRWgbNEkqOx",
                "AA==",
                "99999999999999999999999999"
            )),
            AuthError::TooManyIterations {
                count: u64::MAX,
                max: DEFAULT_MAX_ITERATIONS
            }
        );
        // Just above the default cap.
        assert_eq!(
            first_fails(&server_first("rOprNGfwEbeRWgbNEkqOx", "AA==", "100001")),
            AuthError::TooManyIterations {
                count: 100_001,
                max: DEFAULT_MAX_ITERATIONS
            }
        );
    }

    #[test]
    fn iteration_cap_is_configurable() {
        let mut client = rfc_client().with_max_iterations(4095);
        assert_eq!(
            client.handle_server_first(RFC_SERVER_FIRST),
            Err(AuthError::TooManyIterations {
                count: 4096,
                max: 4095
            })
        );
        let mut client = rfc_client().with_max_iterations(4096);
        assert_eq!(
            client.handle_server_first(RFC_SERVER_FIRST).unwrap(),
            RFC_CLIENT_FINAL
        );
    }

    #[test]
    fn invalid_iteration_counts() {
        for count in [
            "0", "-1", "", "abc", "4096x", "04096", "+4096", " 4096", "1e3",
        ] {
            assert_eq!(
                first_fails(&server_first(
                    "rOprNGfwEbeRWgbNEkqOx",
                    "W22ZaJ0SNY7soEsUEjb6gQ==",
                    count
                )),
                AuthError::InvalidIterationCount,
                "{count:?}"
            );
        }
    }

    #[test]
    fn missing_iteration_count() {
        assert_eq!(
            first_fails(b"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ=="),
            AuthError::MissingAttribute {
                message: "server-first-message",
                attribute: "i="
            }
        );
    }

    #[test]
    fn attributes_out_of_order() {
        let missing = |attribute| AuthError::MissingAttribute {
            message: "server-first-message",
            attribute,
        };
        let cases: [(&[u8], AuthError); 6] = [
            (b"", missing("r=")),
            (b"s=AA==,r=rOprNGfwEbeRWgbNEkqOx,i=1", missing("r=")),
            (b"r=rOprNGfwEbeRWgbNEkqOx,i=1,s=AA==", missing("s=")),
            (b"r=rOprNGfwEbeRWgbNEkqOx", missing("s=")),
            (b"R=rOprNGfwEbeRWgbNEkqOx,s=AA==,i=1", missing("r=")),
            (b"rOprNGfwEbeRWgbNEkqOx,s=AA==,i=1", missing("r=")),
        ];
        for (case, expected) in cases {
            assert_eq!(first_fails(case), expected, "{case:?}");
        }
    }

    #[test]
    fn mandatory_extension_is_refused() {
        assert_eq!(
            first_fails(b"m=must-understand,r=rOprNGfwEbeRWgbNEkqOx,s=AA==,i=4096"),
            AuthError::MandatoryExtension
        );
    }

    #[test]
    fn optional_extensions() {
        let mut message = RFC_SERVER_FIRST.to_vec();
        message.extend_from_slice(b",x=ignored,y=also");
        let mut client = rfc_client();
        // The extension is part of the AuthMessage, so the proof differs from the RFC's;
        // what matters is that it is accepted.
        client.handle_server_first(&message).unwrap();

        for bad in [&b","[..], b",x", b",=1", b",1=x", b",x="] {
            let mut message = RFC_SERVER_FIRST.to_vec();
            message.extend_from_slice(bad);
            assert_eq!(
                first_fails(&message),
                AuthError::Malformed {
                    message: "server-first-message",
                    reason: "an extension is not of the form attribute=value",
                },
                "{bad:?}"
            );
        }
    }

    #[test]
    fn nonce_checks() {
        let salt = "W22ZaJ0SNY7soEsUEjb6gQ==";
        assert_eq!(
            first_fails(&server_first("rOprNGfwEbeRWgbNEkqP%hvY", salt, "4096")),
            AuthError::NonceMismatch
        );
        // Shorter than the client nonce.
        assert_eq!(
            first_fails(&server_first("rOprNG", salt, "4096")),
            AuthError::NonceMismatch
        );
        assert_eq!(
            first_fails(&server_first("", salt, "4096")),
            AuthError::NonceMismatch
        );
        assert_eq!(
            first_fails(&server_first("rOprNGfwEbeRWgbNEkqO", salt, "4096")),
            AuthError::NonceNotExtended
        );
        for bad in [
            "rOprNGfwEbeRWgbNEkqO ab",
            "rOprNGfwEbeRWgbNEkqO\u{7f}",
            "rOprNGfwEbeRWgbNEkqOé",
        ] {
            assert_eq!(
                first_fails(&server_first(bad, salt, "4096")),
                AuthError::NonceNotPrintable,
                "{bad:?}"
            );
        }
        let mut with_nul = b"r=rOprNGfwEbeRWgbNEkqO\0x,s=".to_vec();
        with_nul.extend_from_slice(salt.as_bytes());
        with_nul.extend_from_slice(b",i=4096");
        assert_eq!(first_fails(&with_nul), AuthError::NonceNotPrintable);
    }

    #[test]
    fn huge_nonce_is_refused_by_size() {
        let mut nonce = String::from("rOprNGfwEbeRWgbNEkqO");
        nonce.extend(core::iter::repeat('A').take(1 << 20));
        let message = server_first(&nonce, "W22ZaJ0SNY7soEsUEjb6gQ==", "4096");
        assert_eq!(
            first_fails(&message),
            AuthError::MessageTooLarge {
                message: "server-first-message",
                len: message.len(),
                max: MAX_SERVER_MESSAGE_LEN,
            }
        );
        // A nonce that fits is echoed in full.
        let mut nonce = String::from("rOprNGfwEbeRWgbNEkqO");
        nonce.extend(core::iter::repeat('A').take(3000));
        let mut client = rfc_client().with_max_iterations(4096);
        let client_final = client
            .handle_server_first(&server_first(&nonce, "W22ZaJ0SNY7soEsUEjb6gQ==", "1"))
            .unwrap();
        assert!(client_final
            .windows(nonce.len())
            .any(|w| w == nonce.as_bytes()));
    }

    #[test]
    fn salt_checks() {
        let nonce = "rOprNGfwEbeRWgbNEkqOx";
        for bad in [
            "W22ZaJ0SNY7soEsUEjb6gQ=",
            "not base64!",
            "W22Z aJ0S",
            "W22ZaJ0SNY7soEsUEjb6gQ",
        ] {
            assert_eq!(
                first_fails(&server_first(nonce, bad, "4096")),
                AuthError::InvalidSalt,
                "{bad:?}"
            );
        }
        assert_eq!(
            first_fails(&server_first(nonce, "", "4096")),
            AuthError::EmptySalt
        );
    }

    #[test]
    fn steps_out_of_order() {
        let mut client = rfc_client();
        assert_eq!(
            client.handle_server_final(RFC_SERVER_FINAL),
            Err(AuthError::OutOfOrder {
                call: "handle_server_final"
            })
        );
        // The failure is final.
        assert_eq!(
            client.handle_server_first(RFC_SERVER_FIRST),
            Err(AuthError::OutOfOrder {
                call: "handle_server_first"
            })
        );

        let mut client = rfc_client();
        client.handle_server_first(RFC_SERVER_FIRST).unwrap();
        assert_eq!(
            client.handle_server_first(RFC_SERVER_FIRST),
            Err(AuthError::OutOfOrder {
                call: "handle_server_first"
            })
        );
        assert!(client.handle_server_final(RFC_SERVER_FINAL).is_err());

        let mut client = rfc_client();
        client.handle_server_first(RFC_SERVER_FIRST).unwrap();
        client.handle_server_final(RFC_SERVER_FINAL).unwrap();
        assert_eq!(
            client.handle_server_final(RFC_SERVER_FINAL),
            Err(AuthError::OutOfOrder {
                call: "handle_server_final"
            })
        );
        assert!(!client.is_complete());

        // A failed server-first-message ends the exchange too.
        let mut client = rfc_client();
        assert!(client.handle_server_first(b"garbage").is_err());
        assert!(client.handle_server_first(RFC_SERVER_FIRST).is_err());
    }

    #[test]
    fn debug_does_not_show_the_password() {
        let client = rfc_client();
        let shown = alloc::format!("{client:?}");
        assert!(!shown.contains("pencil"), "{shown}");
        assert!(!shown.contains("112, 101, 110"), "{shown}");
        assert!(shown.contains("AwaitingServerFirst"), "{shown}");
    }

    #[test]
    fn end_point_hashes() {
        // Digests of the same bytes computed with Python's hashlib.
        let der = b"not really a certificate";
        let sha256 = "d6182255e5739d55fc9781759c7a823d4dff3d2b7d17949e7085ee7c0cc22acf";
        let hex = |h: Vec<u8>| {
            h.iter()
                .map(|b| alloc::format!("{b:02x}"))
                .collect::<String>()
        };
        for alg in [
            SignatureHash::Md5,
            SignatureHash::Sha1,
            SignatureHash::Sha256,
        ] {
            assert_eq!(
                hex(tls_server_end_point(alg, der).unwrap()),
                sha256,
                "{alg:?}"
            );
        }
        assert_eq!(
            hex(tls_server_end_point(SignatureHash::Sha224, der).unwrap()),
            "e5954390af1a0dd338e2966b59c3ed305df95b995ecd58b0ff8525a4"
        );
        assert_eq!(
            hex(tls_server_end_point(SignatureHash::Sha384, der).unwrap()),
            "accfe78f9125aebed68b06e18d8a6ca08a6c8eec679d7081aed6d59a294d64b4\
6ec9d24c431f7379d982a2ee4921639d"
        );
        assert_eq!(
            hex(tls_server_end_point(SignatureHash::Sha512, der).unwrap()),
            "155465ef04946f809230a8005f4390659a116439bbdb9695ee373f7b5f05420d\
cb8e6fce4248dd239fd16f2c7eebab816d4e865587698c16191ea2532cbe917e"
        );
        assert_eq!(
            tls_server_end_point(SignatureHash::Undefined, der),
            Err(AuthError::UndefinedChannelBinding)
        );
    }

    const BOTH: &[&str] = &[SCRAM_SHA_256_PLUS, SCRAM_SHA_256];
    const PLAIN: &[&str] = &[SCRAM_SHA_256];
    const HASH: &[u8] = &[7; 32];

    fn plus() -> (ScramMechanism, ChannelBinding) {
        (
            ScramMechanism::ScramSha256Plus,
            ChannelBinding::TlsServerEndPoint(HASH.to_vec()),
        )
    }

    #[test]
    fn select_prefer() {
        use ChannelBindingPolicy::Prefer;
        assert_eq!(select_mechanism(BOTH, Prefer, Some(HASH)), Ok(plus()));
        assert_eq!(
            select_mechanism(PLAIN, Prefer, Some(HASH)),
            Ok((
                ScramMechanism::ScramSha256,
                ChannelBinding::SupportedNotUsed
            ))
        );
        // No hash (no TLS, or an Ed25519 certificate): flag n, even if -PLUS is offered,
        // since "y" would make a server that offered -PLUS suspect a downgrade.
        for offered in [BOTH, PLAIN] {
            assert_eq!(
                select_mechanism(offered, Prefer, None),
                Ok((ScramMechanism::ScramSha256, ChannelBinding::NotSupported))
            );
        }
        // Only -PLUS offered and nothing to bind to.
        assert_eq!(
            select_mechanism(&[SCRAM_SHA_256_PLUS], Prefer, None),
            Err(AuthError::NoScramMechanism {
                offered: "SCRAM-SHA-256-PLUS".into()
            })
        );
        assert_eq!(
            select_mechanism(&[SCRAM_SHA_256_PLUS], Prefer, Some(HASH)),
            Ok(plus())
        );
    }

    #[test]
    fn select_require() {
        use ChannelBindingPolicy::Require;
        assert_eq!(select_mechanism(BOTH, Require, Some(HASH)), Ok(plus()));
        assert_eq!(
            select_mechanism(PLAIN, Require, Some(HASH)),
            Err(AuthError::ChannelBindingNotOffered)
        );
        // Plain connection, or a certificate without a defined hash (Ed25519, PSS).
        for offered in [BOTH, PLAIN] {
            assert_eq!(
                select_mechanism(offered, Require, None),
                Err(AuthError::ChannelBindingUnavailable)
            );
        }
        let undefined = tls_server_end_point(SignatureHash::Undefined, b"cert").ok();
        assert_eq!(
            select_mechanism(BOTH, Require, undefined.as_deref()),
            Err(AuthError::ChannelBindingUnavailable)
        );
    }

    #[test]
    fn select_disable() {
        use ChannelBindingPolicy::Disable;
        for hash in [Some(HASH), None, Some(&[][..])] {
            assert_eq!(
                select_mechanism(BOTH, Disable, hash),
                Ok((ScramMechanism::ScramSha256, ChannelBinding::NotSupported))
            );
        }
        assert!(matches!(
            select_mechanism(&[SCRAM_SHA_256_PLUS], Disable, Some(HASH)),
            Err(AuthError::NoScramMechanism { .. })
        ));
    }

    #[test]
    fn select_refuses_empty_hash() {
        for policy in [ChannelBindingPolicy::Prefer, ChannelBindingPolicy::Require] {
            assert_eq!(
                select_mechanism(BOTH, policy, Some(&[])),
                Err(AuthError::EmptyChannelBinding)
            );
        }
    }

    #[test]
    fn select_without_scram() {
        let offered = vec![String::from("SCRAM-SHA-1"), String::from("OAUTHBEARER")];
        let err = select_mechanism(&offered, ChannelBindingPolicy::Prefer, None).unwrap_err();
        assert_eq!(
            err,
            AuthError::NoScramMechanism {
                offered: "SCRAM-SHA-1, OAUTHBEARER".into()
            }
        );
        assert!(err.to_string().contains("SCRAM-SHA-1, OAUTHBEARER"));
        assert_eq!(
            select_mechanism::<&str>(&[], ChannelBindingPolicy::Prefer, None),
            Err(AuthError::NoScramMechanism {
                offered: "none".into()
            })
        );
        // A hostile list is shortened, and control characters are not echoed.
        let long = vec![String::from("X\u{1b}[2J").repeat(1000)];
        let Err(AuthError::NoScramMechanism { offered }) =
            select_mechanism(&long, ChannelBindingPolicy::Prefer, None)
        else {
            panic!("expected NoScramMechanism");
        };
        assert!(offered.len() <= 203, "{}", offered.len());
        assert!(offered.ends_with("..."));
        assert!(!offered.contains('\u{1b}'));
    }

    #[test]
    fn mechanism_names() {
        assert_eq!(ScramMechanism::ScramSha256.to_string(), "SCRAM-SHA-256");
        assert_eq!(
            ScramMechanism::ScramSha256Plus.to_string(),
            "SCRAM-SHA-256-PLUS"
        );
        assert_eq!(
            ChannelBinding::TlsServerEndPoint(vec![1]).mechanism(),
            ScramMechanism::ScramSha256Plus
        );
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        /// Server messages built from SCRAM-like pieces, so that parsing gets past the
        /// first checks often, plus arbitrary bytes.
        fn server_message() -> impl Strategy<Value = Vec<u8>> {
            let piece = prop_oneof![
                Just(b"r=rOprNGfwEbeRWgbNEkqO".to_vec()),
                Just(b"s=W22ZaJ0SNY7soEsUEjb6gQ==".to_vec()),
                Just(b"i=".to_vec()),
                Just(b"v=".to_vec()),
                Just(b"e=".to_vec()),
                Just(b"m=".to_vec()),
                Just(b",".to_vec()),
                Just(b"=".to_vec()),
                "[0-9]{1,12}".prop_map(String::into_bytes),
                "[A-Za-z0-9+/=]{0,48}".prop_map(String::into_bytes),
                proptest::collection::vec(any::<u8>(), 0..16),
            ];
            prop_oneof![
                proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat()),
                proptest::collection::vec(any::<u8>(), 0..256),
            ]
        }

        // The RFC 7677 exchange with i=1, so that each case derives keys cheaply.
        // Expected values from the same Python computation as `plus_exchange`.
        const ONE_ITERATION_FIRST: &[u8] =
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1";
        const ONE_ITERATION_CLIENT_FINAL: &[u8] =
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
p=0HpZtX/KXXa0ywYK4tj43Y2SHpuAk6sib0z2ZmNk22Y=";
        const ONE_ITERATION_FINAL: &[u8] = b"v=XjTu3KBABgY/OKnhaQwxJb9Vbt2Fj1v+lPuMzeAcqSk=";

        proptest! {
            #[test]
            fn arbitrary_server_messages_never_panic(
                first in server_message(),
                last in server_message(),
            ) {
                // A small cap keeps any accepted derivation cheap.
                let mut client = rfc_client().with_max_iterations(64);
                let first_ok = client.handle_server_first(&first).is_ok();
                let last_ok = client.handle_server_final(&last).is_ok();
                prop_assert!(!last_ok || first_ok);
                prop_assert_eq!(client.is_complete(), last_ok);
            }

            #[test]
            fn arbitrary_server_final_after_valid_first_never_panics(
                last in prop_oneof![server_message(), Just(ONE_ITERATION_FINAL.to_vec())],
            ) {
                let mut client = rfc_client();
                let client_final = client.handle_server_first(ONE_ITERATION_FIRST).unwrap();
                prop_assert_eq!(&client_final[..], ONE_ITERATION_CLIENT_FINAL);
                let ok = client.handle_server_final(&last).is_ok();
                prop_assert_eq!(ok, last == ONE_ITERATION_FINAL);
                prop_assert_eq!(client.is_complete(), ok);
            }
        }
    }
}
