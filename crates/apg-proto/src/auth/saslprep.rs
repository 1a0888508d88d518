//! SASLprep (RFC 4013) of SCRAM passwords, exactly as PostgreSQL applies it.
//!
//! The server runs SASLprep when it builds the stored verifier and uses the raw bytes
//! whenever SASLprep fails; the client must derive the same bytes or the proof will not
//! match. So this follows PostgreSQL's `pg_saslprep` (`src/common/saslprep.c`) rather
//! than the letter of RFC 4013, where the two differ:
//!
//! * pure ASCII is used unchanged, control characters included (no Unicode work at
//!   all for the common case);
//! * input that is not valid UTF-8 is used raw;
//! * the prohibited-output, unassigned-code-point and bidirectional checks run on the
//!   *mapped* string, before NFKC normalization;
//! * a string that maps to nothing is treated as prohibited (so it is used raw).
//!
//! Any failure means "use the raw bytes", never an error: that is what the server does.
//!
//! The RFC 3454 tables come from the `stringprep` crate, which needs `std`. Without the
//! `std` feature only the ASCII and raw paths exist: a non-ASCII password is used raw,
//! which matches the server for passwords that are already NFKC-normalized and contain
//! no mapped characters (non-ASCII spaces, soft hyphens, zero-width characters), and
//! fails authentication otherwise.

use alloc::borrow::Cow;

/// Returns the bytes SCRAM must use for `password`: the SASLprep result when it
/// succeeds, otherwise the password unchanged.
pub(crate) fn saslprep(password: &[u8]) -> Cow<'_, [u8]> {
    if password.is_ascii() {
        return Cow::Borrowed(password);
    }
    #[cfg(feature = "std")]
    if let Ok(text) = core::str::from_utf8(password) {
        if let Some(prepared) = unicode::prepare(text) {
            return Cow::Owned(prepared.into_bytes());
        }
    }
    Cow::Borrowed(password)
}

#[cfg(feature = "std")]
mod unicode {
    use alloc::string::String;
    use alloc::vec::Vec;

    use stringprep::tables;
    use unicode_normalization::UnicodeNormalization;

    /// Steps 1 to 4 of RFC 3454 section 2 in PostgreSQL's order; `None` when the
    /// password must be used raw.
    pub(super) fn prepare(text: &str) -> Option<String> {
        // 1. Map: non-ASCII spaces (C.1.2) to SPACE, "commonly mapped to nothing" (B.1)
        // removed. U+200B is in both tables; the space mapping wins, as on the server.
        let mapped: Vec<char> = text
            .chars()
            .filter_map(|c| {
                if tables::non_ascii_space_character(c) {
                    Some(' ')
                } else if tables::commonly_mapped_to_nothing(c) {
                    None
                } else {
                    Some(c)
                }
            })
            .collect();
        if mapped.is_empty() {
            return None;
        }

        // 3. Prohibit, and unassigned code points (checked on the mapped string).
        if mapped
            .iter()
            .any(|&c| is_prohibited(c) || tables::unassigned_code_point(c))
        {
            return None;
        }

        // 4. Bidi (RFC 3454 section 6): with any RandALCat character, no LCat character
        // is allowed and the first and last characters must be RandALCat.
        if mapped.iter().any(|&c| tables::bidi_r_or_al(c)) {
            let first_last_ok = matches!(
                (mapped.first(), mapped.last()),
                (Some(&first), Some(&last))
                    if tables::bidi_r_or_al(first) && tables::bidi_r_or_al(last)
            );
            if !first_last_ok || mapped.iter().any(|&c| tables::bidi_l(c)) {
                return None;
            }
        }

        // 2. Normalize with NFKC; the result is the prepared password.
        Some(mapped.into_iter().nfkc().collect())
    }

