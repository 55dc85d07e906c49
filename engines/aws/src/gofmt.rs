//! Go's formatting of the values Vault puts into its messages, so error texts match
//! Vault's byte for byte: `%q` ([`quote`]), `%#v` of a `[]string`
//! ([`string_slice_gosyntax`]) and `go-multierror`'s list format ([`multierror`]).

/// Go's `strconv.Quote` (what `%q` prints for a string): double quotes, with `"` and
/// `\` escaped, control characters as `\n`, `\t`, `\x00`… and other non-printable
/// characters as `\uXXXX`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Approximates Go's `unicode.IsPrint`: no control characters, and the ASCII space
/// is the only printable space.
fn is_printable(c: char) -> bool {
    !c.is_control() && (c == ' ' || !c.is_whitespace())
}

/// `%#v` of a Go `[]string`: `[]string{"a", "b"}`.
pub fn string_slice_gosyntax(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// The text of a `go-multierror` error holding `errors` (which must not be empty):
/// `1 error occurred:\n\t* a\n\n` or `2 errors occurred:\n\t* a\n\t* b\n\n`.
pub fn multierror(errors: &[String]) -> String {
    if errors.len() == 1 {
        return format!("1 error occurred:\n\t* {}\n\n", errors[0]);
    }
    let points: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    format!(
        "{} errors occurred:\n\t{}\n\n",
        errors.len(),
        points.join("\n\t")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_strconv() {
        assert_eq!(quote("abc"), r#""abc""#);
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("1\n\t2"), r#""1\n\t2""#);
        assert_eq!(quote("\u{0}\u{7f}"), r#""\x00\x7f""#);
        assert_eq!(quote("é\u{a0}"), "\"é\\u00a0\"");
        assert_eq!(quote(""), r#""""#);
    }

    #[test]
    fn formats_string_slices() {
        assert_eq!(
            string_slice_gosyntax(&["iam_user".into(), "federation_token".into()]),
            r#"[]string{"iam_user", "federation_token"}"#
        );
        assert_eq!(string_slice_gosyntax(&[]), "[]string{}");
    }

    #[test]
    fn formats_multierrors() {
        assert_eq!(
            multierror(&["did not supply credential_type".into()]),
            "1 error occurred:\n\t* did not supply credential_type\n\n"
        );
        assert_eq!(
            multierror(&["a".into(), "b".into()]),
            "2 errors occurred:\n\t* a\n\t* b\n\n"
        );
        // What a validation failure looks like once Vault wraps it with %q.
        assert_eq!(
            quote(&multierror(&["x".into()])),
            r#""1 error occurred:\n\t* x\n\n""#
        );
    }
}
