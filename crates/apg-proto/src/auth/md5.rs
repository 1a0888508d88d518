//! The legacy `md5` password hash, answered to AuthenticationMD5Password.
//!
//! <https://www.postgresql.org/docs/current/auth-password.html>
//!
//! MD5 is deprecated since PostgreSQL 18 and offers no protection against a server
//! impersonator: whoever sees the hash and the salt can replay the login to the server
//! that chose the salt, and the stored `md5(password ‖ user)` is password-equivalent.
//! Prefer SCRAM; a client that requires channel binding must refuse MD5 outright.

use ::md5::{Digest, Md5};

/// Computes the response to AuthenticationMD5Password:
/// `"md5" ‖ hex(md5(hex(md5(password ‖ user)) ‖ salt))`, 35 ASCII bytes.
///
/// `user` is the user name sent in the StartupMessage (the server salts the stored hash
/// with it), `salt` the four bytes of the AuthenticationMD5Password message. The result
/// goes into a PasswordMessage as is; it contains no NUL byte.
#[must_use]
pub fn password_hash(user: &[u8], password: &[u8], salt: [u8; 4]) -> [u8; 35] {
    let inner = Md5::new()
        .chain_update(password)
        .chain_update(user)
        .finalize();
    let mut inner_hex = [0u8; 32];
    for (out, digit) in inner_hex.iter_mut().zip(hex_digits(&inner)) {
        *out = digit;
    }
    let outer = Md5::new()
        .chain_update(inner_hex)
        .chain_update(salt)
        .finalize();

    let mut response = [0u8; 35];
    for (out, byte) in response
        .iter_mut()
        .zip(b"md5".iter().copied().chain(hex_digits(&outer)))
    {
        *out = byte;
    }
    response
}

/// Lower-case hexadecimal digits of `bytes`, two per byte, as the server writes them.
fn hex_digits(bytes: &[u8]) -> impl Iterator<Item = u8> + '_ {
    bytes
        .iter()
        .flat_map(|&b| [hex_digit(b >> 4), hex_digit(b & 0x0f)])
}

fn hex_digit(nibble: u8) -> u8 {
    match nibble {
        0..=9 => b'0' + nibble,
        _ => b'a' + (nibble - 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // Computed independently with Python's hashlib:
        //   inner = hashlib.md5(b"secret" + b"alice").hexdigest()
        //   "md5" + hashlib.md5(inner.encode() + bytes([1, 2, 3, 4])).hexdigest()
        assert_eq!(
            &password_hash(b"alice", b"secret", [1, 2, 3, 4]),
            b"md598a0412b9c31436fc53776e863350083"
        );
    }

    #[test]
    fn salt_and_user_matter() {
        let a = password_hash(b"alice", b"secret", [1, 2, 3, 4]);
        assert_ne!(a, password_hash(b"alice", b"secret", [1, 2, 3, 5]));
        assert_ne!(a, password_hash(b"alicf", b"secret", [1, 2, 3, 4]));
    }

    #[test]
    fn output_is_printable_ascii() {
        let h = password_hash(b"", b"", [0xff; 4]);
        assert!(h.starts_with(b"md5"));
        assert!(h
            .iter()
            .skip(3)
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)));
    }
}