    /// The prohibited output of RFC 4013 section 2.3 (tables C.1.2 to C.9).
    fn is_prohibited(c: char) -> bool {
        tables::non_ascii_space_character(c)
            || tables::ascii_control_character(c)
            || tables::non_ascii_control_character(c)
            || tables::private_use(c)
            || tables::non_character_code_point(c)
            || tables::surrogate_code(c)
            || tables::inappropriate_for_plain_text(c)
            || tables::inappropriate_for_canonical_representation(c)
            || tables::change_display_properties_or_deprecated(c)
            || tables::tagging_character(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prep(s: &str) -> Cow<'_, [u8]> {
        saslprep(s.as_bytes())
    }

    #[test]
    fn ascii_is_used_unchanged_without_allocating() {
        for s in ["pencil", "USER", "", "with space", "ctl\x07char"] {
            let out = prep(s);
            assert!(matches!(out, Cow::Borrowed(_)), "{s:?}");
            assert_eq!(&*out, s.as_bytes());
        }
    }

    #[test]
    fn invalid_utf8_is_used_raw() {
        let raw = b"p\xffss\xc3";
        assert_eq!(&*saslprep(raw), raw);
    }

    #[cfg(feature = "std")]
    #[test]
    fn rfc_4013_examples() {
        // RFC 4013 section 3: SOFT HYPHEN mapped to nothing.
        assert_eq!(&*prep("I\u{00AD}X"), b"IX");
        // FEMININE ORDINAL INDICATOR and ROMAN NUMERAL NINE are NFKC-normalized.
        assert_eq!(&*prep("\u{00AA}"), b"a");
        assert_eq!(&*prep("\u{2168}"), b"IX");
    }

    #[cfg(feature = "std")]
    #[test]
    fn non_ascii_spaces_become_space() {
        assert_eq!(&*prep("pass\u{00A0}word"), b"pass word");
        assert_eq!(&*prep("a\u{3000}b"), b"a b");
        // ZERO WIDTH SPACE is in C.1.2 and in B.1; the server maps it to SPACE.
        assert_eq!(&*prep("a\u{200B}b"), b"a b");
    }

    #[cfg(feature = "std")]
    #[test]
    fn already_normalized_text_is_kept() {
        assert_eq!(&*prep("café"), "café".as_bytes());
        // A decomposed e + COMBINING ACUTE ACCENT composes under NFKC.
        assert_eq!(&*prep("cafe\u{0301}"), "café".as_bytes());
        assert_eq!(&*prep("\u{FB01}x"), b"fix");
    }

    #[test]
    fn prohibited_output_falls_back_to_raw() {
        // Private use, non-ASCII control, a tagging character.
        for s in ["a\u{E000}", "a\u{0085}b", "x\u{E0001}"] {
            assert_eq!(&*prep(s), s.as_bytes(), "{s:?}");
        }
    }

    #[test]
    fn bidi_violations_fall_back_to_raw() {
        // RandALCat followed by a non-RandALCat last character (RFC 4013 section 3).
        let s = "\u{0627}1";
        assert_eq!(&*prep(s), s.as_bytes());
        // RandALCat mixed with LCat.
        let s = "\u{05D0}a\u{05D0}";
        assert_eq!(&*prep(s), s.as_bytes());
    }

    #[cfg(feature = "std")]
    #[test]
    fn valid_right_to_left_text_is_prepared() {
        // Arabic presentation form ALEF (AL) normalizes to U+0627.
        assert_eq!(&*prep("\u{FE8D}\u{0627}"), "\u{0627}\u{0627}".as_bytes());
    }

    #[test]
    fn unassigned_before_normalization_falls_back_to_raw() {
        // U+1F100 DIGIT ZERO FULL STOP is unassigned in Unicode 3.2 but normalizes to
        // "0."; PostgreSQL checks before normalizing, so the password is used raw.
        let s = "a\u{1F100}";
        assert_eq!(&*prep(s), s.as_bytes());
    }

    #[test]
    fn empty_after_mapping_falls_back_to_raw() {
        let s = "\u{00AD}\u{FEFF}";
        assert_eq!(&*prep(s), s.as_bytes());
    }
}
