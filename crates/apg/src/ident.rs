//! SQL identifiers built from names the caller gives (tables, columns, channels,
//! savepoints): always quoted, so a name is never read as SQL.

/// `name` in double quotes, with embedded quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(quote_ident("jobs"), "\"jobs\"");
        assert_eq!(quote_ident("a \"b\""), "\"a \"\"b\"\"\"");
        assert_eq!(quote_ident("x; DROP TABLE y"), "\"x; DROP TABLE y\"");
    }
}
