//! SCRAM-SHA-256 client side (RFC 5802, RFC 7677) as PostgreSQL uses it:
//! no channel binding (the testkit never speaks TLS) and an empty user name in
//! the client-first message (the server takes the role from the startup packet).
//! See <https://www.postgresql.org/docs/current/sasl-authentication.html>.

use crate::crypto::{base64_decode, base64_encode, hmac_sha256, pbkdf2_sha256, sha256};
use crate::Error;

/// The SASL mechanism name sent in SASLInitialResponse.
pub(crate) const MECHANISM: &str = "SCRAM-SHA-256";

/// `biws` is base64 of the GS2 header `n,,`: no channel binding, no authzid.
const GS2_HEADER: &str = "n,,";
const CHANNEL_BINDING: &str = "biws";

/// Refuses iteration counts that would keep a test busy for minutes; the
/// PostgreSQL default is 4096 and `scram_iterations` rarely goes far above.
const MAX_ITERATIONS: u32 = 10_000_000;

/// One SCRAM exchange: client-first, then server-first → client-final, then
/// server-final is verified.
pub(crate) struct Scram {
    password: Vec<u8>,
    client_first_bare: String,
    nonce: String,
    expected_server_signature: Option<[u8; 32]>,
}

impl Scram {
    /// Starts an exchange. `user` goes into the client-first message (PostgreSQL
    /// ignores it, so the client passes ""); `nonce` must be printable ASCII
    /// without commas.
    pub(crate) fn new(user: &str, password: &str, nonce: &str) -> Self {
        // RFC 5802 section 5.1: `=` and `,` in the user name are escaped.
        let user = user.replace('=', "=3D").replace(',', "=2C");
        Self {
            // SASLprep is skipped: the testkit's passwords are plain ASCII, for
            // which it is the identity, and PostgreSQL itself uses the raw bytes
            // when a password does not survive SASLprep.
            password: password.as_bytes().to_vec(),
            client_first_bare: format!("n={user},r={nonce}"),
            nonce: nonce.to_owned(),
            expected_server_signature: None,
        }
    }

    /// The client-first message.
    pub(crate) fn client_first(&self) -> String {
        format!("{GS2_HEADER}{}", self.client_first_bare)
    }

    /// Takes the server-first message and returns the client-final message.
    pub(crate) fn client_final(&mut self, server_first: &[u8]) -> Result<String, Error> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| Error::Protocol("SCRAM server-first message is not UTF-8".into()))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attr in server_first.split(',') {
            if let Some(v) = attr.strip_prefix("r=") {
                nonce = Some(v);
            } else if let Some(v) = attr.strip_prefix("s=") {
                salt = base64_decode(v);
            } else if let Some(v) = attr.strip_prefix("i=") {
                iterations = v.parse::<u32>().ok();
            }
        }
        let bad = |what: &str| Error::Protocol(format!("SCRAM server-first message: {what}"));
        let nonce = nonce.ok_or_else(|| bad("no nonce"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(bad("the nonce does not extend the client's"));
        }
        let salt = salt.ok_or_else(|| bad("missing or malformed salt"))?;
        let iterations = iterations
            .filter(|i| (1..=MAX_ITERATIONS).contains(i))
            .ok_or_else(|| bad("missing or unreasonable iteration count"))?;

        let salted = pbkdf2_sha256(&self.password, &salt, iterations);
        let client_key = hmac_sha256(&salted, &[b"Client Key"]);
        let stored_key = sha256(&[&client_key]);
        let without_proof = format!("c={CHANNEL_BINDING},r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = hmac_sha256(&stored_key, &[auth_message.as_bytes()]);
        let mut proof = client_key;
        for (p, s) in proof.iter_mut().zip(signature) {
            *p ^= s;
        }
        let server_key = hmac_sha256(&salted, &[b"Server Key"]);
        self.expected_server_signature = Some(hmac_sha256(&server_key, &[auth_message.as_bytes()]));
        Ok(format!("{without_proof},p={}", base64_encode(&proof)))
    }

    /// Checks the server-final message: a server that does not know the password
    /// cannot produce it, so this authenticates the server.
    pub(crate) fn verify_server_final(&self, server_final: &[u8]) -> Result<(), Error> {
        let text = std::str::from_utf8(server_final)
            .map_err(|_| Error::Protocol("SCRAM server-final message is not UTF-8".into()))?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(Error::Protocol(format!("SCRAM error from the server: {e}")));
        }
        let expected = self
            .expected_server_signature
            .ok_or_else(|| Error::Protocol("SCRAM server-final before server-first".into()))?;
        let got = text
            .split(',')
            .find_map(|a| a.strip_prefix("v="))
            .and_then(base64_decode);
        if got.as_deref() == Some(&expected[..]) {
            Ok(())
        } else {
            Err(Error::Protocol(
                "SCRAM server signature does not match".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7677_example() {
        // RFC 7677 section 3.
        let mut scram = Scram::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(scram.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                             s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        assert_eq!(
            scram.client_final(server_first).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        scram
            .verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(scram
            .verify_server_final(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .is_err());
        assert!(scram.verify_server_final(b"e=invalid-proof").is_err());
    }

    #[test]
    fn rejects_bad_server_first() {
        let cases: [&[u8]; 6] = [
            b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            b"r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            b"r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            b"r=abcdef,s=***,i=4096",
            b"r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
            b"r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000",
        ];
        for case in cases {
            let mut scram = Scram::new("", "pw", "abc");
            assert!(scram.client_final(case).is_err(), "{case:?}");
        }
    }

    #[test]
    fn escapes_user_name() {
        let scram = Scram::new("a=b,c", "pw", "n");
        assert_eq!(scram.client_first(), "n,,n=a=3Db=2Cc,r=n");
    }
}
