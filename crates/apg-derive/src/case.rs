//! `rename_all`: spelling Rust names (fields in snake_case, variants in PascalCase) the
//! way the database does.

use syn::LitStr;

/// A naming convention for `#[apg(rename_all = "...")]` (serde's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenameRule {
    /// `lowercase`: the name lowercased, nothing else changed.
    Lower,
    /// `UPPERCASE`: the name uppercased, nothing else changed.
    Upper,
    /// `PascalCase`.
    Pascal,
    /// `camelCase`.
    Camel,
    /// `snake_case`.
    Snake,
    /// `SCREAMING_SNAKE_CASE`.
    ScreamingSnake,
    /// `kebab-case`.
    Kebab,
    /// `SCREAMING-KEBAB-CASE`.
    ScreamingKebab,
}

const RULES: &[(&str, RenameRule)] = &[
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("PascalCase", RenameRule::Pascal),
    ("camelCase", RenameRule::Camel),
    ("snake_case", RenameRule::Snake),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
    ("kebab-case", RenameRule::Kebab),
    ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
];

impl RenameRule {
    /// Parses the attribute's value; an unknown convention is an error listing the
    /// known ones.
    pub(crate) fn parse(lit: &LitStr) -> syn::Result<Self> {
        let value = lit.value();
        RULES
            .iter()
            .find(|(name, _)| *name == value)
            .map(|&(_, rule)| rule)
            .ok_or_else(|| {
                let known: Vec<&str> = RULES.iter().map(|(name, _)| *name).collect();
                syn::Error::new(
                    lit.span(),
                    format!(
                        "unknown rename_all convention {value:?}, expected one of: {}",
                        known.join(", ")
                    ),
                )
            })
    }

    /// `name` (a Rust identifier, without `r#`) in this convention.
    pub(crate) fn apply(self, name: &str) -> String {
        match self {
            Self::Lower => name.to_lowercase(),
            Self::Upper => name.to_uppercase(),
            Self::Pascal => words(name).iter().map(|w| capitalize(w)).collect(),
            Self::Camel => words(name)
                .iter()
                .enumerate()
                .map(|(i, w)| if i == 0 { w.clone() } else { capitalize(w) })
                .collect(),
            Self::Snake => words(name).join("_"),
            Self::ScreamingSnake => words(name).join("_").to_uppercase(),
            Self::Kebab => words(name).join("-"),
            Self::ScreamingKebab => words(name).join("-").to_uppercase(),
        }
    }
}

/// Splits an identifier into lowercase words: at `_` and `-`, before an uppercase
/// letter that follows a lowercase letter or digit, and before the last capital of an
/// acronym that starts a word (`HTTPServer` is `http`, `server`).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_uppercase() && !current.is_empty() {
            let prev = chars.get(i.wrapping_sub(1)).copied().unwrap_or('_');
            let next = chars.get(i + 1).copied().unwrap_or('_');
            let boundary = prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next.is_lowercase());
            if boundary {
                words.push(std::mem::take(&mut current));
            }
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::RenameRule::*;

    #[test]
    fn variants_and_fields() {
        let cases = [
            (Lower, "VeryHappy", "veryhappy"),
            (Upper, "VeryHappy", "VERYHAPPY"),
            (Snake, "VeryHappy", "very_happy"),
            (Snake, "HTTPServer", "http_server"),
            (Snake, "Utf8Text", "utf8_text"),
            (Snake, "street_name", "street_name"),
            (Camel, "street_name", "streetName"),
            (Camel, "VeryHappy", "veryHappy"),
            (Pascal, "street_name", "StreetName"),
            (ScreamingSnake, "VeryHappy", "VERY_HAPPY"),
            (Kebab, "VeryHappy", "very-happy"),
            (ScreamingKebab, "street_name", "STREET-NAME"),
            (Lower, "street_name", "street_name"),
            (Upper, "street_name", "STREET_NAME"),
        ];
        for (rule, name, expected) in cases {
            assert_eq!(rule.apply(name), expected, "{rule:?} {name}");
        }
    }
}
